// Plan-graph tests of the control-plane lifecycle: for each day-2 change the recorded resource
// graph makes Pulumi create new control-plane nodes one at a time (each after the previous node's
// bootstrap gate) and delete old ones one at a time in reverse order, each delete running
// node-leave.sh first. The mock engine does not replace resources: the update order is derived
// from the graph by tests/helpers/update-simulator.ts (create-before-delete, deletes at the end in
// reverse dependency order), and replacement from the recorded replaceOnChanges.
import * as pulumi from "@pulumi/pulumi";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as YAML from "yaml";
import { group, makeCluster, optionsOf, recorded, secretValue, valueOf } from "./helpers/cluster-fixture";
import { controlPlaneSteps, dependsOn, Graph, graphOf, memberCounts, retiringNodes, simulateUpdate, Step } from "./helpers/update-simulator";
import { settle } from "../tools/mock-engine";
import { decodeUserData } from "../cluster/cloud-init";
import {
    bootstrapOwnerToken,
    claimNodeCommand,
    CONTROL_PLANE_REPLACE_ON_CHANGES,
    liveRetirePlan,
    loginChangeRefusal,
    memberNoteCommand,
    nodeLeaveCommand,
    nothingToRetireCommand,
    retirePlan,
    sshUserOf,
} from "../cluster/control-plane";
import type { EksdClusterArgs } from "../cluster";
import { CHANGE_POLICY, refusedChanges } from "../cluster/change-policy";

const INSTANCE = "aws:ec2/instance:Instance";
const COMMAND = "command:remote:Command";

const graphs = new Map<string, Promise<Graph>>();
/** What each built cluster's worker roll fingerprints hash, environment name neutralized. */
const rollInputs = new Map<string, Record<string, string>>();

function neutralRollInputs(environment: string, inputs: Record<string, string>): Record<string, string> {
    const neutral = (text: string): string =>
        text
            .split(environment)
            .join("ENV")
            .replace(/ENV-worker-[a-z0-9]{6}/g, "ENV-worker-SUFFIX");
    return Object.fromEntries(
        Object.entries(inputs).map(([group, text]) => {
            const parsed = JSON.parse(text) as { launch: string; keyName: string; instanceProfile: string };
            return [group, neutral(JSON.stringify({ ...parsed, launch: JSON.parse(parsed.launch) as unknown }))];
        }),
    );
}

/** One cluster per environment name, built once per process. */
function build(environment: string, overrides: Partial<EksdClusterArgs> = {}, count = 3): Promise<Graph> {
    if (!graphs.has(environment)) {
        graphs.set(
            environment,
            (async () => {
                const base = { count, mode: "standalone" as const, instanceType: "z4.large", volumeSize: 50, amiId: "ami-0master01" };
                const cluster = await makeCluster(environment, {
                    nodeGroups: { workers: group() },
                    ...overrides,
                    controlPlane: { ...base, ...(overrides.controlPlane ?? {}) },
                });
                await valueOf(cluster.kubeconfig);
                await valueOf(cluster.controlPlaneInstanceIds);
                await valueOf(cluster.bootstrapped);
                rollInputs.set(environment, neutralRollInputs(environment, await valueOf(pulumi.all(cluster.workerRollInputs))));
                await settle();
                return graphOf(recorded, environment);
            })(),
        );
    }
    return graphs.get(environment)!;
}

function nodeNames(graph: Graph): string[] {
    return [...graph.byName.entries()]
        .filter(([, r]) => r.type === INSTANCE && /^master-sa-\d+$/.test(r.name.slice(graph.environment.length + 1)))
        .map(([name]) => name)
        .sort((a, b) => Number(a.split("-").pop()) - Number(b.split("-").pop()));
}

/** Inputs of replaceOnChanges that differ between two builds of node `name` (user data decoded, env-neutral). */
function replacingChanges(before: Graph, after: Graph, name: string): string[] {
    const old = before.byName.get(name)!;
    const next = after.byName.get(name)!;
    const options = optionsOf(INSTANCE, next.name);
    const changed: string[] = [];
    for (const key of options.replaceOnChanges ?? []) {
        if (key === "userDataBase64") {
            if (userDataSettings(before, old) !== userDataSettings(after, next)) {
                changed.push(key);
            }
        } else if (JSON.stringify(old.inputs[key]) !== JSON.stringify(next.inputs[key])) {
            changed.push(key);
        }
    }
    return changed;
}

