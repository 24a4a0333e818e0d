// The stack: config → ZadaraNetwork → EksdCluster → EksdAddons. This is the only module that
// reads stack configuration; the components get typed arguments.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { EksdAddons } from "./addons";
import { resolveVersions } from "./addons/versions";
import { EksdCluster } from "./cluster";
import { approvedPrevious } from "./cluster/change-policy";
import { standaloneNodeName } from "./cluster/control-plane";
import type { ControllerChartVersions } from "./cluster/iam";
import { LifecycleState, LifecycleValue, readPreviousState } from "./cluster/lifecycle-state";
import { WorkerRolls, workerRollGroups } from "./cluster/worker-rolls";
import { ConfigValidationError, secretKeysFromEnvironment } from "./config";
import { doctorRecordFileName, retirePathOf, withCloudFacts } from "./config/cloud-facts";
import { createZComputeProvider, ZadaraNetwork } from "./infra";
import { providerCaBundleProblem } from "./infra/provider-ca";
import type { StackModel } from "./model";
import { loadProgramModel } from "./program-model";

/**
 * The one place that reads stack configuration: Pulumi's config map (public runtime API) and
 * the secret keys the language host passes in PULUMI_CONFIG_SECRET_KEYS.
 */
function readConfig(): StackModel {
    try {
        const stack = loadProgramModel({
            stack: pulumi.getStack(),
            values: pulumi.runtime.allConfig(),
            secretKeys: secretKeysFromEnvironment(process.env),
            env: process.env,
        });
        // The doctor's recorded answers for this cloud, committed beside the stack file (docs/doctor.md).
        const recordFile = doctorRecordFileName(stack.stack);
        const recordPath = path.join(__dirname, recordFile);
        return withCloudFacts(stack, fs.existsSync(recordPath) ? fs.readFileSync(recordPath, "utf8") : undefined, recordFile);
    } catch (error) {
        // RunError prints the message without a stack trace: the list of problems is the message.
        if (error instanceof ConfigValidationError) {
            throw new pulumi.RunError(error.message);
        }
        throw error;
    }
}

const config = readConfig();
const env = config.environment;
void pulumi.log.info(
    `zadara-eksd ${config.stack}: EKS-D ${config.cluster.kubernetesVersion}, ` +
        `${config.cluster.controlPlane.count} control-plane node(s), node groups ${Object.keys(config.cluster.nodeGroups).join(", ")}, ` +
        `${config.addons.cni} CNI, API ${config.network.apiPublic ? "public" : "internal"}`,
);
void pulumi.log.info(`cloud: ${retirePathOf(config.cloud.facts)}`);
// The provider process trusts only what AWS_CA_BUNDLE names (infra/provider-ca.ts). A warning, not
// an error: the offline plan and previews without a cloud need no bundle.
const caProblem = providerCaBundleProblem(config.cloud.rootCaCert, config.cloud.insecure, process.env, (file) => fs.readFileSync(file, "utf8"));
if (caProblem) {
    void pulumi.log.warn(caProblem);
}

/** The settings a running cluster cannot simply take a new value of (cluster/change-policy.ts). */
function lifecycleSettings(stack: StackModel): Record<string, LifecycleValue> {
    return {
        environment: stack.environment,
        vpcCidr: stack.network.vpcCidr,
        publicSubnetCidr: stack.network.publicSubnetCidr,
        privateSubnetCidr: stack.network.privateSubnetCidr,
        existingVpc: JSON.stringify(stack.network.existingVpc ?? null),
        apiPublic: stack.network.apiPublic,
        eksdVersion: stack.cluster.eksdVersion,
        kubernetesVersion: stack.cluster.kubernetesVersion,
        podCidr: stack.cluster.podCidr,
        serviceCidr: stack.cluster.serviceCidr,
        controlPlaneCount: stack.cluster.controlPlane.count,
        controlPlaneMode: stack.cluster.controlPlane.mode,
        cni: stack.addons.cni,
        volumeType: stack.addons.volumeType,
        kasten: stack.addons.kasten,
    };
}

