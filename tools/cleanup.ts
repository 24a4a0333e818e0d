// Removes what the in-cluster controllers created in the cloud (load balancers, target groups,
// their security groups, EBS volumes and snapshots, leftover interfaces), so a destroy can
// delete the network. `pulumi destroy` runs this same command first (addons/cleanup.ts).
//
//   npm run cleanup -- --stack <name> [--config key=value]... [--endpoint-url <base url>]
//       [--kubeconfig <file>] [--dry-run] [--timeout <seconds>] [--keep <id>]...
//
// Exit codes: 0 nothing of the cluster remains, 1 something remains (or, with --dry-run,
// would be deleted, or the cloud could not be listed), 2 bad input (nothing was called),
// 3 stopped: the Kubernetes API or the cloud refused the credentials, or the endpoint does not
// resolve (nothing more was deleted; Retain data is never swept on a refusal).
import * as fs from "node:fs";
import { CloudApi } from "../cleanup/cloud";
import { KubeClient, KUBE_CALL_TIMEOUT_MS } from "../cleanup/kube-client";
import { Cleanup, DEFAULT_GRACE_SECONDS, DEFAULT_POLL_SECONDS, DEFAULT_TIMEOUT_SECONDS } from "../cleanup/sweep";
import { Clock, consoleLogger, Logger, systemClock } from "../cleanup/types";
import { ConfigValidationError, loadStackConfig } from "../config";
import { ArgCursor, readStackTargetFlag, UsageError } from "./cli-args";
import { Override, resolveStackConfig } from "./stack-config";

export const USAGE =
    "usage: npm run cleanup -- --stack <name> [--config key=value]... [--endpoint-url <base url>] " +
    "[--kubeconfig <file>] [--dry-run] [--timeout <seconds>] [--grace <seconds>] [--keep <arn|name|id>]...";
/** Kubeconfig TEXT given where the cleanup runs (e.g. a fresh admin kubeconfig before `pulumi destroy`). */
export const KUBECONFIG_ENV = "ZADARA_EKSD_CLEANUP_KUBECONFIG";
/**
 * What the last `pulumi up` stored in the destroy step's environment (addons/cleanup.ts): used
 * only when the machine running the cleanup supplies nothing newer, because a stored
 * credential may have expired or been rotated since.
 */
export const STORED_KUBECONFIG_ENV = "ZADARA_EKSD_CLEANUP_STORED_KUBECONFIG";
export const STORED_ACCESS_KEY_ENV = "ZADARA_EKSD_CLEANUP_STORED_AWS_ACCESS_KEY_ID";
export const STORED_SECRET_KEY_ENV = "ZADARA_EKSD_CLEANUP_STORED_AWS_SECRET_ACCESS_KEY";
/** The example stacks' endpoint: never a real cloud. */
const PLACEHOLDER_ENDPOINT = /(^|\.)example\.(com|org|net)$/i;

export const HELP = `usage: npm run cleanup -- --stack <name> [options]

Removes what the in-cluster controllers created in the cloud (load balancers, target groups,
their security groups, EBS volumes and snapshots), so \`pulumi destroy\` can delete the network.
Details: docs/cleanup.md.

  --stack, -s <name>        the stack (its Pulumi.<name>.yaml gives the cluster name and endpoint)
  --config, -c key=value    override a stack setting (as \`pulumi config set\`)
  --endpoint-url <url>      the zCompute API base URL (replaces apiEndpoint)
  --kubeconfig <file>       admin kubeconfig: the Kubernetes side runs first (else $${KUBECONFIG_ENV})
  --dry-run                 list what would be deleted; delete nothing
  --timeout <seconds>       deadline for the whole run, Kubernetes side included (default ${DEFAULT_TIMEOUT_SECONDS})
  --grace <seconds>         most the running controllers get to remove their own resources (default ${DEFAULT_GRACE_SECONDS})
  --keep <arn|name|id>      never delete this resource (repeatable, comma-separated)
  --help, -h                this text

Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the shell that runs it.
Exit codes: 0 nothing of the cluster remains; 1 something remains (or would be deleted, or the
cloud could not be listed); 2 bad input, nothing called; 3 stopped on a refused credential or an
endpoint that does not resolve.`;

export { UsageError };

