// addons/scripts/cleanup.sh against a fake cloud + Kubernetes API (tests/helpers/fake-cloud.py),
// and the ClusterCleanup component under Pulumi mocks.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { runStubbedBash, StubbedRun } from "./helpers/stubbed-bash";
import { settle, startMockEngine } from "../tools/mock-engine";

const SCRIPT = path.resolve(__dirname, "../addons/scripts/cleanup.sh");
const FAKE = path.resolve(__dirname, "helpers/fake-cloud.py");
const CLUSTER = "dev";
const API = "https://cloud.example.test";

// ---- fake cloud state builders ----------------------------------------------------------------

type Tags = Record<string, string>;
const LBC_TAGS: Tags = { "elbv2.k8s.aws/cluster": CLUSTER };
const CCM_TAGS: Tags = { [`kubernetes.io/cluster/${CLUSTER}`]: "owned" };

const lbArn = (name: string) => `arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/${name}/0a1b2c3d4e5f6a7b`;
const tgArn = (name: string) => `arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/${name}/7b6a5f4e3d2c1b0a`;
const listenerArn = (name: string) => `arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/net/${name}/0a1b2c3d4e5f6a7b/1234`;

interface FakeState {
    lbs?: Array<Record<string, unknown>>;
    listeners?: Array<{ arn: string; lb: string }>;
    tgs?: Array<Record<string, unknown>>;
    volumes?: Array<Record<string, unknown>>;
    sgs?: Array<Record<string, unknown>>;
    k8s?: Record<string, unknown[]>;
    apiDown?: boolean;
    cloudDown?: boolean;
}

function k8sObject(namespace: string, name: string, spec: Record<string, unknown> = {}) {
    return { metadata: { namespace, name }, spec };
}

function pv(name: string, volumeId: string, policy: "Delete" | "Retain", claim?: [string, string]) {
    return {
        metadata: { name },
        spec: {
            persistentVolumeReclaimPolicy: policy,
            csi: { driver: "ebs.csi.aws.com", volumeHandle: volumeId },
            ...(claim ? { claimRef: { namespace: claim[0], name: claim[1] } } : {}),
        },
    };
}

function csiVolume(id: string, pvName: string, extra: Record<string, unknown> = {}) {
    return { id, state: "in-use", instance: "i-0123456789abcdef0", tags: { "ebs.csi.aws.com/cluster": "true", CSIVolumeName: pvName }, ...extra };
}

/** The stack's own API NLB, its target group and its security group (the KEEP_* lists). */
const STACK_NLB = lbArn("dev-eksd-masters-3f2a");
const STACK_TG = tgArn("dev-masters-6443-3f2a");
const STACK_SG = "sg-0000000000000stack";
function stackResources(): FakeState {
    return {
        // Tagged like the controllers' resources on purpose: only the KEEP lists protect them.
        lbs: [{ arn: STACK_NLB, name: "dev-eksd-masters-3f2a", tags: { ...CCM_TAGS } }],
        listeners: [{ arn: listenerArn("dev-eksd-masters-3f2a"), lb: STACK_NLB }],
        tgs: [{ arn: STACK_TG, name: "dev-masters-6443-3f2a", tags: { ...CCM_TAGS }, lbs: [STACK_NLB] }],
        sgs: [{ id: STACK_SG, name: "dev-k8s", tags: { ...CCM_TAGS }, ingress: [], egress: [] }],
    };
}

const KEEP_ENV = {
    KEEP_LOAD_BALANCERS: `${STACK_NLB}`,
    KEEP_SECURITY_GROUPS: `${STACK_SG},sg-0000000000bastion`,
};

function merge(...states: FakeState[]): FakeState {
    const result: FakeState = { lbs: [], listeners: [], tgs: [], volumes: [], sgs: [], k8s: {} };
    for (const s of states) {
        for (const key of ["lbs", "listeners", "tgs", "volumes", "sgs"] as const) {
            (result[key] as unknown[]).push(...((s[key] as unknown[] | undefined) ?? []));
        }
        for (const [kind, items] of Object.entries(s.k8s ?? {})) {
            result.k8s![kind] = [...(result.k8s![kind] ?? []), ...items];
        }
        result.apiDown = result.apiDown || s.apiDown;
        result.cloudDown = result.cloudDown || s.cloudDown;
    }
    return result;
}

