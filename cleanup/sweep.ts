// The cleanup run: Kubernetes side first (the controllers remove their own resources), then
// rounds of "look, delete what may go" against the cloud until nothing of the cluster is left
// or the deadline passes. Time comes from an injectable clock; no step waits past the deadline.
import type { CloudApi } from "./cloud";
import { backoffMs, describeError, fatalCloudReason, isInUse, isNotFound } from "./errors";
import { Candidate, Inventory, InventoryContext, KeepLists, takeInventory } from "./inventory";
import { cleanKubernetes, KubeApi, KubeOutcome, KubeRefusedError } from "./kube";
import { Remaining, remainingTable, resourceLine } from "./report";
import type { Action, Clock, FoundResource, Logger } from "./types";

export const DEFAULT_TIMEOUT_SECONDS = 600;
export const DEFAULT_GRACE_SECONDS = 120;
export const DEFAULT_POLL_SECONDS = 3;
/** Poll interval during the grace period. */
export const GRACE_POLL_MS = 10_000;

export interface CleanupOptions {
    cluster: string;
    cloud: CloudApi;
    /** Undefined: no kubeconfig, cloud side only. */
    kube?: KubeApi;
    keep: KeepLists;
    dryRun: boolean;
    timeoutMs: number;
    /** How long the controllers get to remove their resources before the sweep deletes them. */
    graceMs: number;
    pollMs: number;
    clock: Clock;
    log: Logger;
    /** For the printed commands. */
    baseUrl: string;
    insecure?: boolean;
}

export interface CleanupResult {
    /** Nothing of the cluster is left (dry run: nothing would be deleted). */
    clean: boolean;
    /** Why the run stopped before its work: a refused credential, a name that does not resolve. */
    stopped?: string;
    counts: Record<Action, number>;
    remaining: Remaining[];
    rounds: number;
    apiCalls: number;
    kubernetes: KubeOutcome | undefined;
}

interface RetryState {
    attempts: number;
    nextAt: number;
    lastError?: string;
}

/** An answer no retry can change: the run ends at once with this reason. */
export class CleanupStopped extends Error {
    constructor(reason: string) {
        super(reason);
        this.name = "CleanupStopped";
    }
}

/** Stops on a fatal cloud error (auth, DNS, TLS); returns otherwise. */
function stopIfFatal(what: string, error: unknown): void {
    const reason = fatalCloudReason(error);
    if (reason !== undefined) {
        throw new CleanupStopped(`${what}: ${describeError(error)}: ${reason}`);
    }
}

const ORDER: FoundResource["kind"][] = [
    "listener",
    "load-balancer",
    "classic-elb",
    "target-group",
    "snapshot",
    "volume",
    "network-interface",
    "security-group",
];

export class Cleanup {
    private readonly retries = new Map<string, RetryState>();
    private readonly seen = new Map<string, Candidate>();
    private readonly deletedIds = new Set<string>();
    private readonly counts: Record<Action, number> = { deleted: 0, gone: 0, "would delete": 0, kept: 0, remains: 0 };
    private deadline = 0;

    constructor(private readonly o: CleanupOptions) {}

    private remainingMs(): number {
        return this.deadline - this.o.clock.now();
    }

    private emit(resource: FoundResource, action: Action, detail?: string): void {
        this.counts[action]++;
        this.o.log.result(resourceLine(resource, action, detail));
    }

    async run(): Promise<CleanupResult> {
        const started = this.o.clock.now();
        try {
            return await this.work(started);
        } catch (error) {
            if (!(error instanceof CleanupStopped || error instanceof KubeRefusedError)) {
                throw error;
            }
            const reason = error.message;
            this.o.log.info(`STOPPED: ${reason}`);
            this.o.log.result(
                `stopped before the cleanup was done: deleted ${this.counts.deleted}, removed by their controllers ${this.counts.gone} ` +
                    `(${this.o.cloud.totalCalls} cloud API calls, ${((this.o.clock.now() - started) / 1000).toFixed(1)}s)`,
            );
            return {
                clean: false,
                stopped: reason,
                counts: { ...this.counts },
                remaining: [],
                rounds: 0,
                apiCalls: this.o.cloud.totalCalls,
                kubernetes: undefined,
            };
        }
    }

