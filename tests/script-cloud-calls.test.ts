// The cloud API calls the node scripts make, read from the scripts themselves (`cloud_aws
// <service> <op>` and literal `aws <service> <op>` run with the node's role; `export_aws` runs
// with the object storage credentials of the export Secret), mapped to IAM action names. A
// control-plane policy of our own, as opposed to a controller's upstream policy, may grant only
// actions a script calls: the etcd backup's EBS snapshot policy outlived the disk snapshots it
// was written for, and nothing noticed.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { pinsFor } from "../addons/versions";
import { ControllerChartVersions, PolicyDocument, policyDocumentsFor } from "../cluster/iam";

const SCRIPTS_DIR = path.resolve(__dirname, "..", "cluster", "scripts");

/** Policies whose statements are the controllers' upstream examples (cluster/iam-policies). */
const UPSTREAM_PURPOSES = new Set(["node", "cloud-controller", "ebs-csi", "load-balancer-controller", "cluster-autoscaler"]);

type Credentials = "role" | "export";

interface CloudCall {
    script: string;
    credentials: Credentials;
    command: string;
    action: string;
}

const WRAPPERS: Record<string, Credentials> = { cloud_aws: "role", aws: "role", export_aws: "export" };
const SERVICE_PREFIX: Record<string, string> = {
    ec2: "ec2",
    autoscaling: "autoscaling",
    elb: "elasticloadbalancing",
    elbv2: "elasticloadbalancing",
    s3api: "s3",
    s3: "s3",
};
/** CLI operations whose IAM action is not the operation's name in PascalCase. */
const IRREGULAR: Record<string, string> = {
    "s3api list-objects-v2": "s3:ListBucket",
    "s3 cp": "s3:PutObject",
    "s3 ls": "s3:ListBucket",
    "s3 rm": "s3:DeleteObject",
};

function iamAction(service: string, op: string): string {
    const irregular = IRREGULAR[`${service} ${op}`];
    if (irregular) {
        return irregular;
    }
    const prefix = SERVICE_PREFIX[service];
    assert.ok(prefix, `no IAM prefix known for the CLI service ${service}: add it to SERVICE_PREFIX`);
    return `${prefix}:${op.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase())}`;
}

