// health-gate.sh under bash against a fake API (tests/fixtures/roll-stubs/kubectl-health.sh):
// a healthy cluster passes, a cluster that heals within the budget passes after counted polls,
// and each kind of problem fails with a table that names it. HEALTH_TIMEOUT=0 means exactly
// one check, so no test depends on the clock.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { scriptForStdin } from "../cluster/stdin-scripts";
import { scriptPath } from "./helpers/boot-paths";
import { removeRunRoot, runStubbedBash, StubbedRun } from "./helpers/stubbed-bash";

const KUBECTL = fs.readFileSync(path.join(__dirname, "fixtures", "roll-stubs", "kubectl-health.sh"), "utf8");
const CONTROL_PLANE = ["cp-1", "cp-2", "cp-3"];
const WORKERS = ["w-1", "w-2"];
const LBC_SERVICE = "kube-system/aws-load-balancer-webhook-service";

/** Answers of a healthy 3 + 2 node cluster, by file name. */
function healthyCluster(): Record<string, string> {
    const lines = (items: string[]) => items.map((item) => `${item}\n`).join("");
    const staticPods = CONTROL_PLANE.flatMap((node) =>
        ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"].map((component) => `${component}-${node}|Running|true||Node`),
    );
    return {
        nodes: lines([...CONTROL_PLANE, ...WORKERS].map((node) => `${node}|True|KubeletReady`)),
        "cp-nodes": lines(CONTROL_PLANE),
        "pods-kube-system": lines([
            ...staticPods,
            "coredns-1|Running|true||ReplicaSet",
            "coredns-2|Running|true||ReplicaSet",
            "kube-proxy-a|Running|true||DaemonSet",
            "aws-load-balancer-controller-1|Running|true true||ReplicaSet",
            "upload-1|Succeeded|false||Job",
            "upload-0|Failed|false||Job",
        ]),
        "pods-kube-flannel": lines(["kube-flannel-ds-a|Running|true||DaemonSet"]),
        validatingwebhookconfigurations: lines([`aws-load-balancer-webhook|${LBC_SERVICE} ${LBC_SERVICE} / `]),
        mutatingwebhookconfigurations: lines([`aws-load-balancer-webhook|${LBC_SERVICE} `, "by-url|/ "]),
        "eps-kube-system-aws-load-balancer-webhook-service": lines(["e:false", "e:"]),
        "etcd-membership.sh": "echo 'NAME PEER HEALTH LEADER'; echo 'cp-1 https://192.168.2.11:2380 healthy yes'\n",
    };
}

function runGate(files: Record<string, string>, env: Record<string, string> = {}, mode: "file" | "stdin" = "file"): StubbedRun & { fake: string } {
    const fake = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-health-"));
    for (const [name, content] of Object.entries(files)) {
        fs.writeFileSync(path.join(fake, name), content);
    }
    const options = {
        stubs: { kubectl: KUBECTL },
        env: {
            FAKE: fake,
            POLL_INTERVAL: "0.01",
            HEALTH_TIMEOUT: "0",
            HEALTH_NAMESPACES: "kube-system kube-flannel",
            ETCD_MEMBERSHIP: path.join(fake, "etcd-membership.sh"),
            ...env,
        },
        rootEnv: { LOG_FILE: "var/log/zadara-eksd-health.log", KUBERNETES_ETC: "etc/kubernetes" },
    };
    const run =
        mode === "stdin"
            ? runStubbedBash("-s", { ...options, stdin: scriptForStdin(["health-gate.sh"]) })
            : runStubbedBash(scriptPath("health-gate.sh"), options);
    return { ...run, fake };
}

function check(run: StubbedRun & { fake: string }, assertions: (run: StubbedRun) => void): void {
    try {
        assertions(run);
    } catch (error) {
        console.error(`--- stderr ---\n${run.stderr}\n--- stdout ---\n${run.stdout}`);
        throw error;
    } finally {
        removeRunRoot(run);
        fs.rmSync(run.fake, { recursive: true, force: true });
    }
}

/** The table rows printed on failure, as [kind, object, problem]. */
function tableRows(stderr: string): string[][] {
    const lines = stderr.split("\n");
    const header = lines.findIndex((line) => /^KIND\s+OBJECT\s+PROBLEM$/.test(line));
    assert.ok(header >= 0, "no table of problems printed");
    return lines
        .slice(header + 1)
        .filter((line) => line.trim() && !line.includes("[health-gate]"))
        .map((line) => [line.slice(0, 14).trim(), line.slice(15, 75).trim(), line.slice(76).trim()]);
}

function failsWith(files: Record<string, string>, expected: string[][], env: Record<string, string> = {}): void {
    check(runGate(files, env), (run) => {
        assert.equal(run.code, 1);
        assert.match(run.stderr, /FAILED: the cluster is not healthy after 0s; what is unhealthy:/);
        assert.deepEqual(tableRows(run.stderr), expected);
    });
}

