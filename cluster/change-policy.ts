// What a change of each config key does to a running cluster: applied in place, rolled node by
// node, or refused at preview with the safe procedure. The table drives the preview refusals
// (checkLifecycleChanges) and is rendered into the README (renderChangeTable), so the documented
// behaviour and the enforced one are the same data.
import * as pulumi from "@pulumi/pulumi";
import type { LifecycleState, LifecycleValue } from "./lifecycle-state";
import { controlPlaneNodeBudgetSeconds, formatDuration, workerGroupBudgetSeconds } from "./roll-budget";

export type ChangeKind = "in-place" | "rolling" | "refused";

export interface ChangePolicy {
    kind: ChangeKind;
    /** What `pulumi up` does on a running cluster when the value changes. */
    effect: string;
    /** Refused keys (and conditional refusals): the procedure that is safe instead. */
    safePath?: string;
    /** A change that goes ahead but loses something: printed as a preview warning. */
    warn?: (from: LifecycleValue, to: LifecycleValue) => string | undefined;
    /** The value is exported in the `lifecycle` output and compared at the next preview. */
    tracked?: boolean;
    /**
     * A change that this key's kind allows in general may still be refused (e.g. skipping a
     * minor, or a combination with another key's change: `settings` has both sides).
     */
    refuse?: (from: LifecycleValue, to: LifecycleValue, settings: SettingsChange) => { reason: string; safePath: string } | undefined;
}

const CONTROL_PLANE_ROLL =
    "control plane: node 1 → n, one at a time (a new node joins and passes its gate, then the instance it replaced is cordoned, drained and leaves etcd, then the next node)";
const WORKER_ROLL = "node groups: each group rolls (surge, Ready, drain one old node, terminate; maxSurge/maxUnavailable)";
const ALL_NODES_ROLL = `${CONTROL_PLANE_ROLL}; then ${WORKER_ROLL}`;
const BASTION_REPLACED =
    "the bastion is replaced (new private address, bundles uploaded to it again, the bundle target group follows it); node user data names the API load balancer, not the bastion: cluster nodes are untouched; the program's SSH steps use the new bastion";
const NEW_CLUSTER =
    "Build a new stack beside this one (pulumi stack init), move the workloads (e.g. Velero/Kasten backup and restore), then destroy the old stack.";

/** "1.31" -> 31; undefined when not `1.<minor>`. */
export function minorOf(version: LifecycleValue): number | undefined {
    const match = /^1\.(\d+)$/.exec(String(version));
    return match ? Number(match[1]) : undefined;
}

/** Both sides of the tracked settings of one `pulumi up`. */
export interface SettingsChange {
    previous: Record<string, LifecycleValue>;
    current: Record<string, LifecycleValue>;
}

/** "v1.34.11-eks-1-34-24" -> [1, 34, 11, 24]; undefined for another form. */
function releaseNumbers(tag: LifecycleValue): number[] | undefined {
    const match = /^v(\d+)\.(\d+)\.(\d+)(?:-eks-\d+-\d+-(\d+))?$/.exec(String(tag));
    return match ? [match[1], match[2], match[3], match[4] ?? "0"].map(Number) : undefined;
}

/**
 * Within one minor, never back to an older patch or EKS-D release: the nodes would be rebuilt
 * with binaries older than the ones that wrote the cluster's state (and kubeadm downgrades are
 * not supported). Minor changes are eksdVersion's rule.
 */
function patchDowngrade(from: LifecycleValue, to: LifecycleValue): { reason: string; safePath: string } | undefined {
    const old = releaseNumbers(from);
    const next = releaseNumbers(to);
    if (!old || !next || old[0] !== next[0] || old[1] !== next[1]) {
        return undefined;
    }
    const older = next[2] < old[2] || (next[2] === old[2] && next[3] < old[3]);
    if (!older) {
        return undefined;
    }
    return {
        reason: "going back to an older release of the same minor is not supported: kubeadm does not downgrade, and nodes would run older binaries than the ones that wrote the cluster's state.",
        safePath: `keep kubernetesVersion ${String(from)} (or remove the key to follow the catalog's release, if it is not older), with AMIs of that release`,
    };
}

/**
 * One minor per `up`, never down: kubeadm's upgrade rule and the API server version skew. And
 * no control-plane node removed in the upgrading `up`: a removed node leaves at the end of the
 * update, so its old API server would still run when the workers roll.
 */