    /** Whether a candidate is what a running controller now removes on its own. */
    private awaited(kubernetes: KubeOutcome | undefined, c: Candidate): boolean {
        if (!kubernetes) {
            return false;
        }
        return (c.createdFor !== undefined && kubernetes.awaited.has(c.createdFor)) || (c.kind === "volume" && kubernetes.awaitedVolumeIds.has(c.id));
    }

    private async work(started: number): Promise<CleanupResult> {
        const { clock, log } = this.o;
        this.deadline = started + this.o.timeoutMs;
        log.info(
            `cluster ${this.o.cluster}: ${this.o.dryRun ? "dry run, nothing is deleted" : `deadline in ${Math.round(this.o.timeoutMs / 1000)}s`}; cloud API ${this.o.baseUrl}`,
        );

        // A first look before the Kubernetes side, so what the controllers then remove is reported.
        const firstLook: InventoryContext = {
            cluster: this.o.cluster,
            keep: this.o.keep,
            pvNames: new Set(),
            keepVolumes: new Map(),
            keepSnapshots: new Map(),
            knownLoadBalancers: new Map(),
        };
        if (this.o.kube && !this.o.dryRun) {
            try {
                this.noteGone(await takeInventory(this.o.cloud, firstLook));
            } catch (error) {
                stopIfFatal("listing the cloud", error);
                log.info(`first look at the cloud failed (${describeError(error)}); going on`);
            }
        }
        const kubernetes = this.o.kube ? await cleanKubernetes(this.o.kube, log, { dryRun: this.o.dryRun, remainingMs: () => this.remainingMs() }) : undefined;
        if (!this.o.kube) {
            log.info("no kubeconfig given: skipping the Kubernetes side, sweeping the cloud side by tags");
        }
        const ctx: InventoryContext = {
            cluster: this.o.cluster,
            keep: this.o.keep,
            pvNames: kubernetes?.pvNames ?? new Set(),
            keepVolumes: kubernetes?.keepVolumes ?? new Map(),
            keepSnapshots: kubernetes?.keepSnapshots ?? new Map(),
            knownLoadBalancers: firstLook.knownLoadBalancers,
        };
        // The grace period is for running controllers with work to do, and ends when that work is done.
        const controllersHaveWork = kubernetes !== undefined && (kubernetes.awaited.size > 0 || kubernetes.awaitedVolumeIds.size > 0);
        let graceEnd = controllersHaveWork ? Math.min(started + this.o.graceMs, this.deadline) : started;
        if (graceEnd > started) {
            log.info(`giving the controllers up to ${Math.round((graceEnd - started) / 1000)}s to remove their cloud resources`);
        }

        let rounds = 0;
        let last: Inventory | undefined;
        let lastError: string | undefined;
        const keptReported = new Set<string>();
        while (true) {
            rounds++;
            try {
                last = await takeInventory(this.o.cloud, ctx);
                lastError = undefined;
            } catch (error) {
                stopIfFatal("listing the cloud", error);
                lastError = describeError(error);
                log.info(`listing the cloud failed (${lastError}); retrying`);
            }
            if (last && lastError === undefined && graceEnd > clock.now() && !last.candidates.some((c) => this.awaited(kubernetes, c))) {
                log.info(`the controllers removed what they were asked to after ${((clock.now() - started) / 1000).toFixed(1)}s: the grace period ends`);
                graceEnd = clock.now();
            }
            if (last && lastError === undefined) {
                for (const k of last.kept.filter((r) => !keptReported.has(r.id))) {
                    keptReported.add(k.id);
                    this.emit(k, "kept", k.waitingFor);
                }
                this.noteGone(last);
                if (this.o.dryRun) {
                    for (const c of this.sorted(last.candidates)) {
                        this.emit(c, "would delete", c.waitingFor ? `after: ${c.waitingFor}` : undefined);
                    }
                    break;
                }
                if (last.candidates.length === 0) {
                    break;
                }
            }
            if (this.remainingMs() <= 0) {
                break;
            }
            let progressed = false;
            if (last && lastError === undefined && clock.now() >= graceEnd) {
                progressed = await this.deleteRound(last.candidates);
            }
            if (this.remainingMs() <= 0) {
                // One last look so the report shows what really remains.
                continue;
            }
            if (!progressed) {
                await clock.sleep(Math.min(this.nextWakeMs(graceEnd), this.remainingMs()));
            }
        }

        // After a successful look `seen` holds exactly what that look found.
        const remaining: Remaining[] = this.o.dryRun
            ? []
            : this.sorted([...this.seen.values()]).map((c) => ({
                  resource: c,
                  lastError: this.retries.get(c.id)?.lastError ?? lastError,
                  attachedTo: c.attachedTo,
              }));
        for (const item of remaining) {
            this.emit(item.resource, "remains", item.lastError ?? item.resource.waitingFor);
        }
        // A listing that failed proves nothing: never clean then, in a dry run either.
        const clean = lastError === undefined && (this.o.dryRun ? this.counts["would delete"] === 0 : remaining.length === 0);
        log.result(
            `${this.o.dryRun ? "would delete" : "deleted"} ${this.o.dryRun ? this.counts["would delete"] : this.counts.deleted}, ` +
                `removed by their controllers ${this.counts.gone}, kept ${this.counts.kept}, remaining ${remaining.length} ` +
                `(${rounds} round(s), ${this.o.cloud.totalCalls} cloud API calls, ${((clock.now() - started) / 1000).toFixed(1)}s)`,
        );
        if (lastError !== undefined) {
            log.info(
                `DEADLINE: the cloud could not be listed within ${Math.round(this.o.timeoutMs / 1000)}s (last error: ${lastError}); ` +
                    `what remains of cluster ${this.o.cluster} is unknown${remaining.length > 0 ? `; seen before the failure: ${remaining.length} resource(s)` : ""}`,
            );
        } else if (!clean && !this.o.dryRun) {
            log.info(`DEADLINE: ${remaining.length} resource(s) of cluster ${this.o.cluster} remain after ${Math.round(this.o.timeoutMs / 1000)}s:`);
        }
        if (!clean && !this.o.dryRun && remaining.length > 0) {
            for (const line of remainingTable(remaining, { baseUrl: this.o.baseUrl, insecure: this.o.insecure })) {
                log.info(line);
            }
        }
        if (!clean && !this.o.dryRun) {
            log.info("Remove them (or fix what holds them), then run the cleanup again, then `pulumi destroy` again.");
        }
        return { clean, counts: { ...this.counts }, remaining, rounds, apiCalls: this.o.cloud.totalCalls, kubernetes };
    }

