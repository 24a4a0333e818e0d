// IAM for the two node roles. The cloud controllers (CCM, EBS CSI controller, load balancer
// controller, cluster autoscaler) run on control-plane nodes, so only that role gets their
// permissions; the etcd backup needs none (its export uses the object storage's own
// credentials, tests/script-cloud-calls.test.ts); workers get what a kubelet needs (reads only). The statements
// are the upstream example policies at the add-on versions we install (see
// iam-policies/SOURCES.md), scoped to this cluster by ./iam-scoping.ts: unused actions dropped,
// every write conditioned on this cluster's tags except the listed exceptions.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { compareVersions } from "../model/version-order";
import ccmControlPlanePolicy008 from "./iam-policies/aws-cloud-controller-manager-control-plane-0.0.8.json";
import ccmControlPlanePolicy0011 from "./iam-policies/aws-cloud-controller-manager-control-plane-0.0.11.json";
import ccmNodePolicy from "./iam-policies/aws-cloud-controller-manager-node.json";
import ebsCsiPolicy2330 from "./iam-policies/aws-ebs-csi-driver-2.33.0.json";
import ebsCsiPolicy2393 from "./iam-policies/aws-ebs-csi-driver-2.39.3.json";
import ebsCsiPolicy2640 from "./iam-policies/aws-ebs-csi-driver-2.64.0.json";
import loadBalancerControllerPolicy172 from "./iam-policies/aws-load-balancer-controller-1.7.2.json";
import clusterAutoscalerPolicy9370 from "./iam-policies/cluster-autoscaler-full-9.37.0.json";
import clusterAutoscalerPolicy9380 from "./iam-policies/cluster-autoscaler-full-9.38.0.json";
import clusterAutoscalerPolicy9590 from "./iam-policies/cluster-autoscaler-full-9.59.0.json";
import { PolicyOwner, scopeStatements, nodeScriptStatements } from "./iam-scoping";
import type { PolicyDocument, PolicyStatement } from "./policy-document";

export type { PolicyDocument, PolicyStatement };

export type NodeRole = "control-plane" | "worker";

const POLICY_VERSION = "2012-10-17";

/** Chart versions of the controllers that run with the control-plane role's permissions. */
export interface ControllerChartVersions {
    ccm: string;
    ebsCsi: string;
    loadBalancerController: string;
    autoscaler: string;
}

type StatementData = { Statement: object[] };

/** Upstream example policy per chart version we pin (data files, see iam-policies/SOURCES.md). */
export const CONTROLLER_POLICIES: Record<keyof ControllerChartVersions, Record<string, StatementData>> = {
    ccm: { "0.0.8": ccmControlPlanePolicy008, "0.0.11": ccmControlPlanePolicy0011 },
    ebsCsi: { "2.33.0": ebsCsiPolicy2330, "2.39.3": ebsCsiPolicy2393, "2.64.0": ebsCsiPolicy2640 },
    loadBalancerController: { "1.7.2": loadBalancerControllerPolicy172 },
    autoscaler: { "9.37.0": clusterAutoscalerPolicy9370, "9.38.0": clusterAutoscalerPolicy9380, "9.59.0": clusterAutoscalerPolicy9590 },
};

/**
 * The policy version for a chart version: the same version when we hold its policy, else the
 * newest one below it (an `addonOverrides` version we have no data for), else the oldest.
 */
export function policyVersionFor(controller: keyof ControllerChartVersions, chartVersion: string): string {
    const known = Object.keys(CONTROLLER_POLICIES[controller]).sort(compareVersions);
    const atOrBelow = known.filter((version) => compareVersions(version, chartVersion) <= 0);
    return atOrBelow.length > 0 ? atOrBelow[atOrBelow.length - 1] : known[0];
}

function controllerPolicy(controller: keyof ControllerChartVersions, chartVersion: string, environment: string): PolicyDocument {
    const data = CONTROLLER_POLICIES[controller][policyVersionFor(controller, chartVersion)];
    if (data === undefined) {
        throw new Error(`no IAM policy data for ${controller} ${chartVersion}`);
    }
    return scoped(controller, data.Statement, environment);
}

/** The upstream statements scoped to the cluster `environment` names. */
function scoped(owner: PolicyOwner, statements: object[], environment: string): PolicyDocument {
    return { Version: POLICY_VERSION, Statement: scopeStatements(owner, document(statements).Statement, environment) };
}