describe("health-gate.sh", () => {
    it("passes a healthy cluster: nodes, static pods, kube-system pods, etcd members, webhook endpoints", () => {
        check(runGate(healthyCluster()), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.equal(run.stdout, "healthy: 5/5 nodes Ready, 19 pods in kube-system kube-flannel, etcd members healthy, 1 webhook service(s) checked\n");
            // One endpoint lookup for the service that three webhooks share.
            assert.equal(run.calls.filter((call) => call.includes("get endpointslices")).length, 1);
        });
    });

    it("always checks kube-system, where the static pods live", () => {
        check(runGate(healthyCluster(), { HEALTH_NAMESPACES: "kube-flannel" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, /19 pods in kube-system kube-flannel/);
        });
    });

    it("runs the same from its joined script on stdin", () => {
        check(runGate(healthyCluster(), {}, "stdin"), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stderr, /\[health-gate\] cluster healthy/);
        });
    });

    it("waits, with progress, until a cluster heals within the budget (counted polls)", () => {
        const files = healthyCluster();
        files["nodes.bad"] = files.nodes.replace("w-2|True|KubeletReady", "w-2|False|KubeletNotReady");
        check(runGate(files, { HEALTH_TIMEOUT: "120", STUB_BAD_POLLS: "3" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.equal(run.calls.filter((call) => / get nodes -o /.test(call)).length, 4);
            assert.match(run.stderr, /waiting up to 120s for a healthy cluster/);
            assert.match(run.stderr, /1 problem\(s\), e\.g\. node w-2 Ready=False \(KubeletNotReady\)/);
            assert.match(run.stderr, /done waiting for a healthy cluster/);
        });
    });

    it("fails on a node that is not Ready", () => {
        const files = healthyCluster();
        files.nodes = files.nodes.replace("w-2|True|KubeletReady", "w-2|False|KubeletNotReady");
        failsWith(files, [["node", "w-2", "Ready=False (KubeletNotReady)"]]);
    });

    it("fails on kube-system and add-on pods that do not run (finished Jobs ignored)", () => {
        const files = healthyCluster();
        files["pods-kube-system"] = files["pods-kube-system"]
            .replace("coredns-2|Running|true||ReplicaSet", "coredns-2|Running|false|CrashLoopBackOff|ReplicaSet")
            .replace("coredns-1|Running|true||ReplicaSet", "coredns-1|Pending|||ReplicaSet");
        files["pods-kube-flannel"] += "kube-flannel-ds-b|Failed|false||DaemonSet\n";
        failsWith(files, [
            ["pod", "kube-system/coredns-1", "Pending"],
            ["pod", "kube-system/coredns-2", "Running, containers ready: false, waiting: CrashLoopBackOff"],
            ["pod", "kube-flannel/kube-flannel-ds-b", "Failed, containers ready: false"],
        ]);
    });

    it("fails on a missing control-plane static pod", () => {
        const files = healthyCluster();
        files["pods-kube-system"] = files["pods-kube-system"].replace("kube-scheduler-cp-2|Running|true||Node\n", "");
        failsWith(files, [["static-pod", "kube-system/kube-scheduler-cp-2", "missing on control-plane node cp-2"]]);
    });

    it("fails on unhealthy etcd members, with what etcd-membership.sh said", () => {
        const files = healthyCluster();
        files["etcd-membership.sh"] = "echo 'cp-3 https://192.168.2.13:2380 unhealthy no'\necho 'quorum at risk: 2 of 3 healthy' >&2\nexit 1\n";
        failsWith(files, [
            ["etcd", "members", "etcd-membership.sh status exited 1: cp-3 https://192.168.2.13:2380 unhealthy no quorum at risk: 2 of 3 healthy"],
        ]);
    });

    it("checks etcd through its static pods when etcd-membership.sh is not installed", () => {
        check(runGate(healthyCluster(), { ETCD_MEMBERSHIP: "/nonexistent/etcd-membership.sh" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, /etcd via its static pods/);
        });
    });

    it("fails on an admission webhook whose service has no ready endpoint", () => {
        const files = healthyCluster();
        files["eps-kube-system-aws-load-balancer-webhook-service"] = "e:false\n";
        failsWith(files, [["webhook", "validating/aws-load-balancer-webhook", `service ${LBC_SERVICE} has no ready endpoint: requests it intercepts fail`]]);
    });

    it("fails with the API error when the API server does not answer", () => {
        failsWith({ ...healthyCluster(), "api-down": "" }, [
            ["api", "kube-apiserver", "cannot list nodes: The connection to the server 192.168.0.50:6443 was refused"],
        ]);
    });

    it("refuses a timeout that is not a number", () => {
        check(runGate(healthyCluster(), { HEALTH_TIMEOUT: "ten" }), (run) => {
            assert.equal(run.code, 2);
            assert.deepEqual(run.calls, []);
        });
    });
});
