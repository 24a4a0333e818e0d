// Checks a zCompute cloud against every assumption the program makes and against what the
// stack needs, before the first `pulumi up` (docs/doctor.md).
//
//   npm run doctor -- --stack <name> [--config key=value]... [--endpoint-url <base url>]
//       [--deep] [--subnet-id <id>] [--deep-timeout <seconds>] [--json] [--record]
//
// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, as `npm run cleanup` takes them.
// Exit codes: 0 nothing the stack needs fails, 1 something it needs fails (or --deep left
// something behind), 2 bad input (nothing was called).
import { systemClock } from "../cleanup/types";
import { loadStackConfig } from "../config";
import { DeepProbe, DEFAULT_DEEP_TIMEOUT_SECONDS } from "../doctor/deep";
import { DoctorCloud } from "../doctor/cloud";
import { doctorRecord, writeDoctorRecord } from "./doctor-record";
import { formatJson, formatTable } from "../doctor/report";
import { exitCodeOf, runChecks } from "../doctor/run";
import type { StackModel } from "../model";
import { ArgCursor, CommandIo, readStackTargetFlag, UsageError, usageFailure } from "./cli-args";
import { parseCleanupArguments, resolveTarget } from "./cleanup";
import { Override, REPO_ROOT, resolveStackConfig } from "./stack-config";

export const USAGE =
    "usage: npm run doctor -- --stack <name> [--config key=value]... [--endpoint-url <base url>] " +
    "[--deep] [--subnet-id <id>] [--deep-timeout <seconds>] [--json] [--record]";

export interface DoctorCliOptions {
    stack: string;
    overrides: Override[];
    endpointUrl?: string;
    deep: boolean;
    subnetId?: string;
    deepTimeoutSeconds: number;
    json: boolean;
    record: boolean;
    help: boolean;
}

export function parseDoctorArguments(argv: string[]): DoctorCliOptions {
    const o: DoctorCliOptions = {
        stack: "",
        overrides: [],
        deep: false,
        deepTimeoutSeconds: DEFAULT_DEEP_TIMEOUT_SECONDS,
        json: false,
        record: false,
        help: false,
    };
    const cursor = new ArgCursor(argv);
    for (let arg = cursor.nextArg(); arg !== undefined; arg = cursor.nextArg()) {
        const next = () => cursor.value(arg);
        if (readStackTargetFlag(arg, cursor, o)) {
            continue;
        }
        switch (arg) {
            case "--help":
            case "-h":
                o.help = true;
                break;
            case "--deep":
                o.deep = true;
                break;
            case "--subnet-id":
                o.subnetId = next();
                break;
            case "--deep-timeout": {
                const text = next();
                if (!/^\d+$/.test(text) || Number(text) < 1) {
                    throw new UsageError(`--deep-timeout must be a whole number of seconds, got "${text}"`);
                }
                o.deepTimeoutSeconds = Number(text);
                break;
            }
            case "--json":
                o.json = true;
                break;
            case "--record":
                o.record = true;
                break;
            default:
                throw new UsageError(`unknown argument "${arg}"`);
        }
    }
    if (!o.help && !o.stack) {
        throw new UsageError("--stack <name> is required (the stack whose config says what to check)");
    }
    return o;
}

/** `out` gets the table or JSON; the record is written to `root` too. */
export interface DoctorDependencies extends CommandIo {
    /** Aborted on Ctrl-C: the --deep probe then removes what it created. */
    signal?: AbortSignal;
    now?: () => Date;
}

/** The stack model the checks read, loaded exactly as the cleanup loads it (same overrides, same endpoint stand-in). */
function stackModel(o: DoctorCliOptions, env: NodeJS.ProcessEnv, root: string, baseUrl: string): StackModel {
    const input = resolveStackConfig(o.stack, o.overrides, { root });
    const endpointKey = "zadara-eksd:apiEndpoint";
    if (input.values[endpointKey] === undefined) {
        input.values[endpointKey] = new URL(baseUrl).host;
    }
    // The doctor checks what exists in the cloud: a placeholder image or key pair fails its own
    // row with the key to set, instead of stopping every check.
    return loadStackConfig({ stack: input.stack, values: input.values, secretKeys: input.secretKeys, env, placeholders: "allow" });
}

export async function runDoctorCli(argv: string[], deps: DoctorDependencies): Promise<number> {
    const root = deps.root ?? REPO_ROOT;
    let options: DoctorCliOptions;
    let stack: StackModel;
    let target;
    try {
        options = parseDoctorArguments(argv);
        if (options.help) {
            deps.out(USAGE);
            return 0;
        }
        // The cleanup's resolution: credentials from the environment, endpoint, CA and insecure from the stack.
        const cleanupArgs = ["--stack", options.stack, ...options.overrides.flatMap((o) => ["--config", `${o.key}=${o.value}`])];
        target = resolveTarget({ ...parseCleanupArguments(cleanupArgs), endpointUrl: options.endpointUrl }, deps.env, root);
        stack = stackModel(options, deps.env, root, target.baseUrl);
    } catch (error) {
        return usageFailure(error, deps.err, USAGE);
    }
    const cloud = new DoctorCloud({
        baseUrl: target.baseUrl,
        accessKeyId: target.accessKeyId,
        secretAccessKey: target.secretAccessKey,
        insecure: target.insecure,
        caCert: target.caCert,
    });
    try {
        let deep;
        if (options.deep) {
            deps.err(`--deep: starting one ${stack.bastion.instanceType} instance of ${stack.cluster.controlPlane.amiId}; it is removed when the doctor ends`);
            deep = await new DeepProbe({
                stack,
                cloud,
                clock: deps.clock,
                signal: deps.signal ?? new AbortController().signal,
                timeoutSeconds: options.deepTimeoutSeconds,
                subnetId: options.subnetId,
                log: (message) => deps.err(`[deep] ${message}`),
            }).run();
            if (deep.leftovers.length > 0) {
                deps.err(`--deep left ${deep.leftovers.join(", ")} behind (tag zadara-eksd-doctor=${stack.environment}): remove by hand`);
            }
        }
        const rows = await runChecks(stack, cloud, deps.env, deep);
        if (options.json) {
            deps.out(formatJson({ stack: stack.stack, endpoint: target.baseUrl, deep: options.deep, rows, leftovers: deep?.leftovers ?? [] }));
        } else {
            formatTable(rows).forEach((line) => deps.out(line));
        }
        if (options.record) {
            const file = writeDoctorRecord(root, doctorRecord(stack.stack, target.baseUrl, options.deep, rows, (deps.now ?? (() => new Date()))()));
            deps.err(`recorded in ${file}: commit it beside Pulumi.${stack.stack}.yaml`);
        }
        const leftover = (deep?.leftovers.length ?? 0) > 0 ? 1 : 0;
        return Math.max(exitCodeOf(rows), leftover);
    } finally {
        cloud.destroy();
    }
}

if (require.main === module) {
    const controller = new AbortController();
    let interrupts = 0;
    process.on("SIGINT", () => {
        interrupts += 1;
        if (interrupts > 1) {
            process.exit(130);
        }
        process.stderr.write("[doctor] interrupted: removing what --deep created (Ctrl-C again to leave it)\n");
        controller.abort();
    });
    runDoctorCli(process.argv.slice(2), {
        env: process.env,
        clock: systemClock,
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`[doctor] ${line}\n`),
        signal: controller.signal,
    }).then(
        (code) => process.exit(controller.signal.aborted ? 130 : code),
        (error: unknown) => {
            console.error(`doctor failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
            process.exit(1);
        },
    );
}
