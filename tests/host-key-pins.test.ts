// Every SSH step of the program pins the host key of the machine it reaches: the offline plan
// (the whole program under the mock engine) is walked for every remote Command, so a Command
// added later without a pin fails here. The retire step pins the key the previous state
// recorded for the node it retires; `sshHostKeys: unpinned` pins nothing.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { mockHostKeyLine } from "../tools/mock-engine";
import type { PlanDocument, PlanResource } from "../tools/plan";
import { runPlan } from "./helpers/plan-cli";

const REMOTE = "command:remote:Command";
const LOCAL = "command:local:Command";

interface Connection {
    host?: unknown;
    hostKey?: unknown;
    proxy?: { host?: unknown; hostKey?: unknown };
}

const connectionOf = (r: PlanResource) => (r.inputs as { connection?: Connection }).connection ?? {};

/** The host-key Command whose key a remote Command must pin, by the Command's name. */
function expectedHostKeyCommand(env: string, name: string, masters: number): string {
    const node = new RegExp(`^(${env}-master-sa-\\d+)-(bootstrap|membership|retire-replaced)$`).exec(name);
    if (node) {
        return `${node[1]}-host-key`;
    }
    if (name === `${env}-boot-bundle`) {
        return `${env}-bastion-host-key`;
    }
    if (name === `${env}-upgrade-addons`) {
        return `${env}-master-sa-${masters}-host-key`;
    }
    // Day-2 steps on control-plane node 1: cloud metadata, join tokens, rolls, health gate.
    return `${env}-master-sa-1-host-key`;
}

function plan(args: string[]): PlanDocument {
    const run = runPlan([...args, "--quiet", "--show-secrets"]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.ok(run.plan);
    return run.plan;
}

function byName(p: PlanDocument, type: string, name: string): PlanResource {
    const found = p.resources.find((r) => r.type === type && r.name === name);
    assert.ok(found, `no ${type} ${name}`);
    return found;
}

for (const stack of ["dev", "prod"]) {
    describe(`every SSH step of the ${stack} plan pins its host key`, () => {
        let p: PlanDocument;
        before(() => {
            p = plan(["--stack", stack]);
        });

        it("reads one host key per instance, triggered by the instance id, the bastion's too", () => {
            const instances = p.resources.filter((r) => r.type === "aws:ec2/instance:Instance");
            const readers = p.resources.filter((r) => r.type === LOCAL && r.name.endsWith("-host-key"));
            assert.deepEqual(readers.map((r) => r.name).sort(), instances.map((i) => `${i.name.replace(/^.*-network-/, `${stack}-`)}-host-key`).sort());
            for (const reader of readers) {
                const inputs = reader.inputs as { create: string; update: string; triggers: unknown[]; environment: Record<string, unknown> };
                assert.match(inputs.create, /node --import tsx tools\/host-key\.ts --stack \S+ --endpoint-url https:\/\/\S+ --instance-id i-[0-9a-f]+/);
                assert.match(inputs.update, /PULUMI_COMMAND_STDOUT/);
                const instanceId = /--instance-id (\S+)/.exec(inputs.create)?.[1];
                assert.deepEqual(inputs.triggers, [instanceId]);
                assert.ok(
                    instances.some((i) => reader.inputDependencies.includes(i.urn)),
                    `${reader.name} does not wait for its instance`,
                );
            }
        });

        it("wires hostKey and proxy.hostKey of every remote Command from the right instance's host-key Command", () => {
            const masters = p.resources.filter((r) => r.type === "aws:ec2/instance:Instance" && /-master-sa-\d+$/.test(r.name)).length;
            const remotes = p.resources.filter((r) => r.type === REMOTE);
            assert.ok(remotes.length >= 8, `only ${remotes.length} remote Commands`);
            const bastion = byName(p, LOCAL, `${stack}-bastion-host-key`);
            for (const remote of remotes) {
                const connection = connectionOf(remote);
                const reader = byName(p, LOCAL, expectedHostKeyCommand(stack, remote.name, masters));
                assert.equal(connection.hostKey, mockHostKeyLine(reader.name), `${remote.name}: connection.hostKey is not ${reader.name}'s`);
                assert.ok(remote.inputDependencies.includes(reader.urn), `${remote.name} does not take its key from ${reader.name}`);
                if (remote.name === `${stack}-boot-bundle`) {
                    // The bastion itself: no proxy.
                    assert.equal(connection.proxy, undefined);
                    continue;
                }
                assert.equal(connection.proxy?.hostKey, mockHostKeyLine(bastion.name), `${remote.name}: proxy.hostKey is not the bastion's`);
                assert.ok(remote.inputDependencies.includes(bastion.urn), `${remote.name} does not take the bastion's key from ${bastion.name}`);
            }
        });

        it("records each control-plane node's host key in the lifecycle output (public, not secret)", () => {
            const nodes = (p.outputs.lifecycle as { controlPlaneNodes: Record<string, { hostKey?: string }> }).controlPlaneNodes;
            assert.ok(Object.keys(nodes).length > 0);
            for (const [name, node] of Object.entries(nodes)) {
                assert.equal(node.hostKey, mockHostKeyLine(`${name}-host-key`));
            }
            const redacted = runPlan(["--stack", stack, "--quiet"]).plan;
            assert.ok(redacted);
            const shown = (redacted.outputs.lifecycle as { controlPlaneNodes: Record<string, { hostKey?: string }> }).controlPlaneNodes;
            assert.deepEqual(shown, nodes);
        });
    });
}

describe("the retire step pins the key recorded for the node it retires", () => {
    const previousFile = (hostKey: string | undefined) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-hostkeys-"));
        const file = path.join(dir, "previous.json");
        const base = runPlan(["--stack", "dev", "--quiet", "--show-secrets"]).plan;
        assert.ok(base);
        const lifecycle = structuredClone(base.outputs.lifecycle) as { controlPlaneNodes: Record<string, Record<string, string>> };
        // The recorded node 1 is another instance: this update replaced it.
        const node = lifecycle.controlPlaneNodes["dev-master-sa-1"];
        node.instanceId = "i-0aaaaaaaaaaaaaaa1";
        node.privateIp = "192.168.2.77";
        if (hostKey === undefined) {
            delete node.hostKey;
        } else {
            node.hostKey = hostKey;
        }
        fs.writeFileSync(file, JSON.stringify({ ...base.outputs, lifecycle }));
        return file;
    };

    it("connects to the replaced instance with its recorded key", () => {
        const recorded = mockHostKeyLine("a node of the previous update");
        const run = runPlan(["--stack", "dev", "--quiet", "--show-secrets", "--previous", previousFile(recorded)]);
        assert.equal(run.code, 0, run.stderr);
        const retire = byName(run.plan!, REMOTE, "dev-master-sa-1-retire-replaced");
        const connection = connectionOf(retire);
        assert.equal(connection.host, "192.168.2.77");
        assert.equal(connection.hostKey, recorded);
        assert.equal(connection.proxy?.hostKey, mockHostKeyLine("dev-bastion-host-key"));
        assert.match(String((retire.inputs as { create: string }).create), /EXPECTED_INSTANCE_ID='i-0aaaaaaaaaaaaaaa1'/);
        // The new instance's own steps pin the new key.
        assert.equal(connectionOf(byName(run.plan!, REMOTE, "dev-master-sa-1-bootstrap")).hostKey, mockHostKeyLine("dev-master-sa-1-host-key"));
    });

    it("a previous state without a recorded key (an older version) reaches it unpinned, with a note in the log", () => {
        const run = runPlan(["--stack", "dev", "--show-secrets", "--previous", previousFile(undefined)]);
        assert.equal(run.code, 0, run.stderr);
        const connection = connectionOf(byName(run.plan!, REMOTE, "dev-master-sa-1-retire-replaced"));
        assert.equal(connection.host, "192.168.2.77");
        assert.equal(connection.hostKey, undefined);
        assert.equal(connection.proxy?.hostKey, mockHostKeyLine("dev-bastion-host-key"));
        assert.match(
            `${run.stdout}\n${run.stderr}`,
            /dev-master-sa-1-retire-replaced: the previous state records no SSH host key for i-0aaaaaaaaaaaaaaa1 .*without checking its host key/,
        );
    });
});

