// The stack's admin credential: a client certificate signed by the cluster CA, with a new key
// for every issue, in a group of its own (ADMIN_GROUP) that its own ClusterRoleBinding binds
// to cluster-admin. Not kubeadm's `kubeadm:cluster-admins`: the nodes' admin.conf is in that
// group, so removing it to revoke this credential would break the node scripts. Unlike
// super-admin.conf (system:masters, one year, cannot be revoked by RBAC) access ends when the
// certificate expires or when the binding is deleted (docs/security.md).
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { stringify } from "yaml";
import { tokenWindow } from "./secrets";

export const ADMIN_GROUP = "zadara-eksd:cluster-admins";
/** The ClusterRoleBinding of ADMIN_GROUP; control-plane-up.sh applies it (cluster-rbac.yaml). */
export const ADMIN_BINDING = "zadara-eksd:cluster-admins";
export const ADMIN_USER = "zadara-eksd-admin";
/** Hours, not days: a leaked kubeconfig is worth little by the next working day. */
export const DEFAULT_ADMIN_VALIDITY_HOURS = 8;
export const MIN_ADMIN_VALIDITY_HOURS = 2;
export const MAX_ADMIN_VALIDITY_HOURS = 720;

/**
 * Hours before expiry at which the certificate counts as due: half the validity. The issue
 * window (half the validity, in the resource names) replaces key and certificate at the same
 * point, so a credential handed to the Kubernetes provider has at least half its validity left.
 */
export function earlyRenewalHours(validityHours: number): number {
    return Math.floor(validityHours / 2);
}

/** The binding that gives ADMIN_GROUP cluster-admin: deleting it revokes every admin credential at once. */
export function adminClusterRoleBinding(): Record<string, unknown> {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: ADMIN_BINDING, labels: { "app.kubernetes.io/managed-by": "zadara-eksd" } },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: ADMIN_GROUP }],
    };
}

export function validateAdminValidityHours(hours: number): void {
    if (!Number.isInteger(hours) || hours < MIN_ADMIN_VALIDITY_HOURS || hours > MAX_ADMIN_VALIDITY_HOURS) {
        throw new Error(
            `adminCredentialValidityHours must be a whole number of hours from ${MIN_ADMIN_VALIDITY_HOURS} to ${MAX_ADMIN_VALIDITY_HOURS}, got ${hours}`,
        );
    }
}

export interface KubeconfigParts {
    clusterName: string;
    server: string;
    caCertPem: string;
    clientCertPem: string;
    clientKeyPem: string;
}

/** A kubeconfig document with embedded data, built as an object and serialised with yaml. */
export function renderKubeconfig(parts: KubeconfigParts): string {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const context = `${ADMIN_USER}@${parts.clusterName}`;
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: parts.clusterName, cluster: { server: parts.server, "certificate-authority-data": b64(parts.caCertPem) } }],
        users: [{ name: ADMIN_USER, user: { "client-certificate-data": b64(parts.clientCertPem), "client-key-data": b64(parts.clientKeyPem) } }],
        contexts: [{ name: context, context: { cluster: parts.clusterName, user: ADMIN_USER } }],
        "current-context": context,
        preferences: {},
    });
}

export interface AdminCredentialArgs {
    environment: string;
    caCertPem: pulumi.Input<string>;
    caKeyPem: pulumi.Input<string>;
    /** `https://host:6443` the kubeconfig points at. */
    server: pulumi.Input<string>;
    validityHours: number;
    parent: pulumi.Resource;
    /** Milliseconds since the epoch; injectable so that tests pick the issue window. */
    now?: () => number;
}

export class AdminCredential {
    readonly certificate: tls.LocallySignedCert;
    /** Secret kubeconfig with the client certificate and key. */
    readonly kubeconfig: pulumi.Output<string>;

    constructor(args: AdminCredentialArgs) {
        validateAdminValidityHours(args.validityHours);
        const opts: pulumi.CustomResourceOptions = { parent: args.parent };
        const env = args.environment;
        // A new key for every issue: the issue window (half the validity) is in the key's name, so
        // a new window replaces key, request and certificate (the old ones are deleted at the end
        // of the update). A certificate re-signed over the same key would outlive a leaked key.
        const window = tokenWindow((args.now ?? Date.now)(), args.validityHours);
        const key = new tls.PrivateKey(`${env}-admin-key-w${window.index}`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
        const request = new tls.CertRequest(
            `${env}-admin-csr-w${window.index}`,
            {
                privateKeyPem: key.privateKeyPem,
                subject: { commonName: ADMIN_USER, organization: ADMIN_GROUP },
            },
            opts,
        );
        this.certificate = new tls.LocallySignedCert(
            `${env}-admin-cert-w${window.index}`,
            {
                certRequestPem: request.certRequestPem,
                caCertPem: args.caCertPem,
                caPrivateKeyPem: pulumi.secret(args.caKeyPem),
                validityPeriodHours: args.validityHours,
                earlyRenewalHours: earlyRenewalHours(args.validityHours),
                allowedUses: ["digital_signature", "key_encipherment", "client_auth"],
            },
            // The certificate is a credential's half: a secret output, like the key.
            { ...opts, additionalSecretOutputs: ["certPem"] },
        );
        this.kubeconfig = pulumi.secret(
            pulumi.all([args.server, args.caCertPem, this.certificate.certPem, key.privateKeyPem]).apply(([server, caCertPem, clientCertPem, clientKeyPem]) =>
                renderKubeconfig({
                    clusterName: env,
                    server,
                    caCertPem,
                    clientCertPem,
                    clientKeyPem,
                }),
            ),
        );
    }
}
