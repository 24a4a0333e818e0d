// Reads a stack's configuration the way the Pulumi CLI hands it to the program: the keys of
// Pulumi.<stack>.yaml plus `config set [--secret] [--path]` style overrides, structured values
// as JSON text. Used by the offline plan, the benchmark and the tests.
import * as fs from "node:fs";
import { parsePreviousState, PreviousState } from "./plan-diff";
import * as path from "node:path";
import * as YAML from "yaml";
import { LIFECYCLE_OUTPUT } from "../cluster/lifecycle-state";
import { PROJECT_NAME } from "../config";
import { nearest } from "../config/issues";
import { CONFIG_KEYS } from "../config/schema";

export const REPO_ROOT = path.resolve(__dirname, "..");

export interface StackConfigInput {
    stack: string;
    /** Full keys (`zadara-eksd:vpcCidr`) to raw strings. */
    values: Record<string, string>;
    secretKeys: string[];
    /** Secret keys that had no value offline and got a placeholder. */
    placeholders: string[];
    /** Where each full key is set in the stack file (`Pulumi.dev.yaml:12`), for messages. */
    locations: Record<string, string>;
}

export interface Override {
    /** Key as given, e.g. `vpcCidr`, `nodeGroups.workers.maxSize`, `aws:region`. */
    key: string;
    value: string;
    secret: boolean;
}

function fullKey(key: string): string {
    return key.includes(":") ? key : `${PROJECT_NAME}:${key}`;
}

