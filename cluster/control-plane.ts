// Control-plane nodes and their place behind the API load balancer, as one dependency chain:
// node i = instance -> target-group attachment -> `<node>-bootstrap` Command (create: init or
// join + health gate; delete: node-leave.sh) -> `<node>-membership` Command (replaced
// delete-before-replace with the instance: its delete is the replaced instance's leave) ->
// `<node>-retire-replaced` Command (node-leave.sh on the instance the last successful update
// recorded, for states without a membership step), and node i+1 depends on node i's retire step. Pulumi therefore replaces nodes one at a time, each old node leaving right after
// its successor joined, and deletes removed nodes one at a time in reverse order, each after its
// etcd member left (docs/lifecycle.md has the full sequence).
// Only standalone nodes: a node an ASG starts on its own could neither receive the secrets nor
// keep that order, so config and the component refuse `controlPlaneMode: asg`.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { clusterTagKey, resourceTags, Tags } from "../infra/tags";
import { API_PORT } from "./api-endpoint";
import { HostKeyReader } from "./host-keys";
import { nodeConnection, NodeSshArgs } from "./kubeconfig";
import { LifecycleNode, NODE_LOGIN_KEYS_OUTPUT } from "./lifecycle-state";
import { shellSingleQuote } from "./node-env";
import { scriptForStdin } from "./stdin-scripts";

export type ControlPlaneMode = "standalone" | "asg";

/** Instance metadata: session tokens required, one hop (no pod can reach it through NAT). */
export function metadataOptions(requireMetadataTokens: boolean): aws.types.input.ec2.InstanceMetadataOptions | undefined {
    return requireMetadataTokens ? { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 } : undefined;
}

export interface ControlPlaneArgs {
    environment: string;
    tags: Tags;
    provider: aws.Provider;
    parent: pulumi.Resource;
    vpcId: pulumi.Input<string>;
    privateSubnetId: pulumi.Input<string>;
    clusterSecurityGroupId: pulumi.Input<string>;
    apiLoadBalancerArn: pulumi.Input<string>;
    count: number;
    mode: ControlPlaneMode;
    instanceType: string;
    volumeSize: number;
    amiId: string;
    instanceProfileName: pulumi.Input<string>;
    keyName: string;
    nameSuffix: pulumi.Input<string>;
    /** Instance metadata options (token required, one hop) where the cloud supports them. */
    requireMetadataTokens: boolean;
    /** How standalone nodes boot. */
    boot: ControlPlaneNodeBoot;
    /** SSH through the bastion to the nodes (bootstrap, leave, add-on upgrade). */
    ssh: NodeSshSettings;
    /** Reads each node's SSH host key from its console (`<node>-host-key`), or pins nothing. */
    hostKeys: HostKeyReader;
    /** From the previous state; rejects (fails the preview) when a change is refused. */
    decision: pulumi.Output<LifecycleDecision>;
    /** Private keys of the previous logins, by login (secret; previous state `nodeLoginKeys`). */
    previousLoginKeys?: pulumi.Input<Record<string, string>>;
    /** Exact Kubernetes tag: the add-on upgrade step re-runs when it changes. */
    kubernetesVersion: string;
    /** kubeadm InitConfiguration + ClusterConfiguration of this release (secret). */
    kubeadmInitConfig: pulumi.Input<string>;
    drainTimeoutSeconds?: number;
    /** IAM resources the nodes need before they boot. */
    dependsOn: pulumi.Resource[];
}

/** The node that runs `kubeadm init` and publishes the kubeconfig. */
export interface FirstControlPlaneNode {
    id: pulumi.Output<string>;
    privateIp: pulumi.Output<string>;
    /** Its SSH host key; undefined when host keys are not pinned. */
    hostKey?: pulumi.Output<string>;
}

export const CONTROL_PLANE_COOLDOWN_SECONDS = 180;

/**
 * Former names of control-plane resources, keyed by the current name with `{env}` for the
 * environment and `{n}` for the node number (e.g. `{env}-master-sa-{n}-bootstrap`); values use
 * the same placeholders. Each becomes an alias, so a rename keeps the resource. Without one, a
 * URN change is a create plus a delete at the end of the update, and the old bootstrap Command's
 * delete would run node-leave.sh on a live node. No control-plane resource was renamed or
 * re-parented so far; tests/control-plane-urns.test.ts fails when a recorded URN disappears
 * without an alias here.
 */
export const CONTROL_PLANE_FORMER_NAMES: Record<string, string[]> = {};

/** The aliases of control-plane resource `name` (node number `nodeNumber` where it has one). */
export function controlPlaneAliases(
    environment: string,
    name: string,
    nodeNumber?: number,
    formerNames: Record<string, string[]> = CONTROL_PLANE_FORMER_NAMES,
): pulumi.Alias[] {
    const fill = (template: string) =>
        template
            .split("{env}")
            .join(environment)
            .split("{n}")
            .join(String(nodeNumber ?? ""));
    const key = Object.keys(formerNames).find((template) => fill(template) === name);
    return key === undefined ? [] : formerNames[key].map((former) => ({ name: fill(former) }));
}

