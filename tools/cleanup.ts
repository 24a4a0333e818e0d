// Removes what the in-cluster controllers created in the cloud (load balancers, target groups,
// their security groups, EBS volumes and snapshots, leftover interfaces), so a destroy can
// delete the network. `pulumi destroy` runs this same command first (addons/cleanup.ts).
//
//   npm run cleanup -- --stack <name> [--config key=value]... [--endpoint-url <base url>]
//       [--kubeconfig <file>] [--dry-run] [--timeout <seconds>] [--keep <id>]...
//
// Exit codes: 0 nothing of the cluster remains, 1 something remains (or, with --dry-run,
// would be deleted), 2 bad input (nothing was called).
import * as fs from "node:fs";
import { CloudApi } from "../cleanup/cloud";
import { KubeClient } from "../cleanup/kube-client";
import { Cleanup, DEFAULT_GRACE_SECONDS, DEFAULT_POLL_SECONDS, DEFAULT_TIMEOUT_SECONDS } from "../cleanup/sweep";
import { Clock, consoleLogger, Logger, systemClock } from "../cleanup/types";
import { ConfigValidationError, loadStackConfig } from "../config";
import { Override, parseOverride, resolveStackConfig } from "./stack-config";

export const USAGE =
    "usage: npm run cleanup -- --stack <name> [--config key=value]... [--endpoint-url <base url>] " +
    "[--kubeconfig <file>] [--dry-run] [--timeout <seconds>] [--grace <seconds>] [--keep <arn|name|id>]...";
/** Environment variable with the kubeconfig TEXT (how `pulumi destroy` passes it, as a secret). */
export const KUBECONFIG_ENV = "ZADARA_EKSD_CLEANUP_KUBECONFIG";

export class UsageError extends Error {}

export interface CleanupCliOptions {
    stack?: string;
    overrides: Override[];
    endpointUrl?: string;
    kubeconfig?: string;
    dryRun: boolean;
    timeoutSeconds: number;
    graceSeconds: number;
    pollSeconds: number;
    keep: string[];
}

function seconds(flag: string, text: string): number {
    if (!/^\d+(\.\d+)?$/.test(text)) {
        throw new UsageError(`${flag} must be a number of seconds, got "${text}"`);
    }
    return Number(text);
}

export function parseCleanupArguments(argv: string[]): CleanupCliOptions {
    const o: CleanupCliOptions = {
        overrides: [],
        dryRun: false,
        keep: [],
        timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
        graceSeconds: DEFAULT_GRACE_SECONDS,
        pollSeconds: DEFAULT_POLL_SECONDS,
    };
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
            case "--stack":
            case "-s":
                o.stack = next();
                break;
            case "--config":
            case "-c":
                try {
                    o.overrides.push(parseOverride(next(), false));
                } catch (error) {
                    throw new UsageError(`--config: ${(error as Error).message}`);
                }
                break;
            case "--endpoint-url":
                o.endpointUrl = next();
                break;
            case "--kubeconfig":
                o.kubeconfig = next();
                break;
            case "--dry-run":
                o.dryRun = true;
                break;
            case "--timeout":
                o.timeoutSeconds = seconds(arg, next());
                break;
            case "--grace":
                o.graceSeconds = seconds(arg, next());
                break;
            case "--poll":
                o.pollSeconds = seconds(arg, next());
                break;
            case "--keep":
                o.keep.push(
                    ...next()
                        .split(/[\s,]+/)
                        .filter(Boolean),
                );
                break;
            default:
                throw new UsageError(`unknown argument "${arg}"`);
        }
    }
    if (!o.stack) {
        throw new UsageError("--stack <name> is required (the stack whose cluster is cleaned up)");
    }
    return o;
}

export interface ResolvedTarget {
    cluster: string;
    baseUrl: string;
    insecure: boolean;
    caCert?: string;
    accessKeyId: string;
    secretAccessKey: string;
    kubeconfig?: string;
}

