// EKS-D releases per Kubernetes minor: the image tags kubeadm pulls from public.ecr.aws/eks-distro.
// The kubelet and kubeadm in the node AMIs must be of the same release; `kubernetesVersion`
// in config overrides the tag when an AMI was baked from another release.
//
// The releases are data: model/eksd-releases.json holds each release as read from its
// upstream release page (the GitHub release v1-XX-eks-N, or the repository's rendering
// docs/contents/releases/1-XX/N/index.md: the manifest link and every image), with its source.
// `npm run eksd-catalog -- <page>` adds a release; the highest number of each minor is pinned.
import catalog from "../model/eksd-releases.json";
import { EksdCatalogData, EksdReleaseRecord, imageSuffix, newestPerMinor, parseReleaseName, recordProblems } from "../model/eksd-catalog";

export interface EksdRelease {
    minor: string;
    /** EKS-D release name, e.g. 1-30-eks-59. */
    release: string;
    kubernetesVersion: string;
    etcdImageTag: string;
    corednsImageTag: string;
    /** The release page its tags were read from. */
    source: string;
}

function toRelease(record: EksdReleaseRecord): EksdRelease {
    const problems = recordProblems(record);
    if (problems.length > 0) {
        throw new Error(`model/eksd-releases.json: ${problems.join("; ")}`);
    }
    const suffix = imageSuffix(record.release);
    return {
        minor: parseReleaseName(record.release).minor,
        release: record.release,
        kubernetesVersion: `${record.kubernetes}${suffix}`,
        etcdImageTag: `${record.etcd}${suffix}`,
        corednsImageTag: `${record.coredns}${suffix}`,
        source: record.source,
    };
}

/** Every recorded release, and releases known to exist whose image tables were not read. */
export const EKSD_CATALOG: EksdCatalogData = catalog;

export const EKSD_RELEASES: Record<string, EksdRelease> = Object.fromEntries(
    Object.entries(newestPerMinor(EKSD_CATALOG.releases)).map(([minor, record]) => [minor, toRelease(record)]),
);

/** Minors this program deploys, oldest first. */
export const SUPPORTED_EKSD_MINORS: string[] = Object.keys(EKSD_RELEASES).sort(compareMinors);

/** Minors upstream Kubernetes and EKS-D no longer patch: refused with a message naming the range. */
export const END_OF_LIFE_MINORS: readonly string[] = ["1.28", "1.29"];

/** "1.30 - 1.36", for messages. */
export function supportedRangeText(): string {
    return `${SUPPORTED_EKSD_MINORS[0]} - ${SUPPORTED_EKSD_MINORS[SUPPORTED_EKSD_MINORS.length - 1]}`;
}

/** Orders "1.9" before "1.10". */
export function compareMinors(a: string, b: string): number {
    const [aMajor, aMinor] = a.split(".").map(Number);
    const [bMajor, bMinor] = b.split(".").map(Number);
    return aMajor - bMajor || aMinor - bMinor;
}

/** The minor after `minor` ("1.30" -> "1.31"), whether or not it is supported. */
export function nextMinor(minor: string): string {
    const [major, number] = minor.split(".").map(Number);
    return `${major}.${number + 1}`;
}

export function eksdRelease(minor: string): EksdRelease {
    const found = EKSD_RELEASES[minor];
    if (!found) {
        const eol = END_OF_LIFE_MINORS.includes(minor) ? " (end of life)" : "";
        throw new Error(`EKS-D ${minor}${eol} is not supported; supported range is ${supportedRangeText()}`);
    }
    return found;
}

/**
 * Default for new stacks: the newest minor whose add-on set is complete (every add-on has a
 * checked pin whose declared support range contains the minor; see addons/versions.ts, and the
 * test that recomputes this value from the add-on data).
 */
export const DEFAULT_EKSD_MINOR = "1.35";

/**
 * Where a cluster on `minor` may go next: upgrades move one minor at a time, so the only target
 * is the next minor, when this program supports it. Undefined on the newest supported minor.
 */
export function upgradeTarget(minor: string): string | undefined {
    const next = nextMinor(minor);
    return EKSD_RELEASES[next] ? next : undefined;
}

/** Every supported minor with its upgrade target (the upgrade path, one minor at a time). */
export function upgradeTargets(): Record<string, string | undefined> {
    return Object.fromEntries(SUPPORTED_EKSD_MINORS.map((minor) => [minor, upgradeTarget(minor)]));
}
