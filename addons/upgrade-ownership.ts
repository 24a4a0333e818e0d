// Replays Helm's ownership rules over one upgrade of the add-ons (the releases before and after
// a `pulumi up`), with the objects each chart version creates (addons/chart-objects.ts). Finds
// what Helm would refuse or delete: an object that moves into a release from another release or
// from no release without an adoption step, an adopting install that is atomic, an owned object
// a release drops, and a `crds/` object new on upgrade that nothing applies.

import { chartObjects } from "./chart-objects";

/** One Helm release as the program declares it. */
export interface ReleasePlan {
    releaseName: string;
    chart: string;
    version: string;
    /** Adopts existing objects (`takeOwnership`). */
    takeOwnership: boolean;
    atomic: boolean;
}

interface Holder {
    releaseName: string;
    /** true: the release owns it (template); false: created without ownership (crds/, operator). */
    owned: boolean;
}

function objectsOf(release: ReleasePlan): { crdsFolder: string[]; templated: string[]; alsoManagedBy?: string } {
    const objects = chartObjects(release.chart, release.version);
    if (!objects) {
        throw new Error(`no object data for chart ${release.chart} ${release.version} (addons/chart-objects.ts): record it from the chart source first`);
    }
    return objects;
}

/** Every listed object in the cluster after `releases` were installed, and who holds it. */
function holders(releases: ReleasePlan[]): Map<string, Holder> {
    const found = new Map<string, Holder>();
    for (const release of releases) {
        const objects = objectsOf(release);
        for (const object of objects.crdsFolder) {
            found.set(object, { releaseName: release.releaseName, owned: false });
        }
        for (const object of objects.templated) {
            found.set(object, { releaseName: release.releaseName, owned: true });
        }
    }
    return found;
}

/** What goes wrong when the add-ons move from `before` to `after`; empty when Helm accepts it. */
export function ownershipProblems(before: ReleasePlan[], after: ReleasePlan[]): string[] {
    const problems: string[] = [];
    const existing = holders(before);
    const previousRelease = new Map(before.map((release) => [release.releaseName, release]));
    for (const release of after) {
        const objects = objectsOf(release);
        const label = `${release.releaseName} (${release.chart} ${release.version})`;
        for (const object of objects.templated) {
            const holder = existing.get(object);
            if (!holder || (holder.owned && holder.releaseName === release.releaseName)) {
                continue;
            }
            const from = holder.owned
                ? `release ${holder.releaseName}`
                : `no release (created by ${holder.releaseName}'s crds/ folder, without Helm ownership)`;
            if (!release.takeOwnership) {
                problems.push(`${object}: moves from ${from} to ${label} without an adoption step; Helm refuses it (invalid ownership metadata)`);
            } else if (release.atomic) {
                problems.push(`${object}: adopted by ${label} with atomic on; a failed install uninstalls and deletes the adopted object`);
            }
        }
        const previous = previousRelease.get(release.releaseName);
        if (previous && !objects.alsoManagedBy) {
            for (const object of objects.crdsFolder.filter((o) => !existing.has(o))) {
                problems.push(`${object}: new in ${label}'s crds/ folder, which Helm applies only at install, not on upgrade`);
            }
        }
    }
    const next = holders(after);
    for (const [object, holder] of existing) {
        const now = next.get(object);
        if (holder.owned && (!now || !now.owned)) {
            problems.push(`${object}: owned by release ${holder.releaseName} before and by no release after; Helm deletes it (with every object of its kind)`);
        }
    }
    return problems;
}
