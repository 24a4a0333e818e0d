// ClusterCleanup: makes `pulumi destroy` leave nothing behind in the cloud.
//
// Load balancers, target groups, security groups and EBS volumes created by the in-cluster
// controllers (LB controller, cloud controller manager, EBS CSI driver) are not in the Pulumi
// state, and they block the deletion of subnets and security groups. This component holds a
// remote Command whose DELETE step runs addons/scripts/cleanup.sh on the first control-plane node.
// Because the Command depends on the add-on releases and the nodes, Pulumi deletes it first
// (dependents go before their dependencies), i.e. while the controllers still run.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { shellSingleQuote } from "../cluster/node-env";
import { ZCOMPUTE_REGION } from "../infra/provider";

export const CLEANUP_SCRIPT_PATH = path.join(__dirname, "scripts", "cleanup.sh");
/** The script text; it travels to the node on the command's stdin. */
export const CLEANUP_SCRIPT = fs.readFileSync(CLEANUP_SCRIPT_PATH, "utf8");

export const DEFAULT_CLEANUP_TIMEOUT_SECONDS = 600;

export interface ClusterCleanupArgs {
    /** Kubernetes cluster name: the value the controllers put in their cluster tags. */
    clusterName: string;
    /** SSH to the first control-plane node, through the bastion (`proxy`). */
    connection: command.types.input.remote.ConnectionArgs;
    /** The stack's own load balancers (API NLB): never deleted, even when tagged for the cluster. */
    keepLoadBalancerArns: pulumi.Input<string>[];
    /** The stack's own security groups: never deleted. */
    keepSecurityGroupIds: pulumi.Input<string>[];
    /** The stack's own target groups (those attached to a kept load balancer are kept anyway). */
    keepTargetGroupArns?: pulumi.Input<string>[];
    /** Seconds the delete step waits for the cloud side to be empty (default 600). */
    timeoutSeconds?: number;
    /** Seconds the controllers get before leftovers are deleted directly (script default 120). */
    gracePeriodSeconds?: number;
    /** Seconds between two polls (script default 5). */
    pollIntervalSeconds?: number;
    /** zCompute API base URL; default: `cluster_url` from the node's instance metadata. */
    cloudApiUrl?: pulumi.Input<string>;
    /** Skip TLS verification of the cloud API; default: what the node's node.env says. */
    cloudApiInsecure?: boolean;
    /** The add-on releases and node resources: the cleanup runs before any of them is deleted. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** `sudo -n env K='v' ... bash -s`: the settings ride on the command line, the script on stdin. */
export function cleanupDeleteCommand(settings: Record<string, string | undefined>): string {
    const assignments = Object.entries(settings)
        .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
        .map(([key, value]) => `${key}=${shellSingleQuote(value)}`);
    return ["sudo -n env", ...assignments, "bash -s"].join(" ");
}

export class ClusterCleanup extends pulumi.ComponentResource {
    /** The remote command; its output is empty until destroy. */
    public readonly command: command.remote.Command;

    constructor(name: string, args: ClusterCleanupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zadara:eksd:ClusterCleanup", name, {}, opts);

        if (!/^[a-z][a-z0-9-]*$/.test(args.clusterName)) {
            throw new Error(`ClusterCleanup: clusterName "${args.clusterName}" must use lowercase letters, digits and '-'`);
        }
        const timeout = args.timeoutSeconds ?? DEFAULT_CLEANUP_TIMEOUT_SECONDS;
        for (const [label, value] of [["timeoutSeconds", timeout], ["gracePeriodSeconds", args.gracePeriodSeconds]] as const) {
            if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
                throw new Error(`ClusterCleanup: ${label} must be a whole number of seconds, got ${value}`);
            }
        }

        const deleteCommand = pulumi
            .all([
                pulumi.all(args.keepLoadBalancerArns),
                pulumi.all(args.keepSecurityGroupIds),
                pulumi.all(args.keepTargetGroupArns ?? []),
                pulumi.output(args.cloudApiUrl),
            ])
            .apply(([lbs, sgs, tgs, apiUrl]) =>
                cleanupDeleteCommand({
                    CLUSTER_NAME: args.clusterName,
                    TIMEOUT: String(timeout),
                    GRACE_PERIOD: args.gracePeriodSeconds?.toString(),
                    POLL_INTERVAL: args.pollIntervalSeconds?.toString(),
                    AWS_REGION: ZCOMPUTE_REGION,
                    KEEP_LOAD_BALANCERS: lbs.join(" "),
                    KEEP_SECURITY_GROUPS: sgs.join(" "),
                    KEEP_TARGET_GROUPS: tgs.join(" "),
                    CLOUD_API_URL: apiUrl,
                    CLOUD_API_INSECURE: args.cloudApiInsecure === undefined ? undefined : String(args.cloudApiInsecure),
                }),
            );

        this.command = new command.remote.Command(`${name}-cloud-cleanup`, {
            connection: args.connection,
            // Nothing to do on create/update: the work is the delete step.
            create: "echo 'cloud cleanup armed: runs on pulumi destroy'",
            delete: deleteCommand,
            // The provider feeds stdin to create, update AND delete; echo ignores it.
            stdin: CLEANUP_SCRIPT,
            // No `environment`: the provider fails the command when the node's sshd does not
            // AcceptEnv them. No `triggers`: a change there REPLACES the command, and replacing
            // runs this delete step against the live cluster.
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: args.dependsOn });

        this.registerOutputs({ stdout: this.command.stdout });
    }
}