export function standaloneNodeName(environment: string, index: number): string {
    return `${environment}-master-sa-${index + 1}`;
}

export function controlPlaneAsgName(environment: string): string {
    return `${environment}-master`;
}

/** Tags of control-plane instances (the reference's set). */
export function controlPlaneTags(environment: string, name: string, extra: Tags): Tags {
    return {
        ...resourceTags(environment, name, extra),
        "kubernetes.io/role": "master",
        [clusterTagKey(environment)]: "owned",
        [environment]: "control",
    };
}

/** The API target group: TCP 6443, TCP health check every 10 s, thresholds 2/2. */
export function apiTargetGroupArgs(environment: string, vpcId: pulumi.Input<string>, nameSuffix: pulumi.Input<string>, tags: Tags): aws.lb.TargetGroupArgs {
    return {
        // At most 32 characters: environment (<= 20) + "-api-" + 6.
        name: pulumi.interpolate`${environment}-api-${nameSuffix}`,
        port: API_PORT,
        protocol: "TCP",
        targetType: "instance",
        vpcId,
        healthCheck: {
            protocol: "TCP",
            port: "traffic-port",
            interval: 10,
            healthyThreshold: 2,
            unhealthyThreshold: 2,
        },
        tags: resourceTags(environment, `${environment}-api`, tags),
    };
}

/** Inputs whose change needs a new instance: a control-plane node never changes under etcd in place. */
export const CONTROL_PLANE_REPLACE_ON_CHANGES = ["ami", "instanceType", "userData", "userDataBase64", "subnetId", "keyName", "rootBlockDevice"];

/** Drain budget of a leaving control-plane node (node-leave.sh DRAIN_TIMEOUT). */
export const CONTROL_PLANE_DRAIN_TIMEOUT_SECONDS = 600;

/**
 * Create-before-delete, every replace-worthy input listed: Pulumi creates the new node first (it
 * joins and passes its gate), and deletes the old one at the end of the update after its
 * membership step's delete (node-leave.sh) took it out of etcd. The one ignored input is the
 * termination protection the node itself turns on while it is an etcd member (lib.sh): after a
 * `pulumi refresh` read it back, the program must not switch it off.
 */
export function standaloneInstanceOptions(base: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return { ...base, replaceOnChanges: CONTROL_PLANE_REPLACE_ON_CHANGES, deleteBeforeReplace: false, ignoreChanges: ["disableApiTermination"] };
}

/**
 * How a control-plane node boots (implemented by the node-bootstrap code): the lifecycle code
 * decides the order, the mode and when a node leaves; the boot code decides what runs.
 */
export interface ControlPlaneNodeBoot {
    /** base64 gzip user data (the loader) of control-plane node `nodeName`. */
    userData(nodeName: string): pulumi.Output<string>;
    /** create + stdin of the node's `<nodeName>-bootstrap` remote Command. */
    bootstrapCommand(node: ControlPlaneBootInput): { create: pulumi.Input<string>; stdin: pulumi.Input<string> };
    /** What nodes must wait for (e.g. the bundle publish Command). */
    readonly dependsOn: pulumi.Resource[];
}

export interface ControlPlaneBootInput {
    nodeName: string;
    mode: "init" | "join";
    /**
     * Before `kubeadm join`, upload this release's ClusterConfiguration and kubelet configuration
     * (`kubeadm init phase upload-config all --config <init config>`), so the joining node and
     * all after it are built from the program's current settings (an EKS-D upgrade, a patch
     * release, audit/encryption/profiling/SAN changes). Idempotent; set on every node that
     * joins a running cluster (the first one of a roll does the work).
     */
    uploadClusterConfig?: boolean;
}

/** What the previous state says about the running cluster (after the change checks passed). */
export interface LifecycleDecision {
    /** The cluster exists: node 0 joins like the others instead of running `kubeadm init`. */
    initialized: boolean;
    /** The control-plane instances the last update left, by node name (empty when not recorded). */
    previousNodes: Record<string, LifecycleNode>;
}

/** SSH to a control-plane node through the bastion, without the node's address and host key. */
export type NodeSshSettings = Omit<NodeSshArgs, "host" | "hostKey">;

/**
 * Where a node records which bootstrap Command runs it (`bootstrapOwnerToken`) and how many
 * successful creates of that Command it has seen: `<token> <claims>`. Written after every
 * successful create and update of that Command, read by its delete.
 */
export const BOOTSTRAP_OWNER_FILE = "/var/lib/zadara-eksd/bootstrap-owner";

/**
 * Identifies one bootstrap Command by its URN's parts (the parent's URN and its name): a rename
 * or re-parent (a new URN: Pulumi creates the new Command, then deletes the old one at the end)
 * gives another token. sha256, so it quotes safely and says nothing about the stack.
 */
