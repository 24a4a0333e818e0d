// Bootstrap secrets of a cluster, generated once and kept in the Pulumi state: the kubeadm
// bootstrap token, the certificate key that encrypts the uploaded control-plane certificates,
// and the cluster CA. Creating the CA here (rather than letting kubeadm do it) lets every join
// pin it with caCertHashes.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { createHash, createPublicKey } from "node:crypto";

/** Ten years: the CA outlives the one-year kubeadm leaf certificates, which are renewed. */
export const CA_VALIDITY_HOURS = 10 * 365 * 24;

export const BOOTSTRAP_TOKEN_PATTERN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/**
 * kubeadm's CA pin: "sha256:" + SHA-256 of the DER SubjectPublicKeyInfo of the CA.
 * Accepts a public key or a certificate in PEM.
 */
export function caCertHashOf(pem: string): string {
    const spki = createPublicKey(pem).export({ type: "spki", format: "der" });
    return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

export interface ClusterSecretsArgs {
    environment: string;
    parent: pulumi.Resource;
}

export class ClusterSecrets {
    /** `[a-z0-9]{6}.[a-z0-9]{16}`, secret. */
    readonly bootstrapToken: pulumi.Output<string>;
    /** 32 random bytes as 64 hex digits (kubeadm --certificate-key), secret. */
    readonly certificateKey: pulumi.Output<string>;
    readonly caKeyPem: pulumi.Output<string>;
    readonly caCertPem: pulumi.Output<string>;
    /** `sha256:<hex>` of the CA public key; not a secret. */
    readonly caCertHash: pulumi.Output<string>;
    /** Short random suffix for cloud names that must not collide after a destroy. */
    readonly nameSuffix: pulumi.Output<string>;

    constructor(args: ClusterSecretsArgs) {
        const opts: pulumi.CustomResourceOptions = { parent: args.parent };
        // RandomString keeps its result in plain text in the state unless told otherwise.
        const secretOpts: pulumi.CustomResourceOptions = { ...opts, additionalSecretOutputs: ["result"] };
        const env = args.environment;

        const tokenId = new random.RandomString(`${env}-token-id`, lowercaseAlphanumeric(6), secretOpts);
        const tokenSecret = new random.RandomString(`${env}-token-secret`, lowercaseAlphanumeric(16), secretOpts);
        this.bootstrapToken = pulumi.secret(pulumi.interpolate`${tokenId.result}.${tokenSecret.result}`);

        const certificateKey = new random.RandomBytes(`${env}-certificate-key`, { length: 32 }, opts);
        this.certificateKey = pulumi.secret(certificateKey.hex);

        const caKey = new tls.PrivateKey(`${env}-ca-key`, { algorithm: "RSA", rsaBits: 2048 }, opts);
        this.caKeyPem = pulumi.secret(caKey.privateKeyPem);
        const caCert = new tls.SelfSignedCert(`${env}-ca`, {
            privateKeyPem: this.caKeyPem,
            subject: { commonName: "kubernetes" },
            isCaCertificate: true,
            setSubjectKeyId: true,
            validityPeriodHours: CA_VALIDITY_HOURS,
            allowedUses: ["cert_signing", "key_encipherment", "digital_signature"],
        }, opts);
        this.caCertPem = caCert.certPem;
        // The certificate's SubjectPublicKeyInfo is the key's public half.
        this.caCertHash = pulumi.unsecret(caKey.publicKeyPem).apply(caCertHashOf);

        const suffix = new random.RandomString(`${env}-name-suffix`, lowercaseAlphanumeric(6), opts);
        this.nameSuffix = suffix.result;
    }
}

function lowercaseAlphanumeric(length: number): random.RandomStringArgs {
    return { length, lower: true, numeric: true, upper: false, special: false };
}