/** The node.env lines and CA trust of a node's user data that do not depend on the environment's name. */
function userDataSettings(graph: Graph, resource: { inputs: Record<string, unknown> }): string {
    // Control-plane user data is a loader without secrets: plain, not a Pulumi secret.
    const value = resource.inputs.userDataBase64;
    const text = decodeUserData(String(typeof value === "string" ? value : secretValue(value)));
    const keep = [
        "KUBERNETES_MINOR=",
        "KUBERNETES_VERSION=",
        "CLOUD_API_INSECURE=",
        "CLOUD_API_CA_BUNDLE=",
        "ROOT_CA",
        "BUNDLE_SHA256=",
        "BUNDLE_URL=",
        "CLUSTER_CONFIG_SHA256=",
        "API_WAIT_TIMEOUT=",
        "ETCD_BACKUP_ROTATION=",
    ];
    return text
        .split("\n")
        .filter((line) => keep.some((k) => line.includes(k)))
        .join("\n")
        .split(graph.environment)
        .join("ENV");
}

/**
 * The properties every change must keep: one control-plane step at a time, an instance deleted
 * only after its node left, and etcd never more than one member above the larger of the old and
 * new sizes nor below the smaller (add one, remove one).
 */
function assertOneAtATime(steps: Step[], label: string, sizes: { before: number; after: number; retiring: Set<string> }): void {
    const cp = controlPlaneSteps(steps);
    const byWave = new Map<number, Step[]>();
    for (const step of cp) {
        byWave.set(step.wave, [...(byWave.get(step.wave) ?? []), step]);
    }
    for (const [wave, group] of byWave) {
        assert.equal(group.length, 1, `${label}: control-plane steps in parallel in wave ${wave}: ${group.map((s) => `${s.op} ${s.name}`).join(", ")}`);
    }
    // A node's instance is deleted only after its bootstrap Command's delete (node-leave.sh) ran.
    for (const step of cp.filter((s) => s.op === "delete" && s.type === INSTANCE)) {
        const leave = cp.find((s) => s.op === "delete" && s.name === `${step.name}-bootstrap`);
        assert.ok(leave && leave.wave < step.wave, `${label}: ${step.name} is deleted without leaving first`);
    }
    const counts = memberCounts(steps, sizes.before, sizes.retiring);
    const low = Math.min(sizes.before, sizes.after);
    const high = Math.max(sizes.before, sizes.after) + 1;
    assert.ok(
        counts.every((count) => count >= low && count <= high),
        `${label}: etcd member counts ${counts.join(" -> ")} leave ${low}..${high}`,
    );
    assert.equal(counts.length === 0 ? sizes.before : counts[counts.length - 1], sizes.after, `${label}: members at the end`);
}

function sequence(steps: Step[]): string[] {
    return controlPlaneSteps(steps).map((s) => `${s.op} ${s.name}`);
}

/** The steps of node n's chain link when it is created: instance, bootstrap (join), membership, retire step. */
function created(...nodes: number[]): string[] {
    return nodes.flatMap((n) => [
        `create master-sa-${n}`,
        `create master-sa-${n}-bootstrap`,
        `create master-sa-${n}-membership`,
        `create master-sa-${n}-retire-replaced`,
    ]);
}

/**
 * ... when its instance is replaced: the new instance joins, then the old membership step is
 * deleted in line (delete-before-replace: the old node leaves) before the new one is created.
 */
function replacedInLine(...nodes: number[]): string[] {
    return nodes.flatMap((n) => [
        `create master-sa-${n}`,
        `create master-sa-${n}-bootstrap`,
        `delete master-sa-${n}-membership`,
        `create master-sa-${n}-membership`,
        `create master-sa-${n}-retire-replaced`,
    ]);
}

/** ... when it is deleted, in reverse dependency order: retire step, membership (leave), bootstrap, instance. */
function deleted(...nodes: number[]): string[] {
    return nodes.flatMap((n) => [
        `delete master-sa-${n}-retire-replaced`,
        `delete master-sa-${n}-membership`,
        `delete master-sa-${n}-bootstrap`,
        `delete master-sa-${n}`,
    ]);
}

/** ... and the old halves of a replaced node at the end (its membership step went in line). */
function deletedAfterReplace(...nodes: number[]): string[] {
    return nodes.flatMap((n) => [`delete master-sa-${n}-retire-replaced`, `delete master-sa-${n}-bootstrap`, `delete master-sa-${n}`]);
}

/** The login the fixture's nodes accept, recorded with its key by the previous update. */
const RECORDED_LOGINS = ["ubuntu@nodes-key"];

/** The nodes whose retire step really leaves, by the program's retirePlan (the simulator counts only those). */
function retiring(before: Graph, after: Graph, replaced: Set<string>, recordedLogins = RECORDED_LOGINS): Set<string> {
    return retiringNodes(before, after, replaced, "ubuntu", recordedLogins);
}

function allReplaced(graph: Graph): Set<string> {
    return new Set(nodeNames(graph));
}

