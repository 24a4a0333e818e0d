// Benchmark (not a test): rolling a real 3-member etcd (replace all three, one at a time) with
// the project's etcd-membership.sh beside the bare sequence (raw etcdctl: member add, start,
// member remove, stop), and the longest write outage a writer loop sees during each roll.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { EtcdCluster, etcdMissing } from "../../tests/helpers/etcd-cluster";
import { hostToolPath, removeRunRoot, runStubbedBash } from "../../tests/helpers/stubbed-bash";
import { REPO_ROOT } from "../stack-config";

const SCRIPT = path.join(REPO_ROOT, "cluster", "scripts", "etcd-membership.sh");
const MAX_WRITES = 20_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A writer process: one put after the other (bounded count) through the endpoints in `file`. */
class Writer {
    private readonly stopFile: string;
    private readonly done: Promise<string>;

    constructor(endpointsFile: string) {
        this.stopFile = `${endpointsFile}.stop`;
        const loop = [
            `for ((i = 0; i < ${MAX_WRITES}; i++)); do`,
            `  [[ -f "${this.stopFile}" ]] && break`,
            `  if ETCDCTL_API=3 "${hostToolPath("etcdctl")}" --endpoints="$(cat "${endpointsFile}")" --dial-timeout=1s --command-timeout=1s put /bench/w "$i" >/dev/null 2>&1;`,
            '  then echo "ok ${EPOCHREALTIME}"; else echo "fail ${EPOCHREALTIME}"; fi',
            "done",
        ].join("\n");
        const child = spawn("bash", ["-c", loop], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        child.stdout.on("data", (chunk) => {
            out += chunk;
        });
        this.done = new Promise((resolve) => child.on("exit", () => resolve(out)));
    }

    /** Stops the loop; returns writes ok/failed and the longest gap between two good writes. */
    async stop(): Promise<{ ok: number; failed: number; longestOutageMs: number }> {
        fs.writeFileSync(this.stopFile, "");
        const lines = (await this.done).trim().split("\n").filter(Boolean);
        let ok = 0,
            failed = 0,
            last: number | undefined,
            longest = 0;
        for (const line of lines) {
            const [result, stamp] = line.split(" ");
            const ms = Number(stamp) * 1000;
            if (result === "ok") {
                ok++;
                if (last !== undefined) {
                    longest = Math.max(longest, ms - last);
                }
                last = ms;
            } else {
                failed++;
            }
        }
        return { ok, failed, longestOutageMs: Math.round(longest) };
    }
}

function setEndpoints(file: string, cluster: EtcdCluster, except?: string): void {
    fs.writeFileSync(
        file,
        cluster
            .running()
            .filter((m) => m.name !== except)
            .map((m) => m.clientUrl)
            .join(","),
    );
}

function script(cluster: EtcdCluster, args: string[], local?: string): void {
    const run = runStubbedBash(SCRIPT, {
        args,
        hostTools: ["etcdctl"],
        timeoutMs: 180_000,
        env: { ETCDCTL_API: "3", ETCD_ENDPOINTS: local ? cluster.member(local).clientUrl : cluster.endpoints(), POLL_INTERVAL: "0.2" },
        rootEnv: { KUBERNETES_ETC: "etc/kubernetes", LOG_FILE: "membership.log" },
    });
    removeRunRoot(run);
    if (run.code !== 0) {
        throw new Error(`etcd-membership.sh ${args.join(" ")} failed:\n${run.stderr}`);
    }
}

/** Retries a raw etcdctl command (etcd answers "unhealthy cluster" for 5 s after a start). */
async function etcdctlRetry(cluster: EtcdCluster, args: string[], endpoints: string): Promise<string> {
    for (let attempt = 0; attempt < 300; attempt++) {
        const result = cluster.etcdctl(args, endpoints);
        if (result.status === 0) {
            return result.stdout;
        }
        await pause(200);
    }
    throw new Error(`etcdctl ${args.join(" ")} kept failing`);
}

async function roll(kind: "script" | "bare"): Promise<{ ms: number; writes: { ok: number; failed: number; longestOutageMs: number } }> {
    const cluster = new EtcdCluster();
    const endpointsFile = path.join(cluster.root, "endpoints");
    try {
        await cluster.startNew(["old-1", "old-2", "old-3"]);
        setEndpoints(endpointsFile, cluster);
        const writer = new Writer(endpointsFile);
        const started = process.hrtime.bigint();
        for (const index of [1, 2, 3]) {
            const old = `old-${index}`,
                fresh = `new-${index}`;
            const member = await cluster.allocate(fresh);
            const peers = cluster
                .running()
                .map((m) => m.clientUrl)
                .join(",");
            if (kind === "script") {
                script(cluster, ["add", fresh, member.peerUrl]);
            } else {
                await etcdctlRetry(cluster, ["member", "add", fresh, `--peer-urls=${member.peerUrl}`], peers);
            }
            const initial = cluster
                .running()
                .map((m) => `${m.name}=${m.peerUrl}`)
                .concat(`${fresh}=${member.peerUrl}`)
                .join(",");
            cluster.startMember(fresh, initial, "existing");
            if (kind === "script") {
                script(cluster, ["wait-healthy", fresh, "120"]);
            } else {
                await etcdctlRetry(cluster, ["endpoint", "health"], member.clientUrl);
            }
            setEndpoints(endpointsFile, cluster, old);
            if (kind === "script") {
                script(cluster, ["leave", old], old);
            } else {
                const oldMember = cluster.memberList().find((m) => m.name === old);
                if (oldMember === undefined) {
                    throw new Error(`bench etcd: ${old} is missing from etcdctl member list, so it cannot be removed (it was started above)`);
                }
                const id = oldMember.id;
                await etcdctlRetry(
                    cluster,
                    ["member", "remove", id],
                    cluster
                        .running()
                        .filter((m) => m.name !== old)
                        .map((m) => m.clientUrl)
                        .join(","),
                );
            }
            await cluster.stop(old);
        }
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const writes = await writer.stop();
        await cluster.writeAndCheck(`after ${kind} roll`);
        return { ms, writes };
    } finally {
        await cluster.cleanup();
    }
}

export async function benchEtcd(): Promise<Record<string, number | string>> {
    const missing = etcdMissing();
    if (missing) {
        return { "etcd roll": `skipped: ${missing}` };
    }
    const project = await roll("script");
    const bare = await roll("bare");
    return {
        "etcd roll of 3 members, etcd-membership.sh (s)": Number((project.ms / 1000).toFixed(1)),
        "etcd roll of 3 members, bare etcdctl (s)": Number((bare.ms / 1000).toFixed(1)),
        "longest write outage, etcd-membership.sh roll (ms)": project.writes.longestOutageMs,
        "longest write outage, bare roll (ms)": bare.writes.longestOutageMs,
        "writes ok/failed during etcd-membership.sh roll": `${project.writes.ok}/${project.writes.failed}`,
        "writes ok/failed during bare roll": `${bare.writes.ok}/${bare.writes.failed}`,
    };
}

if (require.main === module) {
    benchEtcd().then(
        (result) => console.log(result),
        (error: unknown) => {
            console.error(error);
            process.exitCode = 1;
        },
    );
}
