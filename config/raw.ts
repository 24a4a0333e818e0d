// From what Pulumi hands the program (every value a string; numbers and booleans as "3" and
// "true", structured values as JSON text) to the JSON values the schema checks. Strict: only
// Pulumi's own representation is read ("3" is 3 for a number key); anything else is passed
// through unchanged so the schema refuses it with its real type.
import { editDistance, nearest } from "./issues";
import { CONFIG_KEYS, ConfigKeyDefinition, KeyKind, PROJECT_NAME } from "./schema";

/** Raw configuration as `pulumi config` stores it: full keys to strings. */
export interface RawStackConfig {
    stack: string;
    /** e.g. {"zadara-eksd:vpcCidr": "10.0.0.0/16"}; structured values are JSON strings. */
    values: Record<string, string>;
    /** Full keys that were set with --secret. */
    secretKeys: string[];
    /** For the credential fallbacks (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). */
    env?: Record<string, string | undefined>;
    /**
     * The example stacks' placeholders (config/placeholders.ts) are refused unless "allow":
     * only the offline plan and the cleanup's name lookup run on them.
     */
    placeholders?: "refuse" | "allow";
}

/**
 * The secret keys the Pulumi language host passes to the program in the documented
 * PULUMI_CONFIG_SECRET_KEYS environment variable (a JSON list of full keys), next to
 * PULUMI_CONFIG which pulumi.runtime.allConfig() reads.
 */
export function secretKeysFromEnvironment(env: Record<string, string | undefined>): string[] {
    const text = env.PULUMI_CONFIG_SECRET_KEYS;
    if (!text) {
        return [];
    }
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((k): k is string => typeof k === "string") : [];
}

const NUMBER_TEXT = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/** The JSON value of one top-level key, or undefined when unset ("" counts as unset). */
export function jsonValueOf(kind: KeyKind, text: string | undefined): unknown {
    if (text === undefined || text === "") {
        return undefined;
    }
    switch (kind) {
        case "integer":
        case "number":
            return NUMBER_TEXT.test(text) ? Number(text) : text;
        case "boolean":
            return text === "true" ? true : text === "false" ? false : text;
        case "string":
            // A map or list written where a string belongs arrives as JSON text: show it as such.
            return /^\s*[[{]/.test(text) ? parseJsonOr(text, text) : text;
        default:
            return parseJsonOr(text, text);
    }
}

function parseJsonOr(text: string, fallback: unknown): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return fallback;
    }
}

/** Namespaces of the providers this program uses; their keys are not ours to check. */
const OTHER_NAMESPACES = new Set(["aws", "kubernetes", "command", "tls", "random", "pulumi"]);

/** Keys outside the schema: typos of ours and of our namespace, each with "did you mean". */
export function unknownKeyProblems(values: Record<string, string>): string[] {
    const problems: string[] = [];
    const names = CONFIG_KEYS.map((k) => k.key as string);
    for (const fullKey of Object.keys(values)) {
        const colon = fullKey.indexOf(":");
        const namespace = colon < 0 ? "" : fullKey.slice(0, colon);
        const name = colon < 0 ? fullKey : fullKey.slice(colon + 1);
        if (namespace === PROJECT_NAME) {
            if (names.includes(name)) {
                continue;
            }
            const guess = nearest(name, names);
            const hint = guess
                ? `did you mean "${guess}"? Fix: pulumi config set ${guess} <value> && pulumi config rm ${name}`
                : `Fix: remove it (pulumi config rm ${name}); see docs/reference.md for the keys`;
            problems.push(`${PROJECT_NAME}:${name}: is not a known setting (likely a typo): ${hint}`);
        } else if (!OTHER_NAMESPACES.has(namespace) && editDistance(namespace, PROJECT_NAME) <= 3) {
            const target = names.includes(name) ? name : (nearest(name, names) ?? name);
            problems.push(
                `${fullKey}: the namespace "${namespace}" is not this project's, so the setting is ignored: did you mean "${PROJECT_NAME}:${target}"? ` +
                    `Fix: pulumi config rm '${fullKey}' and pulumi config set ${PROJECT_NAME}:${target} <value>`,
            );
        }
    }
    return problems;
}

/** Secret keys set without --secret. */
export function plainTextSecretProblems(raw: RawStackConfig, definitions: ConfigKeyDefinition[] = CONFIG_KEYS): string[] {
    const secret = new Set(raw.secretKeys);
    return definitions
        .filter((d) => d.secret && raw.values[`${PROJECT_NAME}:${d.key}`] && !secret.has(`${PROJECT_NAME}:${d.key}`))
        .map((d) => `${PROJECT_NAME}:${d.key}: is stored in plain text. Fix: pulumi config set --secret ${d.key} ${d.example}`);
}
