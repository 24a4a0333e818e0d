// Control-plane hardening objects, built as plain objects and rendered with the yaml library:
// the kube-apiserver audit policy, the EncryptionConfiguration for Secrets at rest and the
// KubeletConfiguration kubeadm hands to every kubelet. kubeadm.ts wires them into the
// ClusterConfiguration (flags + hostPath mounts); node-bootstrap.ts delivers the files.
import * as YAML from "yaml";

/** Each measure on by default, each off by its own config key (see the contract). */
export interface HardeningSettings {
    /** `auditLog`: kube-apiserver audit log at Metadata level. */
    auditLog: boolean;
    /** `secretsEncryption`: Secrets encrypted at rest (secretbox). */
    secretsEncryption: boolean;
    /** `kubeletHardening`: anonymous auth off, webhook authentication and authorization. */
    kubeletHardening: boolean;
    /** `apiServerProfiling`: false turns /debug/pprof off on apiserver, controller-manager, scheduler. */
    apiServerProfiling: boolean;
    /** `requireMetadataTokens`: IMDSv2 only (zCompute does not support it: off by default). */
    requireMetadataTokens: boolean;
}

export const DEFAULT_HARDENING: HardeningSettings = {
    auditLog: true,
    secretsEncryption: true,
    kubeletHardening: true,
    apiServerProfiling: false,
    requireMetadataTokens: false,
};

/** Where the files live on control-plane nodes (host paths, mounted read-only into the pod). */
export const AUDIT_POLICY_DIR = "/etc/kubernetes/audit";
export const AUDIT_POLICY_FILE = `${AUDIT_POLICY_DIR}/audit-policy.yaml`;
export const AUDIT_LOG_DIR = "/var/log/kubernetes/audit";
export const AUDIT_LOG_FILE = `${AUDIT_LOG_DIR}/audit.log`;
export const ENCRYPTION_CONFIG_DIR = "/etc/kubernetes/encryption";
export const ENCRYPTION_CONFIG_FILE = `${ENCRYPTION_CONFIG_DIR}/encryption-config.yaml`;
/** Admission (Pod Security defaults) and authentication (anonymous endpoints) configuration. */
export const APISERVER_CONFIG_DIR = "/etc/kubernetes/apiserver";
export const ADMISSION_CONFIG_FILE = `${APISERVER_CONFIG_DIR}/admission-config.yaml`;
export const AUTHENTICATION_CONFIG_FILE = `${APISERVER_CONFIG_DIR}/authentication-config.yaml`;
/** The cluster CA: kubelet serving certificates are signed by it once approved (serverTLSBootstrap). */
export const CLUSTER_CA_FILE = "/etc/kubernetes/pki/ca.crt";

/** TLS 1.2 at least on the API server and every kubelet (CIS 1.2.x / 4.2.x). */
export const TLS_MIN_VERSION = "VersionTLS12";
/**
 * The TLS 1.2 suites allowed: ECDHE with AES-GCM or ChaCha20-Poly1305 only (TLS 1.3 suites are
 * not configurable in Go and are all strong). Names as Go's crypto/tls spells them.
 */
export const TLS_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/** The only paths anonymous requests may reach (1.32+): the health checks of probes and load balancers. */
export const ANONYMOUS_PATHS = ["/livez", "/readyz", "/healthz"];
/** First minor where the API server limits anonymous requests to paths (KEP-4633: beta 1.32, GA 1.34). */
export const ANONYMOUS_PATHS_MINOR = 32;

/**
 * Namespaces the Pod Security defaults leave alone: add-ons that must run privileged pods
 * (CNI agents, CSI node plugins, backup agents). Any other namespace is held to baseline;
 * a namespace may still be labelled `pod-security.kubernetes.io/enforce=privileged`.
 */
export const POD_SECURITY_EXEMPT_NAMESPACES = ["kube-system", "kube-flannel", "tigera-operator", "calico-system", "cilium-system", "kasten-io"];

/** Audit log rotation: days, files, MB (at most 10 x 100 MB on the root disk). */
export const AUDIT_LOG_ROTATION = { maxAgeDays: 30, maxBackups: 10, maxSizeMb: 100 };

/**
 * Metadata level for every request: who did what to which object, never a body. The first
 * rules pin the sensitive kinds to Metadata explicitly, so that a later, more verbose
 * catch-all can never record the bodies of Secrets, ConfigMaps or tokens.
 */