function eksdVersionStep(from: LifecycleValue, to: LifecycleValue, settings: SettingsChange): { reason: string; safePath: string } | undefined {
    const old = minorOf(from);
    const next = minorOf(to);
    if (old === undefined || next === undefined || next === old) {
        return undefined;
    }
    if (next === old + 1) {
        const countBefore = settings.previous.controlPlaneCount;
        const countAfter = settings.current.controlPlaneCount;
        if (typeof countBefore === "number" && typeof countAfter === "number" && countAfter < countBefore) {
            return {
                reason: `it comes with controlPlaneCount ${countBefore} → ${countAfter}: a removed control-plane node leaves at the end of the update, so its ${String(from)} API server would still serve while the workers roll to ${String(to)}.`,
                safePath: `pulumi config set eksdVersion ${String(from)} (and that minor's AMIs) && pulumi up (removes the nodes); then pulumi config set eksdVersion ${String(to)} (with its AMIs) && pulumi up`,
            };
        }
        return undefined;
    }
    if (next < old) {
        return {
            reason: "going down a minor is not supported: etcd data and API objects of the newer release cannot be served by the older one.",
            safePath: `keep eksdVersion ${String(from)}; to run ${String(to)}, restore an etcd backup taken before the upgrade into a new stack.`,
        };
    }
    const steps = Array.from({ length: next - old }, (_, i) => `1.${old + i + 1}`);
    return {
        reason: "EKS-D (kubeadm) upgrades go one minor per `pulumi up`; skipping a minor breaks the API server and kubelet version skew.",
        safePath: steps.map((minor) => `pulumi config set eksdVersion ${minor} (with that minor's AMIs) && pulumi up`).join("; then "),
    };
}

/**
 * Every config key; tests check the table against config/schema.ts's key list both ways.
 */
