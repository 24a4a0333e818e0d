// The Kubernetes side of the cleanup (a fake API server on loopback, so the real
// @kubernetes/client-node path runs) together with moto for the cloud side: deleting
// Services, Ingresses and PVCs lets the controllers work; what they leave is swept.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as EC2 from "@aws-sdk/client-ec2";
import * as ELBv2 from "@aws-sdk/client-elastic-load-balancing-v2";
import { beforeEach, describe, it } from "node:test";
import { explain, runCli } from "./helpers/cleanup-run";
import { KubeState, kubeconfigFor, readyDeployment, startFakeKubeApi } from "./helpers/fake-kube-api";
import { motoBehindProxy } from "./helpers/moto-proxy";
import { clients, existingIds, seed, Seed } from "./helpers/moto-seed";
import { freePort } from "./helpers/moto-server";

const cloud = motoBehindProxy();
beforeEach(() => cloud.reset());

const meta = (namespace: string, name: string) => ({ metadata: { namespace, name } });

async function csiVolume(pv: string, extra: Record<string, string> = {}): Promise<string> {
    const { ec2 } = clients(cloud.moto.url);
    const id = (
        await ec2.send(
            new EC2.CreateVolumeCommand({
                AvailabilityZone: "us-east-1a",
                Size: 1,
                TagSpecifications: [
                    {
                        ResourceType: "volume",
                        Tags: Object.entries({ CSIVolumeName: pv, "ebs.csi.aws.com/cluster": "true", ...extra }).map(([Key, Value]) => ({ Key, Value })),
                    },
                ],
            }),
        )
    ).VolumeId!;
    ec2.destroy();
    return id;
}

