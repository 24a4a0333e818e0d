// The version matrix: EKS-D catalog 1.30 - 1.36, the add-ons matched to each minor, their
// declared Kubernetes support ranges, the upgrade path one minor at a time, and a plan of the
// add-ons for every minor and every CNI whose versions and images match the catalog.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { calicoNeedsCrdChart } from "../addons/values";
import {
    ADDON_NAMES,
    AddonName,
    CNI_CHOICES,
    KNOWN_GAPS,
    OPTIONAL_ADDONS,
    SUPPORTED_EKSD_VERSIONS,
    VERSION_TABLE,
    addonSetComplete,
    compareVersions,
    imageMinor,
    pinsFor,
    rangeContains,
    supportRangeFor,
} from "../addons/versions";
import {
    DEFAULT_EKSD_MINOR,
    EKSD_CATALOG,
    EKSD_RELEASES,
    END_OF_LIFE_MINORS,
    SUPPORTED_EKSD_MINORS,
    eksdRelease,
    nextMinor,
    supportedRangeText,
    upgradeTarget,
    upgradeTargets,
} from "../cluster/versions";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { parseReleasePage } from "../model/eksd-catalog";
import { readCommittedFacts } from "../tools/chart-facts";
import { CATALOG_FILE, runCatalog } from "../tools/eksd-catalog";
import { runAddons, unwrapSecrets } from "./helpers/addons-harness";

const MINORS = ["1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36"];

/** Helm release name -> add-on whose version it installs. */
const RELEASE_ADDON: Record<string, AddonName> = {
    flannel: "flannel",
    calico: "calico",
    "calico-crds": "calico",
    cilium: "cilium",
    "aws-cloud-controller-manager": "ccm",
    "aws-ebs-csi-driver": "ebsCsi",
    "aws-load-balancer-controller": "loadBalancerController",
    "cluster-autoscaler": "autoscaler",
    k10: "kasten",
    "metrics-server": "metricsServer",
};

describe("EKS-D catalog", () => {
    test("covers exactly 1.30 - 1.36, oldest first; 1.28 and 1.29 are end of life", () => {
        assert.deepEqual(SUPPORTED_EKSD_MINORS, MINORS);
        assert.deepEqual(SUPPORTED_EKSD_VERSIONS, MINORS, "the add-on table covers the same minors");
        for (const eol of END_OF_LIFE_MINORS) {
            assert.ok(!SUPPORTED_EKSD_MINORS.includes(eol), eol);
            assert.throws(() => eksdRelease(eol), new RegExp(`${eol} \\(end of life\\).*supported range is 1\\.30 - 1\\.36`));
        }
        assert.equal(supportedRangeText(), "1.30 - 1.36");
    });

    test("every image tag of a minor is of that minor's release", () => {
        for (const minor of MINORS) {
            const r = EKSD_RELEASES[minor];
            const match = /^(\d+)-(\d+)-eks-(\d+)$/.exec(r.release);
            assert.ok(match, r.release);
            assert.equal(`${match[1]}.${match[2]}`, minor);
            const suffix = `-eks-${match[1]}-${match[2]}-${match[3]}`;
            assert.match(r.kubernetesVersion, new RegExp(`^v${minor.replace(".", "\\.")}\\.\\d+${suffix}$`), minor);
            assert.match(r.etcdImageTag, new RegExp(`^v3\\.\\d+\\.\\d+${suffix}$`), minor);
            assert.match(r.corednsImageTag, new RegExp(`^v1\\.\\d+\\.\\d+${suffix}$`), minor);
        }
    });

    test("each minor pins the newest release whose image table is recorded (model/eksd-releases.json)", () => {
        assert.deepEqual(Object.fromEntries(MINORS.map((m) => [m, EKSD_RELEASES[m].release])), {
            "1.30": "1-30-eks-59",
            "1.31": "1-31-eks-50",
            "1.32": "1-32-eks-45",
            "1.33": "1-33-eks-35",
            "1.34": "1-34-eks-24",
            "1.35": "1-35-eks-16",
            "1.36": "1-36-eks-11",
        });
        for (const minor of MINORS) {
            assert.ok(EKSD_RELEASES[minor].source.length > 10, `${minor} names its source`);
        }
    });

    test("releases known to exist but not read are listed with why, never pinned", () => {
        for (const named of EKSD_CATALOG.namedNotRead) {
            assert.ok(named.why.length > 20, named.release);
            assert.ok(named.searched.length >= 3, `${named.release} records where its image table was looked for`);
            assert.ok(!Object.values(EKSD_RELEASES).some((r) => r.release === named.release), named.release);
            assert.ok(!EKSD_CATALOG.releases.some((r) => r.release === named.release), `${named.release} is both read and not read`);
        }
        assert.deepEqual(
            EKSD_CATALOG.namedNotRead.map((n) => n.release),
            ["1-34-eks-26", "1-35-eks-17"],
        );
    });

    test("1.36 ships etcd 3.6, 1.30 - 1.35 etcd 3.5.21", () => {
        for (const minor of MINORS) {
            const expected = minor === "1.36" ? /^v3\.6\./ : /^v3\.5\.21-/;
            assert.match(EKSD_RELEASES[minor].etcdImageTag, expected, minor);
        }
    });
});

