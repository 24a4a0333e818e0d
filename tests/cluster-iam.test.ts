// IAM of the node roles: the control plane holds the cloud controllers' permissions, workers
// only the kubelet's; no service-wide wildcard anywhere; IAM resources are not tagged.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { buildClusters, resource, resourcesOf, secretValue } from "./helpers/cluster-fixture";
import { CONTROLLER_POLICIES, ControllerChartVersions, ec2AssumeRolePolicy, PolicyDocument, policyDocumentsFor, policyVersionFor } from "../cluster/iam";
import { pinsFor, SUPPORTED_EKSD_VERSIONS } from "../addons/versions";

/** The controllers' chart versions pinned for one EKS-D minor. */
function chartsOf(minor: string): ControllerChartVersions {
    const { ccm, ebsCsi, loadBalancerController, autoscaler } = pinsFor(minor).versions;
    return { ccm, ebsCsi, loadBalancerController, autoscaler };
}

function actionsOf(document: PolicyDocument): string[] {
    return document.Statement.flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]));
}

function allActions(documents: Record<string, PolicyDocument>): Set<string> {
    return new Set(Object.values(documents).flatMap(actionsOf));
}

describe("IAM policy documents", () => {
    const controlPlane = policyDocumentsFor("control-plane", chartsOf("1.30"), "dev");
    const worker = policyDocumentsFor("worker", chartsOf("1.30"), "dev");

    it("never grants a service-wide wildcard such as ec2:*", () => {
        for (const documents of [controlPlane, worker]) {
            for (const action of allActions(documents)) {
                assert.doesNotMatch(action, /^[a-z0-9-]+:\*$/, `wildcard action ${action}`);
                assert.notEqual(action, "*");
            }
        }
    });

    it("gives the control plane what CCM, EBS CSI, LBC and the autoscaler call", () => {
        const actions = allActions(controlPlane);
        for (const action of [
            // CCM
            "ec2:DescribeInstances",
            "ec2:CreateSecurityGroup",
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:RegisterTargets",
            // EBS CSI controller
            "ec2:CreateVolume",
            "ec2:AttachVolume",
            "ec2:DetachVolume",
            "ec2:DeleteVolume",
            "ec2:CreateSnapshot",
            "ec2:DescribeVolumesModifications",
            // LBC
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:ModifyListener",
            "ec2:DescribeNetworkInterfaces",
            "acm:ListCertificates",
            // Cluster autoscaler
            "autoscaling:SetDesiredCapacity",
            "autoscaling:TerminateInstanceInAutoScalingGroup",
            "autoscaling:DescribeAutoScalingGroups",
        ]) {
            assert.ok(actions.has(action), `control plane lacks ${action}`);
        }
    });

    it("keeps workers to node-level reads", () => {
        const actions = allActions(worker);
        assert.deepEqual([...actions].sort(), [
            "ec2:DescribeInstances",
            "ec2:DescribeRegions",
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:DescribeRepositories",
            "ecr:GetAuthorizationToken",
            "ecr:GetDownloadUrlForLayer",
            "ecr:GetRepositoryPolicy",
            "ecr:ListImages",
        ]);
        for (const forbidden of ["ec2:CreateVolume", "ec2:AttachVolume", "ec2:CreateSnapshot", "autoscaling:SetDesiredCapacity"]) {
            assert.ok(!actions.has(forbidden), `worker has ${forbidden}`);
        }
        assert.ok(![...actions].some((action) => action.startsWith("elasticloadbalancing:")), "worker has elasticloadbalancing actions");
    });

    it("carries the statements of the policy data files unchanged", () => {
        const dataDir = path.join(__dirname, "..", "cluster", "iam-policies");
        const fileOf: Record<keyof ControllerChartVersions, (version: string) => string> = {
            ccm: (v) => `aws-cloud-controller-manager-control-plane-${v}.json`,
            ebsCsi: (v) => `aws-ebs-csi-driver-${v}.json`,
            loadBalancerController: (v) => `aws-load-balancer-controller-${v}.json`,
            autoscaler: (v) => `cluster-autoscaler-full-${v}.json`,
        };
        let compared = 0;
        for (const [controller, byVersion] of Object.entries(CONTROLLER_POLICIES) as Array<
            [keyof ControllerChartVersions, Record<string, { Statement: object[] }>]
        >) {
            for (const [version, data] of Object.entries(byVersion)) {
                const inRepo = JSON.parse(fs.readFileSync(path.join(dataDir, fileOf[controller](version)), "utf8"));
                assert.deepEqual(data.Statement, inRepo.Statement, `${controller} ${version}`);
                compared++;
            }
        }
        assert.equal(compared, 9);
        assert.deepEqual(
            controlPlane.node.Statement,
            JSON.parse(fs.readFileSync(path.join(dataDir, "aws-cloud-controller-manager-node.json"), "utf8")).Statement,
        );
    });

    it("holds the policy of every controller chart version pinned for every supported minor", () => {
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            for (const [controller, version] of Object.entries(chartsOf(minor)) as Array<[keyof ControllerChartVersions, string]>) {
                assert.equal(policyVersionFor(controller, version), version, `EKS-D ${minor}: no policy data for ${controller} ${version}`);
            }
        }
    });

    it("grants what each minor's controllers call: EBS CSI 2.64.0 and CCM 0.0.11 need more than 2.33.0 / 0.0.8", () => {
        const actionsFor = (minor: string, purpose: string): string[] => actionsOf(policyDocumentsFor("control-plane", chartsOf(minor), "dev")[purpose]);
        assert.ok(!actionsFor("1.30", "ebs-csi").includes("ec2:DescribeInstanceTypes"));
        assert.ok(actionsFor("1.32", "ebs-csi").includes("ec2:DescribeInstanceTypes"));
        // Upstream grants it from 2.39.3 on; dropped here (cluster/iam-scoping.ts DROPPED_ACTIONS).
        assert.ok(!actionsFor("1.31", "ebs-csi").includes("ec2:EnableFastSnapshotRestores"));
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            assert.ok(actionsFor(minor, "cloud-controller").includes("ec2:DescribeInstanceTopology"), `EKS-D ${minor}: CCM 0.0.11 policy`);
        }
        assert.ok(actionsFor("1.30", "cluster-autoscaler").includes("autoscaling:DescribeTags"));
        assert.ok(!actionsFor("1.35", "cluster-autoscaler").includes("autoscaling:DescribeTags"));
    });

    it("takes the nearest policy at or below an overridden chart version, else the oldest", () => {
        assert.equal(policyVersionFor("ebsCsi", "2.50.1"), "2.39.3");
        assert.equal(policyVersionFor("ebsCsi", "v2.70.0"), "2.64.0");
        assert.equal(policyVersionFor("ebsCsi", "2.20.0"), "2.33.0");
        assert.equal(policyVersionFor("ccm", "0.0.10"), "0.0.8");
        assert.equal(policyVersionFor("loadBalancerController", "1.8.0"), "1.7.2");
    });

    it("uses '*' only as a resource or condition value, exactly where the upstream policies do", (t) => {
        // EC2/ELB Describe* calls take no resource-level permissions, so upstream grants them on
        // Resource "*"; our data files must be those policies, unchanged.
        const upstreamDir = path.join(__dirname, "..", "..", "shared", "iam");
        const dataDir = path.join(__dirname, "..", "cluster", "iam-policies");
        for (const documents of [controlPlane, worker]) {
            for (const document of Object.values(documents)) {
                for (const statement of document.Statement) {
                    const actions = ([] as string[]).concat(statement.Action);
                    assert.ok(
                        actions.every((a) => !a.includes("*") || /^[a-z0-9-]+:[A-Za-z]+\*$/.test(a)),
                        `action wildcard in ${JSON.stringify(actions)}`,
                    );
                }
            }
        }
        if (!fs.existsSync(upstreamDir)) {
            t.skip("the upstream policy copies (../shared/iam) are not beside this checkout");
            return;
        }
        let compared = 0;
        for (const file of fs.readdirSync(dataDir).filter((f) => f.endsWith(".json"))) {
            const upstream = path.join(upstreamDir, file);
            if (fs.existsSync(upstream)) {
                const ours = JSON.parse(fs.readFileSync(path.join(dataDir, file), "utf8"));
                assert.deepEqual(ours.Statement, JSON.parse(fs.readFileSync(upstream, "utf8")).Statement, file);
                compared++;
            }
        }
        assert.ok(compared >= 4, `compared ${compared} policy files with upstream`);
    });

    it("keeps every policy of every minor under IAM's 6,144-character limit", () => {
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            for (const [purpose, document] of Object.entries(policyDocumentsFor("control-plane", chartsOf(minor), "dev"))) {
                assert.ok(JSON.stringify(document).length < 6144, `${minor} ${purpose} policy is too long`);
            }
        }
    });

    it("lets only EC2 assume the roles", () => {
        assert.deepEqual(ec2AssumeRolePolicy().Statement, [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }]);
    });
});

