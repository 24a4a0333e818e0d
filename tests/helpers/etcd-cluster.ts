// Real etcd members on loopback addresses, for tests and benchmarks of the membership script.
// Each member gets its own 127.0.0.x address (so scripts that tell members apart by IP work),
// free ports, and its own data directory; every process is killed on cleanup and on exit.
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { hostToolPath } from "./stubbed-bash";

export interface EtcdMember {
    name: string;
    ip: string;
    clientUrl: string;
    peerUrl: string;
    dataDir: string;
    process?: ChildProcess;
}

/** Why real etcd cannot run here (tools missing), or undefined when it can. */
export function etcdMissing(): string | undefined {
    const missing = ["etcd", "etcdctl"].filter((tool) => !hostToolPath(tool));
    if (missing.length === 0) {
        return undefined;
    }
    return `${missing.join(" and ")} not installed: these tests start real etcd members; ` + "install Debian's etcd-server and etcd-client (.ci/run does it)";
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port nobody listens on at `ip` right now (the kernel picks it). */
function freePort(ip: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, ip, () => {
            const address = server.address() as net.AddressInfo;
            server.close(() => resolve(address.port));
        });
    });
}

const liveClusters = new Set<EtcdCluster>();
// Last resort when a test process ends without cleanup (failure, ctrl-c): no stray etcd.
process.once("exit", () => liveClusters.forEach((cluster) => cluster.killAllSync()));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
        liveClusters.forEach((cluster) => cluster.killAllSync());
        process.exit(130);
    });
}

let nextAddress = 10 + (process.pid % 200);

export class EtcdCluster {
    readonly root: string;
    readonly members = new Map<string, EtcdMember>();
    private readonly keys = new Map<string, string>();
    private writes = 0;

    constructor() {
        const reason = etcdMissing();
        if (reason) {
            throw new Error(reason);
        }
        this.root = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-etcd-"));
        liveClusters.add(this);
    }

    /** Reserves an address, ports and a data directory for a member that is not started yet. */
    async allocate(name: string): Promise<EtcdMember> {
        // 127.0.0.0/8 is all loopback on Linux: one address per member, reused after ~240.
        const ip = `127.0.0.${nextAddress}`;
        nextAddress = nextAddress >= 250 ? 10 : nextAddress + 1;
        const clientPort = await freePort(ip);
        let peerPort = await freePort(ip);
        while (peerPort === clientPort) {
            peerPort = await freePort(ip);
        }
        const member: EtcdMember = {
            name,
            ip,
            clientUrl: `http://${ip}:${clientPort}`,
            peerUrl: `http://${ip}:${peerPort}`,
            dataDir: path.join(this.root, name),
        };
        this.members.set(name, member);
        return member;
    }

    /** Starts an allocated member; `initialCluster` is `name=peerUrl,...`; `extraArgs` e.g. --force-new-cluster. */
    startMember(name: string, initialCluster: string, state: "new" | "existing", extraArgs: string[] = []): EtcdMember {
        const member = this.member(name);
        const log = fs.openSync(`${member.dataDir}.log`, "a");
        member.process = spawn(
            hostToolPath("etcd")!,
            [
                "--name",
                name,
                "--data-dir",
                member.dataDir,
                "--listen-client-urls",
                member.clientUrl,
                "--advertise-client-urls",
                member.clientUrl,
                "--listen-peer-urls",
                member.peerUrl,
                "--initial-advertise-peer-urls",
                member.peerUrl,
                "--initial-cluster",
                initialCluster,
                "--initial-cluster-state",
                state,
                "--initial-cluster-token",
                path.basename(this.root),
                // Small machine: fast elections, small snapshots, no metrics/profiling extras.
                "--heartbeat-interval",
                "50",
                "--election-timeout",
                "500",
                "--snapshot-count",
                "1000",
                "--quota-backend-bytes",
                String(64 * 2 ** 20),
                "--logger",
                "zap",
                "--log-level",
                "warn",
                ...extraArgs,
            ],
            { stdio: ["ignore", log, log] },
        );
        fs.closeSync(log);
        member.process.once("exit", () => {
            member.process = undefined;
        });
        return member;
    }

