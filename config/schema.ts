// The stack's configuration keys: one table that drives parsing, defaults, the unknown-key
// check and the README's config reference (tests/readme.test.ts keeps the README in sync).

export type ConfigKind = "string" | "number" | "boolean" | "list" | "object";

export interface ConfigKeyDefinition {
    /** Key inside the project namespace, e.g. `vpcCidr` for `zadara-eksd:vpcCidr`. */
    key: string;
    kind: ConfigKind;
    group: "cloud" | "naming" | "network" | "bastion" | "cluster" | "nodes" | "backup" | "addons";
    /** Default as the user would write it; undefined means "no default". */
    defaultValue?: unknown;
    /** Shown in the README instead of the default when the default is computed. */
    defaultText?: string;
    required?: boolean;
    /** Must be set with `pulumi config set --secret`. */
    secret?: boolean;
    description: string;
    /** The Terraform variable of Zadara's reference deployment this key replaces. */
    terraformVariable?: string;
}

export { CNI_CHOICES as CNI_PROVIDERS } from "../addons/versions";

export const VOLUME_TYPES = ["io1", "io2", "gp2", "gp3", "sc1", "st1", "standard", "sbp1", "sbg1"] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];

export const CONTROL_PLANE_MODES = ["standalone", "asg"] as const;
export type ControlPlaneMode = (typeof CONTROL_PLANE_MODES)[number];

export const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

export const DEFAULT_NODE_GROUP = {
    instanceType: "z8.large",
    minSize: 1,
    desiredSize: 1,
    maxSize: 4,
    volumeSize: 100,
    cooldown: 120,
};

