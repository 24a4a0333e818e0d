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
    /** TLS clusters: the member's certificate (server, peer and client use, its IP as SAN) and key. */
    cert?: string;
    key?: string;
    process?: ChildProcess;
}

/** A cluster's own CA and a client certificate signed by it (TLS clusters). */
export interface EtcdPki {
    caCert: string;
    caKey: string;
    clientCert: string;
    clientKey: string;
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

function openssl(args: string[], cwd: string): void {
    const result = spawnSync("openssl", args, { cwd, encoding: "utf8" });
    if (result.status !== 0) {
        throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`);
    }
}

/** An EC key and a certificate for `name` signed by the CA in `dir` (SANs: `ip`, and 127.0.0.1: peers dial from the loopback source address, which etcd checks against the peer certificate). */
function signedCertificate(dir: string, name: string, ip: string | undefined, usage: string): { cert: string; key: string } {
    const key = path.join(dir, `${name}.key`);
    const cert = path.join(dir, `${name}.crt`);
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${name}`, "-keyout", key, "-out", `${name}.csr`], dir);
    const ext = [`extendedKeyUsage=${usage}`, ...(ip ? [`subjectAltName=IP:${ip},IP:127.0.0.1`] : [])].join("\n");
    fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
    openssl(
        ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", cert],
        dir,
    );
    return { cert, key };
}

export class EtcdCluster {
    readonly root: string;
    readonly members = new Map<string, EtcdMember>();
    /** Set for TLS clusters (`new EtcdCluster({ tls: true })`): https URLs, client certificates required. */
    readonly pki?: EtcdPki;
    private readonly keys = new Map<string, string>();
    private writes = 0;

    constructor(options: { tls?: boolean } = {}) {
        const reason = etcdMissing();
        if (reason) {
            throw new Error(reason);
        }
        this.root = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-etcd-"));
        liveClusters.add(this);
        if (options.tls) {
            const dir = path.join(this.root, "pki");
            fs.mkdirSync(dir);
            openssl(
                [
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=etcd-ca",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                ],
                dir,
            );
            const client = signedCertificate(dir, "client", undefined, "clientAuth");
            this.pki = { caCert: path.join(dir, "ca.crt"), caKey: path.join(dir, "ca.key"), clientCert: client.cert, clientKey: client.key };
        }
    }

    /** etcdctl's TLS flags for this cluster (none without TLS). */
    tlsFlags(): string[] {
        return this.pki ? [`--cacert=${this.pki.caCert}`, `--cert=${this.pki.clientCert}`, `--key=${this.pki.clientKey}`] : [];
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
        const scheme = this.pki ? "https" : "http";
        const member: EtcdMember = {
            name,
            ip,
            clientUrl: `${scheme}://${ip}:${clientPort}`,
            peerUrl: `${scheme}://${ip}:${peerPort}`,
            dataDir: path.join(this.root, name),
        };
        if (this.pki) {
            const { cert, key } = signedCertificate(path.join(this.root, "pki"), name, ip, "serverAuth,clientAuth");
            member.cert = cert;
            member.key = key;
        }
        this.members.set(name, member);
        return member;
    }

    /** Starts an allocated member; `initialCluster` is `name=peerUrl,...`; `extraArgs` e.g. --force-new-cluster. */
    startMember(name: string, initialCluster: string, state: "new" | "existing", extraArgs: string[] = []): EtcdMember {
        const member = this.member(name);
        const log = fs.openSync(`${member.dataDir}.log`, "a");
        const tls =
            this.pki && member.cert && member.key
                ? [
                      ...["--cert-file", member.cert, "--key-file", member.key, "--trusted-ca-file", this.pki.caCert, "--client-cert-auth"],
                      ...["--peer-cert-file", member.cert, "--peer-key-file", member.key, "--peer-trusted-ca-file", this.pki.caCert, "--peer-client-cert-auth"],
                  ]
                : [];
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
                ...tls,
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
        return spawnSync(hostToolPath("etcdctl")!, [`--endpoints=${endpoints}`, "--dial-timeout=2s", "--command-timeout=5s", ...this.tlsFlags(), ...args], {
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
