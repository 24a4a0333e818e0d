// The acceptance run, phase by phase (docs/acceptance.md):
//   doctor → up → validate (health gate, nodes, a LoadBalancer Service, a PVC and its snapshot,
//   the autoscaler) → day 2 (control plane 1 → 3, one EKS-D minor upgrade) with the API's write
//   outage measured → destroy → cleanup --dry-run finds nothing → report.
// Once `up` has started, `destroy` is always attempted, whatever failed before; the stack's
// config is put back as it was. Every phase has a timeout; a timed-out update is cancelled.
import type { AcceptanceDependencies, AcceptanceReport, PhaseResult } from "./types";

export interface UpgradeTarget {
    eksdVersion: string;
    controlPlaneAmiId: string;
    workerAmiId: string;
}

export interface AcceptanceOptions {
    stackName: string;
    /** The minor to upgrade to, with its images; undefined skips the upgrade phase (and says why). */
    upgrade?: UpgradeTarget;
    /** Why there is no upgrade target (for the report). */
    upgradeSkipReason?: string;
    timeouts: PhaseTimeouts;
}

/** Minutes per phase. */
export interface PhaseTimeouts {
    doctor: number;
    up: number;
    validate: number;
    dayTwo: number;
    destroy: number;
    cleanup: number;
}

export const DEFAULT_TIMEOUTS: PhaseTimeouts = { doctor: 15, up: 90, validate: 20, dayTwo: 120, destroy: 60, cleanup: 15 };

const PROJECT = "zadara-eksd";

class PhaseTimeout extends Error {}

export class AcceptanceRun {
    private readonly phases: PhaseResult[] = [];
    private readonly writeOutages: Record<string, number> = {};
    private left: string[] = [];
    /** Config keys changed by day 2, with the value to put back (undefined: was unset). */
    private readonly changed = new Map<string, string | undefined>();

    constructor(
        private readonly options: AcceptanceOptions,
        private readonly deps: AcceptanceDependencies,
    ) {}

    async run(): Promise<AcceptanceReport> {
        const ok = await this.phase("doctor", this.options.timeouts.doctor, async () => {
            const code = await this.deps.doctor();
            if (code !== 0) {
                throw new Error(`npm run doctor -- --stack ${this.options.stackName} exits ${code}: something the stack needs fails (its table says what)`);
            }
            return "nothing the stack needs fails";
        });
        if (!ok) {
            return this.report(["up", "validate", "day 2", "destroy", "cleanup --dry-run"]);
        }
        let outputs: Record<string, unknown> = {};
        try {
            const up = await this.phase(
                "up",
                this.options.timeouts.up,
                async () => {
                    outputs = await this.deps.stack.up((line) => this.deps.log(`[up] ${line.trimEnd()}`));
                    return `${Object.keys(outputs).length} outputs`;
                },
                () => this.deps.stack.cancel(),
            );
            if (up) {
                await this.validateAndChange(outputs);
            }
        } finally {
            await this.restoreConfig();
            await this.destroyAndCheck();
        }
        return this.report([]);
    }

    private async validateAndChange(outputs: Record<string, unknown>): Promise<void> {
        const t = this.options.timeouts.validate;
        const cluster = await this.deps.cluster(outputs);
        const checks: Array<[string, () => Promise<string>]> = [
            ["validate: health gate", () => cluster.healthGate(outputs)],
            ["validate: nodes Ready", () => cluster.nodesReady()],
            ["validate: LoadBalancer Service answers", () => cluster.loadBalancerAnswers()],
            ["validate: PVC bound and snapshotted", () => cluster.volumeBoundAndSnapshotted()],
            ["validate: autoscaler adds a node", () => cluster.autoscalerAddsNode()],
        ];
        let valid = true;
        for (const [name, check] of checks) {
            valid = (await this.phase(name, t, check)) && valid;
        }
        try {
            await cluster.removeTestObjects();
        } catch (error) {
            this.deps.log(`could not remove the test objects: ${message(error)}`);
        }
        if (!valid) {
            this.skip("day 2: control plane 1 → 3", "a validation failed");
            this.skip("day 2: EKS-D upgrade", "a validation failed");
            return;
        }
        const count = (await this.deps.stack.getConfig("controlPlaneCount")) ?? "1";
        if (count !== "1") {
            this.skip("day 2: control plane 1 → 3", `the stack starts with controlPlaneCount ${count}, not 1`);
        } else if (!(await this.dayTwo("day 2: control plane 1 → 3", { controlPlaneCount: "3" }, outputs))) {
            this.skip("day 2: EKS-D upgrade", "the control-plane change failed");
            return;
        }
        const upgrade = this.options.upgrade;
        if (!upgrade) {
            this.skip("day 2: EKS-D upgrade", this.options.upgradeSkipReason ?? "no upgrade target");
            return;
        }
        await this.dayTwo(
            `day 2: EKS-D upgrade to ${upgrade.eksdVersion}`,
            { eksdVersion: upgrade.eksdVersion, controlPlaneAmiId: upgrade.controlPlaneAmiId, workerAmiId: upgrade.workerAmiId },
            outputs,
        );
    }

