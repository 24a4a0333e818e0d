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

/**
 * Answers no retry can change: the cloud refused the credentials (or its clock disagrees), or
 * the endpoint's name does not resolve, or its certificate is not trusted. The run stops at
 * once with the reason instead of retrying them until the deadline. Codes: the AWS common
 * errors (EC2 API reference "Common client error codes"; ELB "Common Errors") and Node's
 * system and TLS error codes.
 */
const AUTH_CODES = new Set([
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId",
    "MissingAuthenticationToken",
    "UnrecognizedClientException",
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "OptInRequired",
]);
const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME"]);
const TLS_CODES = new Set([
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "CERT_HAS_EXPIRED",
    "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Why retrying this error is pointless (with the fix), or undefined for errors worth a retry. */
export function fatalCloudReason(error: unknown): string | undefined {
    if (!(error instanceof CloudCallError)) {
        return undefined;
    }
    if (AUTH_CODES.has(error.code) || error.status === 401) {
        return (
            `the cloud refused the credentials (${error.code}). Fix: export a valid AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY where the cleanup runs ` +
            "(for `pulumi destroy`: in the shell or Deployments settings that run it) and run it again"
        );
    }
    if (error.status === 403) {
        return `the cloud denied the call (${error.code}, HTTP 403). Fix: give the key's user the rights the README lists, then run it again`;
    }
    if (DNS_CODES.has(error.code)) {
        return `the cloud endpoint's host name does not resolve (${error.code}). Fix: set apiEndpoint (or --endpoint-url) to your zCompute API host`;
    }
    if (TLS_CODES.has(error.code)) {
        return `the cloud endpoint's TLS certificate is not trusted (${error.code}). Fix: set rootCaCert to the cloud's CA, or insecure: true on a self-signed cloud`;
    }
    return undefined;
}

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