export function bootstrapOwnerToken(parentUrn: string, commandName: string): string {
    return createHash("sha256").update(`${parentUrn}::${commandName}`, "utf8").digest("hex");
}

/** Reads the owner file into $1 (token) and $2 (claims); both empty when there is none. */
const READ_OWNER = `set -- $(sudo -n cat ${BOOTSTRAP_OWNER_FILE} 2>/dev/null || true);`;

/**
 * Runs after the bootstrap script succeeded (a failed create is not recorded, so nothing would
 * ever undo its claim): this Command owns the node from now on. A create of the Command that
 * already owns the node is a second claim: `pulumi up --replace` or `pulumi state taint` of the
 * Command creates it again and deletes the first one at the end of the update, and that delete
 * must not take the node out. An update (same Command, new inputs) keeps the count.
 */
export function claimNodeCommand(ownerToken: string, kind: "create" | "update" = "create"): string {
    const dir = BOOTSTRAP_OWNER_FILE.slice(0, BOOTSTRAP_OWNER_FILE.lastIndexOf("/"));
    const token = shellSingleQuote(ownerToken);
    const count = kind === "create" ? "n=$((n + 1))" : '[ "$n" -ge 1 ] || n=1';
    return [
        `sudo -n install -d -m 755 ${dir} &&`,
        `{ ${READ_OWNER}`,
        `n=0; if [ "\${1:-}" = ${token} ]; then case "\${2:-}" in ""|*[!0-9]*) n=1 ;; *) n=$2 ;; esac; fi;`,
        `${count}; echo "${ownerToken} $n" | sudo -n tee ${BOOTSTRAP_OWNER_FILE} >/dev/null; }`,
    ].join(" ");
}

/** Who must leave, and who asks: the retire step names only the instance; a bootstrap delete also names itself. */
export interface LeaveIdentity {
    /** The instance the leave must run on: on any other (the address was reused) nothing is done. */
    expectedInstanceId?: string;
    /** The bootstrap Command that asks (its delete): a node another bootstrap Command claimed since does not leave. */
    ownerToken?: string;
}

/**
 * node-leave.sh (with lib.sh and drain-node.sh) run as root on the leaving node: the delete of
 * its bootstrap Command, and the retire step of a replaced node. Both name the instance (the
 * old address may belong to another instance by then, e.g. after `pulumi refresh` dropped a
 * terminated one); the delete also names its Command, so the old Command of a renamed or
 * re-parented bootstrap step does not take out the node its successor just claimed, and the
 * first of two creates of the same Command (`--replace`, `state taint`) only gives its claim back.
 */
export function nodeLeaveCommand(nodeName: string, drainTimeoutSeconds: number, identity: LeaveIdentity = {}): string {
    const script = Buffer.from(scriptForStdin(["drain-node.sh", "node-leave.sh"])).toString("base64");
    const env = [`SLOT_NAME=${shellSingleQuote(nodeName)}`, `DRAIN_TIMEOUT=${shellSingleQuote(String(drainTimeoutSeconds))}`];
    if (identity.expectedInstanceId !== undefined) {
        env.push(`EXPECTED_INSTANCE_ID=${shellSingleQuote(identity.expectedInstanceId)}`);
    }
    // The delete gets no stdin: the script travels base64-encoded in the command itself.
    const leave = `echo '${script}' | base64 -d | sudo -n env ${env.join(" ")} bash -s`;
    if (identity.ownerToken === undefined) {
        return leave;
    }
    // A node without the file was bootstrapped by an older program version: it leaves as before.
    const token = shellSingleQuote(identity.ownerToken);
    const claimedElsewhere = shellSingleQuote(`${nodeName}: another bootstrap step claimed this node since (a renamed or re-parented one): not leaving`);
    const claimedAgain = shellSingleQuote(
        `${nodeName}: this bootstrap step was created again on this node since (pulumi up --replace or state taint of it): giving back one claim, not leaving`,
    );
    return [
        READ_OWNER,
        `if [ -n "\${1:-}" ] && [ "$1" != ${token} ]; then echo ${claimedElsewhere} >&2;`,
        `elif [ "\${2:-1}" -gt 1 ] 2>/dev/null; then echo "${identity.ownerToken} $(($2 - 1))" | sudo -n tee ${BOOTSTRAP_OWNER_FILE} >/dev/null; echo ${claimedAgain} >&2;`,
        `else ${leave}; fi`,
    ].join(" ");
}

/** What a node's membership step runs: nothing but a note (its delete is the leave). */
export function memberNoteCommand(nodeName: string, instanceId: string): string {
    return `echo ${shellSingleQuote(`${nodeName}: instance ${instanceId} is in the cluster; this step's delete takes it out`)} >&2`;
}

/** What the retire step of a node runs when it has no replaced instance to retire now. */
export function nothingToRetireCommand(nodeName: string, why = "no replaced instance to retire"): string {
    return `echo ${shellSingleQuote(`${nodeName}: ${why}`)} >&2`;
}

