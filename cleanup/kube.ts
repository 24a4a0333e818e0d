// The Kubernetes side: delete what makes the controllers create cloud resources, so that they
// remove those resources themselves (LoadBalancer Services -> NLB/ELB + SGs, Ingresses -> ALB,
// PVCs of Delete-policy PVs -> EBS volumes). Retain PVs and Retain snapshot contents tell the
// cloud sweep which volumes and snapshots must stay.
//
// Only an API that cannot be reached may be read as "the cluster is gone". An API that answers
// with an error (401/403 of an expired or revoked credential, 5xx, ...) still holds the reclaim
// policies we cannot read: the cleanup stops (KubeRefusedError) rather than sweep Retain data.
import type { Logger } from "./types";

export interface ObjectRef {
    namespace: string;
    name: string;
}
export interface PersistentVolumeInfo {
    name: string;
    reclaimPolicy: string;
    claim?: ObjectRef;
    volumeId?: string;
}
export interface PodInfo extends ObjectRef {
    claims: string[];
}
export interface SnapshotContentInfo {
    name: string;
    deletionPolicy: string;
    snapshotId?: string;
}
/** A controller workload (Deployment or DaemonSet) and how many of its pods are ready. */
export interface WorkloadInfo extends ObjectRef {
    kind: "Deployment" | "DaemonSet";
    ready: number;
}

/** The few calls the cleanup makes; `KubeClient` implements them with @kubernetes/client-node. */
export interface KubeApi {
    loadBalancerServices(): Promise<ObjectRef[]>;
    ingresses(): Promise<ObjectRef[]>;
    persistentVolumes(): Promise<PersistentVolumeInfo[]>;
    pods(): Promise<PodInfo[]>;
    /** Empty when the snapshot CRDs are not installed. */
    snapshotContents(): Promise<SnapshotContentInfo[]>;
    /** Deployments and DaemonSets of every namespace (the controllers among them). */
    workloads(): Promise<WorkloadInfo[]>;
    /** Each delete resolves true when the object was deleted, false when it was already gone (404). */
    deleteService(ref: ObjectRef): Promise<boolean>;
    deleteIngress(ref: ObjectRef): Promise<boolean>;
    deleteClaim(ref: ObjectRef): Promise<boolean>;
    deletePod(ref: ObjectRef): Promise<boolean>;
}

/** The controllers whose work the grace period waits for (release names in addons/charts.ts). */
export const LOAD_BALANCER_CONTROLLERS = ["aws-load-balancer-controller", "aws-cloud-controller-manager"];
export const VOLUME_CONTROLLERS = ["ebs-csi-controller"];

export interface KubeOutcome {
    /** The API answered the listing. */
    reachable: boolean;
    /** Deletions requested: the controllers have work to do. */
    deletions: number;
    /** Every PV name of the cluster (a CSI volume tagged with one of them is ours). */
    pvNames: Set<string>;
    /** Volumes of Retain PVs and snapshots of Retain contents: never deleted. */
    keepVolumes: Map<string, string>;
    keepSnapshots: Map<string, string>;
    /**
     * What a RUNNING controller now has to remove, by the object it was made for:
     * `Service ns/name`, `Ingress ns/name`, `PersistentVolume name` (see tags.ts createdForOf)
     * and the volume ids of deleted claims. Empty when no controller has a ready replica.
     */
    awaited: Set<string>;
    awaitedVolumeIds: Set<string>;
    /** Names of the controllers with at least one ready replica. */
    readyControllers: string[];
}

/** The API answered but refused or failed: reclaim policies are unknown, nothing may be swept. */
export class KubeRefusedError extends Error {
    constructor(
        readonly what: string,
        readonly status: number | undefined,
        detail: string,
    ) {
        super(`${what}: ${detail}`);
        this.name = "KubeRefusedError";
    }
}

/** Errors of the network below HTTP: nothing answered at that address. */
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EPIPE"]);

/** A call that got no answer in time (kube-client.ts). */
export class KubeNoAnswerError extends Error {
    constructor(what: string, seconds: number) {
        super(`${what}: no answer within ${seconds}s`);
        this.name = "KubeNoAnswerError";
    }
}

