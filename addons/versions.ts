// One version table per EKS-D minor: every chart (and the external-snapshotter tag) that the
// add-ons install, the image tags that keep the CCM and the autoscaler on the cluster minor, and
// each pinned version's declared Kubernetes support range (with where upstream states it).
// A stack can change any version with `addonOverrides.<name>.version`.
//
// Rule for new pins: only chart versions whose derived facts are in addons/chart-facts/ (checked
// key paths, defaults); where no checked version supports a minor, the nearest checked one stays
// and the pair is listed in KNOWN_GAPS.
import { compareVersions } from "../model/version-order";

export { compareVersions };

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
    "metricsServer",
] as const;
export type AddonName = (typeof ADDON_NAMES)[number];

/** Chart version (or git tag for the snapshot controller) of every add-on. */
export type AddonVersions = Record<AddonName, string>;

/** Kubernetes minors an add-on version declares support for; `max` undefined = no upper bound declared. */
export interface KubernetesRange {
    min: string;
    max?: string;
    /** Where the range is stated upstream. */
    source: string;
}

export interface EksdAddonPins {
    versions: AddonVersions;
    /**
     * Image tags that replace a chart's default image: the cloud controller manager and the
     * cluster autoscaler must run the cluster's own minor, and one chart serves several minors.
     */
    ccmImageTag: string;
    autoscalerImageTag: string;
}

// ---- Support ranges ---------------------------------------------------------------------
// One entry per version we pin (chart version, or release tag for the snapshot controller).
// The CCM and the autoscaler are not listed: each supports exactly the minor of its image
// (see imageRange), whatever chart renders it.

const FLANNEL_RANGE: KubernetesRange = {
    min: "1.17",
    // flannel README, "Deploying flannel manually": "For Kubernetes v1.17+"; no upper bound stated
    // (flannel only reads Nodes and writes its own subnet lease annotations).
    source: "flannel-io/flannel README (Deploying flannel manually: For Kubernetes v1.17+)",
};

const EBS_CSI_RANGE: KubernetesRange = {
    min: "1.20",
    // Upstream states a floor only: Chart.yaml kubeVersion >=1.17.0-0 (all three versions), and the
    // kubernetes-csi sidecars it runs (provisioner, attacher, resizer, snapshotter, registrar,
    // livenessprobe) list minimum 1.20. No upper bound is stated anywhere, which is not a
    // statement that every newer minor is tested: the driver's own CI runs the current minors.
    source: "aws-ebs-csi-driver Chart.yaml kubeVersion (floor only); kubernetes-csi sidecar READMEs (Min K8s Version 1.20); no upper bound stated",
};

