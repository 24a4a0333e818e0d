// The worker roll scripts (roll-node-group.sh + drain-node.sh) under bash against a fake auto
// scaling group and fake nodes (tests/helpers/roll-fake.ts): the order of the steps, surge
// sizes, a drain blocked by a disruption budget, a run after an interruption, nothing to roll.
// No clock: new nodes turn Ready after counted polls.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { scriptForStdin } from "../cluster/stdin-scripts";
import { ASG, FakeGroup, fakeGroup, FINGERPRINT, NEW_LC, runDrain, runRoll } from "./helpers/roll-fake";
import { removeRunRoot, StubbedRun } from "./helpers/stubbed-bash";

const DRAIN_FLAGS = "--ignore-daemonsets --delete-emptydir-data --timeout=60s";

function check(group: FakeGroup, run: StubbedRun, assertions: (run: StubbedRun) => void): void {
    try {
        assertions(run);
    } catch (error) {
        console.error(`--- stderr ---\n${run.stderr}\n--- events ---\n${group.events().join("\n")}`);
        throw error;
    } finally {
        removeRunRoot(run);
        group.remove();
    }
}

/** The steps of replacing one old instance whose replacement is `newId`. */
function replaceSteps(oldId: string): string[] {
    return [`cordon node-${oldId}`, `drain node-${oldId} ${DRAIN_FLAGS}`, `terminate ${oldId} desired 3`, `delete node node-${oldId}`];
}

