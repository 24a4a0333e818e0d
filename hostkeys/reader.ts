// Polls an instance's console output (EC2 GetConsoleOutput) until its SSH host-key block has
// appeared, and answers the key to pin. Bounded by a deadline on an injected clock; every
// failure names the instance and what to do.
import * as EC2 from "@aws-sdk/client-ec2";
import { CloudCallError, toCloudError } from "../cleanup/cloud";
import { fatalCloudReason } from "../cleanup/errors";
import type { Clock } from "../cleanup/types";
import { HostKey, joinConsoleReads, parseConsoleHostKeys, preferredHostKey } from "./console";

/** cloud-init prints the keys within minutes of boot; some clouds publish the console late. */
export const DEFAULT_HOST_KEY_TIMEOUT_SECONDS = 900;
export const HOST_KEY_POLL_MS = 10_000;

/** Answers that mean this cloud has no console output API: waiting cannot help. */
const UNSUPPORTED_CODES = new Set(["UnsupportedOperation", "InvalidAction", "NotImplemented", "UnknownOperation", "InvalidRequest"]);

/** What to do when a console cannot give the key. */
export function unpinnedFix(stack = "<stack>"): string {
    return (
        `Fix: check the cloud with \`npm run doctor -- --stack ${stack} --deep\` (row ssh-host-keys-console); ` +
        "where it cannot serve the console, pulumi config set sshHostKeys unpinned (SSH steps then do not verify host keys: docs/security.md#ssh-host-keys)"
    );
}

/** The console text of one instance, decoded; undefined while the cloud has none yet. */
export interface ConsoleSource {
    consoleOutput(instanceId: string): Promise<string | undefined>;
}

/** GetConsoleOutput through the AWS SDK; the API answers base64. */
export class Ec2ConsoleSource implements ConsoleSource {
    constructor(private readonly ec2: Pick<EC2.EC2Client, "send">) {}

    async consoleOutput(instanceId: string): Promise<string | undefined> {
        try {
            const out = await this.ec2.send(new EC2.GetConsoleOutputCommand({ InstanceId: instanceId }));
            return out.Output === undefined || out.Output === "" ? undefined : Buffer.from(out.Output, "base64").toString("utf8");
        } catch (error) {
            throw toCloudError("ec2:GetConsoleOutput", error);
        }
    }
}

/** Reading failed for good: the message says which instance and what to do. */
export class HostKeyReadError extends Error {}

export interface ReadHostKeyArgs {
    instanceId: string;
    source: ConsoleSource;
    clock: Clock;
    timeoutSeconds: number;
    pollMs?: number;
    /** Progress (stderr). */
    log: (message: string) => void;
    /** Named in the fix of an error. */
    stack?: string;
}

function unsupported(error: unknown): boolean {
    return error instanceof CloudCallError && (UNSUPPORTED_CODES.has(error.code) || error.status === 501);
}

/** Polls until a complete host-key block is on the console; returns the preferred key. */
export async function readHostKey(args: ReadHostKeyArgs): Promise<HostKey> {
    const { instanceId, source, clock, log } = args;
    const pollMs = args.pollMs ?? HOST_KEY_POLL_MS;
    const fix = unpinnedFix(args.stack);
    const deadline = clock.now() + args.timeoutSeconds * 1000;
    let text = "";
    let lastError: string | undefined;
    let partial = false;
    for (let attempt = 1; ; attempt++) {
        try {
            const read = await source.consoleOutput(instanceId);
            lastError = undefined;
            if (read !== undefined) {
                text = joinConsoleReads(text, read);
                const found = parseConsoleHostKeys(text);
                if (found.kind === "keys") {
                    const key = preferredHostKey(found.keys);
                    if (key !== undefined) {
                        log(`${instanceId}: pinning its ${key.type} host key (read from its console after ${attempt} call(s))`);
                        return key;
                    }
                }
                if (found.kind === "unusable") {
                    throw new HostKeyReadError(
                        `${instanceId}: ${found.reason}. Check the instance (its console: aws ec2 get-console-output --instance-id ${instanceId}); ` +
                            "replace it if its keys were changed by someone else (pulumi up --replace <its urn>). " +
                            fix,
                    );
                }
                partial = found.kind === "none" && found.partial;
            }
        } catch (error) {
            if (error instanceof HostKeyReadError) {
                throw error;
            }
            const fatal = fatalCloudReason(error);
            if (fatal !== undefined) {
                throw new HostKeyReadError(`${instanceId}: cannot read its console: ${fatal}`);
            }
            if (unsupported(error)) {
                throw new HostKeyReadError(`${instanceId}: the cloud does not serve GetConsoleOutput (${(error as Error).message}). ${fix}`);
            }
            // Not found right after launch, throttling, a dropped connection: try again.
            lastError = error instanceof Error ? error.message : String(error);
        }
        const left = deadline - clock.now();
        if (left <= 0) {
            const seen =
                lastError !== undefined
                    ? `the last call failed: ${lastError}`
                    : text === ""
                      ? "the cloud returned no console output"
                      : `${text.length} characters of console output, ${partial ? "a host-key block that did not end" : "no host-key block"}`;
            throw new HostKeyReadError(
                `${instanceId}: no SSH host-key block on its console after ${args.timeoutSeconds} s (${seen}). ` +
                    "cloud-init prints one at first boot (module keys_to_console, between -----BEGIN SSH HOST KEY KEYS----- and -----END SSH HOST KEY KEYS-----): " +
                    `check that the instance booted and that its image runs cloud-init (aws ec2 get-console-output --instance-id ${instanceId}). ` +
                    fix,
            );
        }
        await clock.sleep(Math.min(pollMs, left));
    }
}
