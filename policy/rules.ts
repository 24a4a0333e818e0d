// The production rules that the planned resources show, as pure functions over resources
// (type, name, props). policy/index.ts wraps them in a CrossGuard policy pack for
// `pulumi preview --policy-pack policy`; tools/plan.ts runs the same functions over the offline
// plan (`npm run plan -- --policy`). The hardening switches (audit log, encryption at rest,
// kubelet, profiling) travel only inside the secret bootstrap input, so the stack config's guard
// (config/rules.ts) is where they are refused; see docs/security-production.md.
import { AddressFamily, openFamilies } from "../model/address-coverage";
import { PRODUCTION_RULES, ProductionRuleId } from "../model/production-rules";

/** What a policy reads of a resource: the fields CrossGuard's PolicyResource and the plan share. */
export interface PolicyInputResource {
    type: string;
    name: string;
    props: Record<string, unknown>;
}

export interface ProductionPolicy {
    name: ProductionRuleId;
    description: string;
    /** One message per violation; empty when the resources follow the rule. */
    check(resources: readonly PolicyInputResource[]): string[];
}

export interface PolicyViolation {
    policy: ProductionRuleId;
    message: string;
}

const SSH_PORT = 22;
const API_PORT = 6443;

type Protocol = "tcp" | "udp" | "all";

/** One ingress permission: from a SecurityGroupRule or a group's inline ingress block. */
interface Ingress {
    /** The group it opens: its id when known, else the resource that declares it. */
    group: string;
    protocol: Protocol | undefined;
    fromPort: number;
    toPort: number;
    cidrs: string[];
}