/** "unreachable" (no answer at all) or "refused" (an HTTP answer, or an error we cannot place). */
export function kubeFailureOf(error: unknown): "unreachable" | "refused" {
    if (error instanceof KubeNoAnswerError) {
        return "unreachable";
    }
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && UNREACHABLE_CODES.has(code)) {
        return "unreachable";
    }
    return "refused";
}

function httpStatusOf(error: unknown): number | undefined {
    const code = (error as { code?: unknown }).code;
    return typeof code === "number" ? code : undefined;
}

function shortMessage(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    // ApiException messages carry the whole body and headers: the first line says enough.
    return text.split("\n")[0].slice(0, 200);
}

/** The error that stops the cleanup, worded with the way forward. */
export function refusal(what: string, error: unknown): KubeRefusedError {
    const status = httpStatusOf(error);
    const detail =
        status === 401 || status === 403
            ? `the Kubernetes API refused the credential (HTTP ${status}). The admin certificate stored at the last \`pulumi up\` may have expired or been revoked. ` +
              "Nothing was deleted, so no Retain volume or snapshot is at risk. Fix: get a fresh admin kubeconfig (README: admin access) and pass it with " +
              '--kubeconfig <file>, or for `pulumi destroy` export ZADARA_EKSD_CLEANUP_KUBECONFIG="$(cat <file>)" where destroy runs, then run it again'
            : `the Kubernetes API answered with an error (${status !== undefined ? `HTTP ${status}` : shortMessage(error)}), so the reclaim policies of the volumes cannot be read. ` +
              "Nothing was deleted. Fix: make the API answer (or pass a working --kubeconfig), then run the cleanup again";
    return new KubeRefusedError(what, status, detail);
}

const refText = (r: ObjectRef) => `${r.namespace}/${r.name}`;

/** `aws://us-east-1a/vol-123` (in-tree) or `vol-123` (CSI) -> `vol-123`. */
export function volumeIdOf(handle: string | undefined): string | undefined {
    return handle ? handle.split("/").pop() : undefined;
}

export interface KubeSideOptions {
    dryRun: boolean;
    /** Milliseconds left before the run's deadline; no delete starts after it. */
    remainingMs: () => number;
}

interface DeleteStep {
    kind: string;
    items: ObjectRef[];
    remove: (r: ObjectRef) => Promise<boolean>;
    /** What a running controller removes for it, when deleted. */
    awaits: (r: ObjectRef) => string[];
}

