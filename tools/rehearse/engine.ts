// The order in which `pulumi up` runs the steps of a plan, modelled on pulumi/pulumi
// (pkg/resource/deploy/step_generator.go, deployment_executor.go, step_executor.go, v3.248+):
// - a resource's create, update or create-replacement starts once every resource it depends on
//   is done (the program registers it when its inputs resolved); independent steps run in
//   parallel;
// - every delete, and the old half of every replacement (create-before-delete), runs at the END,
//   after every create and update (performPostSteps -> GenerateDeletes), in reverse dependency
//   order of the OLD state (ScheduleDeletes): antichains in parallel, a barrier between them;
// - a failed step stops the update: nothing new starts, running steps finish, and NO delete
//   runs; the old halves stay in the state as pending deletes, which the next update deletes at
//   its end (since Pulumi 3.46, pulumi/pulumi#11027);
// - a resource replaced delete-before-replace (its `deleteBeforeReplace` option) is deleted when
//   its replacement is registered, right before the create, not at the end (step_generator.go:
//   "DeleteBeforeCreate implies that we must immediately delete the resource"); no dependent of
//   ours is replaced with it (only `dependsOn` edges or inputs that change in place lead there);
// - a Command's delete runs with the inputs stored in the state (old host, old script), and a
//   Command whose create failed is not recorded (nothing ever runs its delete).
import { PlannedUpdate, RehearsalState, StateResource } from "./state";

export type StepOp = "create" | "update" | "replace" | "delete" | "same";

export interface EngineStep {
    op: StepOp;
    resource: StateResource;
    /** The old state's resource (update, replace, delete). */
    old?: StateResource;
}

export interface StepOutcome {
    ok: boolean;
    /** Why it failed, or what it did (log line). */
    message: string;
}

/** What runs a step's effect (an instance boot, a Command on a node); the engine decides when. */
export interface StepRunner {
    run(step: EngineStep): Promise<StepOutcome>;
    /** Called after every step that did something, with its outcome (the rehearsal's checks). */
    after(step: EngineStep, outcome: StepOutcome): Promise<void>;
}

export interface UpdateResult {
    ok: boolean;
    state: RehearsalState;
    /** Every step that ran, in start order. */
    log: Array<{ step: EngineStep; outcome: StepOutcome }>;
    failure?: string;
}

function inputsChanged(a: StateResource, b: StateResource): boolean {
    return JSON.stringify(a.inputs) !== JSON.stringify(b.inputs);
}

/**
 * The steps of an update from the state and the plan, before any runs. `targets` (resource
 * names): `pulumi up --target` without --target-dependents, where only those resources change
 * (a new resource outside them is not created, a removed one not deleted, the rest stays as the
 * state has it).
 */
export function diffSteps(state: RehearsalState, planned: PlannedUpdate, targets?: string[]): { forward: EngineStep[]; deletes: EngineStep[] } {
    if (targets !== undefined) {
        const all = diffSteps(state, planned);
        const targeted = (step: EngineStep) => targets.includes(step.resource.name);
        return {
            forward: all.forward
                .filter((step) => step.op !== "create" || targeted(step))
                .map((step) => (targeted(step) || step.old === undefined ? step : { op: "same" as const, resource: step.old, old: step.old })),
            deletes: all.deletes.filter(targeted),
        };
    }
    const old = new Map(state.resources.map((r) => [r.urn, r]));
    const forward: EngineStep[] = [];
    const deletes: EngineStep[] = [...state.pendingDeletes.map((resource) => ({ op: "delete" as const, resource, old: resource }))];
    const plannedUrns = new Set(planned.resources.map((r) => r.urn));
    for (const resource of planned.resources) {
        const previous = old.get(resource.urn);
        if (!previous) {
            forward.push({ op: "create", resource });
        } else if (resource.custom && previous.id !== resource.id) {
            forward.push({ op: "replace", resource, old: previous });
            if (resource.deleteBeforeReplace !== true) {
                deletes.push({ op: "delete", resource: previous, old: previous });
            }
        } else if (resource.custom && inputsChanged(previous, resource)) {
            forward.push({ op: "update", resource, old: previous });
        } else {
            forward.push({ op: "same", resource, old: previous });
        }
    }
    for (const resource of state.resources) {
        if (!plannedUrns.has(resource.urn)) {
            deletes.push({ op: "delete", resource, old: resource });
        }
    }
    return { forward, deletes };
}

/**
 * Antichains of deletes: a resource is deleted after every resource of the delete set that
 * depended on it in the old state (the pending deletes' own dependencies count too).
 */
