// Merges a stack's Helm value overrides over the values we build: objects are merged key by
// key, everything else (arrays included) is replaced, like Helm does with `-f` files.

export type PlainObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is PlainObject {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Returns a new object; neither input is modified. */
export function deepMerge(base: PlainObject, override: PlainObject | undefined): PlainObject {
    const result: PlainObject = { ...base };
    if (!override) {
        return result;
    }
    for (const [key, value] of Object.entries(override)) {
        const current = result[key];
        if (isPlainObject(current) && isPlainObject(value)) {
            result[key] = deepMerge(current, value);
        } else {
            result[key] = cloneValue(value);
        }
    }
    return result;
}

// Copies override values so later edits of the stack config object cannot leak into ours.
function cloneValue(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(cloneValue);
    }
    if (isPlainObject(value)) {
        return deepMerge({}, value);
    }
    return value;
}
