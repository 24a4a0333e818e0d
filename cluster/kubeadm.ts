// kubeadm configuration files, built as objects and rendered with the yaml library.
// kubeadm 1.28–1.30 read kubeadm.k8s.io/v1beta3; v1beta4 is enabled from 1.31, where
// extraArgs became a list of {name, value} (v1beta3 is still read there, but deprecated).
import * as YAML from "yaml";
import {
    ADMISSION_CONFIG_FILE,
    APISERVER_CONFIG_DIR,
    AUTHENTICATION_CONFIG_FILE,
    CLUSTER_CA_FILE,
    limitsAnonymousPaths,
    TLS_CIPHER_SUITES,
    TLS_MIN_VERSION,
    AUDIT_LOG_DIR,
    AUDIT_LOG_FILE,
    AUDIT_LOG_ROTATION,
    AUDIT_POLICY_DIR,
    AUDIT_POLICY_FILE,
    ENCRYPTION_CONFIG_DIR,
    ENCRYPTION_CONFIG_FILE,
    HardeningSettings,
    kubeletConfiguration,
} from "./hardening";

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
    /**
     * The node group's expiring join token, for a worker's JoinConfiguration only. The init
     * configuration carries none, a control-plane join carries CONTROL_PLANE_TOKEN_PLACEHOLDER.
     */
    bootstrapToken: string;
    /** RFC3339 expiry of bootstrapToken. */
    bootstrapTokenExpires: string;
    /** `sha256:<hex>`. */
    caCertHash: string;
    hardening: HardeningSettings;
}

type KubeadmDocument = Record<string, unknown>;

/**
 * Stands in for the token in a control-plane JoinConfiguration: the joining node replaces it
 * with a token it mints itself, valid for CONTROL_PLANE_TOKEN_TTL, with the CA key it was just
 * sent (control-plane-up.sh). No control-plane token lives in the state or in the stdin.
 */
export const CONTROL_PLANE_TOKEN_PLACEHOLDER = "cpjoin.placeholder000000";
/** The one token kubeadm init creates: random (kubeadm draws it), unused, gone in 15 minutes. */
export const INIT_TOKEN_TTL = "15m0s";

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

/** kubeadm-init.yaml: InitConfiguration + ClusterConfiguration (+ KubeletConfiguration). */
export function renderInitConfig(settings: KubeadmSettings): string {
    return renderDocuments([initConfiguration(settings), ...clusterWideDocuments(settings)]);
}

/**
 * The ClusterConfiguration (+ KubeletConfiguration) every control-plane node of this cluster is
 * built from, without secrets: its hash in node.env replaces the control-plane nodes when it
 * changes (audit, encryption, profiling, certificate SANs, versions). The cluster name is left
 * out: it is the environment, which a running cluster never changes, and without it the text
 * compares between stacks.
 */
export function renderClusterWideConfig(settings: KubeadmSettings): string {
    return renderDocuments(clusterWideDocuments({ ...settings, clusterName: "" }));
}

/** The kubelet configuration every node gets from the cluster ("" = kubeadm's defaults). */
export function renderKubeletConfig(settings: KubeadmSettings): string {
    return settings.hardening.kubeletHardening ? renderDocuments([kubeletConfiguration()]) : "";
}

function clusterWideDocuments(settings: KubeadmSettings): KubeadmDocument[] {
    const documents = [clusterConfiguration(settings)];
    if (settings.hardening.kubeletHardening) {
        documents.push(kubeletConfiguration());
    }
    return documents;
}

/**
 * kubeadm-join-control-plane.yaml. No certificateKey: the program places the shared CAs and
 * the service-account key on the node (stdin of its bootstrap command), so nothing is
 * uploaded to or downloaded from the cluster.
 */
