// One look at the cloud: which resources are this cluster's, which of them may go now, and
// what still holds the others. Pure decisions on top of the CloudApi listings.
import type { CloudApi, RuleRef } from "./cloud";
import { clusterOwnerTag, createdForOf, stackOwnedReason, Tags } from "./tags";
import type { FoundResource } from "./types";

export interface KeepLists {
    /** ARNs or names of the stack's own load balancers (the API NLB). */
    loadBalancers: string[];
    targetGroups: string[];
    securityGroups: string[];
    volumes: string[];
}

export interface InventoryContext {
    cluster: string;
    keep: KeepLists;
    /** PV names of the cluster (CSI volumes tagged with one of them are ours). */
    pvNames: ReadonlySet<string>;
    /** Volume / snapshot id -> why it stays (Retain PVs and snapshot contents). */
    keepVolumes: ReadonlyMap<string, string>;
    keepSnapshots: ReadonlyMap<string, string>;
    /** Load balancer name -> owner tag, of every cluster LB seen in this run (for their ENIs). */
    knownLoadBalancers: Map<string, string>;
}

/** A resource of this cluster plus what the delete step needs. */
export interface Candidate extends FoundResource {
    /** Security groups: rules of other groups that reference it (revoked before the delete). */
    references?: RuleRef[];
    /** Volumes: the instances it is attached to (never force-detached). */
    attachedTo?: string[];
}

export interface Inventory {
    candidates: Candidate[];
    /** This cluster's resources that stay on purpose, with the reason in `waitingFor`. */
    kept: FoundResource[];
}

/** `ELB net/<name>/<id>`, `ELB app/<name>/<id>` (ELBv2) or `ELB <name>` (classic). */
export function loadBalancerNameOfInterface(description: string): string | undefined {
    const match = /^ELB (?:(?:net|app|gwy)\/([^/]+)\/\S+|([^\s/]+))$/.exec(description);
    return match ? (match[1] ?? match[2]) : undefined;
}

