// Pins the SSH host key of every machine the program's SSH steps reach. One local Command per
// instance, `<name>-host-key`, runs tools/host-key.ts where Pulumi runs: it reads the key the
// instance printed to its own console at first boot (cloud-init, keys_to_console), so no host
// private key is ever generated into user data. Its stdout becomes `connection.hostKey` (and
// `connection.proxy.hostKey` for the bastion) of every remote Command that connects there.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { SshHostKeyMode } from "../model";
import { CLEANUP_ACCESS_KEY_ENV, CLEANUP_SECRET_KEY_ENV } from "../addons/cleanup";
import { shellSingleQuote } from "./node-env";

/** Run first: a run started outside the project folder fails with this, not with a node error. */
const PROJECT_FOLDER_CHECK =
    "test -f tools/host-key.ts || { echo 'host key: run pulumi from the zadara-eksd project folder (tools/host-key.ts not found here)' >&2; exit 2; }";

export interface HostKeyReaderArgs {
    mode: SshHostKeyMode;
    /** The Pulumi stack: the tool reads `insecure` and `rootCaCert` from Pulumi.<stack>.yaml. */
    stack: string;
    /** zCompute API base URL as Pulumi reaches it (config), e.g. https://cloud.example.com. */
    cloudApiUrl: pulumi.Input<string>;
    /** Credentials for the cloud API (secrets, in the command's environment; the shell's win). */
    accessKey?: pulumi.Input<string>;
    secretKey?: pulumi.Input<string>;
    /** Seconds the tool waits for the key on the console (its default when unset). */
    timeoutSeconds?: number;
}

/** The create step: `node --import tsx tools/host-key.ts ...`, settings as arguments. */
export function hostKeyReadCommand(settings: { stack: string; endpointUrl: string; instanceId: string; timeoutSeconds?: number }): string {
    const args = [
        "node",
        "--import",
        "tsx",
        "tools/host-key.ts",
        "--stack",
        settings.stack,
        "--endpoint-url",
        settings.endpointUrl,
        "--instance-id",
        settings.instanceId,
        ...(settings.timeoutSeconds !== undefined ? ["--timeout", String(settings.timeoutSeconds)] : []),
    ];
    return `${PROJECT_FOLDER_CHECK} && ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shellSingleQuote(a))).join(" ")}`;
}

/**
 * The update step: the instance is the same (a new one replaces the Command through its
 * trigger), so its key is too: print the stored one instead of reading a console that may have
 * scrolled past the boot. Only a Command without a stored key reads again.
 */
export function hostKeyKeepCommand(create: string): string {
    return `if [ -n "\${PULUMI_COMMAND_STDOUT:-}" ]; then printf '%s\\n' "$PULUMI_COMMAND_STDOUT"; else ${create}; fi`;
}

/** Where the host keys come from, per instance; nothing at all in `unpinned` mode. */
export class HostKeyReader {
    constructor(private readonly args: HostKeyReaderArgs) {}

    get pinned(): boolean {
        return this.args.mode === "console";
    }

    /**
     * `<name>-host-key` for `instanceId`: the key line to pin (public, not secret), or undefined
     * when host keys are not pinned.
     */
    forInstance(name: string, instanceId: pulumi.Output<string>, opts: pulumi.CustomResourceOptions): pulumi.Output<string> | undefined {
        if (!this.pinned) {
            return undefined;
        }
        const create = pulumi
            .all([instanceId, pulumi.output(this.args.cloudApiUrl)])
            .apply(([id, endpointUrl]) =>
                hostKeyReadCommand({ stack: this.args.stack, endpointUrl, instanceId: id, timeoutSeconds: this.args.timeoutSeconds }),
            );
        // Secrets ride in the environment, never on the command line (which Pulumi shows).
        const environment: Record<string, pulumi.Input<string>> = {};
        if (this.args.accessKey !== undefined && this.args.secretKey !== undefined) {
            environment[CLEANUP_ACCESS_KEY_ENV] = pulumi.secret(this.args.accessKey);
            environment[CLEANUP_SECRET_KEY_ENV] = pulumi.secret(this.args.secretKey);
        }
        const reader = new command.local.Command(
            `${name}-host-key`,
            {
                create,
                update: create.apply(hostKeyKeepCommand),
                environment,
                // A new instance is a new key: read it again.
                triggers: [instanceId],
                logging: "stderr",
                addPreviousOutputInEnv: true,
            },
            opts,
        );
        // The credentials in the environment make the engine mark every output secret; a host
        // public key is public (it goes to the `lifecycle` output and the plan as it is).
        return pulumi.unsecret(reader.stdout);
    }
}

/** A node's SSH pins: its own host key and the bastion's (each undefined when not pinned). */
export interface HostKeyPins {
    hostKey?: pulumi.Input<string | undefined>;
    bastionHostKey?: pulumi.Input<string | undefined>;
}