export function deleteAntichains(deletes: EngineStep[]): EngineStep[][] {
    const dependentsOf = (target: StateResource) => deletes.filter((d) => d.resource !== target && d.resource.dependencies.includes(target.urn));
    const level = new Map<EngineStep, number>();
    const levelOf = (step: EngineStep, seen: Set<EngineStep>): number => {
        const known = level.get(step);
        if (known !== undefined) {
            return known;
        }
        if (seen.has(step)) {
            return 0;
        }
        seen.add(step);
        const value = Math.max(-1, ...dependentsOf(step.resource).map((d) => levelOf(d, seen))) + 1;
        level.set(step, value);
        return value;
    };
    const chains: EngineStep[][] = [];
    for (const step of deletes) {
        const index = levelOf(step, new Set());
        (chains[index] ??= []).push(step);
    }
    return chains.filter((chain) => chain !== undefined);
}

/** Runs one update against `runner`, and returns the state it leaves. */
export async function runUpdate(state: RehearsalState, planned: PlannedUpdate, runner: StepRunner, targets?: string[]): Promise<UpdateResult> {
    const { forward, deletes } = diffSteps(state, planned, targets);
    const log: UpdateResult["log"] = [];
    const done = new Set<string>();
    const recorded = new Map<string, StateResource>();
    const byUrn = new Map(forward.map((step) => [step.resource.urn, step]));
    const started = new Set<EngineStep>();
    const running = new Map<EngineStep, Promise<void>>();
    let failure: string | undefined;

    // Delete-before-replace: the old resource goes first; a failed delete is the step's failure.
    const deletedFirst = new Set<string>();
    const deleteFirstThenRun = async (step: EngineStep): Promise<StepOutcome> => {
        if (step.op === "replace" && step.old && step.resource.deleteBeforeReplace === true) {
            const deleteStep: EngineStep = { op: "delete", resource: step.old, old: step.old };
            const deleted = await runner.run(deleteStep);
            log.push({ step: deleteStep, outcome: deleted });
            await runner.after(deleteStep, deleted);
            if (!deleted.ok) {
                return deleted;
            }
            deletedFirst.add(step.resource.urn);
        }
        return runner.run(step);
    };
    const ready = (step: EngineStep) => step.resource.dependencies.every((urn) => done.has(urn) || !byUrn.has(urn));
    const launch = (step: EngineStep) => {
        started.add(step);
        const task = (async () => {
            // Yield first: the task must be in `running` before it can finish and leave it.
            await Promise.resolve();
            const outcome = step.op === "same" ? { ok: true, message: "unchanged" } : await deleteFirstThenRun(step);
            log.push({ step, outcome });
            if (step.op !== "same") {
                await runner.after(step, outcome);
            }
            if (outcome.ok) {
                done.add(step.resource.urn);
                recorded.set(step.resource.urn, step.resource);
            } else {
                failure ??= `${step.op} ${step.resource.name}: ${outcome.message}`;
                // A failed update keeps the old resource (an update that failed) in the state.
                if (step.old && step.op === "update") {
                    recorded.set(step.resource.urn, step.old);
                }
            }
            running.delete(step);
        })();
        running.set(step, task);
    };

    for (;;) {
        if (failure === undefined) {
            for (const step of forward) {
                if (!started.has(step) && ready(step)) {
                    launch(step);
                }
            }
        }
        if (running.size === 0) {
            break;
        }
        await Promise.race(running.values());
    }
    // An old half whose new half was never created stays a live resource, not a pending delete.
    const notReplaced = new Set(forward.filter((step) => step.op === "replace" && !done.has(step.resource.urn)).map((step) => step.old));
    let pendingDeletes: StateResource[] = deletes.map((d) => d.resource).filter((resource) => !notReplaced.has(resource));
    if (failure === undefined) {
        const remaining = new Set(deletes);
        for (const chain of deleteAntichains(deletes)) {
            const outcomes = await Promise.all(
                chain.map(async (step) => {
                    const outcome = await runner.run(step);
                    log.push({ step, outcome });
                    await runner.after(step, outcome);
                    if (outcome.ok) {
                        remaining.delete(step);
                    }
                    return outcome;
                }),
            );
            const failed = outcomes.find((outcome) => !outcome.ok);
            if (failed) {
                failure = `delete: ${failed.message}`;
                break;
            }
        }
        pendingDeletes = [...remaining].map((step) => step.resource);
    }

    // The new state: what this update recorded, the old resources it did not get to (a failed
    // update), and the old halves it could not delete.
    const resources: StateResource[] = [];
    for (const step of forward) {
        const kept = recorded.get(step.resource.urn);
        if (kept) {
            resources.push(kept);
        } else if (step.old && !deletedFirst.has(step.resource.urn)) {
            resources.push(step.old);
        }
    }
    return {
        ok: failure === undefined,
        failure,
        log,
        state: {
            ...state,
            resources,
            pendingDeletes,
            outputs: failure === undefined ? planned.outputs : state.outputs,
            nextAddress: planned.nextAddress,
        },
    };
}
