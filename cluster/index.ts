// EksdCluster: a self-managed EKS-D (kubeadm) cluster on zCompute. Creates IAM, bootstrap
// secrets and the cluster CA, the control-plane nodes behind the API load balancer, the worker
// node groups, and reads back the admin kubeconfig. Add-ons are EksdAddons' job.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { NodeGroupConfig } from "../model";
import { ZCOMPUTE_REGION } from "../infra/provider";
import { ENVIRONMENT_NAME_PATTERN, Tags } from "../infra/tags";
import { API_PORT, ApiEndpoint } from "./api-endpoint";
import { buildUserData, NodeCloudConfig } from "./cloud-init";
import { ControlPlane, ControlPlaneMode, ControlPlaneNodeIdentity } from "./control-plane";
import { NodeIam, NodeRole } from "./iam";
import { KubeadmSettings, renderInitConfig, renderJoinControlPlaneConfig, renderJoinWorkerConfig } from "./kubeadm";
import { ClusterAccess, nodeConnection } from "./kubeconfig";
import { NodeEnv } from "./node-env";
import { NodeGroups, nodeLabelsValue, nodeTaintsValue } from "./node-groups";
import { ClusterSecrets } from "./secrets";
import { EKSD_RELEASES } from "./versions";

export interface EksdClusterNetwork {
    vpcId: pulumi.Input<string>;
    privateSubnetId: pulumi.Input<string>;
    clusterSecurityGroupId: pulumi.Input<string>;
    apiLoadBalancerArn: pulumi.Input<string>;
    apiLoadBalancerId: pulumi.Input<string>;
    /** `elb-<id>.<dnsDomain>`. */
    apiInternalDnsName: pulumi.Input<string>;
    bastionPublicIp: pulumi.Input<string>;
}

export interface ControlPlaneSettings {
    count: number;
    mode: ControlPlaneMode;
    instanceType: string;
    volumeSize: number;
    amiId: string;
    /** Existing instance profile: then no IAM is created for control-plane nodes. */
    instanceProfile?: string;
}

/** The cluster's shape, as the stack configuration describes it. */
export interface ClusterSettings {
    /** EKS-D minor, "1.28" … "1.31". */
    eksdVersion: string;
    /** Exact EKS-D Kubernetes tag, e.g. v1.30.14-eks-1-30-44. */
    kubernetesVersion: string;
    podCidr: string;
    serviceCidr: string;
    controlPlane: ControlPlaneSettings;
    /** Existing instance profile: then no IAM is created for workers. */
    workerInstanceProfile?: string;
    nodeGroups: Record<string, NodeGroupConfig>;
    nodeKeyName: string;
    kubeconfigTimeoutMinutes: number;
    etcdBackupRotation: number;
}

export interface EksdClusterArgs extends ClusterSettings {
    /** The zCompute provider, set explicitly on every AWS resource. */
    provider: aws.Provider;
    /** Name prefix of every resource and the Kubernetes cluster name. */
    environment: string;
    tags: Tags;
    network: EksdClusterNetwork;
    apiPublic: boolean;
    ssh: {
        bastionUser: string;
        bastionPrivateKey: pulumi.Input<string>;
        nodeUser: string;
        nodePrivateKey: pulumi.Input<string>;
    };
    /** PEM of the cloud's root CA, trusted on every node. */
    rootCaCert?: string;
    /** Nodes call the cloud API without TLS verification (self-signed cloud, no root CA). */
    cloudApiInsecure?: boolean;
    /**
     * What nodes need for as long as they run, beyond the ids above: security-group rules,
     * routes, DHCP options (typically the ZadaraNetwork component). Nodes and the SSH commands
     * depend on it, so destroy removes them before their network.
     */
    dependsOn?: pulumi.Resource[];
}

