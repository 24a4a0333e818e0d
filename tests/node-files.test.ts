// The seam between what a node holds and what runs on it: every script path a delivered file,
// a cron entry, the user data or a remote Command of the planned clusters calls must be a file
// the node-file manifest (cluster/node-files.ts) delivers to that node's role. The delivered
// set comes from the program's own bundle functions, never from the cluster/scripts folder.
import { buildClusters, recorded, ROOT_CA, secretValue } from "./helpers/cluster-fixture";
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as YAML from "yaml";
import { decodeUserData, NODE_SCRIPTS_DIR } from "../cluster/cloud-init";
import type { NodeRole } from "../cluster/iam";
import { bundleFiles, roleBundleFiles } from "../cluster/node-bootstrap";
import { NODE_FILES, nodeFileNames } from "../cluster/node-files";
import { isSecretValue } from "../tools/mock-engine";
import { nodeLeaveCommand } from "../cluster/control-plane";
import { HEALTH_SCRIPTS, ROLL_SCRIPTS } from "../cluster/worker-rolls";
import { scriptForStdin } from "../cluster/stdin-scripts";

const COMMAND = "command:remote:Command";
/** Commands that run on the bastion, not on a node. */
const BASTION_COMMANDS = /-(boot-bundle|cloud-metadata)$/;

/** Where a script is called from: `$SCRIPTS_DIR/x`, `${NODE_SCRIPTS_DIR}/x`, `$(dirname "${BASH_SOURCE[0]}")/x`, the install path. */
const CALL = /(?:\$\{?(?:NODE_)?SCRIPTS_DIR\}?|\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)|\/usr\/local\/lib\/zadara-eksd)\/([A-Za-z0-9._-]+)/g;
/** The header scriptForStdin writes: the scripts joined into one `bash -s` text. */
const JOINED = /^# (.+), joined for bash -s$/m;
/** `echo '<base64>' | base64 -d | ... bash -s`: a script carried inside the command itself. */
const EMBEDDED = /echo '([A-Za-z0-9+/=]{40,})' \| base64 -d/g;

export interface Caller {
    label: string;
    role: NodeRole | "bastion";
    text: string;
}

/** The files a caller's text calls by path (comment lines skipped). */
export function callees(text: string): string[] {
    const code = text
        .split("\n")
        .filter((line) => !line.trim().startsWith("#"))
        .join("\n");
    return [...new Set([...code.matchAll(CALL)].map((match) => match[1]))];
}

/** "<caller> calls <file>, not delivered to <role> nodes" for every broken seam. */
export function missingCallees(callers: Caller[], delivered: (role: NodeRole | "bastion") => Set<string>): string[] {
    const problems: string[] = [];
    for (const caller of callers) {
        const joined = new Set(JOINED.exec(caller.text)?.[1].split(" + ") ?? []);
        for (const callee of callees(caller.text)) {
            if (!delivered(caller.role).has(callee) && !joined.has(callee) && !(OTHER_ROLE_BRANCH[caller.label] ?? []).includes(callee)) {
                problems.push(`${caller.label} calls ${callee}, which is not delivered to ${caller.role} nodes`);
            }
        }
    }
    return problems;
}

function plain(value: unknown): string {
    return String(isSecretValue(value) ? secretValue(value) : value);
}

/** The command text with every script embedded as base64 decoded beside it. */
function expandEmbedded(text: string): string {
    const decoded = [...text.matchAll(EMBEDDED)].map((match) => Buffer.from(match[1], "base64").toString("utf8"));
    return [text, ...decoded].join("\n");
}

/** What the program delivers to a node of `role`: its share of the bundle and the user data files. */
function deliveredByProgram(role: NodeRole | "bastion"): Set<string> {
    if (role === "bastion") {
        return new Set();
    }
    return new Set([...Object.keys(roleBundleFiles(role, bundleFiles(ROOT_CA))), ...userDataFiles(role)]);
}

interface CloudConfig {
    write_files: Array<{ path: string; content: string }>;
    runcmd: string[][];
}

