// What the acceptance run checks on the live cluster, through @kubernetes/client-node with the
// stack's kubeconfig output. Everything it creates lives in one namespace, removed before the
// day-2 changes (and before the destroy), so that the cleanup has only the controllers' own
// leftovers to find. Not run offline: tests drive the phases with fakes (tests/acceptance.test.ts).
import type { ClusterChecks, WriteProbe } from "./types";

export const TEST_NAMESPACE = "zadara-eksd-acceptance";
/** Serves HTTP on 8080 (Kubernetes' own e2e test image). */
const HTTP_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53";
const STORAGE_CLASS = "ebs-sc";
const SNAPSHOT_CLASS = "ebs-vsc";
const POLL_MS = 5_000;

type K8s = typeof import("@kubernetes/client-node");
type Sleep = (ms: number) => Promise<void>;
const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value (not undefined); the phase's timeout bounds it. */
async function until<T>(check: () => Promise<T | undefined>, sleep: Sleep): Promise<T> {
    for (;;) {
        const value = await check().catch(() => undefined);
        if (value !== undefined) {
            return value;
        }
        await sleep(POLL_MS);
    }
}

function kubeconfigOf(outputs: Record<string, unknown>): string {
    const text = outputs.kubeconfig;
    if (typeof text !== "string" || text.length === 0) {
        throw new Error("the stack has no kubeconfig output");
    }
    return text;
}

async function clients(outputs: Record<string, unknown>) {
    const k8s: K8s = await import("@kubernetes/client-node");
    const config = new k8s.KubeConfig();
    config.loadFromString(kubeconfigOf(outputs));
    return { k8s, core: config.makeApiClient(k8s.CoreV1Api), custom: config.makeApiClient(k8s.CustomObjectsApi) };
}

const cpuMillis = (quantity: string | undefined): number => (quantity?.endsWith("m") ? Number(quantity.slice(0, -1)) : Number(quantity ?? 0) * 1000);

