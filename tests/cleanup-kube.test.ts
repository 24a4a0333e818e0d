// The Kubernetes side of the cleanup (a fake API server on loopback, so the real
// @kubernetes/client-node path runs) together with moto for the cloud side: deleting
// Services, Ingresses and PVCs lets the controllers work; what they leave is swept.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as EC2 from "@aws-sdk/client-ec2";
import * as ELBv2 from "@aws-sdk/client-elastic-load-balancing-v2";
import { after, before, beforeEach, describe, it } from "node:test";
import { explain, runCli } from "./helpers/cleanup-run";
import { kubeconfigFor, startFakeKubeApi } from "./helpers/fake-kube-api";
import { startMotoProxy, MotoProxy } from "./helpers/moto-proxy";
import { clients, existingIds, seed, Seed } from "./helpers/moto-seed";
import { freePort, MotoServer, startMoto } from "./helpers/moto-server";

let moto: MotoServer;
let proxy: MotoProxy;
before(async () => {
    moto = await startMoto();
    proxy = await startMotoProxy(moto.url);
});
after(async () => {
    await proxy?.stop();
    await moto?.stop();
});
beforeEach(async () => {
    await moto.reset();
    proxy.calls.length = 0;
});

const meta = (namespace: string, name: string) => ({ metadata: { namespace, name } });

async function csiVolume(pv: string, extra: Record<string, string> = {}): Promise<string> {
    const { ec2 } = clients(moto.url);
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
    const { elbv2 } = clients(moto.url);
    const lb = (await elbv2.send(new ELBv2.DescribeLoadBalancersCommand({ Names: ["k8s-shop-web-aa11bb22cc"] }))).LoadBalancers![0];
    await elbv2.send(new ELBv2.DeleteLoadBalancerCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
    const tg = (await elbv2.send(new ELBv2.DescribeTargetGroupsCommand({ Names: ["k8s-shop-web-0a1b2c3d4e"] }))).TargetGroups![0];
    await elbv2.send(new ELBv2.DeleteTargetGroupCommand({ TargetGroupArn: tg.TargetGroupArn }));
    elbv2.destroy();
}

describe("cleanup with the Kubernetes side", () => {
    it("deletes LoadBalancer Services, Ingresses, Delete-policy PVCs and the pods that mount them; keeps Retain volumes; sweeps what the controllers left", async () => {
        const s: Seed = await seed(moto.url);
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
                proxy.url,
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
            // Stuck controllers: the sweep does their work after the grace period.
            assert.ok(run.stdout.includes(`volume ${stuck} CSIVolumeName=pvc-0003 deleted`), explain(run));
            assert.ok(run.stdout.includes(`volume ${retained} kubernetes.io/cluster/dev=owned kept: PV pvc-keep has reclaimPolicy Retain`), explain(run));
            const left = await existingIds(moto.url);
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
        const s: Seed = await seed(moto.url);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cleanup-kube-"));
        const file = path.join(dir, "kubeconfig");
        fs.writeFileSync(file, kubeconfigFor(`http://127.0.0.1:${await freePort()}`));
        try {
            const run = await runCli([
                "--stack",
                "dev",
                "--endpoint-url",
                proxy.url,
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
            const left = await existingIds(moto.url);
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