describe("upgrade path: one minor at a time", () => {
    test("every minor but the newest upgrades to the next one, which has an EKS-D release and a pin for every add-on", () => {
        const newest = MINORS[MINORS.length - 1];
        for (const minor of MINORS) {
            if (minor === newest) {
                assert.equal(upgradeTarget(minor), undefined, "nothing after the newest");
                continue;
            }
            const next = upgradeTarget(minor);
            assert.equal(next, nextMinor(minor), minor);
            assert.ok(EKSD_RELEASES[next], `${next} release`);
            for (const addon of ADDON_NAMES) {
                assert.ok(VERSION_TABLE[next].versions[addon], `${next} pins ${addon}`);
            }
            assert.equal(imageMinor(pinsFor(next).ccmImageTag), next);
            assert.equal(imageMinor(pinsFor(next).autoscalerImageTag), next);
        }
        assert.deepEqual(Object.keys(upgradeTargets()), MINORS);
    });

    test("nextMinor counts numerically (1.9 -> 1.10)", () => {
        assert.equal(nextMinor("1.9"), "1.10");
        assert.equal(nextMinor("1.35"), "1.36");
    });

    test("no add-on version goes backwards on the way up (chart versions never downgrade)", () => {
        for (let i = 0; i + 1 < MINORS.length; i++) {
            for (const addon of ADDON_NAMES) {
                const from = pinsFor(MINORS[i]).versions[addon];
                const to = pinsFor(MINORS[i + 1]).versions[addon];
                assert.ok(compareVersions(to, from) >= 0, `${addon}: ${MINORS[i]} ${from} -> ${MINORS[i + 1]} ${to}`);
            }
        }
    });
});

