// The rehearsal's cloud: instances are directories (each node's "/") on one machine, each with
// its own loopback address, booted by the user data the plan gives them; the bastion's bundle
// server is a small HTTP server on the bastion's address and the program's BUNDLE_PORT; a
// remote Command runs under bash as the root of the node whose address it names.
//
// A node's root stands in for "/": the scripts read their directories from the environment
// (lib.sh's ZADARA_ETC, KUBERNETES_ETC, ...), and the absolute paths a Command's text names are
// moved under the node's root before it runs (rootedCommand). Nothing of cluster/scripts is
// copied: a node holds what its loader fetched from the bundle server, and what Commands send.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import * as YAML from "yaml";
import { decodeUserData } from "../../cluster/cloud-init";
import { BUNDLE_PORT } from "../../infra/network";
import { BASE_TOOLS, hostToolPath, linkHostTools } from "../../tests/helpers/stubbed-bash";

/** The stubbed tools every node gets first on its PATH (real files, tools/rehearse/node-tools). */
export const NODE_TOOLS_DIR = path.join(__dirname, "node-tools");
/** Real tools the stubs call (etcd for kubeadm's stub, curl for the loader's download). */
const REAL_TOOLS = ["etcd", "etcdctl", "curl", "openssl"];
/** Real tools a node has besides BASE_TOOLS. */
// openssl: a joining control-plane node signs its one-off credential with the cluster CA (control-plane-up.sh mint_join_token).
const NODE_HOST_TOOLS = ["setsid", "python3", "getent", "hostname", "sha1sum", "md5sum", "numfmt", "pgrep", "openssl"];

/** Absolute directories of a node that live under its root in the rehearsal. */
const ROOTED_PREFIXES = [
    "usr/local/lib/zadara-eksd",
    "usr/local/share/ca-certificates",
    "etc/kubernetes",
    "etc/cron.d",
    "etc/default",
    "etc/systemd/system",
    "var/lib/zadara-eksd",
    "var/lib/etcd-backup",
    "var/lib/etcd",
    "var/log",
    "run/zadara-eksd",
    "mnt/nvme",
];
const ROOTED_PATH = new RegExp(`(^|[\\s'"=(>:])/(${ROOTED_PREFIXES.map((p) => p.replace(/[./-]/g, (c) => `\\${c}`)).join("|")})(?=[/\\s'";)]|$)`, "g");

/** `text` with every absolute path of ROOTED_PREFIXES moved under `root`. */
export function rootedCommand(text: string, root: string): string {
    return text.replace(ROOTED_PATH, (_match, before: string, rest: string) => `${before}${root}/${rest}`);
}

export interface RehearsalNode {
    instanceId: string;
    ip: string;
    /** What `hostname` prints: kubeadm names the Node and the etcd member after it. */
    hostname: string;
    /** The instance's Name tag (e.g. dev-master-sa-2). */
    slot: string;
    root: string;
    alive: boolean;
    /** Exit code and log tail of the loader (user data) run. */
    boot: { code: number; output: string };
}

export interface CommandRun {
    code: number;
    stdout: string;
    stderr: string;
}

export interface CloudOptions {
    dir: string;
    apiHost: string;
    /** Extra environment of every node process (shorter waits, fault switches). */
    nodeEnv?: Record<string, string>;
}

export class RehearsalCloud {
    readonly nodes = new Map<string, RehearsalNode>();
    readonly clusterDir: string;
    readonly bundleDir: string;
    private readonly realBin: string;
    private readonly hostBin: string;
    private server?: http.Server;
    private bastionIp?: string;

    constructor(private readonly options: CloudOptions) {
        this.clusterDir = path.join(options.dir, "cluster");
        this.bundleDir = path.join(options.dir, "bastion", "bundles");
        this.realBin = path.join(options.dir, "real-bin");
        this.hostBin = path.join(options.dir, "host-bin");
        for (const dir of [
            this.clusterDir,
            path.join(this.clusterDir, "roots"),
            path.join(this.clusterDir, "nodes"),
            path.join(this.clusterDir, "faults"),
            this.bundleDir,
        ]) {
            fs.mkdirSync(dir, { recursive: true });
        }
        linkHostTools(this.realBin, REAL_TOOLS);
        linkHostTools(
            this.hostBin,
            [...BASE_TOOLS, ...NODE_HOST_TOOLS].filter((tool) => !fs.existsSync(path.join(NODE_TOOLS_DIR, tool))),
        );
    }

