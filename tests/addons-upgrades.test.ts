// Every supported upgrade n -> n+1, for every CNI, with K10 on and off (metrics-server on, the
// default): both sides are planned by the real component, and Helm's ownership rules are
// replayed over the releases with the objects each chart version creates
// (addons/chart-objects.ts). Also the day-2 hazards around the Calico CRDs.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CHART_OBJECTS } from "../addons/chart-objects";
import { ReleasePlan, ownershipProblems } from "../addons/upgrade-ownership";
import { minorSkips } from "../addons/upgrade-path";
import { CNI_CHOICES, CniChoice, SUPPORTED_EKSD_VERSIONS, VERSION_TABLE, resolveVersions } from "../addons/versions";
import { changeWarnings, refusedChanges } from "../cluster/change-policy";
import type { LifecycleState } from "../cluster/lifecycle-state";
import { upgradeTarget } from "../cluster/versions";
import { runAddons, unwrapSecrets } from "./helpers/addons-harness";
import { expectProblem, loadWith, problemsWith } from "./helpers/config-fixture";

async function releasesOf(eksdVersion: string, cni: CniChoice, kasten: boolean): Promise<ReleasePlan[]> {
    const run = await runAddons({ eksdVersion, cni, kasten });
    return run.ofType("kubernetes:helm.sh/v3:Release").map((r) => ({
        releaseName: r.inputs.name as string,
        chart: r.inputs.chart as string,
        version: r.inputs.version as string,
        takeOwnership: r.inputs.takeOwnership === true,
        atomic: r.inputs.atomic === true,
    }));
}

const UPGRADES = SUPPORTED_EKSD_VERSIONS.flatMap((minor) => {
    const next = upgradeTarget(minor);
    return next ? [[minor, next] as const] : [];
});

describe("upgrade ownership check: every n -> n+1, every CNI, K10 on and off", () => {
    test("covers the six transitions 1.30 -> 1.36", () => {
        assert.equal(UPGRADES.length, 6);
    });
    for (const [from, to] of UPGRADES) {
        for (const cni of CNI_CHOICES) {
            for (const kasten of [false, true]) {
                test(`${from} -> ${to}, ${cni}, K10 ${kasten ? "on" : "off"}: no object changes owner without adoption`, async () => {
                    const before = await releasesOf(from, cni, kasten);
                    const after = await releasesOf(to, cni, kasten);
                    assert.deepEqual(ownershipProblems(before, after), []);
                });
            }
        }
    }

    test("every chart version the table pins has recorded objects with a source", () => {
        const chartOf: Record<string, string> = {
            flannel: "flannel",
            calico: "tigera-operator",
            cilium: "cilium",
            ccm: "aws-cloud-controller-manager",
            ebsCsi: "aws-ebs-csi-driver",
            loadBalancerController: "aws-load-balancer-controller",
            autoscaler: "cluster-autoscaler",
            kasten: "k10",
            metricsServer: "metrics-server",
        };
        for (const [minor, pins] of Object.entries(VERSION_TABLE)) {
            for (const [addon, chart] of Object.entries(chartOf)) {
                const version = pins.versions[addon as keyof typeof pins.versions];
                const objects = CHART_OBJECTS[chart]?.[version];
                assert.ok(objects, `${minor}: ${chart} ${version} has no object data`);
                assert.ok(objects.source.length > 10, `${chart} ${version} names its source`);
            }
        }
    });
});

describe("upgrade path of charts tested only between consecutive minors (cilium)", () => {
    test("the only minor upgrade that skips a cilium minor is 1.30 -> 1.31 (1.16.5 -> 1.18.12, documented in docs/addons.md)", async () => {
        const skips: string[] = [];
        for (const [from, to] of UPGRADES) {
            for (const skip of minorSkips(await releasesOf(from, "cilium", false), await releasesOf(to, "cilium", false))) {
                skips.push(`${from} -> ${to}: ${skip}`);
            }
        }
        assert.deepEqual(skips, ["1.30 -> 1.31: cilium 1.16.5 -> 1.18.12"]);
    });

    test("a jump of two minors is found, one minor is not", () => {
        const cilium = (version: string): ReleasePlan => ({ releaseName: "cilium", chart: "cilium", version, takeOwnership: false, atomic: true });
        assert.deepEqual(minorSkips([cilium("1.16.5")], [cilium("1.19.6")]), ["cilium 1.16.5 -> 1.19.6"]);
        assert.deepEqual(minorSkips([cilium("1.19.6")], [cilium("1.20.0")]), []);
    });
});