function strings(value: unknown): string[] {
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function numberOf(value: unknown): number {
    const n = typeof value === "string" ? Number(value) : value;
    return typeof n === "number" && Number.isFinite(n) ? n : 0;
}

/** AWS protocol names and numbers; ICMP and others are not ports and are not checked here. */
function protocolOf(value: unknown): Protocol | undefined {
    const text = String(value).toLowerCase();
    if (text === "-1" || text === "all") {
        return "all";
    }
    if (text === "tcp" || text === "6") {
        return "tcp";
    }
    if (text === "udp" || text === "17") {
        return "udp";
    }
    return undefined;
}

function ingressOf(group: string, block: Record<string, unknown>): Ingress {
    const protocol = protocolOf(block.protocol);
    // Protocol -1 means every port whatever the port fields say.
    const allPorts = protocol === "all";
    return {
        group,
        protocol,
        fromPort: allPorts ? 0 : numberOf(block.fromPort),
        toPort: allPorts ? 65535 : numberOf(block.toPort),
        cidrs: [...strings(block.cidrBlocks), ...strings(block.ipv6CidrBlocks)],
    };
}

/** Every ingress permission of the plan, keyed by the group it opens. */
function ingressPermissions(resources: readonly PolicyInputResource[]): Ingress[] {
    const found: Ingress[] = [];
    for (const resource of resources) {
        const props = resource.props;
        if (resource.type === "aws:ec2/securityGroupRule:SecurityGroupRule" && props.type === "ingress") {
            // An id unknown at preview: every such rule counts as one group (stricter, never laxer).
            const group = typeof props.securityGroupId === "string" ? props.securityGroupId : "(a group whose id is not known yet)";
            found.push(ingressOf(group, props));
        }
        if (resource.type === "aws:ec2/securityGroup:SecurityGroup" || resource.type === "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup") {
            for (const block of Array.isArray(props.ingress) ? (props.ingress as unknown[]) : []) {
                if (typeof block === "object" && block !== null) {
                    found.push(ingressOf(`${resource.name} (inline)`, block as Record<string, unknown>));
                }
            }
        }
    }
    return found;
}

function familiesText(families: AddressFamily[]): string {
    return families.map((f) => (f === "ipv4" ? "IPv4" : "IPv6")).join(" and ");
}

/** For each group, the families whose every address may reach `port` over `protocol`. */
function worldOpen(
    permissions: readonly Ingress[],
    port: number,
    protocol: "tcp" | "udp",
): Array<{ group: string; families: AddressFamily[]; cidrs: string[] }> {
    const byGroup = new Map<string, string[]>();
    for (const p of permissions) {
        if ((p.protocol === protocol || p.protocol === "all") && p.fromPort <= port && port <= p.toPort) {
            byGroup.set(p.group, [...(byGroup.get(p.group) ?? []), ...p.cidrs]);
        }
    }
    return [...byGroup.entries()].map(([group, cidrs]) => ({ group, cidrs, families: openFamilies(cidrs) })).filter((entry) => entry.families.length > 0);
}

function portPolicy(name: ProductionRuleId, port: number, what: string, fix: string): ProductionPolicy {
    return {
        name,
        description: PRODUCTION_RULES[name],
        check: (resources) =>
            worldOpen(ingressPermissions(resources), port, "tcp").map(
                (open) =>
                    `${what} (${port}) is open to every ${familiesText(open.families)} address: security group ${open.group} admits ${open.cidrs.join(", ")}. Fix: ${fix}`,
            ),
    };
}

/** Ports where the set of permissions changes: checking these covers every port. */
function boundaryPorts(permissions: readonly Ingress[]): number[] {
    const ports = new Set<number>();
    for (const p of permissions) {
        ports.add(p.fromPort);
        if (p.toPort < 65535) {
            ports.add(p.toPort + 1);
        }
    }
    return [...ports].filter((port) => port !== SSH_PORT && port !== API_PORT).sort((a, b) => a - b);
}

const otherIngressPolicy: ProductionPolicy = {
    name: "ingress-open-to-world",
    description: PRODUCTION_RULES["ingress-open-to-world"],
    check: (resources) => {
        const permissions = ingressPermissions(resources);
        const messages = new Set<string>();
        for (const protocol of ["tcp", "udp"] as const) {
            for (const port of boundaryPorts(permissions)) {
                for (const open of worldOpen(permissions, port, protocol)) {
                    messages.add(
                        `${protocol} port ${port} and up is open to every ${familiesText(open.families)} address: security group ${open.group} admits ${open.cidrs.join(", ")}. Fix: admit only the CIDRs that need it`,
                    );
                }
            }
        }
        return [...messages];
    },
};

const tlsPolicy: ProductionPolicy = {
    name: "cloud-api-tls-unverified",
    description: PRODUCTION_RULES["cloud-api-tls-unverified"],
    check: (resources) =>
        resources
            // Provider inputs reach the engine as strings ("true") or booleans.
            .filter((r) => r.type === "pulumi:providers:aws" && String(r.props.insecure) === "true")
            .map(
                (r) =>
                    `the AWS provider ${r.name} skips TLS verification of the cloud API (insecure true). Fix: pulumi config set rootCaCert -- "$(cat root-ca.pem)" and pulumi config set insecure false`,
            ),
};

const MINIMUM_CONTROL_PLANE = 3;

const controlPlanePolicy: ProductionPolicy = {
    name: "single-control-plane",
    description: PRODUCTION_RULES["single-control-plane"],
    check: (resources) => {
        const masters = resources.filter((r) => {
            const tags = r.props.tags as Record<string, unknown> | undefined;
            return r.type === "aws:ec2/instance:Instance" && tags?.["kubernetes.io/role"] === "master";
        });
        return masters.length >= MINIMUM_CONTROL_PLANE
            ? []
            : [
                  `${masters.length} control-plane instance(s) (tag kubernetes.io/role=master): the cluster cannot survive the loss of one. Fix: pulumi config set controlPlaneCount ${MINIMUM_CONTROL_PLANE}`,
              ];
    },
};

const REMOTE_COMMAND = "command:remote:Command";

/**
 * Whether a connection block names a host key. Checked with `in`, never by reading the value:
 * at preview a key read from a new instance is unknown, and reading an unknown value in
 * CrossGuard throws (the policy would turn advisory); an unknown key is still a pinned one.
 */
function pinsHostKey(connection: unknown): boolean {
    return typeof connection === "object" && connection !== null && "hostKey" in connection;
}

const hostKeyPolicy: ProductionPolicy = {
    name: "ssh-host-keys-unpinned",
    description: PRODUCTION_RULES["ssh-host-keys-unpinned"],
    check: (resources) =>
        resources
            .filter((r) => r.type === REMOTE_COMMAND)
            .flatMap((r) => {
                const connection = r.props.connection;
                if (typeof connection !== "object" || connection === null) {
                    // A connection hidden whole (a redacted plan) shows nothing to check.
                    return [];
                }
                const proxy = "proxy" in connection ? (connection as { proxy?: unknown }).proxy : undefined;
                const unpinned = [
                    ...(pinsHostKey(connection) ? [] : ["its host"]),
                    ...(proxy !== undefined && !pinsHostKey(proxy) ? ["its proxy (the bastion)"] : []),
                ];
                return unpinned.length === 0
                    ? []
                    : [
                          `the SSH step ${r.name} does not check the host key of ${unpinned.join(" or ")} (connection.hostKey unset): ` +
                              "whoever answers at that address receives what it sends. Fix: pulumi config set sshHostKeys console",
                      ];
            }),
};

/** The policies of the pack, in the order they report. */
export const PRODUCTION_POLICIES: readonly ProductionPolicy[] = [
    portPolicy("bastion-ssh-open-to-world", SSH_PORT, "SSH", "pulumi config set --path 'bastionSshCidrs[0]' <your office CIDR>"),
    portPolicy("api-open-to-world", API_PORT, "the Kubernetes API", "list your CIDRs in apiAllowedCidrs, or pulumi config set apiPublic false"),
    otherIngressPolicy,
    tlsPolicy,
    controlPlanePolicy,
    hostKeyPolicy,
];

/** Stack tag that marks a stack as production for the pack (else: the name starts with prod). */
export const PRODUCTION_STACK_TAG = "zadara-eksd:production";

/** The program's default (a stack named prod*), overridden by the stack tag when set. */
export function isProductionStack(stack: string, stackTags: ReadonlyMap<string, string>): boolean {
    const tag = stackTags.get(PRODUCTION_STACK_TAG);
    return tag === undefined ? /^prod/.test(stack) : tag === "true";
}

/** The stack name in a URN: urn:pulumi:<stack>::<project>::... */
export function stackOfUrn(urn: string): string {
    return urn.split("::")[0].replace(/^urn:pulumi:/, "");
}

/** Every violation of every policy (the offline plan's and the tests' entry point). */
export function evaluateProductionPolicies(resources: readonly PolicyInputResource[]): PolicyViolation[] {
    return PRODUCTION_POLICIES.flatMap((policy) => policy.check(resources).map((message) => ({ policy: policy.name, message })));
}
