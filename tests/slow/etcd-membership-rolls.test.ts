// Whole control-plane rolls through cluster/scripts/etcd-membership.sh and node-leave.sh against
// REAL etcd members on loopback: scale 1 -> 3 -> 5 -> 3 -> 1, replace each member in turn, the
// retire steps, replace all three. Slow (minutes), so npm run rehearse runs them, beside the
// assembled-cluster scenarios that cover the same paths end to end.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { etcdMissing } from "../helpers/etcd-cluster";
import { newCluster, membership, ok, nodeLeave, addMember, removeMember, names } from "../helpers/etcd-membership-run";

describe("etcd-membership.sh with real etcd: whole rolls", { concurrency: false }, () => {
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
});
