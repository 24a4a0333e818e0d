// The typed stack model: what a stack's configuration means, after validation and defaults.
// config/ builds one StackModel; index.ts hands its parts to the components as typed Args.
// Components import these types from model/, never from config/ (one-way data flow).
import type * as pulumi from "@pulumi/pulumi";
import type { CloudFactsModel } from "./cloud-facts";
import type { CniChoice, ControlPlaneMode, SshHostKeyMode, TaintEffect, VolumeType } from "./constants";

export interface Taint {
    key: string;
    value?: string;
    effect: TaintEffect;
}

/** One worker node group (one launch configuration + one ASG). */
export interface NodeGroupModel {
    instanceType: string;
    minSize: number;
    desiredSize: number;
    maxSize: number;
    volumeSize: number;
    amiId: string;
    labels: Record<string, string>;
    taints: Taint[];
    cooldown: number;
    /** Extra instances a roll may start above the group's size. */
    maxSurge: number;
    /** Instances a roll may take away below the group's size. */
    maxUnavailable: number;
    /** How long a roll waits for one node to drain. */
    drainTimeoutSeconds: number;
}

/** @deprecated name kept for the components that still say NodeGroupConfig. */
export type NodeGroupConfig = NodeGroupModel;

/** Ids of an existing VPC to build into (bring-your-own mode). */
export interface ExistingVpcModel {
    vpcId: string;
    publicSubnetId: string;
    privateSubnetId: string;
    clusterSecurityGroupId?: string;
    bastionSecurityGroupId?: string;
}

/** The network's shape. */
export interface NetworkModel {
    vpcCidr: string;
    publicSubnetCidr: string;
    privateSubnetCidr: string;
    dnsServers: string[];
    dnsDomain: string;
    existingVpc?: ExistingVpcModel;
    apiPublic: boolean;
    apiAllowedCidrs: string[];
}

export interface CloudModel {
    /** `https://host[:port]`, no trailing slash. */
    apiUrl: string;
    accessKey?: pulumi.Output<string>;
    secretKey?: pulumi.Output<string>;
    insecure: boolean;
    rootCaCert?: string;
    /** The recorded doctor answers (doctor.<stack>.json), when the stack has one. */
    facts?: CloudFactsModel;
}

export interface BastionModel {
    amiId: string;
    instanceType: string;
    keyName: string;
    sshUser: string;
    sshPrivateKey: pulumi.Output<string>;
    sshCidrs: string[];
}

export interface ControlPlaneModel {
    count: number;
    mode: ControlPlaneMode;
    instanceType: string;
    volumeSize: number;
    amiId: string;
    instanceProfile?: string;
}

/** Off-cluster export of the etcd backups (S3 / NGOS). */
export interface EtcdBackupExportModel {
    bucket: string;
    endpoint?: string;
    region: string;
    accessKeyId: pulumi.Output<string>;
    secretAccessKey: pulumi.Output<string>;
}

export interface ClusterModel {
    eksdVersion: string;
    kubernetesVersion: string;
    podCidr: string;
    serviceCidr: string;
    controlPlane: ControlPlaneModel;
    workerInstanceProfile?: string;
    nodeGroups: Record<string, NodeGroupModel>;
    nodeKeyName: string;
    nodeSshUser: string;
    nodeSshPrivateKey: pulumi.Output<string>;
    kubeconfigTimeoutMinutes: number;
    etcdBackupRotation: number;
    etcdBackupExport?: EtcdBackupExportModel;
    /** Validity of the admin client certificate in the kubeconfig. */
    adminCredentialValidityHours: number;
    /** Lifetime of the node-bootstrap token in worker user data. */
    workerJoinTokenTtlHours: number;
    /** How the SSH steps check host keys (`console`: pinned, read from each instance's console). */
    sshHostKeys: SshHostKeyMode;
}

/** Security switches of the cluster (kubeadm config, kubelet, instances). */
export interface HardeningModel {
    auditLog: boolean;
    secretsEncryption: boolean;
    /** Bump to rotate the encryption-at-rest key. */
    secretsEncryptionKeyVersion: number;
    kubeletHardening: boolean;
    apiServerProfiling: boolean;
    /** IMDSv2 only; zCompute does not support it, so off by default. */
    requireMetadataTokens: boolean;
}

export interface AddonOverrideModel {
    version?: string;
    values?: Record<string, unknown>;
}

export interface AddonChoicesModel {
    cni: CniChoice;
    volumeType: VolumeType;
    ebsCsi: boolean;
    loadBalancerController: boolean;
    autoscaler: boolean;
    kasten: boolean;
    metricsServer: boolean;
    autoscalerScaleDownUnneededTime: string;
    autoscalerScaleDownDelayAfterAdd: string;
    overrides: Record<string, AddonOverrideModel>;
}

export interface StackModel {
    stack: string;
    environment: string;
    production: boolean;
    tags: Record<string, string>;
    cloud: CloudModel;
    network: NetworkModel;
    bastion: BastionModel;
    cluster: ClusterModel;
    hardening: HardeningModel;
    addons: AddonChoicesModel;
}