export const SUPPORT_RANGES: Partial<Record<AddonName, Record<string, KubernetesRange>>> = {
    flannel: { "v0.26.2": FLANNEL_RANGE, "v0.28.9": FLANNEL_RANGE },
    calico: {
        // docs.tigera.io calico 3.29 "System requirements": "We test Calico v3.29 against ... v1.29 - v1.32".
        "v3.29.1": { min: "1.29", max: "1.32", source: "tigera/docs calico_versioned_docs/version-3.29 system requirements" },
        // docs.tigera.io calico 3.31 "System requirements": tested against 1.32 - 1.35 (1.35 added
        // after the nightly e2e runs, projectcalico discussion #11717).
        "v3.31.7": { min: "1.32", max: "1.35", source: "tigera/docs calico 3.31 system requirements (1.32 - 1.35; projectcalico discussion #11717)" },
        // docs.tigera.io calico 3.32 "System requirements": tested against 1.34, 1.35, 1.36.
        "v3.32.1": { min: "1.34", max: "1.36", source: "tigera/docs calico_versioned_docs/version-3.32 system requirements" },
    },
    cilium: {
        // Not re-read: the v1.16 compatibility page was not found. Every line is e2e tested on four
        // minors (1.15: 1.26-1.29, 1.18: 1.30-1.33, 1.19: 1.32-1.35), which puts 1.16 at 1.27-1.30.
        "1.16.5": { min: "1.27", max: "1.30", source: "inferred from the cilium compatibility pages of 1.15, 1.18 and 1.19 (1.16 page not found)" },
        // cilium v1.18.14 Documentation/network/kubernetes/compatibility.rst: "1.30, 1.31, 1.32, 1.33".
        "1.18.12": { min: "1.30", max: "1.33", source: "cilium v1.18 docs, Kubernetes Compatibility (e2e tested 1.30 - 1.33)" },
        // cilium 1.19 Documentation/network/kubernetes/compatibility.rst: "1.32, 1.33, 1.34, 1.35".
        "1.19.6": { min: "1.32", max: "1.35", source: "cilium v1.19 docs, Kubernetes Compatibility (e2e tested 1.32 - 1.35)" },
    },
    snapshotController: {
        // external-snapshotter README, Compatibility: snapshot-controller Min K8s Version 1.20.
        "v8.2.1": { min: "1.20", source: "kubernetes-csi/external-snapshotter README, Compatibility table" },
    },
    ebsCsi: { "2.33.0": EBS_CSI_RANGE, "2.39.3": EBS_CSI_RANGE, "2.64.0": EBS_CSI_RANGE },
    loadBalancerController: {
        // docs/deploy/installation.md: "AWS Load Balancer Controller v2.5.0+ requires Kubernetes 1.22+".
        "1.7.2": { min: "1.22", source: "kubernetes-sigs/aws-load-balancer-controller docs/deploy/installation.md (v2.5.0+ requires 1.22+)" },
    },
    kasten: {
        // The chart's README, "Prerequisites": "Kubernetes 1.23 - 1.26".
        "7.0.10": { min: "1.23", max: "1.26", source: "k10 7.0.10 chart README, Prerequisites (Kubernetes 1.23 - 1.26)" },
    },
    metricsServer: {
        // metrics-server README "Compatibility Matrix" at v0.7.2 / v0.8.1: 0.7.x 1.27+, 0.8.x 1.31+.
        "3.12.2": { min: "1.27", source: "kubernetes-sigs/metrics-server README Compatibility Matrix (0.7.x: 1.27+); chart 3.12.2 = app 0.7.2" },
        "3.13.1": { min: "1.31", source: "kubernetes-sigs/metrics-server README Compatibility Matrix (0.8.x: 1.31+); chart 3.13.1 = app 0.8.1" },
    },
};

/** The add-ons pinned by image: each supports exactly the minor of its image. */
export function imageRange(addon: "ccm" | "autoscaler", imageTag: string): KubernetesRange {
    const minor = imageMinor(imageTag);
    const source =
        addon === "ccm"
            ? "kubernetes/cloud-provider-aws README: compatibility is guaranteed only with the matching Kubernetes minor"
            : "kubernetes/autoscaler cluster-autoscaler README: use the autoscaler minor that matches the cluster minor";
    return { min: minor, max: minor, source };
}

/** "v1.33.4" -> "1.33". */
export function imageMinor(tag: string): string {
    const match = /^v?(\d+)\.(\d+)\./.exec(tag);
    if (!match) {
        throw new Error(`not a semantic version tag: ${tag}`);
    }
    return `${match[1]}.${match[2]}`;
}

export function rangeContains(range: KubernetesRange, minor: string): boolean {
    return compareVersions(minor, range.min) >= 0 && (range.max === undefined || compareVersions(minor, range.max) <= 0);
}

/** The declared range of what `minor` installs for `addon`; undefined when none is known. */
export function supportRangeFor(minor: string, addon: AddonName): KubernetesRange | undefined {
    const pins = pinsFor(minor);
    if (addon === "ccm") {
        return imageRange("ccm", pins.ccmImageTag);
    }
    if (addon === "autoscaler") {
        return imageRange("autoscaler", pins.autoscalerImageTag);
    }
    return SUPPORT_RANGES[addon]?.[pins.versions[addon]];
}

// ---- Pins per minor ---------------------------------------------------------------------