/** Decoded user data of every recorded instance and launch configuration, with its role. */
function userDataOfPlan(): Array<{ label: string; role: NodeRole; config: CloudConfig }> {
    const found: Array<{ label: string; role: NodeRole; config: CloudConfig }> = [];
    for (const resource of recorded) {
        const value = resource.inputs.userDataBase64;
        if (value === undefined) {
            continue;
        }
        const config = YAML.parse(decodeUserData(plain(value)).replace(/^#cloud-config\n/, "")) as CloudConfig;
        const env = config.write_files.find((file) => file.path.endsWith("/node.env"))?.content ?? "";
        const role = /^ROLE='([a-z-]+)'$/m.exec(env)?.[1];
        assert.ok(role === "control-plane" || role === "worker", `${resource.name}: node.env names no role`);
        found.push({ label: `user data of ${resource.name}`, role, config });
    }
    return found;
}

/** Files a node's user data writes into the scripts directory (the loader). */
function userDataFiles(role: NodeRole): string[] {
    const names = new Set<string>();
    for (const data of userDataOfPlan().filter((d) => d.role === role)) {
        for (const file of data.config.write_files) {
            if (file.path.startsWith(`${NODE_SCRIPTS_DIR}/`)) {
                names.add(file.path.slice(NODE_SCRIPTS_DIR.length + 1));
            }
        }
    }
    return [...names];
}

/**
 * Calls made only on the other role's branch of a shared script: bootstrap.sh installs the
 * cron file when ROLE is control-plane.
 */
const OTHER_ROLE_BRANCH: Record<string, string[]> = { "bootstrap.sh on a worker node": ["zadara-eksd.cron"] };

/**
 * Remote Commands the cluster fixture's plans do not hold: the worker roll and health gate
 * (built by index.ts, on control-plane node 0) and a retire step with an instance to retire
 * (needs a previous state; it sends the same leave script as a bootstrap's delete).
 */
function commandsOutsideFixture(): Array<{ name: string; text: string }> {
    return [
        {
            name: "dev-master-sa-1-retire-replaced",
            text: expandEmbedded(nodeLeaveCommand("dev-master-sa-1", 600, { expectedInstanceId: "i-old", ownerToken: "dev-master-sa-1-bootstrap" })),
        },
        { name: "dev-health", text: scriptForStdin(HEALTH_SCRIPTS) },
        { name: "dev-workers-roll", text: scriptForStdin(ROLL_SCRIPTS) },
    ];
}

/** Every caller of the plan: delivered files, cron file, user data, remote Commands. */
function callersOfPlan(): Caller[] {
    const callers: Caller[] = [];
    const bundle = bundleFiles(ROOT_CA);
    for (const role of ["control-plane", "worker"] as const) {
        for (const [name, text] of Object.entries(roleBundleFiles(role, bundle))) {
            callers.push({ label: `${name} on a ${role} node`, role, text });
        }
    }
    for (const data of userDataOfPlan()) {
        const texts = [...data.config.write_files.map((file) => file.content), ...data.config.runcmd.map((command) => command.join(" "))];
        callers.push({ label: data.label, role: data.role, text: texts.join("\n") });
    }
    for (const command of recorded.filter((r) => r.type === COMMAND)) {
        for (const field of ["create", "update", "delete", "stdin"]) {
            const value = command.inputs[field];
            if (value === undefined) {
                continue;
            }
            callers.push({
                label: `${field} of Command ${command.name}`,
                role: BASTION_COMMANDS.test(command.name) ? "bastion" : "control-plane",
                text: expandEmbedded(plain(value)),
            });
        }
    }
    for (const command of commandsOutsideFixture()) {
        callers.push({ label: `Command ${command.name}`, role: "control-plane", text: command.text });
    }
    return callers;
}

describe("node-file manifest: every path a node runs is delivered to it", () => {
    before(async () => {
        await buildClusters();
    });

    it("no delivered file, cron entry, user data or remote Command calls a file its node lacks", () => {
        const callers = callersOfPlan();
        // Positive controls: the callers that broke before are among those checked.
        for (const label of [/^delete of Command dev-master-sa-1-bootstrap$/, /^Command dev-health$/, /^etcd-watchdog\.sh on a control-plane node$/]) {
            assert.ok(
                callers.some((c) => label.test(c.label)),
                `no caller ${label}`,
            );
        }
        assert.deepEqual(missingCallees(callers, deliveredByProgram), []);
    });

    it("fails when a callee is not delivered: control-plane nodes without etcd-membership.sh", () => {
        const withoutMembership = (role: NodeRole | "bastion") => {
            const files = deliveredByProgram(role);
            files.delete("etcd-membership.sh");
            return files;
        };
        const problems = missingCallees(callersOfPlan(), withoutMembership);
        for (const caller of [
            "delete of Command dev-master-sa-1-bootstrap",
            "Command dev-health",
            "Command dev-master-sa-1-retire-replaced",
            "etcd-watchdog.sh on a control-plane node",
        ]) {
            assert.ok(
                problems.includes(`${caller} calls etcd-membership.sh, which is not delivered to control-plane nodes`),
                `${caller} not reported:\n${problems.join("\n")}`,
            );
        }
    });

    it("every manifest entry is delivered to its roles and has a caller that really calls it", () => {
        const bundle = bundleFiles(ROOT_CA);
        const commandTexts = recorded
            .filter((r) => r.type === COMMAND)
            .map((r) => ({
                name: r.name,
                text: ["create", "update", "delete", "stdin"]
                    .map((field) => (r.inputs[field] === undefined ? "" : expandEmbedded(plain(r.inputs[field]))))
                    .join("\n"),
            }))
            .concat(commandsOutsideFixture());
        for (const file of NODE_FILES) {
            assert.ok(file.calledBy.length > 0, `${file.name}: nobody calls it`);
            for (const role of file.roles) {
                assert.ok(nodeFileNames(role).includes(file.name));
                assert.ok(file.name in roleBundleFiles(role, bundle), `${file.name} is not in the ${role} bundle`);
            }
            for (const caller of file.calledBy) {
                if (caller.kind === "script") {
                    const text =
                        bundle[caller.script] ??
                        userDataOfPlan().flatMap((d) => d.config.write_files.filter((f) => f.path.endsWith(`/${caller.script}`)))[0]?.content;
                    assert.ok(text !== undefined, `${file.name}: its caller ${caller.script} is not delivered`);
                    assert.ok(text.includes(file.name), `${file.name}: ${caller.script} does not call it`);
                } else if (caller.kind === "command") {
                    const pattern = new RegExp(`^${caller.command.replace(/<[a-z]+>/g, "[a-z0-9-]+")}$`);
                    const matching = commandTexts.filter((c) => pattern.test(c.name));
                    assert.ok(matching.length > 0, `${file.name}: no planned Command matches ${caller.command}`);
                    assert.ok(
                        matching.some((c) => callees(c.text).includes(file.name)),
                        `${file.name}: no ${caller.command} Command calls it`,
                    );
                } else {
                    assert.match(
                        bundle["zadara-eksd.cron"],
                        new RegExp(`^${caller.schedule.replace(/\*/g, "\\*")} root ${NODE_SCRIPTS_DIR}/${file.name} `, "m"),
                    );
                }
            }
        }
    });

    it("finds calls by every form the scripts use, and skips comments", () => {
        const text = [
            '"$SCRIPTS_DIR/a.sh"',
            '"${SCRIPTS_DIR}/b.sh"',
            '"${NODE_SCRIPTS_DIR}/c.cron"',
            'source "$(dirname "${BASH_SOURCE[0]}")/d.sh"',
            ': "${X:=/usr/local/lib/zadara-eksd/e.sh}"',
            "# $SCRIPTS_DIR/commented.sh",
        ].join("\n");
        assert.deepEqual(callees(text), ["a.sh", "b.sh", "c.cron", "d.sh", "e.sh"]);
    });
});
