// Proves a stack end to end on a real zCompute through Pulumi's Automation API
// (docs/acceptance.md): doctor → up → validate → day 2 → destroy → cleanup --dry-run → report.
//
//   npm run acceptance -- --stack <name> [--upgrade-to <minor> --upgrade-control-plane-ami <ami>
//       --upgrade-worker-ami <ami>] [--report <file>] [--up-timeout <minutes>]
//
// Without a Pulumi CLI on PATH or without zCompute credentials in the environment it does
// nothing and exits 0 with "skipped: ..." (so CI can always call it). Exit codes: 0 passed or
// skipped, 1 a phase failed, 2 bad input.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { liveClusterChecks, liveWriteProbe } from "../acceptance/cluster-checks";
import { AcceptanceRun, DEFAULT_TIMEOUTS, PhaseTimeouts, UpgradeTarget } from "../acceptance/driver";
import { pulumiStack } from "../acceptance/pulumi-workspace";
import { formatReport } from "../acceptance/report";
import type { AcceptanceClock, AcceptanceDependencies } from "../acceptance/types";
import { systemClock } from "../cleanup/types";
import { SUPPORTED_EKSD_MINORS } from "../cluster/versions";
import { CA_BUNDLE_ENV } from "../infra/provider-ca";
import { stackCaBundle } from "./ca-bundle";
import { usageFailure } from "./cli-args";
import { runCleanupCli, UsageError } from "./cleanup";
import { runDoctorCli } from "./doctor";
import { REPO_ROOT } from "./stack-config";

export const USAGE =
    "usage: npm run acceptance -- --stack <name> [--upgrade-to <minor> --upgrade-control-plane-ami <ami> --upgrade-worker-ami <ami>] " +
    "[--report <file>] [--up-timeout <minutes>]";

export interface AcceptanceCliOptions {
    stack: string;
    upgrade?: UpgradeTarget;
    reportFile?: string;
    timeouts: PhaseTimeouts;
    help: boolean;
}

export function parseAcceptanceArguments(argv: string[]): AcceptanceCliOptions {
    const o: AcceptanceCliOptions = { stack: "", timeouts: { ...DEFAULT_TIMEOUTS }, help: false };
    let minor: string | undefined;
    let controlPlaneAmiId: string | undefined;
    let workerAmiId: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const next = () => {
            const value = argv[++i];
            if (value === undefined) {
                throw new UsageError(`${arg} needs a value`);
            }
            return value;
        };
        switch (arg) {
            case "--help":
            case "-h":
                o.help = true;
                break;
            case "--stack":
            case "-s":
                o.stack = next();
                break;
            case "--upgrade-to":
                minor = next();
                break;
            case "--upgrade-control-plane-ami":
                controlPlaneAmiId = next();
                break;
            case "--upgrade-worker-ami":
                workerAmiId = next();
                break;
            case "--report":
                o.reportFile = next();
                break;
            case "--up-timeout": {
                const text = next();
                if (!/^\d+$/.test(text) || Number(text) < 1) {
                    throw new UsageError(`--up-timeout must be a whole number of minutes, got "${text}"`);
                }
                o.timeouts.up = Number(text);
                break;
            }
            default:
                throw new UsageError(`unknown argument "${arg}"`);
        }
    }
    if (o.help) {
        return o;
    }
    if (!o.stack) {
        throw new UsageError("--stack <name> is required (an existing stack: pulumi stack init <name>)");
    }
    if (minor !== undefined || controlPlaneAmiId !== undefined || workerAmiId !== undefined) {
        if (minor === undefined || controlPlaneAmiId === undefined || workerAmiId === undefined) {
            throw new UsageError(
                "an upgrade needs all three: --upgrade-to <minor> --upgrade-control-plane-ami <ami> --upgrade-worker-ami <ami> (images of that minor)",
            );
        }
        if (!SUPPORTED_EKSD_MINORS.includes(minor)) {
            throw new UsageError(`--upgrade-to ${minor} is not a supported EKS-D minor (${SUPPORTED_EKSD_MINORS.join(", ")})`);
        }
        o.upgrade = { eksdVersion: minor, controlPlaneAmiId, workerAmiId };
    }
    return o;
}

/** What is missing to run against a real cloud; empty when it can run. */
export function missingPrerequisites(env: NodeJS.ProcessEnv, pulumiOnPath: (env: NodeJS.ProcessEnv) => boolean): string[] {
    const missing: string[] = [];
    if (!pulumiOnPath(env)) {
        missing.push("no Pulumi CLI on PATH (install it: https://www.pulumi.com/docs/iac/download-install/)");
    }
    const keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].filter((k) => !env[k]);
    if (keys.length > 0) {
        missing.push(`no zCompute credentials (${keys.join(", ")} not set)`);
    }
    return missing;
}