describe("roll-node-group.sh", () => {
    it("rolls 3 nodes with maxSurge 1 / maxUnavailable 0: surge, Ready, drain, terminate with decrement, ... restore", () => {
        const group = fakeGroup({ count: 3 });
        check(group, runRoll(group), (run) => {
            assert.equal(run.code, 0);
            const surge = (newId: string) => [`launch ${newId}`, "desired 4", `ready node-${newId}`, `annotate node-${newId} true`];
            assert.deepEqual(group.events(), [
                "state dev-workers--sizes = 3 1 4",
                "annotate node-i-1 true",
                "annotate node-i-2 true",
                "annotate node-i-3 true",
                ...surge("i-101"),
                ...replaceSteps("i-1"),
                ...surge("i-102"),
                ...replaceSteps("i-2"),
                ...surge("i-103"),
                ...replaceSteps("i-3"),
                "annotate node-i-101 none",
                "annotate node-i-102 none",
                "annotate node-i-103 none",
                `state dev-workers--fingerprint = ${FINGERPRINT}`,
                "state dev-workers--sizes deleted",
            ]);
            assert.deepEqual(group.asg(), { desired: 3, min: 1, max: 4, lc: NEW_LC });
            assert.deepEqual(
                group.live().map((i) => i.lc),
                [NEW_LC, NEW_LC, NEW_LC],
            );
            // A new node is first seen NotReady: the wait polled more than once.
            const nodePolls = run.calls.filter((call) => call.includes(" get nodes "));
            assert.ok(nodePolls.length >= 7, `expected counted polls, got ${nodePolls.length}`);
            // Every wait says what it waits for, and its budget.
            assert.match(run.stderr, /waiting up to 60s for 4 serving node\(s\) in dev-workers: Ready new ones \+ 3 old/);
            assert.match(run.stderr, /waiting up to 90s for drain of node node-i-1 \(evictions honour PodDisruptionBudgets\)/);
            assert.match(run.stderr, /waiting up to 60s for instance i-1 to leave dev-workers/);
            assert.match(run.stderr, /roll of dev-workers done: 3 instance\(s\) replaced/);
            // Desired capacity is never lowered by set-desired-capacity: only terminations decrement it.
            for (const call of run.calls.filter((c) => c.includes("set-desired-capacity"))) {
                assert.match(call, /--desired-capacity 4$/);
            }
            for (const call of run.calls.filter((c) => c.includes("terminate-instance-in-auto-scaling-group"))) {
                assert.match(call, /--should-decrement-desired-capacity/);
            }
        });
    });

    it("waits for the next `up` while an API server of an older minor still runs (upgrade: kubelet never newer)", () => {
        const group = fakeGroup({ count: 3 });
        fs.writeFileSync(
            `${group.dir}/apiservers`,
            "public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.30.14-eks-1-30-59\npublic.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.31.14-eks-1-31-50\n",
        );
        check(group, runRoll(group, { env: { KUBELET_MINOR: "1.31" } }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stderr, /not rolling dev-workers yet: an API server still runs 1\.30, older than the new kubelets \(1\.31\)/);
            assert.deepEqual(group.events(), [], "nothing launched, cordoned, terminated or recorded");
        });
        const after = fakeGroup({ count: 3 });
        fs.writeFileSync(`${after.dir}/apiservers`, "public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.31.14-eks-1-31-50\n");
        check(after, runRoll(after, { env: { KUBELET_MINOR: "1.31" } }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.ok(after.events().includes(`state dev-workers--fingerprint = ${FINGERPRINT}`), "rolled once every API server is new");
        });
    });

    it("runs the same from the joined script on stdin (bash -s), with its own log name", () => {
        const group = fakeGroup({ count: 2 });
        check(group, runRoll(group, { mode: "stdin" }), (run) => {
            assert.equal(run.code, 0);
            const events = group.events();
            assert.deepEqual(
                events.filter((e) => /^(launch|terminate|drain)/.test(e)),
                [
                    "launch i-101",
                    `drain node-i-1 ${DRAIN_FLAGS}`,
                    "terminate i-1 desired 2",
                    "launch i-102",
                    `drain node-i-2 ${DRAIN_FLAGS}`,
                    "terminate i-2 desired 2",
                ],
            );
            assert.match(run.stderr, /\[roll-node-group\] roll of dev-workers done/);
        });
    });

    it("maxSurge 2: two new nodes, then two drains, then the rest; max raised for the surge and restored", () => {
        const group = fakeGroup({ count: 3, max: 4 });
        check(group, runRoll(group, { env: { MAX_SURGE: "2" } }), (run) => {
            assert.equal(run.code, 0);
            const steps = group.events().filter((e) => /^(launch|desired|terminate|sizes|ready)/.test(e));
            assert.deepEqual(steps, [
                "sizes min 1 max 5",
                "launch i-101",
                "launch i-102",
                "desired 5",
                "ready node-i-101",
                "ready node-i-102",
                "terminate i-1 desired 4",
                "terminate i-2 desired 3",
                "launch i-103",
                "desired 4",
                "ready node-i-103",
                "terminate i-3 desired 3",
                "sizes min 1 max 4",
            ]);
            assert.deepEqual(group.asg(), { desired: 3, min: 1, max: 4, lc: NEW_LC });
        });
    });

    it("maxSurge 0 / maxUnavailable 1: drains first (min lowered for it), refills, restores min", () => {
        const group = fakeGroup({ count: 2, min: 2, max: 3 });
        check(group, runRoll(group, { env: { MAX_SURGE: "0", MAX_UNAVAILABLE: "1" } }), (run) => {
            assert.equal(run.code, 0);
            const steps = group.events().filter((e) => /^(launch|desired|terminate|sizes|drain)/.test(e));
            assert.deepEqual(steps, [
                "sizes min 1 max 3",
                `drain node-i-1 ${DRAIN_FLAGS}`,
                "terminate i-1 desired 1",
                "launch i-101",
                "desired 2",
                `drain node-i-2 ${DRAIN_FLAGS}`,
                "terminate i-2 desired 1",
                "launch i-102",
                "desired 2",
                "sizes min 2 max 3",
            ]);
            assert.deepEqual(group.asg(), { desired: 2, min: 2, max: 3, lc: NEW_LC });
        });
    });

    it("stops when a drain times out: names the node and the pods that blocked it, uncordons it, exit 4", () => {
        const group = fakeGroup({ count: 2 });
        group.write("block/node-i-1", "");
        group.write(
            "pods/node-i-1",
            [
                "shop/web-0|StatefulSet|Running",
                "kube-system/kube-proxy-abcde|DaemonSet|Running",
                "kube-system/kube-apiserver-x|Node|Running",
                "batch/report-1|Job|Succeeded",
            ].join("\n") + "\n",
        );
        group.write("pdbs", "shop|web|0\nother|db|0\nshop|cache|1\n");
        check(group, runRoll(group), (run) => {
            assert.equal(run.code, 4);
            assert.match(
                run.stderr,
                /FAILED: roll of dev-workers stopped: node node-i-1 \(instance i-1\) was not drained within 60s; pods that blocked it: shop\/web-0\./,
            );
            assert.match(run.stderr, /PodDisruptionBudgets that allow no disruption now: shop\/web\s*$/m);
            assert.ok(!/kube-proxy-abcde|report-1|kube-apiserver-x/.test(run.stderr.split("NOT drained")[1]), "only pods the drain had to evict are named");
            assert.match(run.stderr, /the next run continues the roll/);
            const events = group.events();
            assert.ok(events.includes("uncordon node-i-1"));
            assert.ok(!events.some((e) => e.startsWith("terminate")), "nothing terminated");
            // The autoscaler gets its nodes back; the surge node keeps serving.
            assert.deepEqual(events.slice(-3), ["annotate node-i-1 none", "annotate node-i-101 none", "annotate node-i-2 none"]);
            assert.equal(group.asg().desired, 3);
            assert.equal(group.live().length, 3);
        });
    });

    it("continues after an interruption: no instance drained twice after termination, sizes from before the roll restored", () => {
        const group = fakeGroup({ count: 3 });
        try {
            const first = runRoll(group, { env: { STUB_KILL_AT_TERMINATE: "2" } });
            removeRunRoot(first);
            assert.notEqual(first.code, 0);
            assert.deepEqual(group.asg(), { desired: 4, min: 1, max: 4, lc: NEW_LC }, "killed with the surge node up");
            const second = runRoll(group);
            check(group, second, (run) => {
                assert.equal(run.code, 0);
                assert.match(run.stderr, /continuing an interrupted roll of dev-workers/);
                const events = group.events();
                const afterKill = events.slice(events.indexOf("killed before terminate i-2") + 1);
                assert.deepEqual(
                    afterKill.filter((e) => /^(launch|desired|terminate|drain|state)/.test(e)),
                    [
                        `drain node-i-2 ${DRAIN_FLAGS}`,
                        "terminate i-2 desired 3",
                        "launch i-103",
                        "desired 4",
                        `drain node-i-3 ${DRAIN_FLAGS}`,
                        "terminate i-3 desired 3",
                        `state dev-workers--fingerprint = ${FINGERPRINT}`,
                        "state dev-workers--sizes deleted",
                    ],
                );
                assert.equal(events.filter((e) => e.startsWith("drain node-i-1")).length, 1);
                assert.deepEqual(group.asg(), { desired: 3, min: 1, max: 4, lc: NEW_LC });
                assert.deepEqual(
                    group.live().map((i) => i.id),
                    ["i-101", "i-102", "i-103"],
                );
                assert.ok(
                    events.slice(-5).every((e) => !e.endsWith(" true")),
                    "annotations removed at the end",
                );
            });
        } finally {
            group.remove();
        }
    });

    it("does nothing when every instance runs the current launch configuration", () => {
        const group = fakeGroup({ count: 2, lc: NEW_LC });
        check(group, runRoll(group), (run) => {
            assert.equal(run.code, 0);
            assert.match(run.stderr, /nothing to roll: every instance of dev-workers runs launch configuration dev-workers-100g-new/);
            assert.ok(!group.events().some((e) => /^(launch|desired|terminate|drain|cordon|annotate|sizes)/.test(e)), group.events().join("\n"));
            assert.ok(group.events().includes(`state dev-workers--fingerprint = ${FINGERPRINT}`));
        });
    });

    it("does nothing when the group was already rolled to this fingerprint (e.g. only the join token changed)", () => {
        const group = fakeGroup({ count: 2 });
        group.write("cm.exists", "");
        group.write(`cm/${ASG}--fingerprint`, FINGERPRINT);
        check(group, runRoll(group), (run) => {
            assert.equal(run.code, 0);
            assert.match(run.stderr, /already rolled to f1e2d3c4b5a6/);
            assert.deepEqual(group.events(), []);
        });
    });

    it("stops with the new instances named when they never become Ready", () => {
        const group = fakeGroup({ count: 1 });
        check(group, runRoll(group, { env: { STUB_READY_POLLS: "100000", NODE_READY_TIMEOUT: "1" } }), (run) => {
            assert.equal(run.code, 1);
            assert.match(run.stderr, /FAILED: new node\(s\) of dev-workers did not become Ready within 1s; not Ready: i-101\(node-i-101\)/);
            assert.ok(!group.events().some((e) => e.startsWith("drain") || e.startsWith("terminate")));
        });
    });

    it("refuses settings that could never replace a node", () => {
        const group = fakeGroup({ count: 1 });
        check(group, runRoll(group, { env: { MAX_SURGE: "0", MAX_UNAVAILABLE: "0" } }), (run) => {
            assert.equal(run.code, 2);
            assert.match(run.stderr, /MAX_SURGE and MAX_UNAVAILABLE are both 0/);
            assert.deepEqual(run.calls, []);
        });
    });
});

