// Cleanup benchmark: wall time and cloud API calls of `npm run cleanup` (in-process, real
// clock) on the test seed in moto_server behind the zCompute-path proxy. Goal: <= 15 s.
import { runCleanupCli } from "../cleanup";
import { systemClock } from "../../cleanup/types";
import { startMotoProxy } from "../../tests/helpers/moto-proxy";
import { CREDENTIALS, existingIds, seed } from "../../tests/helpers/moto-seed";
import { startMoto } from "../../tests/helpers/moto-server";

export const CLEANUP_GOAL_SECONDS = 15;

export async function benchCleanup(): Promise<Record<string, number | string>> {
    const moto = await startMoto();
    const proxy = await startMotoProxy(moto.url);
    try {
        const s = await seed(moto.url);
        const started = Date.now();
        const { code, apiCalls } = await runCleanupCli(
            ["--stack", "dev", "--endpoint-url", proxy.url, "--keep", s.apiNlbArn, "--keep", s.stackSecurityGroups.join(",")],
            {
                env: { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey },
                clock: systemClock,
                log: { info: () => {}, result: () => {} },
            },
        );
        const seconds = (Date.now() - started) / 1000;
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