export const CHANGE_POLICY: Record<string, ChangePolicy> = {
    // Cloud and provider
    apiEndpoint: { kind: "in-place", effect: "provider endpoint only; no resource changes" },
    accessKey: { kind: "in-place", effect: "provider credentials only" },
    secretKey: { kind: "in-place", effect: "provider credentials only" },
    insecure: { kind: "rolling", effect: `node.env changes (cloud API TLS): ${ALL_NODES_ROLL}` },
    rootCaCert: {
        kind: "rolling",
        effect: `the bastion is replaced; the CA bundle reaches new nodes only: ${ALL_NODES_ROLL}; the controllers' CA ConfigMap is updated in place`,
    },

    // Naming and safety
    environment: {
        kind: "refused",
        tracked: true,
        effect: "every resource name and the Kubernetes cluster name derive from it: a change would build a second cluster and delete the first",
        safePath: NEW_CLUSTER,
    },
    production: { kind: "in-place", effect: "validation only" },
    acceptUnsafeProduction: { kind: "in-place", effect: "validation only" },
    acceptUnsafeProductionRules: { kind: "in-place", effect: "validation only" },
    tags: { kind: "in-place", effect: "tags updated in place (ASG tags propagate to new instances only)" },

    // Network
    vpcCidr: {
        kind: "refused",
        tracked: true,
        effect: "replaces the VPC, which running nodes, load balancers and the bastion live in",
        safePath: NEW_CLUSTER,
    },
    publicSubnetCidr: {
        kind: "refused",
        tracked: true,
        effect: "replaces the public subnet under the bastion, NAT gateway and public NLB",
        safePath: NEW_CLUSTER,
    },
    privateSubnetCidr: {
        kind: "refused",
        tracked: true,
        effect: "replaces the private subnet, which every node is in: all nodes would be replaced at once with the subnet",
        safePath: NEW_CLUSTER,
    },
    dnsServers: { kind: "in-place", effect: "DHCP options replaced and re-associated; running nodes pick them up at their next lease renewal" },
    dnsDomain: { kind: "rolling", effect: `DHCP options replaced; the API name in the certificate SANs changes: ${CONTROL_PLANE_ROLL}` },
    existingVpc: {
        kind: "refused",
        tracked: true,
        effect: "moves the cluster to other network resources: every node, load balancer and the bastion would be replaced at once",
        safePath: NEW_CLUSTER,
    },
    apiPublic: {
        kind: "refused",
        tracked: true,
        effect: "replaces the API load balancer and its address; the API server certificates of running nodes do not carry the new address and every kubeconfig points at the old one",
        safePath:
            "1) create a second stack with the wanted apiPublic (or keep this one and reach the API through the bastion/VPN); 2) move workloads; 3) destroy the old stack. The in-place path (new NLB + certificate SANs + rolling every control-plane node) is not automated.",
    },
    runsInsideVpc: { kind: "in-place", effect: "validation only" },
    apiAllowedCidrs: { kind: "in-place", effect: "security-group rules updated in place" },

    // Bastion
    bastionAmiId: { kind: "in-place", effect: BASTION_REPLACED },
    bastionInstanceType: {
        kind: "in-place",
        effect: "the bastion is stopped and started with the new type (a short SSH outage, same addresses); cluster nodes are untouched",
    },
    bastionKeyName: { kind: "in-place", effect: BASTION_REPLACED },
    bastionSshUser: { kind: "in-place", effect: "the program's SSH steps use the new user" },
    bastionSshPrivateKey: { kind: "in-place", effect: "the program's SSH steps use the new key" },
    bastionSshCidrs: { kind: "in-place", effect: "security-group rules updated in place" },

    // Cluster
    eksdVersion: {
        kind: "rolling",
        tracked: true,
        effect: `one minor up (or the same minor), in one \`pulumi up\`: the first new-version node uploads the new ClusterConfiguration, ${CONTROL_PLANE_ROLL}; then \`kubeadm init phase addon\` (kube-proxy, CoreDNS) on the last node, the control-plane role's policies and the add-ons move to the new pins; then ${WORKER_ROLL}. Skipping a minor, going down, or removing control-plane nodes in the same \`up\` is refused`,
        refuse: eksdVersionStep,
    },
    kubernetesVersion: {
        kind: "rolling",
        tracked: true,
        effect: `a newer patch release of the same minor rolls like an upgrade: ${ALL_NODES_ROLL}. An older release of the same minor is refused`,
        refuse: patchDowngrade,
    },
    podCidr: {
        kind: "refused",
        tracked: true,
        effect: "kube-controller-manager, kube-proxy and the CNI keep the old range; every pod address would be wrong",
        safePath: NEW_CLUSTER,
    },
    serviceCidr: {
        kind: "refused",
        tracked: true,
        effect: "existing Services (including the API's own ClusterIP and CoreDNS) keep addresses outside the new range; the API server certificate SAN changes",
        safePath: NEW_CLUSTER,
    },
    controlPlaneCount: {
        kind: "rolling",
        tracked: true,
        effect: "up: the new nodes join one at a time after the last existing one; down: the highest-numbered nodes leave etcd one at a time (highest first), each after cordon and drain",
    },
    controlPlaneMode: {
        kind: "refused",
        tracked: true,
        effect: "only `standalone` is supported: an ASG can start or replace masters outside the quorum-safe roll",
        safePath: "keep controlPlaneMode standalone.",
    },
    controlPlaneInstanceType: { kind: "rolling", effect: CONTROL_PLANE_ROLL },
    controlPlaneVolumeSize: { kind: "rolling", effect: CONTROL_PLANE_ROLL },
    controlPlaneAmiId: { kind: "rolling", effect: CONTROL_PLANE_ROLL },
    controlPlaneInstanceProfile: { kind: "in-place", effect: "the instance profile association of each control-plane instance is updated in place" },
    kubeconfigTimeoutMinutes: { kind: "rolling", effect: `the wait budget is part of node.env today: ${CONTROL_PLANE_ROLL}; then ${WORKER_ROLL}` },
    adminCredentialValidityHours: { kind: "in-place", effect: "the admin client certificate (and the kubeconfig output) is re-issued; nothing else changes" },

    // Nodes
    nodeKeyName: {
        kind: "rolling",
        effect: `control plane: node 1 → n, one at a time (a new node joins and passes its gate); the replaced instances accept only the old key, so they leave etcd one at a time at the end of the update, highest first (Pulumi's delete runs with the old key it stored); then ${WORKER_ROLL}`,
    },
    nodeSshUser: { kind: "in-place", effect: "the program's SSH steps use the new user" },
    nodeSshPrivateKey: { kind: "in-place", effect: "the program's SSH steps use the new key" },
    workerAmiId: { kind: "rolling", effect: WORKER_ROLL },
    workerInstanceProfile: { kind: "rolling", effect: WORKER_ROLL },
    nodeGroups: {
        kind: "rolling",
        effect: `a new group is added and an absent one removed (drained); instanceType, volumeSize, amiId, labels, taints: ${WORKER_ROLL}; sizes, cooldown, maxSurge, maxUnavailable, drainTimeoutSeconds: in place`,
    },
    workerJoinTokenTtlHours: {
        kind: "in-place",
        effect: "the worker join token is rotated and the launch configurations updated; running workers are not rolled",
    },

    // Hardening (kubeadm configuration)
    auditLog: { kind: "rolling", effect: CONTROL_PLANE_ROLL },
    secretsEncryption: {
        kind: "rolling",
        effect: `${CONTROL_PLANE_ROLL}. Existing Secrets keep their storage until re-written (\`kubectl get secrets -A -o json | kubectl replace -f -\`); before turning it off, re-write them with \`identity\` first`,
    },
    secretsEncryptionKeyVersion: {
        kind: "rolling",
        effect: "no node is replaced: each control-plane node's bootstrap step re-runs, node 1 → n in chain order, and writes the new key first (encrypts) with the previous one kept (decrypts); the API server reloads the file. Then re-write the Secrets (`kubectl get secrets -A -o json | kubectl replace -f -`); the next bump drops the old key",
    },
    kubeletHardening: { kind: "rolling", effect: ALL_NODES_ROLL },
    apiServerProfiling: { kind: "rolling", effect: CONTROL_PLANE_ROLL },
    requireMetadataTokens: { kind: "in-place", effect: "instance metadata options updated in place where the cloud accepts it" },
    sshHostKeys: {
        kind: "in-place",
        effect: "no node is replaced: to `unpinned` the host-key steps are deleted and every SSH step is updated without a key; to `console` each running instance's key is read from its console (an instance whose console scrolled past its boot fails its host-key step: docs/security.md#ssh-host-keys) and every SSH step is updated with it, re-running its idempotent script once",
    },

    // etcd backup
    etcdBackupRotation: { kind: "rolling", effect: `the value is in node.env: ${CONTROL_PLANE_ROLL}` },
    etcdBackupBucket: { kind: "in-place", effect: "the export Secret and CronJob are updated in place" },
    etcdBackupEndpoint: { kind: "in-place", effect: "the export Secret is updated in place" },
    etcdBackupRegion: { kind: "in-place", effect: "the export Secret is updated in place" },
    etcdBackupAccessKeyId: { kind: "in-place", effect: "the export Secret is updated in place" },
    etcdBackupSecretAccessKey: { kind: "in-place", effect: "the export Secret is updated in place" },

    // Add-ons
    cni: {
        kind: "refused",
        tracked: true,
        effect: "two CNIs on one cluster: pods of the old network lose connectivity and the old CNI's state stays on every node",
        safePath: NEW_CLUSTER,
    },
    volumeType: {
        kind: "refused",
        tracked: true,
        effect: "StorageClass parameters are immutable: the helm upgrade of EBS CSI would change `ebs-sc`'s `type` and Kubernetes rejects it (the `ebs-sc` class is not re-created)",
        safePath:
            "keep volumeType; for volumes of another type, create your own StorageClass (provisioner ebs.csi.aws.com, parameters.type set to the new type) and name it in the PersistentVolumeClaims, or list ebs-sc unchanged plus a class of another name in addonOverrides.ebsCsi.values.storageClasses (a list replaces ours)",
    },
    ebsCsi: { kind: "in-place", effect: "the release is installed or removed" },
    loadBalancerController: { kind: "in-place", effect: "the release is installed or removed" },
    autoscaler: { kind: "in-place", effect: "the release is installed or removed" },
    kasten: {
        kind: "in-place",
        tracked: true,
        effect: "the release is installed or removed; removing it deletes the PersistentVolumeClaims the K10 chart created (its catalog of restore points, jobs, logs): a warning at preview says so",
        warn: (from, to) =>
            from === true && to === false
                ? "kasten: true → false uninstalls K10: its PersistentVolumeClaims (the catalog of restore points, jobs, logs) are deleted with it. Export the catalog first (K10 disaster recovery) if the restore points must stay usable."
                : undefined,
    },
    metricsServer: { kind: "in-place", effect: "the release is installed or removed (kubectl top and HorizontalPodAutoscalers need it)" },
    autoscalerScaleDownUnneededTime: { kind: "in-place", effect: "helm upgrade of the autoscaler" },
    autoscalerScaleDownDelayAfterAdd: { kind: "in-place", effect: "helm upgrade of the autoscaler" },
    addonOverrides: {
        kind: "in-place",
        effect: "helm upgrade of the add-ons named in it; a controller's chart version also updates the control-plane role's policy in place",
    },
};

