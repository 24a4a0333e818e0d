// The quick part of the rehearsal (docs/rehearsal.md): nodes built from the program's own plan
// and user data, every remote Command in the engine's order, real etcd with TLS. The whole set
// of scenarios is `npm run rehearse`.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { RehearsalCloud, rootedCommand } from "../tools/rehearse/cloud";
import { deleteAntichains, diffSteps, EngineStep } from "../tools/rehearse/engine";
import { calledScripts, Rehearsal } from "../tools/rehearse/rehearsal";
import { FAST_SCENARIOS, scenarioNamed } from "../tools/rehearse/scenarios";
import { emptyState, StateResource } from "../tools/rehearse/state";

function resource(name: string, dependencies: string[] = [], id = `${name}-id`): StateResource {
    return {
        urn: `urn:${name}`,
        type: "command:remote:Command",
        name,
        custom: true,
        dependencies: dependencies.map((d) => `urn:${d}`),
        inputs: {},
        id,
        outputs: {},
    };
}

describe("the engine order of the rehearsal", () => {
    test("a replacement is a create now and a delete at the end; a removed resource is a delete", () => {
        const state = { ...emptyState("127.0.0"), resources: [resource("a"), resource("b", ["a"]), resource("gone", ["a"])] };
        const planned = { resources: [resource("a"), resource("b", ["a"], "b-new")], outputs: {}, nextAddress: 10 };
        const { forward, deletes } = diffSteps(state, planned);
        assert.deepEqual(
            forward.map((s) => `${s.op} ${s.resource.name}`),
            ["same a", "replace b"],
        );
        assert.deepEqual(deletes.map((s) => `${s.op} ${s.resource.name}@${s.resource.id}`).sort(), ["delete b@b-id", "delete gone@gone-id"]);
    });

    test("deletes run in reverse dependency order of the old state, independent ones together", () => {
        const steps: EngineStep[] = [
            resource("instance"),
            resource("attachment", ["instance"]),
            resource("bootstrap", ["instance", "attachment"]),
            resource("other"),
        ].map((r) => ({ op: "delete", resource: r, old: r }));
        const chains = deleteAntichains(steps).map((chain) => chain.map((s) => s.resource.name).sort());
        assert.deepEqual(chains, [["bootstrap", "other"], ["attachment"], ["instance"]]);
    });

    test("a Command's absolute node paths move under the node's root; other paths stay", () => {
        const text =
            "sudo bash -c 'if [ -x /usr/local/lib/zadara-eksd/control-plane-up.sh ]; then exec x; fi; cat /etc/kubernetes/zadara/BOOT_FAILED; ls /usr/bin'";
        assert.equal(
            rootedCommand(text, "/r"),
            "sudo bash -c 'if [ -x /r/usr/local/lib/zadara-eksd/control-plane-up.sh ]; then exec x; fi; cat /r/etc/kubernetes/zadara/BOOT_FAILED; ls /usr/bin'",
        );
    });

    test("the scripts a text calls: literal paths and the scripts-directory variables", () => {
        const text =
            'ETCD_MEMBERSHIP="${SCRIPTS_DIR}/etcd-membership.sh"; x=$NODE_SCRIPTS_DIR/drain-node.sh; /usr/local/lib/zadara-eksd/a.sh; ${NODE_SCRIPTS_DIR}/root-ca.crt';
        assert.deepEqual(calledScripts(text).sort(), ["a.sh", "drain-node.sh", "etcd-membership.sh"]);
    });
});

const missing = RehearsalCloud.missingTools();

describe("rehearsal scenarios on real etcd (fast subset)", { concurrency: false }, () => {
    for (const [index, name] of FAST_SCENARIOS.entries()) {
        const scenario = scenarioNamed(name);
        test(name, { skip: missing, todo: scenario.knownSeam, timeout: 600_000 }, async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-rehearse-test-"));
            const origin = process.hrtime.bigint();
            const rehearsal = new Rehearsal({
                dir,
                addressPrefix: `127.${20 + (process.pid % 200)}.${100 + index}`,
                now: () => Number((process.hrtime.bigint() - origin) / 1_000_000n),
            });
            try {
                const result = await rehearsal.runScenario(scenario);
                assert.deepEqual(result.violations, [], result.transcript.join("\n"));
                assert.equal(result.verdict, "pass");
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    }
});
