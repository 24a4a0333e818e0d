// The stack's previous state, read back from its own last outputs: what the running cluster was
// built with. Day-2 decisions need it (init or join for node 0, which config changes are safe),
// and a program only sees its new configuration, never the old one.
import * as pulumi from "@pulumi/pulumi";

/** Name of the stack output that carries the lifecycle state. */
export const LIFECYCLE_OUTPUT = "lifecycle";

/** A compared setting: a config value as the program used it. */
export type LifecycleValue = string | number | boolean;

/** A control-plane instance the last update left in the cluster. */
export interface LifecycleNode {
    instanceId: string;
    privateIp: string;
    /** `<ssh user>@<key pair name>` it was started with: the only login it accepts. */
    sshAccess?: string;
    /**
     * Its SSH host key (`<type> <base64>`), read from its console: the next update's retire step
     * pins it. Absent in states of older versions and with `sshHostKeys: unpinned`.
     */
    hostKey?: string;
}

/** What the stack exports as `lifecycle` after a successful `pulumi up`. */
export interface LifecycleState {
    /** The cluster was created (node 0 ran `kubeadm init` and passed its gate). */
    initialized: true;
    /** Compared settings, keyed by config key name (see cluster/change-policy.ts). */
    settings: Record<string, LifecycleValue>;
    /**
     * The control-plane instances, keyed by node name (`<env>-master-sa-<n>`): a replaced node
     * is retired right after its successor passed its gate. Absent in states of older versions.
     */
    controlPlaneNodes?: Record<string, LifecycleNode>;
}

/** `<organization>/<project>/<stack>`: the stack this program runs for. */
export function selfStackName(): string {
    return `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

/** Accepts only a well-formed state; anything else (first run, older program) reads as none. */
export function parseLifecycleState(value: unknown): LifecycleState | undefined {
    if (typeof value !== "object" || value === null) {
        return undefined;
    }
    const candidate = value as Record<string, unknown>;
    if (candidate.initialized !== true || typeof candidate.settings !== "object" || candidate.settings === null) {
        return undefined;
    }
    const settings: Record<string, LifecycleValue> = {};
    for (const [key, item] of Object.entries(candidate.settings as Record<string, unknown>)) {
        if (typeof item === "string" || typeof item === "number" || typeof item === "boolean") {
            settings[key] = item;
        }
    }
    const nodes = parseLifecycleNodes(candidate.controlPlaneNodes);
    return nodes === undefined ? { initialized: true, settings } : { initialized: true, settings, controlPlaneNodes: nodes };
}

/** Only entries with a string instance id and private IP; anything else reads as no record. */
function parseLifecycleNodes(value: unknown): Record<string, LifecycleNode> | undefined {
    if (typeof value !== "object" || value === null) {
        return undefined;
    }
    const nodes: Record<string, LifecycleNode> = {};
    for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
        const node = item as Record<string, unknown> | null;
        if (typeof node === "object" && node !== null && typeof node.instanceId === "string" && typeof node.privateIp === "string") {
            nodes[name] = { instanceId: node.instanceId, privateIp: node.privateIp };
            if (typeof node.sshAccess === "string") {
                nodes[name].sshAccess = node.sshAccess;
            }
            if (typeof node.hostKey === "string" && node.hostKey !== "") {
                nodes[name].hostKey = node.hostKey;
            }
        }
    }
    return nodes;
}

/** Where the last good state is, and how to check it before anything changes. */
const RESTORE_STATE =
    "Safe path: restore the stack's last good state (pulumi stack history; pulumi stack export --version <n> --file good.json; " +
    "pulumi stack import --file good.json), check it offline (pulumi stack output --json --show-secrets > previous.json; " +
    "npm run plan -- --stack <stack> --previous previous.json), then run pulumi preview again.";

/**
 * Why the previous outputs cannot be trusted, or undefined. Outputs are written only by a
 * successful update, so any output means the cluster was built: without a readable `lifecycle`
 * record it would be planned as a new cluster (node 1 with `kubeadm init`, no day-2 refusal).
 * No output at all is a stack whose first `up` has not succeeded yet: a new cluster.
 */
export function previousStateProblem(outputNames: string[], lifecycle: unknown): string | undefined {
    if (outputNames.length === 0) {
        return undefined;
    }
    const why =
        lifecycle === undefined || lifecycle === null
            ? `has no \`${LIFECYCLE_OUTPUT}\` output`
            : parseLifecycleState(lifecycle) === undefined
              ? `has an unreadable \`${LIFECYCLE_OUTPUT}\` output (not { initialized: true, settings: {...} })`
              : undefined;
    if (why === undefined) {
        return undefined;
    }
    return (
        `zadara-eksd: the stack's previous state ${why}, but it has outputs (${outputNames.join(", ")}) of a successful update: ` +
        `the cluster runs, and without the record it would be planned as a new one (node 1 with kubeadm init, every day-2 check skipped). ` +
        RESTORE_STATE
    );
}