export async function cleanKubernetes(api: KubeApi, log: Logger, options: KubeSideOptions): Promise<KubeOutcome> {
    const outcome: KubeOutcome = {
        reachable: false,
        deletions: 0,
        pvNames: new Set(),
        keepVolumes: new Map(),
        keepSnapshots: new Map(),
        awaited: new Set(),
        awaitedVolumeIds: new Set(),
        readyControllers: [],
    };
    let services: ObjectRef[];
    let ingresses: ObjectRef[];
    let pvs: PersistentVolumeInfo[];
    let pods: PodInfo[];
    let contents: SnapshotContentInfo[];
    let workloads: WorkloadInfo[];
    try {
        services = await api.loadBalancerServices();
        [ingresses, pvs, pods, contents, workloads] = await Promise.all([
            api.ingresses(),
            api.persistentVolumes(),
            api.pods(),
            api.snapshotContents(),
            api.workloads(),
        ]);
    } catch (error) {
        if (kubeFailureOf(error) === "refused") {
            throw refusal("listing the cluster's objects", error);
        }
        log.info(`the Kubernetes API did not answer (${shortMessage(error)}): skipping the Kubernetes side, sweeping the cloud side by tags`);
        return outcome;
    }
    outcome.reachable = true;
    outcome.readyControllers = workloads
        .filter((w) => w.ready > 0 && [...LOAD_BALANCER_CONTROLLERS, ...VOLUME_CONTROLLERS].includes(w.name))
        .map((w) => w.name);
    const lbControllerRuns = outcome.readyControllers.some((name) => LOAD_BALANCER_CONTROLLERS.includes(name));
    const volumeControllerRuns = outcome.readyControllers.some((name) => VOLUME_CONTROLLERS.includes(name));
    log.info(
        outcome.readyControllers.length > 0
            ? `controllers with a ready replica: ${outcome.readyControllers.join(", ")}`
            : "no controller has a ready replica: nothing will remove its cloud resources, the sweep does it without a grace period",
    );

    const claims: Array<{ ref: ObjectRef; pv: PersistentVolumeInfo }> = [];
    for (const pv of pvs) {
        outcome.pvNames.add(pv.name);
        if (pv.reclaimPolicy === "Delete") {
            if (pv.claim) {
                claims.push({ ref: pv.claim, pv });
            }
        } else if (pv.volumeId) {
            outcome.keepVolumes.set(pv.volumeId, `PV ${pv.name} has reclaimPolicy ${pv.reclaimPolicy}`);
        }
    }
    for (const content of contents) {
        if (content.deletionPolicy !== "Delete" && content.snapshotId) {
            outcome.keepSnapshots.set(content.snapshotId, `VolumeSnapshotContent ${content.name} has deletionPolicy ${content.deletionPolicy}`);
        }
    }
    const claimKeys = new Set(claims.map((c) => refText(c.ref)));
    const pvOfClaim = new Map(claims.map((c) => [refText(c.ref), c.pv]));
    // A claim stays until no pod mounts it: those pods go too (their controllers cannot
    // start new ones on a claim that is being deleted).
    const blockingPods = pods.filter((pod) => pod.claims.some((claim) => claimKeys.has(`${pod.namespace}/${claim}`)));

    const steps: DeleteStep[] = [
        { kind: "Service", items: services, remove: (r) => api.deleteService(r), awaits: (r) => (lbControllerRuns ? [`Service ${refText(r)}`] : []) },
        { kind: "Ingress", items: ingresses, remove: (r) => api.deleteIngress(r), awaits: (r) => (lbControllerRuns ? [`Ingress ${refText(r)}`] : []) },
        {
            kind: "PersistentVolumeClaim",
            items: claims.map((c) => c.ref),
            remove: (r) => api.deleteClaim(r),
            awaits: (r) => {
                const pv = pvOfClaim.get(refText(r));
                if (!volumeControllerRuns || !pv) {
                    return [];
                }
                if (pv.volumeId) {
                    outcome.awaitedVolumeIds.add(pv.volumeId);
                }
                return [`PersistentVolume ${pv.name}`];
            },
        },
        { kind: "Pod", items: blockingPods, remove: (r) => api.deletePod(r), awaits: () => [] },
    ];
    for (const step of steps) {
        if (options.dryRun) {
            for (const item of step.items) {
                log.info(`would delete ${step.kind} ${refText(item)}`);
            }
            continue;
        }
        if (step.items.length > 0 && options.remainingMs() <= 0) {
            log.info(`deadline reached: ${step.items.length} ${step.kind}(s) not deleted`);
            continue;
        }
        // One step's deletes run together: the deadline bounds the step, not each object.
        const results = await Promise.allSettled(step.items.map((item) => step.remove(item)));
        results.forEach((result, i) => {
            const item = step.items[i];
            if (result.status === "fulfilled") {
                if (result.value) {
                    outcome.deletions++;
                    step.awaits(item).forEach((key) => outcome.awaited.add(key));
                    log.info(`deleted ${step.kind} ${refText(item)}`);
                } else {
                    log.info(`${step.kind} ${refText(item)} was already gone (404)`);
                }
                return;
            }
            if (kubeFailureOf(result.reason) === "refused" && [401, 403].includes(httpStatusOf(result.reason) ?? 0)) {
                throw refusal(`deleting ${step.kind} ${refText(item)}`, result.reason);
            }
            // Its cloud resources are still swept by their tags below.
            log.info(`could not delete ${step.kind} ${refText(item)}: ${shortMessage(result.reason)}`);
        });
    }
    return outcome;
}
