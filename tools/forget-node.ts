// A control-plane node whose instance is lost for good (a host failure; termination protection
// keeps every other path from removing a member's instance without its leave) still has its
// Commands in the state, each with a stored delete that runs node-leave.sh over SSH on that
// instance. Pulumi runs those deletes with the stored inputs, so the next `pulumi up` would dial
// an address nobody answers until the dial limit and fail. This rewrites a `pulumi stack export`
// without the node's resources (its instance, attachment and Commands) and without every
// reference to them, so the next `pulumi up` builds the node anew (docs/operations.md, "Replace a
// lost node"). Offline: it reads and writes files only.
//
//   pulumi stack export --file state.json
//   npm run forget-node -- --state state.json --node dev-master-sa-2 --instance-gone i-0abc --out fixed.json
//   pulumi stack import --file fixed.json
import * as fs from "node:fs";
import { ArgCursor, UsageError } from "./cli-args";

const USAGE = `usage: npm run forget-node -- --state <stack export> --node <env>-master-sa-<n> --instance-gone <instance id> --out <file>

Writes a copy of a \`pulumi stack export\` without the control-plane node's instance, its API
target attachment and its Commands (bootstrap, membership, retire, host key), and without any
reference to them, for \`pulumi stack import\`. Only for an instance that is gone for good:
--instance-gone must name the instance id the state records for that node (the state is left
unchanged otherwise). Take its etcd member out first (etcd-membership.sh leave on a healthy node,
or let the watchdog do it).`;

/** Suffixes of the resources that belong to one control-plane node (cluster/control-plane.ts, cluster/host-keys.ts). */
export const NODE_RESOURCE_SUFFIXES = ["", "-api", "-bootstrap", "-membership", "-retire-replaced", "-host-key"];

interface StateResource {
    urn: string;
    id?: string;
    type: string;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
    deletedWith?: string;
    parent?: string;
    [key: string]: unknown;
}

interface StackExport {
    version: number;
    deployment: { resources?: StateResource[]; pending_operations?: Array<{ resource: StateResource }>; [key: string]: unknown };
    [key: string]: unknown;
}

const INSTANCE_TYPE = "aws:ec2/instance:Instance";

function nameOf(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** The export without `node`'s resources and every reference to them; throws on a mismatch. */
export function forgetNode(exported: StackExport, node: string, instanceGone: string): { state: StackExport; removed: string[] } {
    if (!/^[a-z0-9-]+-master-sa-\d+$/.test(node)) {
        throw new UsageError(`--node ${node}: expected a control-plane node name such as dev-master-sa-2`);
    }
    const resources = exported.deployment.resources ?? [];
    const owned = new Set(NODE_RESOURCE_SUFFIXES.map((suffix) => `${node}${suffix}`));
    const doomed = resources.filter((r) => owned.has(nameOf(r.urn)));
    if (doomed.length === 0) {
        throw new UsageError(`the state holds no resource of ${node}`);
    }
    const recorded = doomed.filter((r) => r.type === INSTANCE_TYPE && nameOf(r.urn) === node).map((r) => r.id);
    if (recorded.length > 0 && !recorded.includes(instanceGone)) {
        throw new UsageError(`--instance-gone ${instanceGone}: the state records ${recorded.join(", ")} for ${node}; name the instance that is gone`);
    }
    const gone = new Set(doomed.map((r) => r.urn));
    const keep = (urns: string[] | undefined) => (urns ?? []).filter((urn) => !gone.has(urn));
    const scrub = (r: StateResource): StateResource => {
        const copy: StateResource = { ...r, dependencies: keep(r.dependencies) };
        if (r.propertyDependencies) {
            copy.propertyDependencies = Object.fromEntries(Object.entries(r.propertyDependencies).map(([key, urns]) => [key, keep(urns)]));
        }
        if (r.deletedWith !== undefined && gone.has(r.deletedWith)) {
            delete copy.deletedWith;
        }
        return copy;
    };
    const state: StackExport = {
        ...exported,
        deployment: {
            ...exported.deployment,
            resources: resources.filter((r) => !gone.has(r.urn)).map(scrub),
            ...(exported.deployment.pending_operations
                ? { pending_operations: exported.deployment.pending_operations.filter((op) => !gone.has(op.resource.urn)) }
                : {}),
        },
    };
    for (const r of state.deployment.resources ?? []) {
        if (r.parent !== undefined && gone.has(r.parent)) {
            throw new UsageError(`${r.urn} is a child of a resource of ${node}: not touching this state`);
        }
    }
    return { state, removed: doomed.map((r) => r.urn) };
}

function main(argv: string[]): number {
    const cursor = new ArgCursor(argv);
    let stateFile: string | undefined;
    let node: string | undefined;
    let instanceGone: string | undefined;
    let out: string | undefined;
    try {
        for (let arg = cursor.nextArg(); arg !== undefined; arg = cursor.nextArg()) {
            if (arg === "--help" || arg === "-h") {
                console.log(USAGE);
                return 0;
            } else if (arg === "--state") {
                stateFile = cursor.value(arg);
            } else if (arg === "--node") {
                node = cursor.value(arg);
            } else if (arg === "--instance-gone") {
                instanceGone = cursor.value(arg);
            } else if (arg === "--out") {
                out = cursor.value(arg);
            } else {
                throw new UsageError(`unknown argument "${arg}"`);
            }
        }
        if (!stateFile || !node || !instanceGone || !out) {
            throw new UsageError("--state, --node, --instance-gone and --out are all needed");
        }
        let exported: StackExport;
        try {
            exported = JSON.parse(fs.readFileSync(stateFile, "utf8")) as StackExport;
        } catch (error) {
            throw new UsageError(
                `--state ${stateFile}: not a readable stack export (${(error as Error).message}); write one with: pulumi stack export --file ${stateFile}`,
            );
        }
        if (typeof exported !== "object" || exported === null || typeof exported.deployment !== "object") {
            throw new UsageError(`--state ${stateFile}: no "deployment" object; write one with: pulumi stack export --file ${stateFile}`);
        }
        const { state, removed } = forgetNode(exported, node, instanceGone);
        fs.writeFileSync(out, `${JSON.stringify(state, null, 4)}\n`);
        console.log(`removed ${removed.length} resource(s) of ${node} from the state:\n${removed.map((urn) => `  ${urn}`).join("\n")}`);
        console.log(`next: pulumi stack import --file ${out} && pulumi up (a new instance joins as ${node})`);
        return 0;
    } catch (error) {
        if (error instanceof UsageError) {
            console.error(`forget-node: ${error.message}\n\n${USAGE}`);
            return 2;
        }
        throw error;
    }
}

if (require.main === module) {
    process.exitCode = main(process.argv.slice(2));
}
