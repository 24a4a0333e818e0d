// Benchmark (not a test): offline plan time and memory, plan scaling with node groups, boot
// script paths with instant stubs, fixed sleeps left in scripts, real-etcd rolls, the destroy
// cleanup on moto and the roll budgets. Prints a table and writes bench.json.
//
//   npm run bench [-- --runs 5] [--etcd-runs 1]
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runBootPaths } from "../tests/helpers/boot-paths";
import { benchEtcd } from "./bench/etcd";
import { benchRolls } from "./bench/rolls";
import { benchCleanup } from "./bench/cleanup";
import { REPO_ROOT } from "./stack-config";
import { BENCH_FIGURES_FILE, BenchFigures } from "./bench-figures";

interface PlanSample {
    wallMs: number;
    maxRssKb: number;
    resources: number;
}

const USAGE = `usage: npm run bench [-- --runs N] [--etcd-runs M] [--record]
  Prints a table and writes bench.json: offline plan time and memory (median of N runs, default 5),
  boot-script paths, fixed sleeps, the real-etcd roll of 3 members through the nodes' scripts
  against bare etcdctl (median of M pairs, default 1; again beside two busy loops), the destroy cleanup on moto, roll budgets.
  --record also writes docs/bench-figures.json, the figures the docs quote (then npm run docs).`;
if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(USAGE);
    process.exit(0);
}

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const etcdRunsArg = process.argv.indexOf("--etcd-runs");
const ETCD_RUNS = etcdRunsArg > 0 ? Number(process.argv[etcdRunsArg + 1]) : 1;
for (const [flag, value] of [
    ["--runs", RUNS],
    ["--etcd-runs", ETCD_RUNS],
] as const) {
    if (!Number.isInteger(value) || value < 1) {
        console.error(`${flag} must be a whole number of at least 1, got ${String(value)}\n${USAGE}`);
        process.exit(2);
    }
}

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function planOnce(args: string[]): PlanSample {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "tools", "plan.ts"), "--quiet", "--stats", ...args], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: { ...process.env, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
    });
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0) {
        throw new Error(`plan ${args.join(" ")} failed:\n${result.stderr}`);
    }
    // The stats are the last line of stderr (the whole text when it has one line).
    const stderr = result.stderr.trim();
    const stats = JSON.parse(stderr.slice(stderr.lastIndexOf("\n") + 1)) as { resources: number; maxRssKb: number };
    return { wallMs, maxRssKb: stats.maxRssKb, resources: stats.resources };
}

function planMedian(args: string[], runs: number): PlanSample {
    const samples = Array.from({ length: runs }, () => planOnce(args));
    return {
        wallMs: median(samples.map((s) => s.wallMs)),
        maxRssKb: median(samples.map((s) => s.maxRssKb)),
        resources: samples[0].resources,
    };
}

function nodeGroupsConfig(count: number): string {
    const groups: Record<string, unknown> = {};
    for (let i = 1; i <= count; i++) {
        groups[`group-${i}`] = { instanceType: "z8.large", minSize: 1, desiredSize: 1, maxSize: 3 };
    }
    return `nodeGroups=${JSON.stringify(groups)}`;
}

/** Literal `sleep N` (N ≥ 1 second) in shipped scripts: fixed waits the design forbids. */
function fixedSleepSeconds(): { seconds: number; places: string[] } {
    const places: string[] = [];
    let seconds = 0;
    for (const folder of ["cluster/scripts", "addons/scripts"]) {
        const dir = path.join(REPO_ROOT, folder);
        if (!fs.existsSync(dir)) {
            continue;
        }
        for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".sh"))) {
            fs.readFileSync(path.join(dir, file), "utf8")
                .split("\n")
                .forEach((line, index) => {
                    const match = /^\s*sleep\s+(\d+(\.\d+)?)\s*(#.*)?$/.exec(line);
                    if (match && Number(match[1]) >= 1) {
                        seconds += Number(match[1]);
                        places.push(`${folder}/${file}:${index + 1}`);
                    }
                });
        }
    }
    return { seconds, places };
}

/** Runs `work` while `count` bare shell loops keep the cores busy; stops them after. */
async function withBusyLoops<T>(count: number, work: () => Promise<T>): Promise<T> {
    const loops = Array.from({ length: count }, () => spawn("bash", ["-c", "while :; do :; done"], { stdio: "ignore" }));
    try {
        return await work();
    } finally {
        for (const loop of loops) {
            loop.kill("SIGKILL");
        }
    }
}

