// ClusterCleanup: makes `pulumi destroy` leave nothing behind in the cloud.
//
// Load balancers, target groups, security groups, EBS volumes and snapshots created by the
// in-cluster controllers are not in the Pulumi state, and they block the deletion of subnets
// and security groups. This component holds a LOCAL Command whose DELETE step runs the typed
// cleanup (tools/cleanup.ts, the same code as `npm run cleanup`) where Pulumi runs: no SSH, no
// node needed. Because the Command depends on the add-on releases and the nodes, Pulumi deletes
// it first (dependents go before their dependencies), i.e. while the controllers still run.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";

export const DEFAULT_CLEANUP_TIMEOUT_SECONDS = 600;
/** The environment variable the CLI reads the kubeconfig text from (tools/cleanup.ts). */
export const CLEANUP_KUBECONFIG_ENV = "ZADARA_EKSD_CLEANUP_KUBECONFIG";
const REPO_ROOT = path.resolve(__dirname, "..");

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
    return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shellQuote(a))).join(" ");
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
            environment.AWS_ACCESS_KEY_ID = pulumi.secret(args.accessKey);
            environment.AWS_SECRET_ACCESS_KEY = pulumi.secret(args.secretKey);
        }

        this.command = new command.local.Command(
            `${name}-cloud-cleanup`,
            {
                // Nothing to do on create/update: the work is the delete step.
                create: "echo 'cloud cleanup armed: runs on pulumi destroy'",
                delete: deleteCommand,
                dir: REPO_ROOT,
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
