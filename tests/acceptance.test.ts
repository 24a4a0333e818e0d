// The acceptance driver against an injected stack, cluster and clock (no Pulumi CLI, no cloud):
// the order of the phases, their timeouts, the destroy after any failure once `up` started, the
// config put back, the report, and the command's skip path.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { AcceptanceRun, DEFAULT_TIMEOUTS } from "../acceptance/driver";
import { formatReport } from "../acceptance/report";
import type { AcceptanceClock, AcceptanceDependencies, ClusterChecks, WriteProbe } from "../acceptance/types";
import { missingPrerequisites, parseAcceptanceArguments, pulumiOnPath, runAcceptanceCli } from "../tools/acceptance";

/** Time moves only when the fakes say so; timers fire when it passes them. */
class ManualClock implements AcceptanceClock {
    time = 0;
    private timers: Array<{ at: number; fire: () => void }> = [];
    now(): number {
        return this.time;
    }
    after(ms: number) {
        let fire = () => undefined as void;
        const done = new Promise<void>((resolve) => {
            fire = resolve;
        });
        const timer = { at: this.time + ms, fire };
        this.timers.push(timer);
        return { done, cancel: () => (this.timers = this.timers.filter((t) => t !== timer)) };
    }
    async advance(ms: number): Promise<void> {
        this.time += ms;
        for (const t of this.timers.filter((x) => x.at <= this.time)) {
            t.fire();
        }
        this.timers = this.timers.filter((x) => x.at > this.time);
        await new Promise((r) => setImmediate(r));
    }
}

interface FakeOptions {
    doctorCode?: number;
    failUp?: boolean;
    /** `up` never returns until cancelled (a hung update). */
    hangUp?: boolean;
    failCheck?: keyof ClusterChecks;
    failDayTwo?: boolean;
    cleanupFinds?: string[];
    failDestroy?: boolean;
    controlPlaneCount?: string;
}

function fake(options: FakeOptions = {}) {
    const clock = new ManualClock();
    const events: string[] = [];
    const config = new Map<string, string>([
        ["controlPlaneCount", options.controlPlaneCount ?? "1"],
        ["eksdVersion", "1.34"],
    ]);
    let ups = 0;
    let cancelled: (() => void) | undefined;
    const check = (name: keyof ClusterChecks) => async () => {
        events.push(`check ${name}`);
        await clock.advance(30_000);
        if (options.failCheck === name) {
            throw new Error(`${name} broke`);
        }
        return `${name} fine`;
    };
    const cluster: ClusterChecks = {
        healthGate: check("healthGate"),
        nodesReady: check("nodesReady"),
        loadBalancerAnswers: check("loadBalancerAnswers"),
        volumeBoundAndSnapshotted: check("volumeBoundAndSnapshotted"),
        autoscalerAddsNode: check("autoscalerAddsNode"),
        removeTestObjects: () => {
            events.push("remove test objects");
            return Promise.resolve();
        },
    };
    let probeRuns = 0;
    const deps: AcceptanceDependencies = {
        clock,
        log: () => undefined,
        doctor: () => {
            events.push("doctor");
            return Promise.resolve(options.doctorCode ?? 0);
        },
        stack: {
            async up(onOutput) {
                ups += 1;
                const which = ups === 1 ? "up" : `up (${[...config].map(([k, v]) => `${k}=${v}`).join(" ")})`;
                events.push(which);
                onOutput("Updating (dev):");
                if (options.hangUp && ups === 1) {
                    await new Promise<void>((resolve) => {
                        cancelled = resolve;
                    });
                    throw new Error("update canceled");
                }
                await clock.advance(ups === 1 ? 1_800_000 : 900_000);
                if ((options.failUp && ups === 1) || (options.failDayTwo && ups === 2)) {
                    throw new Error("resource failed to create");
                }
                return { kubeconfig: "apiVersion: v1", healthGate: "all healthy" };
            },
            async destroy() {
                events.push("destroy");
                await clock.advance(600_000);
                if (options.failDestroy) {
                    throw new Error("destroy failed: a security group is in use");
                }
            },
            cancel() {
                events.push("cancel");
                cancelled?.();
                return Promise.resolve();
            },
            getConfig: (key) => Promise.resolve(config.get(key)),
            setConfig: (key, value) => {
                events.push(`set ${key}=${value}`);
                config.set(key, value);
                return Promise.resolve();
            },
            removeConfig: (key) => {
                events.push(`remove ${key}`);
                config.delete(key);
                return Promise.resolve();
            },
        },
        cluster: () => Promise.resolve(cluster),
        probe: (): Promise<WriteProbe> => {
            probeRuns += 1;
            const run = probeRuns;
            return Promise.resolve({
                start: () => events.push(`probe start ${run}`),
                stop: () => {
                    events.push(`probe stop ${run}`);
                    return Promise.resolve({ writes: 100, failures: run * 3, longestOutageMs: run * 2500 });
                },
            });
        },
        cleanupDryRun: () => {
            events.push("cleanup --dry-run");
            const found = options.cleanupFinds ?? [];
            return Promise.resolve({ code: found.length ? 1 : 0, found });
        },
    };
    return { deps, events, config, clock };
}

