// Scopes the controllers' upstream example policies to this cluster. The upstream policy of
// each controller is the ceiling (cluster/iam-policies/, unchanged); from it we
//   1. drop the actions the controllers never call here (DROPPED_ACTIONS, each with a reason);
//   2. tighten upstream tag conditions from "any cluster's" to this cluster's
//      (elbv2.k8s.aws/cluster = <env>; the EBS CSI tags -> kubernetes.io/cluster/<env> = owned);
//   3. give every write that upstream grants without a condition a tag condition
//      (WRITE_SCOPES): aws:ResourceTag for changes to existing resources, aws:RequestTag or
//      ec2:CreateAction for tags written at creation. A write left without a condition is an
//      exception listed in WRITE_SCOPES with its reason (tests/cluster-iam.test.ts checks this
//      statement by statement).
// Whether zCompute evaluates these condition keys is not documented (its IAM has no resource
// tags); docs/security-production.md lists what a first deployment must confirm.
import { clusterTagKey } from "../infra/tags";
import type { PolicyStatement } from "./policy-document";

export type PolicyOwner = "ccm" | "ebsCsi" | "loadBalancerController" | "autoscaler";

/** Reads: no condition needed (EC2/ELB Describe* take no resource-level permissions). */
export function isReadAction(action: string): boolean {
    return /^[a-z0-9-]+:(Describe|Get|List)/.test(action) || action === "ecr:BatchCheckLayerAvailability" || action === "ecr:BatchGetImage";
}

const ROUTES_OFF = "the route controller is off (--configure-cloud-routes=false in addons/values.ts): the CNI routes pod traffic";
const VOLUMES_ARE_CSI = "volumes are the EBS CSI driver's; the external cloud controller manager has no volume code (legacy in-tree entries)";
const NO_WAF_SHIELD = "enableWaf, enableWafv2 and enableShield are false (addons/values.ts): zCompute has none of these services";

/** Actions removed from an upstream policy, with the reason. */
export const DROPPED_ACTIONS: Record<PolicyOwner, Record<string, string>> = {
    ccm: {
        "ec2:CreateRoute": ROUTES_OFF,
        "ec2:DeleteRoute": ROUTES_OFF,
        "ec2:ModifyInstanceAttribute": `${ROUTES_OFF}; only the route controller changes an instance (source/destination check)`,
        "ec2:CreateVolume": VOLUMES_ARE_CSI,
        "ec2:AttachVolume": VOLUMES_ARE_CSI,
        "ec2:DetachVolume": VOLUMES_ARE_CSI,
        "ec2:DeleteVolume": VOLUMES_ARE_CSI,
        "ec2:ModifyVolume": VOLUMES_ARE_CSI,
    },
    ebsCsi: {
        "ec2:EnableFastSnapshotRestores": "AWS fast snapshot restore: used only when a VolumeSnapshotClass asks for it; zCompute has no such feature",
    },
    loadBalancerController: {
        "elasticloadbalancing:SetWebAcl": NO_WAF_SHIELD,
        "waf-regional:AssociateWebACL": NO_WAF_SHIELD,
        "waf-regional:DisassociateWebACL": NO_WAF_SHIELD,
        "wafv2:AssociateWebACL": NO_WAF_SHIELD,
        "wafv2:DisassociateWebACL": NO_WAF_SHIELD,
        "shield:CreateProtection": NO_WAF_SHIELD,
        "shield:DeleteProtection": NO_WAF_SHIELD,
    },
    autoscaler: {},
};

/** The tags the conditions name. */
type TagName = "cluster" | "loadBalancerController" | "autoscaler";

function tagKey(tag: TagName, environment: string): string {
    switch (tag) {
        case "cluster":
            return clusterTagKey(environment);
        case "loadBalancerController":
            return "elbv2.k8s.aws/cluster";
        case "autoscaler":
            return `k8s.io/cluster-autoscaler/${environment}`;
    }
}

