// cluster/scripts/etcd-membership.sh against REAL etcd members (Debian's etcd 3.4) on loopback:
// scale, replace, dead members, refused removals, leader moves. After every step a write
// succeeds and every earlier key reads back. Fails (does not skip) when etcd is missing.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { EtcdCluster, etcdMissing } from "./helpers/etcd-cluster";
import { removeRunRoot, runStubbedBash, runStubbedBashAsync, StubbedRun } from "./helpers/stubbed-bash";
import { scriptForStdin } from "../cluster/stdin-scripts";

const SCRIPTS = path.resolve(__dirname, "../cluster/scripts");
const SCRIPT = path.join(SCRIPTS, "etcd-membership.sh");
const WATCHDOG = path.join(SCRIPTS, "etcd-watchdog.sh");

const clusters: EtcdCluster[] = [];
const runs: StubbedRun[] = [];
after(async () => {
    await Promise.all(clusters.map((c) => c.cleanup()));
    runs.forEach(removeRunRoot);
});

function newCluster(): EtcdCluster {
    const cluster = new EtcdCluster();
    clusters.push(cluster);
    return cluster;
}

/** Runs the membership script the way a node does, with the named member as "local". */
function membership(cluster: EtcdCluster, args: string[], options: { local?: string; env?: Record<string, string> } = {}): StubbedRun {
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

function ok(run: StubbedRun, what: string): StubbedRun {
    assert.equal(run.code, 0, `${what} should succeed:\n${run.stderr}`);
    return run;
}

/** The script a retire step (or a bootstrap delete) sends: lib.sh + drain-node.sh + node-leave.sh. */
const LEAVE_SCRIPT = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-leave-")), "node-leave.sh");
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
function nodeLeave(
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
async function addMember(cluster: EtcdCluster, name: string, options: { learner?: boolean; wait?: boolean } = {}): Promise<void> {
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
async function removeMember(cluster: EtcdCluster, name: string): Promise<StubbedRun> {
    const run = ok(membership(cluster, ["leave", name], { local: name }), `leave ${name}`);
    await cluster.stop(name);
    return run;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A kubeadm etcd static-pod manifest for `name` (what recover edits). */
function etcdManifest(cluster: EtcdCluster, name: string): string {
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
async function recoverWithKubelet(cluster: EtcdCluster, name: string, args: string[]): Promise<{ run: StubbedRun; restarts: string[] }> {
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

function names(cluster: EtcdCluster): string[] {
    return cluster
        .memberList()
        .map((m) => m.name)
        .sort();
}

describe("etcd-membership.sh with real etcd", { concurrency: false }, () => {
    it("has etcd and etcdctl to run (install etcd-server and etcd-client)", () => {
        assert.equal(etcdMissing(), undefined);
    });

    it("scales 1 -> 3 -> 5 -> 3 -> 1, one change at a time, refusing to remove the last member", async () => {
        const cluster = newCluster();
        await cluster.startNew(["m1"]);
        for (const name of ["m2", "m3", "m4", "m5"]) {
            await addMember(cluster, name);
            await cluster.writeAndCheck(`added ${name}`);
        }
        assert.deepEqual(names(cluster), ["m1", "m2", "m3", "m4", "m5"]);
        for (const name of ["m5", "m4", "m3", "m2"]) {
            await removeMember(cluster, name);
            await cluster.writeAndCheck(`removed ${name}`);
        }
        assert.deepEqual(names(cluster), ["m1"]);
        const last = membership(cluster, ["leave", "m1"], { local: "m1" });
        assert.equal(last.code, 3, last.stderr);
        assert.match(last.stderr, /REFUSED: cannot remove m1 \([0-9a-f]+\): it is the last voting member/);
        await cluster.writeAndCheck("last member kept");
    });

    it("replaces each member in turn: add new, wait healthy, leave old, stop old", async () => {
        const cluster = newCluster();
        await cluster.startNew(["a1", "b1", "c1"]);
        for (const [old, replacement] of [
            ["a1", "a2"],
            ["b1", "b2"],
            ["c1", "c2"],
        ]) {
            await addMember(cluster, replacement);
            await cluster.writeAndCheck(`${replacement} joined`);
            await removeMember(cluster, old);
            await cluster.writeAndCheck(`${old} left`);
            assert.equal(cluster.memberList().length, 3);
        }
        assert.deepEqual(names(cluster), ["a2", "b2", "c2"]);
    });

    it("retire steps: node-leave.sh takes each old member out right after its successor joined; a repeat is a no-op", async () => {
        const cluster = newCluster();
        await cluster.startNew(["r1", "r2", "r3"]);
        for (const [old, replacement] of [
            ["r1", "n1"],
            ["r2", "n2"],
            ["r3", "n3"],
        ]) {
            await addMember(cluster, replacement);
            await cluster.writeAndCheck(`${replacement} joined`);
            assert.equal(cluster.memberList().length, 4, "one extra member at most");
            const leave = ok(nodeLeave(cluster, old), `node-leave.sh on ${old}`);
            assert.match(leave.stderr, new RegExp(`leaving node: slot-of-${old} = Node and etcd member ${old}`));
            assert.match(leave.stderr, new RegExp(`etcd member ${old} \\([0-9a-f]+\\) left the cluster`));
            const marker = "var/lib/zadara-eksd/left-cluster";
            assert.ok(fs.existsSync(path.join(leave.root, marker)));
            await cluster.stop(old);
            await cluster.writeAndCheck(`${old} retired`);
            // Pulumi's delete of the old bootstrap step at the end of the update: nothing left to do.
            const again = ok(nodeLeave(cluster, old, { [marker]: fs.readFileSync(path.join(leave.root, marker), "utf8") }), `node-leave.sh again on ${old}`);
            assert.match(again.stderr, new RegExp(`${old} already left the cluster`));
        }
        assert.deepEqual(names(cluster), ["n1", "n2", "n3"]);
    });

    it("replaces all three: three new members join one by one (6 members), then the old ones leave one by one", async () => {
        const cluster = newCluster();
        await cluster.startNew(["o1", "o2", "o3"]);
        for (const name of ["n1", "n2", "n3"]) {
            await addMember(cluster, name);
            await cluster.writeAndCheck(`${name} joined`);
        }
        assert.equal(cluster.memberList().length, 6);
        for (const name of ["o1", "o2", "o3"]) {
            await removeMember(cluster, name);
            await cluster.writeAndCheck(`${name} left`);
        }
        assert.deepEqual(names(cluster), ["n1", "n2", "n3"]);
    });

    it("a member that died without removal: removing a healthy one is refused, leaving the dead one works, a replacement joins", async () => {
        const cluster = newCluster();
        await cluster.startNew(["d1", "d2", "d3"]);
        await cluster.stop("d3", "SIGKILL");
        await cluster.writeAndCheck("d3 died");

        const unsafe = membership(cluster, ["safe-to-remove", "d1"]);
        assert.equal(unsafe.code, 3, unsafe.stderr);
        assert.match(unsafe.stderr, /cannot remove d1 \([0-9a-f]+\): 1 of the 2 remaining voters would be healthy, a majority needs 2/);
        ok(membership(cluster, ["safe-to-remove", "d3"]), "safe-to-remove of the dead member");

        ok(membership(cluster, ["leave", "d3"], { local: "d1" }), "leave of the dead member");
        await cluster.writeAndCheck("d3 removed");
        assert.deepEqual(names(cluster), ["d1", "d2"]);
        await addMember(cluster, "d4");
        await cluster.writeAndCheck("d4 joined");
        assert.deepEqual(names(cluster), ["d1", "d2", "d4"]);
    });

    it("refuses a removal that would break quorum (exit 3) and the cluster stays writable", async () => {
        const cluster = newCluster();
        await cluster.startNew(["q1", "q2", "q3"]);
        await cluster.stop("q2", "SIGKILL");
        const refused = membership(cluster, ["leave", "q1"], { local: "q1" });
        assert.equal(refused.code, 3, refused.stderr);
        assert.match(refused.stderr, /REFUSED: cannot remove q1 \([0-9a-f]+\): 1 of the 2 remaining voters would be healthy, a majority needs 2/);
        assert.equal(cluster.memberList().length, 3, "no member was removed");
        const status = membership(cluster, ["status"]);
        assert.equal(status.code, 1, "status exits 1 while a member is unhealthy");
        assert.match(status.stderr, /etcd is not fully healthy: q2 \([0-9a-f]+\) is started, voter, unhealthy \(2 of 3 voters healthy\)/);
        await cluster.writeAndCheck("refused removal");

        // With two of three gone there is no quorum at all: every change is refused, not attempted.
        await cluster.stop("q3", "SIGKILL");
        const noQuorum = membership(cluster, ["leave", "q3"], { local: "q1" });
        assert.equal(noQuorum.code, 3, noQuorum.stderr);
        assert.match(noQuorum.stderr, /REFUSED: cannot remove q3 \([0-9a-f]+\): only [01] of 3 voters are healthy, the cluster has no quorum/);
    });

    it("moves leadership away before the leader leaves", async () => {
        const cluster = newCluster();
        await cluster.startNew(["l1", "l2", "l3"]);
        const leader = cluster.leader();
        const run = await removeMember(cluster, leader);
        assert.match(run.stderr, new RegExp(`etcd member ${leader} \\([0-9a-f]+\\) leads: moving leadership to`));
        assert.match(run.stderr, /done waiting for etcd leadership to move away/);
        const successor = cluster.leader();
        assert.notEqual(successor, leader);
        assert.equal(names(cluster).includes(leader), false);
        await cluster.writeAndCheck("leader left");
    });

    it("one change at a time: a pending learner blocks other changes until wait-healthy --promote promotes it", async () => {
        const cluster = newCluster();
        await cluster.startNew(["p1", "p2", "p3"]);
        // Added but not started yet: a change in flight.
        const learner = await cluster.allocate("p4");
        ok(membership(cluster, ["add", "p4", learner.peerUrl, "--learner"]), "add p4 as learner");
        const again = ok(membership(cluster, ["add", "p4", learner.peerUrl, "--learner"]), "add p4 again (no-op)");
        assert.match(again.stderr, /already added: nothing to do/);
        const other = await cluster.allocate("p5");
        const blockedAdd = membership(cluster, ["add", "p5", other.peerUrl]);
        assert.equal(blockedAdd.code, 3, blockedAdd.stderr);
        assert.match(blockedAdd.stderr, /cannot add p5: member <unstarted> \([0-9a-f]+\) was added but never started; another membership change is in flight/);
        const blockedRemove = membership(cluster, ["safe-to-remove", "p1"]);
        assert.equal(blockedRemove.code, 3, blockedRemove.stderr);
        assert.match(blockedRemove.stderr, /another membership change is in flight/);

        const initial = cluster
            .memberList()
            .map((m) => m.name)
            .filter(Boolean)
            .map((n) => `${n}=${cluster.member(n).peerUrl}`)
            .concat(`p4=${learner.peerUrl}`)
            .join(",");
        cluster.startMember("p4", initial, "existing");
        // kubeadm promotes its learners itself; without --promote the wait times out naming the learner.
        const waiting = membership(cluster, ["wait-healthy", "p4", "2"]);
        assert.equal(waiting.code, 1, waiting.stderr);
        assert.match(waiting.stderr, /etcd member p4 is not healthy after 2s: p4 \([0-9a-f]+\) is a learner, waiting for its promotion/);
        ok(membership(cluster, ["wait-healthy", "p4", "60", "--promote"]), "wait-healthy --promote");
        assert.equal(cluster.memberList().find((m) => m.name === "p4")?.learner, false);
        await cluster.writeAndCheck("learner promoted");
        ok(membership(cluster, ["safe-to-remove", "p1"]), "removal allowed once the learner is a voter");
    });

    it("leave is idempotent (absent member = success), undoes a half-done join by ID, status/list show every member, bad usage exits 1", async () => {
        const cluster = newCluster();
        await cluster.startNew(["s1", "s2"]);
        const absent = ok(membership(cluster, ["leave", "nobody"]), "leave of an absent member");
        assert.match(absent.stderr, /etcd member nobody is not a member \(already removed\): nothing to do/);
        const status = ok(membership(cluster, ["status"]), "status");
        assert.match(status.stdout, /^NAME +ID +STATUS +ROLE +HEALTH +LEADER +CLIENT-URL PEER-URL$/m);
        const leader = cluster.leader();
        assert.match(status.stdout, new RegExp(`^${leader} +[0-9a-f]+ +started +voter +healthy +yes `, "m"));
        assert.equal(status.stdout.trim().split("\n").length, 3);
        // A join that stopped half way (added, never started) is undone by `leave <id>`.
        const halfJoined = await cluster.allocate("s3");
        ok(membership(cluster, ["add", "s3", halfJoined.peerUrl]), "add s3 (never started)");
        const pending = cluster.memberList().find((m) => m.status === "unstarted");
        assert.ok(pending, "s3 is listed as unstarted");
        assert.match(
            ok(membership(cluster, ["list"]), "list").stdout,
            new RegExp(`^<unstarted> +${pending.id} +unstarted +voter +- +- +- +${halfJoined.peerUrl.replace(/\./g, "\\.")}$`, "m"),
        );
        ok(membership(cluster, ["leave", pending.id]), "leave of the unstarted member by ID");
        assert.deepEqual(names(cluster), ["s1", "s2"]);
        await cluster.writeAndCheck("half-joined member undone");
        assert.equal(membership(cluster, ["leave"]).code, 1);
        assert.equal(membership(cluster, ["frobnicate"]).code, 1);
        const unreachable = membership(cluster, ["status"], { env: { ETCD_ENDPOINTS: "http://127.0.0.1:1" } });
        assert.equal(unreachable.code, 1);
        assert.match(unreachable.stderr, /no etcd endpoint answers 'member list' \(tried http:\/\/127\.0\.0\.1:1\)/);
    });

    it("the watchdog removes a member whose instance is gone through the same safety rules", async () => {
        const cluster = newCluster();
        await cluster.startNew(["w1", "w2", "w3"]);
        await cluster.stop("w3", "SIGKILL");
        const local = cluster.member("w1");
        const listed = ["w1", "w2"].map((n) => cluster.member(n).ip).join("\t");
        const watchdog = (env: Record<string, string> = {}) => {
            const run = runStubbedBash(WATCHDOG, {
                hostTools: ["etcdctl"],
                stubs: {
                    curl: `case "$*" in *local-ipv4*) echo "${local.ip}";; *meta_data.json*) echo '{"cluster_url": "https://cloud.example"}';; *) exit 22;; esac`,
                    aws: `printf '%s\\n' "${listed}"`,
                },
                files: {
                    "etc/zadara/node.env": "ROLE='control-plane'\nCLUSTER_NAME='t'\nAPI_HOST='10.0.0.1'\nKUBERNETES_MINOR='1.31'\n",
                    "state/boot-complete": "",
                },
                rootEnv: { ZADARA_ETC: "etc/zadara", STATE_DIR: "state", KUBERNETES_ETC: "etc/kubernetes", LOG_FILE: "watchdog.log" },
                env: { ETCDCTL_API: "3", ETCD_ENDPOINT: local.clientUrl, ETCD_ENDPOINTS: local.clientUrl, ABSENT_RUNS: "1", POLL_INTERVAL: "0.2", ...env },
                timeoutMs: 120_000,
            });
            runs.push(run);
            return run;
        };
        const run = ok(watchdog(), "watchdog");
        assert.match(run.stderr, /etcd member w3 \([0-9a-f]+\) left the cluster/);
        assert.deepEqual(names(cluster), ["w1", "w2"]);
        await cluster.writeAndCheck("watchdog removed w3");
        fs.rmSync(path.join(run.root, "state"), { recursive: true, force: true });
    });
    it("a leave cut after its member removal is re-run to the end through the other members; its API server stays parked", async () => {
        const cluster = newCluster();
        await cluster.startNew(["c1", "c2", "c3"]);
        // The cut: the removal went through, the marker was never written; the member stopped.
        ok(membership(cluster, ["leave", "c3"], { local: "c3" }), "member removal of c3");
        await cluster.stop("c3");
        await cluster.writeAndCheck("c3 removed");
        const parked = { "etc/kubernetes/zadara/left-manifests/kube-apiserver.yaml": "kind: Pod\n" };
        // A re-run whose drain fails must not put the API server back on a node out of etcd.
        const blocked = nodeLeave(cluster, "c3", parked, { drainFails: true });
        assert.equal(blocked.code, 4, blocked.stderr);
        assert.match(blocked.stderr, /not restoring the kube-apiserver of c3: its etcd membership is gone/);
        assert.ok(!fs.existsSync(path.join(blocked.root, "etc/kubernetes/manifests/kube-apiserver.yaml")));
        const rerun = ok(nodeLeave(cluster, "c3", parked), "node-leave.sh re-run on c3");
        assert.match(rerun.stderr, /etcd member c3 is not a member \(already removed\): nothing to do/);
        assert.ok(fs.existsSync(path.join(rerun.root, "var/lib/zadara-eksd/left-cluster")), "the leave finished");
        assert.ok(!fs.existsSync(path.join(rerun.root, "etc/kubernetes/manifests/kube-apiserver.yaml")), "the API server stays parked");
        assert.deepEqual(names(cluster), ["c1", "c2"]);
        await cluster.writeAndCheck("c3 left");
    });

    it("a node whose own etcd member is down leaves through its peers", async () => {
        const cluster = newCluster();
        await cluster.startNew(["e1", "e2", "e3"]);
        await cluster.stop("e1", "SIGKILL");
        const run = ok(nodeLeave(cluster, "e1"), "node-leave.sh on e1 with its etcd down");
        assert.match(run.stderr, /etcd member e1 \([0-9a-f]+\) left the cluster/);
        assert.ok(fs.existsSync(path.join(run.root, "var/lib/zadara-eksd/left-cluster")));
        assert.deepEqual(names(cluster), ["e2", "e3"]);
        await cluster.writeAndCheck("e1 left while down");
    });

    it("keeps failure tolerance: with an unhealthy voter no healthy one leaves; the unhealthy one goes first, then the roll goes on", async () => {
        const cluster = newCluster();
        await cluster.startNew(["u1", "u2", "u3"]);
        await addMember(cluster, "u4"); // a roll's new node joined: 4 voters
        await cluster.stop("u2", "SIGKILL");
        await cluster.writeAndCheck("u2 died");
        // 3 of 4 healthy: removing u1 would leave 2 of 3, a bare majority that etcd grows no further.
        const refused = membership(cluster, ["leave", "u1"], { local: "u1" });
        assert.equal(refused.code, 3, refused.stderr);
        assert.match(
            refused.stderr,
            /REFUSED: cannot remove u1 \([0-9a-f]+\): voter u2 \([0-9a-f]+\) is unhealthy.*remove it first: etcd-membership\.sh leave u2/,
        );
        assert.equal(cluster.memberList().length, 4, "no member was removed");
        ok(membership(cluster, ["leave", "u2"]), "leave of the unhealthy member first");
        await cluster.writeAndCheck("u2 removed");
        await removeMember(cluster, "u1");
        await cluster.writeAndCheck("u1 left");
        await addMember(cluster, "u5");
        await cluster.writeAndCheck("u5 joined");
        assert.deepEqual(names(cluster), ["u3", "u4", "u5"]);
    });

    it("count 1 -> 3 window: node 2 dies after joining, quorum is lost; recover rebuilds from the survivor and the cluster grows again", async () => {
        const cluster = newCluster();
        await cluster.startNew(["f1"]);
        await addMember(cluster, "f2");
        await cluster.writeAndCheck("two voters");
        await cluster.stop("f2", "SIGKILL");
        await assert.rejects(cluster.writeAndCheck("no quorum", 1), /failed 1 times/);

        const status = membership(cluster, ["status"], { local: "f1" });
        assert.equal(status.code, 1);
        assert.match(status.stderr, /etcd has NO QUORUM.*etcd-membership\.sh recover <its member name> --confirm/);

        const unconfirmed = await recoverWithKubelet(cluster, "f1", []);
        assert.equal(unconfirmed.run.code, 3, unconfirmed.run.stderr);
        assert.match(unconfirmed.run.stderr, /recover makes f1 a one-member cluster and drops every other member.*etcd-membership\.sh recover f1 --confirm/);
        assert.deepEqual(unconfirmed.restarts, [], "nothing changed");

        const recovered = await recoverWithKubelet(cluster, "f1", ["--confirm"]);
        assert.equal(recovered.run.code, 0, recovered.run.stderr);
        assert.deepEqual(recovered.restarts, ["force", "plain"], "once with --force-new-cluster, then without it");
        assert.equal(fs.readFileSync(path.join(recovered.run.root, "etc/kubernetes/manifests/etcd.yaml"), "utf8"), etcdManifest(cluster, "f1"));
        assert.deepEqual(names(cluster), ["f1"]);
        await cluster.writeAndCheck("recovered"); // and every key acknowledged before reads back
        await addMember(cluster, "f3");
        await cluster.writeAndCheck("f3 joined");
        assert.deepEqual(names(cluster), ["f1", "f3"]);

        // With quorum there is nothing to recover.
        const healthy = await recoverWithKubelet(cluster, "f1", ["--confirm"]);
        assert.equal(healthy.run.code, 3, healthy.run.stderr);
        assert.match(healthy.run.stderr, /the cluster has quorum \(2 of 2 voters healthy\): nothing to recover/);
    });
});

describe("etcd-membership.sh: how a node finds the members", () => {
    it("asks the local member, then the cached client URLs, then the manifest's peers on kubeadm's client port; caches what it found", () => {
        const member = (n: number) => `10${n}, started, cp-${n}, https://10.0.0.${n}:2380, https://10.0.0.${n}:2379, false`;
        const run = runStubbedBash(SCRIPT, {
            args: ["list"],
            // Only cp-3 answers (the local member and cp-1 are down).
            stubs: {
                etcdctl: `case "$*" in *"--endpoints=https://10.0.0.3:2379 "*"member list"*) printf '%s\\n' '${member(1)}' '${member(3)}' ;; *) exit 1 ;; esac`,
            },
            env: { ETCDCTL_API: "3", POLL_INTERVAL: "0.2" },
            rootEnv: { KUBERNETES_ETC: "etc/kubernetes", STATE_DIR: "var/lib/zadara-eksd", LOG_FILE: "membership.log" },
            files: {
                "var/lib/zadara-eksd/etcd-endpoints": "https://10.0.0.1:2379\n",
                "etc/kubernetes/manifests/etcd.yaml": "    - --initial-cluster=cp-1=https://10.0.0.1:2380,cp-3=https://10.0.0.3:2380\n",
            },
        });
        runs.push(run);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(
            run.calls.filter((c) => c.includes("member list")).map((c) => /--endpoints=(\S+)/.exec(c)?.[1]),
            ["https://127.0.0.1:2379", "https://10.0.0.1:2379", "https://10.0.0.3:2379"],
        );
        assert.match(run.stdout, /^cp-3 +103 +started/m);
        assert.equal(fs.readFileSync(path.join(run.root, "var/lib/zadara-eksd/etcd-endpoints"), "utf8"), "https://10.0.0.1:2379\nhttps://10.0.0.3:2379\n");
    });
});