describe("declared support ranges", () => {
    test("every add-on's declared range contains the minor, or the pair is a listed gap", () => {
        for (const minor of MINORS) {
            for (const addon of ADDON_NAMES) {
                const range = supportRangeFor(minor, addon);
                const ok = range !== undefined && rangeContains(range, minor);
                const listed = KNOWN_GAPS.some((g) => g.minor === minor && g.addon === addon);
                assert.equal(
                    listed,
                    !ok,
                    `${minor} ${addon} ${pinsFor(minor).versions[addon]}: ` +
                        (ok ? "supported but listed as a gap" : `not supported (${range ? `${range.min}-${range.max ?? ""}` : "no range"}) and not listed`),
                );
            }
        }
    });

    test("the gaps are the known ones (cilium 1.36, K10 everywhere); calico 1.33 and cilium 1.31 are closed", () => {
        const required = KNOWN_GAPS.filter((g) => !OPTIONAL_ADDONS.includes(g.addon)).map((g) => `${g.minor} ${g.addon}`);
        assert.deepEqual(required, ["1.36 cilium"]);
        for (const gap of KNOWN_GAPS) {
            assert.ok(gap.reason.length > 20, "each gap says why");
        }
    });

    test("the CCM, the autoscaler, flannel, EBS CSI, the snapshot controller and the LBC hold on every minor", () => {
        for (const minor of MINORS) {
            for (const addon of ["ccm", "autoscaler", "flannel", "ebsCsi", "snapshotController", "loadBalancerController"] as const) {
                const range = supportRangeFor(minor, addon);
                assert.ok(range && rangeContains(range, minor), `${minor} ${addon}`);
                assert.ok(range.source.length > 10, "each range names its source");
            }
        }
    });

    test("every CNI choice is supported on 1.30, 1.32, 1.34 and 1.35", () => {
        for (const minor of ["1.30", "1.32", "1.34", "1.35"]) {
            for (const cni of CNI_CHOICES) {
                const range = supportRangeFor(minor, cni);
                assert.ok(range && rangeContains(range, minor), `${minor} ${cni}`);
            }
        }
    });

    test("the default minor is the newest one whose add-on set is complete", () => {
        const complete = MINORS.filter(addonSetComplete);
        assert.deepEqual(complete, ["1.30", "1.31", "1.32", "1.33", "1.34", "1.35"]);
        assert.equal(DEFAULT_EKSD_MINOR, complete[complete.length - 1]);
    });

    test("no declared range starts below the chart's own kubeVersion constraint", () => {
        const chartOf: Partial<Record<AddonName, string>> = {
            flannel: "flannel",
            calico: "tigera-operator",
            cilium: "cilium",
            ebsCsi: "aws-ebs-csi-driver",
            loadBalancerController: "aws-load-balancer-controller",
        };
        for (const minor of MINORS) {
            for (const [addon, chart] of Object.entries(chartOf) as [AddonName, string][]) {
                const version = pinsFor(minor).versions[addon];
                const facts = readCommittedFacts(chart, version);
                assert.ok(facts, `${chart} ${version}`);
                const floor = /(\d+\.\d+)/.exec(facts.kubeVersion ?? "")?.[1];
                const range = supportRangeFor(minor, addon);
                if (floor && range) {
                    assert.ok(compareVersions(range.min, floor) >= 0, `${chart} ${version}: ${range.min} >= ${floor}`);
                }
            }
        }
    });

    test("charts whose own image is not pinned run an image of the declared line (appVersion)", () => {
        // The autoscaler charts built for 1.30 and 1.31 default to those minors; newer minors pin the image.
        assert.equal(imageMinor(`v${readCommittedFacts("cluster-autoscaler", "9.37.0")!.appVersion}`), "1.30");
        assert.equal(imageMinor(`v${readCommittedFacts("cluster-autoscaler", "9.38.0")!.appVersion}`), "1.31");
        assert.equal(readCommittedFacts("aws-load-balancer-controller", "1.7.2")!.imageTags["image.tag"], "v2.7.2");
    });
});

describe("add-ons plan for every minor and every CNI", () => {
    for (const minor of MINORS) {
        for (const cni of CNI_CHOICES) {
            test(`EKS-D ${minor}, ${cni}: plan succeeds; versions and images match the catalog`, async () => {
                const run = await runAddons({ eksdVersion: minor, cni, kasten: true });
                const pins = pinsFor(minor);
                const releases = run.ofType("kubernetes:helm.sh/v3:Release");
                const names = releases.map((r) => r.inputs.name as string).sort();
                const expected = [
                    "aws-cloud-controller-manager",
                    "aws-ebs-csi-driver",
                    "aws-load-balancer-controller",
                    "cluster-autoscaler",
                    "k10",
                    "metrics-server",
                    cni,
                    ...(cni === "calico" && calicoNeedsCrdChart(pins.versions.calico) ? ["calico-crds"] : []),
                ].sort();
                assert.deepEqual(names, expected);
                for (const release of releases) {
                    const addon = RELEASE_ADDON[release.inputs.name as string];
                    assert.equal(release.inputs.version, pins.versions[addon], `${release.inputs.name}`);
                }
                const imageOf = (name: string): unknown => unwrapSecrets(run.release(name)!.inputs.values).image;
                assert.deepEqual(imageOf("aws-cloud-controller-manager"), { tag: pins.ccmImageTag });
                assert.deepEqual(imageOf("cluster-autoscaler"), { tag: pins.autoscalerImageTag });
                assert.equal(run.component.snapshotterTag, pins.versions.snapshotController);
            });
        }
    }
});