const upgrade = { eksdVersion: "1.35", controlPlaneAmiId: "ami-00000000000000135", workerAmiId: "ami-10000000000000135" };

async function runFake(options: FakeOptions = {}, withUpgrade = true) {
    const f = fake(options);
    const report = await new AcceptanceRun(
        { stackName: "dev", upgrade: withUpgrade ? upgrade : undefined, upgradeSkipReason: "no target", timeouts: DEFAULT_TIMEOUTS },
        f.deps,
    ).run();
    return { ...f, report, status: Object.fromEntries(report.phases.map((p) => [p.name, p.status])) };
}

describe("acceptance driver (injected workspace)", () => {
    it("runs the phases in order, measures the write outage of each day-2 change, destroys, checks the cleanup and puts the config back", async () => {
        const { events, report, config } = await runFake();
        assert.deepEqual(events, [
            "doctor",
            "up",
            "check healthGate",
            "check nodesReady",
            "check loadBalancerAnswers",
            "check volumeBoundAndSnapshotted",
            "check autoscalerAddsNode",
            "remove test objects",
            "set controlPlaneCount=3",
            "probe start 1",
            "up (controlPlaneCount=3 eksdVersion=1.34)",
            "probe stop 1",
            "set eksdVersion=1.35",
            "set controlPlaneAmiId=ami-00000000000000135",
            "set workerAmiId=ami-10000000000000135",
            "probe start 2",
            "up (controlPlaneCount=3 eksdVersion=1.35 controlPlaneAmiId=ami-00000000000000135 workerAmiId=ami-10000000000000135)",
            "probe stop 2",
            "set controlPlaneCount=1",
            "set eksdVersion=1.34",
            "remove controlPlaneAmiId",
            "remove workerAmiId",
            "destroy",
            "cleanup --dry-run",
        ]);
        assert.equal(report.result, "passed");
        assert.deepEqual(
            report.phases.map((p) => [p.name, p.status, p.seconds]),
            [
                ["doctor", "passed", 0],
                ["up", "passed", 1800],
                ["validate: health gate", "passed", 30],
                ["validate: nodes Ready", "passed", 30],
                ["validate: LoadBalancer Service answers", "passed", 30],
                ["validate: PVC bound and snapshotted", "passed", 30],
                ["validate: autoscaler adds a node", "passed", 30],
                ["day 2: control plane 1 → 3", "passed", 900],
                ["day 2: EKS-D upgrade to 1.35", "passed", 900],
                ["destroy", "passed", 600],
                ["cleanup --dry-run", "passed", 0],
            ],
        );
        assert.deepEqual(report.writeOutages, { "day 2: control plane 1 → 3": 2.5, "day 2: EKS-D upgrade to 1.35": 5 });
        assert.deepEqual(report.left, []);
        assert.deepEqual(
            [...config],
            [
                ["controlPlaneCount", "1"],
                ["eksdVersion", "1.34"],
            ],
        );
        const table = formatReport(report);
        assert.equal(table[0], "acceptance of stack dev: PASSED");
        assert.ok(table.includes("API write outage during day 2: control plane 1 → 3: 2.5 s"), table.join("\n"));
        assert.equal(table.at(-1), "left behind: nothing");
    });

    it("a failing doctor stops before up: nothing is created, nothing destroyed", async () => {
        const { events, report, status } = await runFake({ doctorCode: 1 });
        assert.deepEqual(events, ["doctor"]);
        assert.equal(report.result, "failed");
        assert.equal(status.doctor, "failed");
        assert.equal(status.up, "not run");
        assert.equal(status.destroy, "not run");
    });

    it("a failed up is still destroyed and checked by the cleanup", async () => {
        const { events, report, status } = await runFake({ failUp: true });
        assert.deepEqual(events, ["doctor", "up", "destroy", "cleanup --dry-run"]);
        assert.equal(status.up, "failed");
        assert.equal(status.destroy, "passed");
        assert.equal(report.result, "failed");
    });

    it("an up that hangs past its timeout is cancelled, then destroyed", async () => {
        const f = fake({ hangUp: true });
        const pending = new AcceptanceRun({ stackName: "dev", timeouts: { ...DEFAULT_TIMEOUTS, up: 90 } }, f.deps).run();
        await new Promise((r) => setImmediate(r));
        await f.clock.advance(89 * 60_000);
        assert.ok(!f.events.includes("cancel"), "not before the timeout");
        await f.clock.advance(60_000);
        const report = await pending;
        assert.deepEqual(f.events, ["doctor", "up", "cancel", "destroy", "cleanup --dry-run"]);
        const up = report.phases.find((p) => p.name === "up");
        assert.equal(up?.status, "failed");
        assert.equal(up?.detail, "timed out after 90 min");
        assert.equal(up?.seconds, 5400);
    });

    it("a failed validation skips day 2 (saying why) and still removes its objects and destroys", async () => {
        const { events, status } = await runFake({ failCheck: "loadBalancerAnswers" });
        assert.equal(status["validate: LoadBalancer Service answers"], "failed");
        assert.equal(status["validate: PVC bound and snapshotted"], "passed", "the other checks still run");
        assert.equal(status["day 2: control plane 1 → 3"], "skipped");
        assert.ok(events.includes("remove test objects"));
        assert.deepEqual(events.slice(-2), ["destroy", "cleanup --dry-run"]);
    });

    it("a failed day-2 change skips the upgrade, puts the config back and destroys", async () => {
        const { events, status, config } = await runFake({ failDayTwo: true });
        assert.equal(status["day 2: control plane 1 → 3"], "failed");
        assert.equal(status["day 2: EKS-D upgrade"], "skipped");
        assert.ok(events.indexOf("probe stop 1") > events.indexOf("probe start 1"), "the probe stops also when the update fails");
        assert.equal(config.get("controlPlaneCount"), "1");
        assert.deepEqual(events.slice(-2), ["destroy", "cleanup --dry-run"]);
    });

    it("skips the control-plane change for a stack that does not start at 1, and the upgrade without a target", async () => {
        const { report } = await runFake({ controlPlaneCount: "3" }, false);
        const skipped = report.phases.filter((p) => p.status === "skipped").map((p) => `${p.name}: ${p.detail}`);
        assert.deepEqual(skipped, ["day 2: control plane 1 → 3: the stack starts with controlPlaneCount 3, not 1", "day 2: EKS-D upgrade: no target"]);
        assert.equal(report.result, "passed");
    });

    it("reports what the cleanup still finds, and a failed destroy as the stack left behind", async () => {
        const leaks = await runFake({ cleanupFinds: ["volume vol-1 ... would delete"] });
        assert.equal(leaks.status["cleanup --dry-run"], "failed");
        assert.deepEqual(leaks.report.left, ["volume vol-1 ... would delete"]);
        const stuck = await runFake({ failDestroy: true });
        assert.equal(stuck.status["cleanup --dry-run"], "skipped");
        assert.match(stuck.report.left[0], /the stack dev \(destroy failed: run `pulumi destroy --stack dev`\)/);
        assert.equal(stuck.report.result, "failed");
    });
});