async function main(): Promise<void> {
    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${os.platform()} ${os.release()}`;
    console.log(`benchmark on ${machine} (median of ${RUNS})`);

    const dev = planMedian(["--stack", "dev"], RUNS);
    const prod = planMedian(["--stack", "prod"], RUNS);
    const groupRuns = Math.max(1, Math.min(RUNS, 3));
    const groups = [1, 10, 50].map((count) => ({ count, ...planMedian(["--stack", "dev", "--config", nodeGroupsConfig(count)], groupRuns) }));
    const boot = runBootPaths();
    const sleeps = fixedSleepSeconds();
    const etcd = await benchEtcd(ETCD_RUNS);
    // The same roll beside two busy loops (one per core here): a loaded CI machine.
    const etcdBusy = await withBusyLoops(2, () => benchEtcd(ETCD_RUNS));

    const cleanup = await benchCleanup();

    const rows: Array<[string, string, string]> = [
        ["plan dev: wall time", `${(dev.wallMs / 1000).toFixed(2)} s`, `${dev.resources} resources`],
        ["plan dev: peak RSS", `${(dev.maxRssKb / 1024).toFixed(0)} MiB`, ""],
        ["plan prod: wall time", `${(prod.wallMs / 1000).toFixed(2)} s`, `${prod.resources} resources`],
        ["plan prod: peak RSS", `${(prod.maxRssKb / 1024).toFixed(0)} MiB`, ""],
        ...groups.map(
            (g) =>
                [
                    `plan with ${g.count} worker group(s)`,
                    `${(g.wallMs / 1000).toFixed(2)} s`,
                    `${g.resources} resources, ${(g.maxRssKb / 1024).toFixed(0)} MiB`,
                ] as [string, string, string],
        ),
        ["plan time ratio 50 / 1 groups", (groups[2].wallMs / groups[0].wallMs).toFixed(2), "goal: well under 50 (linear in resources, not worse)"],
        ...boot.map(
            (b) =>
                [`boot path: ${b.path}`, `${b.elapsedMs.toFixed(0)} ms`, b.elapsedMs < 1000 ? "goal < 1 s: met" : "goal < 1 s: MISSED"] as [
                    string,
                    string,
                    string,
                ],
        ),
        ["fixed sleep in scripts", `${sleeps.seconds} s`, sleeps.places.join(", ") || "goal 0: met"],
        ...Object.entries(etcd).map(([name, value]) => [name, String(value), "real etcd 3.4 on loopback"] as [string, string, string]),
        ...Object.entries(etcdBusy).map(
            ([name, value]) =>
                [`${name}, two busy loops beside it`, String(value), "real etcd 3.4 on loopback; ratio target <= 2 under load"] as [string, string, string],
        ),
        [
            "cleanup on the moto seed (API up, controllers gone, defaults)",
            `${cleanup.cleanupSeconds} s`,
            `${cleanup.cleanupApiCalls} API calls, ${cleanup.cleanupLeaks} leaks, ${cleanup.cleanupCollateral} collateral; goal ${cleanup.cleanupGoal}`,
        ],
    ];
    const rolls = await benchRolls();
    rows.push(...Object.entries(rolls).map(([name, value]) => [name, String(value), ""] as [string, string, string]));
    const width = Math.max(...rows.map((r) => r[0].length));
    for (const [name, value, note] of rows) {
        console.log(`${name.padEnd(width)}  ${value.padStart(10)}  ${note}`);
    }

    const report = {
        machine,
        runs: RUNS,
        plan: { dev, prod },
        nodeGroupScaling: groups,
        nodeGroupScalingRatio50to1: groups[2].wallMs / groups[0].wallMs,
        bootPaths: boot,
        fixedSleepSeconds: sleeps.seconds,
        fixedSleepPlaces: sleeps.places,
        etcd,
        etcdBusyLoops: etcdBusy,
        rolls,
        cleanup,
    };
    fs.writeFileSync(path.join(REPO_ROOT, "bench.json"), `${JSON.stringify(report, null, 2)}\n`);
    console.log("\nwrote bench.json");
    if (process.argv.includes("--record")) {
        const figures: BenchFigures = { machine, runs: RUNS, rows: rows.map(([name, value, note]) => ({ name, value, note })) };
        fs.writeFileSync(BENCH_FIGURES_FILE, `${JSON.stringify(figures, null, 2)}\n`);
        console.log(`wrote ${path.relative(process.cwd(), BENCH_FIGURES_FILE)}: run npm run docs to quote it`);
    }
}

// --help was answered (and the process ended) at the top.
main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
});