/** `<ssh user>@<key pair name>`: the login a node started with accepts (recorded per node). */
export function sshAccessOf(user: string, keyName: string): string {
    return `${user}@${keyName}`;
}

/** The ssh user of a `<user>@<key pair name>` login. */
export function sshUserOf(sshAccess: string): string {
    return sshAccess.slice(0, sshAccess.indexOf("@"));
}

/**
 * Where and what a node's retire step runs; `retires`: the replaced instance it takes out;
 * `login`: the previous login it connects with, when that instance accepts only that one (a
 * new key pair or user: its private key comes from the previous state, `nodeLoginKeys`).
 */
export interface RetirePlan {
    host: string;
    command: string;
    retires?: string;
    login?: string;
    /** The host key the previous state recorded for `retires` (states of older versions have none). */
    recordedHostKey?: string;
}

/**
 * Where and what a node's retire step runs, from the previous state and the node's instance.
 * Nothing to retire: no recorded instance, or the same instance. A replaced instance that
 * accepts only the previous login is reached with that login (add one, remove one, also for a
 * key-pair change; `loginChangeRefusal` stops the preview when its key is not recorded).
 */
export function retirePlan(
    nodeName: string,
    current: { instanceId: string; privateIp: string; sshAccess: string },
    previousNodes: Record<string, LifecycleNode>,
    drainTimeoutSeconds: number,
): RetirePlan {
    const previous = previousNodes[nodeName] as LifecycleNode | undefined;
    if (previous === undefined || previous.instanceId === current.instanceId) {
        return { host: current.privateIp, command: nothingToRetireCommand(nodeName) };
    }
    const plan: RetirePlan = {
        host: previous.privateIp,
        command: nodeLeaveCommand(nodeName, drainTimeoutSeconds, { expectedInstanceId: previous.instanceId }),
        retires: previous.instanceId,
    };
    if (previous.sshAccess !== undefined && previous.sshAccess !== current.sshAccess) {
        plan.login = previous.sshAccess;
    }
    if (previous.hostKey !== undefined) {
        plan.recordedHostKey = previous.hostKey;
    }
    return plan;
}

/**
 * The refusal (at preview) of a login change the program cannot follow: the recorded nodes
 * accept only a login whose private key the previous state does not hold (a state written
 * before `nodeLoginKeys` existed). Without it, every replaced node would leave only at the end
 * of the update, and etcd would grow by one member per node meanwhile.
 */
export function loginChangeRefusal(previousNodes: Record<string, LifecycleNode>, currentAccess: string, recordedLogins: string[]): string | undefined {
    const unreachable = [
        ...new Set(
            Object.values(previousNodes)
                .map((node) => node.sshAccess)
                .filter((access): access is string => access !== undefined && access !== currentAccess && !recordedLogins.includes(access)),
        ),
    ];
    if (unreachable.length === 0) {
        return undefined;
    }
    return (
        `zadara-eksd:nodeKeyName / nodeSshUser: change from ${unreachable.join(", ")} to ${currentAccess} is refused on a running cluster: ` +
        `the control-plane nodes accept only ${unreachable.join(", ")}, and the stack's previous outputs hold no private key for it ` +
        `(output ${NODE_LOGIN_KEYS_OUTPUT}, written from this program version on), so the replaced nodes could leave etcd only at the end of the update. ` +
        `Safe path: set nodeKeyName, nodeSshUser and nodeSshPrivateKey back to the previous login and run pulumi up once (it records the key), then change them again and run pulumi up.`
    );
}

/**
 * The plan, unless the instance it would retire no longer runs. The record is written only by
 * a successful update: after a failed one, the old halves it left stay in state as pending
 * deletes, and the engine deletes them (running their leave) at the END of the next update
 * (pulumi/pulumi#11027, Pulumi 3.46+; Pulumi.yaml requires a newer CLI), so the recorded
 * instance normally still runs when this step asks; it may be gone when it was terminated by
 * hand or by a cloud failure. Asked once the successor passed its gate (this step waits for
 * it), not at program start.
 */
export async function liveRetirePlan(
    plan: RetirePlan,
    nodeName: string,
    currentIp: string,
    instanceRuns: (instanceId: string) => Promise<boolean>,
): Promise<RetirePlan> {
    if (plan.retires === undefined || (await instanceRuns(plan.retires))) {
        return plan;
    }
    return { host: currentIp, command: nothingToRetireCommand(nodeName, `the replaced instance ${plan.retires} is gone already`) };
}

/**
 * The host key the retire step pins: the current node's when it retires nothing (it runs there),
 * else the one recorded for the replaced instance; undefined (not checked, with a note in the
 * log) when the previous state of an older version recorded none.
 */
