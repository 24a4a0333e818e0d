// The stack's admin credential: a client certificate signed by the cluster CA in the group
// kubeadm binds to cluster-admin (`kubeadm:cluster-admins`, 1.29+), valid for a few days and
// re-issued by `pulumi up` inside its renewal window. Unlike super-admin.conf (system:masters,
// one year, cannot be revoked by RBAC) access ends when the certificate expires or when the
// group binding is removed.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { stringify } from "yaml";

export const ADMIN_GROUP = "kubeadm:cluster-admins";
export const ADMIN_USER = "zadara-eksd-admin";
export const DEFAULT_ADMIN_VALIDITY_DAYS = 7;
export const MAX_ADMIN_VALIDITY_DAYS = 30;

/**
 * Hours before expiry at which `pulumi up` issues a new certificate: half the validity, at least
 * a day, so a credential handed to the Kubernetes provider always outlives the run that uses it.
 */
export function earlyRenewalHours(validityDays: number): number {
    return Math.max(24, Math.floor((validityDays * 24) / 2));
}

export function validateAdminValidityDays(days: number): void {
    if (!Number.isInteger(days) || days < 1 || days > MAX_ADMIN_VALIDITY_DAYS) {
        throw new Error(`adminCredentialValidityDays must be a whole number of days from 1 to ${MAX_ADMIN_VALIDITY_DAYS}, got ${days}`);
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
    validityDays: number;
    parent: pulumi.Resource;
}

export class AdminCredential {
    readonly certificate: tls.LocallySignedCert;
    /** Secret kubeconfig with the client certificate and key. */
    readonly kubeconfig: pulumi.Output<string>;

    constructor(args: AdminCredentialArgs) {
        validateAdminValidityDays(args.validityDays);
        const opts: pulumi.CustomResourceOptions = { parent: args.parent };
        const env = args.environment;
        const key = new tls.PrivateKey(`${env}-admin-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
        const request = new tls.CertRequest(
            `${env}-admin-csr`,
            {
                privateKeyPem: key.privateKeyPem,
                subject: { commonName: ADMIN_USER, organization: ADMIN_GROUP },
            },
            opts,
        );
        this.certificate = new tls.LocallySignedCert(
            `${env}-admin-cert`,
            {
                certRequestPem: request.certRequestPem,
                caCertPem: args.caCertPem,
                caPrivateKeyPem: pulumi.secret(args.caKeyPem),
                validityPeriodHours: args.validityDays * 24,
                earlyRenewalHours: earlyRenewalHours(args.validityDays),
                allowedUses: ["digital_signature", "key_encipherment", "client_auth"],
            },
            opts,
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
