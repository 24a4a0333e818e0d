// EksdCluster: a self-managed EKS-D (kubeadm) cluster on zCompute. Creates IAM, bootstrap
// secrets and the cluster CA, the control-plane nodes behind the API load balancer, the worker
// node groups, and issues the short-lived admin kubeconfig. Add-ons are EksdAddons' job.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { NodeGroupConfig } from "../model";
import { ENVIRONMENT_NAME_PATTERN, Tags } from "../infra/tags";
import { API_PORT, ApiEndpoint } from "./api-endpoint";
import { AdminCredential, DEFAULT_ADMIN_VALIDITY_HOURS } from "./admin-credential";
import { JoinTokens } from "./join-tokens";
import { AccessKeyPair, ControllerCredentials } from "./controller-credentials";
import { ControlPlane, ControlPlaneMode, LifecycleDecision, loginChangeRefusal, sshAccessOf } from "./control-plane";
import { DEFAULT_HARDENING, HardeningSettings } from "./hardening";
import { HostKeyReader, HostKeyReaderArgs } from "./host-keys";
import { ControllerChartVersions, NodeIam, NodeRole, policyDocumentsFor } from "./iam";
import { CloudMetadata, nodeConnection } from "./kubeconfig";
import type { LifecycleNode, LifecycleState } from "./lifecycle-state";
import { NodeBootstrap, sha256Hex } from "./node-bootstrap";
import { NodeGroups } from "./node-groups";
import { ClusterSecrets } from "./secrets";
import { EKSD_RELEASES } from "./versions";

export interface EksdClusterNetwork {
    vpcId: pulumi.Input<string>;
    privateSubnetId: pulumi.Input<string>;
    /** The workers' group (it carries the cluster tag). */
    clusterSecurityGroupId: pulumi.Input<string>;
    /** The control plane's own group; the workers' group when absent. */
    controlPlaneSecurityGroupId?: pulumi.Input<string>;
    apiLoadBalancerArn: pulumi.Input<string>;
    apiLoadBalancerId: pulumi.Input<string>;
    /** `elb-<id>.<dnsDomain>`. */
    apiInternalDnsName: pulumi.Input<string>;
    bastionPublicIp: pulumi.Input<string>;
    /** Nodes download their boot bundle from the bastion's private address. */
    bastionPrivateIp: pulumi.Input<string>;
    /** The bastion instance: its SSH host key is read from its console (`<env>-bastion-host-key`). */
    bastionInstanceId: pulumi.Input<string>;
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
    /** Validity of the admin client certificate in the kubeconfig output, 1..30 days (default 7). */
    adminCredentialValidityHours?: number;
    /** Hardening switches (each on by default except profiling and metadata tokens). */
    hardening?: Partial<HardeningSettings>;
    /** `workerJoinTokenTtlHours` [24; 168 with the autoscaler]. */
    workerJoinTokenTtlHours?: number;
    /** `secretsEncryptionKeyVersion` [1]: bump to rotate the Secrets encryption key. */
    secretsEncryptionKeyVersion?: number;
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
     * How every SSH step checks the machine it reaches: `console` pins each instance's host key
     * (read from its console by tools/host-key.ts where Pulumi runs), `unpinned` checks none.
     */
    sshHostKeys: HostKeyReaderArgs;
    /**
     * Chart versions of the controllers that run with the control-plane role (CCM, EBS CSI, load
     * balancer controller, autoscaler): the role gets their upstream policies at these versions.
     */
    controllerCharts: ControllerChartVersions;
    /** The EBS CSI add-on is installed: its controller gets credentials of its own (controller-credentials.ts). */
    ebsCsiCredentials?: boolean;
    /**
     * What nodes need for as long as they run, beyond the ids above: security-group rules,
     * routes, DHCP options (typically the ZadaraNetwork component). Nodes and the SSH commands
     * depend on it, so destroy removes them before their network.
     */
    dependsOn?: pulumi.Resource[];
    /**
     * The stack's previous `lifecycle` output, already checked against the change table (the
     * Output rejects when a change is refused, which fails the preview before any node changes).
     * Undefined: a new cluster.
     */
    previousLifecycle?: pulumi.Input<LifecycleState | undefined>;
    /** Private keys of the previous node logins (secret; the stack's `nodeLoginKeys` output). */
    previousLoginKeys?: pulumi.Input<Record<string, string>>;
    /** Milliseconds since the epoch (tests pick the token rotation window). */
    now?: () => number;
}