describe("the check finds what Helm would refuse", () => {
    const operator = (version: string): ReleasePlan => ({ releaseName: "calico", chart: "tigera-operator", version, takeOwnership: false, atomic: true });
    const crdChart = (takeOwnership: boolean, atomic: boolean): ReleasePlan => ({
        releaseName: "calico-crds",
        chart: "crd.projectcalico.org.v1",
        version: "v3.32.1",
        takeOwnership,
        atomic,
    });

    test("the calico CRDs moving from the v3.29.1 crds/ folder to calico-crds without adoption: 23 refusals", () => {
        const problems = ownershipProblems([operator("v3.29.1")], [crdChart(false, true), operator("v3.32.1")]);
        assert.equal(problems.length, 23);
        assert.ok(problems.every((p) => /without an adoption step/.test(p)));
        assert.ok(problems.some((p) => p.startsWith("CustomResourceDefinition/ippools.crd.projectcalico.org")));
    });

    test("adopting with atomic on is refused (a failed install would delete the adopted CRDs)", () => {
        const problems = ownershipProblems([operator("v3.31.7")], [crdChart(true, true), operator("v3.32.1")]);
        assert.ok(problems.length > 0);
        assert.ok(problems.every((p) => /atomic on/.test(p)));
    });

    test("an owned CRD that no release holds afterwards is reported as deleted", () => {
        const problems = ownershipProblems([crdChart(true, false), operator("v3.32.1")], [operator("v3.31.7")]);
        assert.ok(problems.some((p) => /ippools\.crd\.projectcalico\.org: owned by release calico-crds before and by no release after/.test(p)));
    });

    test("a crds/ object new on upgrade is reported unless something else applies it", () => {
        const fake: ReleasePlan = { releaseName: "calico", chart: "tigera-operator", version: "v3.29.1", takeOwnership: false, atomic: true };
        // v3.31.7's operator manages its CRDs (manageCRDs): the new ones appear.
        assert.deepEqual(ownershipProblems([fake], [operator("v3.31.7")]), []);
    });

    test("a chart version without recorded objects is an error, not a pass", () => {
        assert.throws(() => ownershipProblems([], [{ ...operator("v9.9.9") }]), /no object data for chart tigera-operator v9\.9\.9/);
    });
});

describe("calico day-2 hazards", () => {
    test("calico-crds adopts, is not atomic, and is kept when Pulumi would delete it", async () => {
        const run = await runAddons({ eksdVersion: "1.34", cni: "calico" });
        const crds = run.release("calico-crds");
        assert.ok(crds);
        assert.equal(crds.inputs.takeOwnership, true);
        assert.equal(crds.inputs.atomic, false);
        assert.equal(crds.inputs.cleanupOnFail, false);
        assert.equal(run.release("calico")!.inputs.atomic, true, "the operator release stays atomic");
    });

    test("on 1.34+ the operator does not manage the CRDs the calico-crds release owns; below v3.32 it does", async () => {
        const newer = await runAddons({ eksdVersion: "1.34", cni: "calico" });
        assert.equal(unwrapSecrets(newer.release("calico")!.inputs.values).manageCRDs, false);
        const older = await runAddons({ eksdVersion: "1.33", cni: "calico" });
        assert.equal(unwrapSecrets(older.release("calico")!.inputs.values).manageCRDs, undefined);
    });

    test("a calico override below v3.32 on 1.34+ is refused with the key, the value and the fix", () => {
        for (const minor of ["1.34", "1.35", "1.36"]) {
            assert.throws(
                () => resolveVersions(minor, { calico: { version: "v3.31.7" } }),
                new RegExp(
                    `addonOverrides\\.calico\\.version: v3\\.31\\.7 is refused on EKS-D ${minor.replace(".", "\\.")}.*calico-crds.*v3\\.32\\.0 or newer`,
                ),
            );
        }
        assert.equal(resolveVersions("1.33", { calico: { version: "v3.29.1" } }).calico, "v3.29.1", "below 1.34 nothing moves");
    });

    test("the config loader reports it with the other problems, before anything is registered", () => {
        const problems = problemsWith({ eksdVersion: "1.35", cni: "calico", addonOverrides: JSON.stringify({ calico: { version: "v3.29.1" } }) });
        expectProblem(problems, "addonOverrides.calico.version", "v3.29.1 is refused on EKS-D 1.35", "Fix: use v3.32.0 or newer (the pin is v3.32.1)");
        assert.equal(
            loadWith({ eksdVersion: "1.33", addonOverrides: JSON.stringify({ calico: { version: "v3.29.1" } }) }).addons.overrides.calico?.version,
            "v3.29.1",
        );
    });
});

describe("storage and backup hazards on a running cluster", () => {
    const running = (settings: Record<string, string | boolean>): LifecycleState => ({ initialized: true, settings });

    test("volumeType is refused at preview (StorageClass parameters are immutable), with a safe path", () => {
        const refused = refusedChanges(running({ volumeType: "gp2" }), { volumeType: "gp3" });
        assert.equal(refused.length, 1);
        assert.match(
            refused[0].message,
            /zadara-eksd:volumeType: change from "gp2" to "gp3" is refused on a running cluster: StorageClass parameters are immutable.*Safe path: keep volumeType/,
        );
        assert.deepEqual(refusedChanges(undefined, { volumeType: "gp3" }), [], "a new cluster takes any type");
    });

    test("kasten true -> false goes ahead with a warning that K10's PersistentVolumeClaims are deleted; false -> true says nothing", () => {
        assert.deepEqual(refusedChanges(running({ kasten: true }), { kasten: false }), []);
        const [warning] = changeWarnings(running({ kasten: true }), { kasten: false });
        assert.match(warning, /kasten: true → false uninstalls K10: its PersistentVolumeClaims .* are deleted/);
        assert.deepEqual(changeWarnings(running({ kasten: false }), { kasten: true }), []);
    });
});