/** \`--help\` was asked for: print the help, do nothing else. */
export class HelpRequested extends Error {}

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
    const cursor = new ArgCursor(argv);
    for (let arg = cursor.nextArg(); arg !== undefined; arg = cursor.nextArg()) {
        const next = () => cursor.value(arg);
        if (readStackTargetFlag(arg, cursor, o)) {
            continue;
        }
        switch (arg) {
            case "--help":
            case "-h":
                throw new HelpRequested();
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
    /** Where the credentials and the kubeconfig came from, for the log. */
    sources: string[];
}

/** The cloud keys: the running shell's first, the ones stored at the last `up` only as a fallback. */
function cloudCredentials(env: NodeJS.ProcessEnv): { accessKeyId: string; secretAccessKey: string; source: string } {
    const accessKeyId = env.AWS_ACCESS_KEY_ID ?? "";
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? "";
    if (accessKeyId && secretAccessKey) {
        return { accessKeyId, secretAccessKey, source: "cloud keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" };
    }
    const storedId = env[STORED_ACCESS_KEY_ENV] ?? "";
    const storedSecret = env[STORED_SECRET_KEY_ENV] ?? "";
    if (!accessKeyId && !secretAccessKey && storedId && storedSecret) {
        return {
            accessKeyId: storedId,
            secretAccessKey: storedSecret,
            source: "cloud keys stored at the last `pulumi up` (export AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY to use newer ones)",
        };
    }
    throw new UsageError(
        `no cloud credentials: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (missing: ${[!accessKeyId && "AWS_ACCESS_KEY_ID", !secretAccessKey && "AWS_SECRET_ACCESS_KEY"].filter(Boolean).join(", ")})`,
    );
}

/** Everything checked before the first call: credentials, cluster name, endpoint, kubeconfig. */
export function resolveTarget(o: CleanupCliOptions, env: NodeJS.ProcessEnv, root?: string): ResolvedTarget {
    const { accessKeyId, secretAccessKey, source } = cloudCredentials(env);
    const sources = [source];
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
        // Only the cluster name and the endpoint are used: the endpoint's placeholder is checked below.
        config = loadStackConfig({ stack: input.stack, values: input.values, secretKeys: input.secretKeys, env, placeholders: "allow" });
    } catch (error) {
        if (error instanceof ConfigValidationError) {
            throw new UsageError(
                `cannot resolve the cluster name of stack "${o.stack}" (its config is invalid; fix it or pass --config key=value):\n${error.message}`,
            );
        }
        throw error;
    }
    const baseUrl = (o.endpointUrl ?? config.cloud.apiUrl).replace(/\/+$/, "");
    if (PLACEHOLDER_ENDPOINT.test(new URL(baseUrl).hostname)) {
        throw new UsageError(
            `the cloud endpoint ${baseUrl} is the example's placeholder (${o.endpointUrl !== undefined ? "--endpoint-url" : `${endpointKey} of stack "${o.stack}"`}), not a cloud. ` +
                "Fix: pulumi config set apiEndpoint <your zCompute API host>, or pass --endpoint-url https://<zCompute API host>",
        );
    }
    let kubeconfig: string | undefined;
    if (o.kubeconfig !== undefined) {
        try {
            kubeconfig = fs.readFileSync(o.kubeconfig, "utf8");
        } catch (error) {
            throw new UsageError(`cannot read --kubeconfig ${o.kubeconfig}: ${(error as Error).message}`);
        }
        sources.push(`kubeconfig from ${o.kubeconfig}`);
    } else if (env[KUBECONFIG_ENV]) {
        kubeconfig = env[KUBECONFIG_ENV];
        sources.push(`kubeconfig from ${KUBECONFIG_ENV}`);
    } else if (env[STORED_KUBECONFIG_ENV]) {
        kubeconfig = env[STORED_KUBECONFIG_ENV];
        sources.push(`the admin kubeconfig stored at the last \`pulumi up\` (export ${KUBECONFIG_ENV} to use a newer one)`);
    }
    return {
        sources,
        cluster: config.environment,
        baseUrl,
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
        if (error instanceof HelpRequested) {
            deps.log.result(HELP);
            return { code: 0, apiCalls: 0 };
        }
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
    for (const source of target.sources) {
        deps.log.info(`using ${source}`);
    }
    try {
        // Each Kubernetes call gets what is left of the deadline (at most its own 15 s).
        const kube = target.kubeconfig
            ? await KubeClient.fromKubeconfig(target.kubeconfig, () => Math.min(KUBE_CALL_TIMEOUT_MS, deadline - deps.clock.now()))
            : undefined;
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
        return { code: result.stopped !== undefined ? 3 : result.clean ? 0 : 1, apiCalls: result.apiCalls };
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
