// The cloud's root CA (rootCaCert) is trusted on every VM and mounted into the cloud
// controllers, so the value is parsed, not pattern-matched: PEM certificate blocks only, each a
// CA certificate (basicConstraints CA:TRUE), no private key, and a size bound. A message never
// repeats the value: a pasted private key must not reach a log.
import { X509Certificate } from "node:crypto";

/** 64 KiB holds dozens of CA certificates; more is a mistake (and lands in every VM's user data). */
export const ROOT_CA_MAX_CHARS = 65_536;
export const ROOT_CA_MAX_CERTIFICATES = 32;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Why the text is not a bundle of CA certificates; undefined when it is. */
export function rootCaProblem(text: string): string | undefined {
    if (text.length > ROOT_CA_MAX_CHARS) {
        return `is ${text.length} characters, above the ${ROOT_CA_MAX_CHARS} a CA bundle needs`;
    }
    if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
        return "holds a PRIVATE KEY block: only the CA certificate may be given (the key must never leave its owner)";
    }
    const blocks = [...text.matchAll(PEM_BLOCK)];
    if (blocks.length === 0) {
        return "is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)";
    }
    const outside = text.replace(PEM_BLOCK, "").trim();
    if (outside.length > 0) {
        return "has text outside its PEM blocks (only -----BEGIN CERTIFICATE----- blocks are accepted)";
    }
    if (blocks.length > ROOT_CA_MAX_CERTIFICATES) {
        return `holds ${blocks.length} certificates, above ${ROOT_CA_MAX_CERTIFICATES}`;
    }
    for (const [index, block] of blocks.entries()) {
        const label = block[1];
        const which = `block ${index + 1} of ${blocks.length}`;
        if (label !== "CERTIFICATE") {
            return `${which} is a ${label}, not a CERTIFICATE`;
        }
        let certificate: X509Certificate;
        try {
            certificate = new X509Certificate(block[0]);
        } catch {
            return `${which} is not a parseable X.509 certificate`;
        }
        if (!certificate.ca) {
            return `${which} (subject ${certificate.subject.replace(/\n/g, ", ")}) is not a CA certificate (basicConstraints CA:TRUE): give the root CA, not a server certificate`;
        }
    }
    return undefined;
}
