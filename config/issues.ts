// Turns schema issues into the messages a user sees: `zadara-eksd:<path>: <bad value> <what is
// wrong>. Fix: <command>`. The schema's own refinements already write whole messages; the
// generic issues (wrong type, out of range, not in a list, unknown field) are worded here.
import { z } from "zod";
import { ConfigKeyDefinition, findKeyDefinition, PROJECT_NAME } from "./schema";

type Path = ReadonlyArray<PropertyKey>;

/** `nodeGroups.workers.taints[0].effect` */
export function pathText(path: Path): string {
    return path.map((segment, i) => (typeof segment === "number" ? `[${segment}]` : `${i === 0 ? "" : "."}${String(segment)}`)).join("");
}

export function showValue(value: unknown): string {
    if (typeof value === "number" && !Number.isFinite(value)) {
        return `${String(value)} (too large to be a number)`; // JSON would print null
    }
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function typeName(value: unknown): string {
    if (value === null) {
        return "null";
    }
    if (Array.isArray(value)) {
        return "a list";
    }
    if (typeof value === "object") {
        return "a map";
    }
    if (typeof value === "number") {
        return Number.isInteger(value) ? "a whole number" : "a number";
    }
    return `a ${typeof value}`;
}

const EXPECTED: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "a boolean (true or false)",
    object: "a map",
    record: "a map",
    array: "a list",
};

/** Edit distance (case-insensitive), for "did you mean". */
export function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let previous = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const current = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
            previous = current;
        }
    }
    return row[b.length];
}

/** The closest candidate when it is close enough to be a typo. */
export function nearest(name: string, candidates: Iterable<string>): string | undefined {
    let best: { name: string; distance: number } | undefined;
    for (const candidate of candidates) {
        const distance = editDistance(name, candidate);
        if (!best || distance < best.distance) {
            best = { name: candidate, distance };
        }
    }
    return best && best.distance <= Math.max(2, Math.floor(name.length / 4)) ? best.name : undefined;
}

interface ZodDefinition {
    type: string;
    shape?: Record<string, z.ZodType>;
    valueType?: z.ZodType;
    element?: z.ZodType;
    innerType?: z.ZodType;
    in?: z.ZodType;
}

function definition(schema: z.ZodType): ZodDefinition {
    return (schema as unknown as { _zod: { def: ZodDefinition } })._zod.def;
}

function unwrap(schema: z.ZodType): z.ZodType {
    let current = schema;
    for (;;) {
        const def = definition(current);
        const inner = def.innerType ?? (def.type === "pipe" ? def.in : undefined);
        if (!inner) {
            return current;
        }
        current = inner;
    }
}

/** The schema at `path` below a key's schema (for its examples and known fields). */
export function schemaAt(schema: z.ZodType, path: Path): z.ZodType | undefined {
    let current: z.ZodType | undefined = schema;
    for (const segment of path) {
        if (!current) {
            return undefined;
        }
        const def = definition(unwrap(current));
        current = def.type === "object" ? def.shape?.[String(segment)] : def.type === "record" ? def.valueType : def.type === "array" ? def.element : undefined;
    }
    return current;
}

function exampleAt(schema: z.ZodType | undefined): unknown {
    for (let current = schema; current;) {
        const meta = current.meta() as { examples?: unknown[] } | undefined;
        if (meta?.examples?.length) {
            return meta.examples[0];
        }
        const def = definition(current);
        current = def.innerType ?? (def.type === "pipe" ? def.in : undefined);
    }
    return undefined;
}

function shellWord(value: unknown): string {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return /^[A-Za-z0-9._/:@<>-]+$/.test(text) ? text : `'${text}'`;
}

/** The command that sets a key (or a path inside one) to a working value. */
export function fixCommand(definition: ConfigKeyDefinition, path: Path): string {
    const secret = definition.secret ? "--secret " : "";
    if (path.length === 0) {
        return /^--path /.test(definition.example)
            ? `pulumi config set ${definition.example}`
            : `pulumi config set ${secret}${definition.key} ${definition.example}`;
    }
    const target = schemaAt(definition.schema, path);
    const example = exampleAt(target);
    if (example === undefined && target) {
        // A map where a scalar was given: show one field of it.
        const [fieldName, fieldSchema] =
            Object.entries(knownFields(definition.schema, path)).find(([, f]) => typeof exampleAt(f as z.ZodType) === "string") ?? [];
        if (fieldName) {
            return `pulumi config set --path '${definition.key}${pathText(["", ...path, fieldName])}' ${shellWord(exampleAt(fieldSchema as z.ZodType))}`;
        }
    }
    return `pulumi config set --path '${definition.key}${pathText(["", ...path])}' ${example === undefined ? "<value>" : shellWord(example)}`;
}