    /** Why the rehearsal cannot run here, or undefined. */
    static missingTools(): string | undefined {
        const missing = [...REAL_TOOLS, "setsid"].filter((tool) => !hostToolPath(tool));
        return missing.length === 0 ? undefined : `not installed: ${missing.join(", ")} (Debian: etcd-server etcd-client curl openssl util-linux)`;
    }

    /** The bastion: its bundle server listens on its address and the program's BUNDLE_PORT. */
    async startBastion(ip: string): Promise<void> {
        if (this.server && this.bastionIp === ip) {
            return;
        }
        await this.stopBastion();
        this.bastionIp = ip;
        const server = http.createServer((request, response) => {
            const name = path.basename(request.url ?? "");
            const file = path.join(this.bundleDir, name);
            if (request.method !== "GET" || !fs.existsSync(file)) {
                response.writeHead(404).end();
                return;
            }
            response.writeHead(200, { "content-type": "text/plain" }).end(fs.readFileSync(file));
        });
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(BUNDLE_PORT, ip, () => resolve());
        });
        this.server = server;
    }

    async stopBastion(): Promise<void> {
        const server = this.server;
        this.server = undefined;
        if (server) {
            await new Promise<void>((resolve) => server.close(() => resolve()));
        }
    }

    /** What the bastion's publish command does: the bundle under its sha256 name, checked. */
    publishBundle(bundle: string, expectedName: string): void {
        const sha = createHash("sha256").update(bundle, "utf8").digest("hex");
        if (!expectedName.includes(sha)) {
            throw new Error(`the bundle's sha256 ${sha} does not match ${expectedName}`);
        }
        fs.writeFileSync(path.join(this.bundleDir, expectedName), bundle);
    }

    nodeAt(ip: string): RehearsalNode | undefined {
        const node = this.nodes.get(ip);
        return node?.alive ? node : undefined;
    }

    liveNodes(): RehearsalNode[] {
        return [...this.nodes.values()].filter((node) => node.alive);
    }

    /** The environment every process of `node` runs with. */
    nodeEnvironment(node: RehearsalNode): Record<string, string> {
        const r = (relative: string) => path.join(node.root, relative);
        return {
            PATH: `${NODE_TOOLS_DIR}:${this.hostBin}`,
            HOME: r("root"),
            TMPDIR: r("tmp"),
            LANG: "C.UTF-8",
            REHEARSE_NODE_ROOT: node.root,
            REHEARSE_NODE_IP: node.ip,
            REHEARSE_INSTANCE_ID: node.instanceId,
            REHEARSE_HOSTNAME: node.hostname,
            REHEARSE_CLUSTER_DIR: this.clusterDir,
            REHEARSE_API_HOST: this.options.apiHost,
            // The API load balancer forwards the boot bundle port to the bastion (infra/network.ts).
            REHEARSE_BASTION_IP: this.bastionIp ?? "",
            REHEARSE_BUNDLE_PORT: String(BUNDLE_PORT),
            REHEARSE_REAL_BIN: this.realBin,
            ZADARA_ETC: r("etc/kubernetes/zadara"),
            KUBERNETES_ETC: r("etc/kubernetes"),
            STATE_DIR: r("var/lib/zadara-eksd"),
            KUBELET_DEFAULTS: r("etc/default/kubelet"),
            ETCD_BACKUP_DIR: r("var/lib/etcd-backup"),
            ETCD_DATA_DIR: r("var/lib/etcd"),
            NVME_MOUNT_BASE: r("mnt/nvme"),
            NODE_SCRIPTS_DIR: r("usr/local/lib/zadara-eksd"),
            SCRIPTS_DIR: r("usr/local/lib/zadara-eksd"),
            SYSTEMD_DIR: r("etc/systemd/system"),
            CRON_FILE: r("etc/cron.d/zadara-eksd"),
            CA_TRUST_DIR: r("usr/local/share/ca-certificates"),
            SECRETS_RUN_DIR: r("run/zadara-eksd/secrets"),
            CLOUD_INIT_LOG: r("var/log/cloud-init-output.log"),
            // The scripts' own log paths are absolute defaults: one log in the node's root instead.
            LOG_FILE: r("var/log/zadara-eksd.log"),
            ...this.options.nodeEnv,
        };
    }

    /**
     * A new instance: its root, the files of its cloud-config (write_files) and its runcmd (the
     * loader) under bash, as cloud-init would run them. A failed boot does not fail the
     * instance (the cloud does not know); the bootstrap Command finds out.
     */
    async startInstance(instanceId: string, ip: string, slot: string, userDataBase64: string): Promise<RehearsalNode> {
        const root = path.join(this.options.dir, "nodes", `${slot}-${instanceId}`);
        for (const dir of ["root", "tmp", "run", "var/log"]) {
            fs.mkdirSync(path.join(root, dir), { recursive: true });
        }
        const node: RehearsalNode = { instanceId, ip, hostname: `ip-${ip.replace(/\./g, "-")}`, slot, root, alive: true, boot: { code: -1, output: "" } };
        this.nodes.set(ip, node);
        fs.writeFileSync(path.join(this.clusterDir, "roots", ip), root);

        const cloudConfig = YAML.parse(decodeUserData(userDataBase64).replace(/^#cloud-config\n/, "")) as {
            write_files: Array<{ path: string; content: string; permissions: string }>;
            runcmd: string[][];
        };
        for (const file of cloudConfig.write_files) {
            const target = path.join(root, file.path);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, file.content, { mode: parseInt(file.permissions, 8) });
        }
        const outputs: string[] = [];
        let code = 0;
        for (const command of cloudConfig.runcmd) {
            const run = await this.runOnNode(node, rootedCommand(command.join(" "), root), "", { LOADER_ATTEMPTS: "3", LOADER_PAUSE: "0.2" });
            outputs.push(run.stdout, run.stderr);
            code = run.code;
            if (code !== 0) {
                break;
            }
        }
        node.boot = { code, output: outputs.join("").split("\n").slice(-20).join("\n") };
        fs.appendFileSync(path.join(root, "var/log/cloud-init-output.log"), outputs.join(""));
        return node;
    }

    /** Whether the instance's termination protection is on (set through the node tools' aws). */
    terminationProtected(instanceId: string): boolean {
        return fs.existsSync(path.join(this.clusterDir, "protected", instanceId));
    }

    /** Terminates an instance: its processes (etcd) die, its address stops answering. */
    async terminate(instanceId: string): Promise<void> {
        for (const node of this.nodes.values()) {
            if (node.instanceId === instanceId && node.alive) {
                node.alive = false;
                fs.rmSync(path.join(this.clusterDir, "roots", node.ip), { force: true });
                await killEtcdOf(node);
            }
        }
    }

    /** Runs `command` (already rooted) under bash on `node`, stdin given, asynchronously. */
    runOnNode(node: RehearsalNode, command: string, stdin: string, env: Record<string, string> = {}, timeoutMs = 180_000): Promise<CommandRun> {
        const bash = hostToolPath("bash") ?? "/bin/bash";
        return new Promise((resolve) => {
            const child = spawn(bash, ["-c", command], { env: { ...this.nodeEnvironment(node), ...env }, stdio: ["pipe", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
            child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
            const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
            child.on("close", (code) => {
                clearTimeout(timer);
                resolve({ code: code ?? -1, stdout, stderr });
            });
            child.stdin.on("error", () => undefined);
            child.stdin.end(stdin);
        });
    }

    /** Kills every etcd the rehearsal started and stops the bundle server. */
    async shutdown(): Promise<void> {
        for (const node of this.nodes.values()) {
            await killEtcdOf(node);
        }
        await this.stopBastion();
    }
}

export function etcdPidOf(node: RehearsalNode): number | undefined {
    try {
        const pid = Number(fs.readFileSync(path.join(node.root, "run", "rehearse-etcd.pid"), "utf8").trim());
        return pid > 0 ? pid : undefined;
    } catch {
        return undefined;
    }
}

/** The process runs (a zombie, not reaped yet by the machine's init, counts as dead). */
export function processAlive(pid: number): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return false;
    }
}

export async function killEtcdOf(node: RehearsalNode): Promise<void> {
    const pid = etcdPidOf(node);
    if (pid === undefined || !processAlive(pid)) {
        return;
    }
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 50 && processAlive(pid); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}
