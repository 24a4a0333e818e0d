// ClusterCleanup: makes `pulumi destroy` leave nothing behind in the cloud.
//
// Load balancers, target groups, security groups, EBS volumes and snapshots created by the
// in-cluster controllers are not in the Pulumi state, and they block the deletion of subnets
// and security groups. This component holds a LOCAL Command whose DELETE step runs the typed
// cleanup (tools/cleanup.ts, the same code as `npm run cleanup`) where Pulumi runs: no SSH, no
// node needed. Because the Command depends on the add-on releases and the nodes, Pulumi deletes
// it first (dependents go before their dependencies), i.e. while the controllers still run.
//
// A Command's delete runs with the inputs stored at the last successful `up` (pulumi-command;
// see docs/cleanup.md), on whatever machine runs `destroy`. So nothing in it is tied to the
// machine that ran `up`: no absolute folder (the command runs relative to the folder Pulumi
// runs in, and says so when that is not the project), and the stored kubeconfig and keys are
// only fallbacks under their own names: the CLI prefers what the destroying shell exports.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export const DEFAULT_CLEANUP_TIMEOUT_SECONDS = 600;
/** The stored fallbacks the CLI reads (tools/cleanup.ts); the destroying shell's own values win. */
export const CLEANUP_KUBECONFIG_ENV = "ZADARA_EKSD_CLEANUP_STORED_KUBECONFIG";
export const CLEANUP_ACCESS_KEY_ENV = "ZADARA_EKSD_CLEANUP_STORED_AWS_ACCESS_KEY_ID";
export const CLEANUP_SECRET_KEY_ENV = "ZADARA_EKSD_CLEANUP_STORED_AWS_SECRET_ACCESS_KEY";
/** Run first: a destroy started outside the project folder fails with this, not with a node error. */
const PROJECT_FOLDER_CHECK =
    "test -f tools/cleanup.ts || { echo 'cloud cleanup: run pulumi destroy from the zadara-eksd project folder (tools/cleanup.ts not found here)' >&2; exit 2; }";

export interface ClusterCleanupArgs {
    /** Kubernetes cluster name: the value the controllers put in their cluster tags. */
    clusterName: string;
    /** The Pulumi stack (the CLI reads the rest of its config from Pulumi.<stack>.yaml). */
    stack: string;
    /** zCompute API base URL as Pulumi reaches it (from config), e.g. https://cloud.example.com. */
    cloudApiUrl: pulumi.Input<string>;
    /** Credentials for the cloud API: secrets, passed in the command's environment. */
    accessKey?: pulumi.Input<string>;
    secretKey?: pulumi.Input<string>;
    /** Admin kubeconfig (secret): the Kubernetes side. */
    kubeconfig: pulumi.Input<string>;
    /** The stack's own load balancers (API NLB): never deleted. */
    keepLoadBalancerArns: pulumi.Input<string>[];
    /** The stack's own security groups: never deleted. */
    keepSecurityGroupIds: pulumi.Input<string>[];
    /** The stack's own target groups. */
    keepTargetGroupArns?: pulumi.Input<string>[];
    /** Seconds the delete step has for everything (default 600). */
    timeoutSeconds?: number;
    /** Seconds the controllers get before leftovers are deleted directly (CLI default 120). */
    gracePeriodSeconds?: number;
    /** The add-on releases and node resources: the cleanup runs before any of them is deleted. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
}

function shellQuote(value: string): string {
    return `'${value.replace(/'/g, "'\\''")}'`;
}

/** The delete step: `node --import tsx tools/cleanup.ts ...`, settings as arguments. */
export function cleanupDeleteCommand(settings: {
    stack: string;
    clusterName: string;
    endpointUrl: string;
    timeoutSeconds: number;
    graceSeconds?: number;
    keep: string[];
}): string {
    const args = [
        "node",
        "--import",
        "tsx",
        "tools/cleanup.ts",
        "--stack",
        settings.stack,
        "--config",
        `environment=${settings.clusterName}`,
        "--endpoint-url",
        settings.endpointUrl,
        "--timeout",
        String(settings.timeoutSeconds),
        ...(settings.graceSeconds !== undefined ? ["--grace", String(settings.graceSeconds)] : []),
        ...settings.keep.filter(Boolean).flatMap((id) => ["--keep", id]),
    ];
    return `${PROJECT_FOLDER_CHECK} && ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shellQuote(a))).join(" ")}`;
}

export class ClusterCleanup extends pulumi.ComponentResource {
    /** The local command; it does nothing until destroy. */
    public readonly command: command.local.Command;

    constructor(name: string, args: ClusterCleanupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zadara:eksd:ClusterCleanup", name, {}, opts);

        if (!/^[a-z][a-z0-9-]*$/.test(args.clusterName)) {
            throw new Error(`ClusterCleanup: clusterName "${args.clusterName}" must use lowercase letters, digits and '-'`);
        }
        const timeout = args.timeoutSeconds ?? DEFAULT_CLEANUP_TIMEOUT_SECONDS;
        for (const [label, value] of [
            ["timeoutSeconds", timeout],
            ["gracePeriodSeconds", args.gracePeriodSeconds],
        ] as const) {
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
            .apply(([lbs, sgs, tgs, endpointUrl]) =>
                cleanupDeleteCommand({
                    stack: args.stack,
                    clusterName: args.clusterName,
                    endpointUrl,
                    timeoutSeconds: timeout,
                    graceSeconds: args.gracePeriodSeconds,
                    keep: [...lbs, ...tgs, ...sgs],
                }),
            );

        // Secrets ride in the environment, never on the command line (which Pulumi shows).
        const environment: Record<string, pulumi.Input<string>> = { [CLEANUP_KUBECONFIG_ENV]: pulumi.secret(args.kubeconfig) };
        if (args.accessKey !== undefined && args.secretKey !== undefined) {
            environment[CLEANUP_ACCESS_KEY_ENV] = pulumi.secret(args.accessKey);
            environment[CLEANUP_SECRET_KEY_ENV] = pulumi.secret(args.secretKey);
        }

        this.command = new command.local.Command(
            `${name}-cloud-cleanup`,
            {
                // Nothing to do on create/update: the work is the delete step.
                create: "echo 'cloud cleanup armed: runs on pulumi destroy'",
                delete: deleteCommand,
                environment,
                // No `triggers`: a change there REPLACES the command, and replacing runs this delete
                // step against the live cluster.
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: args.dependsOn },
        );

        this.registerOutputs({ stdout: this.command.stdout });
    }
}