/** Keys whose values go into the `lifecycle` output and are compared at the next preview. */
export const TRACKED_KEYS = Object.entries(CHANGE_POLICY)
    .filter(([, policy]) => policy.tracked)
    .map(([key]) => key);

/** A change that may not go ahead on a running cluster. */
export interface RefusedChange {
    key: string;
    from: LifecycleValue;
    to: LifecycleValue;
    message: string;
}

/**
 * Compares the tracked settings with the previous state. First run (no previous state): nothing
 * is refused. Keys that are absent on either side (older state, renamed key) are not compared.
 */
export function refusedChanges(previous: LifecycleState | undefined, current: Record<string, LifecycleValue>, project = "zadara-eksd"): RefusedChange[] {
    if (!previous) {
        return [];
    }
    const refused: RefusedChange[] = [];
    for (const key of TRACKED_KEYS) {
        const from = previous.settings[key];
        const to = current[key];
        if (from === undefined || to === undefined || from === to) {
            continue;
        }
        const policy = CHANGE_POLICY[key];
        let why: { reason: string; safePath: string } | undefined;
        if (policy.kind === "refused") {
            why = { reason: `${policy.effect}.`, safePath: policy.safePath ?? "" };
        } else {
            why = policy.refuse?.(from, to, { previous: previous.settings, current });
        }
        if (why) {
            refused.push({
                key,
                from,
                to,
                message: `${project}:${key}: change from ${JSON.stringify(from)} to ${JSON.stringify(to)} is refused on a running cluster: ${why.reason} Safe path: ${why.safePath}`,
            });
        }
    }
    return refused;
}