export const CONFIG_KEYS: ConfigKeyDefinition[] = [
    // Cloud and provider
    { key: "apiEndpoint", kind: "string", group: "cloud", required: true, terraformVariable: "api_endpoint",
        description: "zCompute API host or https URL, e.g. `cloud.example.com` or `https://cloud.example.com`." },
    { key: "accessKey", kind: "string", group: "cloud", secret: true, defaultText: "`AWS_ACCESS_KEY_ID`", terraformVariable: "zcompute_access_key",
        description: "Access key of a user with MemberFullAccess + IAMFullAccess. Falls back to the environment." },
    { key: "secretKey", kind: "string", group: "cloud", secret: true, defaultText: "`AWS_SECRET_ACCESS_KEY`", terraformVariable: "zcompute_secret_key",
        description: "Secret key for `accessKey`. Falls back to the environment." },
    { key: "insecure", kind: "boolean", group: "cloud", defaultValue: false,
        description: "Skip TLS verification of the zCompute API (self-signed clouds without a CA file)." },
    { key: "rootCaCert", kind: "string", group: "cloud", terraformVariable: "root_ca_cert_path",
        description: "PEM of the cloud's root CA: trusted on every VM (bastion and nodes) and mounted into the cloud controllers." },

    // Naming and safety
    { key: "environment", kind: "string", group: "naming", defaultText: "stack name", terraformVariable: "environment",
        description: "Name prefix and Kubernetes cluster name (lowercase letters, digits, `-`; at most 20 characters)." },
    { key: "production", kind: "boolean", group: "naming", defaultText: "true for stacks named `prod*`",
        description: "Marks a production stack: open SSH, a world-open API and a single control-plane node are refused." },
    { key: "acceptUnsafeProduction", kind: "boolean", group: "naming", defaultValue: false,
        description: "Explicitly accept the settings that `production` refuses (documented risk)." },
    { key: "tags", kind: "object", group: "naming", defaultValue: {},
        description: "Extra tags put on every taggable resource (zCompute rejects provider default tags)." },

    // Network
    { key: "vpcCidr", kind: "string", group: "network", defaultValue: "192.168.0.0/16", terraformVariable: "vpc_cidr",
        description: "VPC CIDR." },
    { key: "publicSubnetCidr", kind: "string", group: "network", defaultValue: "192.168.0.0/24", terraformVariable: "public_cidr",
        description: "Public subnet (bastion, NAT gateway, public load balancers)." },
    { key: "privateSubnetCidr", kind: "string", group: "network", defaultValue: "192.168.2.0/23", terraformVariable: "private_cidr",
        description: "Private subnet (Kubernetes nodes, internal load balancers)." },
    { key: "dnsServers", kind: "list", group: "network", defaultValue: ["8.8.8.8", "8.8.4.4"],
        description: "DHCP options: DNS servers." },
    { key: "dnsDomain", kind: "string", group: "network", defaultValue: "symphony.local",
        description: "DHCP options: domain name; the API NLB is reachable inside the VPC as `elb-<id>.<dnsDomain>`." },
    { key: "existingVpc", kind: "object", group: "network",
        description: "Bring your own VPC: `{vpcId, publicSubnetId, privateSubnetId, clusterSecurityGroupId?, bastionSecurityGroupId?}`. Only what is missing is created." },
    { key: "apiPublic", kind: "boolean", group: "network", defaultValue: true, terraformVariable: "expose_k8s_api_publicly",
        description: "Internet-facing API NLB in the public subnet; false puts an internal NLB in the private subnet." },
    { key: "runsInsideVpc", kind: "boolean", group: "network", defaultValue: false,
        description: "Pulumi runs inside the VPC (self-hosted Deployments agent, VPN). Required for `apiPublic: false`: the Kubernetes provider connects from where Pulumi runs." },
    { key: "apiAllowedCidrs", kind: "list", group: "network", defaultValue: ["0.0.0.0/0"],
        description: "Who may reach the Kubernetes API on 6443: internet clients of a public API, VPC/VPN clients (such as a self-hosted agent) of an internal one." },

    // Bastion
    { key: "bastionAmiId", kind: "string", group: "bastion", required: true, terraformVariable: "bastion_ami",
        description: "Ubuntu 22.04 AMI id for the bastion." },
    { key: "bastionInstanceType", kind: "string", group: "bastion", defaultValue: "z2.medium", terraformVariable: "bastion_instance_type",
        description: "Bastion instance type." },
    { key: "bastionKeyName", kind: "string", group: "bastion", required: true, terraformVariable: "bastion_keyname",
        description: "Key pair name for the bastion." },
    { key: "bastionSshUser", kind: "string", group: "bastion", defaultValue: "ubuntu", terraformVariable: "bastion_user",
        description: "SSH user on the bastion." },
    { key: "bastionSshPrivateKey", kind: "string", group: "bastion", secret: true, required: true, terraformVariable: "bastion_keyfile",
        description: "Private key (PEM/OpenSSH text) of `bastionKeyName`." },
    { key: "bastionSshCidrs", kind: "list", group: "bastion", defaultValue: ["0.0.0.0/0"],
        description: "Who may SSH to the bastion. Never `0.0.0.0/0` in production." },

    // Cluster
    { key: "eksdVersion", kind: "string", group: "cluster", defaultValue: "1.30",
        description: "EKS-D minor version (`1.28` … `1.31`); selects image tags and add-on chart versions." },
    { key: "kubernetesVersion", kind: "string", group: "cluster", defaultText: "from `eksdVersion`",
        description: "Exact EKS-D Kubernetes tag (e.g. `v1.30.14-eks-1-30-44`); must match the kubelet baked in the AMIs." },
    { key: "podCidr", kind: "string", group: "cluster", defaultValue: "10.244.0.0/16", terraformVariable: "pod_network",
        description: "Pod network CIDR." },
    { key: "serviceCidr", kind: "string", group: "cluster", defaultValue: "10.96.0.0/12",
        description: "Service CIDR." },
    { key: "controlPlaneCount", kind: "number", group: "cluster", defaultValue: 1, terraformVariable: "masters_count",
        description: "Control-plane nodes: odd, 1 to 7 (3 for HA)." },
    { key: "controlPlaneMode", kind: "string", group: "cluster", defaultValue: "standalone",
        description: "`standalone` instances (recommended) or an `asg` with min = max = desired = `controlPlaneCount`." },
    { key: "controlPlaneInstanceType", kind: "string", group: "cluster", defaultValue: "z4.large", terraformVariable: "masters_instance_type",
        description: "Control-plane instance type." },
    { key: "controlPlaneVolumeSize", kind: "number", group: "cluster", defaultValue: 50, terraformVariable: "masters_volume_size",
        description: "Control-plane root volume, GB." },
    { key: "controlPlaneAmiId", kind: "string", group: "cluster", required: true, terraformVariable: "masters_eksd_ami",
        description: "EKS-D AMI for control-plane nodes." },
    { key: "controlPlaneInstanceProfile", kind: "string", group: "cluster", terraformVariable: "masters_iam_instance_profile",
        description: "Existing instance profile for control-plane nodes (then no IAM is created for them)." },
    { key: "kubeconfigTimeoutMinutes", kind: "number", group: "cluster", defaultValue: 25,
        description: "How long `pulumi up` waits for the first control-plane node to publish the kubeconfig." },

    // Nodes
    { key: "nodeKeyName", kind: "string", group: "nodes", required: true, terraformVariable: "masters_keyname / workers_keyname",
        description: "Key pair name for all Kubernetes nodes." },
    { key: "nodeSshUser", kind: "string", group: "nodes", defaultValue: "ubuntu",
        description: "SSH user on the nodes." },
    { key: "nodeSshPrivateKey", kind: "string", group: "nodes", secret: true, defaultText: "`bastionSshPrivateKey`", terraformVariable: "masters_keyfile",
        description: "Private key of `nodeKeyName`, used through the bastion to fetch the kubeconfig." },
    { key: "workerAmiId", kind: "string", group: "nodes", required: true, terraformVariable: "workers_eksd_ami",
        description: "EKS-D AMI for worker node groups (a group may override it)." },
    { key: "workerInstanceProfile", kind: "string", group: "nodes", terraformVariable: "workers_iam_instance_profile",
        description: "Existing instance profile for workers (then no IAM is created for them)." },
    { key: "nodeGroups", kind: "object", group: "nodes",
        defaultText: "`{workers: {instanceType: z8.large, minSize: 1, desiredSize: 1, maxSize: 4, volumeSize: 100}}`",
        terraformVariable: "workers_count, workers_addition, workers_instance_type, workers_volume_size",
        description: "Worker node groups by name: `{instanceType, minSize, desiredSize, maxSize, volumeSize, amiId?, labels?, taints?: [{key, value?, effect}], cooldown?}`." },

    // etcd backup
    { key: "etcdBackupRotation", kind: "number", group: "backup", defaultValue: 100, terraformVariable: "backup_rotation",
        description: "EBS snapshots of control-plane volumes, and exported snapshots per host, kept by the 2-hourly etcd backup; 0 disables EBS snapshots and keeps every export." },
    { key: "etcdBackupBucket", kind: "string", group: "backup", terraformVariable: "backup_bucket",
        description: "S3/NGOS bucket for etcd snapshot export (export is on when this is set)." },
    { key: "etcdBackupEndpoint", kind: "string", group: "backup", terraformVariable: "backup_endpoint",
        description: "S3-compatible endpoint URL for the export (empty: AWS S3)." },
    { key: "etcdBackupRegion", kind: "string", group: "backup", defaultValue: "us-east-1", terraformVariable: "backup_region",
        description: "Region of the export bucket." },
    { key: "etcdBackupAccessKeyId", kind: "string", group: "backup", secret: true, terraformVariable: "backup_access_key_id",
        description: "Access key for the export; stored only in the `zadara-backup-export` Secret, never in user data." },
    { key: "etcdBackupSecretAccessKey", kind: "string", group: "backup", secret: true, terraformVariable: "backup_secret_access_key",
        description: "Secret key for the export." },

    // Add-ons
    { key: "cni", kind: "string", group: "addons", defaultValue: "flannel", terraformVariable: "cni_provider",
        description: "`flannel`, `calico` or `cilium`." },
    { key: "volumeType", kind: "string", group: "addons", defaultValue: "gp2", terraformVariable: "ebs_csi_volume_type",
        description: "VolumeType alias of the `ebs-sc` StorageClass (io1 io2 gp2 gp3 sc1 st1 standard sbp1 sbg1)." },
    { key: "ebsCsi", kind: "boolean", group: "addons", defaultValue: true, terraformVariable: "install_ebs_csi",
        description: "EBS CSI driver, snapshot controller, `ebs-sc` and `ebs-vsc`." },
    { key: "loadBalancerController", kind: "boolean", group: "addons", defaultValue: true, terraformVariable: "install_lb_controller",
        description: "AWS Load Balancer Controller (Ingress → ALB, LoadBalancer Service → NLB)." },
    { key: "autoscaler", kind: "boolean", group: "addons", defaultValue: true, terraformVariable: "install_autoscaler",
        description: "Cluster Autoscaler for the worker node groups." },
    { key: "kasten", kind: "boolean", group: "addons", defaultValue: false, terraformVariable: "install_kasten_k10",
        description: "Kasten K10 backup (licence: free under 5 worker nodes)." },
    { key: "autoscalerScaleDownUnneededTime", kind: "string", group: "addons", defaultValue: "10m",
        description: "How long a node must be unneeded before the autoscaler removes it." },
    { key: "autoscalerScaleDownDelayAfterAdd", kind: "string", group: "addons", defaultValue: "10m",
        description: "How long after a scale-up the autoscaler waits before scaling down." },
    { key: "addonOverrides", kind: "object", group: "addons", defaultValue: {},
        description: "Per add-on `{version?, values?}` (values deep-merged over ours, arrays replaced), keyed by add-on name (see the add-on table)." },
];

export const CONFIG_KEY_NAMES = new Set(CONFIG_KEYS.map((k) => k.key));

export function findKeyDefinition(key: string): ConfigKeyDefinition | undefined {
    return CONFIG_KEYS.find((k) => k.key === key);
}