// Image tags: the cluster-autoscaler README asks for the newest release of the matching minor.
// Newest release tag per minor in kubernetes/autoscaler (cluster-autoscaler-1.XX.Y, repository
// snapshot of 2026-08-22): v1.30.7, v1.31.5, v1.32.7, v1.33.6, v1.34.5, v1.35.2, v1.36.1. Cloud controller manager images are listed in
// kubernetes/k8s.io registry.k8s.io/images/k8s-staging-provider-aws/images.yaml (v1.30.10,
// v1.31.9, v1.32.8, v1.33.4, v1.34.3, v1.35.2); v1.36.1 was promoted by k8s.io #9796 (the
// v1.36.0 build failed and was never staged).

/** The add-ons whose pins decide whether a minor is complete; kasten is optional and off by default. */
export const OPTIONAL_ADDONS: readonly AddonName[] = ["kasten"];

export const VERSION_TABLE: Record<string, EksdAddonPins> = {
    "1.30": {
        versions: {
            flannel: "v0.26.2",
            calico: "v3.29.1",
            cilium: "1.16.5",
            // 0.0.11: RBAC for tokenreviews/subjectaccessreviews that 0.0.8 lacks; image pinned below.
            ccm: "0.0.11",
            snapshotController: "v8.2.1",
            // Sidecars built by EKS-D for 1.30 (eks-1-30-10 tags).
            ebsCsi: "2.33.0",
            loadBalancerController: "1.7.2",
            // appVersion 1.30.0: the chart built for this minor.
            autoscaler: "9.37.0",
            kasten: "7.0.10",
            // metrics-server 0.7.x: 0.8.x states 1.31+.
            metricsServer: "3.12.2",
        },
        ccmImageTag: "v1.30.10",
        autoscalerImageTag: "v1.30.7",
    },
    "1.31": {
        versions: {
            flannel: "v0.26.2",
            calico: "v3.29.1",
            // 1.18 is tested on 1.30 - 1.33 (1.16 stops at 1.30, 1.19 starts at 1.32).
            cilium: "1.18.12",
            ccm: "0.0.11",
            snapshotController: "v8.2.1",
            // Sidecars built by EKS-D for 1.31 (eks-1-31-12 tags).
            ebsCsi: "2.39.3",
            loadBalancerController: "1.7.2",
            // appVersion 1.31.0: the chart built for this minor.
            autoscaler: "9.38.0",
            kasten: "7.0.10",
            metricsServer: "3.13.1",
        },
        ccmImageTag: "v1.31.9",
        autoscalerImageTag: "v1.31.5",
    },
    "1.32": {
        versions: {
            flannel: "v0.28.9",
            calico: "v3.29.1",
            cilium: "1.19.6",
            ccm: "0.0.11",
            snapshotController: "v8.2.1",
            // Sidecars built with Kubernetes 1.35/1.36 client libraries (csi-components eksbuild).
            ebsCsi: "2.64.0",
            loadBalancerController: "1.7.2",
            // Newest chart we hold (defaults to v1.35.0); the image is pinned to this minor.
            autoscaler: "9.59.0",
            kasten: "7.0.10",
            metricsServer: "3.13.1",
        },
        ccmImageTag: "v1.32.8",
        autoscalerImageTag: "v1.32.7",
    },
    "1.33": {
        versions: {
            flannel: "v0.28.9",
            // v3.31 is tested on 1.32 - 1.35 (v3.29 stops at 1.32, v3.32 starts at 1.34). Its
            // operator manages its own CRDs (manageCRDs), so the CRDs new in 3.31 appear on the
            // upgrade from 1.32 although Helm never applies crds/ on upgrade.
            calico: "v3.31.7",
            cilium: "1.19.6",
            ccm: "0.0.11",
            snapshotController: "v8.2.1",
            ebsCsi: "2.64.0",
            loadBalancerController: "1.7.2",
            autoscaler: "9.59.0",
            kasten: "7.0.10",
            metricsServer: "3.13.1",
        },
        ccmImageTag: "v1.33.4",
        autoscalerImageTag: "v1.33.6",
    },
    "1.34": {
        versions: {
            flannel: "v0.28.9",
            // CRDs come from the crd.projectcalico.org.v1 chart from v3.32 on.
            calico: "v3.32.1",
            cilium: "1.19.6",
            ccm: "0.0.11",
            snapshotController: "v8.2.1",
            ebsCsi: "2.64.0",
            loadBalancerController: "1.7.2",
            autoscaler: "9.59.0",
            kasten: "7.0.10",
            metricsServer: "3.13.1",
        },
        ccmImageTag: "v1.34.3",
        autoscalerImageTag: "v1.34.5",
    },
    "1.35": {
        versions: {
            flannel: "v0.28.9",
            calico: "v3.32.1",
            cilium: "1.19.6",
            ccm: "0.0.11",
            snapshotController: "v8.2.1",
            ebsCsi: "2.64.0",
            loadBalancerController: "1.7.2",
            // appVersion 1.35.0; the image moves to the newer patch v1.35.2.
            autoscaler: "9.59.0",
            kasten: "7.0.10",
            metricsServer: "3.13.1",
        },
        ccmImageTag: "v1.35.2",
        autoscalerImageTag: "v1.35.2",
    },
    "1.36": {
        versions: {
            flannel: "v0.28.9",
            calico: "v3.32.1",
            // 1.19 is tested up to 1.35. 1.20.0 is the next line (chart data derived from
            // cilium/charts cilium-1.20.0.tgz); its compatibility page was not read (KNOWN_GAPS).
            cilium: "1.20.0",
            ccm: "0.0.11",
            snapshotController: "v8.2.1",
            ebsCsi: "2.64.0",
            loadBalancerController: "1.7.2",
            autoscaler: "9.59.0",
            kasten: "7.0.10",
            metricsServer: "3.13.1",
        },
        ccmImageTag: "v1.36.1",
        autoscalerImageTag: "v1.36.1",
    },
};