/** An executable `pulumi` in one of PATH's folders. */
export function pulumiOnPath(env: NodeJS.ProcessEnv): boolean {
    return (env.PATH ?? "")
        .split(path.delimiter)
        .filter(Boolean)
        .some((dir) => {
            try {
                fs.accessSync(path.join(dir, "pulumi"), fs.constants.X_OK);
                return true;
            } catch {
                return false;
            }
        });
}

export const realClock: AcceptanceClock = {
    now: () => Date.now(),
    after(ms) {
        let timer: NodeJS.Timeout | undefined;
        const done = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, ms);
        });
        return { done, cancel: () => clearTimeout(timer) };
    },
};

export interface AcceptanceCliDependencies {
    env: NodeJS.ProcessEnv;
    out: (line: string) => void;
    err: (line: string) => void;
    pulumiOnPath: (env: NodeJS.ProcessEnv) => boolean;
    /** The live dependencies (tests pass fakes). */
    dependencies: (options: AcceptanceCliOptions, log: (line: string) => void) => Promise<AcceptanceDependencies>;
}

export async function runAcceptanceCli(argv: string[], deps: AcceptanceCliDependencies): Promise<number> {
    let options: AcceptanceCliOptions;
    try {
        options = parseAcceptanceArguments(argv);
    } catch (error) {
        return usageFailure(error, deps.err, USAGE);
    }
    if (options.help) {
        deps.out(USAGE);
        return 0;
    }
    const missing = missingPrerequisites(deps.env, deps.pulumiOnPath);
    if (missing.length > 0) {
        deps.out(`skipped: ${missing.join("; ")}`);
        return 0;
    }
    const log = (line: string) => deps.err(line);
    const run = new AcceptanceRun(
        {
            stackName: options.stack,
            upgrade: options.upgrade,
            upgradeSkipReason: "no --upgrade-to <minor> with its images was given",
            timeouts: options.timeouts,
        },
        await deps.dependencies(options, log),
    );
    const report = await run.run();
    formatReport(report).forEach((line) => deps.out(line));
    const file = options.reportFile ?? `acceptance-${options.stack}.json`;
    fs.writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
    deps.err(`report written to ${file}`);
    return report.result === "failed" ? 1 : 0;
}

/** The real thing: Automation API, the doctor and cleanup commands in-process, the live cluster. */
async function liveDependencies(options: AcceptanceCliOptions, log: (line: string) => void, env: NodeJS.ProcessEnv): Promise<AcceptanceDependencies> {
    // The provider trusts what AWS_CA_BUNDLE names: write it from the stack's rootCaCert.
    const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-acceptance-")), "ca-bundle.pem");
    fs.writeFileSync(caFile, stackCaBundle(options.stack, [], env).text);
    const childEnv = { ...env, [CA_BUNDLE_ENV]: caFile };
    const stack = await pulumiStack(options.stack, REPO_ROOT, { [CA_BUNDLE_ENV]: caFile });
    const lines = (prefix: string) => (line: string) => log(`[${prefix}] ${line}`);
    return {
        stack,
        doctor: () => runDoctorCli(["--stack", options.stack], { env: childEnv, clock: systemClock, out: lines("doctor"), err: lines("doctor") }),
        cluster: (outputs) => liveClusterChecks(outputs),
        probe: (outputs) => liveWriteProbe(outputs),
        async cleanupDryRun() {
            const found: string[] = [];
            const { code } = await runCleanupCli(["--stack", options.stack, "--dry-run"], {
                env: childEnv,
                clock: systemClock,
                log: {
                    info: lines("cleanup"),
                    result: (line) => {
                        log(`[cleanup] ${line}`);
                        if (/would delete|remains/.test(line)) {
                            found.push(line);
                        }
                    },
                },
            });
            return { code, found };
        },
        clock: realClock,
        log,
    };
}

if (require.main === module) {
    let interrupted = false;
    process.on("SIGINT", () => {
        if (interrupted) {
            process.exit(130);
        }
        interrupted = true;
        // The Pulumi CLI gets the same Ctrl-C and stops its update; the driver then destroys.
        process.stderr.write("[acceptance] interrupted: the running operation stops, then the stack is destroyed (Ctrl-C again to leave it)\n");
    });
    runAcceptanceCli(process.argv.slice(2), {
        env: process.env,
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`[acceptance] ${line}\n`),
        pulumiOnPath,
        dependencies: (options, log) => liveDependencies(options, log, process.env),
    }).then(
        (code) => process.exit(code),
        (error: unknown) => {
            console.error(`acceptance failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
            process.exit(1);
        },
    );
}
