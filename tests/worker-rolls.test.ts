// WorkerRolls in the plan graph (the real program under the offline plan tool): every group's
// roll runs after the add-ons and after its group's resources, groups roll one at a time, the
// health gate comes last. What changes the roll trigger: tests/lifecycle-graph.test.ts.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { NodeGroupConfig } from "../model";
import { scriptForStdin } from "../cluster/stdin-scripts";
import {
    DEFAULT_ROLL_SETTINGS,
    DRAIN_CLIENT_MARGIN_SECONDS,
    HEALTH_SCRIPTS,
    ROLL_SCRIPTS,
    stdinScriptCommand,
    WorkerRolls,
    workerRollGroups,
} from "../cluster/worker-rolls";
import { runPlan } from "./helpers/plan-cli";

const KUBERNETES_VERSION = "v1.30.14-eks-1-30-44";

function group(overrides: Partial<NodeGroupConfig> = {}): NodeGroupConfig {
    return {
        instanceType: "z8.large",
        minSize: 1,
        desiredSize: 2,
        maxSize: 4,
        volumeSize: 100,
        amiId: "ami-0worker01",
        labels: { team: "web", tier: "front" },
        taints: [
            { key: "dedicated", value: "web", effect: "NoSchedule" },
            { key: "spot", effect: "PreferNoSchedule" },
        ],
        cooldown: 120,
        maxSurge: 1,
        maxUnavailable: 0,
        drainTimeoutSeconds: 600,
        ...overrides,
    };
}

describe("workerRollGroups and the roll command", () => {
    it("defaults to maxSurge 1, maxUnavailable 0, drain timeout 600 s, and takes a group's own settings", () => {
        const groups = workerRollGroups(
            "dev",
            { workers: group(), batch: { ...group(), maxSurge: 3, maxUnavailable: 1, drainTimeoutSeconds: 120 } },
            KUBERNETES_VERSION,
            { workers: "fingerprint-workers", batch: "fingerprint-batch" },
        );
        assert.deepEqual(DEFAULT_ROLL_SETTINGS, { maxSurge: 1, maxUnavailable: 0, drainTimeoutSeconds: 600 });
        assert.deepEqual(groups.workers, {
            asgName: "dev-workers",
            fingerprint: "fingerprint-workers",
            kubeletMinor: KUBERNETES_VERSION.slice(1).split(".").slice(0, 2).join("."),
            ...DEFAULT_ROLL_SETTINGS,
        });
        assert.deepEqual(
            { ...groups.batch, fingerprint: "" },
            {
                asgName: "dev-batch",
                fingerprint: "",
                maxSurge: 3,
                maxUnavailable: 1,
                drainTimeoutSeconds: 120,
                kubeletMinor: KUBERNETES_VERSION.slice(1).split(".").slice(0, 2).join("."),
            },
        );
    });

    it("refuses a group without a roll fingerprint", () => {
        assert.throws(() => workerRollGroups("dev", { workers: group() }, KUBERNETES_VERSION, {}), /no roll fingerprint for node group workers/);
    });

    it("puts settings on the command line, quoted, and the script on stdin", () => {
        assert.equal(
            stdinScriptCommand({ ASG_NAME: "dev-workers", EMPTY: "", UNSET: undefined, ODD: "it's" }),
            "sudo -n env ASG_NAME='dev-workers' ODD='it'\\''s' bash -s",
        );
        assert.throws(() => stdinScriptCommand({ "bad-name": "x" }), /not a shell variable name/);
    });

    it("budgets a drain wait as the script does (the benchmark sums these)", () => {
        const script = fs.readFileSync(path.join(__dirname, "..", "cluster", "scripts", "drain-node.sh"), "utf8");
        assert.equal(Number(/wait_until "\$\(\(timeout_s \+ (\d+)\)\)"/.exec(script)?.[1]), DRAIN_CLIENT_MARGIN_SECONDS);
    });

    it("refuses a group that could never replace a node, before registering anything", () => {
        const groups = workerRollGroups("dev", { workers: { ...group(), maxSurge: 0, maxUnavailable: 0 } }, KUBERNETES_VERSION, { workers: "f" });
        assert.throws(
            () => new WorkerRolls("dev-worker-rolls", { environment: "dev", connection: { host: "h" }, groups, dependsOn: [] }),
            /nodeGroups\.workers: maxSurge and maxUnavailable are both 0/,
        );
    });
});

type PlanResource = NonNullable<ReturnType<typeof runPlan>["plan"]>["resources"][number];

