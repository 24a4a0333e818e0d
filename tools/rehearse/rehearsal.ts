// One rehearsal scenario: a stack's updates planned by the program (plan-run.ts), run in the
// engine's order (engine.ts) against nodes built from the plan (cloud.ts), with real etcd, and
// checked after every step that touched a node.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BOOTSTRAP_OWNER_FILE } from "../../cluster/control-plane";
import { CommandRun, RehearsalCloud, RehearsalNode, rootedCommand, etcdPidOf, killEtcdOf, processAlive } from "./cloud";
import { EngineStep, runUpdate, StepOutcome, StepRunner } from "./engine";
import { EtcdWriter, leaderAddress, tlsOfNode, viewMembers } from "./etcd-view";
import { emptyState, PlannedUpdate, RehearsalState } from "./state";

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const NODE_SCRIPTS_DIR = "usr/local/lib/zadara-eksd";

/** One `pulumi up` of a scenario. */
export interface UpdateSpec {
    label: string;
    /** `key=value` config overrides of the stack (on top of the stack file). */
    config: string[];
    /** Resource names forced to be replaced (`pulumi up --replace <urn>`). */
    replace?: string[];
    /** Control-plane slots (e.g. dev-master-sa-2) whose Node never becomes Ready in this update. */
    notReady?: string[];
    /** `pulumi up --target <name>...` (without --target-dependents). */
    targets?: string[];
    /**
     * Before this update, the state's resource of this name carries another URN (as after a
     * rename or re-parent in the program without an alias): the engine sees a delete of the old
     * URN and a create of the new one.
     */
    renamedInState?: string;
    /**
     * Right after this resource's step succeeded, the etcd leader's process is killed and, a
     * moment later, started again from its data (what the kubelet does for a static pod).
     */
    killLeaderAfter?: string;
    /** Fault switches for this update (files in the cluster's faults/ directory, read by the node tools). */
    faults?: Array<"drain-refused" | "node-delete-refused">;
    /** `pulumi destroy`: every resource deleted in the engine's order. */
    destroy?: boolean;
    /** How the update should end. */
    expect: "ok" | "fail" | "refused";
}

export interface Scenario {
    name: string;
    stack: string;
    updates: UpdateSpec[];
    /** Control-plane nodes at the end. */
    target: number;
    /**
     * A seam another change fixes: the scenario is expected to fail until then (tests mark it
     * todo with this text).
     */
    knownSeam?: string;
}

export interface ScenarioResult {
    name: string;
    updates: number;
    /** Steps that did something (instance boots and terminations, Commands run). */
    steps: number;
    minMembers: number;
    maxMembers: number;
    failedWrites: number;
    longestOutageMs: number;
    elapsedMs: number;
    violations: string[];
    verdict: "pass" | "fail";
    /** The scenario's known seam (its failure is expected until that fix is in). */
    knownSeam?: string;
    /** What each update did, one line per step (for the report and a failed test). */
    transcript: string[];
}

export interface RehearsalOptions {
    /** Working directory (node roots, bundle server directory, state). */
    dir: string;
    /** `a.b.c` of the /24 the scenario's instances get their addresses from. */
    addressPrefix: string;
    /** Milliseconds since some origin (injected: the summary's times are measured, never asserted). */
    now: () => number;
    /** Progress lines (the CLI prints them). */
    progress?: (line: string) => void;
}

/** Commands the rehearsal cannot run (they need a cloud API): they succeed with this note. */
const NOT_REHEARSED: Array<{ pattern: RegExp; why: string }> = [
    { pattern: /-roll$/, why: "the worker roll drives the cloud's Auto Scaling API (tests/worker-rolls.test.ts covers its script)" },
];

/** Every node script a text calls: literal paths and $NODE_SCRIPTS_DIR / $SCRIPTS_DIR references. */
export function calledScripts(text: string): string[] {
    const names = new Set<string>();
    const patterns = [/\/usr\/local\/lib\/zadara-eksd\/([A-Za-z0-9][A-Za-z0-9._-]*)/g, /\$\{?(?:NODE_)?SCRIPTS_DIR\}?\/([A-Za-z0-9][A-Za-z0-9._-]*)/g];
    for (const pattern of patterns) {
        for (const match of text.matchAll(pattern)) {
            names.add(match[1]);
        }
    }
    // Only what a caller needs: scripts, the NVMe unit, the cron file (the root CA is optional).
    return [...names].filter((name) => /\.(sh|service|cron)$/.test(name));
}

