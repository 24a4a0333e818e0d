// The ClusterCleanup component under Pulumi mocks: a LOCAL command whose delete step runs the
// typed cleanup with the settings as arguments and the secrets in its environment, after the
// add-on releases and nodes are gone from nothing (it depends on them, so it is deleted first).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { settle, startMockEngine } from "../tools/mock-engine";

const STACK_NLB = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/dev-eksd-masters-3f2a/0a1b2c3d4e5f6a7b";
const STACK_SG = "sg-0000000000000stack";

describe("ClusterCleanup component", () => {
    it("creates a local Command whose delete runs tools/cleanup.ts with the settings as arguments, after the given resources", async () => {
        const recorded = startMockEngine({ project: "zadara-eksd", stack: "dev" });
        const { ClusterCleanup, CLEANUP_KUBECONFIG_ENV, CLEANUP_ACCESS_KEY_ENV, CLEANUP_SECRET_KEY_ENV } = await import("../addons/cleanup");
        class Stub extends pulumi.CustomResource {
            constructor(type: string, name: string) {
                super(type, name, {});
            }
        }
        const release = new Stub("kubernetes:helm.sh/v3:Release", "lbc-release");
        const workers = new Stub("aws:autoscaling/group:Group", "workers");
        new ClusterCleanup("dev", {
            clusterName: "dev",
            stack: "dev",
            cloudApiUrl: "https://cloud.example.com",
            accessKey: pulumi.secret("AKIA-test"),
            secretKey: pulumi.secret("secret-test"),
            kubeconfig: pulumi.secret("apiVersion: v1\nkind: Config\n"),
            keepLoadBalancerArns: [pulumi.output(STACK_NLB)],
            keepSecurityGroupIds: [STACK_SG, pulumi.output("sg-0000000000bastion")],
            timeoutSeconds: 900,
            dependsOn: [release, workers],
        });
        await settle();

        const component = recorded.find((r) => r.type === "zadara:eksd:ClusterCleanup");
        assert.ok(component, "component registered");
        const cmd = recorded.find((r) => r.type === "command:local:Command");
        assert.ok(cmd, "local command registered");
        assert.equal(recorded.filter((r) => r.type === "command:remote:Command").length, 0, "no SSH");
        assert.equal(cmd.parent, component.urn);
        const del = String(cmd.inputs.delete);
        assert.match(
            del,
            /^test -f tools\/cleanup\.ts \|\| \{ .* exit 2; \} && node --import tsx tools\/cleanup\.ts --stack dev --config environment=dev --endpoint-url https:\/\/cloud\.example\.com --timeout 900 /,
        );
        // Nothing tied to the machine that ran `up`: no absolute folder (destroy may run elsewhere).
        assert.equal(cmd.inputs.dir, undefined, "the delete runs in the folder Pulumi runs in");
        assert.ok(del.includes(`--keep ${STACK_NLB}`) && del.includes(`--keep ${STACK_SG}`) && del.includes("--keep sg-0000000000bastion"), del);
        assert.doesNotMatch(del, /AKIA-test|secret-test|apiVersion/, "no secret on the command line");
        assert.match(String(cmd.inputs.create), /^echo /, "inert on create/update");
        assert.equal(cmd.inputs.triggers, undefined, "triggers would replace the command and run the cleanup on a live cluster");

        // The whole environment is a secret: the kubeconfig and keys never show in the state in clear.
        const wrapped = cmd.inputs.environment as { value: Record<string, string> };
        assert.equal(Object.keys(wrapped).length, 2, "a secret wrapper (signature + value)");
        // Stored under their own names: the destroying shell's AWS_* and kubeconfig take precedence.
        assert.deepEqual(wrapped.value, {
            [CLEANUP_ACCESS_KEY_ENV]: "AKIA-test",
            [CLEANUP_SECRET_KEY_ENV]: "secret-test",
            [CLEANUP_KUBECONFIG_ENV]: "apiVersion: v1\nkind: Config\n",
        });
        assert.ok(!("AWS_ACCESS_KEY_ID" in wrapped.value), "a stored AWS_ACCESS_KEY_ID would override the destroying shell's newer key");

        for (const urn of recorded.filter((r) => r.name === "lbc-release" || r.name === "workers").map((r) => r.urn)) {
            assert.ok(cmd.dependencies.includes(urn), `depends on ${urn}: ${cmd.dependencies.join(", ")}`);
        }
    });

    it("quotes arguments that need it", async () => {
        const { cleanupDeleteCommand } = await import("../addons/cleanup");
        assert.equal(
            cleanupDeleteCommand({ stack: "my stack", clusterName: "dev", endpointUrl: "https://c.example.com", timeoutSeconds: 60, keep: [] }),
            "test -f tools/cleanup.ts || { echo 'cloud cleanup: run pulumi destroy from the zadara-eksd project folder (tools/cleanup.ts not found here)' >&2; exit 2; } && " +
                "node --import tsx tools/cleanup.ts --stack 'my stack' --config environment=dev --endpoint-url https://c.example.com --timeout 60",
        );
    });
});

describe("ClusterCleanup delete step in a shell", () => {
    it("stops with a clear message when destroy runs outside the project folder", async () => {
        const { cleanupDeleteCommand } = await import("../addons/cleanup");
        const { spawnSync } = await import("node:child_process");
        const os = await import("node:os");
        const line = cleanupDeleteCommand({ stack: "dev", clusterName: "dev", endpointUrl: "https://c.example.com", timeoutSeconds: 60, keep: [] });
        const run = spawnSync("bash", ["-c", line], { cwd: os.tmpdir(), env: { PATH: "/usr/bin:/bin" }, encoding: "utf8" });
        assert.equal(run.status, 2);
        assert.match(run.stderr, /run pulumi destroy from the zadara-eksd project folder/);
    });
});