/** Join token lifetime without the autoscaler (with it, the config model asks for 168). */
export const DEFAULT_WORKER_JOIN_TOKEN_TTL_HOURS = 24;

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
    /** Admin kubeconfig (secret, short-lived client certificate); its server is the public endpoint when the API is public. */
    readonly kubeconfig: pulumi.Output<string>;
    /** True once every control-plane node passed its gate and every replaced one left (what the `lifecycle` output waits for). */
    readonly bootstrapped: pulumi.Output<boolean>;
    /** Control-plane instance id and private IP by node name (recorded in the `lifecycle` output). */
    readonly controlPlaneNodes: pulumi.Output<Record<string, LifecycleNode>>;
    /** The control-plane nodes' login and its private key (secret; the `nodeLoginKeys` output). */
    readonly nodeLoginKeys: pulumi.Output<Record<string, string>>;
    /** The cloud API URL as seen from inside the VMs (metadata `cluster_url`). */
    readonly cloudApiUrl: pulumi.Output<string>;
    /** Undefined when an existing instance profile was given. */
    readonly controlPlaneRoleName: pulumi.Output<string | undefined>;
    readonly workerRoleName: pulumi.Output<string | undefined>;
    /** `sha256:<hex>` pin of the cluster CA. */
    readonly caCertHash: pulumi.Output<string>;
    /** The key exported etcd snapshots are encrypted with (secret): needed to restore one. */
    readonly etcdBackupKey: pulumi.Output<string>;
    /** The EBS CSI controller's own access key (secret), when `ebsCsiCredentials`. */
    readonly ebsCsiCredentials?: AccessKeyPair;
    /**
     * Per node group, a hash of everything its instances are built from (launch configuration
     * without the join token, key pair, instance profile, kubelet configuration): WorkerRolls
     * replaces the instances when it changes.
     */
    readonly workerRollFingerprints: Record<string, pulumi.Output<string>>;
    /** What each fingerprint hashes (JSON, no secret). */
    readonly workerRollInputs: Record<string, pulumi.Output<string>>;
    /** What add-ons should depend on: nodes, node groups, the kubeconfig. */
    readonly nodes: pulumi.Resource[];
    /** SSH to the first control-plane node through the bastion, host keys pinned (join tokens, worker rolls, health gate). */
    readonly firstNodeConnection: command.types.input.remote.ConnectionArgs;
    /** The bastion's SSH host key; undefined when host keys are not pinned. */
    readonly bastionHostKey?: pulumi.Output<string>;
    /** The API target group: the stack's own, never a controller leftover. */
    readonly apiTargetGroupArn: pulumi.Output<string>;
    /** User data, bundle and bootstrap commands of every node. */
    readonly boot: NodeBootstrap;

    private readonly args: EksdClusterArgs;
    private readonly secrets: ClusterSecrets;
    private readonly api: ApiEndpoint;

    constructor(name: string, args: EksdClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zadara:eksd:EksdCluster", name, {}, opts);
        this.args = args;
        this.validate();
        const env = args.environment;

        this.secrets = new ClusterSecrets({
            environment: env,
            parent: this,
            workerJoinTokenTtlHours: args.workerJoinTokenTtlHours ?? DEFAULT_WORKER_JOIN_TOKEN_TTL_HOURS,
            nodeGroupNames: Object.keys(args.nodeGroups),
            secretsEncryptionKeyVersion: args.secretsEncryptionKeyVersion ?? 1,
            now: args.now,
        });
        const hardening: HardeningSettings = { ...DEFAULT_HARDENING, ...args.hardening };
        const controlPlaneIam = this.nodeIam("control-plane", args.controlPlane.instanceProfile);
        const workerIam = this.nodeIam("worker", args.workerInstanceProfile);

        this.api = new ApiEndpoint({
            environment: env,
            apiLoadBalancerArn: args.network.apiLoadBalancerArn,
            apiLoadBalancerId: args.network.apiLoadBalancerId,
            apiInternalDnsName: args.network.apiInternalDnsName,
            apiPublic: args.apiPublic,
            provider: args.provider,
            parent: this,
        });

        const kubernetesVersion = args.kubernetesVersion;
        // Only the names of the recorded logins: the decision (and what waits for it, e.g. the
        // user data) must not become secret.
        const recordedLogins = pulumi.unsecret(pulumi.output(args.previousLoginKeys ?? {}).apply((keys) => Object.keys(keys)));
        const decision: pulumi.Output<LifecycleDecision> = pulumi.all([args.previousLifecycle, recordedLogins]).apply(([previous, logins]) => {
            const previousNodes = previous?.controlPlaneNodes ?? {};
            const refusal = loginChangeRefusal(previousNodes, sshAccessOf(args.ssh.nodeUser, args.nodeKeyName), logins);
            if (refusal !== undefined) {
                // A RunError: the preview shows the message, not a stack trace.
                throw new pulumi.RunError(refusal);
            }
            return { initialized: previous?.initialized === true, previousNodes };
        });
        // Every SSH step goes through the bastion (or to it): its key is read first.
        const hostKeys = new HostKeyReader(args.sshHostKeys);
        const bastionInstanceId = pulumi.output(args.network.bastionInstanceId);
        this.bastionHostKey = hostKeys.forInstance(`${env}-bastion`, bastionInstanceId, { parent: this, dependsOn: this.networkDependencies() });
        const ssh = {
            user: args.ssh.nodeUser,
            privateKey: args.ssh.nodePrivateKey,
            bastionHost: args.network.bastionPublicIp,
            bastionUser: args.ssh.bastionUser,
            bastionPrivateKey: args.ssh.bastionPrivateKey,
            bastionHostKey: this.bastionHostKey,
        };

        const release = EKSD_RELEASES[args.eksdVersion];
        this.boot = new NodeBootstrap({
            environment: env,
            parent: this,
            secrets: this.secrets,
            apiPrivateIp: this.api.privateIp,
            certSans: this.api.certSans,
            eksdVersion: args.eksdVersion,
            kubernetesVersion: args.kubernetesVersion,
            etcdImageTag: release.etcdImageTag,
            corednsImageTag: release.corednsImageTag,
            podCidr: args.podCidr,
            serviceCidr: args.serviceCidr,
            kubeconfigTimeoutMinutes: args.kubeconfigTimeoutMinutes,
            etcdBackupRotation: args.etcdBackupRotation,
            rootCaCert: args.rootCaCert,
            cloudApiInsecure: args.cloudApiInsecure,
            hardening,
            bastion: {
                publicIp: args.network.bastionPublicIp,
                privateIp: args.network.bastionPrivateIp,
                user: args.ssh.bastionUser,
                privateKey: args.ssh.bastionPrivateKey,
                hostKey: this.bastionHostKey,
            },
            dependsOn: this.networkDependencies(),
        });

        const controlPlane = new ControlPlane({
            environment: env,
            tags: args.tags,
            provider: args.provider,
            parent: this,
            vpcId: args.network.vpcId,
            privateSubnetId: args.network.privateSubnetId,
            clusterSecurityGroupId: args.network.controlPlaneSecurityGroupId ?? args.network.clusterSecurityGroupId,
            apiLoadBalancerArn: args.network.apiLoadBalancerArn,
            count: args.controlPlane.count,
            mode: args.controlPlane.mode,
            instanceType: args.controlPlane.instanceType,
            volumeSize: args.controlPlane.volumeSize,
            amiId: args.controlPlane.amiId,
            instanceProfileName: controlPlaneIam.instanceProfileName,
            keyName: args.nodeKeyName,
            nameSuffix: this.secrets.nameSuffix,
            boot: this.boot,
            requireMetadataTokens: hardening.requireMetadataTokens,
            ssh,
            hostKeys,
            decision,
            previousLoginKeys: args.previousLoginKeys,
            kubernetesVersion,
            kubeadmInitConfig: this.boot.initConfig(),
            dependsOn: [...controlPlaneIam.resources, ...this.networkDependencies(), ...this.boot.dependsOn],
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
            userDataFor: (groupName, group) => this.boot.workerUserData(groupName, group),
            requireMetadataTokens: hardening.requireMetadataTokens,
            dependsOn: [...workerIam.resources, ...this.networkDependencies(), ...this.boot.dependsOn],
        });

        this.workerRollInputs = {};
        this.workerRollFingerprints = {};
        for (const [groupName, group] of Object.entries(args.nodeGroups)) {
            const inputs = pulumi
                .all([this.boot.workerBuildInputs(groupName, group), workerIam.instanceProfileName])
                .apply(([launch, instanceProfile]) => JSON.stringify({ launch, keyName: args.nodeKeyName, instanceProfile }));
            this.workerRollInputs[groupName] = inputs;
            this.workerRollFingerprints[groupName] = inputs.apply((text) => sha256Hex(text).slice(0, 20));
        }

        this.apiPrivateIp = this.api.privateIp;
        this.apiPublicIp = this.api.publicIp;
        this.apiEndpointPrivate = pulumi.interpolate`https://${this.api.privateIp}:${API_PORT}`;
        this.apiEndpointPublic = this.api.publicIp.apply((ip) => (ip ? `https://${ip}:${API_PORT}` : undefined));

        const firstNodeSsh = { ...ssh, host: controlPlane.firstNode.privateIp, hostKey: controlPlane.firstNode.hostKey };
        this.firstNodeConnection = nodeConnection(firstNodeSsh);
        this.apiTargetGroupArn = controlPlane.targetGroup.arn;
        // Node 0's bootstrap gate (or, in ASG mode, the whole control plane) says the node is up.
        const firstGate = controlPlane.bootstraps.length > 0 ? [controlPlane.bootstraps[0]] : controlPlane.resources;
        const metadata = new CloudMetadata({
            environment: env,
            ssh: firstNodeSsh,
            firstNodeId: controlPlane.firstNode.id,
            parent: this,
            dependsOn: [...firstGate, ...this.networkDependencies()],
        });

        const admin = new AdminCredential({
            environment: env,
            caCertPem: this.secrets.caCertPem,
            caKeyPem: this.secrets.caKeyPem,
            server: pulumi
                .all([this.api.publicIp, this.api.privateIp])
                .apply(([publicIp, privateIp]) => `https://${args.apiPublic && publicIp ? publicIp : privateIp}:${API_PORT}`),
            validityHours: args.adminCredentialValidityHours ?? DEFAULT_ADMIN_VALIDITY_HOURS,
            parent: this,
            now: args.now,
        });
        if (args.ebsCsiCredentials) {
            this.ebsCsiCredentials = new ControllerCredentials({
                environment: env,
                controller: "ebs-csi",
                policy: policyDocumentsFor("control-plane", args.controllerCharts, env)["ebs-csi"],
                nameSuffix: this.secrets.nameSuffix,
                provider: args.provider,
                parent: this,
            });
        }
        const joinTokens = new JoinTokens({
            environment: env,
            connection: this.firstNodeConnection,
            secrets: this.boot.joinTokenSecrets(),
            parent: this,
            dependsOn: [...firstGate, ...this.networkDependencies()],
        });
        // The Kubernetes provider (add-ons) waits for the change checks like the nodes do.
        const kubeconfig = pulumi.secret(pulumi.all([decision, admin.kubeconfig]).apply(([, text]) => text));
        const lastStep = controlPlane.lastStep;
        this.bootstrapped = lastStep ? lastStep.stdout.apply(() => true) : pulumi.output(true);
        this.controlPlaneNodes = controlPlane.nodesByName;
        this.nodeLoginKeys = controlPlane.loginKeys;

        this.controlPlaneInstanceIds = controlPlane.instanceIds;
        this.controlPlanePrivateIps = controlPlane.privateIps;
        this.controlPlaneAsgName = pulumi.output(undefined);
        this.nodeGroupAsgNames = nodeGroups.asgNames;
        this.kubeconfig = kubeconfig;
        this.cloudApiUrl = metadata.cloudApiUrl;
        this.controlPlaneRoleName = controlPlaneIam.roleName;
        this.workerRoleName = workerIam.roleName;
        this.caCertHash = this.secrets.caCertHash;
        this.etcdBackupKey = this.secrets.backupExportKey;
        this.nodes = [...controlPlane.resources, ...nodeGroups.resources, metadata.metadataCommand, joinTokens.command];

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
        if (controlPlane.mode !== "standalone") {
            // A node the ASG starts on its own cannot receive the control-plane secrets (they
            // come from the program's bootstrap command), and it could replace masters outside
            // the quorum-safe roll.
            throw new Error(
                `controlPlaneMode "${controlPlane.mode}" is not supported: only "standalone" control-plane nodes can receive their secrets from the program`,
            );
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
            controllerCharts: this.args.controllerCharts,
            nameSuffix: this.secrets.nameSuffix,
            existingInstanceProfile,
            provider: this.args.provider,
            parent: this,
        });
    }
}