describe("npm run acceptance (command line)", () => {
    const noDependencies = (): Promise<AcceptanceDependencies> => Promise.reject(new Error("must not be reached"));

    it("skips with exit 0 and says what is missing: no Pulumi CLI, no credentials", async () => {
        const out: string[] = [];
        const code = await runAcceptanceCli(["--stack", "dev"], {
            env: { PATH: "/nonexistent" },
            out: (l) => out.push(l),
            err: (l) => out.push(l),
            pulumiOnPath,
            dependencies: noDependencies,
        });
        assert.equal(code, 0);
        assert.deepEqual(out, [
            "skipped: no Pulumi CLI on PATH (install it: https://www.pulumi.com/docs/iac/download-install/); no zCompute credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY not set)",
        ]);
        assert.deepEqual(
            missingPrerequisites({ AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" }, () => false),
            ["no Pulumi CLI on PATH (install it: https://www.pulumi.com/docs/iac/download-install/)"],
        );
        assert.deepEqual(
            missingPrerequisites({ AWS_ACCESS_KEY_ID: "a" }, () => true),
            ["no zCompute credentials (AWS_SECRET_ACCESS_KEY not set)"],
        );
    });

    it("finds a pulumi executable on PATH", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "acceptance-path-"));
        try {
            assert.equal(pulumiOnPath({ PATH: dir }), false);
            fs.writeFileSync(path.join(dir, "pulumi"), "#!/bin/sh\n", { mode: 0o755 });
            assert.equal(pulumiOnPath({ PATH: `/nonexistent${path.delimiter}${dir}` }), true);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("runs the driver when everything is there, writes the report and exits 1 on a failed phase", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "acceptance-report-"));
        try {
            const f = fake({ failUp: true });
            const out: string[] = [];
            const file = path.join(dir, "report.json");
            const code = await runAcceptanceCli(["--stack", "dev", "--report", file], {
                env: { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" },
                out: (l) => out.push(l),
                err: () => undefined,
                pulumiOnPath: () => true,
                dependencies: () => Promise.resolve(f.deps),
            });
            assert.equal(code, 1);
            assert.equal(out[0], "acceptance of stack dev: FAILED");
            const written = JSON.parse(fs.readFileSync(file, "utf8")) as { result: string; phases: unknown[] };
            assert.equal(written.result, "failed");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("answers --help with exit 0; an incomplete upgrade or unknown minor is refused with exit 2", async () => {
        const out: string[] = [];
        const cli = (args: string[]) =>
            runAcceptanceCli(args, { env: {}, out: (l) => out.push(l), err: (l) => out.push(l), pulumiOnPath: () => false, dependencies: noDependencies });
        assert.equal(await cli(["--help"]), 0);
        assert.match(out[0], /^usage: npm run acceptance -- --stack <name>/);
        assert.equal(await cli(["--stack", "dev", "--upgrade-to", "1.35"]), 2);
        assert.match(out.join("\n"), /an upgrade needs all three/);
        assert.throws(
            () => parseAcceptanceArguments(["--stack", "dev", "--upgrade-to", "1.99", "--upgrade-control-plane-ami", "ami-1", "--upgrade-worker-ami", "ami-2"]),
            /--upgrade-to 1\.99 is not a supported EKS-D minor/,
        );
        assert.equal(await cli([]), 2);
    });
});

describe(".github/workflows/acceptance.yml", () => {
    it("runs npm run acceptance nightly on a self-hosted runner, one run at a time, with credentials from GitHub secrets", async () => {
        const YAML = await import("yaml");
        const text = fs.readFileSync(path.join(__dirname, "..", ".github/workflows/acceptance.yml"), "utf8");
        const workflow = YAML.parse(text) as {
            on: { schedule: Array<{ cron: string }> };
            concurrency: { "cancel-in-progress": boolean };
            jobs: { acceptance: { "runs-on": string[]; steps: Array<{ run?: string; env?: Record<string, string> }> } };
        };
        assert.equal(workflow.on.schedule.length, 1);
        assert.match(workflow.on.schedule[0].cron, /^\d+ \d+ \* \* \*$/);
        assert.equal(workflow.concurrency["cancel-in-progress"], false);
        assert.ok(workflow.jobs.acceptance["runs-on"].includes("self-hosted"));
        const step = workflow.jobs.acceptance.steps.find((s) => s.run?.includes("npm run acceptance --"));
        assert.ok(step, "a step runs npm run acceptance");
        for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PULUMI_ACCESS_TOKEN"]) {
            assert.match(step.env?.[name] ?? "", /^\$\{\{ secrets\.[A-Z_]+ \}\}$/, name);
        }
    });
});