// ---- running the script -------------------------------------------------------------------

function runCleanup(state: FakeState, env: Record<string, string> = {}, extraStubs: Record<string, string> = {}): StubbedRun & { final: Required<FakeState> } {
    const run = runStubbedBash(SCRIPT, {
        // The script's JSON helper is python3 (Ubuntu's); the fake cloud is python too.
        hostTools: ["python3"],
        stubs: {
            aws: `exec python3 "${FAKE}" aws "$@"`,
            kubectl: `exec python3 "${FAKE}" kubectl "$@"`,
            ...extraStubs,
        },
        files: { "state.json": JSON.stringify(state) },
        env: {
            CLUSTER_NAME: CLUSTER,
            TIMEOUT: "20",
            POLL_INTERVAL: "0.05",
            GRACE_PERIOD: "30",
            CLOUD_API_URL: API,
            KUBECONFIG_PATH: "/nonexistent/admin.conf",
            NODE_ENV_FILE: "/nonexistent/node.env",
            ...KEEP_ENV,
            ...env,
        },
        timeoutMs: 60_000,
    });
    const final = JSON.parse(fs.readFileSync(path.join(run.root, "state.json"), "utf8"));
    fs.rmSync(run.root, { recursive: true, force: true });
    return { ...run, final };
}

const deletes = (run: StubbedRun) => run.calls.filter((c) => / delete |\b(delete|revoke)-/.test(c));
const awsDeletes = (run: StubbedRun) => run.calls.filter((c) => c.startsWith("aws ") && /\b(delete|revoke)-/.test(c));
const kubeDeletes = (run: StubbedRun) => run.calls.filter((c) => c.startsWith("kubectl ") && / delete /.test(c));

function explain(run: StubbedRun): string {
    return `exit ${run.code}\n--- stderr ---\n${run.stderr}\n--- calls ---\n${run.calls.join("\n")}`;
}

// ---- scenarios ----------------------------------------------------------------------------

