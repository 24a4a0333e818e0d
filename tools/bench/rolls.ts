// Benchmark of a full roll for 3 control-plane nodes and 2 groups x 3 workers: how many steps
// run one after the other, the worst-case wait budget of the worker part (the sum of the
// bounded timeouts, from the constants the program passes to the scripts), and the roll
// script itself against the fake group of the tests (instant stubs: its own overhead, and how
// many cloud and Kubernetes API calls it makes per node).
import { removeRunRoot } from "../../tests/helpers/stubbed-bash";
import { fakeGroup, runRoll } from "../../tests/helpers/roll-fake";
import { HEALTH_TIMEOUT_SECONDS } from "../../cluster/worker-rolls";
import { controlPlaneNodeBudgetSeconds, workerGroupBudgetSeconds } from "../../cluster/roll-budget";

const CONTROL_PLANE_NODES = 3;
const GROUPS = 2;
const WORKERS_PER_GROUP = 3;
/** Control plane, per node: create, join, gate, then the replaced node leaves (the lifecycle chain). */
const CONTROL_PLANE_STEPS_PER_NODE = 4;
/** Workers, per node with maxSurge 1: surge, wait Ready, drain, terminate. */
const WORKER_STEPS_PER_NODE = 4;

export function benchRolls(): Promise<Record<string, number | string>> {
    const workers = GROUPS * WORKERS_PER_GROUP;
    const workerBudget = GROUPS * workerGroupBudgetSeconds(WORKERS_PER_GROUP);
    const controlPlanePerNode = controlPlaneNodeBudgetSeconds();

    const group = fakeGroup({ count: WORKERS_PER_GROUP });
    const run = runRoll(group);
    const events = group.events();
    group.remove();
    removeRunRoot(run);
    if (run.code !== 0) {
        throw new Error(`roll bench run failed:\n${run.stderr}`);
    }
    const cloudCalls = run.calls.filter((call) => call.startsWith("aws ")).length;
    const kubeCalls = run.calls.filter((call) => call.startsWith("kubectl ")).length;

    return Promise.resolve({
        "roll: serialised steps, control plane (3 nodes x create/join/gate/old node leaves)": CONTROL_PLANE_NODES * CONTROL_PLANE_STEPS_PER_NODE,
        "roll: serialised steps, workers (2 x 3 nodes x surge/ready/drain/terminate)": workers * WORKER_STEPS_PER_NODE,
        "roll: serialised steps, health gate": 1,
        "roll: worst-case wait budget, workers (s)": workerBudget,
        "roll: worst-case wait budget, health gate (s)": HEALTH_TIMEOUT_SECONDS,
        "roll: worst-case wait budget, control plane (s)": CONTROL_PLANE_NODES * controlPlanePerNode,
        "roll script: one group of 3, instant stubs (ms)": Math.round(run.elapsedMs),
        "roll script: cloud API calls per replaced node": Number((cloudCalls / WORKERS_PER_GROUP).toFixed(1)),
        "roll script: Kubernetes API calls per replaced node": Number((kubeCalls / WORKERS_PER_GROUP).toFixed(1)),
        "roll script: terminations": events.filter((e) => e.startsWith("terminate")).length,
    });
}
