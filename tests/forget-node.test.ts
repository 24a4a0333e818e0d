// npm run forget-node: a stack export without one lost control-plane node, built from the dev
// plan's own resources (URNs, dependencies, input dependencies), so a per-node resource the
// program adds later and the tool does not know fails here.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { forgetNode, NODE_RESOURCE_SUFFIXES } from "../tools/forget-node";
import { REPO_ROOT, runPlan } from "./helpers/plan-cli";
import type { PlanResource } from "../tools/plan";

/** What `pulumi stack export` holds for a plan's resources (the fields the tool reads). */
function exportOf(resources: PlanResource[]) {
    return {
        version: 3,
        deployment: {
            manifest: { time: "2026-12-06T00:00:00Z" },
            resources: resources.map((r) => ({
                urn: r.urn,
                custom: r.custom,
                type: r.type,
                id: r.type === "aws:ec2/instance:Instance" ? `i-${r.name}` : `${r.name}-id`,
                ...(r.parent ? { parent: r.parent } : {}),
                dependencies: r.dependencies,
                propertyDependencies: { create: r.inputDependencies },
            })),
        },
    };
}

describe("npm run forget-node", () => {
    let resources: PlanResource[] = [];
    before(() => {
        const run = runPlan(["--stack", "dev", "--config", "controlPlaneCount=3", "--quiet"]);
        assert.equal(run.code, 0, run.stderr);
        resources = run.plan!.resources;
    });

    it("knows every resource the program registers per control-plane node", () => {
        const perNode = resources.filter((r) => r.name.startsWith("dev-master-sa-2")).map((r) => r.name.slice("dev-master-sa-2".length));
        assert.ok(perNode.length >= 5, perNode.join(", "));
        assert.deepEqual(
            perNode.filter((suffix) => !NODE_RESOURCE_SUFFIXES.includes(suffix)),
            [],
            "a per-node resource forget-node does not remove",
        );
    });

    it("removes the node's resources and every reference to them; the other nodes stay whole", () => {
        const exported = exportOf(resources);
        const { state, removed } = forgetNode(exported, "dev-master-sa-2", "i-dev-master-sa-2");
        const names = (urns: string[]) => urns.map((urn) => urn.slice(urn.lastIndexOf("::") + 2)).sort();
        assert.ok(names(removed).includes("dev-master-sa-2-membership"));
        assert.ok(names(removed).includes("dev-master-sa-2-bootstrap"));
        const kept = state.deployment.resources!;
        assert.equal(kept.length, resources.length - removed.length);
        const gone = new Set(removed);
        for (const r of kept) {
            assert.deepEqual(
                r.dependencies!.filter((urn) => gone.has(urn)),
                [],
                r.urn,
            );
            assert.deepEqual(
                Object.values(r.propertyDependencies ?? {})
                    .flat()
                    .filter((urn) => gone.has(urn)),
                [],
                r.urn,
            );
        }
        assert.ok(names(kept.map((r) => r.urn)).includes("dev-master-sa-3-membership"));
        assert.ok(names(kept.map((r) => r.urn)).includes("dev-master-sa-1-bootstrap"));
    });

    it("refuses another instance id, an unknown node and a name that is not a control-plane node", () => {
        const exported = exportOf(resources);
        assert.throws(() => forgetNode(exported, "dev-master-sa-2", "i-0000"), /records i-dev-master-sa-2 for dev-master-sa-2/);
        assert.throws(() => forgetNode(exported, "dev-master-sa-9", "i-x"), /holds no resource of dev-master-sa-9/);
        assert.throws(() => forgetNode(exported, "dev-bastion", "i-x"), /expected a control-plane node name/);
    });

    it("the command writes the new export, and refuses a file that is not a stack export with the command that writes one", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "forget-node-"));
        try {
            const input = path.join(dir, "state.json");
            const output = path.join(dir, "fixed.json");
            fs.writeFileSync(input, JSON.stringify(exportOf(resources)));
            const cli = (...args: string[]) =>
                spawnSync(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "tools", "forget-node.ts"), ...args], {
                    cwd: REPO_ROOT,
                    encoding: "utf8",
                });
            const ok = cli("--state", input, "--node", "dev-master-sa-2", "--instance-gone", "i-dev-master-sa-2", "--out", output);
            assert.equal(ok.status, 0, ok.stderr);
            assert.match(ok.stdout, /next: pulumi stack import --file/);
            const written = JSON.parse(fs.readFileSync(output, "utf8")) as ReturnType<typeof exportOf>;
            assert.ok(!written.deployment.resources.some((r) => r.urn.endsWith("::dev-master-sa-2-membership")));
            fs.writeFileSync(input, "[]");
            const bad = cli("--state", input, "--node", "dev-master-sa-2", "--instance-gone", "i-x", "--out", output);
            assert.equal(bad.status, 2);
            assert.match(bad.stderr, /no "deployment" object; write one with: pulumi stack export --file/);
            assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/, "no stack trace");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
