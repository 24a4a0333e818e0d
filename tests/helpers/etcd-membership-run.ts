// Running cluster/scripts/etcd-membership.sh, etcd-watchdog.sh and node-leave.sh against REAL
// etcd members on loopback, the way a node does: shared by tests/etcd-membership.test.ts and the
// slower roll scenarios in tests/slow/ (npm run rehearse).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after } from "node:test";
import { EtcdCluster } from "./etcd-cluster";
import { removeRunRoot, runStubbedBash, runStubbedBashAsync, StubbedRun } from "./stubbed-bash";
import { scriptForStdin } from "../../cluster/stdin-scripts";

export const SCRIPTS = path.resolve(__dirname, "../../cluster/scripts");
export const SCRIPT = path.join(SCRIPTS, "etcd-membership.sh");
export const WATCHDOG = path.join(SCRIPTS, "etcd-watchdog.sh");

export const clusters: EtcdCluster[] = [];
export const runs: StubbedRun[] = [];
after(async () => {
    await Promise.all(clusters.map((c) => c.cleanup()));
    runs.forEach(removeRunRoot);
});

export function newCluster(): EtcdCluster {
    const cluster = new EtcdCluster();
    clusters.push(cluster);
    return cluster;
}

/** Runs the membership script the way a node does, with the named member as "local". */
export function membership(cluster: EtcdCluster, args: string[], options: { local?: string; env?: Record<string, string> } = {}): StubbedRun {
    const endpoints = options.local ? cluster.member(options.local).clientUrl : cluster.endpoints();
    const run = runStubbedBash(SCRIPT, {
        args,
        hostTools: ["etcdctl"],
        env: {
            ETCDCTL_API: "3",
            ETCD_ENDPOINTS: endpoints,
            ETCD_DIAL_TIMEOUT: "1s",
            ETCD_COMMAND_TIMEOUT: "2s",
            POLL_INTERVAL: "0.2",
            PROGRESS_INTERVAL: "5",
            ...options.env,
        },
        rootEnv: { KUBERNETES_ETC: "etc/kubernetes", STATE_DIR: "var/lib/zadara-eksd", LOG_FILE: "membership.log" },
        timeoutMs: 120_000,
    });
    runs.push(run);
    return run;
}

export function ok(run: StubbedRun, what: string): StubbedRun {
    assert.equal(run.code, 0, `${what} should succeed:\n${run.stderr}`);
    return run;
}

/** The script a retire step (or a bootstrap delete) sends: lib.sh + drain-node.sh + node-leave.sh. */
export const LEAVE_SCRIPT = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-leave-")), "node-leave.sh");
fs.writeFileSync(LEAVE_SCRIPT, scriptForStdin(["drain-node.sh", "node-leave.sh"]));
after(() => fs.rmSync(path.dirname(LEAVE_SCRIPT), { recursive: true, force: true }));

/**
 * node-leave.sh as a retire step runs it on the leaving node: the real etcd-membership.sh with
 * the node's own member as its local endpoint and no ETCD_ENDPOINTS (so it finds the others the
 * way a node does: the client URLs the API lists for the etcd static pods); kubectl/systemctl/
 * curl stubbed (Node registered among 3 control-plane nodes, the local API server stops
 * answering; the drain fails when `drainFails`). `files`: the node's files (default: its
 * kube-apiserver manifest).
 */
export function nodeLeave(
    cluster: EtcdCluster,
    name: string,
    files: Record<string, string> = { "etc/kubernetes/manifests/kube-apiserver.yaml": "kind: Pod\n" },
    options: { drainFails?: boolean } = {},
): StubbedRun {
    const peers = [...cluster.members.values()]
        .filter((m) => m.name !== name)
        .map((m) => m.clientUrl)
        .join(",");
    const run = runStubbedBash(LEAVE_SCRIPT, {
        hostTools: ["etcdctl"],
        env: {
            SLOT_NAME: `slot-of-${name}`,
            ETCDCTL_API: "3",
            ETCD_LOCAL_ENDPOINT: cluster.member(name).clientUrl,
            ETCD_DIAL_TIMEOUT: "1s",
            ETCD_COMMAND_TIMEOUT: "2s",
            ETCD_MEMBERSHIP: SCRIPT,
            POLL_INTERVAL: "0.2",
        },
        rootEnv: {
            KUBERNETES_ETC: "etc/kubernetes",
            MANIFESTS_DIR: "etc/kubernetes/manifests",
            ZADARA_ETC: "etc/kubernetes/zadara",
            STATE_DIR: "var/lib/zadara-eksd",
            CRON_FILE: "etc/cron.d/zadara-eksd",
            SCRIPTS_DIR: "usr/local/lib/zadara-eksd",
            LOG_FILE: "leave.log",
        },
        files,
        stubs: {
            hostname: `echo ${name}`,
            kubectl: `case "$*" in
                *"get nodes -l"*) printf 'node/a\\nnode/b\\nnode/c\\n' ;;
                *"get node ${name} -o jsonpath"*) echo True ;;
                *"get pods -n kube-system -l component=etcd"*) printf '%s,' ${peers.split(",").join(" ")} ;;
                *" drain "*) ${options.drainFails ? "echo 'cannot evict pod default/db-0' >&2; exit 1" : "exit 0"} ;;
                *) exit 0 ;;
            esac`,
            systemctl: "exit 0",
            curl: "exit 7",
        },
        timeoutMs: 120_000,
    });
    runs.push(run);
    return run;
}

