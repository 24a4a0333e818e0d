// Worst-case wait budgets of a roll, from the same constants the program hands the nodes: the
// most a replaced node can hold `pulumi up` before its step fails. Shown by the change table,
// the offline plan and the benchmark, so all three quote one figure.
import { CONTROL_PLANE_DRAIN_TIMEOUT_SECONDS } from "./control-plane";
import { BUNDLE_INSTALL_WAIT_SECONDS, JOIN_TIMEOUT_SECONDS, MIN_API_WAIT_SECONDS } from "./node-bootstrap";
import { DEFAULT_ROLL_SETTINGS, DRAIN_CLIENT_MARGIN_SECONDS, NODE_READY_TIMEOUT_SECONDS, TERMINATE_TIMEOUT_SECONDS } from "./worker-rolls";

/** control-plane-up.sh GATE_TIMEOUT default: the token apply and each of the three gate checks. */
export const GATE_TIMEOUT_SECONDS = 600;
/** etcd-membership.sh REMOVE_TIMEOUT default: the removal, then the member leaving the list. */
export const ETCD_REMOVE_TIMEOUT_SECONDS = 30;

/**
 * One control-plane node: bundle installed, API wait, join retries, token apply, three gate
 * checks; then the node it replaced leaves (drain and the etcd removal).
 */
export function controlPlaneNodeBudgetSeconds(): number {
    return (
        BUNDLE_INSTALL_WAIT_SECONDS +
        MIN_API_WAIT_SECONDS +
        JOIN_TIMEOUT_SECONDS +
        4 * GATE_TIMEOUT_SECONDS +
        CONTROL_PLANE_DRAIN_TIMEOUT_SECONDS +
        2 * ETCD_REMOVE_TIMEOUT_SECONDS
    );
}

/** One worker group of `nodes` nodes: a Ready wait per surge batch, then each node's drain and termination. */
export function workerGroupBudgetSeconds(
    nodes: number,
    maxSurge = DEFAULT_ROLL_SETTINGS.maxSurge,
    drainTimeoutSeconds = DEFAULT_ROLL_SETTINGS.drainTimeoutSeconds,
): number {
    const batches = Math.ceil(nodes / Math.max(1, maxSurge));
    return batches * NODE_READY_TIMEOUT_SECONDS + nodes * (drainTimeoutSeconds + DRAIN_CLIENT_MARGIN_SECONDS + TERMINATE_TIMEOUT_SECONDS);
}

/** "22680 s" -> "6 h 18 min": budgets are hours long, seconds hide that. */
export function formatDuration(seconds: number): string {
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.round((seconds % 3600) / 60);
    return hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min`;
}