/** The text of a command and of the scripts it carries (base64 in the command, or stdin). */
function commandTexts(inputs: Record<string, unknown>, field: "create" | "update" | "delete"): string[] {
    const text = textInput(inputs, field);
    const texts = [text];
    for (const match of text.matchAll(/echo '([A-Za-z0-9+/=]{40,})' \| base64 -d/g)) {
        texts.push(Buffer.from(match[1], "base64").toString("utf8"));
    }
    const stdin = textInput(inputs, "stdin");
    if (field !== "delete" && stdin.startsWith("#!")) {
        texts.push(stdin);
    }
    return texts;
}

/** A string input of a Command ("" when it has none). */
function textInput(inputs: Record<string, unknown>, field: string): string {
    const value = inputs[field];
    return typeof value === "string" ? value : "";
}

export class Rehearsal implements StepRunner {
    state: RehearsalState;
    readonly cloud: RehearsalCloud;
    private readonly writer: EtcdWriter;
    private readonly violations = new Set<string>();
    private readonly transcript: string[] = [];
    private steps = 0;
    private minMembers = Number.POSITIVE_INFINITY;
    private maxMembers = 0;
    /** Members (and voters) when the current update started, and its target. */
    private startMembers = 0;
    private startVoters = 0;
    private target = 0;
    private update = "";
    private killLeaderAfter: string | undefined;
    /** A destroy takes the last member down on purpose: no quorum check then. */
    private destroying = false;

    constructor(private readonly options: RehearsalOptions) {
        fs.mkdirSync(options.dir, { recursive: true });
        this.state = emptyState(options.addressPrefix);
        this.cloud = new RehearsalCloud({ dir: options.dir, apiHost: "api", nodeEnv: { GATE_TIMEOUT: "30" } });
        this.writer = new EtcdWriter(
            () => this.etcdTls(),
            () => this.etcdEndpoints(),
            options.now,
        );
    }

    async runScenario(scenario: Scenario): Promise<ScenarioResult> {
        const started = this.options.now();
        this.writer.start();
        let updates = 0;
        try {
            for (const spec of scenario.updates) {
                updates++;
                await this.runSpec(scenario, spec);
            }
            await this.checkFinal(scenario.target);
        } catch (error) {
            this.violations.add(`rehearsal error: ${error instanceof Error ? error.message : String(error)}`);
        } finally {
            await this.writer.stop();
            await this.cloud.shutdown();
        }
        const violations = [...this.violations];
        return {
            name: scenario.name,
            updates,
            steps: this.steps,
            minMembers: Number.isFinite(this.minMembers) ? this.minMembers : 0,
            maxMembers: this.maxMembers,
            failedWrites: this.writer.failedWrites,
            longestOutageMs: this.writer.longestOutageMs,
            elapsedMs: this.options.now() - started,
            violations,
            verdict: violations.length === 0 ? "pass" : "fail",
            knownSeam: scenario.knownSeam,
            transcript: this.transcript,
        };
    }

    private async runSpec(scenario: Scenario, spec: UpdateSpec): Promise<void> {
        this.update = spec.label;
        this.killLeaderAfter = spec.killLeaderAfter;
        this.target = Number(spec.config.find((c) => c.startsWith("controlPlaneCount="))?.split("=")[1] ?? scenario.target);
        const members = (await this.members()) ?? [];
        this.startMembers = members.length;
        this.startVoters = members.filter((m) => !m.learner).length;
        this.log(`== ${spec.label}`);
        this.destroying = spec.destroy === true;
        const planned: PlannedUpdate = spec.destroy
            ? { resources: [], outputs: {}, nextAddress: this.state.nextAddress }
            : await this.plan(scenario.stack, spec);
        if (planned.refusal !== undefined) {
            this.log(`   refused at preview: ${planned.refusal.split("\n")[0]}`);
            if (spec.expect !== "refused") {
                this.violations.add(`${spec.label}: refused at preview (${planned.refusal.split("\n")[0]})`);
            }
            return;
        }
        if (spec.expect === "refused") {
            this.violations.add(`${spec.label}: expected a refusal at preview, the update was planned`);
        }
        this.markNotReady(planned, spec.notReady ?? []);
        for (const fault of spec.faults ?? []) {
            fs.writeFileSync(path.join(this.cloud.clusterDir, "faults", fault), "");
        }
        if (spec.renamedInState !== undefined) {
            this.renameInState(spec.renamedInState);
        }
        const result = await runUpdate(this.state, planned, this, spec.targets);
        this.state = { ...result.state, liveInstances: this.cloud.liveNodes().map((node) => node.instanceId) };
        this.log(`   update ${result.ok ? "succeeded" : `failed: ${result.failure ?? ""}`}`);
        if (result.ok !== (spec.expect === "ok")) {
            this.violations.add(
                `${spec.label}: expected the update to ${spec.expect === "ok" ? "succeed" : "fail"}, it ${result.ok ? "succeeded" : `failed (${result.failure ?? ""})`}`,
            );
        }
        fs.rmSync(path.join(this.cloud.clusterDir, "faults"), { recursive: true, force: true });
        fs.mkdirSync(path.join(this.cloud.clusterDir, "faults"));
    }