export async function takeInventory(cloud: CloudApi, ctx: InventoryContext): Promise<Inventory> {
    const [lbs, classic, tgs, groups, volumes, snapshots, interfaces] = await Promise.all([
        cloud.loadBalancers(),
        cloud.classicElbs(),
        cloud.targetGroups(),
        cloud.securityGroups(),
        cloud.volumes(),
        cloud.snapshots(),
        cloud.networkInterfaces(),
    ]);
    const candidates: Candidate[] = [];
    const kept: FoundResource[] = [];
    const keep = new Set([...ctx.keep.loadBalancers, ...ctx.keep.targetGroups, ...ctx.keep.securityGroups, ...ctx.keep.volumes]);
    /** The cluster's tag, unless the resource is the stack's own or listed to keep. */
    const classify = (found: Omit<FoundResource, "owner">, tags: Tags, keepReason?: string): FoundResource | undefined => {
        const owner = clusterOwnerTag(tags, ctx.cluster, ctx.pvNames);
        if (!owner || stackOwnedReason(tags, ctx.cluster)) {
            return undefined; // not this cluster's, or the stack's own: not even listed
        }
        const createdFor = createdForOf(tags);
        const resource = createdFor === undefined ? { ...found, owner } : { ...found, owner, createdFor };
        const reason = keepReason ?? (keep.has(found.id) || (found.name && keep.has(found.name)) ? "in the keep list" : undefined);
        if (reason) {
            kept.push({ ...resource, waitingFor: reason });
            return undefined;
        }
        return resource;
    };

    // Load balancers, and who holds which security group.
    const liveLbArns = new Set(lbs.map((lb) => lb.arn));
    const keptLbArns = new Set<string>();
    const keptLbNames = new Set<string>();
    const sgHolders = new Map<string, string>();
    for (const lb of lbs) {
        for (const sg of lb.securityGroups) {
            sgHolders.set(sg, `load balancer ${lb.name}`);
        }
        const isKept = keep.has(lb.arn) || keep.has(lb.name) || stackOwnedReason(lb.tags, ctx.cluster) !== undefined;
        if (isKept) {
            keptLbArns.add(lb.arn);
            keptLbNames.add(lb.name);
        }
        const found = classify({ kind: "load-balancer", id: lb.arn, name: lb.name, state: lb.state }, lb.tags);
        if (found) {
            ctx.knownLoadBalancers.set(lb.name, found.owner);
            candidates.push(found);
        }
    }
    for (const elb of classic) {
        for (const sg of elb.securityGroups) {
            sgHolders.set(sg, `classic ELB ${elb.name}`);
        }
        const found = classify({ kind: "classic-elb", id: elb.name }, elb.tags);
        if (found) {
            ctx.knownLoadBalancers.set(elb.name, found.owner);
            candidates.push(found);
        }
    }

    for (const tg of tgs) {
        // Some APIs keep listing a deleted load balancer: only live ones hold a target group.
        const holders = tg.loadBalancerArns.filter((arn) => liveLbArns.has(arn));
        const keepReason = holders.some((arn) => keptLbArns.has(arn)) ? "serves a kept load balancer" : undefined;
        const found = classify({ kind: "target-group", id: tg.arn, name: tg.name }, tg.tags, keepReason);
        if (found) {
            const holder = lbs.find((lb) => lb.arn === holders[0]);
            candidates.push(holder ? { ...found, waitingFor: `load balancer ${holder.name}` } : found);
        }
    }

    const clusterGroups = new Set<string>();
    for (const group of groups) {
        const found = classify({ kind: "security-group", id: group.id, name: group.name }, group.tags);
        if (!found) {
            continue;
        }
        clusterGroups.add(group.id);
        const references = groups
            .filter((other) => other.id !== group.id)
            .flatMap((other) => other.permissions)
            .filter((rule) => (rule.permission.UserIdGroupPairs ?? []).some((pair) => pair.GroupId === group.id));
        const holder = sgHolders.get(group.id);
        candidates.push({ ...found, references, waitingFor: holder });
    }

    for (const volume of volumes) {
        const found = classify({ kind: "volume", id: volume.id, state: volume.state }, volume.tags, ctx.keepVolumes.get(volume.id));
        if (found) {
            const attached = volume.attachedTo.length > 0 || volume.state !== "available";
            candidates.push(
                attached
                    ? {
                          ...found,
                          attachedTo: volume.attachedTo,
                          waitingFor:
                              volume.attachedTo.length > 0 ? `attached to ${volume.attachedTo.join(",")} (never force-detached)` : `state ${volume.state}`,
                      }
                    : found,
            );
        }
    }

    for (const snapshot of snapshots) {
        const found = classify({ kind: "snapshot", id: snapshot.id, state: snapshot.state }, snapshot.tags, ctx.keepSnapshots.get(snapshot.id));
        if (found) {
            candidates.push(snapshot.state === "pending" ? { ...found, waitingFor: "snapshot still pending" } : found);
        }
    }

    // Interfaces carry no tags: ours are those a load balancer of this cluster left behind
    // (its name in the description) or that sit in one of this cluster's security groups.
    for (const eni of interfaces) {
        const lbName = loadBalancerNameOfInterface(eni.description);
        if (lbName === undefined || keptLbNames.has(lbName)) {
            continue;
        }
        const owner = ctx.knownLoadBalancers.get(lbName) ?? (eni.groups.some((g) => clusterGroups.has(g)) ? `security group of this cluster` : undefined);
        if (!owner) {
            continue;
        }
        const lbAlive = lbs.some((lb) => lb.name === lbName) || classic.some((elb) => elb.name === lbName);
        const found: Candidate = { kind: "network-interface", id: eni.id, name: eni.description, owner, state: eni.status };
        if (keep.has(eni.id)) {
            kept.push({ ...found, waitingFor: "in the keep list" });
        } else if (lbAlive) {
            candidates.push({ ...found, waitingFor: `load balancer ${lbName}` });
        } else {
            candidates.push(eni.status === "available" ? found : { ...found, waitingFor: `status ${eni.status}` });
        }
    }
    return { candidates, kept };
}
