// The one list of the files the boot bundle installs on a node: which node roles receive each
// file, and who calls it there (a remote Command of the program, a cron entry, the unit, or
// another node file). The bundle, the worker's share of it, the cron file and the test that
// checks every `$SCRIPTS_DIR/<name>` a node runs is installed there are all derived from it.
//
// Scripts sent on a remote Command's stdin (node-leave.sh, drain-node.sh, roll-node-group.sh,
// health-gate.sh; see stdin-scripts.ts) are not installed; whatever they call by path is, and
// it is listed here with them as its callers.
import { NodeRole } from "./iam";

/** Who runs (or reads) a node file on the node. */
export type NodeFileCaller =
    /** A remote Command of the program runs it (by path) or sends a script that calls it. */
    | { kind: "command"; command: string; note: string }
    /** A line of the maintenance cron file (zadara-eksd.cron) runs it. */
    | { kind: "cron"; schedule: string; why: string }
    /** Another node file calls, sources or installs it. */
    | { kind: "script"; script: string };

export interface NodeFile {
    /** File name in the bundle and under the node's scripts directory. */
    name: string;
    roles: NodeRole[];
    calledBy: NodeFileCaller[];
    /** The cron file: rendered from the manifest's cron entries, not read from cluster/scripts. */
    generated?: boolean;
}

export const CRON_FILE_NAME = "zadara-eksd.cron";
export const NVME_UNIT_NAME = "zadara-nvme-mount.service";
export const METADATA_GUARD_UNIT_NAME = "zadara-metadata-guard.service";

const BOTH: NodeRole[] = ["control-plane", "worker"];
const CONTROL_PLANE: NodeRole[] = ["control-plane"];

/** Scripts that `source "$(dirname ...)/lib.sh"` from the installed directory. */
const LIB_USERS = [
    "bootstrap.sh",
    "nvme-mount.sh",
    "control-plane-up.sh",
    "etcd-backup.sh",
    "etcd-watchdog.sh",
    "renew-certs.sh",
    "etcd-membership.sh",
    "csr-approver.sh",
];

export const NODE_FILES: NodeFile[] = [
    { name: "lib.sh", roles: BOTH, calledBy: LIB_USERS.map((script) => ({ kind: "script", script })) },
    { name: "bootstrap.sh", roles: BOTH, calledBy: [{ kind: "script", script: "loader.sh" }] },
    { name: "nvme-mount.sh", roles: BOTH, calledBy: [{ kind: "script", script: NVME_UNIT_NAME }] },
    { name: NVME_UNIT_NAME, roles: BOTH, calledBy: [{ kind: "script", script: "bootstrap.sh" }] },
    { name: "metadata-guard.sh", roles: BOTH, calledBy: [{ kind: "script", script: METADATA_GUARD_UNIT_NAME }] },
    { name: METADATA_GUARD_UNIT_NAME, roles: BOTH, calledBy: [{ kind: "script", script: "bootstrap.sh" }] },
    {
        name: "control-plane-up.sh",
        roles: CONTROL_PLANE,
        calledBy: [{ kind: "command", command: "<node>-bootstrap", note: "create/update: control-plane-up.sh init|join" }],
    },
    {
        name: "etcd-backup.sh",
        roles: CONTROL_PLANE,
        calledBy: [{ kind: "cron", schedule: "17 */2 * * *", why: "etcd snapshot (+ encrypted export) every 2 h, no disk snapshot" }],
    },
    { name: "etcd-watchdog.sh", roles: CONTROL_PLANE, calledBy: [{ kind: "cron", schedule: "*/2 * * * *", why: "drop etcd members of vanished instances" }] },
    {
        name: "renew-certs.sh",
        roles: CONTROL_PLANE,
        calledBy: [{ kind: "cron", schedule: "37 3 * * 0", why: "renew kubeadm certificates before they expire" }],
    },
    {
        name: "etcd-membership.sh",
        roles: CONTROL_PLANE,
        calledBy: [
            { kind: "script", script: "etcd-watchdog.sh" },
            { kind: "command", command: "<node>-bootstrap", note: "delete: node-leave.sh on stdin calls it by path" },
            { kind: "command", command: "<node>-retire-replaced", note: "node-leave.sh on stdin calls it by path" },
            { kind: "command", command: "<env>-health", note: "health-gate.sh on stdin calls it by path" },
            { kind: "command", command: "<node>-membership", note: "delete: node-leave.sh on stdin calls it by path" },
        ],
    },
    {
        name: "csr-approver.sh",
        roles: CONTROL_PLANE,
        calledBy: [{ kind: "cron", schedule: "* * * * *", why: "approve kubelet certificates by cloud identity" }],
    },
    { name: CRON_FILE_NAME, roles: CONTROL_PLANE, generated: true, calledBy: [{ kind: "script", script: "bootstrap.sh" }] },
];

/** Names of the files a node of `role` receives, in manifest order. */
export function nodeFileNames(role: NodeRole): string[] {
    return NODE_FILES.filter((file) => file.roles.includes(role)).map((file) => file.name);
}

/** Names of every file of the bundle (the union of both roles). */
export function allNodeFileNames(): string[] {
    return NODE_FILES.map((file) => file.name);
}

export interface CronJob {
    schedule: string;
    script: string;
    why: string;
}

/** The cron entries of the manifest (control-plane maintenance). */
export function cronJobs(): CronJob[] {
    const jobs: CronJob[] = [];
    for (const file of NODE_FILES) {
        for (const caller of file.calledBy) {
            if (caller.kind === "cron") {
                jobs.push({ schedule: caller.schedule, script: file.name, why: caller.why });
            }
        }
    }
    return jobs;
}