/** How one write is scoped; an action may need two statements (either may allow it). */
export type WriteScope =
    | { kind: "resource-tag"; tag: TagName; values: "owned" | "owned-or-shared" | "environment"; resource?: string[] }
    | { kind: "request-tag"; tag: TagName; values: "owned" | "environment"; resource?: string[] }
    | { kind: "create-action"; createActions: string[]; resource?: string[] }
    | { kind: "service-linked-role"; service: string }
    | { kind: "unconditioned"; reason: string };

const SECURITY_GROUP_ARN = ["arn:aws:ec2:*:*:security-group/*"];
const OWNED: WriteScope = { kind: "resource-tag", tag: "cluster", values: "owned" };
const LBC_OWNED: WriteScope = { kind: "resource-tag", tag: "loadBalancerController", values: "environment" };
const NO_TAG_AT_CREATE =
    "zCompute rejects tags in CreateSecurityGroup (docs/security-production.md), so no request tag can be required; the controller tags the group in a second, tag-scoped call, and an empty group grants nothing";
const LISTENERS =
    "listeners and listener rules carry no cluster tag of their own; upstream grants these unconditioned and they change only a load balancer the controller created";

/** Every write an upstream statement grants without a condition, by owner and action. */
export const WRITE_SCOPES: Record<PolicyOwner, Record<string, WriteScope[]>> = {
    ccm: {
        "ec2:CreateSecurityGroup": [{ kind: "unconditioned", reason: NO_TAG_AT_CREATE }],
        // The CCM tags a new load-balancer group with the cluster tag after creating it.
        "ec2:CreateTags": [{ kind: "request-tag", tag: "cluster", values: "owned", resource: SECURITY_GROUP_ARN }],
        // The nodes' group is tagged shared (infra/network.ts), the CCM's own groups owned.
        "ec2:AuthorizeSecurityGroupIngress": [{ kind: "resource-tag", tag: "cluster", values: "owned-or-shared" }],
        "ec2:RevokeSecurityGroupIngress": [{ kind: "resource-tag", tag: "cluster", values: "owned-or-shared" }],
        "ec2:DeleteSecurityGroup": [OWNED],
        "elasticloadbalancing:CreateLoadBalancer": [{ kind: "request-tag", tag: "cluster", values: "owned" }],
        "elasticloadbalancing:CreateTargetGroup": [{ kind: "request-tag", tag: "cluster", values: "owned" }],
        "elasticloadbalancing:AddTags": [OWNED],
        "elasticloadbalancing:AttachLoadBalancerToSubnets": [OWNED],
        "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer": [OWNED],
        "elasticloadbalancing:CreateLoadBalancerPolicy": [OWNED],
        "elasticloadbalancing:CreateLoadBalancerListeners": [OWNED],
        "elasticloadbalancing:ConfigureHealthCheck": [OWNED],
        "elasticloadbalancing:DeleteLoadBalancer": [OWNED],
        "elasticloadbalancing:DeleteLoadBalancerListeners": [OWNED],
        "elasticloadbalancing:DetachLoadBalancerFromSubnets": [OWNED],
        "elasticloadbalancing:DeregisterInstancesFromLoadBalancer": [OWNED],
        "elasticloadbalancing:ModifyLoadBalancerAttributes": [OWNED],
        "elasticloadbalancing:RegisterInstancesWithLoadBalancer": [OWNED],
        "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer": [OWNED],
        "elasticloadbalancing:SetLoadBalancerPoliciesOfListener": [OWNED],
        "elasticloadbalancing:DeleteTargetGroup": [OWNED],
        "elasticloadbalancing:ModifyTargetGroup": [OWNED],
        "elasticloadbalancing:RegisterTargets": [OWNED],
        "elasticloadbalancing:DeregisterTargets": [OWNED],
        "elasticloadbalancing:CreateListener": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:DeleteListener": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:ModifyListener": [{ kind: "unconditioned", reason: LISTENERS }],
        "iam:CreateServiceLinkedRole": [{ kind: "service-linked-role", service: "elasticloadbalancing.amazonaws.com" }],
    },
    ebsCsi: {
        // k8sTagClusterId (addons/values.ts) makes the driver tag every volume and snapshot
        // kubernetes.io/cluster/<env>=owned; instances carry the same tag.
        "ec2:AttachVolume": [OWNED],
        "ec2:DetachVolume": [OWNED],
        "ec2:ModifyVolume": [OWNED],
        "ec2:CreateSnapshot": [OWNED],
        "ec2:CopyVolumes": [OWNED],
        "ec2:CreateVolume": [OWNED],
        "ec2:DeleteTags": [OWNED],
        "ec2:CreateTags": [{ kind: "create-action", createActions: ["CreateVolume", "CreateSnapshot"] }, OWNED],
    },
    loadBalancerController: {
        "ec2:CreateSecurityGroup": [{ kind: "unconditioned", reason: NO_TAG_AT_CREATE }],
        // Backend rules go into the nodes' group (tagged shared), frontend rules into its own.
        "ec2:AuthorizeSecurityGroupIngress": [{ kind: "resource-tag", tag: "cluster", values: "owned-or-shared" }, LBC_OWNED],
        "ec2:RevokeSecurityGroupIngress": [{ kind: "resource-tag", tag: "cluster", values: "owned-or-shared" }, LBC_OWNED],
        "elasticloadbalancing:RegisterTargets": [LBC_OWNED],
        "elasticloadbalancing:DeregisterTargets": [LBC_OWNED],
        "elasticloadbalancing:CreateListener": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:DeleteListener": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:CreateRule": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:DeleteRule": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:ModifyListener": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:ModifyRule": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:AddListenerCertificates": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:RemoveListenerCertificates": [{ kind: "unconditioned", reason: LISTENERS }],
        "elasticloadbalancing:AddTags": [{ kind: "unconditioned", reason: `${LISTENERS} (upstream: tags of listeners and rules only)` }],
        "elasticloadbalancing:RemoveTags": [{ kind: "unconditioned", reason: `${LISTENERS} (upstream: tags of listeners and rules only)` }],
    },
    autoscaler: {
        // The worker ASGs carry k8s.io/cluster-autoscaler/<env>=owned (cluster/node-groups.ts).
        "autoscaling:SetDesiredCapacity": [{ kind: "resource-tag", tag: "autoscaler", values: "owned" }],
        "autoscaling:TerminateInstanceInAutoScalingGroup": [{ kind: "resource-tag", tag: "autoscaler", values: "owned" }],
    },
};

