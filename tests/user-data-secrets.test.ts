// What a security reviewer reads in `npm run plan -- --show-secrets`: every node kind's user
// data, decoded, for dev, prod, a 23 KB root CA bundle and 30 labels: no PEM private key, no
// 64-hex certificate key, no token except the worker's own, at most 4096 bytes as sent. And
// without --show-secrets: what moved into the bootstrap commands is a Pulumi secret.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { before, describe, it } from "node:test";
import type { PlanDocument, PlanResource } from "../tools/plan";
import { REPO_ROOT } from "./helpers/plan-cli";

const SECRET_ARGS = [
    "--secret",
    "accessKey=AKIAPLANTESTACCESS01",
    "--secret",
    "secretKey=plan-test-secret-key-value-0123456789",
    "--secret",
    "bastionSshPrivateKey=-----BEGIN OPENSSH PRIVATE KEY-----\nplan-test-bastion\n-----END OPENSSH PRIVATE KEY-----",
    "--secret",
    "nodeSshPrivateKey=-----BEGIN OPENSSH PRIVATE KEY-----\nplan-test-node\n-----END OPENSSH PRIVATE KEY-----",
];
const TOKEN = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/g;
const HEX64 = /\b[0-9a-f]{64}\b/g;

/** A root CA bundle of ~23 KB: many real certificates, one PEM after the other. */
function bigRootCaBundle(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-bundle-ca-"));
    const key = path.join(dir, "k");
    const pems: string[] = [];
    try {
        while (pems.join("").length < 23_000) {
            const out = path.join(dir, `${pems.length}.crt`);
            const run = spawnSync(
                "openssl",
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", `/CN=root-${pems.length}`, "-keyout", key, "-out", out],
                { encoding: "utf8" },
            );
            assert.equal(run.status, 0, run.stderr);
            pems.push(fs.readFileSync(out, "utf8"));
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return pems.join("");
}

interface Plan {
    code: number;
    stderr: string;
    json?: string;
    plan?: PlanDocument;
}

function plan(args: string[]): Promise<Plan> {
    const jsonFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-plan-")), "plan.json");
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "tools", "plan.ts"), ...args, "--quiet", "--json", jsonFile], {
            cwd: REPO_ROOT,
            env: { ...process.env, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
        });
        let stderr = "";
        child.stderr.on("data", (chunk) => {
            stderr += chunk;
        });
        child.on("close", (code) => {
            const json = fs.existsSync(jsonFile) ? fs.readFileSync(jsonFile, "utf8") : undefined;
            fs.rmSync(path.dirname(jsonFile), { recursive: true, force: true });
            resolve({ code: code ?? -1, stderr, json, plan: json ? (JSON.parse(json) as PlanDocument) : undefined });
        });
    });
}

const labels = Array.from({ length: 30 }, (_, i) => ["--config", `nodeGroups.workers.labels.example-label-number-${i}=value-${i}-abcdefghijklmnop`]).flat();
const MODES: Record<string, string[]> = {
    dev: ["--stack", "dev"],
    prod: ["--stack", "prod", ...SECRET_ARGS],
    // One plan for both large inputs: a 23 KB root CA bundle and 30 labels on a group.
    rootCaAnd30Labels: ["--stack", "dev", "--config", `rootCaCert=${bigRootCaBundle()}`, "--config", "insecure=false", ...labels],
};

const shown: Record<string, Plan> = {};
let asg: Plan;

function inputs(resource: PlanResource): Record<string, unknown> {
    return resource.inputs as Record<string, unknown>;
}

/** [resource, raw bytes as sent, decoded text] for every user data in the plan. */
function userData(doc: PlanDocument): Array<[PlanResource, Buffer, string]> {
    const found: Array<[PlanResource, Buffer, string]> = [];
    for (const resource of doc.resources) {
        const encoded = inputs(resource).userDataBase64;
        const plainText = inputs(resource).userData;
        if (typeof encoded === "string") {
            const raw = Buffer.from(encoded, "base64");
            found.push([resource, raw, raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw).toString("utf8") : raw.toString("utf8")]);
        } else if (typeof plainText === "string") {
            found.push([resource, Buffer.from(plainText), plainText]);
        }
    }
    return found;
}