    /** The program's plan of this update, in a process of its own. */
    private async plan(stack: string, spec: UpdateSpec): Promise<PlannedUpdate> {
        const stateFile = path.join(this.options.dir, "state.json");
        const outFile = path.join(this.options.dir, "planned.json");
        fs.writeFileSync(stateFile, JSON.stringify({ ...this.state, liveInstances: this.cloud.liveNodes().map((n) => n.instanceId) }));
        fs.rmSync(outFile, { force: true });
        const args = ["--import", "tsx", path.join(__dirname, "plan-run.ts"), "--stack", stack, "--state", stateFile, "--out", outFile];
        for (const config of spec.config) {
            args.push("--config", config);
        }
        for (const name of spec.replace ?? []) {
            args.push("--replace", name);
        }
        const run = await new Promise<CommandRun>((resolve) => {
            const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" } });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        });
        if (run.code !== 0 || !fs.existsSync(outFile)) {
            throw new Error(`the program's plan failed (exit ${run.code}): ${run.stderr.slice(-2000)}`);
        }
        return JSON.parse(fs.readFileSync(outFile, "utf8")) as PlannedUpdate;
    }

    /** The state's resource `name` under an older name (`<name>-old`), as a rename leaves it. */
    /**
     * The state holds `name` under another URN, as an earlier program version (another name or
     * parent) left it: its stored inputs carry the owner token of that URN, and its node's owner
     * file the claim that Command made. The program then creates `name` anew and deletes the old
     * one at the end of the update.
     */
    private renameInState(name: string): void {
        const rename = (urn: string) => (urn.endsWith(`::${name}`) ? `${urn}-old` : urn);
        const renamed = this.state.resources.find((r) => r.name === name);
        const token = /[0-9a-f]{64}/.exec(JSON.stringify(renamed?.inputs.delete ?? ""))?.[0];
        const formerToken = token === undefined ? undefined : createHash("sha256").update(`${token}-renamed`).digest("hex");
        const swap = (value: unknown): unknown =>
            token === undefined || formerToken === undefined ? value : JSON.parse(JSON.stringify(value).split(token).join(formerToken));
        if (token !== undefined && formerToken !== undefined) {
            for (const node of this.cloud.liveNodes()) {
                const ownerFile = path.join(node.root, BOOTSTRAP_OWNER_FILE);
                if (fs.existsSync(ownerFile)) {
                    fs.writeFileSync(ownerFile, fs.readFileSync(ownerFile, "utf8").split(token).join(formerToken));
                }
            }
        }
        this.state = {
            ...this.state,
            resources: this.state.resources.map((r) =>
                r.name === name
                    ? { ...r, urn: rename(r.urn), name: `${name}-old`, inputs: swap(r.inputs) as Record<string, unknown> }
                    : { ...r, dependencies: r.dependencies.map(rename) },
            ),
        };
    }

    /** Fault switch: the Nodes of these slots' new instances never report Ready. */
    private markNotReady(planned: PlannedUpdate, slots: string[]): void {
        for (const slot of slots) {
            const instance = planned.resources.find((r) => r.type === "aws:ec2/instance:Instance" && r.name === slot);
            const ip = instance ? String(instance.outputs.privateIp) : "";
            if (ip) {
                fs.writeFileSync(path.join(this.cloud.clusterDir, "faults", `not-ready-ip-${ip.replace(/\./g, "-")}`), "");
            }
        }
    }

    async run(step: EngineStep): Promise<StepOutcome> {
        const resource = step.op === "delete" ? (step.old ?? step.resource) : step.resource;
        if (resource.type === "aws:ec2/instance:Instance") {
            return this.runInstance(step, resource.name);
        }
        if (resource.type === "command:remote:Command") {
            return this.runCommand(step);
        }
        if (resource.type === "command:local:Command") {
            return { ok: true, message: "local command: not rehearsed" };
        }
        return { ok: true, message: "no effect on a node" };
    }

    private async runInstance(step: EngineStep, name: string): Promise<StepOutcome> {
        const bastion = name.endsWith("-bastion");
        if (step.op === "delete") {
            const id = (step.old ?? step.resource).id;
            if (bastion) {
                await this.cloud.stopBastion();
            } else if (this.cloud.terminationProtected(id)) {
                // What TerminateInstances answers while the node's own protection is on (lib.sh).
                return { ok: false, message: `terminate ${id}: OperationNotPermitted: the instance may not be terminated (termination protection is on)` };
            } else {
                await this.cloud.terminate(id);
            }
            return { ok: true, message: `terminated ${id}` };
        }
        if (step.op === "update") {
            return { ok: true, message: "updated in place" };
        }
        const ip = String(step.resource.outputs.privateIp);
        if (bastion) {
            await this.cloud.startBastion(ip);
            return { ok: true, message: `bastion ${ip} serves boot bundles` };
        }
        const node = await this.cloud.startInstance(step.resource.id, ip, name, String(step.resource.inputs.userDataBase64));
        return { ok: true, message: `started ${node.instanceId} at ${ip} (loader exit ${node.boot.code})` };
    }

    private async runCommand(step: EngineStep): Promise<StepOutcome> {
        const resource = step.op === "delete" ? (step.old ?? step.resource) : step.resource;
        const inputs = resource.inputs;
        const field = step.op === "delete" ? "delete" : step.op === "update" && typeof inputs.update === "string" ? "update" : "create";
        const text = textInput(inputs, field);
        if (text === "") {
            return { ok: true, message: `no ${field} command` };
        }
        const skip = NOT_REHEARSED.find((entry) => entry.pattern.test(resource.name));
        if (skip) {
            return { ok: true, message: `not rehearsed: ${skip.why}` };
        }
        if (resource.name.endsWith("-boot-bundle")) {
            const name = /bundle-[0-9a-f]{64}\.txt/.exec(text)?.[0];
            if (!name) {
                return { ok: false, message: "the publish command names no bundle file" };
            }
            this.cloud.publishBundle(textInput(inputs, "stdin"), name);
            return { ok: true, message: `published ${name}` };
        }
        const host = String((inputs.connection as { host?: string } | undefined)?.host ?? "");
        const node = this.cloud.nodeAt(host);
        if (!node) {
            return { ok: false, message: `ssh ${host}: no running instance has this address (dial timeout)` };
        }
        this.checkPaths(node, commandTexts(inputs, field), `${resource.name} (${field})`);
        const stdin = field === "delete" ? "" : textInput(inputs, "stdin");
        const run = await this.cloud.runOnNode(node, rootedCommand(text, node.root), stdin);
        const tail = run.stderr.trim().split("\n").slice(-3).join(" | ");
        return run.code === 0
            ? { ok: true, message: `${field} on ${node.slot} (${node.hostname})` }
            : { ok: false, message: `${field} on ${node.slot} exited ${run.code}: ${tail}` };
    }

    async after(step: EngineStep, outcome: StepOutcome): Promise<void> {
        const resource = step.op === "delete" ? (step.old ?? step.resource) : step.resource;
        if (!["aws:ec2/instance:Instance", "command:remote:Command"].includes(resource.type) || outcome.message.startsWith("no ")) {
            return;
        }
        this.steps++;
        this.log(`   ${step.op.padEnd(7)} ${resource.name}: ${outcome.ok ? "ok" : "FAILED"} ${outcome.message}`);
        await this.check(`${this.update} / ${step.op} ${resource.name}`);
        if (outcome.ok && step.op !== "delete" && resource.name === this.killLeaderAfter) {
            this.killLeaderAfter = undefined;
            await this.killAndRestartLeader();
        }
    }

    /** The leader's etcd dies; the kubelet starts it again after a second. */
    private async killAndRestartLeader(): Promise<void> {
        const tls = this.etcdTls();
        const ip = tls ? await leaderAddress(tls, this.etcdEndpoints()) : undefined;
        const node = this.cloud.liveNodes().find((n) => n.ip === ip);
        if (!node) {
            this.violations.add(`${this.update}: no etcd leader to kill`);
            return;
        }
        await killEtcdOf(node);
        this.log(`   killed the etcd leader on ${node.slot} (${node.hostname})`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const restart = await this.cloud.runOnNode(node, "kubelet --rehearse-restart-etcd", "");
        this.log(`   the kubelet started etcd on ${node.slot} again (exit ${restart.code})`);
        await this.check(`${this.update} / leader killed and restarted`);
    }

    /** Every script a Command, the cron file or an installed script calls exists on the node. */
    private checkPaths(node: RehearsalNode, texts: string[], referrer: string): void {
        const dir = path.join(node.root, NODE_SCRIPTS_DIR);
        for (const text of texts) {
            for (const name of calledScripts(text)) {
                // A script joined into this one (scriptForStdin) is not called from the node.
                if (text.includes(`# ---- ${name} ----`)) {
                    continue;
                }
                if (!fs.existsSync(path.join(dir, name))) {
                    this.violations.add(`${node.slot}: ${referrer} calls ${NODE_SCRIPTS_DIR}/${name}, which the node does not have`);
                }
            }
        }
    }

    private checkInstalled(node: RehearsalNode): void {
        const dir = path.join(node.root, NODE_SCRIPTS_DIR);
        if (!fs.existsSync(dir)) {
            return;
        }
        for (const file of fs.readdirSync(dir)) {
            this.checkPaths(node, [fs.readFileSync(path.join(dir, file), "utf8")], file);
        }
        const cron = path.join(node.root, "etc/cron.d/zadara-eksd");
        if (fs.existsSync(cron)) {
            this.checkPaths(node, [fs.readFileSync(cron, "utf8")], "the cron file");
        }
    }

    private etcdTls() {
        for (const node of this.cloud.liveNodes()) {
            const tls = tlsOfNode(node.root);
            if (tls) {
                return tls;
            }
        }
        return undefined;
    }

    private etcdEndpoints(): string[] {
        return this.cloud
            .liveNodes()
            .filter((node) => {
                const pid = etcdPidOf(node);
                return pid !== undefined && processAlive(pid);
            })
            .map((node) => `https://${node.ip}:2379`);
    }

    private async members() {
        const tls = this.etcdTls();
        const endpoints = this.etcdEndpoints();
        return tls && endpoints.length > 0 ? viewMembers(tls, endpoints) : undefined;
    }

    private async check(where: string): Promise<void> {
        // A node still booting (its loader runs beside this step) is checked once it booted.
        for (const node of this.cloud.liveNodes().filter((n) => n.boot.code !== -1)) {
            this.checkInstalled(node);
        }
        const members = await this.members();
        if (this.destroying) {
            return;
        }
        if (members === undefined) {
            if (this.maxMembers > 0) {
                this.violations.add(`${where}: no etcd member answers (quorum lost)`);
            }
            return;
        }
        const voters = members.filter((m) => !m.learner);
        const healthy = voters.filter((m) => m.healthy).length;
        const quorum = Math.floor(voters.length / 2) + 1;
        this.minMembers = Math.min(this.minMembers, members.length);
        this.maxMembers = Math.max(this.maxMembers, members.length);
        this.log(`     etcd: ${members.length} members (${voters.length} voters, ${healthy} healthy)`);
        if (healthy < quorum) {
            this.violations.add(`${where}: quorum lost (${healthy} healthy of ${voters.length} voters)`);
        }
        // The tolerance the cluster had when the update started, or the target's when smaller
        // (a 1 -> 3 growth passes 2 voters, which tolerate no failure, like the 1 it started from).
        const tolerance = (n: number) => Math.max(0, Math.floor((n - 1) / 2));
        const required = tolerance(Math.min(this.startVoters, this.target));
        if (healthy - quorum < required) {
            this.violations.add(`${where}: failure tolerance ${healthy - quorum} below ${required} (${healthy} healthy of ${voters.length} voters)`);
        }
        const limit = Math.max(this.startMembers, this.target) + 1;
        if (members.length > limit) {
            this.violations.add(`${where}: ${members.length} etcd members, more than one extra (limit ${limit})`);
        }
        const live = new Set(this.cloud.liveNodes().map((node) => node.ip));
        for (const member of members) {
            if (!live.has(member.ip)) {
                this.violations.add(`${where}: etcd member ${member.name || member.id} (${member.ip}) has no running instance`);
            }
        }
        const unreadable = await this.writer.unreadable();
        if (unreadable === undefined) {
            this.violations.add(`${where}: the acknowledged writes cannot be read`);
        } else if (unreadable.length > 0) {
            this.violations.add(`${where}: ${unreadable.length} acknowledged writes read back wrong (${unreadable.slice(0, 3).join(", ")})`);
        }
    }

    private async checkFinal(target: number): Promise<void> {
        const members = await this.members();
        const expected = this.cloud
            .liveNodes()
            .filter((node) => /-master-sa-\d+$/.test(node.slot))
            .map((node) => node.hostname)
            .sort();
        const actual = (members ?? []).map((m) => m.name).sort();
        if (expected.length !== target) {
            this.violations.add(`end: ${expected.length} control-plane instances run, the target is ${target}`);
        }
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
            this.violations.add(`end: etcd members [${actual.join(", ")}] are not the running control-plane nodes [${expected.join(", ")}]`);
        }
    }

    private log(line: string): void {
        this.transcript.push(line);
        this.options.progress?.(line);
    }
}
