// What a change does, resource by resource: the offline plan compared with the stack's previous
// state. The previous state is one of three files a user has:
//   - a plan JSON this tool wrote earlier (`npm run plan -- --json`),
//   - `pulumi stack export` (the deployment's resources with their inputs, and the stack outputs),
//   - `pulumi stack output --json --show-secrets` (outputs only: the day-2 rules run, but there
//     is nothing to compare resources with).
// Each resource is created, updated in place, replaced, deleted or unchanged, as `pulumi preview`
// would say, by the replacement rules below.
import { isSecretValue, REDACTED } from "./mock-engine";

export type ResourceAction = "create" | "update" | "replace" | "delete" | "same";

/** A resource as both sides know it: its URN, type and the inputs the program gave it. */
export interface ComparableResource {
    urn: string;
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    /** URNs this resource takes inputs from (current side only). */
    dependencies?: string[];
}

export interface ResourceChange {
    urn: string;
    type: string;
    name: string;
    action: ResourceAction;
    /** Top-level input keys that differ (for update and replace). */
    changedKeys: string[];
    /** The changed keys that force a replacement. */
    replaceKeys: string[];
    /** A replaced resource this one takes inputs from: its new id or address is unknown until then. */
    followsReplaced?: string;
}

export type PreviousKind = "plan" | "stack-export" | "outputs";

export interface PreviousState {
    kind: PreviousKind;
    /** The stack outputs (`lifecycle` among them). */
    outputs: Record<string, unknown>;
    /** Absent for an outputs-only file. */
    resources?: ComparableResource[];
}

