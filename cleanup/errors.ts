// How a failed delete is treated: gone already, or retried with backoff until the deadline.
import { CloudCallError } from "./cloud";

/** Codes that mean the resource no longer exists: the goal is reached. */
const NOT_FOUND = new Set([
    "LoadBalancerNotFound",
    "LoadBalancerNotFoundException",
    "AccessPointNotFound",
    "AccessPointNotFoundException",
    "TargetGroupNotFound",
    "TargetGroupNotFoundException",
    "ListenerNotFound",
    "ListenerNotFoundException",
    "InvalidGroup.NotFound",
    "InvalidVolume.NotFound",
    "InvalidSnapshot.NotFound",
    "InvalidNetworkInterfaceID.NotFound",
    "InvalidPermission.NotFound",
]);

/** Codes that mean "not yet": something still holds the resource. */
const IN_USE = new Set([
    "DependencyViolation",
    "ResourceInUse",
    "ResourceInUseException",
    "VolumeInUse",
    "IncorrectState",
    "InvalidSnapshot.InUse",
    "InvalidNetworkInterface.InUse",
    "InvalidVolume.AttachedToInstance",
]);

export function isNotFound(error: unknown): boolean {
    return error instanceof CloudCallError && NOT_FOUND.has(error.code);
}

export function isInUse(error: unknown): boolean {
    return error instanceof CloudCallError && IN_USE.has(error.code);
}

/** Short text of an error for logs and the final table. */
export function describeError(error: unknown): string {
    return error instanceof Error ? error.message.replace(/\s+/g, " ").slice(0, 300) : String(error);
}

export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 16_000;

/** Exponential backoff: 1 s, 2 s, 4 s ... capped at 16 s. */
export function backoffMs(attempt: number): number {
    return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempt - 1));
}
