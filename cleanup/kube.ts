// The Kubernetes side: delete what makes the controllers create cloud resources, so that they
// remove those resources themselves (LoadBalancer Services -> NLB/ELB + SGs, Ingresses -> ALB,
// PVCs of Delete-policy PVs -> EBS volumes). Retain PVs and Retain snapshot contents tell the
// cloud sweep which volumes and snapshots must stay.
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

/** The few calls the cleanup makes; `KubeClient` implements them with @kubernetes/client-node. */
export interface KubeApi {
    loadBalancerServices(): Promise<ObjectRef[]>;
    ingresses(): Promise<ObjectRef[]>;
    persistentVolumes(): Promise<PersistentVolumeInfo[]>;
    pods(): Promise<PodInfo[]>;
    /** Empty when the snapshot CRDs are not installed. */
    snapshotContents(): Promise<SnapshotContentInfo[]>;
    deleteService(ref: ObjectRef): Promise<void>;
    deleteIngress(ref: ObjectRef): Promise<void>;
    deleteClaim(ref: ObjectRef): Promise<void>;
    deletePod(ref: ObjectRef): Promise<void>;
}

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
}

const ref = (r: ObjectRef) => `${r.namespace}/${r.name}`;

/** `aws://us-east-1a/vol-123` (in-tree) or `vol-123` (CSI) -> `vol-123`. */
export function volumeIdOf(handle: string | undefined): string | undefined {
    return handle ? handle.split("/").pop() : undefined;
}

export async function cleanKubernetes(api: KubeApi, log: Logger, options: { dryRun: boolean }): Promise<KubeOutcome> {
    const outcome: KubeOutcome = { reachable: false, deletions: 0, pvNames: new Set(), keepVolumes: new Map(), keepSnapshots: new Map() };
    let services: ObjectRef[];
    let ingresses: ObjectRef[];
    let pvs: PersistentVolumeInfo[];
    let pods: PodInfo[];
    let contents: SnapshotContentInfo[];
    try {
        services = await api.loadBalancerServices();
        [ingresses, pvs, pods, contents] = await Promise.all([api.ingresses(), api.persistentVolumes(), api.pods(), api.snapshotContents()]);
    } catch (error) {
        log.info(`the Kubernetes API did not answer (${(error as Error).message}): skipping the Kubernetes side, sweeping the cloud side by tags`);
        return outcome;
    }
    outcome.reachable = true;

    const claims: ObjectRef[] = [];
    for (const pv of pvs) {
        outcome.pvNames.add(pv.name);
        if (pv.reclaimPolicy === "Delete") {
            if (pv.claim) {
                claims.push(pv.claim);
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
    const claimKeys = new Set(claims.map(ref));
    // A claim stays until no pod mounts it: those pods go too (their controllers cannot
    // start new ones on a claim that is being deleted).
    const blockingPods = pods.filter((pod) => pod.claims.some((claim) => claimKeys.has(`${pod.namespace}/${claim}`)));

    const steps: Array<[string, ObjectRef[], (r: ObjectRef) => Promise<void>]> = [
        ["Service", services, (r) => api.deleteService(r)],
        ["Ingress", ingresses, (r) => api.deleteIngress(r)],
        ["PersistentVolumeClaim", claims, (r) => api.deleteClaim(r)],
        ["Pod", blockingPods, (r) => api.deletePod(r)],
    ];
    for (const [kind, items, remove] of steps) {
        for (const item of items) {
            if (options.dryRun) {
                log.info(`would delete ${kind} ${ref(item)}`);
                continue;
            }
            try {
                await remove(item);
                outcome.deletions++;
                log.info(`deleted ${kind} ${ref(item)}`);
            } catch (error) {
                // Its cloud resources are still swept by their tags below.
                log.info(`could not delete ${kind} ${ref(item)}: ${(error as Error).message}`);
            }
        }
    }
    return outcome;
}
