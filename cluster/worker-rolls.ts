// WorkerRolls: the day-2 half of the worker node groups. zCompute has launch configurations
// but no instance refresh, so a new launch configuration alone changes nothing on running
// nodes. Per group, a remote Command on control-plane node 0 (through the bastion) runs
// roll-node-group.sh whenever the group's roll fingerprint changes: surge, wait Ready, drain,
// terminate with decrement, one batch at a time. The groups roll one after the other, after
// the add-ons (new kubelets join an upgraded control plane with upgraded add-ons), and a final
// health gate validates the whole cluster at the end of every `pulumi up`.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { NodeGroupConfig } from "../model";
import { shellSingleQuote } from "./node-env";
import { nodeGroupAsgName } from "./node-groups";
import { scriptForStdin } from "./stdin-scripts";

/** Per group: how many nodes above / below the desired capacity, and the drain budget. */
export interface RollSettings {
    maxSurge: number;
    maxUnavailable: number;
    drainTimeoutSeconds: number;
}

export const DEFAULT_ROLL_SETTINGS: RollSettings = { maxSurge: 1, maxUnavailable: 0, drainTimeoutSeconds: 600 };
/** A new node boots, joins and turns Ready (image pull, CNI) within this. */
export const NODE_READY_TIMEOUT_SECONDS = 900;
/** A terminated instance leaves its group within this. */
export const TERMINATE_TIMEOUT_SECONDS = 600;
/** drain-node.sh gives a hung kubectl this much beyond the drain timeout (`timeout_s + 30`). */
export const DRAIN_CLIENT_MARGIN_SECONDS = 30;
export const HEALTH_TIMEOUT_SECONDS = 600;
export const ROLL_POLL_INTERVAL_SECONDS = 5;
export const ROLL_LOG_FILE = "/var/log/zadara-eksd-rolls.log";
export const HEALTH_LOG_FILE = "/var/log/zadara-eksd-health.log";

export const ROLL_SCRIPTS = ["drain-node.sh", "roll-node-group.sh"];
export const HEALTH_SCRIPTS = ["health-gate.sh"];

export interface WorkerRollGroup extends RollSettings {
    asgName: pulumi.Input<string>;
    /**
     * What the group's instances are built from (EksdCluster.workerRollFingerprints): the roll
     * replaces instances when it changes.
     */
    fingerprint: pulumi.Input<string>;
    /** Minor of the kubelets the new instances run ("1.31"): the roll waits for no older API server. */
    kubeletMinor?: string;
}

export interface WorkerRollsArgs {
    environment: string;
    /** SSH to control-plane node 0 through the bastion (nodeConnection). */
    connection: command.types.input.remote.ConnectionArgs;
    groups: Record<string, WorkerRollGroup>;
    /** zCompute API base URL as the nodes see it; default: the node's metadata. */
    cloudApiUrl?: pulumi.Input<string>;
    /** Skip TLS verification of the cloud API; default: the node's node.env. */
    cloudApiInsecure?: boolean;
    nodeReadyTimeoutSeconds?: number;
    terminateTimeoutSeconds?: number;
    healthTimeoutSeconds?: number;
    /** Namespaces whose pods the health gate requires Running (kube-system always). */
    healthNamespaces?: string[];
    /**
     * Trigger of the health gate. Default: a new value per program run, so the gate runs at the
     * end of every `pulumi up` (it shows as an update in every preview). Fix it for stable plans.
     */
    healthGateRunId?: string;
    /** The add-ons (and through them the nodes): every roll runs after them. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** A node group as the config describes it, with the roll settings it may carry. */
export type RollableNodeGroup = NodeGroupConfig & Partial<RollSettings>;

/** WorkerRolls groups from the config's node groups (settings default to 1 / 0 / 600 s). */
export function workerRollGroups(
    environment: string,
    groups: Record<string, RollableNodeGroup>,
    kubernetesVersion: string,
    fingerprints: Record<string, pulumi.Input<string>>,
): Record<string, WorkerRollGroup> {
    const result: Record<string, WorkerRollGroup> = {};
    for (const [name, group] of Object.entries(groups)) {
        const fingerprint = fingerprints[name] as pulumi.Input<string> | undefined;
        if (fingerprint === undefined) {
            throw new Error(`WorkerRolls: no roll fingerprint for node group ${name}`);
        }
        result[name] = {
            asgName: nodeGroupAsgName(environment, name),
            fingerprint,
            kubeletMinor: /^v?(\d+\.\d+)\./.exec(kubernetesVersion)?.[1],
            maxSurge: group.maxSurge ?? DEFAULT_ROLL_SETTINGS.maxSurge,
            maxUnavailable: group.maxUnavailable ?? DEFAULT_ROLL_SETTINGS.maxUnavailable,
            drainTimeoutSeconds: group.drainTimeoutSeconds ?? DEFAULT_ROLL_SETTINGS.drainTimeoutSeconds,
        };
    }
    return result;
}

/** `sudo -n env K='v' ... bash -s`: settings on the command line (sshd passes few variables), script on stdin. */
export function stdinScriptCommand(settings: Record<string, string | undefined>): string {
    const assignments = Object.entries(settings)
        .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
        .map(([key, value]) => {
            if (!/^[A-Z][A-Z0-9_]*$/.test(key)) {
                throw new Error(`"${key}" is not a shell variable name`);
            }
            return `${key}=${shellSingleQuote(value)}`;
        });
    return ["sudo -n env", ...assignments, "bash -s"].join(" ");
}

function validateGroup(name: string, group: WorkerRollGroup): void {
    const whole = (label: string, value: number, min: number) => {
        if (!Number.isInteger(value) || value < min) {
            throw new Error(`WorkerRolls: nodeGroups.${name}.${label} must be a whole number >= ${min}, got ${value}`);
        }
    };
    whole("maxSurge", group.maxSurge, 0);
    whole("maxUnavailable", group.maxUnavailable, 0);
    whole("drainTimeoutSeconds", group.drainTimeoutSeconds, 1);
    if (group.maxSurge + group.maxUnavailable < 1) {
        throw new Error(`WorkerRolls: nodeGroups.${name}: maxSurge and maxUnavailable are both 0, so no node could ever be replaced. Fix: maxSurge 1`);
    }
}

export class WorkerRolls extends pulumi.ComponentResource {
    /** The roll Command of each group, in the order they run. */
    readonly rolls: Record<string, command.remote.Command> = {};
    readonly healthGate: command.remote.Command;