export const SUPPORTED_EKSD_VERSIONS = Object.keys(VERSION_TABLE);

/**
 * The snapshot-controller image that each external-snapshotter tag's own manifest deploys
 * (deploy/kubernetes/snapshot-controller/setup-snapshot-controller.yaml at the tag): upstream
 * manifests name the previous release's image. v8.2.0 deployed v8.0.1 (two lines behind its
 * CRDs); v8.2.1 deploys v8.2.0, the same 8.2 line as its CRDs and as the csi-snapshotter
 * sidecar of EBS CSI 2.39.3. Newer tags are not pinned only because they are not checked here
 * (their client/config/crd kustomization also lists the groupsnapshot.storage.k8s.io CRDs,
 * e.g. v8.6.0); upstream does not make plain volume snapshots depend on group snapshots.
 */
export const SNAPSHOT_CONTROLLER_IMAGES: Record<string, string> = {
    "v8.2.0": "v8.0.1",
    "v8.2.1": "v8.2.0",
    "v8.3.0": "v8.2.1",
    "v8.4.0": "v8.2.1",
    "v8.5.0": "v8.4.0",
    "v8.6.0": "v8.5.0",
};

/** A pin whose declared support range does not contain the minor, and why it is still the pin. */
export interface KnownGap {
    minor: string;
    addon: AddonName;
    reason: string;
}

const KASTEN_GAP = "the K10 7.0.10 chart states Kubernetes 1.23 - 1.26; no newer K10 chart has checked data here";

/**
 * Every (minor, add-on) whose pin is not declared to support the minor. A test keeps this list
 * exact: a new gap fails until it is listed here, a closed one fails until it is removed. The
 * preview warns about each gap a stack actually installs (supportWarnings).
 */
export const KNOWN_GAPS: readonly KnownGap[] = [
    {
        minor: "1.36",
        addon: "cilium",
        reason: "cilium 1.19 is tested up to 1.35 and the Kubernetes compatibility page of 1.20 was not read here (each cilium line e2e-tests four minors: 1.20 is expected to cover 1.33 - 1.36)",
    },
    ...SUPPORTED_EKSD_VERSIONS.map((minor) => ({ minor, addon: "kasten" as const, reason: KASTEN_GAP })),
];

/** What a stack installs, as far as support statements go. */
export interface InstalledAddons {
    cni: CniChoice;
    ebsCsi: boolean;
    loadBalancerController: boolean;
    autoscaler: boolean;
    kasten: boolean;
    metricsServer: boolean;
}

