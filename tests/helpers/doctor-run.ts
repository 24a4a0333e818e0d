// Runs `npm run doctor -- --json` in-process against a proxied moto and reads its rows: what the
// read-only and the --deep doctor tests share.
import assert from "node:assert/strict";
import type { DoctorRow } from "../../doctor/types";
import { runDoctorCli } from "../../tools/doctor";
import { FakeClock } from "./cleanup-run";
import { CREDENTIALS } from "./moto-seed";

/** The doctor's environment: the emulator's keys, nothing else of the host. */
export const DOCTOR_ENV = { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, PATH: "/usr/bin:/bin" };

export interface DoctorRun {
    code: number;
    rows: Map<string, DoctorRow>;
    err: string[];
}

/** The dev stack's doctor against `endpointUrl`, with `args` after `--json`, rows by id. */
export async function runDoctorJson(endpointUrl: string, args: string[], signal?: AbortSignal): Promise<DoctorRun> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDoctorCli(["--stack", "dev", "--endpoint-url", endpointUrl, "--json", ...args], {
        env: DOCTOR_ENV,
        clock: new FakeClock(),
        out: (l) => out.push(l),
        err: (l) => err.push(l),
        signal,
    });
    const rows = new Map<string, DoctorRow>();
    for (const row of out.length > 0 ? (JSON.parse(out.join("\n")) as { rows: DoctorRow[] }).rows : []) {
        rows.set(row.id, row);
    }
    return { code, rows, err };
}

/** "<status>: <detail>" of one row; fails with the run's errors when the row is missing. */
export function rowStatus(run: DoctorRun, id: string): string {
    const row = run.rows.get(id);
    assert.ok(row, `no row ${id}; errors: ${run.err.join("\n")}`);
    return `${row.status}: ${row.detail}`;
}
