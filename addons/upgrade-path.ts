// Charts whose upstream tests upgrades only between consecutive minor releases: an EKS-D minor
// upgrade that moves one of them by more than one minor leaves the tested path.
//
// Cilium upgrade guide (Documentation/operations/upgrade-warning.rst, v1.20.2): "The only tested
// rollback and upgrade path is between consecutive minor releases. Always perform rollbacks and
// upgrades between one minor release at a time."

import type { ReleasePlan } from "./upgrade-ownership";

export const CONSECUTIVE_MINOR_CHARTS: readonly string[] = ["cilium"];

function minorOf(version: string): [number, number] {
    const match = /^v?(\d+)\.(\d+)\./.exec(version);
    if (!match) {
        throw new Error(`not a semantic version: ${version}`);
    }
    return [Number(match[1]), Number(match[2])];
}

/** Releases of those charts that skip a minor between `before` and `after`. */
export function minorSkips(before: ReleasePlan[], after: ReleasePlan[]): string[] {
    const skips: string[] = [];
    for (const release of after.filter((r) => CONSECUTIVE_MINOR_CHARTS.includes(r.chart))) {
        const previous = before.find((r) => r.releaseName === release.releaseName && r.chart === release.chart);
        if (!previous) {
            continue;
        }
        const [fromMajor, fromMinor] = minorOf(previous.version);
        const [toMajor, toMinor] = minorOf(release.version);
        if (toMajor !== fromMajor || toMinor > fromMinor + 1) {
            skips.push(`${release.chart} ${previous.version} -> ${release.version}`);
        }
    }
    return skips;
}
