// Production rules, checked by meaning: address coverage (IPv4 and IPv6), the stack config's
// guard with its per-rule acknowledgement, the root CA parsed as certificates, and the policy
// pack against plans recorded by the offline plan (prod passes; each weakening fails with its
// rule's message; `npm run plan -- --policy` exits 1 on a violation).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { coversAddressSpace, openFamilies } from "../model/address-coverage";
import { rootCaProblem, ROOT_CA_MAX_CHARS } from "../model/ca-certificate";
import { PRODUCTION_RULE_IDS } from "../model/production-rules";
import { evaluateProductionPolicies, isProductionStack, PolicyInputResource, PRODUCTION_POLICIES, stackOfUrn } from "../policy/rules";
import { expectProblem, loadWith, problemsWith } from "./helpers/config-fixture";
import { opensslCertificate } from "./helpers/openssl-cert";
import { runPlan } from "./helpers/plan-cli";
import type { PlanDocument } from "../tools/plan";

describe("address coverage", () => {
    it("counts any split of the address space as the whole of it", () => {
        assert.equal(coversAddressSpace(["0.0.0.0/0"], "ipv4"), true);
        assert.equal(coversAddressSpace(["0.0.0.0/1", "128.0.0.0/1"], "ipv4"), true);
        assert.equal(coversAddressSpace(["128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2"], "ipv4"), true);
        const slash8s = Array.from({ length: 256 }, (_, i) => `${i}.0.0.0/8`);
        assert.equal(coversAddressSpace(slash8s, "ipv4"), true);
        assert.equal(
            coversAddressSpace(
                slash8s.filter((c) => c !== "77.0.0.0/8"),
                "ipv4",
            ),
            false,
        );
        assert.equal(coversAddressSpace(["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"], "ipv4"), true);
        assert.equal(coversAddressSpace(["0.0.0.0/1", "128.0.0.0/2"], "ipv4"), false);
        assert.equal(coversAddressSpace(["10.0.0.0/8", "198.51.100.0/24"], "ipv4"), false);
        // Host bits do not narrow a range: 10.1.2.3/0 is every address.
        assert.equal(coversAddressSpace(["10.1.2.3/0"], "ipv4"), true);
    });

    it("checks IPv6 apart from IPv4", () => {
        assert.deepEqual(openFamilies(["::/0"]), ["ipv6"]);
        assert.deepEqual(openFamilies(["::/1", "8000::/1"]), ["ipv6"]);
        assert.deepEqual(openFamilies(["::/1", "8000::/2"]), []);
        assert.deepEqual(openFamilies(["0.0.0.0/0", "::/0"]), ["ipv4", "ipv6"]);
        // ::ffff:0:0/96 maps IPv4 into IPv6; it is not the IPv4 space.
        assert.deepEqual(openFamilies(["::ffff:0:0/96"]), []);
        assert.deepEqual(openFamilies(["not a cidr", "0.0.0.0/1"]), []);
    });
});

/** The config loads without a problem (loadWith throws the problems otherwise). */
function accepted(overrides: Record<string, string>): void {
    loadWith(overrides);
}