/**
 * The policy documents of one role, keyed by purpose. One managed policy per purpose because
 * the union for the control plane (~9 KB) exceeds the 6,144-character limit of one policy.
 */
export function policyDocumentsFor(role: NodeRole, charts: ControllerChartVersions, environment: string): Record<string, PolicyDocument> {
    // The node policy grants reads only (tests/cluster-iam.test.ts): nothing to scope.
    const node = document(ccmNodePolicy.Statement);
    if (role === "worker") {
        return { node };
    }
    return {
        node: node,
        "cloud-controller": controllerPolicy("ccm", charts.ccm, environment),
        "ebs-csi": controllerPolicy("ebsCsi", charts.ebsCsi, environment),
        "load-balancer-controller": controllerPolicy("loadBalancerController", charts.loadBalancerController, environment),
        "cluster-autoscaler": controllerPolicy("autoscaler", charts.autoscaler, environment),
        "node-scripts": document(nodeScriptStatements(environment)),
    };
}

/** Trust policy: EC2 instances may assume the role. */
export function ec2AssumeRolePolicy(): PolicyDocument {
    return document([
        {
            Effect: "Allow",
            Principal: { Service: "ec2.amazonaws.com" },
            Action: "sts:AssumeRole",
        },
    ]);
}

/** Statements from the JSON data (typed loosely by the compiler), deep-copied. */
function document(statements: object[]): PolicyDocument {
    return { Version: POLICY_VERSION, Statement: JSON.parse(JSON.stringify(statements)) as PolicyStatement[] };
}

export interface NodeIamArgs {
    environment: string;
    role: NodeRole;
    /** The controllers' chart versions: their upstream policies change between versions. */
    controllerCharts: ControllerChartVersions;
    /** Random suffix for IAM names: IAM keeps deleted names reserved for minutes. */
    nameSuffix: pulumi.Input<string>;
    /** Use this existing instance profile; then no IAM resource is created for the role. */
    existingInstanceProfile?: string;
    provider: aws.Provider;
    parent: pulumi.Resource;
}

/** Role, policies and instance profile of one node role, or an existing instance profile. */
export class NodeIam {
    readonly instanceProfileName: pulumi.Output<string>;
    /** Undefined when an existing instance profile was given. */
    readonly roleName: pulumi.Output<string | undefined>;
    readonly resources: pulumi.Resource[] = [];

    constructor(private readonly args: NodeIamArgs) {
        if (args.existingInstanceProfile !== undefined) {
            this.instanceProfileName = pulumi.output(args.existingInstanceProfile);
            this.roleName = pulumi.output(undefined);
            return;
        }
        // zCompute has no IAM tags: no tags on any of these resources.
        const opts: pulumi.CustomResourceOptions = { provider: args.provider, parent: args.parent };
        const baseName = `${args.environment}-${args.role}`;
        const role = new aws.iam.Role(
            `${baseName}-role`,
            {
                name: this.physicalName(""),
                assumeRolePolicy: JSON.stringify(ec2AssumeRolePolicy()),
                description: `zadara-eksd ${args.role} nodes of ${args.environment}`,
            },
            opts,
        );
        this.resources.push(role);

        for (const [purpose, policyDocument] of Object.entries(policyDocumentsFor(args.role, args.controllerCharts, args.environment))) {
            const policy = new aws.iam.Policy(
                `${baseName}-${purpose}-policy`,
                {
                    name: this.physicalName(`-${purpose}`),
                    policy: JSON.stringify(policyDocument),
                    description: `zadara-eksd ${args.role} nodes: ${purpose}`,
                },
                opts,
            );
            const attachment = new aws.iam.RolePolicyAttachment(
                `${baseName}-${purpose}-attachment`,
                {
                    role: role.name,
                    policyArn: policy.arn,
                },
                opts,
            );
            this.resources.push(policy, attachment);
        }

        const profile = new aws.iam.InstanceProfile(
            `${baseName}-profile`,
            {
                name: this.physicalName(""),
                role: role.name,
            },
            { ...opts, dependsOn: this.resources.slice() },
        );
        this.resources.push(profile);
        this.instanceProfileName = profile.name;
        this.roleName = role.name;
    }

    /** `<env>-<role><part>-<suffix>`, e.g. dev-worker-node-k3x9q2. */
    private physicalName(part: string): pulumi.Output<string> {
        return pulumi.interpolate`${this.args.environment}-${this.args.role}${part}-${this.args.nameSuffix}`;
    }
}