describe("IAM resources", () => {
    it("creates a role, policies, attachments and an instance profile per role, untagged, with random-suffixed names", async () => {
        await buildClusters();
        for (const role of ["control-plane", "worker"]) {
            const iamRole = resource("aws:iam/role:Role", `dev-${role}-role`);
            assert.match(String(iamRole.inputs.name), new RegExp(`^dev-${role}-[a-z0-9]{6}$`));
            assert.deepEqual(JSON.parse(String(iamRole.inputs.assumeRolePolicy)), ec2AssumeRolePolicy());
            const profile = resource("aws:iam/instanceProfile:InstanceProfile", `dev-${role}-profile`);
            assert.equal(profile.inputs.role, iamRole.inputs.name);
            const policies = resourcesOf("aws:iam/policy:Policy", `dev-${role}-`);
            const expected = Object.keys(policyDocumentsFor(role as "control-plane" | "worker", chartsOf("1.30"), "dev"));
            assert.equal(policies.length, expected.length);
            for (const policy of policies) {
                assert.match(String(policy.inputs.name), new RegExp(`^dev-${role}-[a-z-]+-[a-z0-9]{6}$`));
                const parsed = JSON.parse(String(policy.inputs.policy)) as PolicyDocument;
                assert.equal(parsed.Version, "2012-10-17");
            }
            assert.equal(resourcesOf("aws:iam/rolePolicyAttachment:RolePolicyAttachment", `dev-${role}-`).length, expected.length);
        }
        for (const iam of resourcesOf("aws:iam/role:Role").concat(
            resourcesOf("aws:iam/policy:Policy"),
            resourcesOf("aws:iam/instanceProfile:InstanceProfile"),
        )) {
            assert.equal(iam.inputs.tags, undefined, `${iam.name} is tagged (zCompute has no IAM tags)`);
        }
    });

    it("creates no IAM when existing instance profiles are given, and uses them", async () => {
        const { asgc } = await buildClusters();
        for (const type of [
            "aws:iam/role:Role",
            "aws:iam/policy:Policy",
            "aws:iam/instanceProfile:InstanceProfile",
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        ]) {
            assert.equal(resourcesOf(type, "asgc-").length, 0, `${type} created although profiles were given`);
        }
        assert.equal(resource("aws:ec2/instance:Instance", "asgc-master-sa-1").inputs.iamInstanceProfile, "existing-masters");
        assert.equal(resource("aws:ec2/launchConfiguration:LaunchConfiguration", "asgc-workers").inputs.iamInstanceProfile, "existing-workers");
        const roleName = await new Promise((resolve) => asgc.controlPlaneRoleName.apply(resolve));
        assert.equal(roleName, undefined);
    });

    it("gives nodes the profiles created for their role", async () => {
        await buildClusters();
        const cpProfile = resource("aws:iam/instanceProfile:InstanceProfile", "dev-control-plane-profile").inputs.name;
        const workerProfile = resource("aws:iam/instanceProfile:InstanceProfile", "dev-worker-profile").inputs.name;
        assert.equal(resource("aws:ec2/instance:Instance", "dev-master-sa-1").inputs.iamInstanceProfile, cpProfile);
        assert.equal(resource("aws:ec2/launchConfiguration:LaunchConfiguration", "dev-workers").inputs.iamInstanceProfile, workerProfile);
        // User data is present on both; only the worker's (it holds the join token) is secret.
        assert.equal(typeof resource("aws:ec2/instance:Instance", "dev-master-sa-1").inputs.userDataBase64, "string");
        secretValue(resource("aws:ec2/launchConfiguration:LaunchConfiguration", "dev-workers").inputs.userDataBase64);
    });
});
