// Numeric order of dotted versions, shared by the add-on pins and the IAM policy data.

/**
 * Compares dotted versions numerically ("v3.32.1" vs "v3.29.1"); a leading "v" and any
 * pre-release suffix are ignored. Returns <0, 0 or >0.
 */
export function compareVersions(a: string, b: string): number {
    const parts = (v: string): number[] =>
        v
            .replace(/^v/, "")
            .split(/[-+]/)[0]
            .split(".")
            .map((p) => Number.parseInt(p, 10) || 0);
    const left = parts(a);
    const right = parts(b);
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
        const diff = (left[i] ?? 0) - (right[i] ?? 0);
        if (diff !== 0) {
            return diff;
        }
    }
    return 0;
}