/** The LB controller removing the NLB of Service shop/web, as it does on delete. */
async function lbControllerRemovesServiceNlb(): Promise<void> {
    const { elbv2 } = clients(cloud.moto.url);
    const lb = (await elbv2.send(new ELBv2.DescribeLoadBalancersCommand({ Names: ["k8s-shop-web-aa11bb22cc"] }))).LoadBalancers![0];
    await elbv2.send(new ELBv2.DeleteLoadBalancerCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
    const tg = (await elbv2.send(new ELBv2.DescribeTargetGroupsCommand({ Names: ["k8s-shop-web-0a1b2c3d4e"] }))).TargetGroups![0];
    await elbv2.send(new ELBv2.DeleteTargetGroupCommand({ TargetGroupArn: tg.TargetGroupArn }));
    elbv2.destroy();
}

describe("cleanup with the Kubernetes side", () => {
    it("deletes LoadBalancer Services, Ingresses, Delete-policy PVCs and the pods that mount them; keeps Retain volumes; sweeps what the controllers left", async () => {
        const s: Seed = await seed(cloud.moto.url);
        const retained = await csiVolume("pvc-keep", { "kubernetes.io/cluster/dev": "owned" });
        const stuck = await csiVolume("pvc-0003"); // no cluster tag: ours only through its PV name
        const kube = await startFakeKubeApi(
            {
                services: [
                    { ...meta("shop", "web"), spec: { type: "LoadBalancer" } },
                    { ...meta("shop", "internal"), spec: { type: "ClusterIP" } },
                ],
                ingresses: [meta("shop", "ingress")],
                persistentvolumes: [
                    {
                        metadata: { name: "pvc-0001" },
                        spec: {
                            persistentVolumeReclaimPolicy: "Delete",
                            claimRef: { namespace: "shop", name: "data" },
                            csi: { driver: "ebs.csi.aws.com", volumeHandle: s.ours.find((id) => id.startsWith("vol-")) },
                        },
                    },
                    {
                        metadata: { name: "pvc-0003" },
                        spec: {
                            persistentVolumeReclaimPolicy: "Delete",
                            claimRef: { namespace: "shop", name: "cache" },
                            csi: { driver: "ebs.csi.aws.com", volumeHandle: stuck },
                        },
                    },
                    {
                        metadata: { name: "pvc-keep" },
                        spec: {
                            persistentVolumeReclaimPolicy: "Retain",
                            claimRef: { namespace: "shop", name: "keep" },
                            csi: { driver: "ebs.csi.aws.com", volumeHandle: retained },
                        },
                    },
                ],
                pods: [
                    { ...meta("shop", "db-0"), spec: { volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] } },
                    { ...meta("shop", "web-1"), spec: { volumes: [{ name: "c", configMap: { name: "x" } }] } },
                ],
                deployments: [readyDeployment("kube-system", "aws-load-balancer-controller"), readyDeployment("kube-system", "ebs-csi-controller")],
            },
            async (kind, namespace, name) => {
                if (kind === "services" && `${namespace}/${name}` === "shop/web") {
                    await lbControllerRemovesServiceNlb();
                }
            },
        );
        try {
            const run = await runCli([
                "--stack",
                "dev",
                "--endpoint-url",
                cloud.proxy.url,
                "--kubeconfig",
                kube.kubeconfigFile,
                "--timeout",
                "300",
                "--grace",
                "30",
                "--keep",
                s.apiNlbArn,
                "--keep",
                s.stackSecurityGroups.join(","),
            ]);
            assert.equal(run.code, 0, explain(run));
            assert.deepEqual(kube.deletes, [
                "services shop/web",
                "ingresses shop/ingress",
                "persistentvolumeclaims shop/data",
                "persistentvolumeclaims shop/cache",
                "pods shop/db-0",
            ]);
            // The controller removed the Service's NLB during the grace period.
            assert.ok(
                run.stdout.some((l) => /^load-balancer \S+ \(k8s-shop-web-aa11bb22cc\) elbv2\.k8s\.aws\/cluster=dev gone: removed by its controller$/.test(l)),
                explain(run),
            );
            assert.ok(run.stderr.some((l) => /giving the controllers up to 30s/.test(l)));
            // pvc-0003's volume is what the (stuck) CSI controller was asked to remove: the grace runs out.
            assert.ok(!run.stderr.some((l) => /the grace period ends/.test(l)), explain(run));
            // Stuck controllers: the sweep does their work after the grace period.
            assert.ok(run.stdout.includes(`volume ${stuck} CSIVolumeName=pvc-0003 deleted`), explain(run));
            assert.ok(run.stdout.includes(`volume ${retained} kubernetes.io/cluster/dev=owned kept: PV pvc-keep has reclaimPolicy Retain`), explain(run));
            const left = await existingIds(cloud.moto.url);
            assert.ok(left.has(retained), "the Retain volume stays");
            assert.deepEqual(
                s.ours.filter((id) => left.has(id)),
                [],
            );
            assert.deepEqual(
                s.collateral.filter((id) => !left.has(id)),
                [],
            );
        } finally {
            await kube.stop();
        }
    });

    it("still sweeps the cloud side when the API server does not answer", async () => {
        const s: Seed = await seed(cloud.moto.url);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cleanup-kube-"));
        const file = path.join(dir, "kubeconfig");
        fs.writeFileSync(file, kubeconfigFor(`http://127.0.0.1:${await freePort()}`));
        try {
            const run = await runCli([
                "--stack",
                "dev",
                "--endpoint-url",
                cloud.proxy.url,
                "--kubeconfig",
                file,
                "--keep",
                s.apiNlbArn,
                "--keep",
                s.stackSecurityGroups.join(","),
            ]);
            assert.equal(run.code, 0, explain(run));
            assert.ok(
                run.stderr.some((l) => /the Kubernetes API did not answer .*sweeping the cloud side by tags/.test(l)),
                explain(run),
            );
            assert.ok(!run.stderr.some((l) => /giving the controllers/.test(l)), "no grace period without the controllers");
            const left = await existingIds(cloud.moto.url);
            assert.deepEqual(
                s.ours.filter((id) => left.has(id)),
                [],
            );
            assert.deepEqual(
                s.collateral.filter((id) => !left.has(id)),
                [],
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

/** A cluster with one LoadBalancer Service (shop/web, whose NLB the seed holds) and a Retain PV. */
function oneServiceCluster(s: Seed, retained: string, extra: Partial<KubeState> = {}): KubeState {
    return {
        services: [{ ...meta("shop", "web"), spec: { type: "LoadBalancer" } }],
        ingresses: [],
        persistentvolumes: [
            {
                metadata: { name: "pvc-keep" },
                spec: {
                    persistentVolumeReclaimPolicy: "Retain",
                    claimRef: { namespace: "shop", name: "keep" },
                    csi: { driver: "ebs.csi.aws.com", volumeHandle: retained },
                },
            },
        ],
        pods: [],
        ...extra,
    };
}

function keepArgs(s: Seed): string[] {
    return ["--keep", s.apiNlbArn, "--keep", s.stackSecurityGroups.join(",")];
}

describe("cleanup: the Kubernetes API refuses, the controllers are gone, the deadline", () => {
    for (const status of [401, 403]) {
        it(`stops on HTTP ${status} from the Kubernetes API: nothing is deleted, Retain data stays, exit 3`, async () => {
            const s: Seed = await seed(cloud.moto.url);
            const retained = await csiVolume("pvc-keep", { "kubernetes.io/cluster/dev": "owned" });
            const kube = await startFakeKubeApi({ ...oneServiceCluster(s, retained), refuseWith: status });
            try {
                const run = await runCli(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--kubeconfig", kube.kubeconfigFile, ...keepArgs(s)]);
                assert.equal(run.code, 3, explain(run));
                const message = run.stderr.find((l) => l.startsWith("STOPPED: "));
                assert.ok(message, explain(run));
                assert.match(message, new RegExp(`refused the credential \\(HTTP ${status}\\)`));
                assert.match(message, /Nothing was deleted/);
                assert.match(message, /--kubeconfig <file>|ZADARA_EKSD_CLEANUP_KUBECONFIG/);
                assert.doesNotMatch(run.stderr.join("\n"), /did not answer/, "a refusal is not an API that is down");
                assert.deepEqual(kube.deletes, []);
                assert.equal(cloud.proxy.calls.filter((c) => /^(Delete|Revoke)/.test(c.action)).length, 0, "no cloud delete");
                const left = await existingIds(cloud.moto.url);
                assert.ok(left.has(retained), "the Retain volume stays");
                assert.deepEqual(
                    s.ours.filter((id) => !left.has(id)),
                    [],
                );
            } finally {
                await kube.stop();
            }
        });
    }

    it("skips the grace period when no controller has a ready replica (API up, controllers gone)", async () => {
        const s: Seed = await seed(cloud.moto.url);
        const retained = await csiVolume("pvc-keep", { "kubernetes.io/cluster/dev": "owned" });
        const kube = await startFakeKubeApi(
            oneServiceCluster(s, retained, { deployments: [readyDeployment("kube-system", "aws-load-balancer-controller", 0)] }),
        );
        try {
            const run = await runCli(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--kubeconfig", kube.kubeconfigFile, ...keepArgs(s)]);
            assert.equal(run.code, 0, explain(run));
            assert.deepEqual(kube.deletes, ["services shop/web"]);
            assert.ok(
                run.stderr.some((l) => /no controller has a ready replica/.test(l)),
                explain(run),
            );
            assert.ok(!run.stderr.some((l) => /giving the controllers/.test(l)), explain(run));
            assert.deepEqual(
                run.clock.sleeps.filter((ms) => ms >= 10_000),
                [],
                "no grace-period wait",
            );
            const left = await existingIds(cloud.moto.url);
            assert.ok(left.has(retained), "the Retain volume stays");
            assert.deepEqual(
                s.ours.filter((id) => left.has(id)),
                [],
            );
        } finally {
            await kube.stop();
        }
    });

    it("ends the grace period once the controller removed its own resources, though orphans remain", async () => {
        const s: Seed = await seed(cloud.moto.url);
        const retained = await csiVolume("pvc-keep", { "kubernetes.io/cluster/dev": "owned" });
        const kube = await startFakeKubeApi(
            oneServiceCluster(s, retained, { deployments: [readyDeployment("kube-system", "aws-load-balancer-controller")] }),
            async (kind, namespace, name) => {
                if (kind === "services" && `${namespace}/${name}` === "shop/web") {
                    await lbControllerRemovesServiceNlb();
                }
            },
        );
        try {
            // Default grace (120 s): the seed's other resources are orphans no controller removes.
            const run = await runCli(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--kubeconfig", kube.kubeconfigFile, ...keepArgs(s)]);
            assert.equal(run.code, 0, explain(run));
            assert.ok(
                run.stderr.some((l) => /giving the controllers up to 120s/.test(l)),
                explain(run),
            );
            assert.ok(
                run.stderr.some((l) => /the controllers removed what they were asked to after 0\.0s: the grace period ends/.test(l)),
                explain(run),
            );
            assert.ok(run.clock.time - 1_000_000 < 10_000, `waited ${run.clock.time - 1_000_000} ms of fake time`);
            assert.ok(
                run.stdout.some((l) => /^load-balancer \S+ \(k8s-shop-web-aa11bb22cc\) .* gone: removed by its controller$/.test(l)),
                explain(run),
            );
        } finally {
            await kube.stop();
        }
    });

    it("logs a claim that answers 404 as already gone: no deletion counted, no grace period", async () => {
        const s: Seed = await seed(cloud.moto.url);
        const kube = await startFakeKubeApi(
            {
                services: [],
                ingresses: [],
                persistentvolumes: [
                    {
                        metadata: { name: "pvc-0001" },
                        spec: {
                            persistentVolumeReclaimPolicy: "Delete",
                            claimRef: { namespace: "shop", name: "data" },
                            csi: { driver: "ebs.csi.aws.com", volumeHandle: "vol-x" },
                        },
                    },
                ],
                pods: [],
                deployments: [readyDeployment("kube-system", "ebs-csi-controller")],
            },
            undefined,
            new Set(["persistentvolumeclaims shop/data"]),
        );
        try {
            const run = await runCli(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--kubeconfig", kube.kubeconfigFile, ...keepArgs(s)]);
            assert.equal(run.code, 0, explain(run));
            assert.ok(run.stderr.includes("PersistentVolumeClaim shop/data was already gone (404)"), explain(run));
            assert.ok(!run.stderr.some((l) => /deleted PersistentVolumeClaim/.test(l)), explain(run));
            assert.ok(!run.stderr.some((l) => /giving the controllers/.test(l)), explain(run));
        } finally {
            await kube.stop();
        }
    });

    it("keeps --timeout for the Kubernetes side: hung deletes are cut at the deadline, all at once", async () => {
        await seed(cloud.moto.url);
        const kube = await startFakeKubeApi(
            {
                services: ["a", "b", "c"].map((name) => ({ ...meta("shop", name), spec: { type: "LoadBalancer" } })),
                ingresses: [],
                persistentvolumes: [],
                pods: [],
            },
            () => new Promise<void>(() => {}), // the API accepts the delete and never answers
        );
        try {
            const run = await runCli(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--kubeconfig", kube.kubeconfigFile, "--timeout", "3", "--dry-run"]);
            // A dry run deletes nothing in Kubernetes either: the hung deletes are never sent.
            assert.deepEqual(kube.deletes, []);
            assert.equal(run.code, 1, explain(run));
            const real = await runCli(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--kubeconfig", kube.kubeconfigFile, "--timeout", "3"]);
            assert.deepEqual([...kube.deletes].sort(), ["services shop/a", "services shop/b", "services shop/c"], "sent together, not one after the other");
            assert.equal(
                real.stderr.filter((l) => /could not delete Service shop\/[abc]: delete service: no answer within 3s/.test(l)).length,
                3,
                explain(real),
            );
        } finally {
            await kube.stop();
        }
    });
});
