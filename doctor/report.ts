// The doctor's answer for people (a table, one block per assumption) and for programs (JSON).
import type { DoctorRow } from "./types";

const LABEL: Record<DoctorRow["status"], string> = { holds: "holds", fails: "FAILS", "cannot-tell": "cannot tell" };

export function formatTable(rows: DoctorRow[]): string[] {
    const idWidth = Math.max(...rows.map((r) => r.id.length), 5);
    const lines = [`${"STATUS".padEnd(12)}${"CHECK".padEnd(idWidth + 2)}NEEDED  ASSUMPTION`];
    for (const r of rows) {
        lines.push(`${LABEL[r.status].padEnd(12)}${r.id.padEnd(idWidth + 2)}${(r.needed ? "yes" : "no").padEnd(8)}${r.assumption}`);
        const indent = " ".repeat(12 + idWidth + 2);
        lines.push(`${indent}evidence: ${r.detail}`);
        lines.push(`${indent}program:  ${r.programAction}`);
        lines.push(`${indent}config:   ${r.configKey}   (${r.docs})`);
    }
    lines.push(summary(rows));
    return lines;
}

export function summary(rows: DoctorRow[]): string {
    const count = (status: DoctorRow["status"]) => rows.filter((r) => r.status === status).length;
    const neededFails = rows.filter((r) => r.needed && r.status === "fails").map((r) => r.id);
    return (
        `${count("holds")} hold, ${count("fails")} fail, ${count("cannot-tell")} cannot tell` +
        (neededFails.length ? `; needed and failing: ${neededFails.join(", ")}` : "; nothing this stack needs fails")
    );
}

export interface DoctorJson {
    stack: string;
    endpoint: string;
    deep: boolean;
    rows: DoctorRow[];
    /** Removal of the --deep probe: ids left behind (empty when clean). */
    leftovers: string[];
}

export function formatJson(report: DoctorJson): string {
    return JSON.stringify(report, null, 2);
}