/** The controllers' chart versions (pins of the cluster's minor, or overrides): IAM follows them. */
function controllerCharts(stack: StackModel): ControllerChartVersions {
    const versions = resolveVersions(stack.cluster.eksdVersion, stack.addons.overrides);
    return { ccm: versions.ccm, ebsCsi: versions.ebsCsi, loadBalancerController: versions.loadBalancerController, autoscaler: versions.autoscaler };
}

// The previous state of this stack; a refused change fails the preview (cluster/change-policy.ts).
const currentLifecycle = lifecycleSettings(config);
const previousState = readPreviousState((index) => standaloneNodeName(env, index));
const previousLifecycle = approvedPrevious(previousState.lifecycle, currentLifecycle);

const provider = createZComputeProvider(`${env}-zcompute`, {
    apiUrl: config.cloud.apiUrl,
    accessKey: config.cloud.accessKey,
    secretKey: config.cloud.secretKey,
    insecure: config.cloud.insecure,
});

const network = new ZadaraNetwork(`${env}-network`, {
    ...config.network,
    provider,
    environment: env,
    tags: config.tags,
    bastion: {
        amiId: config.bastion.amiId,
        instanceType: config.bastion.instanceType,
        keyName: config.bastion.keyName,
        sshCidrs: config.bastion.sshCidrs,
    },
    rootCaCert: config.cloud.rootCaCert,
});

// SSH access and the backup export are not the cluster's shape: they go to their own places.
const { nodeSshUser, nodeSshPrivateKey, etcdBackupExport, sshHostKeys, ...clusterSettings } = config.cluster;
const cluster = new EksdCluster(`${env}-cluster`, {
    provider,
    environment: env,
    tags: config.tags,
    network: {
        vpcId: network.vpcId,
        privateSubnetId: network.privateSubnetId,
        clusterSecurityGroupId: network.clusterSecurityGroupId,
        controlPlaneSecurityGroupId: network.controlPlaneSecurityGroupId,
        apiLoadBalancerArn: network.apiLoadBalancerArn,
        apiLoadBalancerId: network.apiLoadBalancerId,
        apiInternalDnsName: network.apiInternalDnsName,
        bastionPublicIp: network.bastionPublicIp,
        bastionPrivateIp: network.bastionPrivateIp,
        bastionInstanceId: network.bastionInstanceId,
    },
    apiPublic: config.network.apiPublic,
    ...clusterSettings,
    ssh: {
        bastionUser: config.bastion.sshUser,
        bastionPrivateKey: config.bastion.sshPrivateKey,
        nodeUser: nodeSshUser,
        nodePrivateKey: nodeSshPrivateKey,
    },
    rootCaCert: config.cloud.rootCaCert,
    cloudApiInsecure: config.cloud.insecure,
    // Each instance's host key comes from its console, read where Pulumi runs with the same
    // endpoint and keys as the destroy cleanup (tools/host-key.ts).
    sshHostKeys: {
        mode: sshHostKeys,
        stack: config.stack,
        cloudApiUrl: config.cloud.apiUrl,
        accessKey: config.cloud.accessKey,
        secretKey: config.cloud.secretKey,
    },
    controllerCharts: controllerCharts(config),
    ebsCsiCredentials: config.addons.ebsCsi,
    hardening: {
        auditLog: config.hardening.auditLog,
        secretsEncryption: config.hardening.secretsEncryption,
        kubeletHardening: config.hardening.kubeletHardening,
        apiServerProfiling: config.hardening.apiServerProfiling,
        requireMetadataTokens: config.hardening.requireMetadataTokens,
    },
    secretsEncryptionKeyVersion: config.hardening.secretsEncryptionKeyVersion,
    // Nodes need the network's rules and routes while they run; destroy removes them first.
    dependsOn: [network],
    previousLifecycle,
    previousLoginKeys: previousState.loginKeys,
});