/** Warnings of the changes that go ahead but lose something (e.g. K10's data). */
export function changeWarnings(previous: LifecycleState | undefined, current: Record<string, LifecycleValue>): string[] {
    if (!previous) {
        return [];
    }
    return TRACKED_KEYS.map((key) => {
        const from = previous.settings[key];
        const to = current[key];
        return from === undefined || to === undefined || from === to ? undefined : CHANGE_POLICY[key].warn?.(from, to);
    }).filter((warning): warning is string => warning !== undefined);
}

/** Thrown at preview for refused changes: the messages only, no stack trace. */
export class RefusedChangeError extends pulumi.RunError {
    constructor(readonly refused: RefusedChange[]) {
        super(refused.map((change) => change.message).join("\n"));
    }
}

/**
 * The previous state once every change passed the table. The previous state is an Output (a
 * StackReference), so the refusal cannot be a synchronous throw: this Output rejects instead,
 * and every node, bootstrap step and the Kubernetes provider take it as an input, so the preview
 * fails with the messages before any of them would change.
 */
export function approvedPrevious(
    previous: pulumi.Input<LifecycleState | undefined>,
    current: Record<string, LifecycleValue>,
): pulumi.Output<LifecycleState | undefined> {
    return pulumi.output(previous).apply((state) => {
        const refused = refusedChanges(state, current);
        if (refused.length > 0) {
            throw new RefusedChangeError(refused);
        }
        for (const warning of changeWarnings(state, current)) {
            void pulumi.log.warn(warning);
        }
        return state;
    });
}

function cell(text: string): string {
    return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** Which nodes a change of the key replaces: the expensive part of a change, shown before it happens. */
export type ReplacedNodes = "none" | "control-plane" | "workers" | "all";

export function replacedNodes(policy: ChangePolicy): ReplacedNodes {
    if (policy.kind !== "rolling") {
        return "none";
    }
    // Every control-plane roll text starts with this phrase (nodeKeyName's differs only after it).
    const controlPlane = policy.effect.includes("control plane: node 1 → n, one at a time (a new node joins and passes its gate");
    const workers = policy.effect.includes(WORKER_ROLL);
    return controlPlane && workers ? "all" : controlPlane ? "control-plane" : workers ? "workers" : "none";
}

const REPLACED_TEXT: Record<ReplacedNodes, string> = {
    none: "—",
    "control-plane": "every control-plane node",
    workers: "every worker of the affected groups",
    all: "every control-plane node, then every worker",
};

/** The change table: one row per key, in table order, after a line with the per-node worst cases. */
export function renderChangeTable(): string {
    const lines = [
        `Worst case a replaced node can hold \`pulumi up\` (the sum of its bounded waits, from the constants the nodes get): ` +
            `${formatDuration(controlPlaneNodeBudgetSeconds())} per control-plane node, ${formatDuration(workerGroupBudgetSeconds(1))} per worker ` +
            `(maxSurge 1). A healthy node takes minutes.`,
        "",
        "| key | change on a running cluster | nodes replaced | what `pulumi up` does |",
        "|---|---|---|---|",
    ];
    for (const [key, policy] of Object.entries(CHANGE_POLICY)) {
        const what = policy.kind === "refused" ? `refused at preview: ${policy.effect}. Safe path: ${policy.safePath}` : policy.effect;
        lines.push(`| \`${key}\` | ${policy.kind} | ${REPLACED_TEXT[replacedNodes(policy)]} | ${cell(what)} |`);
    }
    return lines.join("\n");
}
