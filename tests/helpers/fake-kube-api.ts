// A tiny Kubernetes API on loopback serving the few list and delete endpoints the cleanup
// uses, so the real @kubernetes/client-node code path is exercised. A delete can run a hook
// that plays the controller's part (removing its cloud resource).
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface KubeState {
    services: unknown[];
    ingresses: unknown[];
    persistentvolumes: unknown[];
    pods: unknown[];
    /** Undefined: the snapshot CRDs are not installed (404). */
    volumesnapshotcontents?: unknown[];
    /** The controllers' workloads; undefined: none installed. */
    deployments?: unknown[];
    daemonsets?: unknown[];
    /** Every request is answered with this status (401: an expired credential). */
    refuseWith?: number;
}

/** A ready Deployment, as the controllers' releases create them. */
export function readyDeployment(namespace: string, name: string, ready = 1): unknown {
    return { metadata: { namespace, name }, status: { replicas: 1, readyReplicas: ready } };
}

export interface FakeKubeApi {
    url: string;
    deletes: string[];
    kubeconfigFile: string;
    stop(): Promise<void>;
}

const LISTS: Record<string, keyof KubeState> = {
    "/api/v1/services": "services",
    "/apis/networking.k8s.io/v1/ingresses": "ingresses",
    "/api/v1/persistentvolumes": "persistentvolumes",
    "/api/v1/pods": "pods",
    "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents": "volumesnapshotcontents",
    "/apis/apps/v1/deployments": "deployments",
    "/apis/apps/v1/daemonsets": "daemonsets",
};
/** Lists the real API always serves (empty rather than 404 when nothing is there). */
const ALWAYS_SERVED = new Set<keyof KubeState>(["deployments", "daemonsets"]);

export function kubeconfigFor(server: string): string {
    return [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: fake`,
        "  cluster:",
        `    server: ${server}`,
        "    insecure-skip-tls-verify: true",
        "users:",
        "- name: admin",
        "  user:",
        "    token: fake-token",
        "contexts:",
        "- name: fake",
        "  context:",
        "    cluster: fake",
        "    user: admin",
        "current-context: fake",
        "",
    ].join("\n");
}

/**
 * `onDelete` plays the controller (and may never settle: a hung API). `gone` lists objects
 * (`persistentvolumeclaims ns/name`) that are listed but answer a delete with 404.
 */
export function startFakeKubeApi(
    state: KubeState,
    onDelete: (kind: string, namespace: string, name: string) => Promise<void> = async () => {},
    gone: ReadonlySet<string> = new Set(),
): Promise<FakeKubeApi> {
    const deletes: string[] = [];
    const server = http.createServer((req, res) => {
        const url = (req.url ?? "").split("?")[0];
        const send = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
        if (state.refuseWith !== undefined) {
            const reason = state.refuseWith === 401 ? "Unauthorized" : "Forbidden";
            send(state.refuseWith, { kind: "Status", apiVersion: "v1", status: "Failure", reason, message: reason, code: state.refuseWith });
            return;
        }
        if (req.method === "GET" && LISTS[url]) {
            const key = LISTS[url];
            const items = state[key] ?? (ALWAYS_SERVED.has(key) ? [] : undefined);
            if (items === undefined) {
                send(404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
                return;
            }
            send(200, { apiVersion: "v1", kind: "List", metadata: { resourceVersion: "1" }, items });
            return;
        }
        const match = /^\/(?:api\/v1|apis\/networking\.k8s\.io\/v1)\/namespaces\/([^/]+)\/(services|ingresses|persistentvolumeclaims|pods)\/([^/]+)$/.exec(url);
        if (req.method === "DELETE" && match) {
            const [, namespace, kind, name] = match;
            deletes.push(`${kind} ${namespace}/${name}`);
            if (gone.has(`${kind} ${namespace}/${name}`)) {
                send(404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
                return;
            }
            onDelete(kind, namespace, name).then(
                () => send(200, { kind: "Status", apiVersion: "v1", status: "Success", code: 200 }),
                (error) => send(500, { kind: "Status", apiVersion: "v1", status: "Failure", message: String(error), code: 500 }),
            );
            return;
        }
        send(404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", message: `${req.method} ${url}`, code: 404 });
    });
    return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            const url = `http://127.0.0.1:${port}`;
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-kube-"));
            const kubeconfigFile = path.join(dir, "kubeconfig");
            fs.writeFileSync(kubeconfigFile, kubeconfigFor(url));
            resolve({
                url,
                deletes,
                kubeconfigFile,
                stop: () =>
                    new Promise((r) => {
                        server.closeAllConnections();
                        server.close(() => {
                            fs.rmSync(dir, { recursive: true, force: true });
                            r();
                        });
                    }),
            });
        });
    });
}