describe("user data and launch configurations hold no cluster secret", () => {
    before(async () => {
        const runs = await Promise.all([
            ...Object.values(MODES).map((args) => plan([...args, "--show-secrets"])),
            plan(["--stack", "dev", "--config", "controlPlaneMode=asg"]),
        ]);
        Object.keys(MODES).forEach((mode, index) => {
            shown[mode] = runs[index];
        });
        asg = runs[Object.keys(MODES).length];
    });

    for (const mode of Object.keys(MODES)) {
        it(`${mode}: every node kind's user data is a small loader without keys, certificate keys or control-plane tokens`, () => {
            const run = shown[mode];
            assert.equal(run.code, 0, run.stderr);
            const all = userData(run.plan!);
            const kinds = new Set(all.map(([r]) => `${r.type}:${r.name.includes("master") ? "master" : r.name.includes("bastion") ? "bastion" : "worker"}`));
            assert.ok(kinds.size >= 3, [...kinds].join(", "));
            const workerTokens = new Set<string>();
            for (const [resource, raw, text] of all) {
                assert.ok(raw.length <= 4096, `${mode} ${resource.name}: ${raw.length} bytes as sent`);
                assert.doesNotMatch(text, /PRIVATE KEY/, `${mode} ${resource.name} holds a private key`);
                // node.env's hashes of non-secret text (BUNDLE_SHA256, CLUSTER_CONFIG_SHA256,
                // KUBELET_CONFIG_SHA256) and the CA pins are the only 64-hex values allowed.
                const hashes = new Set([...text.matchAll(/^\s*[A-Z][A-Z0-9_]*_SHA256='([0-9a-f]{64})'$/gm)].map((m) => m[1]));
                const pins = new Set([...text.matchAll(/sha256:([0-9a-f]{64})/g)].map((m) => m[1]));
                const hex = (text.match(HEX64) ?? []).filter((h) => !hashes.has(h) && !pins.has(h));
                assert.deepEqual(hex, [], `${mode} ${resource.name} holds a 64-hex value (certificate key?)`);
                const tokens = text.match(TOKEN) ?? [];
                if (resource.type === "aws:ec2/launchConfiguration:LaunchConfiguration") {
                    assert.equal(tokens.length, 1, `${resource.name}: exactly the worker join token`);
                    assert.match(text, /kind: JoinConfiguration/);
                    assert.doesNotMatch(text, /controlPlane:/);
                    workerTokens.add(tokens[0]);
                } else {
                    assert.deepEqual(tokens, [], `${mode} ${resource.name} holds a token`);
                }
            }
            const groups = all.filter(([r]) => r.type === "aws:ec2/launchConfiguration:LaunchConfiguration").length;
            assert.equal(workerTokens.size, groups, "one worker token per node group");
            // Each token is one the cluster knows as a node-bootstrap token with an expiry, applied
            // by the join-tokens command; no control-plane bootstrap stdin carries any token.
            const applied = String(inputs(run.plan!.resources.find((r) => r.name.endsWith("-join-tokens"))!).stdin);
            for (const token of workerTokens) {
                assert.ok(applied.includes(`token-secret: ${token.split(".")[1]}`), token);
            }
            assert.match(applied, /auth-extra-groups: system:bootstrappers:kubeadm:default-node-token/);
            assert.match(applied, /expiration: "?\d{4}-\d\d-\d\dT/);
            for (const bootstrap of run.plan!.resources.filter((r) => r.name.endsWith("-bootstrap"))) {
                const decoded = String(inputs(bootstrap).stdin)
                    .split("\n")
                    .filter(Boolean)
                    .map((line) => Buffer.from(line.split(" ")[1] ?? "", "base64").toString("utf8"))
                    .join("\n");
                for (const token of workerTokens) {
                    assert.ok(!decoded.includes(token.split(".")[1]), `${bootstrap.name} carries a worker token`);
                }
                assert.doesNotMatch(decoded, /bootstrap\.kubernetes\.io\/token/);
            }
        });
    }

    it("rootCaAnd30Labels: a 23 KB root CA bundle travels in the boot bundle, never in user data; 30 labels fit", () => {
        const run = shown.rootCaAnd30Labels;
        assert.equal(run.code, 0, run.stderr);
        const publish = run.plan!.resources.find((r) => r.name.endsWith("-boot-bundle"))!;
        const bundle = String(inputs(publish).stdin);
        const line = bundle.split("\n").find((l) => l.startsWith("root-ca.crt "))!;
        assert.ok(Buffer.from(line.split(" ")[1], "base64").toString("utf8").length >= 23_000);
        assert.match(String(inputs(publish).create), /update-ca-certificates/, "the bastion trusts it too");
        const lc = run.plan!.resources.find((r) => r.type === "aws:ec2/launchConfiguration:LaunchConfiguration" && r.name === "dev-workers")!;
        const text = gunzipSync(Buffer.from(String(inputs(lc).userDataBase64), "base64")).toString("utf8");
        assert.match(text, /example-label-number-29=value-29-abcdefghijklmnop/);
    });

    it("the control-plane secrets are on the bootstrap commands' stdin (shown only with --show-secrets)", () => {
        const shownStdin = String(inputs(shown.prod.plan!.resources.find((r) => r.name === "prod-master-sa-2-bootstrap")!).stdin);
        const names = shownStdin
            .trim()
            .split("\n")
            .map((l) => l.split(" ")[0]);
        for (const name of [
            "pki/ca.key",
            "pki/sa.key",
            "pki/etcd/ca.key",
            "pki/front-proxy-ca.key",
            "encryption/encryption-config.yaml",
            "audit/audit-policy.yaml",
        ]) {
            assert.ok(names.includes(name), `${name} is not on stdin`);
        }
    });

    it("refuses controlPlaneMode=asg with a message naming the key; nothing is planned", () => {
        assert.notEqual(asg.code, 0);
        assert.match(asg.stderr, /controlPlaneMode/);
        assert.match(asg.stderr, /standalone/);
    });
});