export function retireHostKey(plan: RetirePlan, currentHostKey: string | undefined, nodeName: string, note: (message: string) => void): string | undefined {
    if (plan.retires === undefined) {
        return currentHostKey;
    }
    if (plan.recordedHostKey === undefined && currentHostKey !== undefined) {
        note(
            `${nodeName}-retire-replaced: the previous state records no SSH host key for ${plan.retires} (written by an older version): ` +
                "this step reaches it without checking its host key (docs/security.md#ssh-host-keys)",
        );
    }
    return plan.recordedHostKey;
}

/** Instance states in which a replaced node may still be in the cluster. */
const LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped"];

/**
 * `kubeadm init phase addon` with the new release's configuration (CoreDNS, and kube-proxy when
 * the cluster runs it): what `kubeadm upgrade apply` would do after the control plane rolled.
 * The kubeadm configuration comes on stdin (it holds the bootstrap token).
 */
export const UPGRADE_ADDONS_COMMAND = [
    "sudo -n bash -c '",
    'set -euo pipefail; f=$(mktemp); trap "rm -f $f" EXIT; cat >"$f"; k=/etc/kubernetes/admin.conf;',
    'kubeadm init phase addon coredns --config "$f" --kubeconfig $k;',
    'if kubectl --kubeconfig $k -n kube-system get daemonset kube-proxy >/dev/null 2>&1; then kubeadm init phase addon kube-proxy --config "$f" --kubeconfig $k; fi;',
    "echo upgraded CoreDNS and kube-proxy to the cluster configuration >&2'",
].join(" ");

export class ControlPlane {
    readonly instances: aws.ec2.Instance[] = [];
    /** `<node>-bootstrap` Commands, in chain order. */
    readonly bootstraps: command.remote.Command[] = [];
    /** `<node>-membership` Commands, in chain order: replaced delete-before-replace, their delete is the leave. */
    readonly memberships: command.remote.Command[] = [];
    /** `<node>-retire-replaced` Commands, in chain order: the next node waits for them. */
    readonly retirements: command.remote.Command[] = [];
    /** `<env>-upgrade-addons`: CoreDNS/kube-proxy of the release, after the last node (standalone). */
    readonly upgradeAddons?: command.remote.Command;
    readonly targetGroup: aws.lb.TargetGroup;
    readonly listener: aws.lb.Listener;
    readonly attachments: aws.lb.TargetGroupAttachment[] = [];
    readonly instanceIds: pulumi.Output<string[]>;
    readonly privateIps: pulumi.Output<string[]>;
    /** Instance id and private IP by node name: what the next update retires when it replaces one. */
    readonly nodesByName: pulumi.Output<Record<string, LifecycleNode>>;
    /** The nodes' login and its private key (secret): what the next update reaches them with. */
    readonly loginKeys: pulumi.Output<Record<string, string>>;
    readonly firstNode: FirstControlPlaneNode;
    /** Each node's SSH host key (`<node>-host-key` stdout), in chain order; empty when not pinned. */
    readonly hostKeys: pulumi.Output<string>[] = [];

    private readonly opts: pulumi.CustomResourceOptions;
    /** The login every node of this update accepts (recorded per node, compared by the retire plan). */
    private readonly sshAccess: string;

    constructor(private readonly args: ControlPlaneArgs) {
        this.opts = { provider: args.provider, parent: args.parent };
        this.sshAccess = sshAccessOf(args.ssh.user, args.keyName);
        const env = args.environment;

        this.targetGroup = new aws.lb.TargetGroup(`${env}-api`, apiTargetGroupArgs(env, args.vpcId, args.nameSuffix, args.tags), {
            ...this.opts,
            aliases: controlPlaneAliases(env, `${env}-api`),
        });

        if (args.mode !== "standalone") {
            throw new Error(`controlPlaneMode "${args.mode}" is not supported: only standalone control-plane nodes receive their secrets from the program`);
        }
        for (let index = 0; index < args.count; index++) {
            this.addStandaloneNode(index);
        }
        this.instanceIds = pulumi.all(this.instances.map((instance) => instance.id));
        this.privateIps = pulumi.all(this.instances.map((instance) => instance.privateIp));
        const sshAccess = this.sshAccess;
        // The host keys too: the next update's retire step pins the key of the node it retires.
        this.nodesByName = pulumi
            .all([this.instanceIds, this.privateIps, pulumi.all(this.hostKeys)])
            .apply(([ids, ips, keys]) =>
                Object.fromEntries(
                    ids.map((instanceId, index): [string, LifecycleNode] => [
                        standaloneNodeName(env, index),
                        { instanceId, privateIp: ips[index], sshAccess, ...(keys[index] !== undefined ? { hostKey: keys[index] } : {}) },
                    ]),
                ),
            );
        this.loginKeys = pulumi.secret(pulumi.output(args.ssh.privateKey).apply((key) => ({ [sshAccess]: key })));
        this.firstNode = { id: this.instances[0].id, privateIp: this.instances[0].privateIp, hostKey: this.hostKeys[0] };
        this.upgradeAddons = this.addUpgradeAddons();

        this.listener = new aws.lb.Listener(
            `${env}-api`,
            {
                loadBalancerArn: args.apiLoadBalancerArn,
                port: API_PORT,
                protocol: "TCP",
                defaultActions: [{ type: "forward", targetGroupArn: this.targetGroup.arn }],
            },
            { ...this.opts, aliases: controlPlaneAliases(env, `${env}-api`) },
        );
    }

