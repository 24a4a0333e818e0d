// The rehearsal's scenarios (issue 18): each a sequence of `pulumi up` runs of the dev stack
// with config overrides, as a user would make them.
import type { Scenario } from "./rehearsal";

const count = (n: number) => `controlPlaneCount=${n}`;

// A scenario that fails on a known, separately tracked seam carries it as `knownSeam` (none
// today); the CLI says when such a scenario passes, so the entry can go.

/** Names of the scenarios `npm test` runs (tests/rehearse-fast.test.ts): the quick ones. */
export const FAST_SCENARIOS = ["count 1->3", "replace one"];

export const SCENARIOS: Scenario[] = [
    {
        name: "create 1",
        stack: "dev",
        target: 1,
        updates: [{ label: "create 1", config: [count(1)], expect: "ok" }],
    },
    {
        name: "count 1->3",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 1", config: [count(1)], expect: "ok" },
            { label: "count 1->3", config: [count(3)], expect: "ok" },
        ],
    },
    {
        name: "replace one",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "--replace dev-master-sa-2", config: [count(3)], replace: ["dev-master-sa-2"], expect: "ok" },
        ],
    },
    {
        name: "create 3",
        stack: "dev",
        target: 3,
        updates: [{ label: "create 3", config: [count(3)], expect: "ok" }],
    },
    {
        name: "count 1->3->5->3->1",
        stack: "dev",
        target: 1,
        updates: [
            { label: "create 1", config: [count(1)], expect: "ok" },
            { label: "count 1->3", config: [count(3)], expect: "ok" },
            { label: "count 3->5", config: [count(5)], expect: "ok" },
            { label: "count 5->3", config: [count(3)], expect: "ok" },
            { label: "count 3->1", config: [count(1)], expect: "ok" },
        ],
    },
    {
        name: "full roll by AMI",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "new AMI", config: [count(3), "controlPlaneAmiId=ami-00000000000000077"], expect: "ok" },
        ],
    },
    {
        name: "key-pair change",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "new node key pair", config: [count(3), "nodeKeyName=rotated-nodes-keypair"], expect: "ok" },
        ],
    },
    {
        name: "gate fails at node 2, re-run",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            {
                label: "new AMI, node 2 never Ready",
                config: [count(3), "controlPlaneAmiId=ami-00000000000000077"],
                notReady: ["dev-master-sa-2"],
                expect: "fail",
            },
            { label: "re-run, same config", config: [count(3), "controlPlaneAmiId=ami-00000000000000077"], expect: "ok" },
        ],
    },
    {
        name: "gate fails at node 2, rollback",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            {
                label: "new AMI, node 2 never Ready",
                config: [count(3), "controlPlaneAmiId=ami-00000000000000077"],
                notReady: ["dev-master-sa-2"],
                expect: "fail",
            },
            { label: "rollback to the old AMI", config: [count(3)], expect: "ok" },
        ],
    },
    {
        name: "gate fails at node 2, changed config",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            {
                label: "new AMI, node 2 never Ready",
                config: [count(3), "controlPlaneAmiId=ami-00000000000000077"],
                notReady: ["dev-master-sa-2"],
                expect: "fail",
            },
            { label: "re-run with a fixed AMI", config: [count(3), "controlPlaneAmiId=ami-00000000000000078"], expect: "ok" },
        ],
    },
    {
        name: "leader killed mid-roll",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            // After node 1's successor joined (4 members): the leader dies and comes back.
            {
                label: "new AMI, the leader killed mid-roll",
                config: [count(3), "controlPlaneAmiId=ami-00000000000000077"],
                killLeaderAfter: "dev-master-sa-1-bootstrap",
                expect: "ok",
            },
        ],
    },
    {
        name: "leave interrupted, re-run",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            // Cut at step 1 (drain): the old node 1 keeps serving, etcd holds its successor too.
            {
                label: "new AMI, the drain is refused",
                config: [count(3), "controlPlaneAmiId=ami-00000000000000077"],
                faults: ["drain-refused"],
                expect: "fail",
            },
            // Cut after step 3 (member removed): the re-run finishes only the last step.
            {
                label: "re-run, the Node deletion is refused",
                config: [count(3), "controlPlaneAmiId=ami-00000000000000077"],
                faults: ["node-delete-refused"],
                expect: "fail",
            },
            { label: "re-run", config: [count(3), "controlPlaneAmiId=ami-00000000000000077"], expect: "ok" },
        ],
    },
    {
        name: "EKS-D patch upgrade",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3 on v1.35.8-eks-1-35-15", config: [count(3), "eksdVersion=1.35", "kubernetesVersion=v1.35.8-eks-1-35-15"], expect: "ok" },
            { label: "kubernetesVersion v1.35.9-eks-1-35-16", config: [count(3), "eksdVersion=1.35", "kubernetesVersion=v1.35.9-eks-1-35-16"], expect: "ok" },
        ],
    },
    {
        name: "EKS-D minor upgrade",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3 on 1.34", config: [count(3), "eksdVersion=1.34"], expect: "ok" },
            { label: "eksdVersion 1.35", config: [count(3), "eksdVersion=1.35"], expect: "ok" },
        ],
    },
    {
        name: "--target one instance",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            {
                // The old instance is still an etcd member: its termination protection refuses the delete.
                label: "--target dev-master-sa-2 --replace dev-master-sa-2",
                config: [count(3)],
                replace: ["dev-master-sa-2"],
                targets: ["dev-master-sa-2"],
                expect: "fail",
            },
            { label: "pulumi up (the new instance joins, the old one leaves, then it is terminated)", config: [count(3)], expect: "ok" },
        ],
    },
    {
        name: "rename of a bootstrap Command",
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "dev-master-sa-2-bootstrap renamed without an alias", config: [count(3)], renamedInState: "dev-master-sa-2-bootstrap", expect: "ok" },
        ],
    },
    {
        name: "--replace of a bootstrap Command",
        stack: "dev",
        target: 1,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "--replace dev-master-sa-2-bootstrap", config: [count(3)], replace: ["dev-master-sa-2-bootstrap"], expect: "ok" },
            { label: "controlPlaneCount 1 (the replaced Command's node leaves)", config: [count(1)], expect: "ok" },
        ],
    },
    {
        name: "destroy",
        stack: "dev",
        target: 0,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "pulumi destroy", config: [], destroy: true, expect: "ok" },
        ],
    },
];

export function scenarioNamed(name: string): Scenario {
    const found = SCENARIOS.find((scenario) => scenario.name === name);
    if (!found) {
        throw new Error(`no rehearsal scenario "${name}"; have: ${SCENARIOS.map((s) => s.name).join(", ")}`);
    }
    return found;
}
