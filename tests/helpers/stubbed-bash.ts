// Runs a real shell script under bash with stub commands first on PATH, so boot and
// operations scripts are exercised end to end without a cloud, a kubelet or root.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface StubbedRun {
    code: number;
    stdout: string;
    stderr: string;
    /** One line per stub call: `<command> <args...>`, in call order. */
    calls: string[];
    /**
     * Temporary root given to the script as $TEST_ROOT (for fake /etc, /var, ...). While the
     * script runs, `$TEST_ROOT/.script.pid` holds its PID, so a stub can signal it at a known
     * point of the script (an event, unlike `termAfterSeconds`, which a loaded machine skews).
     */
    root: string;
    elapsedMs: number;
}

export interface StubbedRunOptions {
    /** Stub bodies by command name; each is a bash script body that receives "$@". */
    stubs?: Record<string, string>;
    env?: Record<string, string>;
    /** Environment variables set to paths under the temporary root (name -> relative path). */
    rootEnv?: Record<string, string>;
    /** Files to create under the temporary root before the run (relative path -> content). */
    files?: Record<string, string | Buffer>;
    args?: string[];
    stdin?: string;
    timeoutMs?: number;
    /** Sends SIGTERM to the script after this many seconds (coreutils timeout), pipes kept open. */
    termAfterSeconds?: number;
    /**
     * Real host tools the script may use beyond BASE_TOOLS (e.g. "etcdctl", "openssl").
     * Anything not listed here, in BASE_TOOLS or in `stubs` is absent, whatever the host has.
     */
    hostTools?: string[];
}

/**
 * The only real commands a script sees by default: shell and text basics. Cluster tools
 * (kubeadm, kubectl, etcdctl, aws, crictl, curl, systemctl, ...) are never taken from the
 * host: a test stubs them, or names them in `hostTools` when it starts the real thing.
 */
export const BASE_TOOLS = [
    "bash",
    "sh",
    "env",
    "cat",
    "cp",
    "mv",
    "rm",
    "rmdir",
    "mkdir",
    "ln",
    "ls",
    "touch",
    "chmod",
    "chown",
    "install",
    "stat",
    "readlink",
    "realpath",
    "dirname",
    "basename",
    "mktemp",
    "date",
    "sleep",
    "timeout",
    "head",
    "tail",
    "wc",
    "sort",
    "uniq",
    "tr",
    "cut",
    "tee",
    "grep",
    "sed",
    "awk",
    "printf",
    "echo",
    "test",
    "seq",
    "xargs",
    "find",
    "flock",
    "base64",
    "sha256sum",
    "gzip",
    "gunzip",
    "zcat",
    "tar",
    "od",
    "hostname",
    "true",
    "false",
    "id",
    "kill",
    "ps",
    "diff",
    "cmp",
    "comm",
    "paste",
    "fold",
    "nproc",
    "expr",
    "mawk",
    "gawk",
    "which",
    "df",
    "du",
    "sync",
];

const HOST_TOOL_DIRS = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/** Absolute path of a host tool, or undefined when the host lacks it. */
export function hostToolPath(name: string): string | undefined {
    for (const dir of HOST_TOOL_DIRS) {
        const candidate = path.join(dir, name);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            return candidate;
        } catch {
            // not in this directory
        }
    }
    return undefined;
}

/** A directory of links to exactly the named host tools (those the host has). */
export function linkHostTools(dir: string, names: string[]): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const name of new Set(names)) {
        const target = hostToolPath(name);
        if (target && !fs.existsSync(path.join(dir, name))) {
            fs.symlinkSync(target, path.join(dir, name));
        }
    }
}

/** Relative to the run's root: the PID of the running script (see StubbedRun.root). */
export const SCRIPT_PID_FILE = ".script.pid";

/** A stub that records its call and exits 0 with no output. */
export const NOOP_STUB = "exit 0";