describe("drain-node.sh", () => {
    it("cordons and drains with evictions that honour disruption budgets", () => {
        const group = fakeGroup({ count: 1 });
        check(group, runDrain(group, ["node-i-1", "60"]), (run) => {
            assert.equal(run.code, 0);
            assert.deepEqual(group.events(), ["cordon node-i-1", `drain node-i-1 ${DRAIN_FLAGS}`]);
            assert.match(run.stderr, /drained node node-i-1/);
        });
    });

    it("on a blocked drain exits 4, prints the blocking pods and uncordons", () => {
        const group = fakeGroup({ count: 1 });
        group.write("block/node-i-1", "");
        group.write("pods/node-i-1", "shop/web-0|ReplicaSet|Running\nkube-system/kube-proxy-x|DaemonSet|Running\n");
        check(group, runDrain(group, ["node-i-1", "60"]), (run) => {
            assert.equal(run.code, 4);
            assert.match(run.stderr, /node node-i-1 was NOT drained within 60s; pods still on it that block the drain:\n.* {2}shop\/web-0\n/);
            assert.match(run.stderr, /\| error when evicting pods\/"web-0" -n "shop"/);
            assert.match(run.stderr, /FAILED: drain of node node-i-1 blocked by: shop\/web-0$/m);
            assert.deepEqual(group.events().slice(-1), ["uncordon node-i-1"]);
        });
    });

    it("refuses bad usage with exit 2", () => {
        const group = fakeGroup({ count: 1 });
        check(group, runDrain(group, ["node-i-1", "soon"]), (run) => {
            assert.equal(run.code, 2);
            assert.match(run.stderr, /usage: drain-node\.sh <node> <timeout-seconds>/);
        });
    });
});

