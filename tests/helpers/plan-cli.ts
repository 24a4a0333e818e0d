// Runs the offline plan CLI in its own process (the Pulumi runtime is process-global, so one
// program run per process, exactly as `npm run plan` does).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PlanDocument } from "../../tools/plan";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface PlanRun {
    code: number;
    stdout: string;
    stderr: string;
    plan?: PlanDocument;
    /** The JSON file's raw text (for leak checks). */
    json?: string;
}

export function runPlan(args: string[], env: Record<string, string> = {}): PlanRun {
    const jsonFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-plan-")), "plan.json");
    const result = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "tools", "plan.ts"), ...args, "--json", jsonFile], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", ...env },
    });
    const json = fs.existsSync(jsonFile) ? fs.readFileSync(jsonFile, "utf8") : undefined;
    fs.rmSync(path.dirname(jsonFile), { recursive: true, force: true });
    return {
        code: result.status ?? -1,
        stdout: result.stdout,
        stderr: result.stderr,
        json,
        plan: json ? (JSON.parse(json) as PlanDocument) : undefined,
    };
}