describe("cleanup.sh", () => {
    it("is shellcheck clean", () => {
        const result = spawnSync("shellcheck", ["-x", SCRIPT], { encoding: "utf8" });
        assert.equal(result.status, 0, result.stdout + result.stderr);
    });

    it("exits 0 fast when there is nothing to clean, deleting nothing", () => {
        const run = runCleanup(merge(stackResources()), { POLL_INTERVAL: "5" });
        assert.equal(run.code, 0, explain(run));
        assert.ok(run.elapsedMs < 4_000, `took ${run.elapsedMs} ms: it must not sleep when clean`);
        assert.deepEqual(deletes(run), [], "nothing may be deleted");
        assert.match(run.stderr, /cloud side clean/);
        assert.ok(run.calls.some((c) => c.includes(`--endpoint-url ${API}/api/v2/aws/elbv2`) && c.includes("describe-load-balancers")));
        assert.ok(run.calls.some((c) => c.includes(`--endpoint-url ${API}/api/v2/aws/ec2`) && c.includes("describe-volumes")));
    });

    it("deletes LoadBalancer Services, Ingresses and Delete-policy PVCs, then waits until the controllers removed the cloud side", () => {
        const svcLb = lbArn("k8s-shop-web-aa11");
        const ingLb = lbArn("k8s-shop-ingress-bb22").replace("/net/", "/app/");
        const state = merge(stackResources(), {
            k8s: {
                services: [
                    k8sObject("shop", "web", { type: "LoadBalancer" }),
                    k8sObject("shop", "internal", { type: "ClusterIP" }),
                ],
                ingresses: [k8sObject("shop", "ingress")],
                persistentvolumes: [
                    pv("pvc-data", "vol-0data000000000001", "Delete", ["shop", "data"]),
                    pv("pvc-keep", "vol-0keep000000000002", "Retain", ["shop", "keep"]),
                ],
                pods: [k8sObject("shop", "db-0", { volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] }),
                    k8sObject("shop", "web-1", { volumes: [{ name: "c", configMap: { name: "x" } }] })],
                statefulsets: [k8sObject("shop", "db", { volumeClaimTemplates: [{ metadata: { name: "data" } }] })],
            },
            lbs: [
                { arn: svcLb, name: "k8s-shop-web-aa11", tags: LBC_TAGS, owner: "service/shop/web", controllerPolls: 3 },
                { arn: ingLb, name: "k8s-shop-ingress-bb22", tags: LBC_TAGS, owner: "ingress/shop/ingress", controllerPolls: 2 },
            ],
            tgs: [{ arn: tgArn("k8s-shop-web-aa11"), name: "k8s-shop-web-aa11", tags: LBC_TAGS, lbs: [svcLb], owner: "service/shop/web", controllerPolls: 3 }],
            sgs: [{ id: "sg-0ingress00000000001", name: "k8s-shop-ingress-bb22", tags: LBC_TAGS, owner: "ingress/shop/ingress", controllerPolls: 4 }],
            volumes: [
                csiVolume("vol-0data000000000001", "pvc-data", { owner: "persistentvolumeclaim/shop/data", controllerPolls: 3 }),
                csiVolume("vol-0keep000000000002", "pvc-keep"),
            ],
        });
        const run = runCleanup(state);
        assert.equal(run.code, 0, explain(run));

        const kube = kubeDeletes(run).join("\n");
        assert.match(kube, /delete service --namespace shop web /);
        assert.doesNotMatch(kube, /internal/, "ClusterIP services stay");
        assert.match(kube, /delete ingress --namespace shop ingress /);
        assert.match(kube, /delete statefulset --namespace shop db /);
        assert.match(kube, /delete pod --namespace shop db-0 /);
        assert.doesNotMatch(kube, /web-1/, "pods without the claim stay");
        assert.match(kube, /delete persistentvolumeclaim --namespace shop data /);
        assert.doesNotMatch(kube, /persistentvolumeclaim --namespace shop keep/, "Retain claims stay");
        const kubeCalls = kubeDeletes(run);
        assert.ok(kubeCalls.findIndex((c) => c.includes("persistentvolumeclaim")) < kubeCalls.findIndex((c) => c.includes("delete pod")),
            "claims are marked for deletion before their pods go, so no replacement pod can use them");

        assert.deepEqual(awsDeletes(run), [], "the controllers did the work within the grace period");
        assert.ok(run.calls.filter((c) => c.includes("describe-load-balancers")).length >= 3, "it polled until the LBs were gone");
        assert.deepEqual(run.final.volumes.map((v) => v.id), ["vol-0keep000000000002"], "the Retain volume is kept");
        assert.match(run.stderr, /keeping volume vol-0keep000000000002/);
        assert.deepEqual(run.final.lbs.map((l) => l.arn), [STACK_NLB]);
        assert.deepEqual(run.final.sgs.map((g) => g.id), [STACK_SG]);
    });

    it("times out non-zero naming the stuck load balancer and volume, with the commands to remove them", () => {
        const stuckLb = lbArn("k8s-shop-stuck-cc33");
        const state = merge(stackResources(), {
            lbs: [{ arn: stuckLb, name: "k8s-shop-stuck-cc33", tags: LBC_TAGS, stuck: true }],
            volumes: [{ id: "vol-0stuck00000000003", state: "available", tags: CCM_TAGS, stuck: true }],
        });
        const run = runCleanup(state, { TIMEOUT: "2", POLL_INTERVAL: "0.2", GRACE_PERIOD: "0", DELETE_ORPHAN_VOLUMES: "true" });
        assert.equal(run.code, 1, explain(run));
        assert.ok(run.elapsedMs < 10_000, `took ${run.elapsedMs} ms`);
        assert.match(run.stderr, /timed out after 2s/);
        assert.match(run.stderr, new RegExp(`load balancer k8s-shop-stuck-cc33 ${stuckLb.replace(/[/.]/g, "\\$&")}`));
        assert.match(run.stderr, /elbv2 delete-load-balancer --load-balancer-arn arn:aws:elasticloadbalancing:[^ ]*k8s-shop-stuck-cc33/);
        assert.match(run.stderr, /volume vol-0stuck00000000003 \(available, PV -\) \(last error: An error occurred \(VolumeInUse\)/);
        assert.match(run.stderr, /k8s-shop-stuck-cc33 \S+ \(active\) \(last error: An error occurred \(ResourceInUse\) when calling the DeleteLoadBalancer operation\):/);
        assert.equal(run.stderr.match(/deleting load balancer k8s-shop-stuck-cc33/g)?.length, 1, "retries are not logged every round");
        assert.match(run.stderr, /ec2 delete-volume --volume-id vol-0stuck00000000003/);
        assert.match(run.stderr, /pulumi destroy' again/);
        assert.doesNotMatch(run.stderr, /dev-eksd-masters/, "the stack's own NLB is not a leftover");
    });

    it("deletes leftovers tagged for the cluster that have no Kubernetes object (listeners, LB, target group, volume, SG)", () => {
        const orphanLb = lbArn("k8s-old-svc-dd44");
        const orphanSg = "sg-0orphan0000000000001";
        const state = merge(stackResources(), {
            lbs: [{ arn: orphanLb, name: "k8s-old-svc-dd44", tags: LBC_TAGS }],
            listeners: [{ arn: listenerArn("k8s-old-svc-dd44"), lb: orphanLb }],
            tgs: [{ arn: tgArn("k8s-old-svc-dd44"), name: "k8s-old-svc-dd44", tags: LBC_TAGS, lbs: [orphanLb] }],
            volumes: [
                { id: "vol-0orphan0000000004", state: "available", tags: CCM_TAGS },
                { id: "vol-0legacy0000000005", state: "available", tags: { KubernetesCluster: CLUSTER } },
                // Other clusters' and untagged volumes are never touched.
                { id: "vol-0other00000000006", state: "available", tags: { "kubernetes.io/cluster/prod": "owned" } },
                { id: "vol-0plain00000000007", state: "available", tags: {} },
            ],
            sgs: [
                { id: orphanSg, name: "k8s-traffic-dev-ee55", tags: LBC_TAGS },
                // The node SG still has the rule the controller added: it blocks the deletion.
                { id: "sg-0nodes00000000000001", name: "dev-nodes", tags: { [`kubernetes.io/cluster/${CLUSTER}`]: "shared" },
                    ingress: [{ IpProtocol: "tcp", FromPort: 0, ToPort: 65535, UserIdGroupPairs: [{ GroupId: orphanSg }] }] },
            ],
        });
        // Those volumes belong to no PV this cleanup deleted: kept and listed by default.
        const kept = runCleanup(state, { GRACE_PERIOD: "30" });
        assert.equal(kept.code, 0, explain(kept));
        assert.doesNotMatch(awsDeletes(kept).join("\n"), /delete-volume/);
        assert.match(kept.stderr, /volumes tagged for dev were kept: they belong to no PV this cleanup deleted/);
        assert.match(kept.stderr, /volume vol-0orphan0000000004 \(available, PV -\): .*ec2 delete-volume --volume-id vol-0orphan0000000004/);

        const run = runCleanup(state, { GRACE_PERIOD: "30", DELETE_ORPHAN_VOLUMES: "true" });
        assert.equal(run.code, 0, explain(run));
        const calls = awsDeletes(run);
        const index = (pattern: RegExp) => calls.findIndex((c) => pattern.test(c));
        assert.ok(index(/delete-listener --listener-arn .*k8s-old-svc-dd44/) >= 0, calls.join("\n"));
        assert.ok(index(/delete-load-balancer --load-balancer-arn .*k8s-old-svc-dd44/) > index(/delete-listener/));
        assert.ok(index(/delete-target-group --target-group-arn .*k8s-old-svc-dd44/) > index(/delete-load-balancer/));
        assert.ok(index(/delete-volume --volume-id vol-0orphan0000000004/) >= 0);
        assert.ok(index(/delete-volume --volume-id vol-0legacy0000000005/) >= 0);
        assert.ok(index(/revoke-security-group-ingress --group-id sg-0nodes00000000000001/) > index(/delete-load-balancer/));
        assert.ok(index(/delete-security-group --group-id sg-0orphan0000000000001/) > index(/revoke-security-group-ingress/));
        assert.doesNotMatch(calls.join("\n"), /vol-0other|vol-0plain|sg-0nodes00000000000001 *$|delete-security-group --group-id sg-0nodes/);
        assert.deepEqual(run.final.volumes.map((v) => v.id).sort(), ["vol-0other00000000006", "vol-0plain00000000007"]);
        assert.deepEqual(run.final.sgs.map((g) => g.id).sort(), [STACK_SG, "sg-0nodes00000000000001"].sort());
    });

    it("keeps the volume of a Retain PV deleted earlier, while deleting the volumes of the PVs it deleted", () => {
        const state = merge(stackResources(), {
            k8s: {
                persistentvolumes: [pv("pvc-data", "vol-0data000000000001", "Delete", ["shop", "data"])],
                pods: [],
            },
            volumes: [
                // The CSI driver is stuck: the script deletes this one itself after the grace period.
                csiVolume("vol-0data000000000001", "pvc-data", { state: "available", instance: undefined, tags: { ...CCM_TAGS, "ebs.csi.aws.com/cluster": "true", CSIVolumeName: "pvc-data" } }),
                // Its Retain PV object is gone, the data is meant to stay.
                { id: "vol-0retain0000000009", state: "available", tags: { ...CCM_TAGS, "ebs.csi.aws.com/cluster": "true", CSIVolumeName: "pvc-gone" } },
            ],
        });
        const run = runCleanup(state, { GRACE_PERIOD: "0" });
        assert.equal(run.code, 0, explain(run));
        const volumeDeletes = awsDeletes(run).filter((c) => c.includes("delete-volume"));
        assert.ok(volumeDeletes.length >= 1 && volumeDeletes.every((c) => c.includes("vol-0data000000000001")), volumeDeletes.join("\n"));
        assert.deepEqual(run.final.volumes.map((v) => v.id), ["vol-0retain0000000009"]);
        assert.match(run.stderr, /volume vol-0retain0000000009 \(available, PV pvc-gone\)/);
    });

    it("never deletes the stack's own NLB, target group or security groups (KEEP_*)", () => {
        const state = merge(stackResources(), {
            lbs: [{ arn: lbArn("k8s-a-b-ff66"), name: "k8s-a-b-ff66", tags: LBC_TAGS }],
        });
        const run = runCleanup(state, { GRACE_PERIOD: "0" });
        assert.equal(run.code, 0, explain(run));
        const text = awsDeletes(run).join("\n");
        assert.match(text, /k8s-a-b-ff66/);
        assert.doesNotMatch(text, /dev-eksd-masters|dev-masters-6443|sg-0000000000000stack/);
        assert.deepEqual(run.final.lbs.map((l) => l.arn), [STACK_NLB]);
        assert.deepEqual(run.final.tgs.map((t) => t.arn), [STACK_TG]);
        assert.equal(run.final.listeners.length, 1);
        assert.deepEqual(run.final.sgs.map((g) => g.id), [STACK_SG]);

        // Without the KEEP lists the same tags would make them leftovers: the lists matter.
        const unprotected = runCleanup(merge(stackResources()), { KEEP_LOAD_BALANCERS: "", KEEP_SECURITY_GROUPS: "", GRACE_PERIOD: "0" });
        assert.equal(unprotected.code, 0, explain(unprotected));
        assert.match(awsDeletes(unprotected).join("\n"), /delete-load-balancer .*dev-eksd-masters/);
        assert.match(awsDeletes(unprotected).join("\n"), /delete-security-group --group-id sg-0000000000000stack/);
    });

    it("goes on with the cloud-side checks when the API server is unreachable", () => {
        const state = merge(stackResources(), {
            apiDown: true,
            lbs: [{ arn: lbArn("k8s-x-y-1177"), name: "k8s-x-y-1177", tags: CCM_TAGS }],
            volumes: [{ id: "vol-0unknown000000008", state: "available", tags: CCM_TAGS }],
        });
        const run = runCleanup(state);
        assert.equal(run.code, 0, explain(run));
        assert.match(run.stderr, /API server does not answer .*going on with the cloud-side checks/);
        assert.deepEqual(kubeDeletes(run), []);
        assert.match(awsDeletes(run).join("\n"), /delete-load-balancer --load-balancer-arn .*k8s-x-y-1177/, "no grace: controllers are down");
        // The PV reclaim policy is unknown: the volume is reported, not deleted.
        assert.doesNotMatch(awsDeletes(run).join("\n"), /delete-volume/);
        assert.match(run.stderr, /volume vol-0unknown000000008 .*ec2 delete-volume --volume-id vol-0unknown000000008/);

        const forced = runCleanup(state, { DELETE_ORPHAN_VOLUMES: "true" });
        assert.equal(forced.code, 0, explain(forced));
        assert.match(awsDeletes(forced).join("\n"), /delete-volume --volume-id vol-0unknown000000008/);
    });

    it("reads the cloud API URL from the instance metadata when CLOUD_API_URL is not set", () => {
        const run = runCleanup(merge(stackResources()), { CLOUD_API_URL: "" }, {
            curl: `printf '%s' '{"uuid":"x","cluster_url":"https://internal.cloud.test:8443/"}'`,
        });
        assert.equal(run.code, 0, explain(run));
        assert.ok(run.calls.some((c) => c.startsWith("curl ") && c.includes("169.254.169.254/openstack/latest/meta_data.json")));
        assert.ok(run.calls.some((c) => c.includes("--endpoint-url https://internal.cloud.test:8443/api/v2/aws/elbv2")), run.calls.join("\n"));
    });

    it("retries while the cloud API fails and names the failure at the timeout", () => {
        const run = runCleanup(merge(stackResources(), { cloudDown: true }), { TIMEOUT: "1", POLL_INTERVAL: "0.2" });
        assert.equal(run.code, 1, explain(run));
        assert.match(run.stderr, /the last cloud API call failed: .*Could not connect/);
    });

    it("refuses to run without a valid CLUSTER_NAME or TIMEOUT", () => {
        const noName = runCleanup(merge(stackResources()), { CLUSTER_NAME: "" });
        assert.equal(noName.code, 2);
        assert.match(noName.stderr, /CLUSTER_NAME must be set/);
        const badTimeout = runCleanup(merge(stackResources()), { TIMEOUT: "ten" });
        assert.equal(badTimeout.code, 2);
        assert.deepEqual(badTimeout.calls, []);
    });
});

// ---- the Pulumi component -------------------------------------------------------------------

describe("ClusterCleanup component", () => {
    it("creates a remote Command whose delete step runs the cleanup script with the settings, after the given resources", async () => {
        const recorded = startMockEngine({ project: "zadara-eksd", stack: "dev" });
        const { ClusterCleanup, CLEANUP_SCRIPT } = await import("../addons/cleanup");
        // Stand-ins for an add-on release and a node group.
        class Stub extends pulumi.CustomResource {
            constructor(type: string, name: string) {
                super(type, name, {});
            }
        }
        const release = new Stub("kubernetes:helm.sh/v3:Release", "lbc-release");
        const workers = new Stub("aws:autoscaling/group:Group", "workers");
        new ClusterCleanup("dev", {
            clusterName: "dev",
            connection: {
                host: "192.168.2.10",
                user: "ubuntu",
                privateKey: pulumi.secret("node-key"),
                proxy: { host: "203.0.113.5", user: "ubuntu", privateKey: pulumi.secret("bastion-key") },
            },
            keepLoadBalancerArns: [pulumi.output(STACK_NLB)],
            keepSecurityGroupIds: [STACK_SG, pulumi.output("sg-0000000000bastion")],
            timeoutSeconds: 900,
            dependsOn: [release, workers],
        });
        await settle();

        const component = recorded.find((r) => r.type === "zadara:eksd:ClusterCleanup");
        assert.ok(component, "component registered");
        const cmd = recorded.find((r) => r.type === "command:remote:Command");
        assert.ok(cmd, "remote command registered");
        assert.equal(cmd.parent, component.urn);

        const script = fs.readFileSync(SCRIPT, "utf8");
        assert.equal(CLEANUP_SCRIPT, script);
        assert.equal(cmd.inputs.stdin, script, "the script travels on stdin, which the provider also feeds to delete");
        const del = String(cmd.inputs.delete);
        assert.match(del, /^sudo -n env /);
        assert.match(del, / bash -s$/);
        assert.match(del, /CLUSTER_NAME='dev'/);
        assert.match(del, /TIMEOUT='900'/);
        assert.match(del, new RegExp(`KEEP_LOAD_BALANCERS='${STACK_NLB.replace(/[/.]/g, "\\$&")}'`));
        assert.match(del, /KEEP_SECURITY_GROUPS='sg-0000000000000stack sg-0000000000bastion'/);
        assert.match(String(cmd.inputs.create), /^echo /);
        assert.equal(cmd.inputs.triggers, undefined, "triggers would replace the command and run the cleanup on a live cluster");
        assert.equal(cmd.inputs.environment, undefined, "environment needs AcceptEnv on the node's sshd");

        const dependencyUrns = recorded.filter((r) => r.name === "lbc-release" || r.name === "workers").map((r) => r.urn);
        for (const urn of dependencyUrns) {
            assert.ok(cmd.dependencies.includes(urn), `depends on ${urn}: ${cmd.dependencies.join(", ")}`);
        }
    });
});
