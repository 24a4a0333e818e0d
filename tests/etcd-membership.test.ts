// cluster/scripts/etcd-membership.sh against REAL etcd members (Debian's etcd 3.4) on loopback:
// dead members, refused removals, leader moves, learners, interrupted leaves, the quorum-loss
// recovery. After every step a write succeeds and every earlier key reads back. Fails (does not
// skip) when etcd is missing. The long roll scenarios (scale 1->5->1, replace all) are in
// tests/slow/ and run with npm run rehearse.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { etcdMissing } from "./helpers/etcd-cluster";
import { runStubbedBash } from "./helpers/stubbed-bash";
import {
    SCRIPT,
    WATCHDOG,
    runs,
    newCluster,
    membership,
    ok,
    nodeLeave,
    addMember,
    removeMember,
    etcdManifest,
    recoverWithKubelet,
    names,
} from "./helpers/etcd-membership-run";

describe("etcd-membership.sh with real etcd", { concurrency: false }, () => {
    it("has etcd and etcdctl to run (install etcd-server and etcd-client)", () => {
        assert.equal(etcdMissing(), undefined);
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