    constructor(name: string, args: WorkerRollsArgs, opts?: pulumi.ComponentResourceOptions) {
        const groupNames = Object.keys(args.groups).sort();
        for (const groupName of groupNames) {
            validateGroup(groupName, args.groups[groupName]);
        }
        super("zadara:eksd:WorkerRolls", name, {}, opts);
        const env = args.environment;
        const rollScript = scriptForStdin(ROLL_SCRIPTS);
        const cloud = {
            CLOUD_API_INSECURE: args.cloudApiInsecure === undefined ? undefined : String(args.cloudApiInsecure),
        };

        const runId = args.healthGateRunId ?? new Date().toISOString();
        // One group after the other: one drain at a time in the cluster, as kops does.
        let previous: pulumi.Resource[] = [];
        for (const groupName of groupNames) {
            const group = args.groups[groupName];
            const create = pulumi.all([group.asgName, args.cloudApiUrl, group.fingerprint]).apply(([asgName, cloudApiUrl, fingerprint]) =>
                stdinScriptCommand({
                    ASG_NAME: asgName,
                    ROLL_FINGERPRINT: fingerprint,
                    KUBELET_MINOR: group.kubeletMinor,
                    MAX_SURGE: String(group.maxSurge),
                    MAX_UNAVAILABLE: String(group.maxUnavailable),
                    DRAIN_TIMEOUT: String(group.drainTimeoutSeconds),
                    NODE_READY_TIMEOUT: String(args.nodeReadyTimeoutSeconds ?? NODE_READY_TIMEOUT_SECONDS),
                    TERMINATE_TIMEOUT: String(args.terminateTimeoutSeconds ?? TERMINATE_TIMEOUT_SECONDS),
                    POLL_INTERVAL: String(ROLL_POLL_INTERVAL_SECONDS),
                    LOG_FILE: ROLL_LOG_FILE,
                    CLOUD_API_URL: cloudApiUrl,
                    ...cloud,
                }),
            );
            const roll = new command.remote.Command(
                `${env}-${groupName}-roll`,
                {
                    connection: args.connection,
                    // Create and update are the roll; it finds the old instances itself, and a re-run
                    // for a fingerprint already rolled does nothing.
                    create,
                    update: create,
                    stdin: rollScript,
                    // The fingerprint, and every `up`: a roll that waited for old API servers to
                    // leave (an upgrade) goes on in the next run; a finished one is a no-op.
                    triggers: [group.fingerprint, runId],
                    addPreviousOutputInEnv: false,
                },
                { parent: this, dependsOn: [...args.dependsOn, ...previous] },
            );
            this.rolls[groupName] = roll;
            previous = [roll];
        }

        const namespaces = [...new Set(["kube-system", ...(args.healthNamespaces ?? [])])];
        const healthCommand = stdinScriptCommand({
            HEALTH_TIMEOUT: String(args.healthTimeoutSeconds ?? HEALTH_TIMEOUT_SECONDS),
            POLL_INTERVAL: String(ROLL_POLL_INTERVAL_SECONDS),
            HEALTH_NAMESPACES: namespaces.join(" "),
            LOG_FILE: HEALTH_LOG_FILE,
        });
        this.healthGate = new command.remote.Command(
            `${env}-health`,
            {
                connection: args.connection,
                create: healthCommand,
                update: healthCommand,
                stdin: scriptForStdin(HEALTH_SCRIPTS),
                triggers: [runId],
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: [...args.dependsOn, ...Object.values(this.rolls)] },
        );

        this.registerOutputs({ rolls: Object.fromEntries(groupNames.map((g) => [g, this.rolls[g].stdout])), health: this.healthGate.stdout });
    }
}