export async function liveClusterChecks(outputs: Record<string, unknown>, sleep: Sleep = realSleep): Promise<ClusterChecks> {
    const { core, custom } = await clients(outputs);
    const ns = TEST_NAMESPACE;
    const ensureNamespace = async () => {
        try {
            await core.createNamespace({ body: { metadata: { name: ns } } });
        } catch (error) {
            if ((error as { code?: number }).code !== 409) {
                throw error;
            }
        }
    };
    const readyNodes = async () =>
        (await core.listNode()).items.filter((n) => (n.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"));

    return {
        healthGate(out) {
            const gate = out.healthGate;
            if (typeof gate !== "string" || gate.trim() === "") {
                return Promise.reject(new Error("the stack's healthGate output is empty: the health gate did not run"));
            }
            return Promise.resolve(`health gate: ${gate.trim().split("\n").at(-1)}`);
        },
        async nodesReady() {
            const nodes = (await core.listNode()).items;
            const ready = await readyNodes();
            if (nodes.length === 0 || ready.length !== nodes.length) {
                throw new Error(`${ready.length} of ${nodes.length} nodes Ready`);
            }
            return `${nodes.length} nodes Ready (${nodes.map((n) => n.metadata?.name).join(", ")})`;
        },
        async loadBalancerAnswers() {
            await ensureNamespace();
            const labels = { app: "acceptance-web" };
            await core.createNamespacedPod({
                namespace: ns,
                body: {
                    metadata: { name: "web", labels },
                    spec: { containers: [{ name: "web", image: HTTP_IMAGE, args: ["netexec", "--http-port=8080"], ports: [{ containerPort: 8080 }] }] },
                },
            });
            await core.createNamespacedService({
                namespace: ns,
                body: { metadata: { name: "web" }, spec: { type: "LoadBalancer", selector: labels, ports: [{ port: 80, targetPort: 8080 }] } },
            });
            const address = await until(async () => {
                const ingress = (await core.readNamespacedService({ name: "web", namespace: ns })).status?.loadBalancer?.ingress?.[0];
                return ingress?.ip ?? ingress?.hostname;
            }, sleep);
            const status = await until(async () => {
                const response = await fetch(`http://${address}/hostname`, { signal: AbortSignal.timeout(5_000) });
                return response.ok ? response.status : undefined;
            }, sleep);
            return `http://${address}/ answered ${status}`;
        },
        async volumeBoundAndSnapshotted() {
            await ensureNamespace();
            await core.createNamespacedPersistentVolumeClaim({
                namespace: ns,
                body: {
                    metadata: { name: "data" },
                    spec: { accessModes: ["ReadWriteOnce"], storageClassName: STORAGE_CLASS, resources: { requests: { storage: "1Gi" } } },
                },
            });
            // A consumer: the class may bind only when a pod uses the claim.
            await core.createNamespacedPod({
                namespace: ns,
                body: {
                    metadata: { name: "data-user" },
                    spec: {
                        containers: [{ name: "c", image: HTTP_IMAGE, args: ["pause"], volumeMounts: [{ name: "data", mountPath: "/data" }] }],
                        volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
                    },
                },
            });
            const volume = await until(async () => {
                const claim = await core.readNamespacedPersistentVolumeClaim({ name: "data", namespace: ns });
                return claim.status?.phase === "Bound" ? claim.spec?.volumeName : undefined;
            }, sleep);
            await custom.createNamespacedCustomObject({
                group: "snapshot.storage.k8s.io",
                version: "v1",
                namespace: ns,
                plural: "volumesnapshots",
                body: {
                    apiVersion: "snapshot.storage.k8s.io/v1",
                    kind: "VolumeSnapshot",
                    metadata: { name: "data-snap" },
                    spec: { volumeSnapshotClassName: SNAPSHOT_CLASS, source: { persistentVolumeClaimName: "data" } },
                },
            });
            await until(async () => {
                const snap = (await custom.getNamespacedCustomObject({
                    group: "snapshot.storage.k8s.io",
                    version: "v1",
                    namespace: ns,
                    plural: "volumesnapshots",
                    name: "data-snap",
                })) as { status?: { readyToUse?: boolean } };
                return snap.status?.readyToUse === true ? true : undefined;
            }, sleep);
            return `claim bound to ${volume}; snapshot data-snap ready to use`;
        },
        async autoscalerAddsNode() {
            await ensureNamespace();
            const workers = (await readyNodes()).filter((n) => !Object.keys(n.metadata?.labels ?? {}).includes("node-role.kubernetes.io/control-plane"));
            const before = (await readyNodes()).length;
            const largest = Math.max(...workers.map((n) => cpuMillis(n.status?.allocatable?.cpu)), 1000);
            // One pod more than the workers, each asking for 60% of the largest: at least one stays pending.
            for (let i = 0; i <= workers.length; i++) {
                await core.createNamespacedPod({
                    namespace: ns,
                    body: {
                        metadata: { name: `pending-${i}` },
                        spec: {
                            containers: [{ name: "c", image: HTTP_IMAGE, args: ["pause"], resources: { requests: { cpu: `${Math.floor(largest * 0.6)}m` } } }],
                        },
                    },
                });
            }
            const after = await until(async () => {
                const count = (await readyNodes()).length;
                return count > before ? count : undefined;
            }, sleep);
            return `Ready nodes ${before} → ${after} for ${workers.length + 1} pods of ${Math.floor(largest * 0.6)}m CPU`;
        },
        async removeTestObjects() {
            try {
                await core.deleteNamespace({ name: ns });
            } catch (error) {
                if ((error as { code?: number }).code === 404) {
                    return;
                }
                throw error;
            }
            await until(async () => {
                try {
                    await core.readNamespace({ name: ns });
                    return undefined;
                } catch (error) {
                    return (error as { code?: number }).code === 404 ? true : undefined;
                }
            }, sleep);
        },
    };
}

/** A write that takes longer than `ms` counts as failed (its timer is cleared either way). */
async function writeWithin(write: Promise<void>, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("write timed out")), ms);
    });
    try {
        await Promise.race([write, timeout]);
    } finally {
        clearTimeout(timer);
        write.catch(() => undefined);
    }
}

/** A ConfigMap written once a second; the longest stretch of failed writes is the write outage. */
export async function liveWriteProbe(outputs: Record<string, unknown>, now: () => number = Date.now): Promise<WriteProbe> {
    const { core } = await clients(outputs);
    const name = "zadara-eksd-acceptance-probe";
    let running = false;
    let loop: Promise<void> = Promise.resolve();
    const stats = { writes: 0, failures: 0, longestOutageMs: 0 };
    const write = async (n: number) => {
        const body = { metadata: { name }, data: { n: String(n) } };
        try {
            await core.replaceNamespacedConfigMap({ name, namespace: "default", body });
        } catch (error) {
            if ((error as { code?: number }).code !== 404) {
                throw error;
            }
            await core.createNamespacedConfigMap({ namespace: "default", body });
        }
    };
    return {
        start() {
            running = true;
            loop = (async () => {
                let failingSince: number | undefined;
                for (let n = 0; running; n++) {
                    try {
                        await writeWithin(write(n), 5_000);
                        stats.writes += 1;
                        if (failingSince !== undefined) {
                            stats.longestOutageMs = Math.max(stats.longestOutageMs, now() - failingSince);
                            failingSince = undefined;
                        }
                    } catch {
                        stats.failures += 1;
                        failingSince ??= now();
                    }
                    await realSleep(1_000);
                }
                if (failingSince !== undefined) {
                    stats.longestOutageMs = Math.max(stats.longestOutageMs, now() - failingSince);
                }
            })();
        },
        async stop() {
            running = false;
            await loop;
            await core.deleteNamespacedConfigMap({ name, namespace: "default" }).catch(() => undefined);
            return { ...stats };
        },
    };
}
