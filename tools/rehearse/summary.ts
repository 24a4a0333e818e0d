// The rehearsal's summary table (npm run rehearse prints it at the end).
import type { ScenarioResult } from "./rehearsal";

/** The summary table: scenario, steps, min/max members, failed writes, longest outage, time, verdict. */
export function summaryTable(results: ScenarioResult[]): string {
    const header = ["scenario", "updates", "steps", "members min/max", "failed writes", "longest outage", "time", "verdict"];
    const rows = results.map((r) => [
        r.name,
        String(r.updates),
        String(r.steps),
        `${r.minMembers}/${r.maxMembers}`,
        String(r.failedWrites),
        `${r.longestOutageMs} ms`,
        `${(r.elapsedMs / 1000).toFixed(1)} s`,
        r.verdict === "fail" && r.knownSeam ? "fail (known seam)" : r.verdict,
    ]);
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
    const line = (cells: string[]) =>
        cells
            .map((cell, column) => cell.padEnd(widths[column]))
            .join("  ")
            .trimEnd();
    return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
