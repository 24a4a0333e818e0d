// Runs the cleanup command in-process with a fake clock and captured output.
import { runCleanupCli } from "../../tools/cleanup";
import type { Clock, Logger } from "../../cleanup/types";
import { CREDENTIALS } from "./moto-seed";

/** Sleeping moves time forward at once: deadlines are exact and tests never wait. */
export class FakeClock implements Clock {
    time = 1_000_000;
    sleeps: number[] = [];
    now(): number {
        return this.time;
    }
    async sleep(ms: number): Promise<void> {
        this.sleeps.push(ms);
        this.time += Math.max(0, ms);
        await new Promise((r) => setImmediate(r));
    }
}

export interface CliRun {
    code: number;
    stdout: string[];
    stderr: string[];
    clock: FakeClock;
    apiCalls: number;
}

export async function runCli(
    args: string[],
    env: NodeJS.ProcessEnv = { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey },
    root?: string,
): Promise<CliRun> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const clock = new FakeClock();
    const log: Logger = { info: (m) => stderr.push(m), result: (l) => stdout.push(l) };
    const { code, apiCalls } = await runCleanupCli(args, { env, clock, log, root });
    return { code, stdout, stderr, clock, apiCalls };
}

export function explain(run: CliRun): string {
    return `exit ${run.code}\n--- stdout ---\n${run.stdout.join("\n")}\n--- stderr ---\n${run.stderr.join("\n")}`;
}
