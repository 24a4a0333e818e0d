// The acceptance report: a table for people, the same as JSON for CI artifacts.
import type { AcceptanceReport } from "./types";

export function formatReport(report: AcceptanceReport): string[] {
    const width = Math.max(...report.phases.map((p) => p.name.length), 5);
    const lines = [
        `acceptance of stack ${report.stack}: ${report.result.toUpperCase()}`,
        `${"PHASE".padEnd(width + 2)}${"STATUS".padEnd(9)}${"TIME".padStart(7)}  DETAIL`,
    ];
    for (const p of report.phases) {
        lines.push(`${p.name.padEnd(width + 2)}${p.status.padEnd(9)}${`${p.seconds}s`.padStart(7)}  ${p.detail}`);
    }
    for (const [change, seconds] of Object.entries(report.writeOutages)) {
        lines.push(`API write outage during ${change}: ${seconds.toFixed(1)} s`);
    }
    lines.push(report.left.length === 0 ? "left behind: nothing" : `left behind: ${report.left.join("; ")}`);
    return lines;
}