describe("WorkerRolls in the plan", () => {
    const twoGroups = ["--config", "nodeGroups.gpu.instanceType=z16.xlarge", "--config", "nodeGroups.gpu.labels.accelerator=gpu"];
    const base = runPlan(["--stack", "dev", ...twoGroups]);
    // workers needs new instances; gpu only changes sizes.
    const workersChanged = runPlan([
        "--stack",
        "dev",
        ...twoGroups,
        "--config",
        "nodeGroups.workers.amiId=ami-00000000000000009",
        "--config",
        "nodeGroups.gpu.maxSize=6",
        "--config",
        "nodeGroups.gpu.desiredSize=2",
        "--config",
        "nodeGroups.gpu.cooldown=300",
    ]);
    // gpu needs new instances; workers only changes sizes; the CNI changes the add-ons only.
    const gpuChanged = runPlan([
        "--stack",
        "dev",
        ...twoGroups,
        "--config",
        "nodeGroups.gpu.labels.accelerator=gpu2",
        "--config",
        "nodeGroups.workers.maxSize=9",
        "--config",
        "cni=cilium",
    ]);

    const resources = () => base.plan!.resources;
    const named = (plan: typeof base, name: string): PlanResource => {
        const found = plan.plan!.resources.find((r) => r.name === name);
        assert.ok(found, `no ${name} in the plan`);
        return found;
    };
    const dependsOn = (from: PlanResource, target: PlanResource): boolean => {
        const byUrn = new Map(resources().map((r) => [r.urn, r]));
        const seen = new Set<string>();
        const walk = (urn: string): boolean => {
            if (seen.has(urn)) {
                return false;
            }
            seen.add(urn);
            const deps = byUrn.get(urn)?.dependencies ?? [];
            return deps.includes(target.urn) || deps.some(walk);
        };
        return walk(from.urn);
    };

    it("plans one roll per group and a health gate, on control-plane node 0, scripts on stdin", () => {
        for (const run of [base, workersChanged, gpuChanged]) {
            assert.equal(run.code, 0, run.stderr);
        }
        const rolls = resources()
            .filter((r) => r.type === "command:remote:Command" && r.name.endsWith("-roll"))
            .map((r) => r.name)
            .sort();
        assert.deepEqual(rolls, ["dev-gpu-roll", "dev-workers-roll"]);
        const component = resources().find((r) => r.type === "zadara:eksd:WorkerRolls")!;
        for (const name of [...rolls, "dev-health"]) {
            const command = named(base, name);
            assert.equal(command.parent, component.urn);
            const inputs = command.inputs as Record<string, unknown>;
            assert.match(String(inputs.create), /^sudo -n env .* bash -s$/);
            assert.equal(inputs.update, inputs.create, "an update runs the same as a create");
        }
        const workers = named(base, "dev-workers-roll").inputs as Record<string, unknown>;
        assert.equal(workers.stdin, scriptForStdin(ROLL_SCRIPTS));
        assert.match(
            String(workers.create),
            /ASG_NAME='dev-workers' ROLL_FINGERPRINT='[0-9a-f]{20}' KUBELET_MINOR='1\.\d+' MAX_SURGE='1' MAX_UNAVAILABLE='0' DRAIN_TIMEOUT='600'/,
        );
        const health = named(base, "dev-health").inputs as Record<string, unknown>;
        assert.equal(health.stdin, scriptForStdin(HEALTH_SCRIPTS));
        assert.match(String(health.create), /HEALTH_NAMESPACES='kube-system kube-flannel'/);
    });

    it("rolls after every add-on and after the group's own auto scaling group and launch configuration", () => {
        const releases = resources().filter((r) => r.type === "kubernetes:helm.sh/v3:Release");
        assert.ok(releases.length >= 4);
        for (const groupName of ["workers", "gpu"]) {
            const roll = named(base, `dev-${groupName}-roll`);
            for (const release of releases) {
                assert.ok(roll.dependencies.includes(release.urn), `${roll.name} does not wait for ${release.name}`);
            }
            const asg = resources().find((r) => r.type === "aws:autoscaling/group:Group" && r.name === `dev-${groupName}`)!;
            const lc = resources().find((r) => r.type === "aws:ec2/launchConfiguration:LaunchConfiguration" && r.name === `dev-${groupName}`)!;
            assert.ok(dependsOn(roll, asg), `${roll.name} does not wait for its ASG`);
            assert.ok(dependsOn(roll, lc), `${roll.name} does not wait for its launch configuration`);
        }
    });

    it("rolls the groups one at a time and runs the health gate after every roll", () => {
        const gpu = named(base, "dev-gpu-roll");
        const workers = named(base, "dev-workers-roll");
        assert.ok(workers.dependencies.includes(gpu.urn), "groups roll in name order, one at a time");
        assert.ok(!gpu.dependencies.includes(workers.urn));
        const health = named(base, "dev-health");
        for (const roll of [gpu, workers]) {
            assert.ok(health.dependencies.includes(roll.urn), `the health gate does not wait for ${roll.name}`);
        }
    });

    it("changes a group's roll trigger with what needs new instances, and not with sizes or other components", () => {
        // The first trigger is the fingerprint; the second is the run id (every `up` re-checks).
        const trigger = (run: typeof base, name: string) => JSON.stringify(((named(run, name).inputs as Record<string, unknown>).triggers as unknown[])[0]);
        assert.notEqual(trigger(workersChanged, "dev-workers-roll"), trigger(base, "dev-workers-roll"), "new AMI: workers roll");
        assert.equal(trigger(workersChanged, "dev-gpu-roll"), trigger(base, "dev-gpu-roll"), "sizes and cooldown: no gpu roll");
        assert.notEqual(trigger(gpuChanged, "dev-gpu-roll"), trigger(base, "dev-gpu-roll"), "new label: gpu roll");
        assert.equal(trigger(gpuChanged, "dev-workers-roll"), trigger(base, "dev-workers-roll"), "max size and CNI: no workers roll");
        // The trigger is the fingerprint: never the user data (join token) or a secret.
        assert.match(trigger(base, "dev-workers-roll"), /^"[0-9a-f]{20}"$/);
    });
});
