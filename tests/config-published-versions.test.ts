// An add-on override must name a chart version known to be published (model/published-chart-versions.json):
// refused at config time with the key, the value, the nearest known versions and the fix; the
// list is derived by `npm run chart-versions` and holds every pin and every chart-facts version.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";

import { nearestVersions, PUBLISHED_VERSIONS, publishedVersions } from "../model/published-chart-versions";
import { ADDON_NAMES, VERSION_TABLE } from "../addons/versions";
import { FACTS_DIR } from "../tools/chart-facts";
import { derivePublishedVersions, PUBLISHED_VERSIONS_FILE, runChartVersions } from "../tools/chart-versions";
import { expectProblem, loadWith, problemsWith } from "./helpers/config-fixture";
import { runPlan } from "./helpers/plan-cli";

const SHARED_CHARTS = path.resolve(__dirname, "../../shared/charts");
const overrides = (o: unknown) => ({ eksdVersion: "1.33", addonOverrides: JSON.stringify(o) });

describe("published chart versions: the recorded list", () => {
    it("names its source and date, and holds every pin and every chart-facts version", () => {
        assert.match(PUBLISHED_VERSIONS.listedAsOf, /^\d{4}-\d{2}-\d{2}$/);
        assert.ok(PUBLISHED_VERSIONS.source.includes("index.json"));
        for (const pins of Object.values(VERSION_TABLE)) {
            for (const addon of ADDON_NAMES) {
                assert.ok(publishedVersions(addon)?.includes(pins.versions[addon]), `${addon} ${pins.versions[addon]}`);
            }
        }
        for (const file of fs.readdirSync(FACTS_DIR)) {
            const { chart, version } = JSON.parse(fs.readFileSync(path.join(FACTS_DIR, file), "utf8")) as { chart: string; version: string };
            const addon = Object.entries(PUBLISHED_VERSIONS.addons).find(([, entry]) => entry.chart === chart)?.[0];
            if (addon !== undefined) {
                assert.ok(publishedVersions(addon)?.includes(version), `${chart} ${version}`);
            }
        }
    });

    it("each version says where it was seen published", () => {
        for (const [addon, entry] of Object.entries(PUBLISHED_VERSIONS.addons)) {
            for (const v of entry.versions) {
                assert.ok(v.from.length > 10, `${addon} ${v.version}`);
            }
        }
    });

    it("nearest known versions: the neighbours below and above, or the end it is beyond", () => {
        assert.deepEqual(nearestVersions(["2.33.0", "2.39.3", "2.64.0"], "2.50.0"), ["2.39.3", "2.64.0"]);
        assert.deepEqual(nearestVersions(["2.33.0", "2.39.3", "2.64.0"], "2.70.1"), ["2.64.0"]);
        assert.deepEqual(nearestVersions(["v0.26.2", "v0.28.9"], "v0.1.0"), ["v0.26.2"]);
    });
});