    /** Everything that must exist before the cluster serves: nodes, their gates, the API path. */
    get resources(): pulumi.Resource[] {
        return [
            ...this.instances,
            this.targetGroup,
            ...this.attachments,
            this.listener,
            ...this.bootstraps,
            ...this.memberships,
            ...this.retirements,
            ...(this.upgradeAddons ? [this.upgradeAddons] : []),
        ];
    }

    /** The last step of the chain: every node passed its gate and every replaced node left. */
    get lastStep(): command.remote.Command | undefined {
        return this.retirements[this.retirements.length - 1];
    }

    private addStandaloneNode(index: number): void {
        const env = this.args.environment;
        const name = standaloneNodeName(env, index);
        const previous = this.retirements[index - 1];
        // Waiting for the decision keeps a refused change from touching any node.
        const userData = pulumi.all([this.args.decision, this.args.boot.userData(name)]).apply(([, data]) => data);
        const instance = new aws.ec2.Instance(
            name,
            {
                ami: this.args.amiId,
                instanceType: this.args.instanceType,
                subnetId: this.args.privateSubnetId,
                vpcSecurityGroupIds: [this.args.clusterSecurityGroupId],
                keyName: this.args.keyName,
                iamInstanceProfile: this.args.instanceProfileName,
                userDataBase64: userData,
                metadataOptions: metadataOptions(this.args.requireMetadataTokens),
                // zCompute: no encryption, volume type left to the cloud default; no volume tags.
                rootBlockDevice: { volumeSize: this.args.volumeSize, deleteOnTermination: true, encrypted: false },
                tags: controlPlaneTags(env, name, this.args.tags),
            },
            standaloneInstanceOptions({
                ...this.opts,
                aliases: controlPlaneAliases(env, name, index + 1),
                // The chain: node i+1 is created only after node i joined, passed its gate and the
                // instance it replaced left. A slot a running cluster adds replaces nothing: its
                // instance boots at once and only its join waits in the chain (the bootstrap
                // step), so a 1 -> 3 growth holds two voters for node 2's gate and node 3's join,
                // not also for node 3's boot. A new cluster keeps the whole chain.
                dependsOn: this.args.decision.apply((decision) => [
                    ...this.args.dependsOn,
                    ...this.args.boot.dependsOn,
                    ...(previous && !(decision.initialized && decision.previousNodes[name] === undefined) ? [previous] : []),
                ]),
            }),
        );
        this.instances.push(instance);
        // Read once per instance, before any SSH step to it (they take it as an input).
        const hostKey = this.args.hostKeys.forInstance(name, instance.id, { parent: this.args.parent, dependsOn: [instance] });
        if (hostKey !== undefined) {
            this.hostKeys.push(hostKey);
        }

        const attachment = new aws.lb.TargetGroupAttachment(
            `${name}-api`,
            {
                targetGroupArn: this.targetGroup.arn,
                targetId: instance.id,
                port: API_PORT,
            },
            { ...this.opts, aliases: controlPlaneAliases(env, `${name}-api`, index + 1) },
        );
        this.attachments.push(attachment);

        const boot = this.bootCommandFor(name, index);
        const bootstrapName = `${name}-bootstrap`;
        const owner = urnWithoutDependency(this.args.parent).then((parentUrn) => bootstrapOwnerToken(parentUrn, bootstrapName));
        const create = pulumi.interpolate`${boot.create} && ${owner.then((token) => claimNodeCommand(token, "create"))}`;
        const update = pulumi.interpolate`${boot.create} && ${owner.then((token) => claimNodeCommand(token, "update"))}`;
        const drainTimeout = this.args.drainTimeoutSeconds ?? CONTROL_PLANE_DRAIN_TIMEOUT_SECONDS;
        this.bootstraps.push(
            new command.remote.Command(
                bootstrapName,
                {
                    connection: nodeConnection({ ...this.args.ssh, host: instance.privateIp, hostKey }),
                    create,
                    stdin: boot.stdin,
                    // An input change (a rotated worker token, a new encryption key) runs the same script:
                    // on a node already in the cluster it only places the new files, applies the token
                    // and passes the gate again. The chain keeps these updates one node at a time.
                    update,
                    // Stored with the instance id and this Command's identity: the engine runs it with
                    // these stored inputs, also after a refresh dropped the instance or a rename.
                    delete: pulumi
                        .all([instance.id, owner])
                        .apply(([expectedInstanceId, ownerToken]) => nodeLeaveCommand(name, drainTimeout, { expectedInstanceId, ownerToken })),
                    // A new instance is a new node: bootstrap it (and let the old one leave).
                    triggers: [instance.id],
                    logging: "stderr",
                    addPreviousOutputInEnv: false,
                },
                {
                    parent: this.args.parent,
                    aliases: controlPlaneAliases(env, bootstrapName, index + 1),
                    // Deleted before its attachment and instance: the node leaves while it still runs.
                    // The join waits for node i-1, also when the instance did not (a slot added to a running cluster).
                    dependsOn: [instance, attachment, ...(previous ? [previous] : [])],
                    deleteBeforeReplace: false,
                    additionalSecretOutputs: ["stdout"],
                },
            ),
        );
        this.memberships.push(this.addMembership(name, index, instance, this.bootstraps[index], hostKey));
        this.retirements.push(this.addRetireReplaced(name, index, instance, this.bootstraps[index], this.memberships[index], hostKey));
    }

