// The bootstrap Command's create on a joining node: a join that fails before the node ever
// passed its gate takes the node out of etcd again (kubeadm reset), because Pulumi records no
// Command whose create failed, so no delete would ever make that node leave.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { runStubbedBash } from "./helpers/stubbed-bash";
import { controlPlaneUpBody, controlPlaneUpCommand, NODE_PATHS } from "../cluster/node-bootstrap";

/** Paths under the run's temporary root; control-plane-up.sh is a stub there. */
const PATHS = { scriptsDir: "$TEST_ROOT/.stubs", bootComplete: "$TEST_ROOT/var/lib/zadara-eksd/boot-complete", adminKubeconfig: "$TEST_ROOT/admin.conf" };

function runBootstrap(mode: "init" | "join", upExit: number, files: Record<string, string> = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-cleanup-"));
    const script = path.join(dir, "create.sh");
    fs.writeFileSync(script, `${controlPlaneUpBody(mode, PATHS)}\n`);
    try {
        return runStubbedBash(script, {
            files,
            stubs: {
                "control-plane-up.sh": `cat >/dev/null; exit ${upExit}`,
                kubeadm: "exit 0",
                kubectl: "exit 0",
                hostname: "echo Node-2",
                sleep: "exit 0",
            },
            stdin: "pki/ca.crt Y2EK\n",
        });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("bootstrap create: a failed join leaves etcd again", () => {
    it("passes a successful join through untouched", () => {
        const run = runBootstrap("join", 0);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(run.calls, ["control-plane-up.sh join"]);
    });

    it("removes the Node and resets the node (its etcd member) when the join failed before the gate ever passed, and still fails", () => {
        const run = runBootstrap("join", 1);
        assert.equal(run.code, 1, "the update still fails on this node");
        assert.deepEqual(run.calls, [
            "control-plane-up.sh join",
            "hostname ",
            `kubectl --kubeconfig ${run.root}/admin.conf --request-timeout=20s delete node --ignore-not-found node-2`,
            "kubeadm reset -f",
        ]);
        assert.match(run.stderr, /cleanup: this node never passed its gate/);
        assert.match(run.stderr, /cleanup: done; a re-run joins this node again/);
    });

    it("never resets a node that passed its gate before (an update re-running on a serving member)", () => {
        const run = runBootstrap("join", 1, { "var/lib/zadara-eksd/boot-complete": "2026-12-06T10:00:00Z\n" });
        assert.equal(run.code, 1);
        assert.deepEqual(run.calls, ["control-plane-up.sh join"]);
    });

    it("names the manual path when kubeadm reset fails", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-cleanup-"));
        const script = path.join(dir, "create.sh");
        fs.writeFileSync(script, `${controlPlaneUpBody("join", PATHS)}\n`);
        const run = runStubbedBash(script, {
            stubs: { "control-plane-up.sh": "exit 1", kubeadm: "exit 1", kubectl: "exit 1", hostname: "echo node-2" },
        });
        fs.rmSync(dir, { recursive: true, force: true });
        assert.equal(run.code, 1);
        assert.match(run.stderr, /cleanup FAILED: kubeadm reset -f; .* remove it from a healthy control-plane node: .*etcd-membership\.sh leave node-2/);
    });

    it("does not touch the first node of a new cluster (init)", () => {
        const run = runBootstrap("init", 1);
        assert.equal(run.code, 1);
        assert.deepEqual(run.calls, ["control-plane-up.sh init"]);
    });

    it("runs as root on the node with the node's paths", () => {
        assert.match(controlPlaneUpCommand("join"), /^sudo bash -c '/);
        assert.ok(controlPlaneUpCommand("join").includes(NODE_PATHS.bootComplete));
        assert.ok(controlPlaneUpCommand("join").includes(`${NODE_PATHS.scriptsDir}/control-plane-up.sh join`));
    });
});
