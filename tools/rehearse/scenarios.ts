// The rehearsal's scenarios (issue 18): each a sequence of `pulumi up` runs of the dev stack
// with config overrides, as a user would make them.
import type { Scenario } from "./rehearsal";

const count = (n: number) => `controlPlaneCount=${n}`;

// Seams of issue 18 this rehearsal finds, fixed by separate changes (flip a scenario's
// knownSeam off once its fix is in).
const SEAM_MEMBERSHIP_SCRIPT = "issue 18 item 1: control-plane nodes do not receive etcd-membership.sh (node-leave.sh and health-gate.sh call it)";
const SEAM_KEY_PAIR = "issue 18 item 6: a key-pair change retires nothing early (etcd grows to 6 members)";
const SEAM_FAILED_ROLL = "issue 18 item 5: a failed roll's new node is terminated without leaving etcd";
const SEAM_RERUN_BOOT_FAILED =
    "found by the rehearsal: a failed control-plane-up.sh writes BOOT_FAILED, which its re-run on the same node reads as a failed boot (a failed bootstrap can never be re-run)";
const SEAM_RENAME = "issue 18 item 7: a bootstrap Command's URN change runs node-leave.sh on the live node";
const SEAM_TARGET = "issue 18 item 7: --target of an instance terminates a node without a leave";

/** Names of the scenarios `npm test` runs (tests/rehearse-fast.test.ts): the quick ones. */
export const FAST_SCENARIOS = ["create 1", "count 1->3", "replace one"];

export const SCENARIOS: Scenario[] = [
    {
        name: "create 1",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT].join("; "),
        stack: "dev",
        target: 1,
        updates: [{ label: "create 1", config: [count(1)], expect: "ok" }],
    },
    {
        name: "count 1->3",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT].join("; "),
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 1", config: [count(1)], expect: "ok" },
            { label: "count 1->3", config: [count(3)], expect: "ok" },
        ],
    },
    {
        name: "replace one",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT].join("; "),
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "--replace dev-master-sa-2", config: [count(3)], replace: ["dev-master-sa-2"], expect: "ok" },
        ],
    },
    {
        name: "create 3",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT].join("; "),
        stack: "dev",
        target: 3,
        updates: [{ label: "create 3", config: [count(3)], expect: "ok" }],
    },
    {
        name: "count 1->3->5->3->1",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT].join("; "),
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
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT].join("; "),
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "new AMI", config: [count(3), "controlPlaneAmiId=ami-00000000000000077"], expect: "ok" },
        ],
    },
    {
        name: "key-pair change",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT, SEAM_KEY_PAIR].join("; "),
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "new node key pair", config: [count(3), "nodeKeyName=rotated-nodes-keypair"], expect: "ok" },
        ],
    },
    {
        name: "gate fails at node 2, re-run",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT, SEAM_FAILED_ROLL, SEAM_RERUN_BOOT_FAILED].join("; "),
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
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT, SEAM_FAILED_ROLL].join("; "),
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
        name: "EKS-D minor upgrade",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT].join("; "),
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3 on 1.30", config: [count(3)], expect: "ok" },
            { label: "eksdVersion 1.31", config: [count(3), "eksdVersion=1.31"], expect: "ok" },
        ],
    },
    {
        name: "--target one instance",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT, SEAM_TARGET].join("; "),
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            {
                label: "--target dev-master-sa-2 --replace dev-master-sa-2",
                config: [count(3)],
                replace: ["dev-master-sa-2"],
                targets: ["dev-master-sa-2"],
                expect: "ok",
            },
        ],
    },
    {
        name: "rename of a bootstrap Command",
        knownSeam: SEAM_RENAME,
        stack: "dev",
        target: 3,
        updates: [
            { label: "create 3", config: [count(3)], expect: "ok" },
            { label: "dev-master-sa-2-bootstrap renamed without an alias", config: [count(3)], renamedInState: "dev-master-sa-2-bootstrap", expect: "ok" },
        ],
    },
    {
        name: "destroy",
        knownSeam: [SEAM_MEMBERSHIP_SCRIPT].join("; "),
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
