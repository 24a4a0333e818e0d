// The cleanup command's bad input: it stops before any call with a clear message (exit 2).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { explain, runCli } from "./helpers/cleanup-run";
import { loadBalancerNameOfInterface } from "../cleanup/inventory";
import { KUBECONFIG_ENV, parseCleanupArguments, resolveTarget, STORED_ACCESS_KEY_ENV, STORED_KUBECONFIG_ENV, STORED_SECRET_KEY_ENV } from "../tools/cleanup";
import { clusterOwnerTag, stackOwnedReason } from "../cleanup/tags";

let hits = 0;
let server: http.Server;
let url = "";
before(async () => {
    server = http.createServer((_req, res) => {
        hits++;
        res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const CREDS = { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" };

describe("cleanup command: bad input stops before any call", () => {
    it("without credentials", async () => {
        const run = await runCli(["--stack", "dev", "--endpoint-url", url], { AWS_ACCESS_KEY_ID: "a" });
        assert.equal(run.code, 2, explain(run));
        assert.match(run.stderr[0], /^error: no cloud credentials: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(missing: AWS_SECRET_ACCESS_KEY\)/);
        assert.equal(hits, 0);
    });

    it("without an endpoint", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "cleanup-stack-"));
        const stack = fs
            .readFileSync(path.resolve(__dirname, "../Pulumi.dev.yaml"), "utf8")
            .split("\n")
            .filter((l) => !l.includes("apiEndpoint"))
            .join("\n");
        fs.writeFileSync(path.join(root, "Pulumi.dev.yaml"), stack);
        try {
            const run = await runCli(["--stack", "dev"], CREDS, root);
            assert.equal(run.code, 2, explain(run));
            assert.match(run.stderr[0], /no cloud endpoint: stack "dev" sets no apiEndpoint; pass --endpoint-url/);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
        const badUrl = await runCli(["--stack", "dev", "--endpoint-url", "ftp://x"], CREDS);
        assert.equal(badUrl.code, 2);
        assert.match(badUrl.stderr[0], /--endpoint-url must be an http\(s\) URL/);
        assert.equal(hits, 0);
    });

    it("when the cluster name cannot be resolved", async () => {
        const bad = await runCli(["--stack", "dev", "--endpoint-url", url, "--config", "environment=Not_A_Name"], CREDS);
        assert.equal(bad.code, 2, explain(bad));
        assert.match(bad.stderr[0], /cannot resolve the cluster name of stack "dev"/);
        assert.match(bad.stderr.join("\n"), /environment/);
        const missing = await runCli(["--stack", "nosuchstack", "--endpoint-url", url], CREDS);
        assert.equal(missing.code, 2);
        assert.match(missing.stderr[0], /cannot read stack "nosuchstack": no stack file/);
        assert.equal(hits, 0);
    });

    it("with unknown or incomplete arguments", async () => {
        for (const [args, message] of [
            [["--endpoint-url", url], /--stack <name> is required/],
            [["--stack", "dev", "--bogus"], /unknown argument "--bogus"/],
            [["--stack", "dev", "--timeout", "soon"], /--timeout must be a number of seconds/],
            [["--stack", "dev", "--kubeconfig", "/nonexistent/kubeconfig", "--endpoint-url", url], /cannot read --kubeconfig \/nonexistent\/kubeconfig/],
        ] as const) {
            const run = await runCli([...args], CREDS);
            assert.equal(run.code, 2, explain(run));
            assert.match(run.stderr[0], message);
            assert.match(run.stderr[1], /^usage: npm run cleanup -- --stack <name>/);
        }
        assert.equal(hits, 0);
    });
});

describe("cleanup command: help, placeholders, where credentials come from", () => {
    it("answers --help with exit 0 and calls nothing", async () => {
        for (const flag of ["--help", "-h"]) {
            const run = await runCli([flag], {});
            assert.equal(run.code, 0, explain(run));
            assert.match(run.stdout.join("\n"), /^usage: npm run cleanup -- --stack <name>/);
            assert.match(run.stdout.join("\n"), /--timeout <seconds> +deadline for the whole run/);
        }
        assert.equal(hits, 0);
    });

    it("the commands answer --help with exit 0 (cleanup, plan, bench, docs)", () => {
        const root = path.resolve(__dirname, "..");
        for (const tool of ["cleanup", "plan", "bench", "config-docs"]) {
            const run = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "tools", `${tool}.ts`), "--help"], {
                cwd: root,
                encoding: "utf8",
                env: { PATH: path.dirname(process.execPath), HOME: os.tmpdir() },
            });
            assert.equal(run.status, 0, `${tool}: ${run.stderr}`);
            assert.match(run.stdout, /usage: npm run /, tool);
        }
    });

    it("refuses the example stacks' placeholder endpoint instead of retrying it", async () => {
        const run = await runCli(["--stack", "dev", "--dry-run"], CREDS);
        assert.equal(run.code, 2, explain(run));
        assert.match(
            run.stderr[0],
            /the cloud endpoint https:\/\/cloud\.example\.com is the example's placeholder \(zadara-eksd:apiEndpoint of stack "dev"\).*Fix: pulumi config set apiEndpoint/,
        );
        assert.equal(run.apiCalls, 0);
    });

    it("prefers the running shell's keys and kubeconfig over those stored at the last up", () => {
        const options = parseCleanupArguments(["--stack", "dev", "--endpoint-url", url]);
        const stored = { [STORED_ACCESS_KEY_ENV]: "old-id", [STORED_SECRET_KEY_ENV]: "old-secret", [STORED_KUBECONFIG_ENV]: "stored" };
        const fresh = resolveTarget(options, { ...stored, AWS_ACCESS_KEY_ID: "new-id", AWS_SECRET_ACCESS_KEY: "new-secret", [KUBECONFIG_ENV]: "fresh" });
        assert.deepEqual([fresh.accessKeyId, fresh.secretAccessKey, fresh.kubeconfig], ["new-id", "new-secret", "fresh"]);
        const fallback = resolveTarget(options, stored);
        assert.deepEqual([fallback.accessKeyId, fallback.secretAccessKey, fallback.kubeconfig], ["old-id", "old-secret", "stored"]);
        assert.match(fallback.sources.join("\n"), /stored at the last `pulumi up` \(export AWS_ACCESS_KEY_ID/);
        // Half a pair in the shell is a mistake to report, not a reason to use the stored keys.
        assert.throws(() => resolveTarget(options, { ...stored, AWS_ACCESS_KEY_ID: "new-id" }), /missing: AWS_SECRET_ACCESS_KEY/);
    });
});

describe("cleanup ownership rules", () => {
    it("takes only the exact tags of this cluster, never the stack's own", () => {
        assert.equal(clusterOwnerTag({ "elbv2.k8s.aws/cluster": "dev" }, "dev"), "elbv2.k8s.aws/cluster=dev");
        assert.equal(clusterOwnerTag({ "elbv2.k8s.aws/cluster": "dev2" }, "dev"), undefined);
        assert.equal(clusterOwnerTag({ "kubernetes.io/cluster/dev": "owned" }, "dev"), "kubernetes.io/cluster/dev=owned");
        assert.equal(clusterOwnerTag({ "kubernetes.io/cluster/dev": "shared" }, "dev"), undefined);
        assert.equal(clusterOwnerTag({ KubernetesCluster: "dev" }, "dev"), "KubernetesCluster=dev");
        assert.equal(clusterOwnerTag({ "ebs.csi.aws.com/cluster": "true", CSIVolumeName: "pvc-1" }, "dev"), undefined);
        assert.equal(clusterOwnerTag({ "ebs.csi.aws.com/cluster": "true", CSIVolumeName: "pvc-1" }, "dev", new Set(["pvc-1"])), "CSIVolumeName=pvc-1");
        assert.equal(stackOwnedReason({ Environment: "dev", "kubernetes.io/cluster/dev": "owned" }, "dev"), "Environment=dev");
        assert.equal(stackOwnedReason({ "kubernetes.io/cluster/dev": "shared" }, "dev"), "kubernetes.io/cluster/dev=shared");
    });

    it("reads the load balancer name from an interface description", () => {
        assert.equal(loadBalancerNameOfInterface("ELB net/k8s-a-b-1234/50dc6c495c0c9188"), "k8s-a-b-1234");
        assert.equal(loadBalancerNameOfInterface("ELB app/k8s-a-b-1234/50dc6c495c0c9188"), "k8s-a-b-1234");
        assert.equal(loadBalancerNameOfInterface("ELB a0f1e2d3c4b5"), "a0f1e2d3c4b5");
        assert.equal(loadBalancerNameOfInterface("Primary network interface"), undefined);
    });
});
