// The offline plan end to end: both stacks plan cleanly, overrides behave like
// `pulumi config set`, bad config stops everything, and no secret leaks into the output.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runPlan } from "./helpers/plan-cli";

const SECRET_VALUES = {
    accessKey: "AKIAPLANTESTACCESS01",
    secretKey: "plan-test-secret-key-value-0123456789",
    bastionSshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nplan-test-bastion-key-material\n-----END OPENSSH PRIVATE KEY-----",
    nodeSshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nplan-test-node-key-material\n-----END OPENSSH PRIVATE KEY-----",
    etcdBackupAccessKeyId: "plan-test-backup-access-key-id",
    etcdBackupSecretAccessKey: "plan-test-backup-secret-access-key",
};
const secretArgs = Object.entries(SECRET_VALUES).flatMap(([key, value]) => ["--secret", `${key}=${value}`]);

function typesOf(run: ReturnType<typeof runPlan>): string[] {
    return run.plan!.resources.map((r) => r.type);
}

/** Transitive dependency test over a plan's recorded resources (a resource also waits for its provider). */
function dependencyCheck(run: ReturnType<typeof runPlan>): (from: string, target: string) => boolean {
    const byUrn = new Map(run.plan!.resources.map((r) => [r.urn, r]));
    const dependsOn = (from: string, target: string, seen = new Set<string>()): boolean => {
        if (seen.has(from)) {
            return false;
        }
        seen.add(from);
        const resource = byUrn.get(from);
        const deps = [...(resource?.dependencies ?? []), ...(resource?.provider ? [resource.provider] : [])];
        return deps.includes(target) || deps.some((d) => dependsOn(d, target, seen));
    };
    return (from, target) => dependsOn(from, target);
}