describe("control-plane chain (graph)", () => {
    it("chains node i+1 after node i's bootstrap gate, for 1, 3 and 5 nodes", async () => {
        for (const [environment, count] of [
            ["lcc1", 1],
            ["lcbase", 3],
            ["lcc5", 5],
        ] as const) {
            const graph = await build(environment, {}, count);
            const nodes = nodeNames(graph);
            assert.equal(nodes.length, count);
            for (let i = 0; i < nodes.length; i++) {
                const boot = `${nodes[i]}-bootstrap`;
                assert.ok(graph.byName.has(boot), `${environment}: no ${boot}`);
                assert.ok(dependsOn(graph, boot, nodes[i]), `${boot} does not depend on its instance`);
                assert.ok(dependsOn(graph, boot, `${nodes[i]}-api`), `${boot} does not depend on its target-group attachment`);
                for (let j = i + 1; j < nodes.length; j++) {
                    assert.ok(dependsOn(graph, nodes[j], boot), `${environment}: ${nodes[j]} does not wait for ${boot}`);
                }
            }
            assert.ok(dependsOn(graph, "upgrade-addons", `${nodes[nodes.length - 1]}-bootstrap`));
        }
    });

    it("gives every node a bootstrap Command whose delete runs node-leave.sh on that node, create-before-delete", async () => {
        const graph = await build("lcbase");
        for (const node of nodeNames(graph)) {
            const boot = graph.byName.get(`${node}-bootstrap`)!;
            const fullName = `${graph.environment}-${node}`;
            // Stored with the instance id and the Command's identity (a refresh-dropped instance
            // whose address is reused, or a renamed Command, must not make a live node leave).
            const owner = bootstrapOwnerToken(boot.parent!, `${fullName}-bootstrap`);
            assert.equal(boot.inputs.delete, nodeLeaveCommand(fullName, 600, { expectedInstanceId: graph.byName.get(node)!.id, ownerToken: owner }));
            assert.match(String(boot.inputs.delete), new RegExp(`EXPECTED_INSTANCE_ID='${graph.byName.get(node)!.id}'`));
            // The claim follows a successful bootstrap; an update keeps the claim count, a create adds one.
            assert.ok(String(boot.inputs.create).endsWith(` && ${claimNodeCommand(owner, "create")}`), "create claims the node once it succeeded");
            assert.ok(String(boot.inputs.update).endsWith(` && ${claimNodeCommand(owner, "update")}`), "update keeps the node's claim");
            assert.equal(
                String(boot.inputs.create).replace(claimNodeCommand(owner, "create"), ""),
                String(boot.inputs.update).replace(claimNodeCommand(owner, "update"), ""),
            );
            assert.deepEqual(boot.inputs.triggers, [graph.byName.get(node)!.id]);
            assert.ok(boot.inputs.update, "an input change must not re-run the bootstrap on a running node");
            const instanceOptions = optionsOf(INSTANCE, fullName);
            assert.deepEqual(instanceOptions.replaceOnChanges, CONTROL_PLANE_REPLACE_ON_CHANGES);
            assert.equal(instanceOptions.deleteBeforeReplace, false);
            assert.deepEqual(instanceOptions.ignoreChanges, ["disableApiTermination"], "only the protection the node turns on itself");
            assert.equal(optionsOf(COMMAND, `${fullName}-bootstrap`).deleteBeforeReplace, false);
            const script = Buffer.from(/echo '([A-Za-z0-9+/=]{100,})'/.exec(String(boot.inputs.delete))![1], "base64").toString();
            assert.match(script, /etcd_membership leave "\$NODE_NAME"/);
            assert.match(script, /"\$ETCD_MEMBERSHIP" "\$@"/);
            assert.match(script, /etcd-membership\.sh/);
            assert.match(script, /^drain_node\(\) \{/m, "drain-node.sh travels with it");
            assert.match(String(boot.inputs.delete), new RegExp(`sudo -n env SLOT_NAME='${fullName}'`));
            assert.doesNotMatch(String(boot.inputs.delete), /NODE_NAME=/, "the Node / etcd member name is the host's, not the Name tag");
        }
    });

    it("gives every node a membership step, replaced delete-before-replace, whose delete is its instance's leave", async () => {
        const graph = await build("lcbase");
        for (const node of nodeNames(graph)) {
            const fullName = `${graph.environment}-${node}`;
            const membership = graph.byName.get(`${node}-membership`)!;
            const instanceId = graph.byName.get(node)!.id!;
            // Stored with the instance it stands for: the engine runs it with the old inputs (address, login).
            assert.equal(membership.inputs.delete, nodeLeaveCommand(fullName, 600, { expectedInstanceId: instanceId }));
            assert.equal(membership.inputs.create, memberNoteCommand(fullName, instanceId));
            assert.deepEqual(membership.inputs.triggers, [instanceId]);
            assert.equal(
                (membership.inputs.connection as { host: string }).host,
                (graph.byName.get(`${node}-bootstrap`)!.inputs.connection as { host: string }).host,
            );
            const options = optionsOf(COMMAND, `${fullName}-membership`);
            assert.equal(options.deleteBeforeReplace, true, "the old node leaves in line, right after its successor's gate");
            assert.ok(graph.deps.get(`${node}-membership`)!.includes(`${node}-bootstrap`), "after the gate");
            assert.ok(graph.deps.get(`${node}-retire-replaced`)!.includes(`${node}-membership`), "the retire step (and the next node) wait for it");
        }
    });

    it("gives every node a retire step after its gate that the next node waits for", async () => {
        const graph = await build("lcbase");
        const nodes = nodeNames(graph);
        for (let i = 0; i < nodes.length; i++) {
            const retire = `${nodes[i]}-retire-replaced`;
            const fullName = `${graph.environment}-${nodes[i]}`;
            assert.ok(graph.deps.get(retire)!.includes(`${nodes[i]}-bootstrap`), `${retire} does not wait for the gate`);
            assert.deepEqual(graph.byName.get(retire)!.inputs.triggers, [graph.byName.get(nodes[i])!.id]);
            // A new cluster has no previous instances: nothing to retire, on the node itself.
            assert.equal(graph.byName.get(retire)!.inputs.create, nothingToRetireCommand(fullName));
            assert.equal(graph.byName.get(retire)!.inputs.update, nothingToRetireCommand(fullName));
            assert.equal(graph.byName.get(retire)!.inputs.delete, undefined);
            if (i + 1 < nodes.length) {
                assert.ok(graph.deps.get(nodes[i + 1])!.includes(retire), `${nodes[i + 1]} does not wait for ${retire}`);
            }
        }
        assert.ok(graph.deps.get("upgrade-addons")!.includes(`${nodes[nodes.length - 1]}-retire-replaced`));
    });
});

describe("retire step of a replaced control-plane node", () => {
    const previous = { "dev-master-sa-2": { instanceId: "i-0old2", privateIp: "10.0.1.12", sshAccess: "ubuntu@nodes" } };
    const replacement = { instanceId: "i-0new2", privateIp: "10.0.1.22", sshAccess: "ubuntu@nodes" };

    it("runs node-leave.sh on the previous instance's address, pinned to that instance", () => {
        const plan = retirePlan("dev-master-sa-2", replacement, previous, 600);
        assert.equal(plan.host, "10.0.1.12");
        assert.equal(plan.command, nodeLeaveCommand("dev-master-sa-2", 600, { expectedInstanceId: "i-0old2" }));
        assert.match(plan.command, /sudo -n env SLOT_NAME='dev-master-sa-2' DRAIN_TIMEOUT='600' EXPECTED_INSTANCE_ID='i-0old2' bash -s$/);
        // A state written before the login was recorded: the login is assumed unchanged.
        const { sshAccess: _unused, ...older } = previous["dev-master-sa-2"];
        assert.equal(retirePlan("dev-master-sa-2", replacement, { "dev-master-sa-2": older }, 600).host, "10.0.1.12");
    });

    it("does nothing, on the node itself, when the instance is the recorded one or none is recorded", () => {
        const same = retirePlan("dev-master-sa-2", { ...replacement, instanceId: "i-0old2", privateIp: "10.0.1.12" }, previous, 600);
        assert.deepEqual(same, { host: "10.0.1.12", command: nothingToRetireCommand("dev-master-sa-2") });
        const added = retirePlan("dev-master-sa-4", { ...replacement, instanceId: "i-0new4", privateIp: "10.0.1.14" }, previous, 600);
        assert.deepEqual(added, { host: "10.0.1.14", command: nothingToRetireCommand("dev-master-sa-4") });
    });

    it("retires nothing when the replaced instance is gone already (a failed update's leftovers were deleted first)", async () => {
        const plan = retirePlan("dev-master-sa-2", replacement, previous, 600);
        assert.equal(plan.retires, "i-0old2");
        const asked: string[] = [];
        const live = await liveRetirePlan(plan, "dev-master-sa-2", replacement.privateIp, (id) => {
            asked.push(id);
            return Promise.resolve(true);
        });
        assert.deepEqual(live, plan);
        const gone = await liveRetirePlan(plan, "dev-master-sa-2", replacement.privateIp, () => Promise.resolve(false));
        assert.deepEqual(gone, { host: "10.0.1.22", command: nothingToRetireCommand("dev-master-sa-2", "the replaced instance i-0old2 is gone already") });
        const nothing = retirePlan("dev-master-sa-4", { ...replacement, instanceId: "i-0new4" }, previous, 600);
        assert.deepEqual(await liveRetirePlan(nothing, "dev-master-sa-4", "10.0.1.14", () => Promise.reject(new Error("not asked"))), nothing);
        assert.deepEqual(asked, ["i-0old2"]);
    });

    it("reaches a replaced instance that accepts only the previous login with that login (a key-pair change is add one, remove one)", () => {
        const plan = retirePlan("dev-master-sa-2", { ...replacement, sshAccess: "ubuntu@nodes-2026" }, previous, 600);
        assert.equal(plan.host, "10.0.1.12");
        assert.equal(plan.retires, "i-0old2");
        assert.equal(plan.login, "ubuntu@nodes");
        assert.equal(plan.command, nodeLeaveCommand("dev-master-sa-2", 600, { expectedInstanceId: "i-0old2" }));
        assert.equal(sshUserOf("core@key@2026"), "core");
        // Same login: the current connection.
        assert.equal(retirePlan("dev-master-sa-2", replacement, previous, 600).login, undefined);
    });

    it("refuses a login change at preview when the previous state holds no key for the previous login", () => {
        const nodes = { ...previous, "dev-master-sa-1": { instanceId: "i-0old1", privateIp: "10.0.1.11", sshAccess: "ubuntu@nodes" } };
        assert.equal(loginChangeRefusal(nodes, "ubuntu@nodes", []), undefined, "no change");
        assert.equal(loginChangeRefusal(nodes, "ubuntu@nodes-2026", ["ubuntu@nodes"]), undefined, "the key is recorded");
        assert.equal(
            loginChangeRefusal({ "dev-master-sa-2": { instanceId: "i-0old2", privateIp: "10.0.1.12" } }, "ubuntu@nodes-2026", []),
            undefined,
            "older record",
        );
        const refusal = loginChangeRefusal(nodes, "ubuntu@nodes-2026", []);
        assert.match(refusal ?? "", /change from ubuntu@nodes to ubuntu@nodes-2026 is refused on a running cluster: .*nodeLoginKeys.* Safe path: /);
    });
});

describe("day-2 changes roll the control plane one node at a time (graph)", () => {
    it("count 1 -> 3 -> 5: new nodes join one at a time after the last one", async () => {
        const [c1, c3, c5] = await Promise.all([build("lcc1", {}, 1), build("lcbase", {}, 3), build("lcc5", {}, 5)]);
        const up13 = simulateUpdate(c1, c3, new Set());
        assertOneAtATime(up13, "1->3", { before: 1, after: 3, retiring: new Set() });
        assert.deepEqual(sequence(up13), created(2, 3));
        const up35 = simulateUpdate(c3, c5, new Set());
        assertOneAtATime(up35, "3->5", { before: 3, after: 5, retiring: new Set() });
        assert.deepEqual(sequence(up35), created(4, 5));
    });

    it("count 5 -> 3 -> 1: the highest-numbered nodes leave one at a time, highest first", async () => {
        const [c1, c3, c5] = await Promise.all([build("lcc1", {}, 1), build("lcbase", {}, 3), build("lcc5", {}, 5)]);
        const down53 = simulateUpdate(c5, c3, new Set());
        assertOneAtATime(down53, "5->3", { before: 5, after: 3, retiring: new Set() });
        assert.deepEqual(sequence(down53), deleted(5, 4));
        const down31 = simulateUpdate(c3, c1, new Set());
        assertOneAtATime(down31, "3->1", { before: 3, after: 1, retiring: new Set() });
        assert.deepEqual(sequence(down31), deleted(3, 2));
    });

    it("pulumi up --replace of one node: the new node joins, then the old one leaves; the others are untouched", async () => {
        const base = await build("lcbase");
        const steps = simulateUpdate(base, base, new Set(["master-sa-2"]));
        assertOneAtATime(steps, "--replace master-sa-2", { before: 3, after: 3, retiring: retiring(base, base, new Set(["master-sa-2"])) });
        // The old node leaves in the retire step; its old bootstrap's delete then finds it gone.
        assert.deepEqual(sequence(steps), [...replacedInLine(2), ...deletedAfterReplace(2)]);
    });

    const changes: Array<[string, string, Partial<EksdClusterArgs>, string[]]> = [
        ["AMI", "lcami", { controlPlane: { count: 3, mode: "standalone", instanceType: "z4.large", volumeSize: 50, amiId: "ami-0master02" } }, ["ami"]],
        [
            "instance type",
            "lctype",
            { controlPlane: { count: 3, mode: "standalone", instanceType: "z8.large", volumeSize: 50, amiId: "ami-0master01" } },
            ["instanceType"],
        ],
        [
            "volume size",
            "lcvol",
            { controlPlane: { count: 3, mode: "standalone", instanceType: "z4.large", volumeSize: 80, amiId: "ami-0master01" } },
            ["rootBlockDevice"],
        ],
        ["key pair", "lckey", { nodeKeyName: "other-key" }, ["keyName"]],
        ["user data (root CA)", "lcud", { rootCaCert: undefined, cloudApiInsecure: true }, ["userDataBase64"]],
        [
            "EKS-D version",
            "lceksd",
            {
                eksdVersion: "1.31",
                kubernetesVersion: "v1.31.14-eks-1-31-40",
                controlPlane: { count: 3, mode: "standalone", instanceType: "z4.large", volumeSize: 50, amiId: "ami-0master131" },
            },
            ["ami", "userDataBase64"],
        ],
    ];
    for (const [what, environment, overrides, expected] of changes) {
        it(`${what}: every node is replaced one at a time, each old node leaving right after its successor joined`, async () => {
            const base = await build("lcbase");
            const next = await build(environment, overrides);
            for (const node of nodeNames(base)) {
                assert.deepEqual(replacingChanges(base, next, node), expected, `${what}: ${node}`);
            }
            const steps = simulateUpdate(base, next, allReplaced(base));
            assertOneAtATime(steps, what, { before: 3, after: 3, retiring: retiring(base, next, allReplaced(base)) });
            // Old node n leaves in new node n's retire step; the deletes at the end find them gone.
            assert.deepEqual(sequence(steps), [...replacedInLine(1, 2, 3), ...deletedAfterReplace(3, 2, 1)]);
            assert.deepEqual(memberCounts(steps, 3, retiring(base, next, allReplaced(base))), [4, 3, 4, 3, 4, 3]);
        });
    }

    it("key pair: the membership step's stored (old) login makes each old node leave in line; a state without membership steps needs the recorded key", async () => {
        const [base, next] = await Promise.all([build("lcbase"), build("lckey", { nodeKeyName: "other-key" })]);
        const steps = simulateUpdate(base, next, allReplaced(base));
        assert.deepEqual(memberCounts(steps, 3, retiring(base, next, allReplaced(base), [])), [4, 3, 4, 3, 4, 3]);
        // A state of an earlier version has no membership step to delete: only the retire step
        // can take the old node out early, and it needs the previous login's key.
        assert.deepEqual(retiring(base, next, allReplaced(base), []), new Set());
        assert.deepEqual(memberCounts(steps, 3, retiring(base, next, allReplaced(base), []), false), [4, 5, 6, 5, 4, 3]);
        assert.deepEqual(memberCounts(steps, 3, retiring(base, next, allReplaced(base)), false), [4, 3, 4, 3, 4, 3]);
    });

    it("subnet: refused at preview on a running cluster (not a rolling replacement)", () => {
        const previous = { initialized: true as const, settings: { privateSubnetCidr: "10.0.1.0/24" } };
        const refused = refusedChanges(previous, { privateSubnetCidr: "10.0.2.0/24" });
        assert.deepEqual(
            refused.map((r) => r.key),
            ["privateSubnetCidr"],
        );
        assert.match(refused[0].message, /Safe path: /);
    });

    it("EKS-D version: the add-on upgrade runs after the last new node, and add-ons can depend on it", async () => {
        const base = await build("lcbase");
        const next = await build("lceksd");
        // Its trigger is the Kubernetes version: replaced (re-run) by the upgrade.
        assert.notDeepEqual(next.byName.get("upgrade-addons")!.inputs.triggers, base.byName.get("upgrade-addons")!.inputs.triggers);
        const steps = simulateUpdate(base, next, new Set([...allReplaced(base), "upgrade-addons"]));
        const addons = steps.find((s) => s.name === "upgrade-addons" && s.op === "create")!;
        const lastRetire = steps.find((s) => s.name === "master-sa-3-retire-replaced" && s.op === "create")!;
        // Every old API server left before CoreDNS/kube-proxy, the add-ons and the worker rolls move on.
        assert.ok(addons.wave > lastRetire.wave);
        assert.match(String(next.byName.get("upgrade-addons")!.inputs.create), /kubeadm init phase addon coredns --config/);
    });
});

/**
 * One representative change per "rolling" key of the change table, as the config loader hands it
 * to EksdCluster. Count, EKS-D version and node groups have tests of their own above and in
 * tests/worker-rolls.test.ts.
 */
const ROLLING_KEY_CHANGES: Record<string, Partial<EksdClusterArgs>> = {
    insecure: { cloudApiInsecure: true },
    rootCaCert: { rootCaCert: undefined },
    dnsDomain: { network: undefined },
    kubernetesVersion: { kubernetesVersion: "v1.30.14-eks-1-30-59" },
    controlPlaneInstanceType: { controlPlane: { count: 3, mode: "standalone", instanceType: "z8.large", volumeSize: 50, amiId: "ami-0master01" } },
    controlPlaneVolumeSize: { controlPlane: { count: 3, mode: "standalone", instanceType: "z4.large", volumeSize: 80, amiId: "ami-0master01" } },
    controlPlaneAmiId: { controlPlane: { count: 3, mode: "standalone", instanceType: "z4.large", volumeSize: 50, amiId: "ami-0master02" } },
    kubeconfigTimeoutMinutes: { kubeconfigTimeoutMinutes: 40 },
    nodeKeyName: { nodeKeyName: "other-key" },
    workerAmiId: { nodeGroups: { workers: group({ amiId: "ami-0worker02" }) } },
    workerInstanceProfile: { workerInstanceProfile: "existing-workers" },
    auditLog: { hardening: { auditLog: false } },
    secretsEncryption: { hardening: { secretsEncryption: false } },
    kubeletHardening: { hardening: { kubeletHardening: false } },
    apiServerProfiling: { hardening: { apiServerProfiling: true } },
    etcdBackupRotation: { etcdBackupRotation: 50 },
    // A replaced bastion has a new private address (the fixture's is 192.168.0.10); no node
    // names it (the bundle comes through the API load balancer): nothing rolls.
    bastionAmiId: { network: undefined },
    bastionKeyName: { network: undefined },
};
const COVERED_ELSEWHERE = ["controlPlaneCount", "eksdVersion", "nodeGroups"];

describe("engine version", () => {
    // Leftovers of a failed update are deleted at the END of the next one only since Pulumi 3.46
    // (pulumi/pulumi#11027); the retire steps and docs/lifecycle.md rely on that order.
    it("Pulumi.yaml requires a CLI of the SDK's line, at least 3.46", () => {
        const project = YAML.parse(readFileSync(join(__dirname, "..", "Pulumi.yaml"), "utf8")) as { requiredPulumiVersion?: string };
        const sdk = (JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies[
            "@pulumi/pulumi"
        ];
        assert.equal(project.requiredPulumiVersion, `>=${sdk} <4.0.0`);
        const [major, minor] = sdk.split(".").map(Number);
        assert.ok(major === 3 && minor >= 46, `SDK ${sdk}`);
    });
});

describe("every rolling key of the change table does what the table says (graph)", () => {
    it("has a representative change for every rolling key", () => {
        const rolling = Object.entries(CHANGE_POLICY)
            .filter(([, policy]) => policy.kind === "rolling")
            .map(([key]) => key);
        assert.deepEqual(
            rolling.filter((key) => !(key in ROLLING_KEY_CHANGES) && !COVERED_ELSEWHERE.includes(key) && key !== "secretsEncryptionKeyVersion"),
            [],
        );
    });

    for (const [index, [key, change]] of Object.entries(ROLLING_KEY_CHANGES).entries()) {
        const effect = CHANGE_POLICY[key].effect;
        const rollsControlPlane = effect.includes("control plane: node 1 → n");
        const rollsWorkers = effect.includes("node groups: each group rolls");
        it(`${key}: control plane ${rollsControlPlane ? "rolls one node at a time" : "stays"}, workers ${rollsWorkers ? "roll" : "stay"}`, async () => {
            const environment = `lkroll${index}`;
            const overrides =
                key === "dnsDomain"
                    ? { network: await dnsDomainNetwork(environment) }
                    : key.startsWith("bastion")
                      ? { network: await newBastionNetwork(environment) }
                      : change;
            const [base, next] = await Promise.all([build("lcbase"), build(environment, overrides)]);
            const replaced = nodeNames(base).filter((node) => replacingChanges(base, next, node).length > 0);
            assert.deepEqual(replaced, rollsControlPlane ? nodeNames(base) : [], `${key}: control-plane nodes replaced`);
            if (rollsControlPlane) {
                const steps = simulateUpdate(base, next, allReplaced(base));
                assertOneAtATime(steps, key, { before: 3, after: 3, retiring: retiring(base, next, allReplaced(base)) });
            }
            const before = rollInputs.get("lcbase")!;
            const after = rollInputs.get(environment)!;
            assert.equal(before.workers !== after.workers, rollsWorkers, `${key}: worker roll inputs\n${before.workers}\n${after.workers}`);
        });
    }

    it("secretsEncryptionKeyVersion: no node is replaced; each bootstrap step re-runs in chain order with the new key", async () => {
        const [base, next] = await Promise.all([build("lcbase"), build("lkencver", { secretsEncryptionKeyVersion: 2 })]);
        assert.deepEqual(
            nodeNames(base).filter((node) => replacingChanges(base, next, node).length > 0),
            [],
        );
        assert.equal(rollInputs.get("lcbase")!.workers, rollInputs.get("lkencver")!.workers);
        for (const node of nodeNames(base)) {
            assert.doesNotMatch(encryptionConfigOf(base, node), /key-v2/);
            assert.match(encryptionConfigOf(next, node), /name: key-v2[\s\S]*name: key-v1/, `${node}: the new key (first) reaches its bootstrap step`);
        }
    });
});

/** A group with labels and taints, so their changes and their order can be tried. */
function labelledGroup(overrides: Partial<ReturnType<typeof group>> = {}): ReturnType<typeof group> {
    return group({
        labels: { team: "web", tier: "front" },
        taints: [
            { key: "dedicated", value: "web", effect: "NoSchedule" },
            { key: "spot", effect: "PreferNoSchedule" },
        ],
        ...overrides,
    });
}

describe("the worker roll fingerprint follows what needs new instances (graph)", () => {
    const base = () => build("lwbase", { nodeGroups: { workers: labelledGroup() } });
    const rollOf = async (environment: string, workers: ReturnType<typeof group>, overrides: Partial<EksdClusterArgs> = {}) => {
        await Promise.all([base(), build(environment, { ...overrides, nodeGroups: { workers } })]);
        return { before: rollInputs.get("lwbase")!.workers, after: rollInputs.get(environment)!.workers };
    };

    const rolling: Array<[string, ReturnType<typeof group>, Partial<EksdClusterArgs>?]> = [
        ["amiId", labelledGroup({ amiId: "ami-0worker02" })],
        ["instanceType", labelledGroup({ instanceType: "z16.xlarge" })],
        ["volumeSize", labelledGroup({ volumeSize: 200 })],
        ["a label removed", labelledGroup({ labels: { team: "web" } })],
        ["a label value", labelledGroup({ labels: { team: "web", tier: "back" } })],
        ["taints removed", labelledGroup({ taints: [] })],
        [
            "a taint effect",
            labelledGroup({
                taints: [
                    { key: "dedicated", value: "web", effect: "NoExecute" },
                    { key: "spot", effect: "PreferNoSchedule" },
                ],
            }),
        ],
        ["a patch release", labelledGroup(), { kubernetesVersion: "v1.30.14-eks-1-30-59" }],
    ];
    for (const [index, [what, workers, overrides]] of rolling.entries()) {
        it(`rolls the group for ${what}`, async () => {
            const { before, after } = await rollOf(`lwroll${index}`, workers, overrides);
            assert.notEqual(after, before, `${what} must change the roll inputs`);
        });
    }

    it("does not roll for sizes, cooldown, roll settings or the order of labels and taints", async () => {
        const same = labelledGroup({
            minSize: 0,
            desiredSize: 5,
            maxSize: 9,
            cooldown: 300,
            maxSurge: 2,
            drainTimeoutSeconds: 120,
            labels: { tier: "front", team: "web" },
            taints: [
                { key: "spot", effect: "PreferNoSchedule" },
                { key: "dedicated", value: "web", effect: "NoSchedule" },
            ],
        });
        const { before, after } = await rollOf("lwsame", same);
        assert.equal(after, before);
    });
});

async function dnsDomainNetwork(environment: string): Promise<EksdClusterArgs["network"]> {
    const { makeArgs } = await import("./helpers/cluster-fixture");
    const args = await makeArgs(`${environment}net`);
    return {
        ...args.network,
        apiInternalDnsName: pulumi.output(args.network.apiInternalDnsName).apply((name) => name.replace("symphony.local", "other.local")),
    };
}

async function newBastionNetwork(environment: string): Promise<EksdClusterArgs["network"]> {
    const { makeArgs } = await import("./helpers/cluster-fixture");
    const args = await makeArgs(`${environment}net`);
    return { ...args.network, bastionPrivateIp: "192.168.0.11" };
}

/** The EncryptionConfiguration a node's bootstrap step sends on stdin (`<file> <base64>` lines). */
function encryptionConfigOf(graph: Graph, node: string): string {
    const stdin = String(secretValue(graph.byName.get(`${node}-bootstrap`)!.inputs.stdin));
    const line = stdin.split("\n").find((l) => l.startsWith("encryption/encryption-config.yaml "));
    assert.ok(line, `${node}: no encryption configuration on stdin`);
    return Buffer.from(line.split(" ")[1], "base64").toString("utf8");
}