function installedAddonNames(installed: InstalledAddons): AddonName[] {
    const names: AddonName[] = [installed.cni, "ccm"];
    if (installed.ebsCsi) {
        names.push("snapshotController", "ebsCsi");
    }
    const optional: [boolean, AddonName][] = [
        [installed.loadBalancerController, "loadBalancerController"],
        [installed.autoscaler, "autoscaler"],
        [installed.kasten, "kasten"],
        [installed.metricsServer, "metricsServer"],
    ];
    return [...names, ...optional.filter(([on]) => on).map(([, name]) => name)];
}

/**
 * One line per installed add-on whose version (pin or override) is outside its declared
 * Kubernetes support range, or has none: printed as a preview warning with the reason.
 */
export function supportWarnings(minor: string, installed: InstalledAddons, versions: AddonVersions): string[] {
    const warnings: string[] = [];
    for (const addon of installedAddonNames(installed)) {
        const version = versions[addon];
        const range = addon === "ccm" || addon === "autoscaler" ? supportRangeFor(minor, addon) : SUPPORT_RANGES[addon]?.[version];
        if (range && rangeContains(range, minor)) {
            continue;
        }
        const gap = KNOWN_GAPS.find((g) => g.minor === minor && g.addon === addon && pinsFor(minor).versions[addon] === version);
        const stated = range
            ? `declared for ${range.min} - ${range.max ?? "(no upper bound)"} (${range.source})`
            : "no Kubernetes support statement is recorded for it";
        warnings.push(`${addon} ${version} on EKS-D ${minor} is outside its upstream support statement: ${gap ? gap.reason : stated}.`);
    }
    return warnings;
}

/** True when every required add-on of `minor` has a pin whose declared range contains it. */
export function addonSetComplete(minor: string): boolean {
    return ADDON_NAMES.filter((addon) => !OPTIONAL_ADDONS.includes(addon)).every((addon) => {
        const range = supportRangeFor(minor, addon);
        return range !== undefined && rangeContains(range, minor);
    });
}

/** From this operator version on, the Calico CRDs come from their own chart (crd.projectcalico.org.v1). */
export const CALICO_CRD_CHART_FROM = "v3.32.0";

/**
 * Why a calico version override is refused on `eksdVersion` (undefined when it is not): where the
 * pin is v3.32+, the Calico CRDs belong to the calico-crds release, and an older operator chart
 * would drop that release, and with it every Calico CRD and object.
 */
export function calicoOverrideProblem(eksdVersion: string, version: string | undefined): string | undefined {
    const pinned = VERSION_TABLE[eksdVersion]?.versions.calico;
    if (!version || !pinned || compareVersions(pinned, CALICO_CRD_CHART_FROM) < 0 || compareVersions(version, CALICO_CRD_CHART_FROM) >= 0) {
        return undefined;
    }
    return (
        `${version} is refused on EKS-D ${eksdVersion}: from ${CALICO_CRD_CHART_FROM} on the Calico CRDs belong to the calico-crds release, ` +
        `and an older operator chart would drop it. Fix: use ${CALICO_CRD_CHART_FROM} or newer (the pin is ${pinned}), or remove the override`
    );
}

/** A stack's per add-on override: chart version and/or values merged over ours. */
export interface AddonOverride {
    version?: string;
    values?: Record<string, unknown>;
}

export type AddonOverrides = Record<string, AddonOverride>;

export function pinsFor(eksdVersion: string): EksdAddonPins {
    const pins = VERSION_TABLE[eksdVersion];
    if (!pins) {
        throw new Error(`No add-on versions for EKS-D ${eksdVersion}; supported: ${SUPPORTED_EKSD_VERSIONS.join(", ")}`);
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
    const pinned = pinsFor(eksdVersion).versions;
    const resolved: AddonVersions = { ...pinned };
    for (const name of ADDON_NAMES) {
        const version = overrides[name]?.version;
        if (version) {
            resolved[name] = version;
        }
    }
    const calicoProblem = calicoOverrideProblem(eksdVersion, overrides.calico?.version);
    if (calicoProblem) {
        throw new Error(`addonOverrides.calico.version: ${calicoProblem}`);
    }
    return resolved;
}
