// The AWS provider's trust in a private zCompute CA.
//
// @pulumi/aws 4.7.0 (terraform-provider-aws 3.44) has no CA argument: its provider schema
// (node_modules/@pulumi/aws/provider.d.ts) offers `insecure` only. The provider runs as its own
// process, started by the Pulumi CLI with the CLI's environment, and its AWS SDK for Go (v1)
// reads the variable AWS_CA_BUNDLE (a PEM file path) in every session
// (aws-sdk-go aws/session/env_config.go: `cfg.CustomCABundle = os.Getenv("AWS_CA_BUNDLE")`).
// A program cannot change the environment of a process it did not start, so the CA reaches the
// provider through a file written from the stack config (`npm run ca-bundle`) and AWS_CA_BUNDLE
// set by whatever starts the CLI: the acceptance driver, the Deployments settings, the CI
// workflow, or the user's shell. The program checks that the two agree before it registers
// anything (providerCaBundleProblem).
import * as tls from "node:tls";

export const CA_BUNDLE_ENV = "AWS_CA_BUNDLE";

/** PEM blocks of a text, whitespace-normalised, so that two files can be compared. */
export function pemBlocks(text: string): string[] {
    return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0].replace(/\s+/g, ""));
}

/**
 * The bundle the provider should trust: the stack's root CA first, then Node's built-in public
 * roots, so that one file serves a private and a publicly signed cloud alike (AWS_CA_BUNDLE
 * replaces the system store; it does not add to it).
 */
export function providerCaBundle(rootCaCert: string | undefined): string {
    return [...(rootCaCert ? [rootCaCert.trim()] : []), ...tls.rootCertificates].join("\n") + "\n";
}

/**
 * Why the provider would not trust the cloud's CA, or undefined when it will (or when nothing
 * needs trusting: no rootCaCert, or insecure). `readFile` is injected so that tests stay pure.
 */
export function providerCaBundleProblem(
    rootCaCert: string | undefined,
    insecure: boolean,
    env: NodeJS.ProcessEnv,
    readFile: (path: string) => string,
): string | undefined {
    if (!rootCaCert || insecure) {
        return undefined;
    }
    const fix = `Fix: npm run ca-bundle -- --stack <stack> --out ca-bundle.pem && export ${CA_BUNDLE_ENV}=$PWD/ca-bundle.pem (docs/doctor.md#provider-ca-trust)`;
    const file = env[CA_BUNDLE_ENV];
    if (!file) {
        return `rootCaCert is set and insecure is false, but ${CA_BUNDLE_ENV} is not set: the AWS provider (4.7.0, no CA argument) would not trust the cloud's certificate. ${fix}`;
    }
    let text: string;
    try {
        text = readFile(file);
    } catch (error) {
        return `${CA_BUNDLE_ENV}=${file} cannot be read (${error instanceof Error ? error.message : String(error)}). ${fix}`;
    }
    const wanted = pemBlocks(rootCaCert);
    const present = new Set(pemBlocks(text));
    if (wanted.length === 0 || wanted.some((block) => !present.has(block))) {
        return `${CA_BUNDLE_ENV}=${file} does not contain the certificate in rootCaCert. ${fix}`;
    }
    return undefined;
}