describe("an override naming a version the chart never published", () => {
    it("is refused with the key, the value, the nearest versions and the fix", () => {
        expectProblem(
            problemsWith(overrides({ ebsCsi: { version: "2.50.0" } })),
            "addonOverrides.ebsCsi.version",
            '"2.50.0" is not a published aws-ebs-csi-driver version known here',
            `list as of ${PUBLISHED_VERSIONS.listedAsOf}`,
            "nearest known: 2.39.3, 2.64.0",
            "Fix: pulumi config set --path 'addonOverrides.ebsCsi.version' <one of the listed versions>",
            "npm run chart-versions",
        );
    });

    it("covers every add-on, the snapshot controller's release tags included", () => {
        expectProblem(
            problemsWith(overrides({ snapshotController: { version: "v8.9.9" } })),
            "addonOverrides.snapshotController.version",
            '"v8.9.9"',
            "nearest known: v8.6.0",
        );
        expectProblem(problemsWith(overrides({ calico: { version: "v3.30.0" } })), "addonOverrides.calico.version", "nearest known: v3.29.1, v3.31.7");
    });

    it("a malformed version gets the form message only, not both", () => {
        const problems = problemsWith(overrides({ ebsCsi: { version: "latest" } })).filter((p) => p.includes("addonOverrides.ebsCsi.version"));
        assert.equal(problems.length, 1);
        assert.match(problems[0], /is not a release version of ebsCsi/);
    });

    it("a listed version that is not the pin is accepted", () => {
        assert.equal(loadWith(overrides({ ebsCsi: { version: "2.39.3" } })).addons.overrides.ebsCsi?.version, "2.39.3");
        assert.equal(loadWith(overrides({ snapshotController: { version: "v8.6.0" } })).addons.overrides.snapshotController?.version, "v8.6.0");
    });

    it("stops the offline plan before any resource, exit 1, no stack trace", () => {
        const run = runPlan(["--stack", "dev", "--config", "addonOverrides.ebsCsi.version=2.50.0"]);
        assert.equal(run.code, 1);
        assert.equal(run.plan, undefined);
        assert.match(run.stderr, /zadara-eksd:addonOverrides\.ebsCsi\.version: "2\.50\.0" is not a published aws-ebs-csi-driver version/);
        assert.doesNotMatch(run.stderr, /^\s+at /m);
    });
});

describe("npm run chart-versions", () => {
    it("derives the list from a charts index: its versions and its newest date", () => {
        const index = {
            charts: [
                {
                    chart_dir: "aws-ebs-csi-driver",
                    version: "2.70.0",
                    github_repo: "kubernetes-sigs/aws-ebs-csi-driver",
                    ref: "helm-chart-aws-ebs-csi-driver-2.70.0",
                    commit_date: "2027-01-02",
                },
                { chart_dir: "flannel", version: "v0.29.0", github_repo: "flannel-io/flannel", ref: "v0.29.0", commit_date: "2026-12-01" },
            ],
        };
        const derived = derivePublishedVersions(index);
        assert.equal(derived.listedAsOf, "2027-01-02");
        assert.deepEqual(
            derived.addons.ebsCsi.versions.map((v) => v.version),
            ["2.33.0", "2.39.3", "2.64.0", "2.70.0"],
        );
        assert.match(derived.addons.flannel.versions.find((v) => v.version === "v0.29.0")!.from, /flannel-io\/flannel v0\.29\.0/);
        assert.throws(() => derivePublishedVersions({ charts: [] }), /names none of the add-on charts/);
    });

    it("writes the file; --check is 0 when current and 1 when stale", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chart-versions-"));
        fs.writeFileSync(
            path.join(dir, "index.json"),
            JSON.stringify({
                charts: [{ chart_dir: "flannel", version: "v0.28.9", github_repo: "flannel-io/flannel", ref: "v0.28.9", commit_date: "2026-08-07" }],
            }),
        );
        const file = path.join(dir, "published-versions.json");
        assert.equal(runChartVersions([dir, "--check"], file).code, 1, "missing file is stale");
        assert.equal(runChartVersions([dir], file).code, 0);
        assert.equal(runChartVersions([dir, "--check"], file).code, 0);
    });

    it("--help exits 0; no charts dir or an unknown flag exits 2", () => {
        const help = runChartVersions(["--help"]);
        assert.equal(help.code, 0);
        assert.match(help.out, /^usage: npm run chart-versions/);
        assert.equal(runChartVersions([]).code, 2);
        assert.equal(runChartVersions(["x", "--bogus"]).code, 2);
    });

    it("the committed list is what the collected charts give (only where ../shared/charts exists)", (t) => {
        if (!fs.existsSync(path.join(SHARED_CHARTS, "index.json"))) {
            t.skip("../shared/charts is not here");
            return;
        }
        assert.deepEqual(runChartVersions([SHARED_CHARTS, "--check"], PUBLISHED_VERSIONS_FILE).code, 0);
    });
});