    /**
     * `<node>-membership`: stands for this instance's place in etcd; its delete is the instance's
     * leave, stored (as Pulumi stores every Command's inputs) with this instance's address, id
     * and the login it accepts. Its trigger is the instance id and it is replaced
     * delete-before-replace: when a new instance replaces this one, the engine deletes the old
     * step right after the new node's gate (this step waits for it), so the node leaves that
     * Pulumi's state says is in the cluster, before the next node is touched. That holds after
     * a failed update too (the state then names the instances the failed update added, which the
     * `lifecycle` record of the last successful update does not), and after a key-pair change
     * (the stored login is the old one). A removed node's step is deleted at the end, before its
     * bootstrap step and instance. Only `dependsOn` edges lead here, so no dependent is replaced
     * with it (pulumi/pulumi step_generator.go, calculateDependentReplacements).
     */
    private addMembership(
        name: string,
        index: number,
        instance: aws.ec2.Instance,
        gate: command.remote.Command,
        hostKey: pulumi.Output<string> | undefined,
    ): command.remote.Command {
        const drainTimeout = this.args.drainTimeoutSeconds ?? CONTROL_PLANE_DRAIN_TIMEOUT_SECONDS;
        const noted = instance.id.apply((id) => memberNoteCommand(name, id));
        return new command.remote.Command(
            `${name}-membership`,
            {
                connection: nodeConnection({ ...this.args.ssh, host: instance.privateIp, hostKey }),
                create: noted,
                update: noted,
                delete: instance.id.apply((expectedInstanceId) => nodeLeaveCommand(name, drainTimeout, { expectedInstanceId })),
                triggers: [instance.id],
                logging: "stderr",
                addPreviousOutputInEnv: false,
            },
            {
                parent: this.args.parent,
                dependsOn: [gate],
                deleteBeforeReplace: true,
                aliases: controlPlaneAliases(this.args.environment, `${name}-membership`, index + 1),
            },
        );
    }

    /**
     * `<node>-retire-replaced`: once a new instance passed its gate and the membership step was
     * replaced, the instance the last successful update recorded leaves too, before the next
     * node is touched: add one, remove one, like a rolling control-plane update with a surge of
     * one. The membership step's delete normally took that node out already (the leave then
     * finds nothing to do); this step covers states written before membership steps existed,
     * whose first roll has no stored leave to run. So every replaced API server is gone before
     * the add-ons and the worker rolls (an EKS-D upgrade completes in one `up`), and etcd never
     * holds more than one extra member. Pulumi's delete of the old instance at the end of the
     * update then finds a node that already left.
     */
    private addRetireReplaced(
        name: string,
        index: number,
        instance: aws.ec2.Instance,
        gate: command.remote.Command,
        membership: command.remote.Command,
        hostKey: pulumi.Output<string> | undefined,
    ): command.remote.Command {
        const drainTimeout = this.args.drainTimeoutSeconds ?? CONTROL_PLANE_DRAIN_TIMEOUT_SECONDS;
        const current = { sshAccess: this.sshAccess };
        // After the gate (its id): the existence check is as late as possible. A failed
        // update's leftovers are deleted only at the END of this update (Pulumi 3.46+).
        const plan = pulumi
            .all([this.args.decision, instance.id, instance.privateIp, membership.id])
            .apply(([decision, instanceId, privateIp]) =>
                liveRetirePlan(retirePlan(name, { ...current, instanceId, privateIp }, decision.previousNodes, drainTimeout), name, privateIp, (id) =>
                    this.instanceRuns(id, instanceId),
                ),
            );
        // A replaced node that accepts only the previous login is reached with it (its key from
        // the previous state); otherwise the current login.
        const previousKeys = pulumi.output(this.args.previousLoginKeys ?? {});
        const privateKey = pulumi.all([plan, previousKeys, this.args.ssh.privateKey]).apply(([p, keys, currentKey]) => {
            if (p.login === undefined) {
                return currentKey;
            }
            const key = keys[p.login] as string | undefined;
            if (key === undefined) {
                // loginChangeRefusal stops the preview before this; a state changed since then lands here.
                throw new Error(`${name}-retire-replaced: no private key for ${p.login} in the previous state (${NODE_LOGIN_KEYS_OUTPUT})`);
            }
            return key;
        });
        // The node it connects to: the replaced one (its recorded key) or, with nothing to retire, this one.
        const pinnedKey =
            hostKey === undefined
                ? undefined
                : pulumi.all([plan, hostKey]).apply(([p, current]) => retireHostKey(p, current, name, (message) => void pulumi.log.warn(message)));
        const connection = nodeConnection({ ...this.args.ssh, host: plan.host, privateKey, hostKey: pinnedKey });
        return new command.remote.Command(
            `${name}-retire-replaced`,
            {
                connection: { ...connection, user: plan.apply((p) => (p.login === undefined ? this.args.ssh.user : sshUserOf(p.login))) },
                create: plan.command,
                // Runs when the node's instance is new; the next update's new record changes
                // nothing that needs running again.
                update: nothingToRetireCommand(name),
                triggers: [instance.id],
                logging: "stderr",
                addPreviousOutputInEnv: false,
            },
            {
                parent: this.args.parent,
                // The gate directly too: at the end of an update the old retire step is deleted
                // before the old bootstrap step, not beside it.
                dependsOn: [gate, membership],
                aliases: controlPlaneAliases(this.args.environment, `${name}-retire-replaced`, index + 1),
            },
        );
    }

