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

/** KubeletConfiguration for kubeadm (uploaded to the kubelet-config ConfigMap, used by every node). */
export function kubeletConfiguration(): Record<string, unknown> {
    return {
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        authentication: {
            anonymous: { enabled: false },
            webhook: { enabled: true },
            x509: { clientCAFile: "/etc/kubernetes/pki/ca.crt" },
        },
        authorization: { mode: "Webhook" },
        readOnlyPort: 0,
        rotateCertificates: true,
    };
}

export function renderYaml(document: Record<string, unknown>): string {
    return YAML.stringify(document, { lineWidth: 0 });
}
