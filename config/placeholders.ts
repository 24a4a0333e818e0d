// The example stacks' placeholders (Pulumi.dev.yaml, Pulumi.prod.yaml): values that look valid
// but name nothing real. A real `pulumi up` would try to use them (and a cleanup would retry a
// name that never resolves), so they are refused with the key and what belongs there. Only the
// offline plan runs on them, saying so.
import { pathText, showValue } from "./issues";
import { findKeyDefinition, PROJECT_NAME } from "./schema";

/** The example stacks' cloud and object storage host (a name reserved for examples, RFC 2606). */
const EXAMPLE_HOST = /^cloud\.example\.com$/i;
/** The example stacks' admin network (TEST-NET-2, reserved for documentation, RFC 5737). */
const EXAMPLE_NETWORK = /^198\.51\.100\.0\/24$/;
/** `ami-00000000000000001`: an id of zeros and a digit, as the example stacks write them. */
const ZERO_AMI = /^ami-0{10,}[0-9]?$/i;
/** `REPLACE-bastion-keypair`, `REPLACE: ...` */
const REPLACE_MARK = /^replace([-_:\s]|$)/i;

let offlinePlan = false;

/**
 * The offline plan (tools/plan.ts) calls this before it runs the program under mocks, so the
 * example stacks plan as they are. Nothing else does: a real Pulumi run has no way to set it.
 */
export function acceptPlaceholdersForOfflinePlan(): void {
    offlinePlan = true;
}

/** Whether this process accepts placeholders when the caller does not say. */
export function placeholdersAcceptedByDefault(): boolean {
    return offlinePlan;
}

/** What belongs where a placeholder was, by key. */
const WHAT_TO_SET: Record<string, string> = {
    apiEndpoint: "<your zCompute API host>",
    bastionAmiId: "ami-<Ubuntu 22.04 image id of your cloud>",
    controlPlaneAmiId: "ami-<EKS-D image id of your cloud, for eksdVersion>",
    workerAmiId: "ami-<EKS-D image id of your cloud, for eksdVersion>",
    bastionKeyName: "<a key pair name of your cloud>",
    nodeKeyName: "<a key pair name of your cloud>",
    bastionSshCidrs: "<your admin network CIDR, and the CIDR Pulumi runs from>",
    apiAllowedCidrs: "<your admin network CIDR, and the CIDR Pulumi runs from>",
    etcdBackupBucket: "<a bucket of your object storage>",
    etcdBackupEndpoint: "https://<your object storage host>:1061",
};

/** Why `text` is a placeholder, or undefined. */
export function placeholderKind(text: string): string | undefined {
    const trimmed = text.trim();
    if (REPLACE_MARK.test(trimmed)) {
        return "a REPLACE marker";
    }
    if (ZERO_AMI.test(trimmed)) {
        return "an example image id";
    }
    if (EXAMPLE_NETWORK.test(trimmed)) {
        return "the example network (RFC 5737 documentation range)";
    }
    const host = /^(?:[a-z][a-z0-9+.-]*:\/\/)?([^/:\s]+)/i.exec(trimmed)?.[1];
    if (host !== undefined && EXAMPLE_HOST.test(host)) {
        return "the example host name (RFC 2606)";
    }
    return undefined;
}

export interface PlaceholderFinding {
    /** `zadara-eksd:bastionSshCidrs[0]` */
    key: string;
    value: string;
    kind: string;
    problem: string;
}

function parsed(text: string): unknown {
    if (!/^\s*[[{]/.test(text)) {
        return text;
    }
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return text; // the schema reports the bad JSON
    }
}

/** Every placeholder in this project's keys (structured values walked), in key order. */
export function placeholderFindings(values: Record<string, string>): PlaceholderFinding[] {
    const findings: PlaceholderFinding[] = [];
    for (const [fullKey, text] of Object.entries(values)) {
        if (!fullKey.startsWith(`${PROJECT_NAME}:`)) {
            continue;
        }
        const name = fullKey.slice(PROJECT_NAME.length + 1);
        const visit = (value: unknown, path: Array<string | number>) => {
            if (typeof value === "string") {
                const kind = placeholderKind(value);
                if (kind !== undefined) {
                    const where = pathText(path);
                    const wanted = WHAT_TO_SET[name] ?? `<${findKeyDefinition(name)?.description ?? "your value"}>`;
                    const command = path.length > 1 ? `pulumi config set --path '${where}' ${wanted}` : `pulumi config set ${name} ${wanted}`;
                    findings.push({
                        key: `${PROJECT_NAME}:${where}`,
                        value,
                        kind,
                        problem:
                            `${PROJECT_NAME}:${where}: ${showValue(value)} is ${kind}, a placeholder of the example stacks, not a value of your cloud. ` +
                            `Fix: ${command}`,
                    });
                }
            } else if (Array.isArray(value)) {
                value.forEach((item, i) => visit(item, [...path, i]));
            } else if (typeof value === "object" && value !== null) {
                for (const [k, v] of Object.entries(value)) {
                    visit(v, [...path, k]);
                }
            }
        };
        visit(parsed(text), [name]);
    }
    return findings;
}
