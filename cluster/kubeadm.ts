// kubeadm configuration files, built as objects and rendered with the yaml library.
// kubeadm 1.28–1.30 read kubeadm.k8s.io/v1beta3; v1beta4 is enabled from 1.31, where
// extraArgs became a list of {name, value} (v1beta3 is still read there, but deprecated).
import * as YAML from "yaml";

export const EKSD_IMAGE_REPOSITORY = "public.ecr.aws/eks-distro/kubernetes";
export const EKSD_ETCD_REPOSITORY = "public.ecr.aws/eks-distro/etcd-io";
export const EKSD_COREDNS_REPOSITORY = "public.ecr.aws/eks-distro/coredns";
/** etcd keeps this many snapshot files of its own (the reference's value). */
export const ETCD_MAX_SNAPSHOTS = 60;

export interface KubeadmSettings {
    clusterName: string;
    /** EKS-D tag, e.g. v1.30.14-eks-1-30-44. */
    kubernetesVersion: string;
    /** e.g. "1.30": selects the config API version. */
    kubernetesMinor: string;
    etcdImageTag: string;
    corednsImageTag: string;
    /** `<load balancer private ip>:6443`. */
    controlPlaneEndpoint: string;
    podCidr: string;
    serviceCidr: string;
    certSans: string[];
    bootstrapToken: string;
    certificateKey: string;
    /** `sha256:<hex>`. */
    caCertHash: string;
}

type KubeadmDocument = Record<string, unknown>;

export function kubeadmApiVersion(kubernetesMinor: string): string {
    const [major, minor] = kubernetesMinor.split(".").map(Number);
    if (!Number.isInteger(major) || !Number.isInteger(minor)) {
        throw new Error(`kubernetes minor version "${kubernetesMinor}" is not like 1.30`);
    }
    return major > 1 || minor >= 31 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3";
}

/** extraArgs in the shape of the API version: a map (v1beta3) or a list of {name, value} (v1beta4). */
export function extraArgs(apiVersion: string, args: Record<string, string>): unknown {
    if (apiVersion.endsWith("/v1beta3")) {
        return { ...args };
    }
    return Object.entries(args).map(([name, value]) => ({ name, value }));
}

/** kubeadm-init.yaml: InitConfiguration + ClusterConfiguration. */
export function renderInitConfig(settings: KubeadmSettings): string {
    return renderDocuments([initConfiguration(settings), clusterConfiguration(settings)]);
}

/** kubeadm-join-control-plane.yaml. */
export function renderJoinControlPlaneConfig(settings: KubeadmSettings): string {
    const join = joinConfiguration(settings);
    join.controlPlane = { certificateKey: settings.certificateKey };
    return renderDocuments([join]);
}

/** kubeadm-join-worker.yaml. */
export function renderJoinWorkerConfig(settings: KubeadmSettings): string {
    return renderDocuments([joinConfiguration(settings)]);
}

function initConfiguration(settings: KubeadmSettings): KubeadmDocument {
    return {
        apiVersion: kubeadmApiVersion(settings.kubernetesMinor),
        kind: "InitConfiguration",
        bootstrapTokens: [{
            token: settings.bootstrapToken,
            description: "zadara-eksd node bootstrap token",
            // Nodes of auto scaling groups join at any time: the token never expires.
            ttl: "0s",
            usages: ["signing", "authentication"],
            groups: ["system:bootstrappers:kubeadm:default-node-token"],
        }],
        certificateKey: settings.certificateKey,
    };
}

function clusterConfiguration(settings: KubeadmSettings): KubeadmDocument {
    const apiVersion = kubeadmApiVersion(settings.kubernetesMinor);
    return {
        apiVersion,
        kind: "ClusterConfiguration",
        clusterName: settings.clusterName,
        kubernetesVersion: settings.kubernetesVersion,
        imageRepository: EKSD_IMAGE_REPOSITORY,
        controlPlaneEndpoint: settings.controlPlaneEndpoint,
        networking: {
            podSubnet: settings.podCidr,
            serviceSubnet: settings.serviceCidr,
        },
        etcd: {
            local: {
                imageRepository: EKSD_ETCD_REPOSITORY,
                imageTag: settings.etcdImageTag,
                extraArgs: extraArgs(apiVersion, { "max-snapshots": String(ETCD_MAX_SNAPSHOTS) }),
            },
        },
        dns: {
            imageRepository: EKSD_COREDNS_REPOSITORY,
            imageTag: settings.corednsImageTag,
        },
        apiServer: {
            certSANs: [...settings.certSans],
        },
    };
}

function joinConfiguration(settings: KubeadmSettings): KubeadmDocument {
    return {
        apiVersion: kubeadmApiVersion(settings.kubernetesMinor),
        kind: "JoinConfiguration",
        discovery: {
            bootstrapToken: {
                apiServerEndpoint: settings.controlPlaneEndpoint,
                token: settings.bootstrapToken,
                // The CA is pinned: never unsafeSkipCAVerification.
                caCertHashes: [settings.caCertHash],
            },
        },
    };
}

function renderDocuments(documents: KubeadmDocument[]): string {
    return documents.map((document) => YAML.stringify(document)).join("---\n");
}