describe("sshHostKeys: unpinned", () => {
    it("reads no host key and pins none", () => {
        const p = plan(["--stack", "dev", "--config", "sshHostKeys=unpinned"]);
        assert.deepEqual(
            p.resources.filter((r) => r.type === LOCAL && r.name.endsWith("-host-key")).map((r) => r.name),
            [],
        );
        const remotes = p.resources.filter((r) => r.type === REMOTE);
        assert.ok(remotes.length >= 8);
        for (const remote of remotes) {
            const connection = connectionOf(remote);
            assert.ok(!("hostKey" in connection), `${remote.name} pins a host key`);
            assert.ok(connection.proxy === undefined || !("hostKey" in connection.proxy), `${remote.name} pins the bastion's key`);
        }
        const nodes = (p.outputs.lifecycle as { controlPlaneNodes: Record<string, object> }).controlPlaneNodes;
        assert.ok(Object.values(nodes).every((n) => !("hostKey" in n)));
    });

    it("is refused on a production stack unless its rule is accepted; the policy pack refuses it anyway", () => {
        const refused = runPlan(["--stack", "prod", "--quiet", "--config", "sshHostKeys=unpinned"]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /zadara-eksd:sshHostKeys: "unpinned" .*acceptUnsafeProductionRules\[0\]' ssh-host-keys-unpinned/);
        const accepted = runPlan([
            "--stack",
            "prod",
            "--quiet",
            "--policy",
            "--config",
            "sshHostKeys=unpinned",
            "--config",
            "acceptUnsafeProductionRules[0]=ssh-host-keys-unpinned",
        ]);
        assert.equal(accepted.code, 1, accepted.stdout);
        assert.match(accepted.stderr, /\[ssh-host-keys-unpinned\] the SSH step prod-master-sa-1-bootstrap does not check the host key/);
        assert.doesNotMatch(accepted.stderr, /Stack configuration has/);
    });
});
