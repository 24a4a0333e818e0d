// The stack: config → ZadaraNetwork → EksdCluster → EksdAddons. This is the only module that
// reads stack configuration; the components get typed arguments.
import * as pulumi from "@pulumi/pulumi";
import { EksdAddons } from "./addons";
import { EksdCluster } from "./cluster";
import { ConfigValidationError, loadStackConfig, secretKeysFromEnvironment } from "./config";
import { createZComputeProvider, ZadaraNetwork } from "./infra";
import type { StackModel } from "./model";

/**
 * The one place that reads stack configuration: Pulumi's config map (public runtime API) and
 * the secret keys the language host passes in PULUMI_CONFIG_SECRET_KEYS.
 */
function readConfig(): StackModel {
    try {
        return loadStackConfig({
            stack: pulumi.getStack(),
            values: pulumi.runtime.allConfig(),
            secretKeys: secretKeysFromEnvironment(process.env),
            env: process.env,
        });
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
pulumi.log.info(`zadara-eksd ${config.stack}: EKS-D ${config.cluster.kubernetesVersion}, ` +
    `${config.cluster.controlPlane.count} control-plane node(s), node groups ${Object.keys(config.cluster.nodeGroups).join(", ")}, ` +
    `${config.addons.cni} CNI, API ${config.network.apiPublic ? "public" : "internal"}`);

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
const { nodeSshUser, nodeSshPrivateKey, etcdBackupExport, ...clusterSettings } = config.cluster;
const cluster = new EksdCluster(`${env}-cluster`, {
    provider,
    environment: env,
    tags: config.tags,
    network: {
        vpcId: network.vpcId,
        privateSubnetId: network.privateSubnetId,
        clusterSecurityGroupId: network.clusterSecurityGroupId,
        apiLoadBalancerArn: network.apiLoadBalancerArn,
        apiLoadBalancerId: network.apiLoadBalancerId,
        apiInternalDnsName: network.apiInternalDnsName,
        bastionPublicIp: network.bastionPublicIp,
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
    // Nodes need the network's rules and routes while they run; destroy removes them first.
    dependsOn: [network],
});

const addons = new EksdAddons(`${env}-addons`, {
    clusterName: env,
    kubeconfig: cluster.kubeconfig,
    eksdVersion: config.cluster.eksdVersion,
    podCidr: config.cluster.podCidr,
    vpcId: network.vpcId,
    cloudApiUrl: cluster.cloudApiUrl,
    rootCaCert: config.cloud.rootCaCert,
    ...config.addons,
    etcdBackupExport,
    // The API, SSH and egress paths must outlive the add-ons and the destroy cleanup.
    dependsOn: [...cluster.nodes, network],
    cleanup: {
        connection: cluster.firstNodeConnection,
        keepLoadBalancerArns: [network.apiLoadBalancerArn],
        keepSecurityGroupIds: [network.clusterSecurityGroupId, network.bastionSecurityGroupId],
        keepTargetGroupArns: [cluster.apiTargetGroupArn],
        cloudApiInsecure: config.cloud.insecure,
    },
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
export const addonReleases = addons.releases;
