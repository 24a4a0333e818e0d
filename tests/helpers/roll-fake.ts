// A fake worker group for the roll scripts: an auto scaling group and its nodes kept in files
// (one directory shared by the `aws` and `kubectl` stubs, and by consecutive runs, so a run
// after an interruption sees what the first one left). The stubs append what happened to
// `events`; the tests assert on that sequence. No clock: new nodes turn Ready after counted polls.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { scriptForStdin } from "../../cluster/stdin-scripts";
import { scriptPath } from "./boot-paths";
import { runStubbedBash, StubbedRun } from "./stubbed-bash";

const STUBS_DIR = path.resolve(__dirname, "..", "fixtures", "roll-stubs");
export const AWS_STUB = fs.readFileSync(path.join(STUBS_DIR, "aws.sh"), "utf8");
export const KUBECTL_STUB = fs.readFileSync(path.join(STUBS_DIR, "kubectl.sh"), "utf8");

export const ASG = "dev-workers";
export const OLD_LC = "dev-workers-100g-old";
export const NEW_LC = "dev-workers-100g-new";
export const FINGERPRINT = "f1e2d3c4b5a6";

export interface FakeGroup {
    dir: string;
    events(): string[];
    asg(): { desired: number; min: number; max: number; lc: string };
    /** Instances not terminated: id and launch configuration. */
    live(): Array<{ id: string; lc: string }>;
    write(relative: string, content: string): void;
    remove(): void;
}

/** A group of `count` Ready instances i-1..i-count on `lc`, sizes desired=count. */
export function fakeGroup(options: { count: number; lc?: string; min?: number; max?: number; currentLc?: string }): FakeGroup {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-roll-"));
    const lc = options.lc ?? OLD_LC;
    const ids = Array.from({ length: options.count }, (_, i) => `i-${i + 1}`);
    fs.writeFileSync(path.join(dir, "asg"), `${options.count} ${options.min ?? 1} ${options.max ?? options.count + 1} ${options.currentLc ?? NEW_LC}\n`);
    fs.writeFileSync(path.join(dir, "instances"), ids.map((id) => `${id} ${lc} InService\n`).join(""));
    fs.writeFileSync(path.join(dir, "events"), "");
    for (const id of ids) {
        fs.writeFileSync(path.join(dir, `ready-at-start-${id}`), "");
        fs.writeFileSync(path.join(dir, `seen-ready-${id}`), "");
    }
    const read = (name: string) => fs.readFileSync(path.join(dir, name), "utf8");
    return {
        dir,
        events: () =>
            read("events")
                .split("\n")
                .filter((line) => line.length > 0),
        asg: () => {
            const [desired, min, max, current] = read("asg").trim().split(" ");
            return { desired: Number(desired), min: Number(min), max: Number(max), lc: current };
        },
        live: () =>
            read("instances")
                .split("\n")
                .filter((line) => line && !line.endsWith(" Terminated"))
                .map((line) => {
                    const [id, instanceLc] = line.split(" ");
                    return { id, lc: instanceLc };
                }),
        write: (relative, content) => {
            fs.mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
            fs.writeFileSync(path.join(dir, relative), content);
        },
        remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}

export interface RollRunOptions {
    env?: Record<string, string>;
    /** "file": cluster/scripts/roll-node-group.sh; "stdin": the joined script on `bash -s`. */
    mode?: "file" | "stdin";
}

export function runRoll(group: FakeGroup, options: RollRunOptions = {}): StubbedRun {
    const env = {
        FAKE: group.dir,
        ASG_NAME: ASG,
        ROLL_FINGERPRINT: FINGERPRINT,
        CLOUD_API_URL: "https://cloud.example.com",
        POLL_INTERVAL: "0.01",
        NODE_READY_TIMEOUT: "60",
        TERMINATE_TIMEOUT: "60",
        DRAIN_TIMEOUT: "60",
        ...options.env,
    };
    const common = {
        stubs: { aws: AWS_STUB, kubectl: KUBECTL_STUB },
        env,
        rootEnv: { LOG_FILE: "var/log/zadara-eksd-rolls.log", ZADARA_ETC: "etc/kubernetes/zadara", KUBERNETES_ETC: "etc/kubernetes" },
        timeoutMs: 60_000,
    };
    if (options.mode === "stdin") {
        return runStubbedBash("-s", { ...common, stdin: scriptForStdin(["drain-node.sh", "roll-node-group.sh"]) });
    }
    return runStubbedBash(scriptPath("roll-node-group.sh"), common);
}

export function runDrain(group: FakeGroup, args: string[]): StubbedRun {
    return runStubbedBash(scriptPath("drain-node.sh"), {
        stubs: { kubectl: KUBECTL_STUB },
        env: { FAKE: group.dir, POLL_INTERVAL: "0.01" },
        rootEnv: { LOG_FILE: "var/log/zadara-eksd-rolls.log", KUBERNETES_ETC: "etc/kubernetes" },
        args,
    });
}