// Roots not passed to removeRunRoot (callers that keep them to the end of the file) go on exit.
const liveRoots = new Set<string>();
process.once("exit", () => liveRoots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

interface PreparedRun {
    root: string;
    callLog: string;
    command: string[];
    env: Record<string, string>;
}

/** The run's root, stubs, tools and files; the command line and environment of the script. */
function prepareRun(scriptPath: string, options: StubbedRunOptions): PreparedRun {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-sh-"));
    liveRoots.add(root);
    const stubDir = path.join(root, ".stubs");
    const toolDir = path.join(root, ".tools");
    // The script's mktemp files land in the root (loader.sh execs past its cleanup trap).
    const tmpDir = path.join(root, ".tmp");
    const callLog = path.join(root, ".calls.log");
    fs.mkdirSync(stubDir, { recursive: true });
    fs.mkdirSync(tmpDir);
    fs.writeFileSync(callLog, "");

    for (const [name, body] of Object.entries(options.stubs ?? {})) {
        const stub = ["#!/usr/bin/env bash", `printf '%s\\n' "${name} $*" >> "${callLog}"`, body, ""].join("\n");
        fs.writeFileSync(path.join(stubDir, name), stub, { mode: 0o755 });
    }
    linkHostTools(toolDir, [...BASE_TOOLS, ...(options.hostTools ?? [])]);
    for (const [relative, content] of Object.entries(options.files ?? {})) {
        const target = path.join(root, relative);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, content);
    }

    const rootEnv: Record<string, string> = {};
    for (const [name, relative] of Object.entries(options.rootEnv ?? {})) {
        rootEnv[name] = path.join(root, relative);
    }

    // The launcher records its PID and execs the script under it (same PID) for SCRIPT_PID_FILE.
    const launcher = 'printf "%s" "$$" > "$1"; shift; exec "$@"';
    const bash = hostToolPath("bash") ?? "bash";
    const command = [bash, "-c", launcher, "launcher", path.join(root, SCRIPT_PID_FILE), bash, scriptPath, ...(options.args ?? [])];
    if (options.termAfterSeconds !== undefined) {
        command.unshift(hostToolPath("timeout") ?? "timeout", "-s", "TERM", String(options.termAfterSeconds));
    }
    command[0] = hostToolPath(command[0]) ?? command[0];
    const env = {
        PATH: `${stubDir}:${toolDir}`,
        HOME: root,
        TEST_ROOT: root,
        TMPDIR: tmpDir,
        LANG: "C.UTF-8",
        ...rootEnv,
        ...options.env,
    };
    return { root, callLog, command, env };
}

function finishRun(prepared: PreparedRun, code: number | null, stdout: string, stderr: string, started: bigint): StubbedRun {
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const calls = fs
        .readFileSync(prepared.callLog, "utf8")
        .split("\n")
        .filter((line) => line.length > 0);
    return { code: code ?? -1, stdout, stderr, calls, root: prepared.root, elapsedMs };
}

export function runStubbedBash(scriptPath: string, options: StubbedRunOptions = {}): StubbedRun {
    const prepared = prepareRun(scriptPath, options);
    const started = process.hrtime.bigint();
    const result = spawnSync(prepared.command[0], prepared.command.slice(1), {
        encoding: "utf8",
        input: options.stdin ?? "",
        timeout: options.timeoutMs ?? 30_000,
        env: prepared.env,
    });
    return finishRun(prepared, result.status, result.stdout ?? "", result.stderr ?? "", started);
}

/**
 * runStubbedBash without blocking the event loop: the test acts while the script runs (e.g.
 * plays the kubelet that restarts a static pod when the script changes its manifest).
 * `root` is known before the script ends, through `onStart`.
 */
export function runStubbedBashAsync(scriptPath: string, options: StubbedRunOptions & { onStart?: (root: string) => void } = {}): Promise<StubbedRun> {
    const prepared = prepareRun(scriptPath, options);
    options.onStart?.(prepared.root);
    const started = process.hrtime.bigint();
    return new Promise((resolve) => {
        const child = spawn(prepared.command[0], prepared.command.slice(1), { env: prepared.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "",
            stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
        const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve(finishRun(prepared, code, stdout, stderr, started));
        });
        child.stdin.end(options.stdin ?? "");
    });
}

/** Deletes the temporary root of a finished run. */
export function removeRunRoot(run: StubbedRun): void {
    fs.rmSync(run.root, { recursive: true, force: true });
    liveRoots.delete(run.root);
}