/** add (script) -> start with --initial-cluster-state=existing -> wait-healthy (script). */
export async function addMember(cluster: EtcdCluster, name: string, options: { learner?: boolean; wait?: boolean } = {}): Promise<void> {
    const member = await cluster.allocate(name);
    const add = ok(membership(cluster, ["add", name, member.peerUrl, ...(options.learner ? ["--learner"] : [])]), `add ${name}`);
    const initial = /^ETCD_INITIAL_CLUSTER="([^"]+)"$/m.exec(add.stdout);
    assert.ok(initial, `add prints ETCD_INITIAL_CLUSTER:\n${add.stdout}`);
    cluster.startMember(name, initial[1], "existing");
    if (options.wait !== false) {
        ok(membership(cluster, ["wait-healthy", name, "60"]), `wait-healthy ${name}`);
    }
}

/** leave (script, on the leaving node itself) -> stop the old process. */
export async function removeMember(cluster: EtcdCluster, name: string): Promise<StubbedRun> {
    const run = ok(membership(cluster, ["leave", name], { local: name }), `leave ${name}`);
    await cluster.stop(name);
    return run;
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A kubeadm etcd static-pod manifest for `name` (what recover edits). */
export function etcdManifest(cluster: EtcdCluster, name: string): string {
    const member = cluster.member(name);
    return [
        "apiVersion: v1",
        "kind: Pod",
        "metadata: {name: etcd, namespace: kube-system}",
        "spec:",
        "  containers:",
        "  - command:",
        "    - etcd",
        `    - --advertise-client-urls=${member.clientUrl}`,
        `    - --initial-cluster=${name}=${member.peerUrl}`,
        `    - --name=${name}`,
        "",
    ].join("\n");
}

/**
 * `etcd-membership.sh recover <name> ...` on the survivor's node while the test plays its
 * kubelet: whenever the etcd manifest changes, the member restarts with the manifest's flags.
 * Returns the run and the restarts seen ("force" with --force-new-cluster, "plain" without).
 */
export async function recoverWithKubelet(cluster: EtcdCluster, name: string, args: string[]): Promise<{ run: StubbedRun; restarts: string[] }> {
    let root = "";
    let running = "plain";
    let busy = false;
    const restarts: string[] = [];
    const manifest = "etc/kubernetes/manifests/etcd.yaml";
    const kubelet = async () => {
        if (root === "" || busy || !fs.existsSync(path.join(root, manifest))) {
            return;
        }
        const wanted = fs.readFileSync(path.join(root, manifest), "utf8").includes("--force-new-cluster") ? "force" : "plain";
        if (wanted === running) {
            return;
        }
        busy = true;
        await cluster.stop(name);
        const member = cluster.member(name);
        cluster.startMember(name, `${name}=${member.peerUrl}`, "existing", wanted === "force" ? ["--force-new-cluster"] : []);
        running = wanted;
        restarts.push(wanted);
        busy = false;
    };
    const timer = setInterval(() => void kubelet(), 100);
    try {
        const run = await runStubbedBashAsync(SCRIPT, {
            args: ["recover", name, ...args],
            hostTools: ["etcdctl"],
            env: {
                ETCDCTL_API: "3",
                ETCD_LOCAL_ENDPOINT: cluster.member(name).clientUrl,
                ETCD_DIAL_TIMEOUT: "1s",
                ETCD_COMMAND_TIMEOUT: "2s",
                POLL_INTERVAL: "0.2",
                RECOVER_TIMEOUT: "60",
            },
            rootEnv: { KUBERNETES_ETC: "etc/kubernetes", MANIFESTS_DIR: "etc/kubernetes/manifests", STATE_DIR: "var/lib/zadara-eksd", LOG_FILE: "recover.log" },
            files: { [manifest]: etcdManifest(cluster, name) },
            timeoutMs: 180_000,
            onStart: (started) => {
                root = started;
            },
        });
        runs.push(run);
        // The kubelet also acts on the last change (the manifest put back without the flag).
        for (let i = 0; i < 100 && (busy || (fs.existsSync(path.join(root, manifest)) && restarts.length > 0 && running !== "plain")); i++) {
            await pause(100);
        }
        return { run, restarts };
    } finally {
        clearInterval(timer);
    }
}

export function names(cluster: EtcdCluster): string[] {
    return cluster
        .memberList()
        .map((m) => m.name)
        .sort();
}
