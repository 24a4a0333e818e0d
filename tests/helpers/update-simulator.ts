// Orders the steps of a `pulumi up` the way the engine does, from the recorded resource graph:
// creates (new resources and the new half of replacements, create-before-delete) run as soon as
// their dependencies are done; deletes (removed resources and the old half of replacements) run at
// the end, a resource only after everything that depended on it in the old graph was deleted;
// a replaced delete-before-replace resource (the `-membership` steps) is deleted in line, right
// before its new half is created. Steps whose predecessors are all done run in parallel: the
// same "wave" (a delete-before-replace delete gets the wave just before its create).
import type { RecordedResource } from "../../tools/mock-engine";
import { retirePlan } from "../../cluster/control-plane";
import type { LifecycleNode } from "../../cluster/lifecycle-state";

export interface Step {
    op: "create" | "delete";
    /** Name without the environment prefix, e.g. `master-sa-2-bootstrap`. */
    name: string;
    type: string;
    wave: number;
}

export interface Graph {
    environment: string;
    /** logical name -> resource */
    byName: Map<string, RecordedResource>;
    /** logical name -> logical names it depends on */
    deps: Map<string, string[]>;
}

export function graphOf(recorded: RecordedResource[], environment: string): Graph {
    const mine = recorded.filter((r) => r.name.startsWith(`${environment}-`) && r.custom);
    const nameOfUrn = new Map(mine.map((r) => [r.urn, r.name.slice(environment.length + 1)]));
    const byName = new Map(mine.map((r) => [r.name.slice(environment.length + 1), r]));
    const deps = new Map(
        mine.map((r) => [r.name.slice(environment.length + 1), r.dependencies.map((urn) => nameOfUrn.get(urn)).filter((n): n is string => n !== undefined)]),
    );
    return { environment, byName, deps };
}

/** Transitive: does `from` depend on `target` in this graph? */
export function dependsOn(graph: Graph, from: string, target: string, seen = new Set<string>()): boolean {
    if (seen.has(from)) {
        return false;
    }
    seen.add(from);
    const direct = graph.deps.get(from) ?? [];
    return direct.includes(target) || direct.some((d) => dependsOn(graph, d, target, seen));
}

/**
 * `replaced`: logical names whose replace-on-change inputs differ. A Command whose triggers hold
 * the id of a replaced resource is replaced too (its triggers change with the new id).
 */
export function simulateUpdate(
    before: Graph,
    after: Graph,
    replaced: Set<string>,
    deleteBeforeReplace: (name: string) => boolean = (name) => name.endsWith("-membership"),
): Step[] {
    const replacedAll = new Set(replaced);
    for (const [name, resource] of after.byName) {
        const triggers = (resource.inputs.triggers ?? []) as unknown[];
        for (const trigger of triggers) {
            const source = [...after.byName.entries()].find(([, r]) => r.id !== undefined && r.id === trigger);
            if (source && replacedAll.has(source[0])) {
                replacedAll.add(name);
            }
        }
    }
    const creates = new Set([...after.byName.keys()].filter((n) => !before.byName.has(n) || replacedAll.has(n)));
    const deletes = new Set([...before.byName.keys()].filter((n) => !after.byName.has(n) || replacedAll.has(n)));

    const createWave = new Map<string, number>();
    const waveOfCreate = (name: string): number => {
        if (!creates.has(name)) {
            return 0;
        }
        if (!createWave.has(name)) {
            createWave.set(name, 1 + Math.max(0, ...(after.deps.get(name) ?? []).map(waveOfCreate)));
        }
        return createWave.get(name)!;
    };
    const lastCreate = Math.max(0, ...[...creates].map(waveOfCreate));
    const dependents = (name: string) => [...before.deps.entries()].filter(([, d]) => d.includes(name)).map(([n]) => n);
    const deleteWave = new Map<string, number>();
    const waveOfDelete = (name: string): number => {
        if (!deletes.has(name)) {
            return lastCreate;
        }
        if (creates.has(name) && deleteBeforeReplace(name)) {
            return waveOfCreate(name) - 0.5;
        }
        if (!deleteWave.has(name)) {
            deleteWave.set(name, 1 + Math.max(lastCreate, ...dependents(name).map(waveOfDelete)));
        }
        return deleteWave.get(name)!;
    };
    const steps: Step[] = [
        ...[...creates].map((name) => ({ op: "create" as const, name, type: after.byName.get(name)!.type, wave: waveOfCreate(name) })),
        ...[...deletes].map((name) => ({ op: "delete" as const, name, type: before.byName.get(name)!.type, wave: waveOfDelete(name) })),
    ];
    return steps.sort((a, b) => a.wave - b.wave || a.name.localeCompare(b.name));
}