/** Seconds a joining node waits for the API; at least the reference's 30 minutes. */
const MIN_API_WAIT_SECONDS = 1800;
const JOIN_TIMEOUT_SECONDS = 1800;
const NODE_POLL_INTERVAL_SECONDS = 2;
/** Ubuntu's system bundle, which holds the root CA once cloud-init's ca_certs has run. */
const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export class EksdCluster extends pulumi.ComponentResource {
    readonly controlPlaneInstanceIds: pulumi.Output<string[]>;
    readonly controlPlanePrivateIps: pulumi.Output<string[]>;
    readonly nodeGroupAsgNames: pulumi.Output<Record<string, string>>;
    /** Only in ASG mode. */
    readonly controlPlaneAsgName: pulumi.Output<string | undefined>;
    readonly apiPrivateIp: pulumi.Output<string>;
    /** Undefined for an internal API. */
    readonly apiPublicIp: pulumi.Output<string | undefined>;
    readonly apiEndpointPrivate: pulumi.Output<string>;
    readonly apiEndpointPublic: pulumi.Output<string | undefined>;
    /** Admin kubeconfig (secret); its server is the public endpoint when the API is public. */
    readonly kubeconfig: pulumi.Output<string>;
    /** The cloud API URL as seen from inside the VMs (metadata `cluster_url`). */
    readonly cloudApiUrl: pulumi.Output<string>;
    /** Undefined when an existing instance profile was given. */
    readonly controlPlaneRoleName: pulumi.Output<string | undefined>;
    readonly workerRoleName: pulumi.Output<string | undefined>;
    /** `sha256:<hex>` pin of the cluster CA. */
    readonly caCertHash: pulumi.Output<string>;
    /** What add-ons should depend on: nodes, node groups, the kubeconfig. */
    readonly nodes: pulumi.Resource[];
    /** SSH to the first control-plane node through the bastion (for day-2 commands such as the destroy cleanup). */
    readonly firstNodeConnection: command.types.input.remote.ConnectionArgs;
    /** The API target group: the stack's own, never a controller leftover. */
    readonly apiTargetGroupArn: pulumi.Output<string>;

    private readonly args: EksdClusterArgs;
    private readonly secrets: ClusterSecrets;
    private readonly api: ApiEndpoint;

    constructor(name: string, args: EksdClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zadara:eksd:EksdCluster", name, {}, opts);
        this.args = args;
        this.validate();
        const env = args.environment;

        this.secrets = new ClusterSecrets({ environment: env, parent: this });
        const controlPlaneIam = this.nodeIam("control-plane", args.controlPlane.instanceProfile);
        const workerIam = this.nodeIam("worker", args.workerInstanceProfile);

        this.api = new ApiEndpoint({
            environment: env,
            apiLoadBalancerArn: args.network.apiLoadBalancerArn,
            apiLoadBalancerId: args.network.apiLoadBalancerId,
            apiInternalDnsName: args.network.apiInternalDnsName,
            apiPublic: args.apiPublic,
            bastion: { host: args.network.bastionPublicIp, user: args.ssh.bastionUser, privateKey: args.ssh.bastionPrivateKey },
            provider: args.provider,
            parent: this,
            dependsOn: this.networkDependencies(),
        });

        const controlPlane = new ControlPlane({
            environment: env,
            tags: args.tags,
            provider: args.provider,
            parent: this,
            vpcId: args.network.vpcId,
            privateSubnetId: args.network.privateSubnetId,
            clusterSecurityGroupId: args.network.clusterSecurityGroupId,
            apiLoadBalancerArn: args.network.apiLoadBalancerArn,
            count: args.controlPlane.count,
            mode: args.controlPlane.mode,
            instanceType: args.controlPlane.instanceType,
            volumeSize: args.controlPlane.volumeSize,
            amiId: args.controlPlane.amiId,
            instanceProfileName: controlPlaneIam.instanceProfileName,
            keyName: args.nodeKeyName,
            nameSuffix: this.secrets.nameSuffix,
            userDataFor: (identity) => this.controlPlaneUserData(identity),
            dependsOn: [...controlPlaneIam.resources, ...this.networkDependencies()],
        });

        const nodeGroups = new NodeGroups({
            environment: env,
            tags: args.tags,
            provider: args.provider,
            parent: this,
            privateSubnetId: args.network.privateSubnetId,
            clusterSecurityGroupId: args.network.clusterSecurityGroupId,
            instanceProfileName: workerIam.instanceProfileName,
            keyName: args.nodeKeyName,
            groups: args.nodeGroups,
            userDataFor: (_groupName, group) => this.workerUserData(group),
            dependsOn: [...workerIam.resources, ...this.networkDependencies()],
        });

        this.apiPrivateIp = this.api.privateIp;
        this.apiPublicIp = this.api.publicIp;
        this.apiEndpointPrivate = pulumi.interpolate`https://${this.api.privateIp}:${API_PORT}`;
        this.apiEndpointPublic = this.api.publicIp.apply((ip) => (ip ? `https://${ip}:${API_PORT}` : undefined));

        const firstNodeSsh = {
            host: controlPlane.firstNode.privateIp,
            user: args.ssh.nodeUser,
            privateKey: args.ssh.nodePrivateKey,
            bastionHost: args.network.bastionPublicIp,
            bastionUser: args.ssh.bastionUser,
            bastionPrivateKey: args.ssh.bastionPrivateKey,
        };
        this.firstNodeConnection = nodeConnection(firstNodeSsh);
        this.apiTargetGroupArn = controlPlane.targetGroup.arn;
        const access = new ClusterAccess({
            environment: env,
            ssh: firstNodeSsh,
            firstNodeId: controlPlane.firstNode.id,
            timeoutMinutes: args.kubeconfigTimeoutMinutes,
            publicEndpoint: this.api.publicIp.apply((ip) => (ip ? `${ip}:${API_PORT}` : undefined)),
            parent: this,
            dependsOn: [...controlPlane.resources, ...this.networkDependencies()],
        });

        this.controlPlaneInstanceIds = controlPlane.instanceIds;
        this.controlPlanePrivateIps = controlPlane.privateIps;
        this.controlPlaneAsgName = controlPlane.asg ? controlPlane.asg.name : pulumi.output(undefined);
        this.nodeGroupAsgNames = nodeGroups.asgNames;
        this.kubeconfig = access.kubeconfig;
        this.cloudApiUrl = access.cloudApiUrl;
        this.controlPlaneRoleName = controlPlaneIam.roleName;
        this.workerRoleName = workerIam.roleName;
        this.caCertHash = this.secrets.caCertHash;
        this.nodes = [...controlPlane.resources, ...nodeGroups.resources, access.kubeconfigCommand];

        this.registerOutputs({
            controlPlaneInstanceIds: this.controlPlaneInstanceIds,
            controlPlanePrivateIps: this.controlPlanePrivateIps,
            nodeGroupAsgNames: this.nodeGroupAsgNames,
            controlPlaneAsgName: this.controlPlaneAsgName,
            apiPrivateIp: this.apiPrivateIp,
            apiPublicIp: this.apiPublicIp,
            apiEndpointPrivate: this.apiEndpointPrivate,
            apiEndpointPublic: this.apiEndpointPublic,
            kubeconfig: this.kubeconfig,
            cloudApiUrl: this.cloudApiUrl,
            controlPlaneRoleName: this.controlPlaneRoleName,
            workerRoleName: this.workerRoleName,
            caCertHash: this.caCertHash,
        });
    }

    private networkDependencies(): pulumi.Resource[] {
        return this.args.dependsOn ?? [];
    }

    private validate(): void {
        const { environment, eksdVersion, controlPlane, nodeGroups } = this.args;
        if (!ENVIRONMENT_NAME_PATTERN.test(environment)) {
            // Target group names are limited to 32 characters: <env>-api-<6>.
            throw new Error(`environment "${environment}" must be lowercase letters, digits and '-', at most 20 characters`);
        }
        if (!EKSD_RELEASES[eksdVersion]) {
            throw new Error(`EKS-D version ${eksdVersion} is not supported (${Object.keys(EKSD_RELEASES).join(", ")})`);
        }
        if (!Number.isInteger(controlPlane.count) || controlPlane.count < 1) {
            throw new Error(`control-plane count must be 1 or more, got ${controlPlane.count}`);
        }
        if (Object.keys(nodeGroups).length === 0) {
            throw new Error("at least one worker node group is required");
        }
    }

    private nodeIam(role: NodeRole, existingInstanceProfile: string | undefined): NodeIam {
        return new NodeIam({
            environment: this.args.environment,
            role,
            nameSuffix: this.secrets.nameSuffix,
            existingInstanceProfile,
            provider: this.args.provider,
            parent: this,
        });
    }

    /** Everything kubeadm needs, once the API address and the secrets are known. */
    private kubeadmSettings(): pulumi.Output<KubeadmSettings> {
        const release = EKSD_RELEASES[this.args.eksdVersion];
        return pulumi.all([
            this.api.privateIp, this.api.certSans, this.secrets.bootstrapToken,
            this.secrets.certificateKey, this.secrets.caCertHash,
        ]).apply(([apiIp, certSans, bootstrapToken, certificateKey, caCertHash]) => ({
            clusterName: this.args.environment,
            kubernetesVersion: this.args.kubernetesVersion,
            kubernetesMinor: this.args.eksdVersion,
            etcdImageTag: release.etcdImageTag,
            corednsImageTag: release.corednsImageTag,
            controlPlaneEndpoint: `${apiIp}:${API_PORT}`,
            podCidr: this.args.podCidr,
            serviceCidr: this.args.serviceCidr,
            certSans,
            bootstrapToken,
            certificateKey,
            caCertHash,
        }));
    }

    /** node.env values every node shares. */
    private commonNodeEnv(apiIp: string): Omit<NodeEnv, "ROLE" | "NODE_NAME" | "LEADER_ELECTION" | "IS_LEADER" | "ASG_NAME" | "NODE_LABELS" | "NODE_TAINTS"> {
        return {
            CLUSTER_NAME: this.args.environment,
            API_HOST: apiIp,
            API_PORT: String(API_PORT),
            KUBERNETES_MINOR: this.args.eksdVersion,
            API_WAIT_TIMEOUT: String(Math.max(MIN_API_WAIT_SECONDS, this.args.kubeconfigTimeoutMinutes * 60)),
            JOIN_TIMEOUT: String(JOIN_TIMEOUT_SECONDS),
            POLL_INTERVAL: String(NODE_POLL_INTERVAL_SECONDS),
            ETCD_BACKUP_ROTATION: String(this.args.etcdBackupRotation),
            ENVIRONMENT: this.args.environment,
            AWS_REGION: ZCOMPUTE_REGION,
            CLOUD_API_INSECURE: this.args.cloudApiInsecure ? "true" : "false",
            CLOUD_API_CA_BUNDLE: this.args.rootCaCert ? SYSTEM_CA_BUNDLE : "",
        };
    }

    private controlPlaneUserData(identity: ControlPlaneNodeIdentity): pulumi.Output<string> {
        const userData = pulumi.all([this.kubeadmSettings(), this.api.privateIp, this.secrets.caCertPem, this.secrets.caKeyPem])
            .apply(([settings, apiIp, caCertPem, caKeyPem]) => buildUserData(this.cloudConfig({
                role: "control-plane",
                nodeEnv: {
                    ROLE: "control-plane",
                    ...this.commonNodeEnv(apiIp),
                    NODE_NAME: identity.nodeName,
                    LEADER_ELECTION: identity.leaderElection,
                    IS_LEADER: identity.isLeader ? "true" : "false",
                    ASG_NAME: identity.asgName,
                    NODE_LABELS: "",
                    NODE_TAINTS: "",
                },
                kubeadmFiles: {
                    "kubeadm-init.yaml": renderInitConfig(settings),
                    "kubeadm-join-control-plane.yaml": renderJoinControlPlaneConfig(settings),
                },
                // Only a node that may run `kubeadm init` holds the CA key (user data is readable
                // from the node's metadata); the others download it with the certificate key.
                clusterCa: identity.isLeader || identity.leaderElection === "asg" ? { certPem: caCertPem, keyPem: caKeyPem } : undefined,
            })));
        // Holds the bootstrap token, the certificate key and the CA key.
        return pulumi.secret(userData);
    }

    private workerUserData(group: NodeGroupConfig): pulumi.Output<string> {
        const userData = pulumi.all([this.kubeadmSettings(), this.api.privateIp]).apply(([settings, apiIp]) => buildUserData(this.cloudConfig({
            role: "worker",
            nodeEnv: {
                ROLE: "worker",
                ...this.commonNodeEnv(apiIp),
                // Worker names come from the instance; ASG_NAME is only for the masters' election.
                NODE_NAME: "",
                LEADER_ELECTION: "static",
                IS_LEADER: "false",
                ASG_NAME: "",
                NODE_LABELS: nodeLabelsValue(group.labels),
                NODE_TAINTS: nodeTaintsValue(group.taints),
            },
            kubeadmFiles: { "kubeadm-join-worker.yaml": renderJoinWorkerConfig(settings) },
        })));
        return pulumi.secret(userData);
    }

    private cloudConfig(config: Omit<NodeCloudConfig, "rootCaCert">): NodeCloudConfig {
        return { ...config, rootCaCert: this.args.rootCaCert };
    }
}
