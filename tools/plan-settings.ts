// The settings part of a day-2 plan: which tracked settings differ between the previous
// `lifecycle` output and the one this plan would export, what the change table says each does,
// and what it costs (which nodes are replaced, the worst case they can take).
import { CHANGE_POLICY, ChangeKind, replacedNodes } from "../cluster/change-policy";
import { parseLifecycleState } from "../cluster/lifecycle-state";
import type { LifecycleValue } from "../cluster/lifecycle-state";
import { controlPlaneNodeBudgetSeconds, formatDuration, workerGroupBudgetSeconds } from "../cluster/roll-budget";

export interface SettingChange {
    key: string;
    from: LifecycleValue;
    to: LifecycleValue;
    kind: ChangeKind;
    effect: string;
    /** Which nodes are replaced and the worst case; absent when no node is replaced. */
    cost?: string;
}

function costOf(key: string, controlPlaneCount: number): string | undefined {
    const policy = CHANGE_POLICY[key];
    const controlPlane = `every control-plane node (${controlPlaneCount}, one at a time; worst case ${formatDuration(controlPlaneCount * controlPlaneNodeBudgetSeconds())})`;
    const workers = `every worker of the affected groups (worst case ${formatDuration(workerGroupBudgetSeconds(1))} per worker)`;
    switch (replacedNodes(policy)) {
        case "control-plane":
            return `replaces ${controlPlane}`;
        case "workers":
            return `replaces ${workers}`;
        case "all":
            return `replaces ${controlPlane}, then ${workers}`;
        default:
            return undefined;
    }
}

/** Tracked settings that changed; none when either side is not a lifecycle state (a new cluster). */
export function describeSettingChanges(previous: unknown, current: unknown): SettingChange[] {
    const before = parseLifecycleState(previous);
    const after = parseLifecycleState(current);
    if (!before || !after) {
        return [];
    }
    const count = typeof after.settings.controlPlaneCount === "number" ? after.settings.controlPlaneCount : 1;
    const changes: SettingChange[] = [];
    for (const [key, to] of Object.entries(after.settings)) {
        const from = before.settings[key];
        const policy = CHANGE_POLICY[key];
        if (from === undefined || from === to || !policy) {
            continue;
        }
        const cost = costOf(key, count);
        changes.push({ key, from, to, kind: policy.kind, effect: policy.effect, ...(cost ? { cost } : {}) });
    }
    return changes;
}