/**
 * zod's whole numbers carry the safe-integer limits (±9007199254740991) as bounds of their own:
 * not a limit of the setting, and never worth printing as one.
 */
export function isSafeIntegerBound(issue: z.core.$ZodIssue): boolean {
    const bound = issue.code === "too_big" ? issue.maximum : issue.code === "too_small" ? issue.minimum : undefined;
    return typeof bound === "number" && Math.abs(bound) >= Number.MAX_SAFE_INTEGER;
}

/** Only the issues worth a message: a safe-integer bound is dropped when the setting's own bound speaks for the same path. */
export function meaningfulIssues(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
    const samePath = (a: z.core.$ZodIssue, b: z.core.$ZodIssue) => pathText(a.path) === pathText(b.path);
    return issues.filter(
        (issue) => !isSafeIntegerBound(issue) || !issues.some((other) => other !== issue && other.code === issue.code && samePath(other, issue)),
    );
}

/** One user-facing message per issue of `key` (path below the key). */
export function describeIssue(keyName: string, issue: z.core.$ZodIssue): string[] {
    const definition = findKeyDefinition(keyName);
    if (definition === undefined) {
        throw new Error(`describeIssue: "${keyName}" is not a config key; issues come only from the CONFIG_KEYS schemas`);
    }
    const path = issue.path;
    const where = `${PROJECT_NAME}:${keyName}${pathText(["", ...path])}`;
    const input = (issue as { input?: unknown }).input;
    const fix = fixCommand(definition, path);
    if (/Fix:/.test(issue.message)) {
        // The schema's own refinements and patterns write the whole message (value, problem, fix).
        return [`${where}: ${issue.message}`];
    }
    switch (issue.code) {
        case "invalid_type": {
            if (input === undefined) {
                return [`${where}: is required. Fix: ${fix}`];
            }
            if (issue.expected === "int" && typeof input === "number") {
                return [`${where}: ${showValue(input)} is not a whole number. Fix: ${fix}`];
            }
            const wantsInteger = issue.expected === "number" && jsonType(schemaAt(definition.schema, path)) === "integer";
            const expected = wantsInteger ? EXPECTED.int : (EXPECTED[issue.expected] ?? issue.expected);
            return [`${where}: ${showValue(input)} is ${typeName(input)}, expected ${expected}. Fix: ${fix}`];
        }
        case "too_small":
            if (isSafeIntegerBound(issue)) {
                return [`${where}: ${showValue(input)} is too large a negative number to be exact. Fix: ${fix}`];
            }
            return [`${where}: ${showValue(input)} is below the minimum ${String(issue.minimum)}. Fix: set it to ${String(issue.minimum)} or more`];
        case "too_big":
            if (isSafeIntegerBound(issue)) {
                return [`${where}: ${showValue(input)} is too large to be an exact whole number. Fix: ${fix}`];
            }
            return [`${where}: ${showValue(input)} is above the maximum ${String(issue.maximum)}. Fix: set it to ${String(issue.maximum)} or less`];
        case "invalid_value": {
            const refusal = path.length === 0 && typeof input === "string" ? definition.refusals?.[input] : undefined;
            if (refusal) {
                return [`${where}: ${showValue(input)} ${refusal}`];
            }
            const allowed = issue.values.map(String);
            const guess = typeof input === "string" ? nearest(input, allowed) : undefined;
            return [
                `${where}: ${showValue(input)} is not one of ${allowed.join(", ")}${guess ? ` (did you mean "${guess}"?)` : ""}. Fix: ${path.length === 0 ? `pulumi config set ${definition.key} ${guess ?? allowed[0]}` : fix}`,
            ];
        }
        case "unrecognized_keys": {
            const known = Object.keys(knownFields(definition.schema, path));
            return issue.keys.map((name) => {
                const guess = nearest(name, known);
                const hint = guess ? `did you mean "${guess}"? Fix: rename it to ${guess}` : `Fix: remove it (known: ${known.join(", ")})`;
                return `${where}${pathText(["", name])}: is not a known field of ${keyName}${pathText(["", ...path])}: ${hint}`;
            });
        }
        default:
            return [`${where}: ${showValue(input)} ${issue.message}. Fix: ${fix}`];
    }
}

function jsonType(schema: z.ZodType | undefined): string | undefined {
    return schema ? (z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { type?: string }).type : undefined;
}

export function knownFields(schema: z.ZodType, path: Path): Record<string, unknown> {
    const at = schemaAt(schema, path);
    const def = at ? definition(unwrap(at)) : undefined;
    return def?.type === "object" ? (def.shape ?? {}) : {};
}