/** Tag keys of upstream conditions that mean "some cluster's" and become "this cluster's". */
const EBS_CSI_TAGS = ["ebs.csi.aws.com/cluster", "CSIVolumeName", "CSIVolumeSnapshotName", "kubernetes.io/created-for/pvc/name"];
const LBC_TAG = "elbv2.k8s.aws/cluster";

type Condition = Record<string, Record<string, unknown>>;

/**
 * An upstream condition narrowed to this cluster: "the LBC tag exists" becomes "the LBC tag
 * names this cluster"; "an EBS CSI tag exists" becomes "kubernetes.io/cluster/<env> = owned".
 */
export function tightenCondition(condition: Condition, environment: string): Condition {
    const result: Condition = {};
    const put = (operator: string, key: string, value: unknown) => {
        result[operator] = { ...(result[operator] ?? {}), [key]: value };
    };
    for (const [operator, entries] of Object.entries(condition)) {
        for (const [key, value] of Object.entries(entries)) {
            const match = /^(aws|ec2):(RequestTag|ResourceTag)\/(.+)$/.exec(key);
            if (match && match[3] === LBC_TAG && operator === "Null" && value === "false") {
                put("StringEquals", `aws:${match[2]}/${LBC_TAG}`, environment);
            } else if (match && EBS_CSI_TAGS.includes(match[3])) {
                put("StringEquals", `aws:${match[2]}/${clusterTagKey(environment)}`, "owned");
            } else {
                put(operator, key, value);
            }
        }
    }
    return result;
}

