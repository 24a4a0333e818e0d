// Runs every check in a fixed order and turns each into a row; a check that throws answers
// "cannot-tell" with the error, so one broken API never hides the other rows.
import type { StackModel } from "../model";
import { CLOUD_CHECKS } from "./checks-cloud";
import { STACK_CHECKS } from "./checks-stack";
import type { DoctorCloud } from "./cloud";
import type { DeepProbeResult } from "./deep";
import type { DoctorCheck, DoctorRow } from "./types";

export const ALL_CHECKS: DoctorCheck[] = [...CLOUD_CHECKS, ...STACK_CHECKS];

export async function runChecks(
    stack: StackModel,
    cloud: DoctorCloud,
    env: NodeJS.ProcessEnv,
    deep?: DeepProbeResult,
    checks = ALL_CHECKS,
): Promise<DoctorRow[]> {
    const rows: DoctorRow[] = [];
    for (const check of checks) {
        const row = { id: check.id, assumption: check.assumption, configKey: check.configKey, needed: check.needed(stack), docs: check.docs };
        try {
            rows.push({ ...row, ...(await check.run({ stack, cloud, deep, env })) });
        } catch (error) {
            rows.push({
                ...row,
                status: "cannot-tell",
                detail: `the check's call failed: ${error instanceof Error ? error.message : String(error)}`,
                programAction: "unknown until the call answers",
            });
        }
    }
    return rows;
}

/** Exit code of the doctor: 1 when a check this stack needs fails, else 0. */
export function exitCodeOf(rows: DoctorRow[]): number {
    return rows.some((r) => r.needed && r.status === "fails") ? 1 : 0;
}