/** Stack outputs that listed the control-plane instances, in node order, before `lifecycle` recorded them. */
export const INSTANCE_ID_OUTPUT = "controlPlaneInstanceIds";
export const PRIVATE_IP_OUTPUT = "controlPlanePrivateIps";

/**
 * A state written by an earlier version has no `controlPlaneNodes`: they are taken from the
 * stack's instance-id and private-IP outputs (node i = `nodeNameOf(i)`), so that version's
 * replaced nodes are retired early too. The login they accept is not known: assumed unchanged.
 */
export function withListedNodes(
    state: LifecycleState | undefined,
    instanceIds: unknown,
    privateIps: unknown,
    nodeNameOf: (index: number) => string,
): LifecycleState | undefined {
    if (state === undefined || state.controlPlaneNodes !== undefined || !Array.isArray(instanceIds) || !Array.isArray(privateIps)) {
        return state;
    }
    const nodes: Record<string, LifecycleNode> = {};
    instanceIds.forEach((instanceId, index) => {
        const privateIp: unknown = privateIps[index];
        if (typeof instanceId === "string" && typeof privateIp === "string") {
            nodes[nodeNameOf(index)] = { instanceId, privateIp };
        }
    });
    return { ...state, controlPlaneNodes: nodes };
}

/**
 * Stack output (a Pulumi secret) with the private key of the login the control-plane nodes
 * accept, keyed by that login (`<ssh user>@<key pair name>`, as `LifecycleNode.sshAccess`): after
 * a key-pair or user change the next update still reaches the replaced nodes (their retire step)
 * with the previous login, so a login change is add one, remove one like any other roll.
 */
export const NODE_LOGIN_KEYS_OUTPUT = "nodeLoginKeys";

/** Only string values: anything else reads as no recorded key. */
export function parseLoginKeys(value: unknown): Record<string, string> {
    if (typeof value !== "object" || value === null) {
        return {};
    }
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/** What the last successful update of this stack left for the next one. */
export interface PreviousState {
    /** The checked-later lifecycle record (plain: it holds no secret). */
    lifecycle: pulumi.Output<LifecycleState | undefined>;
    /** Private keys of the recorded logins (secret). */
    loginKeys: pulumi.Output<Record<string, string>>;
}

/**
 * Reads the previous outputs through a StackReference to this very stack. The reference is read
 * during preview too, so refusals based on it fail the preview. On the first `up` the stack has
 * no outputs: no lifecycle, no keys. `nodeNameOf` names control-plane node i for states of
 * earlier versions (withListedNodes).
 */
export function readPreviousState(nodeNameOf: (index: number) => string, opts?: pulumi.CustomResourceOptions): PreviousState {
    const self = new pulumi.StackReference("lifecycle-previous-state", { name: selfStackName() }, opts);
    // Only the names of the outputs (some are secret): whether an update ever succeeded.
    const outputNames = pulumi.unsecret(self.outputs.apply((outputs) => Object.keys(outputs)));
    const lifecycle = pulumi
        .all([
            outputNames,
            pulumi.unsecret(self.getOutput(LIFECYCLE_OUTPUT)),
            pulumi.unsecret(self.getOutput(INSTANCE_ID_OUTPUT)),
            pulumi.unsecret(self.getOutput(PRIVATE_IP_OUTPUT)),
        ])
        .apply(([names, lifecycle, instanceIds, privateIps]) => {
            const problem = previousStateProblem(names, lifecycle);
            if (problem !== undefined) {
                throw new pulumi.RunError(problem);
            }
            return withListedNodes(parseLifecycleState(lifecycle), instanceIds, privateIps, nodeNameOf);
        });
    const loginKeys = pulumi.secret(self.getOutput(NODE_LOGIN_KEYS_OUTPUT).apply(parseLoginKeys));
    return { lifecycle, loginKeys };
}