function conditionOf(scope: WriteScope, environment: string): Condition | undefined {
    switch (scope.kind) {
        case "resource-tag": {
            const values = scope.values === "owned" ? "owned" : scope.values === "owned-or-shared" ? ["owned", "shared"] : environment;
            return { StringEquals: { [`aws:ResourceTag/${tagKey(scope.tag, environment)}`]: values } };
        }
        case "request-tag":
            return { StringEquals: { [`aws:RequestTag/${tagKey(scope.tag, environment)}`]: scope.values === "owned" ? "owned" : environment } };
        case "create-action":
            return { StringEquals: { "ec2:CreateAction": scope.createActions } };
        case "service-linked-role":
            return { StringEquals: { "iam:AWSServiceName": scope.service } };
        case "unconditioned":
            return undefined;
    }
}

function list(value: string | string[] | undefined): string[] {
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The upstream statements of one owner, scoped to this cluster (see the file comment). */
export function scopeStatements(owner: PolicyOwner, upstream: PolicyStatement[], environment: string): PolicyStatement[] {
    const scoped: PolicyStatement[] = [];
    const add = (statement: PolicyStatement) => {
        const key = JSON.stringify(statement);
        if (!scoped.some((s) => JSON.stringify(s) === key)) {
            scoped.push(statement);
        }
    };
    for (const statement of upstream) {
        const actions = list(statement.Action).filter((action) => DROPPED_ACTIONS[owner][action] === undefined);
        const reads = actions.filter(isReadAction);
        const writes = actions.filter((action) => !isReadAction(action));
        if (reads.length > 0) {
            add({ ...statement, Action: reads });
        }
        if (writes.length === 0) {
            continue;
        }
        if (statement.Condition !== undefined) {
            add({ ...statement, Action: writes, Condition: tightenCondition(statement.Condition, environment) });
            continue;
        }
        // Unconditioned upstream writes: one statement per scope, actions of one scope together.
        const byScope = new Map<string, { resource: string | string[] | undefined; condition: Condition | undefined; actions: string[] }>();
        for (const action of writes) {
            const scopes = WRITE_SCOPES[owner][action];
            if (scopes === undefined) {
                throw new Error(`IAM scoping: ${owner} grants ${action} without a condition and WRITE_SCOPES has no entry for it`);
            }
            for (const scope of scopes) {
                const resource = scope.kind !== "unconditioned" && scope.kind !== "service-linked-role" && scope.resource ? scope.resource : statement.Resource;
                const condition = conditionOf(scope, environment);
                const key = JSON.stringify([resource, condition]);
                const entry = byScope.get(key) ?? { resource, condition, actions: [] };
                entry.actions.push(action);
                byScope.set(key, entry);
            }
        }
        for (const { resource, condition, actions: scopedActions } of byScope.values()) {
            add({ Effect: statement.Effect, Action: scopedActions, Resource: resource, ...(condition ? { Condition: condition } : {}) });
        }
    }
    return scoped;
}

/**
 * What the node scripts call with the control-plane role beyond the controllers' policies:
 * - the worker roll (roll-node-group.sh) raises and restores a group's min/max around a roll, on
 *   this cluster's worker groups only (the autoscaler tag, as SetDesiredCapacity);
 * - a control-plane node turns its own termination protection on after its gate and off once
 *   it left etcd (lib.sh), on this cluster's control-plane instances only.
 */
export function nodeScriptStatements(environment: string): PolicyStatement[] {
    return [
        {
            Effect: "Allow",
            Action: ["autoscaling:UpdateAutoScalingGroup"],
            Resource: "*",
            Condition: conditionOf({ kind: "resource-tag", tag: "autoscaler", values: "owned" }, environment),
        },
        {
            Effect: "Allow",
            Action: ["ec2:ModifyInstanceAttribute"],
            Resource: "*",
            Condition: { StringEquals: { [`aws:ResourceTag/${tagKey("cluster", environment)}`]: "owned", "aws:ResourceTag/kubernetes.io/role": "master" } },
        },
    ];
}