    /**
     * The boot code gets a plain mode; the previous state is known only as an Output, so each
     * possible variant is asked for and the decision picks one.
     */
    private bootCommandFor(nodeName: string, index: number): { create: pulumi.Output<string>; stdin: pulumi.Output<string> } {
        const boot = this.args.boot;
        // A new cluster: node 0 runs init and uploads the configuration, the others join it.
        // A running cluster: every joining node uploads the current configuration first.
        const fresh = index === 0 ? boot.bootstrapCommand({ nodeName, mode: "init" }) : boot.bootstrapCommand({ nodeName, mode: "join" });
        const running = boot.bootstrapCommand({ nodeName, mode: "join", uploadClusterConfig: true });
        const pick = (field: "create" | "stdin") =>
            pulumi
                .all([this.args.decision, fresh[field], running[field]])
                .apply(([decision, freshValue, runningValue]) => (decision.initialized ? runningValue : freshValue));
        return { create: pick("create"), stdin: pulumi.secret(pick("stdin")) };
    }

    /**
     * Whether the cloud still runs (or has stopped, not terminated) `instanceId`. The query also
     * names `runningId` (the new node, which runs): the provider's instances lookup fails on an
     * empty result instead of returning none.
     */
    private async instanceRuns(instanceId: string, runningId: string): Promise<boolean> {
        const found = await aws.ec2.getInstances(
            { filters: [{ name: "instance-id", values: [instanceId, runningId] }], instanceStateNames: LIVE_INSTANCE_STATES },
            { provider: this.args.provider },
        );
        return found.ids.includes(instanceId);
    }

    /** Runs once per Kubernetes version on the last node, after every node passed its gate and every replaced node left. */
    private addUpgradeAddons(): command.remote.Command {
        const last = this.instances[this.instances.length - 1];
        const lastStep = this.lastStep;
        if (lastStep === undefined) {
            // The constructor adds args.count >= 1 nodes, each with its gate, before this runs.
            throw new Error(`${this.args.environment}-upgrade-addons: no control-plane node gate to wait for (controlPlaneCount ${this.args.count})`);
        }
        return new command.remote.Command(
            `${this.args.environment}-upgrade-addons`,
            {
                connection: nodeConnection({ ...this.args.ssh, host: last.privateIp, hostKey: this.hostKeys[this.hostKeys.length - 1] }),
                create: UPGRADE_ADDONS_COMMAND,
                stdin: pulumi.secret(this.args.kubeadmInitConfig),
                triggers: [this.args.kubernetesVersion],
                logging: "stderr",
            },
            {
                parent: this.args.parent,
                dependsOn: [lastStep],
                aliases: controlPlaneAliases(this.args.environment, `${this.args.environment}-upgrade-addons`),
            },
        );
    }
}

/**
 * A resource's URN as a plain promise. Used as an input, `parent.urn` would make the child
 * depend on its parent component, i.e. on all the component's children including itself (a
 * cycle); the URN is only a name here, not something to wait for.
 */
function urnWithoutDependency(resource: pulumi.Resource): Promise<string> {
    return new Promise((resolve) => {
        resource.urn.apply((urn) => {
            resolve(urn);
            return urn;
        });
    });
}

/** Numeric IPv4 order, as `sort -t . -k1,1n -k2,2n -k3,3n -k4,4n` in the boot scripts. */
export function compareIpv4(a: string, b: string): number {
    const left = a.split(".").map(Number);
    const right = b.split(".").map(Number);
    for (let i = 0; i < 4; i++) {
        if (left[i] !== right[i]) {
            return left[i] - right[i];
        }
    }
    return 0;
}