/** The calls of one script: comments dropped, continuation lines joined. */
function cloudCalls(script: string, text: string): CloudCall[] {
    const code = text
        .replace(/\\\n\s*/g, " ")
        .split("\n")
        .filter((line) => !/^\s*#/.test(line))
        .join("\n");
    const calls: CloudCall[] = [];
    for (const match of code.matchAll(/(?:^|[\s;|&(`])(cloud_aws|export_aws|aws)\s+([a-z0-9]+)\s+([a-z0-9-]+)/gm)) {
        const [, wrapper, service, op] = match;
        calls.push({ script, credentials: WRAPPERS[wrapper], command: `${wrapper} ${service} ${op}`, action: iamAction(service, op) });
    }
    return calls;
}

function allScriptCalls(): CloudCall[] {
    return fs
        .readdirSync(SCRIPTS_DIR)
        .filter((name) => name.endsWith(".sh"))
        .sort()
        .flatMap((name) => cloudCalls(name, fs.readFileSync(path.join(SCRIPTS_DIR, name), "utf8")));
}

const actionsOf = (document: PolicyDocument): string[] => document.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));

/** Actions of a policy no script calls with the node's role. */
function uncalledActions(document: PolicyDocument, calls: CloudCall[]): string[] {
    const called = new Set(calls.filter((call) => call.credentials === "role").map((call) => call.action));
    return [...new Set(actionsOf(document))].filter((action) => !called.has(action)).sort();
}

function chartsOf(minor: string): ControllerChartVersions {
    const { ccm, ebsCsi, loadBalancerController, autoscaler } = pinsFor(minor).versions;
    return { ccm, ebsCsi, loadBalancerController, autoscaler };
}

describe("cloud API calls of the node scripts", () => {
    const calls = allScriptCalls();
    const roleCalls = (script: string) => [...new Set(calls.filter((c) => c.script === script && c.credentials === "role").map((c) => c.action))].sort();

    it("are read from the scripts and mapped to IAM actions", () => {
        assert.deepEqual(roleCalls("csr-approver.sh"), ["ec2:DescribeInstances"]);
        assert.deepEqual(roleCalls("etcd-watchdog.sh"), ["ec2:DescribeInstances"]);
        assert.deepEqual(roleCalls("roll-node-group.sh"), [
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:SetDesiredCapacity",
            "autoscaling:TerminateInstanceInAutoScalingGroup",
            "autoscaling:UpdateAutoScalingGroup",
        ]);
        // The etcd backup calls nothing with the role: its export uses the Secret's credentials.
        assert.deepEqual(roleCalls("etcd-backup.sh"), []);
        assert.deepEqual([...new Set(calls.filter((c) => c.script === "etcd-backup.sh").map((c) => `${c.credentials} ${c.action}`))].sort(), [
            "export s3:DeleteObject",
            "export s3:ListBucket",
            "export s3:PutObject",
        ]);
        assert.deepEqual(cloudCalls("x.sh", "# cloud_aws ec2 delete-volume\nfoo && cloud_aws elbv2 \\\n    describe-target-groups --names x\n"), [
            { script: "x.sh", credentials: "role", command: "cloud_aws elbv2 describe-target-groups", action: "elasticloadbalancing:DescribeTargetGroups" },
        ]);
    });

    it("a policy of our own grants only actions a script calls with the role (the etcd backup needs none)", () => {
        const documents = policyDocumentsFor("control-plane", chartsOf("1.30"), "dev");
        const own = Object.keys(documents).filter((purpose) => !UPSTREAM_PURPOSES.has(purpose));
        for (const purpose of own) {
            assert.deepEqual(uncalledActions(documents[purpose], calls), [], `the ${purpose} policy grants actions no node script calls`);
        }
        assert.deepEqual(own, ["node-scripts"], "a policy of our own: check the test's list of what each script calls");
        assert.deepEqual(documents["node-scripts"].Statement, [
            {
                Effect: "Allow",
                Action: ["autoscaling:UpdateAutoScalingGroup"],
                Resource: "*",
                Condition: { StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/dev": "owned" } },
            },
            {
                Effect: "Allow",
                Action: ["ec2:ModifyInstanceAttribute"],
                Resource: "*",
                Condition: { StringEquals: { "aws:ResourceTag/kubernetes.io/cluster/dev": "owned", "aws:ResourceTag/kubernetes.io/role": "master" } },
            },
        ]);
        assert.ok(!("etcd-backup" in documents), "the etcd backup makes no call with the node's role");
        assert.ok(!fs.existsSync(path.resolve(SCRIPTS_DIR, "..", "iam-policies", "etcd-backup.json")));
    });

    it("would have caught the disk-snapshot policy the etcd backup kept after it stopped snapshotting disks", () => {
        const leftover: PolicyDocument = {
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Action: [
                        "ec2:CreateSnapshot",
                        "ec2:DescribeSnapshots",
                        "ec2:DeleteSnapshot",
                        "ec2:CreateTags",
                        "ec2:DescribeInstances",
                        "ec2:DescribeVolumes",
                    ],
                    Resource: "*",
                },
            ],
        };
        const etcdBackupCalls = calls.filter((call) => call.script === "etcd-backup.sh" || call.script === "lib.sh");
        assert.deepEqual(uncalledActions(leftover, etcdBackupCalls), [
            "ec2:CreateSnapshot",
            "ec2:CreateTags",
            "ec2:DeleteSnapshot",
            "ec2:DescribeInstances",
            "ec2:DescribeSnapshots",
            "ec2:DescribeVolumes",
        ]);
    });

    it("names what the scripts call with the role that no control-plane policy grants", () => {
        const granted = new Set(Object.values(policyDocumentsFor("control-plane", chartsOf("1.30"), "dev")).flatMap(actionsOf));
        const missing = [...new Set(calls.filter((c) => c.credentials === "role" && !granted.has(c.action)).map((c) => `${c.script} ${c.action}`))].sort();
        assert.deepEqual(missing, []);
    });
});
