// The control-plane policies statement by statement: every write is conditioned on this
// cluster's tags (or is a listed exception with its reason), nothing exceeds the controller's
// upstream policy, the dropped actions are gone, and another cluster's tags open nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pinsFor, SUPPORTED_EKSD_VERSIONS } from "../addons/versions";
import { CONTROLLER_POLICIES, ControllerChartVersions, PolicyDocument, PolicyStatement, policyDocumentsFor, policyVersionFor } from "../cluster/iam";
import { DROPPED_ACTIONS, isReadAction, PolicyOwner, scopeStatements, tightenCondition, WRITE_SCOPES } from "../cluster/iam-scoping";

function chartsOf(minor: string): ControllerChartVersions {
    const { ccm, ebsCsi, loadBalancerController, autoscaler } = pinsFor(minor).versions;
    return { ccm, ebsCsi, loadBalancerController, autoscaler };
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const PURPOSE_OWNER: Record<string, PolicyOwner | undefined> = {
    node: undefined,
    "cloud-controller": "ccm",
    "ebs-csi": "ebsCsi",
    "load-balancer-controller": "loadBalancerController",
    "cluster-autoscaler": "autoscaler",
};

/** Every (owner, action) that is an unconditioned write by design, with its reason. */
function exceptions(): Map<string, string> {
    const found = new Map<string, string>();
    for (const [owner, scopes] of Object.entries(WRITE_SCOPES)) {
        for (const [action, entries] of Object.entries(scopes)) {
            for (const entry of entries) {
                if (entry.kind === "unconditioned") {
                    found.set(`${owner} ${action}`, entry.reason);
                }
            }
        }
    }
    return found;
}

function upstreamStatements(owner: PolicyOwner, minor: string): PolicyStatement[] {
    const charts = chartsOf(minor);
    return CONTROLLER_POLICIES[owner][policyVersionFor(owner, charts[owner])].Statement as PolicyStatement[];
}

describe("IAM scoped to the cluster, statement by statement", () => {
    const unconditioned = exceptions();

    for (const minor of SUPPORTED_EKSD_VERSIONS) {
        it(`EKS-D ${minor}: every write is tag-scoped or a listed exception, within the upstream ceiling`, () => {
            const documents = policyDocumentsFor("control-plane", chartsOf(minor), "dev");
            for (const [purpose, document] of Object.entries(documents)) {
                const owner = PURPOSE_OWNER[purpose];
                // A policy of our own (node, node-scripts) has no upstream ceiling: tests/script-cloud-calls.test.ts holds it to what the scripts call.
                const upstreamActions = new Set(
                    owner ? upstreamStatements(owner, minor).flatMap((s) => list(s.Action)) : document.Statement.flatMap((s) => list(s.Action)),
                );
                for (const [index, statement] of document.Statement.entries()) {
                    const where = `${minor} ${purpose} statement ${index}: ${JSON.stringify(statement)}`;
                    assert.equal(statement.Effect, "Allow", where);
                    for (const action of list(statement.Action)) {
                        assert.ok(upstreamActions.has(action), `${where}: ${action} is not in the upstream policy`);
                        if (owner) {
                            assert.equal(DROPPED_ACTIONS[owner][action], undefined, `${where}: dropped action ${action} is back`);
                        }
                        if (isReadAction(action) || statement.Condition !== undefined) {
                            continue;
                        }
                        assert.ok(owner && unconditioned.has(`${owner} ${action}`), `${where}: unconditioned write ${action} without a listed reason`);
                    }
                    // Tag conditions name this cluster, never "any cluster".
                    for (const [operator, entries] of Object.entries(statement.Condition ?? {})) {
                        for (const [key, value] of Object.entries(entries)) {
                            if (/Tag\//.test(key) && operator === "Null") {
                                assert.equal(value, "true", `${where}: "${key} exists" is any cluster's tag`);
                            }
                            if (/Tag\/(ebs\.csi\.aws\.com|CSIVolume|kubernetes\.io\/created-for)/.test(key)) {
                                assert.fail(`${where}: ${key} is any cluster's tag`);
                            }
                            if (/Tag\/elbv2\.k8s\.aws\/cluster$/.test(key) && operator !== "Null") {
                                assert.equal(value, "dev", where);
                            }
                            if (/Tag\/kubernetes\.io\/cluster\//.test(key)) {
                                assert.ok(key.endsWith("/kubernetes.io/cluster/dev"), `${where}: ${key} names another cluster`);
                            }
                        }
                    }
                }
            }
        });
    }

    it("lists the exceptions, each with its reason, and keeps them few", () => {
        assert.deepEqual([...unconditioned.keys()].sort(), [
            "ccm ec2:CreateSecurityGroup",
            "ccm elasticloadbalancing:CreateListener",
            "ccm elasticloadbalancing:DeleteListener",
            "ccm elasticloadbalancing:ModifyListener",
            "loadBalancerController ec2:CreateSecurityGroup",
            "loadBalancerController elasticloadbalancing:AddListenerCertificates",
            "loadBalancerController elasticloadbalancing:AddTags",
            "loadBalancerController elasticloadbalancing:CreateListener",
            "loadBalancerController elasticloadbalancing:CreateRule",
            "loadBalancerController elasticloadbalancing:DeleteListener",
            "loadBalancerController elasticloadbalancing:DeleteRule",
            "loadBalancerController elasticloadbalancing:ModifyListener",
            "loadBalancerController elasticloadbalancing:ModifyRule",
            "loadBalancerController elasticloadbalancing:RemoveListenerCertificates",
            "loadBalancerController elasticloadbalancing:RemoveTags",
        ]);
        for (const [entry, reason] of unconditioned) {
            assert.ok(reason.length > 40, `${entry}: the reason says why`);
        }
    });

    it("no longer grants the writes the issue found account-wide: tags, instances, routes, volumes by the CCM, ASG termination", () => {
        const documents = Object.values(policyDocumentsFor("control-plane", chartsOf("1.30"), "dev"));
        const grants = (action: string): PolicyStatement[] => documents.flatMap((d) => d.Statement.filter((s) => list(s.Action).includes(action)));
        for (const action of ["ec2:CreateRoute", "ec2:DeleteRoute"]) {
            assert.deepEqual(grants(action), [], action);
        }
        // Only a control-plane node's own termination protection, on this cluster's control-plane instances.
        assert.deepEqual(
            grants("ec2:ModifyInstanceAttribute").map((s) => s.Condition),
            [{ StringEquals: { "aws:ResourceTag/kubernetes.io/cluster/dev": "owned", "aws:ResourceTag/kubernetes.io/role": "master" } }],
        );
        for (const action of [
            "ec2:CreateTags",
            "ec2:DeleteSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:CreateLoadBalancer",
            "autoscaling:TerminateInstanceInAutoScalingGroup",
            "autoscaling:SetDesiredCapacity",
            "ec2:DeleteVolume",
            "ec2:AttachVolume",
            "ec2:DeleteSnapshot",
        ]) {
            const statements = grants(action);
            assert.ok(statements.length > 0, `${action} is not granted at all`);
            for (const statement of statements) {
                assert.ok(statement.Condition !== undefined, `${action} unconditioned in ${JSON.stringify(statement)}`);
            }
        }
        // The CCM may tag only security groups, and only with this cluster's ownership tag.
        const ccm = policyDocumentsFor("control-plane", chartsOf("1.30"), "dev")["cloud-controller"];
        const ccmTags = ccm.Statement.filter((s) => list(s.Action).includes("ec2:CreateTags"));
        assert.deepEqual(ccmTags, [
            {
                Effect: "Allow",
                Action: ["ec2:CreateTags"],
                Resource: ["arn:aws:ec2:*:*:security-group/*"],
                Condition: { StringEquals: { "aws:RequestTag/kubernetes.io/cluster/dev": "owned" } },
            },
        ]);
        const autoscaler = policyDocumentsFor("control-plane", chartsOf("1.30"), "dev")["cluster-autoscaler"];
        assert.deepEqual(autoscaler.Statement.find((s) => list(s.Action).includes("autoscaling:SetDesiredCapacity"))?.Condition, {
            StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/dev": "owned" },
        });
    });

    it("tightens upstream conditions from any cluster's tag to this cluster's", () => {
        assert.deepEqual(tightenCondition({ Null: { "aws:RequestTag/elbv2.k8s.aws/cluster": "false" } }, "prod"), {
            StringEquals: { "aws:RequestTag/elbv2.k8s.aws/cluster": "prod" },
        });
        assert.deepEqual(tightenCondition({ StringLike: { "ec2:ResourceTag/CSIVolumeName": "*" } }, "prod"), {
            StringEquals: { "aws:ResourceTag/kubernetes.io/cluster/prod": "owned" },
        });
        // "The tag is absent" (a request that adds no LBC tag) stays as upstream wrote it.
        const absent = { Null: { "aws:RequestTag/elbv2.k8s.aws/cluster": "true", "aws:ResourceTag/elbv2.k8s.aws/cluster": "false" } };
        assert.deepEqual(tightenCondition(absent, "prod"), {
            Null: { "aws:RequestTag/elbv2.k8s.aws/cluster": "true" },
            StringEquals: { "aws:ResourceTag/elbv2.k8s.aws/cluster": "prod" },
        });
        assert.deepEqual(tightenCondition({ StringEquals: { "ec2:CreateAction": ["CreateVolume"] } }, "prod"), {
            StringEquals: { "ec2:CreateAction": ["CreateVolume"] },
        });
    });

    it("refuses an upstream write it has no scope for (a new chart version must be reviewed)", () => {
        assert.throws(
            () => scopeStatements("autoscaler", [{ Effect: "Allow", Action: ["autoscaling:DeleteAutoScalingGroup"], Resource: "*" }], "dev"),
            /autoscaler grants autoscaling:DeleteAutoScalingGroup without a condition and WRITE_SCOPES has no entry/,
        );
    });

    it("each environment gets its own tag values", () => {
        const prod = JSON.stringify(policyDocumentsFor("control-plane", chartsOf("1.30"), "prod"));
        assert.ok(prod.includes("kubernetes.io/cluster/prod") && !prod.includes("kubernetes.io/cluster/dev"));
        const document: PolicyDocument = policyDocumentsFor("worker", chartsOf("1.30"), "prod").node;
        assert.ok(
            document.Statement.every((s) => list(s.Action).every(isReadAction)),
            "workers are read-only",
        );
    });
});