/** "urn:pulumi:dev::zadara-eksd::a$b::name" -> "name". */
function nameOfUrn(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** A JSON object as a record; undefined for anything else. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * Reads a previous-state file of any of the three kinds; anything else is an error that says
 * which files are accepted (never read as "no previous state": that would plan a new cluster).
 */
export function parsePreviousState(parsed: unknown, file: string): PreviousState {
    const accepted = "expected one of: a plan JSON (npm run plan -- --json <file>), `pulumi stack export`, or `pulumi stack output --json --show-secrets`";
    const top = asRecord(parsed);
    if (!top) {
        throw new Error(`--previous ${file}: not a JSON object; ${accepted}`);
    }
    if (Array.isArray(top.resources) && asRecord(top.outputs)) {
        const resources = top.resources.map((item, index) => {
            const resource = asRecord(item);
            if (!resource || typeof resource.urn !== "string" || typeof resource.type !== "string") {
                throw new Error(`--previous ${file}: resources[${index}] has no urn or type; ${accepted}`);
            }
            return { urn: resource.urn, type: resource.type, name: nameOfUrn(resource.urn), inputs: asRecord(resource.inputs) ?? {} };
        });
        return { kind: "plan", outputs: asRecord(top.outputs) ?? {}, resources };
    }
    const deployment = asRecord(top.deployment);
    if (deployment) {
        const items = Array.isArray(deployment.resources) ? deployment.resources : [];
        const resources: ComparableResource[] = [];
        let outputs: Record<string, unknown> = {};
        for (const item of items) {
            const resource = asRecord(item);
            if (!resource || typeof resource.urn !== "string" || typeof resource.type !== "string") {
                continue;
            }
            if (resource.type === "pulumi:pulumi:Stack") {
                outputs = asRecord(resource.outputs) ?? {};
                continue;
            }
            // Provider resources and pending deletes of a failed update are not the program's.
            if (resource.type.startsWith("pulumi:providers:") || resource.delete === true) {
                continue;
            }
            resources.push({ urn: resource.urn, type: resource.type, name: nameOfUrn(resource.urn), inputs: asRecord(resource.inputs) ?? {} });
        }
        return { kind: "stack-export", outputs, resources };
    }
    if (Array.isArray(top.resources)) {
        throw new Error(`--previous ${file}: has resources but no outputs object; ${accepted}`);
    }
    return { kind: "outputs", outputs: top };
}

/**
 * Inputs whose change makes the provider replace the resource rather than update it: the
 * ForceNew attributes of terraform-provider-aws 3.44 (wrapped by @pulumi/aws 4.7.0), the
 * `triggers` of pulumi-command (replaceOnChanges), and names. "*" = every input.
 */
const REPLACE_ON: Record<string, string[]> = {
    "aws:ec2/instance:Instance": [
        "ami",
        "availabilityZone",
        "subnetId",
        "keyName",
        "userData",
        "userDataBase64",
        "privateIp",
        "associatePublicIpAddress",
        "tenancy",
        "placementGroup",
        "ebsBlockDevices",
        "ephemeralBlockDevices",
        "networkInterfaces",
        "securityGroups",
    ],
    "aws:ec2/launchConfiguration:LaunchConfiguration": ["*"],
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": ["*"],
    "aws:ec2/securityGroupRule:SecurityGroupRule": [
        "type",
        "fromPort",
        "toPort",
        "protocol",
        "cidrBlocks",
        "ipv6CidrBlocks",
        "sourceSecurityGroupId",
        "securityGroupId",
        "self",
        "prefixListIds",
    ],
    "aws:ec2/vpc:Vpc": ["cidrBlock", "instanceTenancy"],
    "aws:ec2/subnet:Subnet": ["cidrBlock", "vpcId", "availabilityZone", "availabilityZoneId"],
    "aws:ec2/securityGroup:SecurityGroup": ["name", "namePrefix", "vpcId", "description"],
    "aws:ec2/vpcDhcpOptions:VpcDhcpOptions": ["domainName", "domainNameServers", "ntpServers", "netbiosNameServers", "netbiosNodeType"],
    "aws:ec2/natGateway:NatGateway": ["allocationId", "subnetId"],
    "aws:ec2/eip:Eip": ["vpc"],
    "aws:lb/loadBalancer:LoadBalancer": ["name", "namePrefix", "internal", "loadBalancerType"],
    "aws:lb/targetGroup:TargetGroup": ["name", "namePrefix", "port", "protocol", "vpcId", "targetType"],
    "aws:lb/listener:Listener": ["loadBalancerArn"],
    "aws:autoscaling/group:Group": ["name", "namePrefix"],
    "aws:iam/role:Role": ["name", "namePrefix", "path"],
    "aws:iam/instanceProfile:InstanceProfile": ["name", "namePrefix", "path"],
    "aws:iam/policy:Policy": ["name", "namePrefix", "path", "description"],
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ["*"],
    "command:remote:Command": ["triggers"],
    "command:local:Command": ["triggers"],
    "kubernetes:helm.sh/v3:Release": ["name", "namespace"],
};

/** Every random and tls resource is replaced by any input change (all their inputs are ForceNew). */
function replaceKeysOf(type: string): string[] {
    if (type.startsWith("random:") || type.startsWith("tls:")) {
        return ["*"];
    }
    return REPLACE_ON[type] ?? [];
}

/** Equal as inputs: secrets on either side compare equal (their values are not in the file). */
function sameValue(a: unknown, b: unknown): boolean {
    if (a === REDACTED || b === REDACTED || isSecretValue(a) || isSecretValue(b)) {
        return true;
    }
    if (Array.isArray(a) || Array.isArray(b)) {
        return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
    }
    const ra = asRecord(a);
    const rb = asRecord(b);
    if (ra || rb) {
        if (!ra || !rb) {
            return false;
        }
        const keys = new Set([...Object.keys(ra), ...Object.keys(rb)].filter((k) => k !== "__defaults"));
        return [...keys].every((key) => sameValue(ra[key], rb[key]));
    }
    return a === b;
}

/** The engine adds these to stored inputs; the program never sets them. */
const ENGINE_KEYS = new Set(["__defaults"]);

export function compareResource(previous: ComparableResource, current: ComparableResource): ResourceChange {
    const keys = new Set([...Object.keys(previous.inputs), ...Object.keys(current.inputs)].filter((key) => !ENGINE_KEYS.has(key)));
    // A key the program no longer sets but the engine stored with a default is not a change.
    const defaults = new Set(Array.isArray(previous.inputs.__defaults) ? previous.inputs.__defaults.map(String) : []);
    const changedKeys = [...keys]
        .filter((key) => !(defaults.has(key) && !(key in current.inputs)) && !sameValue(previous.inputs[key], current.inputs[key]))
        .sort();
    const replaceOn = replaceKeysOf(current.type);
    const replaceKeys = replaceOn.includes("*") ? changedKeys : changedKeys.filter((key) => replaceOn.includes(key));
    const action: ResourceAction = changedKeys.length === 0 ? "same" : replaceKeys.length > 0 ? "replace" : "update";
    return { urn: current.urn, type: current.type, name: current.name, action, changedKeys, replaceKeys };
}

/** Current resources in plan order, then the deleted ones in their previous order. */
export function diffResources(previous: ComparableResource[], current: ComparableResource[]): ResourceChange[] {
    const before = new Map(previous.map((r) => [r.urn, r]));
    const after = new Set(current.map((r) => r.urn));
    const changes: ResourceChange[] = current.map((resource) => {
        const old = before.get(resource.urn);
        return old
            ? compareResource(old, resource)
            : { urn: resource.urn, type: resource.type, name: resource.name, action: "create", changedKeys: [], replaceKeys: [] };
    });
    followReplacements(current, changes);
    for (const old of previous) {
        if (!after.has(old.urn)) {
            changes.push({ urn: old.urn, type: old.type, name: old.name, action: "delete", changedKeys: [], replaceKeys: [] });
        }
    }
    return changes;
}

/**
 * A resource that takes an input from a replaced one sees that input as unknown at preview (a new
 * instance id or address): an attachment is then replaced, anything else updated, as
 * `pulumi preview` shows. The mock engine's ids are stable by name, so this is not in the inputs.
 */
function followReplacements(current: ComparableResource[], changes: ResourceChange[]): void {
    const byUrn = new Map(changes.map((c) => [c.urn, c]));
    for (const resource of current) {
        const change = byUrn.get(resource.urn);
        if (!change || change.action !== "same") {
            continue;
        }
        const replaced = (resource.dependencies ?? []).map((urn) => byUrn.get(urn)).find((dep) => dep?.action === "replace");
        if (replaced) {
            change.action = replaceKeysOf(resource.type).includes("*") ? "replace" : "update";
            change.followsReplaced = replaced.name;
        }
    }
}

export type ChangeSummary = Record<ResourceAction, number>;

export function summarize(changes: ResourceChange[]): ChangeSummary {
    const summary: ChangeSummary = { create: 0, update: 0, replace: 0, delete: 0, same: 0 };
    for (const change of changes) {
        summary[change.action] += 1;
    }
    return summary;
}

const SYMBOL: Record<ResourceAction, string> = { create: "+", update: "~", replace: "+-", delete: "-", same: " " };

/** `pulumi preview`-like lines: the changed resources with their keys, then the summary line. */
export function renderChanges(changes: ResourceChange[]): string {
    const lines: string[] = [];
    for (const change of changes.filter((c) => c.action !== "same")) {
        const keys =
            change.action === "replace"
                ? ` [replace: ${change.replaceKeys.join(", ")}${change.changedKeys.length > change.replaceKeys.length ? `; also ${change.changedKeys.filter((k) => !change.replaceKeys.includes(k)).join(", ")}` : ""}]`
                : change.action === "update"
                  ? ` [${change.changedKeys.join(", ")}]`
                  : "";
        const follows = change.followsReplaced ? ` [follows the replaced ${change.followsReplaced}]` : "";
        lines.push(
            `  ${SYMBOL[change.action].padEnd(2)} ${change.action.padEnd(7)} ${change.type}  ${change.name}${change.changedKeys.length > 0 ? keys : ""}${follows}`,
        );
    }
    const s = summarize(changes);
    lines.push(`Resources: ${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete, ${s.same} unchanged`);
    return lines.join("\n");
}