const addons = new EksdAddons(`${env}-addons`, {
    clusterName: env,
    // Kubelets request serving certificates from the cluster CA (serverTLSBootstrap) and
    // csr-approver.sh approves them for the node's own names only.
    kubeletServingCertificates: "cluster-ca",
    kubeconfig: cluster.kubeconfig,
    eksdVersion: config.cluster.eksdVersion,
    podCidr: config.cluster.podCidr,
    vpcId: network.vpcId,
    cloudApiUrl: cluster.cloudApiUrl,
    rootCaCert: config.cloud.rootCaCert,
    ...config.addons,
    etcdBackupExport,
    ebsCsiCredentials: cluster.ebsCsiCredentials,
    // The API, SSH and egress paths must outlive the add-ons and the destroy cleanup.
    dependsOn: [...cluster.nodes, network],
    cleanup: {
        stack: config.stack,
        cloudApiUrl: config.cloud.apiUrl,
        accessKey: config.cloud.accessKey,
        secretKey: config.cloud.secretKey,
        keepLoadBalancerArns: [network.apiLoadBalancerArn],
        keepSecurityGroupIds: [
            network.clusterSecurityGroupId,
            network.controlPlaneSecurityGroupId,
            network.apiLoadBalancerSecurityGroupId,
            network.bastionSecurityGroupId,
        ],
        keepTargetGroupArns: [cluster.apiTargetGroupArn, network.bundleTargetGroupArn],
    },
});

// Day 2: after the control plane and the add-ons, each node group rolls to new instances when
// what needs them changed (one group at a time), then the whole cluster is validated.
const workerRolls = new WorkerRolls(`${env}-worker-rolls`, {
    environment: env,
    connection: cluster.firstNodeConnection,
    groups: workerRollGroups(env, config.cluster.nodeGroups, config.cluster.kubernetesVersion, cluster.workerRollFingerprints),
    cloudApiUrl: cluster.cloudApiUrl,
    cloudApiInsecure: config.cloud.insecure,
    healthNamespaces: addons.releases.map((release) => release.namespace),
    dependsOn: [addons],
});

export const vpcId = network.vpcId;
export const publicSubnetId = network.publicSubnetId;
export const privateSubnetId = network.privateSubnetId;
export const clusterSecurityGroupId = network.clusterSecurityGroupId;
export const bastionPublicIp = network.bastionPublicIp;
export const apiLoadBalancerDnsName = network.apiLoadBalancerDnsName;
export const apiInternalDnsName = network.apiInternalDnsName;
export const apiEndpointPrivate = cluster.apiEndpointPrivate;
export const apiEndpointPublic = cluster.apiEndpointPublic;
export const controlPlaneInstanceIds = cluster.controlPlaneInstanceIds;
export const controlPlanePrivateIps = cluster.controlPlanePrivateIps;
export const nodeGroupAsgNames = cluster.nodeGroupAsgNames;
export const kubeconfig = pulumi.secret(cluster.kubeconfig);
/** Decrypts exported etcd snapshots (docs/etcd.md); a secret. */
export const etcdBackupKey = pulumi.secret(cluster.etcdBackupKey);
export const addonReleases = addons.releases;
/** What the next `pulumi up` compares its configuration with (written once every node passed its gate). */
export const lifecycle: pulumi.Output<LifecycleState> = pulumi
    .all([previousLifecycle, cluster.bootstrapped, cluster.controlPlaneNodes])
    .apply(([, , controlPlaneNodes]): LifecycleState => ({ initialized: true, settings: currentLifecycle, controlPlaneNodes }));
export const healthGate = workerRolls.healthGate.stdout;
/** The control-plane login's private key (secret): how the next update reaches nodes it replaces after a key-pair change. */
export const nodeLoginKeys = pulumi.secret(cluster.nodeLoginKeys);