describe("scriptForStdin", () => {
    it("joins lib.sh and the scripts under one shebang; only the last entry call runs, without stdin", () => {
        const joined = scriptForStdin(["drain-node.sh", "roll-node-group.sh"]);
        assert.equal(joined.match(/^#!/gm)?.length, 1);
        assert.ok(joined.startsWith("#!/usr/bin/env bash\n"));
        assert.ok(!/^\s*source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\.sh"$/m.test(joined), "lib.sh is inlined, not sourced");
        assert.ok(joined.indexOf("kubectl_admin()") < joined.indexOf("drain_node()"), "lib.sh first");
        assert.ok(joined.indexOf("drain_node()") < joined.indexOf("roll_main()"));
        assert.ok(!/^drain_node_main "\$@"/m.test(joined), "the drain entry call is dropped");
        assert.match(joined, /\nroll_main "\$@" <\/dev\/null\n$/);
        assert.match(joined, /^SCRIPT_NAME='roll-node-group'$/m);
    });

    it("refuses unknown scripts, lib.sh itself and an empty list", () => {
        assert.throws(() => scriptForStdin([]), /at least one/);
        assert.throws(() => scriptForStdin(["lib.sh"]), /always included/);
        assert.throws(() => scriptForStdin(["no-such.sh"]), /missing/);
    });
});