/** Steps that change etcd membership or a control-plane instance. */
export function controlPlaneSteps(steps: Step[]): Step[] {
    return steps.filter((s) => /^master-sa-\d+(-bootstrap|-membership|-retire-replaced)?$/.test(s.name));
}

/**
 * The nodes (names without the environment) whose retire step really takes the old instance out,
 * decided by the program's own retirePlan from the recorded graphs: the previous record is the
 * old graph's instances and logins, the current one the new graph's (a replaced instance gets a
 * new id). A plan that needs a previous login whose key is not in `recordedLogins` would not
 * connect (the preview refuses it): that leave does not happen, so it is not counted.
 */
export function retiringNodes(before: Graph, after: Graph, replaced: Set<string>, sshUser: string, recordedLogins: string[]): Set<string> {
    const env = before.environment;
    const login = (graph: Graph, node: string) => `${sshUser}@${String(graph.byName.get(node)?.inputs.keyName)}`;
    const previousNodes: Record<string, LifecycleNode> = {};
    for (const [name, resource] of before.byName) {
        if (resource.type === "aws:ec2/instance:Instance" && /^master-sa-\d+$/.test(name)) {
            previousNodes[`${env}-${name}`] = { instanceId: String(resource.id), privateIp: `ip-of-${name}`, sshAccess: login(before, name) };
        }
    }
    const retiring = new Set<string>();
    for (const name of replaced) {
        const next = after.byName.get(name);
        if (next === undefined) {
            continue;
        }
        const current = { instanceId: `${String(next.id)}-new`, privateIp: `new-ip-of-${name}`, sshAccess: login(after, name) };
        const plan = retirePlan(`${env}-${name}`, current, previousNodes, 600);
        if (plan.retires !== undefined && (plan.login === undefined || recordedLogins.includes(plan.login))) {
            retiring.add(name);
        }
    }
    return retiring;
}

/**
 * The etcd member count after each control-plane step that changes it: a created bootstrap
 * joins a member; the old instance of a node leaves at the first of: its membership step's
 * delete, the created retire step of a node in `retiring` (see retiringNodes), its old
 * bootstrap's delete. `withMembership`: whether the previous state has membership steps (false:
 * a state of an earlier version, whose first roll has no stored leave to run).
 */
export function memberCounts(steps: Step[], initialMembers: number, retiring: Set<string>, withMembership = true): number[] {
    let members = initialMembers;
    const left = new Set<string>();
    const counts: number[] = [];
    for (const step of controlPlaneSteps(steps)) {
        const node = step.name.replace(/-(bootstrap|membership|retire-replaced)$/, "");
        const leaves =
            (step.op === "delete" && step.name.endsWith("-membership") && withMembership) ||
            (step.op === "create" && step.name.endsWith("-retire-replaced") && retiring.has(node)) ||
            (step.op === "delete" && step.name.endsWith("-bootstrap"));
        if (step.op === "create" && step.name.endsWith("-bootstrap")) {
            members++;
        } else if (leaves && !left.has(node)) {
            members--;
            left.add(node);
        } else {
            continue;
        }
        counts.push(members);
    }
    return counts;
}
