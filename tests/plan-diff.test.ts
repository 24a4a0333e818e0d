// The day-2 part of the offline plan: which previous-state files are read and how, how each
// resource's action is decided (create, update, replace, delete, unchanged), and the whole
// CLI on a real second plan against a first one.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { compareResource, diffResources, parsePreviousState, renderChanges, summarize } from "../tools/plan-diff";
import { describeSettingChanges } from "../tools/plan-settings";
import { REPO_ROOT, runPlan } from "./helpers/plan-cli";

const instance = (inputs: Record<string, unknown>, name = "dev-master-sa-1") => ({
    urn: `urn:pulumi:dev::zadara-eksd::zadara:eksd:EksdCluster$aws:ec2/instance:Instance::${name}`,
    type: "aws:ec2/instance:Instance",
    name,
    inputs,
});

describe("previous-state files", () => {
    it("reads a plan JSON, a stack export and an outputs file, each for what it holds", () => {
        const plan = parsePreviousState({ stack: "dev", resources: [instance({ ami: "a" })], outputs: { lifecycle: { initialized: true } } }, "p.json");
        assert.equal(plan.kind, "plan");
        assert.equal(plan.resources?.length, 1);

        const exported = parsePreviousState(
            {
                version: 3,
                deployment: {
                    resources: [
                        {
                            urn: "urn:pulumi:dev::zadara-eksd::pulumi:pulumi:Stack::zadara-eksd-dev",
                            type: "pulumi:pulumi:Stack",
                            outputs: { lifecycle: { x: 1 } },
                        },
                        { urn: "urn:pulumi:dev::zadara-eksd::pulumi:providers:aws::zcompute", type: "pulumi:providers:aws", inputs: {} },
                        { ...instance({ ami: "a" }), inputs: { ami: "a" } },
                        { ...instance({ ami: "old" }), inputs: { ami: "old" }, delete: true },
                    ],
                },
            },
            "export.json",
        );
        assert.equal(exported.kind, "stack-export");
        assert.deepEqual(exported.outputs, { lifecycle: { x: 1 } });
        assert.deepEqual(
            exported.resources?.map((r) => r.inputs),
            [{ ami: "a" }],
            "providers and pending deletes of a failed update are not the program's resources",
        );

        const outputs = parsePreviousState({ lifecycle: { initialized: true } }, "out.json");
        assert.equal(outputs.kind, "outputs");
        assert.equal(outputs.resources, undefined);
    });

    it("refuses what is none of them, naming the file and the accepted kinds", () => {
        for (const bad of [[], "text", null, { resources: [] }, { resources: [{ type: "x" }], outputs: {} }]) {
            assert.throws(() => parsePreviousState(bad, "bad.json"), /--previous bad\.json: .*(pulumi stack export|plan JSON)/);
        }
    });
});

describe("resource actions", () => {
    it("replaces an instance on a new image, updates it in place on a new type, and sees no change otherwise", () => {
        assert.deepEqual(compareResource(instance({ ami: "a", instanceType: "z4.large" }), instance({ ami: "b", instanceType: "z4.large" })).replaceKeys, [
            "ami",
        ]);
        const typeChange = compareResource(instance({ ami: "a", instanceType: "z4.large" }), instance({ ami: "a", instanceType: "z8.large" }));
        assert.equal(typeChange.action, "update");
        assert.deepEqual(typeChange.changedKeys, ["instanceType"]);
        assert.equal(compareResource(instance({ ami: "a" }), instance({ ami: "a" })).action, "same");
    });

    it("ignores what the engine adds and what secrets hide", () => {
        const stored = instance({
            ami: "a",
            __defaults: ["monitoring"],
            monitoring: false,
            userData: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "x" },
        });
        assert.equal(compareResource(stored, instance({ ami: "a", userData: "[secret]" })).action, "same");
    });

    it("replaces a Command whose triggers changed and updates one whose script changed", () => {
        const command = (inputs: Record<string, unknown>) => ({ urn: "urn:x::dev-health", type: "command:remote:Command", name: "dev-health", inputs });
        assert.equal(compareResource(command({ triggers: ["1"], create: "a" }), command({ triggers: ["2"], create: "a" })).action, "replace");
        assert.equal(compareResource(command({ triggers: ["1"], create: "a" }), command({ triggers: ["1"], create: "b" })).action, "update");
    });

    it("replaces anything random or tls on any input change", () => {
        const key = (bits: number) => ({ urn: "urn:x::k", type: "tls:index/privateKey:PrivateKey", name: "k", inputs: { rsaBits: bits } });
        assert.equal(compareResource(key(2048), key(4096)).action, "replace");
    });

    it("creates, deletes, and follows a replaced resource into what takes its outputs", () => {
        const attachment = {
            urn: "urn:x::dev-master-sa-1-api",
            type: "aws:lb/targetGroupAttachment:TargetGroupAttachment",
            name: "dev-master-sa-1-api",
            inputs: { targetId: "i-1" },
            dependencies: [instance({}).urn],
        };
        const bootstrap = {
            urn: "urn:x::dev-master-sa-1-bootstrap",
            type: "command:remote:Command",
            name: "dev-master-sa-1-bootstrap",
            inputs: {},
            dependencies: [instance({}).urn],
        };
        const changes = diffResources(
            [instance({ ami: "a" }), attachment, bootstrap, instance({ ami: "a" }, "dev-master-sa-3")],
            [instance({ ami: "b" }), attachment, bootstrap, instance({ ami: "b" }, "dev-master-sa-2")],
        );
        assert.deepEqual(
            changes.map((c) => `${c.name}:${c.action}`),
            ["dev-master-sa-1:replace", "dev-master-sa-1-api:replace", "dev-master-sa-1-bootstrap:update", "dev-master-sa-2:create", "dev-master-sa-3:delete"],
        );
        assert.deepEqual(summarize(changes), { create: 1, update: 1, replace: 2, delete: 1, same: 0 });
        assert.match(renderChanges(changes), /Resources: 1 to create, 1 to update, 2 to replace, 1 to delete, 0 unchanged$/);
    });
});