describe("production guard of the stack config", () => {
    const prodBase = { production: "true", controlPlaneCount: "3", bastionSshCidrs: '["203.0.113.0/24"]', apiAllowedCidrs: '["203.0.113.0/24"]' };

    it("accepts a safe production stack", () => {
        assert.equal(loadWith(prodBase).production, true);
    });

    it("refuses a world split in two, for SSH and for the API", () => {
        const problems = problemsWith({
            ...prodBase,
            bastionSshCidrs: '["0.0.0.0/1", "128.0.0.0/1"]',
            apiAllowedCidrs: '["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"]',
        });
        expectProblem(problems, "bastionSshCidrs", "opens bastion SSH to the world", "every IPv4 address", "bastion-ssh-open-to-world");
        expectProblem(problems, "apiAllowedCidrs", "opens the Kubernetes API to the world", "api-open-to-world");
        // An internal API is not the world's.
        accepted({ ...prodBase, apiPublic: "false", runsInsideVpc: "true", apiAllowedCidrs: '["0.0.0.0/1", "128.0.0.0/1"]' });
    });

    const weakenings: Array<[string, Record<string, string>, string, string]> = [
        ["insecure", { insecure: "true" }, "cloud-api-tls-unverified", "skips TLS verification"],
        ["controlPlaneCount", { controlPlaneCount: "1" }, "single-control-plane", "cannot survive a node loss"],
        ["auditLog", { auditLog: "false" }, "audit-log-off", "pulumi config set auditLog true"],
        ["secretsEncryption", { secretsEncryption: "false" }, "secrets-encryption-off", "pulumi config set secretsEncryption true"],
        ["kubeletHardening", { kubeletHardening: "false" }, "kubelet-hardening-off", "pulumi config set kubeletHardening true"],
        ["apiServerProfiling", { apiServerProfiling: "true" }, "profiling-on", "pulumi config set apiServerProfiling false"],
        ["sshHostKeys", { sshHostKeys: "unpinned" }, "ssh-host-keys-unpinned", "pulumi config set sshHostKeys console"],
    ];
    for (const [key, change, rule, text] of weakenings) {
        it(`refuses ${key} weakened, unless acknowledged by its rule ${rule} or by acceptUnsafeProduction`, () => {
            expectProblem(problemsWith({ ...prodBase, ...change }), key, text, rule, "acceptUnsafeProduction");
            accepted({ ...prodBase, ...change, acceptUnsafeProductionRules: JSON.stringify([rule]) });
            accepted({ ...prodBase, ...change, acceptUnsafeProduction: "true" });
            // Not production: no rule applies.
            accepted({ ...prodBase, ...change, production: "false" });
        });
    }

    it("acknowledges only the rules named", () => {
        const problems = problemsWith({ ...prodBase, insecure: "true", auditLog: "false", acceptUnsafeProductionRules: '["audit-log-off"]' });
        expectProblem(problems, "insecure", "cloud-api-tls-unverified");
        assert.equal(problems.length, 1, problems.join("\n"));
        expectProblem(problemsWith({ acceptUnsafeProductionRules: '["no-such-rule"]' }), "acceptUnsafeProductionRules", "no-such-rule");
    });

    it("names every rule of the shared list in the pack or the config guard", () => {
        const packRules = new Set<string>(PRODUCTION_POLICIES.map((p) => p.name));
        const guarded = new Set<string>([...weakenings.map((w) => w[2]), "bastion-ssh-open-to-world", "api-open-to-world"]);
        for (const rule of PRODUCTION_RULE_IDS) {
            assert.ok(packRules.has(rule) || guarded.has(rule), `${rule} is enforced nowhere`);
        }
    });
});

