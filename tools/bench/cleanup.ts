// Cleanup benchmark: wall time and cloud API calls of `npm run cleanup` (in-process, real
// clock, DEFAULT settings: 600 s timeout, 120 s grace) on the test seed in moto_server behind
// the zCompute-path proxy, with the Kubernetes API up (a fake API server on loopback holding
// the seed's LoadBalancer Service and claim) and the controllers gone (no ready replica): the
// scenario of a destroy whose add-ons were already removed. docs/cleanup.md quotes this figure.
import { runCleanupCli } from "../cleanup";
import { systemClock } from "../../cleanup/types";
import { readyDeployment, startFakeKubeApi } from "../../tests/helpers/fake-kube-api";
import { startMotoProxy } from "../../tests/helpers/moto-proxy";
import { CREDENTIALS, existingIds, seed } from "../../tests/helpers/moto-seed";
import { startMoto } from "../../tests/helpers/moto-server";

export const CLEANUP_GOAL_SECONDS = 20;

export async function benchCleanup(): Promise<Record<string, number | string>> {
    const moto = await startMoto();
    const proxy = await startMotoProxy(moto.url);
    try {
        const s = await seed(moto.url);
        const kube = await startFakeKubeApi({
            services: [{ metadata: { namespace: "shop", name: "web" }, spec: { type: "LoadBalancer" } }],
            ingresses: [],
            persistentvolumes: [
                {
                    metadata: { name: "pvc-0001" },
                    spec: { persistentVolumeReclaimPolicy: "Delete", claimRef: { namespace: "shop", name: "data" }, csi: { driver: "ebs.csi.aws.com" } },
                },
            ],
            pods: [],
            // Installed, scaled to nothing: no ready replica.
            deployments: [readyDeployment("kube-system", "aws-load-balancer-controller", 0), readyDeployment("kube-system", "ebs-csi-controller", 0)],
        });
        const started = Date.now();
        const { code, apiCalls } = await runCleanupCli(
            [
                "--stack",
                "dev",
                "--endpoint-url",
                proxy.url,
                "--kubeconfig",
                kube.kubeconfigFile,
                "--keep",
                s.apiNlbArn,
                "--keep",
                s.stackSecurityGroups.join(","),
            ],
            {
                env: { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey },
                clock: systemClock,
                log: { info: () => {}, result: () => {} },
            },
        );
        const seconds = (Date.now() - started) / 1000;
        await kube.stop();
        const left = await existingIds(moto.url);
        return {
            cleanupSeconds: Number(seconds.toFixed(2)),
            cleanupApiCalls: apiCalls,
            cleanupSeedResources: s.ours.length,
            cleanupLeaks: s.ours.filter((id) => left.has(id)).length,
            cleanupCollateral: s.collateral.filter((id) => !left.has(id)).length,
            cleanupExitCode: code,
            cleanupGoal: seconds <= CLEANUP_GOAL_SECONDS ? `<= ${CLEANUP_GOAL_SECONDS} s: met` : `<= ${CLEANUP_GOAL_SECONDS} s: MISSED`,
        };
    } finally {
        await proxy.stop();
        await moto.stop();
    }
}

if (require.main === module) {
    benchCleanup().then(
        (r) => console.log(JSON.stringify(r, null, 2)),
        (e) => {
            console.error(e);
            process.exitCode = 1;
        },
    );
}
