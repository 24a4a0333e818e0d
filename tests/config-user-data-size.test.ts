// Worker user data over the launch configuration's limit is a config error, found before any
// resource is registered: sized by the code that renders it, naming the group, the keys that add
// the most, the size, the limit and how to shorten.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";

import { USER_DATA_LIMIT_BYTES } from "../cluster/cloud-init";
import { workerUserDataBytes, workerUserDataProblems } from "../cluster/user-data-size";
import { expectProblem, loadWith } from "./helpers/config-fixture";
import { runPlan } from "./helpers/plan-cli";

const hex = (seed: string, length: number): string => createHash("sha256").update(seed).digest("hex").repeat(2).slice(0, length);

/** Labels with 63-character names and values of `valueLength`, random-looking like real ids: they compress badly. */
function labels(count: number, valueLength: number): Record<string, string> {
    return Object.fromEntries(Array.from({ length: count }, (_, i) => [`example.com/${hex(`k${i}`, 63)}`, hex(`v${i}`, valueLength)]));
}

const withGroup = (group: unknown) => ({ nodeGroups: JSON.stringify({ workers: group }) });

/** The largest value length of `count` labels whose group still fits, and its size. */
function justUnderLimit(count: number): { valueLength: number; bytes: number } {
    const model = loadWith();
    const base = model.cluster.nodeGroups.workers;
    let valueLength = 1;
    while (valueLength < 63 && workerUserDataBytes(model, "workers", { ...base, labels: labels(count, valueLength + 1) }) <= USER_DATA_LIMIT_BYTES) {
        valueLength++;
    }
    return { valueLength, bytes: workerUserDataBytes(model, "workers", { ...base, labels: labels(count, valueLength) }) };
}

/** The size problems index.ts raises right after reading such a config (before any resource). */
function sizeProblemsWith(input: Parameters<typeof loadWith>[0]): string[] {
    return workerUserDataProblems(loadWith(input));
}

describe("worker user data size at config time", () => {
    // 40 labels (the ASG tag limit allows 43), values of at most 63 characters (the label value limit).
    const under = justUnderLimit(40);

    it("a group just under the limit is accepted", () => {
        assert.ok(under.valueLength < 63, `the fixture reaches the limit (${under.valueLength})`);
        assert.ok(under.bytes <= USER_DATA_LIMIT_BYTES && under.bytes > USER_DATA_LIMIT_BYTES - 40, `${under.bytes} bytes`);
        const model = loadWith(withGroup({ labels: labels(40, under.valueLength) }));
        assert.equal(Object.keys(model.cluster.nodeGroups.workers.labels).length, 40);
        assert.deepEqual(workerUserDataProblems(model), []);
    });

    it("a group just over the limit is refused: group, largest keys, size, limit, fix", () => {
        const problem = expectProblem(
            sizeProblemsWith(withGroup({ labels: labels(40, under.valueLength + 1), taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] })),
            "nodeGroups.workers",
            "the workers' user data would be ",
            `over the ${USER_DATA_LIMIT_BYTES}-byte limit of the launch configuration`,
            "largest parts: nodeGroups.workers.labels (+",
            "Fix: shorten nodeGroups.workers.labels",
        );
        const size = Number(/would be (\d+) bytes/.exec(problem)?.[1]);
        assert.ok(size > USER_DATA_LIMIT_BYTES && size < USER_DATA_LIMIT_BYTES + 60, problem);
        // Labels add far more than the one taint: they are named first.
        assert.ok(problem.indexOf("nodeGroups.workers.labels (+") < problem.indexOf("nodeGroups.workers.taints (+"), problem);
    });

    it("names the taints first when they are what makes it large", () => {
        const taints = Array.from({ length: 40 }, (_, i) => ({
            key: `example.com/${hex(`tk${i}`, 63)}`,
            value: hex(`t${i}`, 63),
            effect: "NoSchedule",
        }));
        expectProblem(
            sizeProblemsWith(withGroup({ taints })),
            "nodeGroups.workers",
            "largest parts: nodeGroups.workers.taints (+",
            "Fix: shorten nodeGroups.workers.taints",
        );
    });

    it("grows with the rendered content, not a fixed estimate: a longer environment name costs bytes", () => {
        const short = loadWith({ environment: "dev" });
        const long = loadWith({ environment: "a-much-longer-name-x" });
        const size = (m: typeof short) => workerUserDataBytes(m, "workers", m.cluster.nodeGroups.workers);
        assert.ok(size(long) > size(short));
    });

    it("stops the offline plan before any resource, exit 1, no stack trace", () => {
        // Path overrides, one label each (keys without a prefix: the path syntax splits at dots).
        const overrides = Array.from({ length: 40 }, (_, i) => ["--config", `nodeGroups.workers.labels.l${hex(`k${i}`, 62)}=${hex(`v${i}`, 63)}`]).flat();
        const run = runPlan(["--stack", "dev", ...overrides]);
        assert.equal(run.code, 1, run.stderr);
        assert.equal(run.plan, undefined);
        assert.match(run.stderr, /zadara-eksd:nodeGroups\.workers: the workers' user data would be \d+ bytes \(gzip\), over the 4096-byte limit/);
        assert.doesNotMatch(run.stderr, /^\s+at /m);
    });
});