describe("offline plan", () => {
    const dev = runPlan(["--stack", "dev"]);
    const prod = runPlan(["--stack", "prod", ...secretArgs]);

    it("plans the dev stack cleanly with offline placeholders", () => {
        assert.equal(dev.code, 0, dev.stderr);
        assert.match(dev.stdout, /offline plan under mocks, nothing was deployed/);
        assert.match(dev.stdout, /offline placeholders stand in for secrets/);
        assert.match(dev.stdout, /zadara:eksd:ZadaraNetwork {2}dev-network/);
        assert.match(dev.stdout, /Resources by type/);
        const types = typesOf(dev);
        for (const type of [
            "zadara:eksd:ZadaraNetwork",
            "zadara:eksd:EksdCluster",
            "zadara:eksd:EksdAddons",
            "aws:ec2/vpc:Vpc",
            "aws:ec2/instance:Instance",
            "aws:autoscaling/group:Group",
            "command:remote:Command",
            "kubernetes:helm.sh/v3:Release",
        ]) {
            assert.ok(types.includes(type), `dev plan has no ${type}`);
        }
    });

    it("plans the prod stack cleanly: three control-plane nodes, API and SSH limited to given CIDRs", () => {
        assert.equal(prod.code, 0, prod.stderr);
        const instances = prod.plan!.resources.filter((r) => r.type === "aws:ec2/instance:Instance" && r.name.includes("master"));
        assert.equal(instances.length, 3);
        const rules = prod.plan!.resources.filter(
            (r) => r.type === "aws:ec2/securityGroupRule:SecurityGroupRule" && (r.name.endsWith("api-in") || r.name.endsWith("ssh-in")),
        );
        // bastion SSH, the API on the load balancer and (the NLB keeps client addresses) on the control plane
        assert.equal(rules.length, 3);
        for (const rule of rules) {
            assert.deepEqual((rule.inputs as Record<string, unknown>).cidrBlocks, ["198.51.100.0/24"], rule.name);
        }
    });

    it("plans an internal API when Pulumi runs inside the VPC", () => {
        const run = runPlan(["--stack", "prod", ...secretArgs, "--config", "apiPublic=false", "--config", "runsInsideVpc=true"]);
        assert.equal(run.code, 0, run.stderr);
        const nlb = run.plan!.resources.find((r) => r.type === "aws:lb/loadBalancer:LoadBalancer")!;
        assert.equal((nlb.inputs as Record<string, unknown>).internal, true);
        assert.equal(run.plan!.outputs.apiEndpointPublic, undefined);
    });

    it("writes parents so the tree is the component tree", () => {
        const byUrn = new Map(dev.plan!.resources.map((r) => [r.urn, r]));
        const vpc = dev.plan!.resources.find((r) => r.type === "aws:ec2/vpc:Vpc")!;
        assert.equal(byUrn.get(vpc.parent!)?.type, "zadara:eksd:ZadaraNetwork");
    });

    it("runs the destroy cleanup before any add-on release or node is deleted", () => {
        // Pulumi deletes dependents first: the cleanup command must depend on every release
        // and on the nodes, so it runs while the controllers still exist.
        const resources = dev.plan!.resources;
        const cleanup = resources.find((r) => r.type === "command:local:Command" && r.name.includes("cleanup"))!;
        assert.ok(cleanup, "no cleanup command in the plan");
        for (const release of resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release")) {
            assert.ok(cleanup.dependencies.includes(release.urn), `cleanup does not depend on ${release.name}`);
        }
        const master = resources.find((r) => r.type === "aws:ec2/instance:Instance" && r.name.includes("master"))!;
        assert.ok(cleanup.dependencies.includes(master.urn), "cleanup does not depend on the control-plane node");
        const inputs = cleanup.inputs as Record<string, unknown>;
        assert.match(String(inputs.delete), /^test -f tools\/cleanup\.ts .* && node --import tsx tools\/cleanup\.ts --stack dev /);
        assert.ok(String(inputs.delete).includes("--keep arn:"), "the stack's own NLB must be kept");
    });

    it("keeps the network's rules and routes until nodes, add-ons and the cleanup are gone", () => {
        // Nothing references SG rules, routes or DHCP options by id: without explicit
        // dependencies destroy would remove SSH, API and egress paths while they are still used.
        const resources = dev.plan!.resources;
        const plumbing = resources.filter((r) =>
            [
                "aws:ec2/securityGroupRule:SecurityGroupRule",
                "aws:ec2/defaultRouteTable:DefaultRouteTable",
                "aws:ec2/vpcDhcpOptionsAssociation:VpcDhcpOptionsAssociation",
            ].includes(r.type),
        );
        assert.ok(plumbing.length >= 6);
        const users = resources.filter(
            (r) =>
                (r.type === "aws:ec2/instance:Instance" && r.name.includes("master")) ||
                r.type === "aws:ec2/launchConfiguration:LaunchConfiguration" ||
                r.type === "command:remote:Command" ||
                r.type === "pulumi:providers:kubernetes",
        );
        const dependsOn = dependencyCheck(dev);
        for (const user of users) {
            for (const piece of plumbing) {
                assert.ok(dependsOn(user.urn, piece.urn), `${user.name} does not depend on ${piece.name}`);
            }
        }
    });

    it("orders an update: control-plane chain (each replaced node retired), node add-ons, releases, worker rolls, health gate", () => {
        const resources = prod.plan!.resources;
        const dependsOn = dependencyCheck(prod);
        const named = (name: string) => {
            const found = resources.find((r) => r.name === name);
            assert.ok(found, `no ${name} in the plan`);
            return found;
        };
        const lastRetire = named("prod-master-sa-3-retire-replaced");
        const upgradeAddons = named("prod-upgrade-addons");
        assert.ok(dependsOn(upgradeAddons.urn, lastRetire.urn), "CoreDNS/kube-proxy move after every old API server left");
        const releases = resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release");
        assert.ok(releases.length >= 4);
        for (const release of releases) {
            assert.ok(dependsOn(release.urn, upgradeAddons.urn), `${release.name} does not wait for the control plane`);
        }
        const rolls = resources.filter((r) => r.type === "command:remote:Command" && r.name.endsWith("-roll"));
        assert.ok(rolls.length >= 1);
        for (const roll of rolls) {
            for (const release of releases) {
                assert.ok(dependsOn(roll.urn, release.urn), `${roll.name} does not wait for ${release.name}`);
            }
        }
        const health = named("prod-health");
        for (const roll of rolls) {
            assert.ok(dependsOn(health.urn, roll.urn), `the health gate does not wait for ${roll.name}`);
        }
    });

    it("never shows a secret value in the plan output or JSON", () => {
        for (const run of [prod]) {
            for (const [key, value] of Object.entries(SECRET_VALUES)) {
                assert.ok(!run.json!.includes(value), `${key} leaked into the plan JSON`);
                assert.ok(!run.stdout.includes(value), `${key} leaked into the printed plan`);
                // Secrets also travel base64-encoded inside user data or env.
                assert.ok(!run.json!.includes(Buffer.from(value).toString("base64")), `${key} leaked base64-encoded`);
            }
            assert.equal(run.plan!.outputs.kubeconfig, "[secret]");
            assert.ok(run.json!.includes("[secret]"));
            // The control-plane secrets travel on the bootstrap commands' stdin; the worker
            // token in the launch configurations. Both are Pulumi secrets.
            const commands = run.plan!.resources.filter((r) => r.type === "command:remote:Command" && r.name.endsWith("-bootstrap"));
            assert.equal(commands.length, 3);
            for (const command of commands) {
                assert.equal((command.inputs as Record<string, unknown>).stdin, "[secret]", command.name);
            }
            for (const lc of run.plan!.resources.filter((r) => r.type === "aws:ec2/launchConfiguration:LaunchConfiguration")) {
                assert.equal((lc.inputs as Record<string, unknown>).userDataBase64, "[secret]", lc.name);
            }
            assert.ok(!run.json!.includes("PRIVATE KEY"), "a private key is visible without --show-secrets");
            assert.doesNotMatch(run.json!, /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/, "a bootstrap token is visible without --show-secrets");
        }
    });

    it("shows secrets only with --show-secrets", () => {
        const shown = runPlan(["--stack", "dev", "--secret", `accessKey=${SECRET_VALUES.accessKey}`, "--show-secrets"]);
        assert.equal(shown.code, 0, shown.stderr);
        assert.ok(shown.json!.includes(SECRET_VALUES.accessKey));
    });

    it("applies --config overrides like pulumi config set [--path]", () => {
        const run = runPlan(["--stack", "dev", "--config", "cni=cilium", "--config", "nodeGroups.workers.maxSize=7"]);
        assert.equal(run.code, 0, run.stderr);
        const asg = run.plan!.resources.find((r) => r.type === "aws:autoscaling/group:Group")!;
        assert.equal((asg.inputs as Record<string, unknown>).maxSize, 7);
        assert.ok(run.plan!.resources.some((r) => r.type === "kubernetes:helm.sh/v3:Release" && JSON.stringify(r.inputs).includes("cilium")));
    });

    it("gives the control-plane role the policies of the controller charts it installs, overrides included", () => {
        const ebsPolicy = (run: ReturnType<typeof runPlan>): string => {
            const policy = run.plan!.resources.find((r) => r.type === "aws:iam/policy:Policy" && r.name === "dev-control-plane-ebs-csi-policy");
            assert.ok(policy, "no EBS CSI policy in the plan");
            return String((policy.inputs as Record<string, unknown>).policy);
        };
        // On EKS-D 1.30: EBS CSI 2.33.0, whose policy has no DescribeInstanceTypes.
        const old = runPlan(["--stack", "dev", "--config", "eksdVersion=1.30"]);
        assert.equal(old.code, 0, old.stderr);
        assert.doesNotMatch(ebsPolicy(old), /ec2:DescribeInstanceTypes/);
        const overridden = runPlan(["--stack", "dev", "--config", "eksdVersion=1.30", "--config", "addonOverrides.ebsCsi.version=2.64.0"]);
        assert.equal(overridden.code, 0, overridden.stderr);
        assert.match(ebsPolicy(overridden), /ec2:DescribeInstanceTypes/);
    });

    it("stops on bad config with only the validation messages and exit 1", () => {
        const run = runPlan(["--stack", "dev", "--config", "vpcCidr=300.1.0.0/16", "--config", "controlPlaneCount=2"]);
        assert.equal(run.code, 1);
        assert.equal(run.stdout, "");
        assert.match(run.stderr, /zadara-eksd:vpcCidr: "300.1.0.0\/16" is not a valid IPv4 network CIDR/);
        assert.match(run.stderr, /zadara-eksd:controlPlaneCount: 2 is even/);
        assert.equal(run.plan, undefined);
    });

    it("refuses open SSH on the prod stack", () => {
        const run = runPlan(["--stack", "prod", ...secretArgs, "--config", "bastionSshCidrs[0]=0.0.0.0/0"]);
        assert.equal(run.code, 1);
        assert.match(run.stderr, /bastionSshCidrs: opens bastion SSH to the world/);
    });
});