// A release page as GitHub shows it (v1-36-eks-11: image table as "name version URI" lines) and
// as the eks-distro repository renders it (Markdown table), shortened to the rows the catalog reads.
const GITHUB_PAGE = `EKS Distro v1-36-eks-11 Release
Release Manifest
Download the release manifest here: kubernetes-1-36-eks-11.yaml
Name Version URI
coredns v1.14.7 public.ecr.aws/eks-distro/coredns/coredns:v1.14.7-eks-1-36-11
etcd v3.6.12 public.ecr.aws/eks-distro/etcd-io/etcd:v3.6.12-eks-1-36-11
kube-apiserver v1.36.5 public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.36.5-eks-1-36-11
`;
const REPO_PAGE = `# EKS-D v1-37-eks-2 Release
Download the release manifest here: [kubernetes-1-37-eks-2.yaml](https://distro.eks.amazonaws.com/kubernetes-1-37/kubernetes-1-37-eks-2.yaml)

| Name | Version | URI |
|------|---------|-----|
| coredns | v1.14.3 | public.ecr.aws/eks-distro/coredns/coredns:v1.14.3-eks-1-37-2 |
| etcd | v3.6.12 | public.ecr.aws/eks-distro/etcd-io/etcd:v3.6.12-eks-1-37-2 |
| kube-apiserver | v1.37.0 | public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.37.0-eks-1-37-2 |
`;

describe("EKS-D catalog tool (npm run eksd-catalog)", () => {
    function tempCatalog(): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eksd-catalog-"));
        const file = path.join(dir, "eksd-releases.json");
        fs.copyFileSync(CATALOG_FILE, file);
        return file;
    }

    test("reads both page forms: release from the manifest link, versions from the image rows", () => {
        const source = "https://github.com/aws/eks-distro/releases/tag/v1-36-eks-11";
        assert.deepEqual(parseReleasePage(GITHUB_PAGE, source), {
            release: "1-36-eks-11",
            kubernetes: "v1.36.5",
            etcd: "v3.6.12",
            coredns: "v1.14.7",
            source,
        });
        assert.equal(parseReleasePage(REPO_PAGE, "docs/contents/releases/1-37/2/index.md").kubernetes, "v1.37.0");
    });

    test("refuses a page whose image tags belong to another release, or with rows missing", () => {
        assert.throws(
            () => parseReleasePage(GITHUB_PAGE.replace("kube-apiserver:v1.36.5-eks-1-36-11", "kube-apiserver:v1.36.5-eks-1-36-9"), "p"),
            /kube-apiserver image tag "v1\.36\.5-eks-1-36-9" is not v1\.36\.5-eks-1-36-11/,
        );
        assert.throws(() => parseReleasePage(GITHUB_PAGE.replace(/^etcd .*$/m, ""), "p"), /no image row for etcd/);
        assert.throws(() => parseReleasePage("no link", "p"), /no release manifest link/);
    });

    test("the committed catalog is valid and canonical (--check)", () => {
        assert.deepEqual(runCatalog(["--check"]), { code: 0, out: "9 release(s) ok\n" });
    });

    test("adding a release is one added line; the newest number of the minor wins", () => {
        const catalog = tempCatalog();
        const page = path.join(path.dirname(catalog), "v1-37-eks-2.md");
        fs.writeFileSync(page, REPO_PAGE);
        const before = fs.readFileSync(catalog, "utf8").split("\n");
        const result = runCatalog(["--catalog", catalog, "--source", "https://github.com/aws/eks-distro/releases/tag/v1-37-eks-2", page]);
        assert.equal(result.code, 0, result.out);
        const after = fs.readFileSync(catalog, "utf8").split("\n");
        assert.equal(after.length, before.length + 1);
        // The new line, and the comma the line before it gains.
        const changed = after.filter((line) => !before.includes(line)).map((line) => line.trim());
        assert.equal(changed.length, 2);
        assert.equal(
            changed[1],
            '{ "release": "1-37-eks-2", "kubernetes": "v1.37.0", "etcd": "v3.6.12", "coredns": "v1.14.3", "source": "https://github.com/aws/eks-distro/releases/tag/v1-37-eks-2" }',
        );
        assert.equal(runCatalog(["--catalog", catalog, "--check"]).code, 0);
    });

    test("--help answers with exit 0 and writes nothing; bad arguments exit 2", () => {
        const help = runCatalog(["--help"]);
        assert.equal(help.code, 0);
        assert.match(help.out, /^usage: npm run eksd-catalog/);
        assert.equal(runCatalog([]).code, 2);
        assert.equal(runCatalog(["--bogus"]).code, 2);
    });
});