export function renderJoinControlPlaneConfig(settings: KubeadmSettings): string {
    const join = joinConfiguration({ ...settings, bootstrapToken: CONTROL_PLANE_TOKEN_PLACEHOLDER });
    join.controlPlane = {};
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
        // With no token listed, kubeadm init would create a 24 h token. This entry has no value:
        // kubeadm draws a random one (SetBootstrapTokensDynamicDefaults in
        // cmd/kubeadm/app/util/config/initconfiguration.go), nobody is told it
        // (--skip-token-print) and it expires after INIT_TOKEN_TTL. Worker tokens are per node
        // group and applied by their own command (join-tokens.ts).
        bootstrapTokens: [
            {
                description: "zadara-eksd kubeadm init token (unused)",
                ttl: INIT_TOKEN_TTL,
                usages: ["signing", "authentication"],
                groups: ["system:bootstrappers:kubeadm:default-node-token"],
            },
        ],
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
        apiServer: apiServerConfig(apiVersion, settings),
        controllerManager: { extraArgs: extraArgs(apiVersion, profilingArgs(settings.hardening)) },
        scheduler: { extraArgs: extraArgs(apiVersion, profilingArgs(settings.hardening)) },
    };
}

function profilingArgs(hardening: HardeningSettings): Record<string, string> {
    return hardening.apiServerProfiling ? {} : { profiling: "false" };
}

/** API server flags and hostPath mounts of the audit log and encryption at rest. */
function apiServerConfig(apiVersion: string, settings: KubeadmSettings): KubeadmDocument {
    const { hardening } = settings;
    const args: Record<string, string> = {
        ...profilingArgs(hardening),
        "tls-min-version": TLS_MIN_VERSION,
        "tls-cipher-suites": TLS_CIPHER_SUITES.join(","),
        // Pod Security defaults (and, from 1.32, anonymous requests for health checks only):
        // control-plane-up.sh receives both files on stdin (node-bootstrap.ts).
        "admission-control-config-file": ADMISSION_CONFIG_FILE,
    };
    const volumes: KubeadmDocument[] = [hostPathVolume("apiserver-config", APISERVER_CONFIG_DIR, true, "DirectoryOrCreate")];
    if (limitsAnonymousPaths(settings.kubernetesMinor)) {
        args["authentication-config"] = AUTHENTICATION_CONFIG_FILE;
    }
    if (hardening.kubeletHardening) {
        // Kubelets serve a certificate of the cluster CA (serverTLSBootstrap): verify it.
        args["kubelet-certificate-authority"] = CLUSTER_CA_FILE;
    }
    if (hardening.auditLog) {
        Object.assign(args, {
            "audit-policy-file": AUDIT_POLICY_FILE,
            "audit-log-path": AUDIT_LOG_FILE,
            "audit-log-maxage": String(AUDIT_LOG_ROTATION.maxAgeDays),
            "audit-log-maxbackup": String(AUDIT_LOG_ROTATION.maxBackups),
            "audit-log-maxsize": String(AUDIT_LOG_ROTATION.maxSizeMb),
        });
        volumes.push(hostPathVolume("audit-policy", AUDIT_POLICY_DIR, true, "DirectoryOrCreate"));
        volumes.push(hostPathVolume("audit-log", AUDIT_LOG_DIR, false, "DirectoryOrCreate"));
    }
    if (hardening.secretsEncryption) {
        args["encryption-provider-config"] = ENCRYPTION_CONFIG_FILE;
        // A key rotation rewrites the file; the API server picks it up without a restart.
        args["encryption-provider-config-automatic-reload"] = "true";
        volumes.push(hostPathVolume("encryption-config", ENCRYPTION_CONFIG_DIR, true, "DirectoryOrCreate"));
    }
    return { certSANs: [...settings.certSans], extraArgs: extraArgs(apiVersion, args), extraVolumes: volumes };
}

function hostPathVolume(name: string, hostPath: string, readOnly: boolean, pathType: string): KubeadmDocument {
    return { name, hostPath, mountPath: hostPath, readOnly, pathType };
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