/** Everything checked before the first call: credentials, cluster name, endpoint, kubeconfig. */
export function resolveTarget(o: CleanupCliOptions, env: NodeJS.ProcessEnv, root?: string): ResolvedTarget {
    const accessKeyId = env.AWS_ACCESS_KEY_ID ?? "";
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? "";
    if (!accessKeyId || !secretAccessKey) {
        throw new UsageError(
            `no cloud credentials: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (missing: ${[!accessKeyId && "AWS_ACCESS_KEY_ID", !secretAccessKey && "AWS_SECRET_ACCESS_KEY"].filter(Boolean).join(", ")})`,
        );
    }
    if (o.endpointUrl !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(o.endpointUrl)) {
        throw new UsageError(`--endpoint-url must be an http(s) URL such as https://cloud.example.com, got "${o.endpointUrl}"`);
    }
    const stack = o.stack;
    if (stack === undefined) {
        // parseCleanupArgs requires --stack; resolveTarget is exported, so say so again here.
        throw new UsageError("--stack <name> is required (the stack whose cluster is cleaned up)");
    }
    const overrides = [...o.overrides];
    let input;
    try {
        input = resolveStackConfig(stack, overrides, { root });
    } catch (error) {
        throw new UsageError(`cannot read stack "${o.stack}": ${(error as Error).message}`);
    }
    const endpointKey = "zadara-eksd:apiEndpoint";
    if (input.values[endpointKey] === undefined) {
        if (o.endpointUrl === undefined) {
            throw new UsageError(
                `no cloud endpoint: stack "${o.stack}" sets no apiEndpoint; pass --endpoint-url https://<zCompute API host> or --config apiEndpoint=<host>`,
            );
        }
        // The URL given replaces it anyway; the stand-in only lets the rest of the config validate.
        input.values[endpointKey] = "endpoint-from-command-line.invalid";
    }
    let config;
    try {
        config = loadStackConfig({ stack: input.stack, values: input.values, secretKeys: input.secretKeys, env });
    } catch (error) {
        if (error instanceof ConfigValidationError) {
            throw new UsageError(
                `cannot resolve the cluster name of stack "${o.stack}" (its config is invalid; fix it or pass --config key=value):\n${error.message}`,
            );
        }
        throw error;
    }
    let kubeconfig: string | undefined;
    if (o.kubeconfig !== undefined) {
        try {
            kubeconfig = fs.readFileSync(o.kubeconfig, "utf8");
        } catch (error) {
            throw new UsageError(`cannot read --kubeconfig ${o.kubeconfig}: ${(error as Error).message}`);
        }
    } else if (env[KUBECONFIG_ENV]) {
        kubeconfig = env[KUBECONFIG_ENV];
    }
    return {
        cluster: config.environment,
        baseUrl: (o.endpointUrl ?? config.cloud.apiUrl).replace(/\/+$/, ""),
        insecure: config.cloud.insecure,
        caCert: config.cloud.rootCaCert,
        accessKeyId,
        secretAccessKey,
        kubeconfig,
    };
}

export interface RunDependencies {
    env: NodeJS.ProcessEnv;
    clock: Clock;
    log: Logger;
    /** Stack files' folder (tests). */
    root?: string;
}

/** The whole command; returns the exit code. */
export async function runCleanupCli(argv: string[], deps: RunDependencies): Promise<{ code: number; apiCalls: number }> {
    let target: ResolvedTarget;
    let options: CleanupCliOptions;
    try {
        options = parseCleanupArguments(argv);
        target = resolveTarget(options, deps.env, deps.root);
    } catch (error) {
        if (error instanceof UsageError) {
            deps.log.info(`error: ${error.message}`);
            deps.log.info(USAGE);
            return { code: 2, apiCalls: 0 };
        }
        throw error;
    }
    const deadline = deps.clock.now() + options.timeoutSeconds * 1000;
    const cloud = new CloudApi(
        {
            baseUrl: target.baseUrl,
            accessKeyId: target.accessKeyId,
            secretAccessKey: target.secretAccessKey,
            insecure: target.insecure,
            caCert: target.caCert,
        },
        () => Math.min(30_000, deadline - deps.clock.now()),
    );
    try {
        const kube = target.kubeconfig ? await KubeClient.fromKubeconfig(target.kubeconfig) : undefined;
        const result = await new Cleanup({
            cluster: target.cluster,
            cloud,
            kube,
            keep: { loadBalancers: options.keep, targetGroups: options.keep, securityGroups: options.keep, volumes: options.keep },
            dryRun: options.dryRun,
            timeoutMs: options.timeoutSeconds * 1000,
            graceMs: options.graceSeconds * 1000,
            pollMs: options.pollSeconds * 1000,
            clock: deps.clock,
            log: deps.log,
            baseUrl: target.baseUrl,
            insecure: target.insecure,
        }).run();
        return { code: result.clean ? 0 : 1, apiCalls: result.apiCalls };
    } finally {
        cloud.destroy();
    }
}

if (require.main === module) {
    runCleanupCli(process.argv.slice(2), { env: process.env, clock: systemClock, log: consoleLogger }).then(
        ({ code }) => {
            process.exit(code);
        },
        (error: unknown) => {
            console.error(`cleanup failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
            process.exit(1);
        },
    );
}
