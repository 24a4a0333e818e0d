// One version table per EKS-D minor: every chart (and the external-snapshotter tag) that the
// add-ons install. A stack can change any of them with `addonOverrides.<name>.version`.

/** The pod networks the add-ons can install. */
export const CNI_CHOICES = ["flannel", "calico", "cilium"] as const;
export type CniChoice = (typeof CNI_CHOICES)[number];

/** Names used as keys of `addonOverrides` and of the version table. */
export const ADDON_NAMES = [
    "flannel",
    "calico",
    "cilium",
    "ccm",
    "snapshotController",
    "ebsCsi",
    "loadBalancerController",
    "autoscaler",
    "kasten",
] as const;
export type AddonName = (typeof ADDON_NAMES)[number];

/** Chart version (or git tag for the snapshot controller) of every add-on. */
export type AddonVersions = Record<AddonName, string>;

export interface EksdAddonPins {
    versions: AddonVersions;
    /**
     * Image tag for the cloud controller manager when the chart default does not suit the
     * Kubernetes minor. Undefined = keep the chart's own image.
     */
    ccmImageTag?: string;
}

// Shared by 1.28 - 1.30: the versions of Zadara's reference deployment, except where noted.
const REFERENCE_PINS: AddonVersions = {
    // Pinned by Zadara's own zCompute k8s module; the reference applies flannel's plain manifest.
    flannel: "v0.26.2",
    // Calico 3.29 (operator chart) with CRDs bundled in the chart.
    calico: "v3.29.1",
    // Cilium 1.16 supports Kubernetes 1.27 - 1.31; 1.16.5 is a released chart on helm.cilium.io.
    cilium: "1.16.5",
    // The chart's default image (v1.27.1) is what the reference runs on 1.28 - 1.30 and is known
    // to work against the zCompute API, so we keep it.
    ccm: "0.0.8",
    // external-snapshotter release tag; its CRDs and controller manifests are applied from it.
    snapshotController: "v8.2.0",
    ebsCsi: "2.33.0",
    // Charts up to 1.7.x use AWS SDK v1 endpoint ids (see lbcApiEndpoints); zCompute support
    // of the SDK v2 based 1.8+ line is unproven.
    loadBalancerController: "1.7.2",
    autoscaler: "9.37.0",
    // The reference pins 7.0.6, but only 7.0.10 (same 7.0 line, later patch) has chart defaults
    // and a values schema we can check our values against, so we pin the checked version.
    kasten: "7.0.10",
};

export const VERSION_TABLE: Record<string, EksdAddonPins> = {
    "1.28": { versions: { ...REFERENCE_PINS } },
    "1.29": { versions: { ...REFERENCE_PINS } },
    "1.30": { versions: { ...REFERENCE_PINS } },
    "1.31": {
        versions: {
            ...REFERENCE_PINS,
            // 0.0.11 brings the RBAC newer CCMs need (tokenreviews, subjectaccessreviews).
            ccm: "0.0.11",
            // Sidecars built for EKS-D 1.31 (eks-1-31 images); also pinned by Zadara's k8s module.
            ebsCsi: "2.39.3",
            // appVersion 1.31.0: the autoscaler minor must match the cluster minor.
            autoscaler: "9.38.0",
        },
        // cloud-provider-aws guarantees compatibility only with the matching Kubernetes minor;
        // chart 0.0.11 defaults to v1.35.0, so pin the 1.31 line.
        ccmImageTag: "v1.31.5",
    },
};

export const SUPPORTED_EKSD_VERSIONS = Object.keys(VERSION_TABLE);

/** A stack's per add-on override: chart version and/or values merged over ours. */
export interface AddonOverride {
    version?: string;
    values?: Record<string, unknown>;
}

export type AddonOverrides = Record<string, AddonOverride>;

export function pinsFor(eksdVersion: string): EksdAddonPins {
    const pins = VERSION_TABLE[eksdVersion];
    if (!pins) {
        throw new Error(
            `No add-on versions for EKS-D ${eksdVersion}; supported: ${SUPPORTED_EKSD_VERSIONS.join(", ")}`,
        );
    }
    return pins;
}

export interface OverrideProblem {
    /** e.g. `addonOverrides.ebsCsi.version` */
    key: string;
    message: string;
}

/**
 * Everything wrong with a stack's `addonOverrides` (a typo would otherwise silently do nothing).
 * The config loader reports these with the other config problems; the component refuses them.
 */
export function overrideProblems(overrides: unknown): OverrideProblem[] {
    if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
        return [{ key: "addonOverrides", message: "must be a map of add-on name to {version?, values?}" }];
    }
    const problems: OverrideProblem[] = [];
    for (const [name, override] of Object.entries(overrides as Record<string, unknown>)) {
        const key = `addonOverrides.${name}`;
        if (!(ADDON_NAMES as readonly string[]).includes(name)) {
            problems.push({ key, message: `unknown add-on; valid names: ${ADDON_NAMES.join(", ")}` });
            continue;
        }
        if (typeof override !== "object" || override === null || Array.isArray(override)) {
            problems.push({ key, message: "must be {version?: string, values?: object}" });
            continue;
        }
        const entry = override as Record<string, unknown>;
        for (const field of Object.keys(entry).filter((f) => f !== "version" && f !== "values")) {
            problems.push({ key: `${key}.${field}`, message: "is not an override field (version, values)" });
        }
        if (entry.version !== undefined && (typeof entry.version !== "string" || entry.version.trim() === "")) {
            problems.push({ key: `${key}.version`, message: "must be a non-empty chart version (string)" });
        }
        if (entry.values !== undefined && (typeof entry.values !== "object" || entry.values === null || Array.isArray(entry.values))) {
            problems.push({ key: `${key}.values`, message: "must be an object of Helm values" });
        }
        if (name === "snapshotController" && entry.values !== undefined) {
            // Plain manifests from the external-snapshotter tag: there are no Helm values.
            problems.push({ key: `${key}.values`, message: "is not supported: the snapshot controller takes a version (release tag) only" });
        }
    }
    return problems;
}

/** Refuses overrides with any problem. */
export function validateOverrides(overrides: AddonOverrides): void {
    const problems = overrideProblems(overrides);
    if (problems.length > 0) {
        throw new Error(problems.map((p) => `${p.key}: ${p.message}`).join("\n"));
    }
}

/** The versions to install: the table's pins with the stack's version overrides applied. */
export function resolveVersions(eksdVersion: string, overrides: AddonOverrides = {}): AddonVersions {
    validateOverrides(overrides);
    const resolved: AddonVersions = { ...pinsFor(eksdVersion).versions };
    for (const name of ADDON_NAMES) {
        const version = overrides[name]?.version;
        if (version) {
            resolved[name] = version;
        }
    }
    return resolved;
}

/**
 * Compares dotted versions numerically ("v3.32.1" vs "v3.29.1"); a leading "v" and any
 * pre-release suffix are ignored. Returns <0, 0 or >0.
 */
export function compareVersions(a: string, b: string): number {
    const parts = (v: string): number[] =>
        v.replace(/^v/, "").split(/[-+]/)[0].split(".").map((p) => Number.parseInt(p, 10) || 0);
    const left = parts(a);
    const right = parts(b);
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
        const diff = (left[i] ?? 0) - (right[i] ?? 0);
        if (diff !== 0) {
            return diff;
        }
    }
    return 0;
}