    /** Resources seen before and missing now, not deleted by us: their controller removed them. */
    private noteGone(inventory: Inventory): void {
        const present = new Set(inventory.candidates.map((c) => c.id));
        const kept = new Set(inventory.kept.map((c) => c.id));
        for (const [id, resource] of this.seen) {
            if (!present.has(id)) {
                this.seen.delete(id);
                if (!this.deletedIds.has(id) && !kept.has(id)) {
                    this.emit(resource, "gone", "removed by its controller");
                }
            }
        }
        for (const c of inventory.candidates) {
            this.seen.set(c.id, c);
        }
    }

    private sorted(candidates: Candidate[]): Candidate[] {
        return [...candidates].sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) || a.id.localeCompare(b.id));
    }

    /** Earliest time a retry is due (or one poll interval), relative to now. */
    private nextWakeMs(graceEnd: number): number {
        const now = this.o.clock.now();
        let wake = now + this.o.pollMs;
        if (graceEnd > now) {
            // While the controllers work, look less often: each look is a dozen calls.
            wake = Math.min(now + Math.max(this.o.pollMs, GRACE_POLL_MS), graceEnd);
        }
        for (const state of this.retries.values()) {
            if (state.nextAt > now) {
                wake = Math.min(wake, state.nextAt);
            }
        }
        return Math.max(0, wake - now);
    }

    /** Deletes what may go now; true when something was deleted (look again at once). */
    private async deleteRound(candidates: Candidate[]): Promise<boolean> {
        let progressed = false;
        for (const c of this.sorted(candidates)) {
            // Deleted already but still listed: the cloud has not caught up yet.
            if (c.waitingFor || this.deletedIds.has(c.id) || this.remainingMs() <= 0) {
                continue;
            }
            const state = this.retries.get(c.id);
            if (state && state.nextAt > this.o.clock.now()) {
                continue;
            }
            if (await this.attempt(c, () => this.remove(c))) {
                progressed = true;
            }
        }
        return progressed;
    }

    private async remove(c: Candidate): Promise<void> {
        const cloud = this.o.cloud;
        switch (c.kind) {
            case "load-balancer":
                // Listeners go first (a zCompute LB may refuse to go with listeners attached).
                for (const listener of await cloud.listenerArns(c.id)) {
                    const item: FoundResource = { kind: "listener", id: listener, owner: c.owner };
                    await cloud.deleteListener(listener).catch((error) => {
                        if (!isNotFound(error)) {
                            throw error;
                        }
                    });
                    this.emit(item, "deleted");
                }
                return cloud.deleteLoadBalancer(c.id);
            case "classic-elb":
                return cloud.deleteClassicElb(c.id);
            case "target-group":
                return cloud.deleteTargetGroup(c.id);
            case "snapshot":
                return cloud.deleteSnapshot(c.id);
            case "volume":
                return cloud.deleteVolume(c.id);
            case "network-interface":
                return cloud.deleteNetworkInterface(c.id);
            case "security-group":
                for (const rule of c.references ?? []) {
                    const revoked = await cloud.revokeReference(rule, c.id).then(
                        () => true,
                        (error: unknown) => {
                            if (!isNotFound(error)) {
                                throw error;
                            }
                            return false;
                        },
                    );
                    this.o.log.info(
                        revoked
                            ? `revoked the ${rule.direction} rule of ${rule.groupId} that references ${c.id}`
                            : `the ${rule.direction} rule of ${rule.groupId} that referenced ${c.id} was already gone`,
                    );
                }
                return cloud.deleteSecurityGroup(c.id);
            case "listener":
                return cloud.deleteListener(c.id);
        }
    }

    /** One delete with the retry bookkeeping; true when the resource is gone. */
    private async attempt(c: Candidate, action: () => Promise<void>): Promise<boolean> {
        try {
            await action();
        } catch (error) {
            stopIfFatal(`deleting ${c.kind} ${c.id}`, error);
            if (!isNotFound(error)) {
                const previous = this.retries.get(c.id);
                const attempts = (previous?.attempts ?? 0) + 1;
                const message = describeError(error);
                const delay = backoffMs(attempts);
                this.retries.set(c.id, { attempts, nextAt: this.o.clock.now() + delay, lastError: message });
                if (!previous || previous.lastError !== message) {
                    this.o.log.info(
                        `${c.kind} ${c.id}: ${isInUse(error) ? "still in use" : "delete failed"} (${message}); retrying with backoff (next in ${delay / 1000}s)`,
                    );
                }
                return false;
            }
        }
        this.retries.delete(c.id);
        this.deletedIds.add(c.id);
        this.emit(c, "deleted");
        return true;
    }
}