describe("changed settings", () => {
    const state = (settings: Record<string, string | number>) => ({ initialized: true, settings });

    it("names each changed tracked setting with its kind and, for a roll, the nodes it replaces and the worst case", () => {
        const changes = describeSettingChanges(state({ eksdVersion: "1.34", controlPlaneCount: 3 }), state({ eksdVersion: "1.35", controlPlaneCount: 3 }));
        assert.equal(changes.length, 1);
        assert.equal(changes[0].kind, "rolling");
        assert.match(changes[0].cost ?? "", /^replaces every control-plane node \(3, one at a time; worst case \d+ h \d+ min\), then every worker/);
    });

    it("is empty for a new cluster (no previous state)", () => {
        assert.deepEqual(describeSettingChanges(undefined, state({ eksdVersion: "1.35" })), []);
    });
});

describe("npm run plan -- --previous", () => {
    const dev = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    const example = path.join(REPO_ROOT, "examples", "previous-outputs.dev.json");

    it("the shipped example is the dev stack one minor before its configured one", () => {
        const minor = Number(String(dev.config["zadara-eksd:eksdVersion"]).split(".")[1]);
        const previous = JSON.parse(fs.readFileSync(example, "utf8")) as { lifecycle: { settings: { eksdVersion: string } } };
        assert.equal(previous.lifecycle.settings.eksdVersion, `1.${minor - 1}`, "examples/previous-outputs.dev.json is stale");
    });

    it("shows a minor upgrade from the example outputs, and every resource's action against an earlier plan", () => {
        const upgrade = runPlan(["--stack", "dev", "--previous", example]);
        assert.equal(upgrade.code, 0, upgrade.stderr);
        assert.match(upgrade.stdout, /eksdVersion: "1\.\d+" → "1\.\d+" {2}\[rolling\]/);
        assert.match(upgrade.stdout, /replaces every control-plane node \(1, one at a time; worst case/);
        assert.match(upgrade.stdout, /holds outputs only/);
        assert.equal(upgrade.plan?.previousKind, "outputs");

        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-plan-diff-"));
        try {
            const first = path.join(dir, "first.json");
            fs.writeFileSync(first, upgrade.json ?? "");
            const second = runPlan([
                "--stack",
                "dev",
                "--previous",
                first,
                "--config",
                "controlPlaneCount=3",
                "--config",
                "nodeGroups.workers.instanceType=z16.large",
            ]);
            assert.equal(second.code, 0, second.stderr);
            const actions = new Map((second.plan?.changes ?? []).map((c) => [c.name, c.action]));
            assert.equal(actions.get("dev-master-sa-2"), "create");
            assert.equal(actions.get("dev-master-sa-3-bootstrap"), "create");
            assert.equal(actions.get("dev-master-sa-1"), "same", "adding nodes does not touch node 1");
            assert.ok(
                [...actions.entries()].some(([name, action]) => /workers/.test(name) && action === "replace"),
                "the workers group rolls",
            );
            assert.match(second.stdout, /Resources: \d+ to create, \d+ to update, \d+ to replace, 0 to delete, \d+ unchanged/);
            assert.ok(second.plan?.summary && second.plan.summary.create >= 6);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses a missing or non-JSON file with exit 2 and what to use", () => {
        const missing = runPlan(["--stack", "dev", "--previous", "/nonexistent/previous.json"]);
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /no such file\. Fix: save the running stack.s outputs .*pulumi stack export/);
    });
});
