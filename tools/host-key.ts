// Prints the SSH host key to pin for one instance, read from the instance's own console
// output (hostkeys/). Each `<node>-host-key` local Command of the program runs it
// (cluster/host-keys.ts); its stdout is the `connection.hostKey` of every SSH step to that node.
//
//   npm run host-key -- --stack <name> --instance-id <id> [--config key=value]...
//       [--endpoint-url <base url>] [--timeout <seconds>]
//
// Credentials, endpoint, `insecure` and `rootCaCert` are resolved exactly as `npm run cleanup`
// resolves them (tools/cleanup.ts resolveTarget): the shell's AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY first, the keys stored at the last `pulumi up` as a fallback.
// Exit codes: 0 the key line is on stdout; 1 it could not be read; 2 bad input (nothing called).
import * as EC2 from "@aws-sdk/client-ec2";
import { sdkClientConfig } from "../cleanup/cloud";
import { systemClock } from "../cleanup/types";
import { hostKeyLine } from "../hostkeys/console";
import { ConsoleSource, DEFAULT_HOST_KEY_TIMEOUT_SECONDS, Ec2ConsoleSource, HostKeyReadError, readHostKey } from "../hostkeys/reader";
import { zcomputeServiceUrl } from "../infra/service-url";
import { ArgCursor, CommandIo, readStackTargetFlag, StackTarget, UsageError, usageFailure } from "./cli-args";
import { parseCleanupArguments, resolveTarget } from "./cleanup";

export const USAGE = "usage: npm run host-key -- --stack <name> --instance-id <id> [--config key=value]... [--endpoint-url <base url>] [--timeout <seconds>]";

export const HELP = `${USAGE}

Prints the SSH host public key of one instance (ed25519, else ecdsa, else rsa), read from the
instance's console output, where cloud-init prints it at first boot. \`pulumi up\` runs it once
per instance to pin the host key of every SSH step (docs/security.md#ssh-host-keys).

  --stack, -s <name>        the stack (its Pulumi.<name>.yaml gives the endpoint, insecure, rootCaCert)
  --config, -c key=value    override a stack setting (as \`pulumi config set\`)
  --endpoint-url <url>      the zCompute API base URL (replaces apiEndpoint)
  --instance-id <id>        the instance whose key is printed
  --timeout <seconds>       how long to wait for the key on the console (default ${DEFAULT_HOST_KEY_TIMEOUT_SECONDS})
  --help, -h                this text

Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, as for npm run cleanup.
Exit codes: 0 the key is on stdout; 1 it could not be read; 2 bad input, nothing called.`;

export interface HostKeyCliOptions extends StackTarget {
    instanceId?: string;
    timeoutSeconds: number;
    help: boolean;
}

const INSTANCE_ID = /^i-[0-9a-zA-Z]{1,40}$/;

export function parseHostKeyArguments(argv: string[]): HostKeyCliOptions {
    const o: HostKeyCliOptions = { overrides: [], timeoutSeconds: DEFAULT_HOST_KEY_TIMEOUT_SECONDS, help: false };
    const cursor = new ArgCursor(argv);
    for (let arg = cursor.nextArg(); arg !== undefined; arg = cursor.nextArg()) {
        if (readStackTargetFlag(arg, cursor, o)) {
            continue;
        }
        switch (arg) {
            case "--help":
            case "-h":
                o.help = true;
                break;
            case "--instance-id": {
                const id = cursor.value(arg);
                if (!INSTANCE_ID.test(id)) {
                    throw new UsageError(`--instance-id must be an instance id such as i-0123456789abcdef0, got "${id}"`);
                }
                o.instanceId = id;
                break;
            }
            case "--timeout": {
                const text = cursor.value(arg);
                if (!/^\d+$/.test(text) || Number(text) < 1) {
                    throw new UsageError(`--timeout must be a whole number of seconds, got "${text}"`);
                }
                o.timeoutSeconds = Number(text);
                break;
            }
            default:
                throw new UsageError(`unknown argument "${arg}"`);
        }
    }
    if (!o.help && !o.stack) {
        throw new UsageError("--stack <name> is required (its config says where the cloud is)");
    }
    if (!o.help && !o.instanceId) {
        throw new UsageError("--instance-id <id> is required");
    }
    return o;
}

/** `out` gets the key line. */
export interface HostKeyDependencies extends CommandIo {
    /** Replaces the SDK client (tests). */
    source?: ConsoleSource;
}

export async function runHostKeyCli(argv: string[], deps: HostKeyDependencies): Promise<number> {
    let options: HostKeyCliOptions;
    let target;
    try {
        options = parseHostKeyArguments(argv);
        if (options.help) {
            deps.out(HELP);
            return 0;
        }
        // The cleanup's resolution, as the doctor uses it: one way to find the cloud and its keys.
        const cleanupArgs = ["--stack", options.stack ?? "", ...options.overrides.flatMap((o) => ["--config", `${o.key}=${o.value}`])];
        target = resolveTarget({ ...parseCleanupArguments(cleanupArgs), endpointUrl: options.endpointUrl }, deps.env, deps.root);
    } catch (error) {
        return usageFailure(error, deps.err, USAGE);
    }
    let ec2: EC2.EC2Client | undefined;
    const source =
        deps.source ??
        new Ec2ConsoleSource(
            (ec2 = new EC2.EC2Client({
                ...sdkClientConfig({
                    baseUrl: target.baseUrl,
                    accessKeyId: target.accessKeyId,
                    secretAccessKey: target.secretAccessKey,
                    insecure: target.insecure,
                    caCert: target.caCert,
                }),
                endpoint: zcomputeServiceUrl(target.baseUrl, "ec2"),
            })),
        );
    try {
        const key = await readHostKey({
            instanceId: options.instanceId ?? "",
            source,
            clock: deps.clock,
            timeoutSeconds: options.timeoutSeconds,
            stack: options.stack,
            log: deps.err,
        });
        deps.out(hostKeyLine(key));
        return 0;
    } catch (error) {
        if (error instanceof HostKeyReadError) {
            deps.err(`error: ${error.message}`);
            return 1;
        }
        throw error;
    } finally {
        ec2?.destroy();
    }
}

if (require.main === module) {
    runHostKeyCli(process.argv.slice(2), {
        env: process.env,
        clock: systemClock,
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`[host-key] ${line}\n`),
    }).then(
        (code) => process.exit(code),
        (error: unknown) => {
            console.error(`host-key failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
            process.exit(1);
        },
    );
}