function toRawString(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

/** `--path` values: numbers and booleans become typed, like `pulumi config set --path`. */
function parsePathValue(text: string): unknown {
    if (text === "true" || text === "false") {
        return text === "true";
    }
    if (/^-?\d+(\.\d+)?$/.test(text)) {
        return Number(text);
    }
    return text;
}

/**
 * Splits a `--path` key as `pulumi config set --path` reads it: `a.b[0].c` into
 * ["a", "b", 0, "c"], and a quoted segment for names with dots, `labels["kubernetes.io/role"]`.
 */
export function pathSegments(key: string): Array<string | number> {
    const segments: Array<string | number> = [];
    const token = /([^.[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|(\.)/y;
    let expectName = true;
    while (token.lastIndex < key.length) {
        const at = token.lastIndex;
        const match = token.exec(key);
        if (match === null) {
            throw new Error(
                `cannot read the config path "${key}" at character ${at + 1}: write names with dots as ["name.with/dots"] and list positions as [0], ` +
                    `e.g. nodeGroups.workers.labels["kubernetes.io/role"]`,
            );
        }
        if (match[4] !== undefined && expectName) {
            throw new Error(`cannot read the config path "${key}": a "." at character ${at + 1} follows no name`);
        }
        if (match[1] !== undefined) {
            segments.push(match[1]);
        } else if (match[2] !== undefined) {
            segments.push(Number(match[2]));
        } else if (match[3] !== undefined) {
            segments.push(match[3].replace(/\\(.)/g, "$1"));
        }
        expectName = match[4] !== undefined;
    }
    if (expectName || segments.length === 0) {
        throw new Error(`cannot read the config path "${key}": it ends with "." or is empty`);
    }
    return segments;
}

function setAtPath(root: unknown, segments: Array<string | number>, value: unknown): unknown {
    if (segments.length === 0) {
        return value;
    }
    const [head, ...rest] = segments;
    const container: any = root ?? (typeof head === "number" ? [] : {});
    container[head] = setAtPath(container[head], rest, value);
    return container;
}

/** Top-level keys of a Pulumi.<stack>.yaml besides `config`. */
const STACK_FILE_KEYS = ["config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"];

/** A stack file that cannot be read: the message names the file, the line and the fix. */
export class StackFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

/** The `config:` map of Pulumi.<stack>.yaml, refusing the shapes Pulumi would misread. */
export function readStackFile(stack: string, root: string, locations: Record<string, string> = {}): Record<string, unknown> {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    const shown = path.relative(process.cwd(), file) || file;
    if (!fs.existsSync(file)) {
        throw new StackFileError(`no stack file ${shown}: create it, or pick a stack with --stack (dev, prod)`);
    }
    const lines = new YAML.LineCounter();
    const text = fs.readFileSync(file, "utf8");
    // Anchors, aliases and `<<` merge keys resolve as Pulumi's YAML reader resolves them.
    const document = YAML.parseDocument(text, { lineCounter: lines, merge: true });
    const at = (node: { range?: [number, number, number] | null } | null | undefined) => {
        const position = lines.linePos(node?.range?.[0] ?? 0);
        return `${shown}:${position.line}`;
    };
    if (document.errors.length > 0) {
        const error = document.errors[0];
        const position = error.linePos?.[0];
        if (error.code === "DUPLICATE_KEY") {
            const line = text.split("\n")[(position?.line ?? 1) - 1] ?? "";
            const name = /^\s*(?:-\s+)?(["']?)([^"':]+(?::[^"':\s]+)?)\1\s*:/.exec(line)?.[2] ?? line.trim();
            throw new StackFileError(
                `${shown}:${position?.line ?? 1}: the key "${name}" is set twice in the same map (Pulumi refuses the file). ` +
                    "Fix: keep one of the two lines (the one with the value you want)",
            );
        }
        throw new StackFileError(
            `${shown}:${position?.line ?? 1}:${position?.col ?? 1}: YAML syntax error: ${error.message.split("\n")[0]}. ` +
                "Fix: check the indentation and quoting on that line (quote values that contain ': ' or ' #')",
        );
    }
    const top = document.contents;
    if (top === null || top === undefined) {
        return {};
    }
    if (!YAML.isMap(top)) {
        throw new StackFileError(
            `${at(top)}: the stack file is ${YAML.isSeq(top) ? "a list" : "a single value"}, not a map with a "config:" section. ` +
                'Fix: start the file with a line "config:" and put each setting under it as "  zadara-eksd:<key>: <value>"',
        );
    }
    for (const pair of top.items) {
        const name = String(YAML.isScalar(pair.key) ? pair.key.value : pair.key);
        if (STACK_FILE_KEYS.includes(name)) {
            continue;
        }
        const keyNode = pair.key as { range?: [number, number, number] };
        if (name.includes(":")) {
            throw new StackFileError(
                `${at(keyNode)}: "${name}" is at the top level, outside "config:", so Pulumi would not read it. ` +
                    'Fix: add a line "config:" above the settings and indent each of them by two spaces',
            );
        }
        const guess = nearest(name, STACK_FILE_KEYS);
        throw new StackFileError(
            `${at(keyNode)}: "${name}" is not a stack file section${guess ? ` (did you mean "${guess}:"?)` : ""}. ` +
                `Fix: ${guess ? `rename it to "${guess}:"` : 'remove it; settings go under "config:" as "  zadara-eksd:<key>: <value>"'}`,
        );
    }
    const config = top.get("config", true);
    if (config === undefined || config === null || (YAML.isScalar(config) && (config.value === null || config.value === undefined))) {
        return {};
    }
    if (YAML.isSeq(config)) {
        throw new StackFileError(
            `${at(config)}: "config:" is a list (its lines start with "- "); Pulumi expects a map of key: value. ` +
                'Fix: remove the "- " so that each line reads "  zadara-eksd:<key>: <value>"',
        );
    }
    if (!YAML.isMap(config)) {
        throw new StackFileError(
            `${at(config)}: "config:" holds a single value; Pulumi expects a map of key: value. ` +
                'Fix: put each setting on its own line under "config:" as "  zadara-eksd:<key>: <value>"',
        );
    }
    for (const pair of config.items) {
        if (YAML.isScalar(pair.key)) {
            const name = fullKey(String(pair.key.value));
            const earlier = locations[name];
            if (earlier !== undefined) {
                // `cni` and `zadara-eksd:cni` are one key to Pulumi: which value wins would be an accident.
                throw new StackFileError(
                    `${at(pair.key)}: "${String(pair.key.value)}" sets ${name} again (already set at ${earlier}). Fix: keep one of the two lines, spelt ${name}`,
                );
            }
            locations[name] = at(pair.key);
        }
    }
    const resolved = document.toJS({ maxAliasCount: 100 }) as { config?: Record<string, unknown> };
    return resolved.config ?? {};
}

/** Offline stand-ins for secrets nobody set, so a fresh clone can plan. */
const OFFLINE_SECRET_PLACEHOLDERS: Record<string, string> = {
    accessKey: "offline-plan-access-key",
    secretKey: "offline-plan-secret-key",
    bastionSshPrivateKey: "offline-plan-ssh-key-placeholder",
};
const BACKUP_SECRET_KEYS = ["etcdBackupAccessKeyId", "etcdBackupSecretAccessKey"];

export function resolveStackConfig(stack: string, overrides: Override[] = [], options: { root?: string; placeholders?: boolean } = {}): StackConfigInput {
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    const placeholders: string[] = [];
    const structured: Record<string, unknown> = {};
    const locations: Record<string, string> = {};

    for (const [key, value] of Object.entries(readStackFile(stack, options.root ?? REPO_ROOT, locations))) {
        const name = fullKey(key);
        if (typeof value === "object" && value !== null && "secure" in value) {
            // Encrypted in the stack file: only the Pulumi CLI can decrypt it.
            values[name] = `offline-plan-${key.split(":").pop()}`;
            secretKeys.add(name);
            placeholders.push(name);
            continue;
        }
        structured[name] = value;
    }

    for (const override of overrides) {
        const segments = pathSegments(override.key);
        const name = fullKey(String(segments[0]));
        if (segments.length > 1) {
            const current = structured[name] === undefined && values[name] !== undefined ? JSON.parse(values[name]) : structured[name];
            structured[name] = setAtPath(current, segments.slice(1), parsePathValue(override.value));
        } else {
            structured[name] = override.value;
        }
        if (override.secret) {
            secretKeys.add(name);
        }
        if (segments.length === 1) {
            delete locations[name];
        }
    }
    for (const [name, value] of Object.entries(structured)) {
        values[name] = toRawString(value);
    }

    if (options.placeholders ?? true) {
        const env = process.env;
        const fill = (key: string, value: string) => {
            const name = fullKey(key);
            if (values[name] === undefined) {
                values[name] = value;
                secretKeys.add(name);
                placeholders.push(name);
            }
        };
        for (const [key, value] of Object.entries(OFFLINE_SECRET_PLACEHOLDERS)) {
            const fromEnv = (key === "accessKey" && env.AWS_ACCESS_KEY_ID) || (key === "secretKey" && env.AWS_SECRET_ACCESS_KEY);
            if (!fromEnv) {
                fill(key, value);
            }
        }
        // The export needs its credentials once a bucket is configured.
        if (values[fullKey("etcdBackupBucket")] !== undefined) {
            for (const key of BACKUP_SECRET_KEYS) {
                fill(key, `offline-plan-${key}`);
            }
        }
    }
    return { stack, values, secretKeys: [...secretKeys], placeholders, locations };
}

/** Parses `key=value` as given on the command line. */
export function parseOverride(text: string, secret: boolean): Override {
    const index = text.indexOf("=");
    if (index < 0) {
        throw new Error(`"${text}" has no value. Fix: write ${text}=<value> (to leave a key unset, remove it from the stack file)`);
    }
    if (index === 0) {
        throw new Error(`"${text}" has no key. Fix: write <key>=<value>, e.g. cni=calico`);
    }
    return { key: text.slice(0, index), value: text.slice(index + 1), secret };
}

/** Every config key the schema marks secret (for tests that look for leaks). */
export const SECRET_CONFIG_KEYS = CONFIG_KEYS.filter((k) => k.secret).map((k) => k.key);

const SAVE_OUTPUTS =
    "Fix: save the running stack's outputs with `pulumi stack output --json --show-secrets > outputs.json` (or its state with `pulumi stack export`, or keep the plan JSON of the last deployed config) and pass that file (a new cluster needs no --previous)";

/**
 * The `--previous` file: this program's stack outputs, a `pulumi stack export`, or a plan JSON
 * (tools/plan-diff.ts), or a clear refusal: never read as a new cluster.
 */
export function readPreviousState(file: string): PreviousState {
    let text: string;
    try {
        text = fs.readFileSync(path.resolve(file), "utf8");
    } catch (error) {
        const code = (error as { code?: string }).code;
        throw new Error(`--previous ${file}: ${code === "ENOENT" ? "no such file" : `cannot be read (${code ?? String(error)})`}. ${SAVE_OUTPUTS}`, {
            cause: error,
        });
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (error) {
        throw new Error(`--previous ${file}: is not JSON (${(error as Error).message}). ${SAVE_OUTPUTS}`, { cause: error });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        const shape = Array.isArray(parsed) ? "a list" : parsed === null ? "null" : `a single ${typeof parsed}`;
        throw new Error(`--previous ${file}: is ${shape}, not the JSON object of a stack's outputs. ${SAVE_OUTPUTS}`);
    }
    const state = parsePreviousState(parsed, file);
    if (state.kind === "outputs" && !(LIFECYCLE_OUTPUT in state.outputs)) {
        throw new Error(
            `--previous ${file}: has no "${LIFECYCLE_OUTPUT}" output, which every stack of this program exports: it is not (or not all of) this stack's outputs, ` +
                `and reading it as a new cluster would skip the day-2 change rules. ${SAVE_OUTPUTS}`,
        );
    }
    return state;
}
