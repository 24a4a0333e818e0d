// A minimal valid stack for the config tests, and helpers that load it with changes.
import assert from "node:assert/strict";
import { ConfigValidationError, loadStackConfig } from "../../config";
import type { StackModel } from "../../model";

export const P = "zadara-eksd";

/** Shaped like a private key (the config checks the shape); no key material. */
export const TEST_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";

export function baseValues(): Record<string, string> {
    return {
        [`${P}:apiEndpoint`]: "cloud.zcompute.test",
        [`${P}:accessKey`]: "AK",
        [`${P}:secretKey`]: "SK",
        [`${P}:bastionAmiId`]: "ami-0123456789abcdef0",
        [`${P}:bastionKeyName`]: "bastion",
        [`${P}:bastionSshPrivateKey`]: TEST_PRIVATE_KEY,
        [`${P}:controlPlaneAmiId`]: "ami-0123456789abcdef1",
        [`${P}:workerAmiId`]: "ami-0123456789abcdef2",
        [`${P}:nodeKeyName`]: "nodes",
    };
}
export const BASE_SECRETS = ["accessKey", "secretKey", "bastionSshPrivateKey"].map((k) => `${P}:${k}`);

/** Overrides by short key (`cni`) or full key (`aws:region`); undefined removes a key. */
export function loadWith(overrides: Record<string, string | undefined> = {}, options: { stack?: string; secretKeys?: string[] } = {}): StackModel {
    const values = baseValues();
    for (const [key, value] of Object.entries(overrides)) {
        const full = key.includes(":") ? key : `${P}:${key}`;
        if (value === undefined) {
            delete values[full];
        } else {
            values[full] = value;
        }
    }
    return loadStackConfig({
        stack: options.stack ?? "dev",
        values,
        secretKeys: [...BASE_SECRETS, ...(options.secretKeys ?? []).map((k) => `${P}:${k}`)],
        env: {},
    });
}

export function problemsWith(overrides: Record<string, string | undefined>, options: { stack?: string; secretKeys?: string[] } = {}): string[] {
    try {
        loadWith(overrides, options);
    } catch (error) {
        assert.ok(error instanceof ConfigValidationError, `expected ConfigValidationError, got ${String(error)}`);
        return error.problems;
    }
    assert.fail(`expected ${JSON.stringify(overrides)} to be refused`);
}

/** One problem starts with `<full key>` (then ':' or '[') and contains every fragment. */
export function expectProblem(problems: string[], key: string, ...fragments: string[]): string {
    const full = key.includes(":") ? key : `${P}:${key}`;
    const match = problems.find((p) => (p.startsWith(`${full}:`) || p.startsWith(`${full}[`)) && fragments.every((f) => p.includes(f)));
    assert.ok(match, `no problem for ${key} containing ${JSON.stringify(fragments)} in:\n${problems.join("\n")}`);
    return match;
}