    /** One config change and `up`, with the API write probe running throughout. */
    private async dayTwo(name: string, settings: Record<string, string>, outputs: Record<string, unknown>): Promise<boolean> {
        const probe = await this.deps.probe(outputs);
        return this.phase(
            name,
            this.options.timeouts.dayTwo,
            async () => {
                for (const [key, value] of Object.entries(settings)) {
                    if (!this.changed.has(key)) {
                        this.changed.set(key, await this.deps.stack.getConfig(key));
                    }
                    await this.deps.stack.setConfig(key, value);
                }
                probe.start();
                let outage;
                try {
                    await this.deps.stack.up((line) => this.deps.log(`[${name}] ${line.trimEnd()}`));
                } finally {
                    outage = await probe.stop();
                    this.writeOutages[name] = outage.longestOutageMs / 1000;
                }
                return `${Object.entries(settings)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(", ")}; API writes: ${outage.writes}, failed ${outage.failures}, longest outage ${(outage.longestOutageMs / 1000).toFixed(1)} s`;
            },
            () => this.deps.stack.cancel(),
        );
    }

    /** Puts the stack's config back as it was before day 2 (the stack file is the user's). */
    private async restoreConfig(): Promise<void> {
        for (const [key, value] of this.changed) {
            try {
                if (value === undefined) {
                    await this.deps.stack.removeConfig(key);
                } else {
                    await this.deps.stack.setConfig(key, value);
                }
            } catch (error) {
                this.deps.log(`could not restore ${PROJECT}:${key}: ${message(error)} (set it back by hand)`);
            }
        }
    }

    private async destroyAndCheck(): Promise<void> {
        const destroyed = await this.phase(
            "destroy",
            this.options.timeouts.destroy,
            async () => {
                await this.deps.stack.destroy((line) => this.deps.log(`[destroy] ${line.trimEnd()}`));
                return "the stack's resources are gone";
            },
            () => this.deps.stack.cancel(),
        );
        if (!destroyed) {
            this.left.push(`the stack ${this.options.stackName} (destroy failed: run \`pulumi destroy --stack ${this.options.stackName}\`)`);
            this.skip("cleanup --dry-run", "the destroy failed");
            return;
        }
        await this.phase("cleanup --dry-run", this.options.timeouts.cleanup, async () => {
            const { code, found } = await this.deps.cleanupDryRun();
            if (code !== 0 || found.length > 0) {
                this.left.push(...found);
                throw new Error(`the cleanup still finds ${found.length} resource(s) of the cluster: ${found.join(", ") || `exit ${code}`}`);
            }
            return "nothing of the cluster remains in the cloud";
        });
    }

    private skip(name: string, why: string): void {
        this.phases.push({ name, status: "skipped", seconds: 0, detail: why });
    }

    /** Runs one phase within its timeout; records it; true when it passed. */
    private async phase(name: string, minutes: number, work: () => Promise<string>, onTimeout?: () => Promise<void>): Promise<boolean> {
        const started = this.deps.clock.now();
        this.deps.log(`== ${name}`);
        const timer = this.deps.clock.after(minutes * 60_000);
        const timedOut = timer.done.then(() => {
            throw new PhaseTimeout(`timed out after ${minutes} min`);
        });
        const record = (status: PhaseResult["status"], detail: string) => {
            this.phases.push({ name, status, seconds: Math.round((this.deps.clock.now() - started) / 1000), detail });
            this.deps.log(`${status === "passed" ? "ok" : "FAILED"}: ${name}: ${detail}`);
        };
        const running = work();
        try {
            record("passed", await Promise.race([running, timedOut]));
            return true;
        } catch (error) {
            if (error instanceof PhaseTimeout && onTimeout) {
                await onTimeout().catch((e: unknown) => this.deps.log(`cancel failed: ${message(e)}`));
                // The cancelled operation ends on its own; wait for it, so nothing overlaps the next phase.
                await running.catch(() => undefined);
            }
            record("failed", message(error));
            return false;
        } finally {
            timer.cancel();
            // A phase that lost the race must not surface later as an unhandled rejection.
            timedOut.catch(() => undefined);
            running.catch(() => undefined);
        }
    }

    private report(notRun: string[]): AcceptanceReport {
        const phases = [...this.phases, ...notRun.map((name) => ({ name, status: "not run" as const, seconds: 0, detail: "an earlier phase failed" }))];
        return {
            stack: this.options.stackName,
            result: phases.some((p) => p.status === "failed") ? "failed" : "passed",
            phases,
            writeOutages: this.writeOutages,
            left: this.left,
        };
    }
}

function message(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