describe("rootCaCert parsed as CA certificates", () => {
    const pem: Record<string, string> = {};
    before(() => {
        const root = opensslCertificate({ commonName: "root", ca: true });
        pem["ca.crt"] = root.certPem;
        pem["ca.key"] = root.keyPem;
        pem["leaf.crt"] = opensslCertificate({ commonName: "server", ca: false }).certPem;
    });

    it("accepts one or more CA certificates", () => {
        assert.equal(rootCaProblem(pem["ca.crt"]), undefined);
        assert.equal(rootCaProblem(`${pem["ca.crt"]}\n${pem["ca.crt"]}`), undefined);
        assert.equal(loadWith({ rootCaCert: pem["ca.crt"] }).cloud.rootCaCert, pem["ca.crt"]);
    });

    it("refuses a private key next to the certificate, and never repeats the value", () => {
        const problems = problemsWith({ rootCaCert: `${pem["ca.crt"]}${pem["ca.key"]}` });
        expectProblem(problems, "rootCaCert", "PRIVATE KEY", "Fix:");
        const keyBody = pem["ca.key"].split("\n")[1];
        assert.ok(!problems.join("\n").includes(keyBody), "the message repeats the key");
    });

    it("refuses a server certificate, text around the blocks, garbage inside, and an oversized value", () => {
        expectProblem(problemsWith({ rootCaCert: pem["leaf.crt"] }), "rootCaCert", "not a CA certificate", "CN=server");
        expectProblem(problemsWith({ rootCaCert: `junk ${pem["ca.crt"]}` }), "rootCaCert", "outside its PEM blocks");
        expectProblem(problemsWith({ rootCaCert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }), "rootCaCert", "not a parseable");
        expectProblem(
            problemsWith({ rootCaCert: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" }),
            "rootCaCert",
            "PUBLIC KEY, not a CERTIFICATE",
        );
        expectProblem(problemsWith({ rootCaCert: "not a pem" }), "rootCaCert", "not a PEM certificate");
        expectProblem(
            problemsWith({ rootCaCert: pem["ca.crt"].repeat(Math.ceil(ROOT_CA_MAX_CHARS / pem["ca.crt"].length) + 1) }),
            "rootCaCert",
            "characters, above",
        );
    });
});

describe("policy pack over recorded plans", () => {
    let prod: PlanDocument;
    let dev: PlanDocument;
    const stdout: Record<string, string> = {};
    const resourcesOf = (plan: PlanDocument): PolicyInputResource[] =>
        plan.resources.map((r) => ({ type: r.type, name: r.name, props: structuredClone(r.inputs ?? {}) as Record<string, unknown> }));

    before(() => {
        for (const stack of ["prod", "dev"]) {
            // Recorded by the plan CLI with --policy: its verdict is checked below.
            const run = runPlan(["--stack", stack, "--quiet", "--policy"]);
            assert.equal(run.code, 0, run.stderr);
            assert.ok(run.plan);
            stdout[stack] = run.stdout;
            if (stack === "prod") {
                prod = run.plan;
            } else {
                dev = run.plan;
            }
        }
    });

    it("passes the prod plan; the dev plan is not production and would not pass", () => {
        assert.deepEqual(evaluateProductionPolicies(resourcesOf(prod)), []);
        assert.equal(isProductionStack(stackOfUrn(prod.resources[0].urn), new Map()), true);
        assert.equal(isProductionStack(stackOfUrn(dev.resources[0].urn), new Map()), false);
        assert.equal(isProductionStack("dev", new Map([["zadara-eksd:production", "true"]])), true);
        assert.equal(isProductionStack("prod", new Map([["zadara-eksd:production", "false"]])), false);
        // dev opens SSH and the API to the world, skips TLS verification, runs one control-plane node.
        const rules = new Set(evaluateProductionPolicies(resourcesOf(dev)).map((v) => v.policy));
        assert.deepEqual([...rules].sort(), ["api-open-to-world", "bastion-ssh-open-to-world", "cloud-api-tls-unverified", "single-control-plane"]);
    });

    /** The prod plan with one weakening applied to its resources. */
    function weakened(change: (resources: PolicyInputResource[]) => void): string[] {
        const resources = resourcesOf(prod);
        change(resources);
        return evaluateProductionPolicies(resources).map((v) => `[${v.policy}] ${v.message}`);
    }
    const rule = (resources: PolicyInputResource[], name: string) => {
        const found = resources.find((r) => r.name === name);
        assert.ok(found, name);
        return found.props;
    };
    const only = (violations: string[], pattern: RegExp) => {
        assert.equal(violations.length, 1, violations.join("\n"));
        assert.match(violations[0], pattern);
    };

    it("fails SSH opened to the world in two halves, as two separate rules", () => {
        only(
            weakened((resources) => {
                rule(resources, "prod-network-bastion-sg-ssh-in").cidrBlocks = ["0.0.0.0/1"];
                const copy = structuredClone(resources.find((r) => r.name === "prod-network-bastion-sg-ssh-in"));
                assert.ok(copy);
                copy.name = "extra";
                copy.props.cidrBlocks = ["128.0.0.0/1"];
                resources.push(copy);
            }),
            /^\[bastion-ssh-open-to-world\] SSH \(22\) is open to every IPv4 address: .*0\.0\.0\.0\/1, 128\.0\.0\.0\/1/,
        );
    });

    it("fails the API opened to every IPv6 address", () => {
        only(
            weakened((resources) => {
                rule(resources, "prod-network-k8s-sg-api-in").ipv6CidrBlocks = ["::/1", "8000::/1"];
            }),
            /^\[api-open-to-world\] the Kubernetes API \(6443\) is open to every IPv6 address/,
        );
    });

    it("fails any other port opened to the world, by a range or by all protocols", () => {
        only(
            weakened((resources) => {
                Object.assign(rule(resources, "prod-network-worker-sg-self-in"), {
                    self: false,
                    cidrBlocks: ["0.0.0.0/0"],
                    protocol: "tcp",
                    fromPort: 30000,
                    toPort: 32767,
                });
            }),
            /^\[ingress-open-to-world\] tcp port 30000 and up is open to every IPv4 address/,
        );
        const all = weakened((resources) => {
            Object.assign(rule(resources, "prod-network-worker-sg-self-in"), { self: false, cidrBlocks: ["0.0.0.0/0"] });
        });
        assert.ok(all.some((v) => v.startsWith("[bastion-ssh-open-to-world]")) && all.some((v) => v.startsWith("[api-open-to-world]")), all.join("\n"));
        assert.ok(
            all.some((v) => v.startsWith("[ingress-open-to-world]")),
            all.join("\n"),
        );
    });

    it("fails an inline ingress block of a security group", () => {
        only(
            weakened((resources) => {
                rule(resources, "prod-network-bastion-sg").ingress = [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }];
            }),
            /^\[bastion-ssh-open-to-world\] .*prod-network-bastion-sg \(inline\)/,
        );
    });

    it("fails TLS verification off on the provider (string or boolean input)", () => {
        for (const insecure of ["true", true]) {
            only(
                weakened((resources) => {
                    rule(resources, "prod-zcompute").insecure = insecure;
                }),
                /^\[cloud-api-tls-unverified\] the AWS provider prod-zcompute skips TLS verification/,
            );
        }
    });

    it("fails an SSH step without a host key or without its proxy's, and judges no connection it cannot see", () => {
        const step = (name: string, connection: unknown): PolicyInputResource => ({ type: "command:remote:Command", name, props: { connection } });
        const key = "ssh-ed25519 AAAA";
        const messages = evaluateProductionPolicies([
            step("pinned", { host: "h", hostKey: key, proxy: { host: "b", hostKey: key } }),
            step("direct", { host: "b", hostKey: key }),
            step("open", { host: "h", proxy: { host: "b" } }),
            step("open-proxy", { host: "h", hostKey: key, proxy: { host: "b" } }),
            step("redacted", "[secret]"),
        ]).filter((v) => v.policy === "ssh-host-keys-unpinned");
        assert.deepEqual(
            messages.map((v) => /SSH step (\S+) does not check the host key of (.*) \(connection/.exec(v.message)?.slice(1, 3)),
            [
                ["open", "its host or its proxy (the bastion)"],
                ["open-proxy", "its proxy (the bastion)"],
            ],
        );
    });

    it("fails fewer than 3 control-plane instances", () => {
        only(
            weakened((resources) => {
                resources.splice(
                    resources.findIndex((r) => r.name === "prod-master-sa-3"),
                    1,
                );
            }),
            /^\[single-control-plane\] 2 control-plane instance\(s\)/,
        );
    });

    it("plan --policy: prod passes; a prod plan weakened past its acknowledgement exits 1 with the rules' messages", () => {
        assert.match(stdout.prod, /6 production policies passed/);
        assert.match(stdout.dev, /dev is not a production stack/);
        // The program's acknowledgement does not silence the pack (the platform team's view).
        const fail = runPlan([
            "--stack",
            "prod",
            "--quiet",
            "--policy",
            "--config",
            "acceptUnsafeProduction=true",
            "--config",
            "insecure=true",
            "--config",
            "bastionSshCidrs[0]=0.0.0.0/1",
            "--config",
            "bastionSshCidrs[1]=128.0.0.0/1",
            "--config",
            "sshHostKeys=unpinned",
        ]);
        assert.equal(fail.code, 1, fail.stdout);
        // The pack sees inside the secret connections, as CrossGuard does; the plan prints none of it.
        assert.match(
            fail.stderr,
            /\[ssh-host-keys-unpinned\] the SSH step prod-master-sa-1-bootstrap does not check the host key of its host or its proxy \(the bastion\)/,
        );
        assert.match(fail.stderr, /\[ssh-host-keys-unpinned\] the SSH step prod-boot-bundle does not check the host key of its host/);
        assert.match(fail.stderr, /\[bastion-ssh-open-to-world\] SSH \(22\) is open to every IPv4 address/);
        assert.match(fail.stderr, /\[cloud-api-tls-unverified\]/);
    });
});