export function auditPolicy(): Record<string, unknown> {
    return {
        apiVersion: "audit.k8s.io/v1",
        kind: "Policy",
        // RequestReceived duplicates every event without adding anything.
        omitStages: ["RequestReceived"],
        rules: [
            // Noise without a decision in it, dropped first (rules match in order): health
            // checks, leader-election leases renewed every few seconds, and Events, which are
            // themselves a record of what happened. Nothing sensitive is in any of them.
            { level: "None", nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"] },
            { level: "None", verbs: ["get", "update", "watch", "list"], resources: [{ group: "coordination.k8s.io", resources: ["leases"] }] },
            {
                level: "None",
                resources: [
                    { group: "", resources: ["events"] },
                    { group: "events.k8s.io", resources: ["events"] },
                ],
            },
            { level: "Metadata", resources: [{ group: "", resources: ["secrets", "configmaps", "serviceaccounts/token"] }] },
            { level: "Metadata", resources: [{ group: "authentication.k8s.io", resources: ["tokenreviews"] }] },
            { level: "Metadata", resources: [{ group: "authorization.k8s.io", resources: ["subjectaccessreviews", "selfsubjectaccessreviews"] }] },
            { level: "Metadata" },
        ],
    };
}

export interface EncryptionKey {
    /** `key-v<version>`. */
    name: string;
    /** 32 random bytes, base64. */
    secret: string;
}

export function encryptionKeyName(version: number): string {
    return `key-v${version}`;
}

/**
 * Secrets encrypted with secretbox (XSalsa20-Poly1305). The first key encrypts, every key
 * decrypts; `identity` last reads Secrets written before encryption was turned on.
 */
export function encryptionConfiguration(keys: EncryptionKey[]): Record<string, unknown> {
    if (keys.length === 0) {
        throw new Error("an EncryptionConfiguration needs at least one key");
    }
    for (const key of keys) {
        if (Buffer.from(key.secret, "base64").length !== 32) {
            throw new Error(`encryption key ${key.name} must be 32 bytes (base64)`);
        }
    }
    return {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "EncryptionConfiguration",
        resources: [
            {
                resources: ["secrets"],
                providers: [{ secretbox: { keys: keys.map((key) => ({ name: key.name, secret: key.secret })) } }, { identity: {} }],
            },
        ],
    };
}

/**
 * KubeletConfiguration for kubeadm (uploaded to the kubelet-config ConfigMap, used by every node).
 * serverTLSBootstrap: the kubelet's serving certificate comes from the cluster CA through a
 * CSR that csr-approver.sh approves only for the node's own names and addresses, so the API
 * server can verify kubelets (--kubelet-certificate-authority). protectKernelDefaults: the
 * kubelet refuses to start on kernel settings other than its own (bootstrap.sh writes them).
 */
export function kubeletConfiguration(): Record<string, unknown> {
    return {
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        authentication: {
            anonymous: { enabled: false },
            webhook: { enabled: true },
            x509: { clientCAFile: CLUSTER_CA_FILE },
        },
        authorization: { mode: "Webhook" },
        readOnlyPort: 0,
        rotateCertificates: true,
        serverTLSBootstrap: true,
        protectKernelDefaults: true,
        tlsMinVersion: TLS_MIN_VERSION,
        tlsCipherSuites: [...TLS_CIPHER_SUITES],
    };
}

/**
 * Pod Security Admission defaults for every namespace without its own labels: baseline
 * enforced, restricted warned and audited (CIS 5.2). The add-on namespaces are exempt.
 */
export function admissionConfiguration(): Record<string, unknown> {
    return {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "AdmissionConfiguration",
        plugins: [
            {
                name: "PodSecurity",
                configuration: {
                    apiVersion: "pod-security.admission.config.k8s.io/v1",
                    kind: "PodSecurityConfiguration",
                    defaults: {
                        enforce: "baseline",
                        "enforce-version": "latest",
                        audit: "restricted",
                        "audit-version": "latest",
                        warn: "restricted",
                        "warn-version": "latest",
                    },
                    exemptions: { usernames: [], runtimeClasses: [], namespaces: [...POD_SECURITY_EXEMPT_NAMESPACES] },
                },
            },
        ],
    };
}

/** Whether this minor limits anonymous requests to ANONYMOUS_PATHS (1.32+). */
export function limitsAnonymousPaths(kubernetesMinor: string): boolean {
    const [major, minor] = kubernetesMinor.split(".").map(Number);
    return major > 1 || minor >= ANONYMOUS_PATHS_MINOR;
}

/**
 * Anonymous requests only for the health checks (CIS 1.2.1): with --anonymous-auth=false the
 * API server's own liveness probe (an unauthenticated GET /livez) would fail. Older minors
 * keep kubeadm's default: anonymous requests reach only what RBAC gives system:anonymous
 * (system:public-info-viewer: health and version).
 */
export function authenticationConfiguration(): Record<string, unknown> {
    return {
        apiVersion: "apiserver.config.k8s.io/v1beta1",
        kind: "AuthenticationConfiguration",
        anonymous: { enabled: true, conditions: ANONYMOUS_PATHS.map((path) => ({ path })) },
    };
}

export function renderYaml(document: Record<string, unknown>): string {
    return YAML.stringify(document, { lineWidth: 0 });
}
