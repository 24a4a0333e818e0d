// KubeApi over @kubernetes/client-node (an ES module: loaded on first use, so the cloud-only
// path and the Pulumi program never pay for it). Every call is bounded by a timeout that never
// reaches past the run's deadline.
import type { KubeApi, ObjectRef, PersistentVolumeInfo, PodInfo, SnapshotContentInfo, WorkloadInfo } from "./kube";
import { KubeNoAnswerError, volumeIdOf } from "./kube";

/** Per-call limit of the Kubernetes side (the run's deadline may cut it shorter). */
export const KUBE_CALL_TIMEOUT_MS = 15_000;

async function withTimeout<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new KubeNoAnswerError(what, Math.round(ms / 1000))), Math.max(0, ms));
    });
    try {
        return await Promise.race([promise, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

function isNotFound(error: unknown): boolean {
    return (error as { code?: number }).code === 404;
}

type K8s = typeof import("@kubernetes/client-node");

/** What a list call returns of an object's metadata (V1ObjectMeta types every field optional). */
interface ListedMetadata {
    namespace?: string;
    name?: string;
}

/** A listed object's name: the API server always sets it; a missing one is reported, not passed on. */
function nameOf(list: string, metadata: ListedMetadata | undefined): string {
    const name = metadata?.name;
    if (name === undefined) {
        throw new Error(`${list}: the answer has an item without metadata.name`);
    }
    return name;
}

/** A listed namespaced object's namespace and name, both always set by the API server. */
function refOf(list: string, metadata: ListedMetadata | undefined): ObjectRef {
    const namespace = metadata?.namespace;
    if (namespace === undefined) {
        throw new Error(`${list}: the answer has an item without metadata.namespace`);
    }
    return { namespace, name: nameOf(list, metadata) };
}

export class KubeClient implements KubeApi {
    private constructor(
        private readonly core: import("@kubernetes/client-node").CoreV1Api,
        private readonly networking: import("@kubernetes/client-node").NetworkingV1Api,
        private readonly custom: import("@kubernetes/client-node").CustomObjectsApi,
        private readonly apps: import("@kubernetes/client-node").AppsV1Api,
        private readonly timeoutMs: () => number,
    ) {}

    /** `kubeconfig` is the file's text; `timeoutMs()` is asked before each call (the time left, capped). */
    static async fromKubeconfig(kubeconfig: string, timeoutMs: () => number = () => KUBE_CALL_TIMEOUT_MS): Promise<KubeClient> {
        const k8s: K8s = await import("@kubernetes/client-node");
        const config = new k8s.KubeConfig();
        config.loadFromString(kubeconfig);
        return new KubeClient(
            config.makeApiClient(k8s.CoreV1Api),
            config.makeApiClient(k8s.NetworkingV1Api),
            config.makeApiClient(k8s.CustomObjectsApi),
            config.makeApiClient(k8s.AppsV1Api),
            timeoutMs,
        );
    }

    private call<T>(what: string, promise: Promise<T>): Promise<T> {
        return withTimeout(what, Math.min(KUBE_CALL_TIMEOUT_MS, this.timeoutMs()), promise);
    }

    async loadBalancerServices(): Promise<ObjectRef[]> {
        const list = await this.call("list services", this.core.listServiceForAllNamespaces());
        return list.items.filter((s) => s.spec?.type === "LoadBalancer").map((s) => refOf("list services", s.metadata));
    }

    async ingresses(): Promise<ObjectRef[]> {
        const list = await this.call("list ingresses", this.networking.listIngressForAllNamespaces());
        return list.items.map((i) => refOf("list ingresses", i.metadata));
    }

    async persistentVolumes(): Promise<PersistentVolumeInfo[]> {
        const list = await this.call("list persistentvolumes", this.core.listPersistentVolume());
        return list.items.map((pv) => {
            const claim = pv.spec?.claimRef;
            return {
                name: nameOf("list persistentvolumes", pv.metadata),
                reclaimPolicy: pv.spec?.persistentVolumeReclaimPolicy ?? "Delete",
                claim: claim?.name && claim.namespace ? { namespace: claim.namespace, name: claim.name } : undefined,
                volumeId: volumeIdOf(pv.spec?.csi?.volumeHandle ?? pv.spec?.awsElasticBlockStore?.volumeID),
            };
        });
    }

    async pods(): Promise<PodInfo[]> {
        const list = await this.call("list pods", this.core.listPodForAllNamespaces());
        return list.items.map((p) => ({
            ...refOf("list pods", p.metadata),
            claims: (p.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [])),
        }));
    }

    async snapshotContents(): Promise<SnapshotContentInfo[]> {
        try {
            const list = (await this.call(
                "list volumesnapshotcontents",
                this.custom.listClusterCustomObject({
                    group: "snapshot.storage.k8s.io",
                    version: "v1",
                    plural: "volumesnapshotcontents",
                }),
            )) as { items?: Array<{ metadata?: { name?: string }; spec?: { deletionPolicy?: string }; status?: { snapshotHandle?: string } }> };
            return (list.items ?? []).map((c) => ({
                name: c.metadata?.name ?? "",
                deletionPolicy: c.spec?.deletionPolicy ?? "Delete",
                snapshotId: c.status?.snapshotHandle,
            }));
        } catch (error) {
            if (isNotFound(error)) {
                return []; // no snapshot CRDs: no snapshot contents
            }
            throw error;
        }
    }

    async workloads(): Promise<WorkloadInfo[]> {
        const [deployments, daemonSets] = await Promise.all([
            this.call("list deployments", this.apps.listDeploymentForAllNamespaces()),
            this.call("list daemonsets", this.apps.listDaemonSetForAllNamespaces()),
        ]);
        return [
            ...deployments.items.map((d) => ({
                kind: "Deployment" as const,
                ...refOf("list deployments", d.metadata),
                ready: d.status?.readyReplicas ?? 0,
            })),
            ...daemonSets.items.map((d) => ({
                kind: "DaemonSet" as const,
                ...refOf("list daemonsets", d.metadata),
                ready: d.status?.numberReady ?? 0,
            })),
        ];
    }

    /** True when deleted, false when it was already gone. */
    private async remove(what: string, promise: Promise<unknown>): Promise<boolean> {
        try {
            await this.call(what, promise);
            return true;
        } catch (error) {
            if (isNotFound(error)) {
                return false;
            }
            throw error;
        }
    }

    deleteService(r: ObjectRef): Promise<boolean> {
        return this.remove("delete service", this.core.deleteNamespacedService(r));
    }

    deleteIngress(r: ObjectRef): Promise<boolean> {
        return this.remove("delete ingress", this.networking.deleteNamespacedIngress(r));
    }

    deleteClaim(r: ObjectRef): Promise<boolean> {
        return this.remove("delete persistentvolumeclaim", this.core.deleteNamespacedPersistentVolumeClaim(r));
    }

    deletePod(r: ObjectRef): Promise<boolean> {
        return this.remove("delete pod", this.core.deleteNamespacedPod(r));
    }
}