    /** Allocates and starts a new cluster of the named members; waits until it takes writes. */
    async startNew(names: string[]): Promise<void> {
        const allocated: EtcdMember[] = [];
        for (const name of names) {
            allocated.push(await this.allocate(name));
        }
        const initial = allocated.map((m) => `${m.name}=${m.peerUrl}`).join(",");
        for (const member of allocated) {
            this.startMember(member.name, initial, "new");
        }
        await this.writeAndCheck("started");
    }

    member(name: string): EtcdMember {
        const member = this.members.get(name);
        if (!member) {
            throw new Error(`no etcd member ${name} in this test cluster`);
        }
        return member;
    }

    running(): EtcdMember[] {
        return [...this.members.values()].filter((m) => m.process);
    }

    /** Client URLs of the running members, comma-separated (for ETCD_ENDPOINTS). */
    endpoints(): string {
        return this.running()
            .map((m) => m.clientUrl)
            .join(",");
    }

    /** SIGKILL (a crash) or SIGTERM (a clean stop); resolves once the process is gone. */
    async stop(name: string, signal: "SIGKILL" | "SIGTERM" = "SIGTERM"): Promise<void> {
        const child = this.member(name).process;
        if (!child) {
            return;
        }
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill(signal);
        await exited;
    }

    etcdctl(args: string[], endpoints = this.endpoints()): SpawnSyncReturns<string> {
        return spawnSync(hostToolPath("etcdctl")!, [`--endpoints=${endpoints}`, "--dial-timeout=2s", "--command-timeout=5s", ...args], {
            encoding: "utf8",
            env: { ...process.env, ETCDCTL_API: "3" },
            timeout: 30_000,
        });
    }

    /** `member list` lines as objects (simple format). */
    memberList(): Array<{ id: string; status: string; name: string; learner: boolean }> {
        const result = this.etcdctl(["member", "list"]);
        if (result.status !== 0) {
            throw new Error(`etcdctl member list failed: ${result.stderr}`);
        }
        return result.stdout
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((line) => {
                const [id, status, name, , , learner] = line.split(", ");
                return { id, status, name, learner: learner === "true" };
            });
    }

    /** Name of the current leader, as the running members report it. */
    leader(): string {
        const result = this.etcdctl(["endpoint", "status", "-w", "json"]);
        const match = /"leader":(\d+)/.exec(result.stdout);
        if (!match) {
            throw new Error(`no leader reported: ${result.stdout}${result.stderr}`);
        }
        const id = BigInt(match[1]).toString(16);
        const leader = this.memberList().find((m) => m.id === id);
        if (!leader) {
            throw new Error(`leader ${id} is not in the member list`);
        }
        return leader.name;
    }

    /**
     * Writes a new key (retrying a bounded number of times across a leader election), then
     * reads back every key written so far. Throws with etcdctl's words when either fails.
     */
    async writeAndCheck(step: string, attempts = 60): Promise<void> {
        const key = `/zadara-test/${String(++this.writes).padStart(4, "0")}`;
        const value = step;
        let last = "";
        for (let attempt = 0; attempt < attempts; attempt++) {
            const put = this.etcdctl(["put", key, value]);
            if (put.status === 0) {
                this.keys.set(key, value);
                break;
            }
            last = put.stderr;
            await pause(200);
        }
        if (!this.keys.has(key)) {
            throw new Error(`after "${step}": write of ${key} failed ${attempts} times: ${last}`);
        }
        const get = this.etcdctl(["get", "--prefix", "/zadara-test/"]);
        if (get.status !== 0) {
            throw new Error(`after "${step}": read failed: ${get.stderr}`);
        }
        const lines = get.stdout.split("\n");
        const found = new Map<string, string>();
        for (let i = 0; i + 1 < lines.length; i += 2) {
            found.set(lines[i], lines[i + 1]);
        }
        for (const [k, v] of this.keys) {
            if (found.get(k) !== v) {
                throw new Error(`after "${step}": key ${k} reads ${JSON.stringify(found.get(k))}, expected ${JSON.stringify(v)}`);
            }
        }
    }

    get keyCount(): number {
        return this.keys.size;
    }

    /** Kills every member synchronously (exit hook) without waiting. */
    killAllSync(): void {
        for (const member of this.members.values()) {
            try {
                member.process?.kill("SIGKILL");
            } catch {
                // already gone
            }
        }
    }

    /** Kills every member, waits for them to exit, removes the data directories. */
    async cleanup(): Promise<void> {
        await Promise.all([...this.members.keys()].map((name) => this.stop(name, "SIGKILL")));
        liveClusters.delete(this);
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}
