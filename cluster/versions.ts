// EKS-D releases per Kubernetes minor: the image tags kubeadm pulls from public.ecr.aws/eks-distro.
// The kubelet and kubeadm in the node AMIs must be of the same release; `kubernetesVersion`
// in config overrides the tag when an AMI was baked from another release.
//
// How each release was confirmed: the eks-distro repository renders every release manifest
// (https://distro.eks.amazonaws.com/kubernetes-1-XX/kubernetes-1-XX-eks-N.yaml) into
// docs/contents/releases/1-XX/N/index.md, a table of every image URI of that manifest. The tags
// below are copied from those tables; "newest" means the release N+1 (and N+2) has no such page.
// The release notes named newer candidates for some minors (1-33-eks-35, 1-34-eks-26,
// 1-35-eks-17, 1-36-eks-11); no manifest page exists for them, so they are not used here.

export interface EksdRelease {
    minor: string;
    /** EKS-D release name, e.g. 1-30-eks-59. */
    release: string;
    kubernetesVersion: string;
    etcdImageTag: string;
    corednsImageTag: string;
}

function release(minor: string, number: number, kubernetes: string, etcd: string, coredns: string): EksdRelease {
    const channel = minor.replace(".", "-");
    const suffix = `eks-${channel}-${number}`;
    return {
        minor,
        release: `${channel}-eks-${number}`,
        kubernetesVersion: `${kubernetes}-${suffix}`,
        etcdImageTag: `${etcd}-${suffix}`,
        corednsImageTag: `${coredns}-${suffix}`,
    };
}

export const EKSD_RELEASES: Record<string, EksdRelease> = {
    // docs/contents/releases/1-30/59/index.md (repository snapshot of 2026-08-19; newer than the
    // 1-30-eks-56 the release notes named, and no page for 60 or 61).
    "1.30": release("1.30", 59, "v1.30.14", "v3.5.21", "v1.12.4"),
    // docs/contents/releases/1-31/50/index.md (no page for 51).
    "1.31": release("1.31", 50, "v1.31.14", "v3.5.21", "v1.12.4"),
    // docs/contents/releases/1-32/43/index.md (no page for 44).
    "1.32": release("1.32", 43, "v1.32.13", "v3.5.21", "v1.12.4"),
    // docs/contents/releases/1-33/33/index.md (no page for 34 or the named 35).
    "1.33": release("1.33", 33, "v1.33.13", "v3.5.21", "v1.14.6"),
    // docs/contents/releases/1-34/24/index.md (no page for 25 or the named 26).
    "1.34": release("1.34", 24, "v1.34.11", "v3.5.21", "v1.14.6"),
    // docs/contents/releases/1-35/15/index.md (no page for 16 or the named 17).
    "1.35": release("1.35", 15, "v1.35.8", "v3.5.21", "v1.14.6"),
    // docs/contents/releases/1-36/9/index.md (no page for 10 or the named 11). 1.36 ships etcd 3.6.
    "1.36": release("1.36", 9, "v1.36.4", "v3.6.12", "v1.14.6"),
};

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
