// Records, per add-on, the chart versions known to be published (model/published-chart-versions.json),
// so the config refuses an override naming a version no chart repository has.
//
//   npm run chart-versions -- <charts dir>            write the list
//   npm run chart-versions -- <charts dir> --check    exit 1 when the committed list differs
//
// Sources, in order: the collected chart snapshots (<charts dir>/index.json: each entry is a
// published chart's release tag or commit), the committed chart facts (addons/chart-facts), the
// catalog's pins (addons/versions.ts) and, for the snapshot controller, the external-snapshotter
// tags whose manifests were read. A chart that published a newer version: add its defaults to the
// charts dir (as for `npm run chart-facts`), then run this again.

import * as fs from "node:fs";
import * as path from "node:path";

import { CHART_SOURCES } from "../addons/charts";
import { PublishedVersion, PublishedVersionsData } from "../model/published-chart-versions";
import { ADDON_NAMES, SNAPSHOT_CONTROLLER_IMAGES, VERSION_TABLE } from "../addons/versions";
import { compareVersions } from "../model/version-order";
import { FACTS_DIR } from "./chart-facts";

export const PUBLISHED_VERSIONS_FILE = path.resolve(__dirname, "../model/published-chart-versions.json");

const USAGE = `usage: npm run chart-versions -- <charts dir> [--check]

Derives the published chart versions of every add-on from <charts dir>/index.json (e.g. the
collected ../shared/charts), the committed chart facts and the catalog's pins, and writes
model/published-chart-versions.json. --check exits 1 when the committed file differs.
`;

interface IndexEntry {
    chart_dir?: string;
    chart_name?: string;
    version?: string;
    github_repo?: string;
    ref?: string;
    commit?: string;
    commit_date?: string;
}

/** Chart name and the versions found for it, first source kept. */
type Found = Map<string, string>;

function add(found: Found, version: string, from: string): void {
    if (!found.has(version)) {
        found.set(version, from);
    }
}

/** The list as `npm run chart-versions` writes it, from an index and the committed facts. */
export function derivePublishedVersions(index: { charts: IndexEntry[] }, factsDir = FACTS_DIR): PublishedVersionsData {
    const facts = fs
        .readdirSync(factsDir)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => ({ file: f, ...(JSON.parse(fs.readFileSync(path.join(factsDir, f), "utf8")) as { chart: string; version: string }) }));
    const addons: PublishedVersionsData["addons"] = {};
    const dates: string[] = [];
    for (const addon of ADDON_NAMES) {
        const found: Found = new Map();
        const chart = addon === "snapshotController" ? "external-snapshotter" : CHART_SOURCES[addon].chart;
        for (const entry of index.charts) {
            if ((entry.chart_dir === chart || entry.chart_name === chart) && entry.version) {
                const at = entry.commit && entry.commit !== entry.ref ? ` (${entry.commit.slice(0, 12)})` : "";
                add(found, entry.version, `charts index: ${entry.github_repo ?? "?"} ${entry.ref ?? ""}${at}`.trim());
                if (entry.commit_date) {
                    dates.push(entry.commit_date);
                }
            }
        }
        for (const fact of facts.filter((f) => f.chart === chart)) {
            add(found, fact.version, `addons/chart-facts/${fact.file}`);
        }
        if (addon === "snapshotController") {
            for (const tag of Object.keys(SNAPSHOT_CONTROLLER_IMAGES)) {
                add(found, tag, "kubernetes-csi/external-snapshotter tag (manifest read, addons/versions.ts)");
            }
        }
        for (const [minor, pins] of Object.entries(VERSION_TABLE)) {
            add(found, pins.versions[addon], `addons/versions.ts pin for ${minor}`);
        }
        const versions: PublishedVersion[] = [...found.entries()]
            .sort(([a], [b]) => compareVersions(a, b) || a.localeCompare(b))
            .map(([version, from]) => ({ version, from }));
        addons[addon] = { chart, versions };
    }
    if (dates.length === 0) {
        throw new Error("the charts index names none of the add-on charts: is it the collected charts/index.json?");
    }
    return {
        note: "Chart versions known to be published, per add-on. Written by `npm run chart-versions`; an addonOverrides version outside this list is refused.",
        source: "charts/index.json of the collected chart snapshots, addons/chart-facts, addons/versions.ts",
        listedAsOf: dates.sort()[dates.length - 1],
        addons,
    };
}

export function serializePublishedVersions(data: PublishedVersionsData): string {
    return `${JSON.stringify(data, null, 2)}\n`;
}

export interface VersionsRun {
    code: number;
    out: string;
}

export function runChartVersions(argv: string[], file = PUBLISHED_VERSIONS_FILE): VersionsRun {
    if (argv.includes("--help") || argv.includes("-h")) {
        return { code: 0, out: USAGE };
    }
    const unknown = argv.find((a) => a.startsWith("-") && a !== "--check");
    const chartsDir = argv.find((a) => !a.startsWith("-"));
    if (unknown !== undefined || chartsDir === undefined) {
        return { code: 2, out: `${unknown ? `unknown option ${unknown}\n` : ""}${USAGE}` };
    }
    const indexFile = path.join(chartsDir, "index.json");
    if (!fs.existsSync(indexFile)) {
        return { code: 2, out: `${indexFile}: no such file (the charts dir holds index.json)\n${USAGE}` };
    }
    let text: string;
    try {
        text = serializePublishedVersions(derivePublishedVersions(JSON.parse(fs.readFileSync(indexFile, "utf8")) as { charts: IndexEntry[] }));
    } catch (error) {
        return { code: 1, out: `${indexFile}: ${(error as Error).message}\n` };
    }
    const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (argv.includes("--check")) {
        return current === text ? { code: 0, out: `${file} is current\n` } : { code: 1, out: `stale: ${file} (run npm run chart-versions -- ${chartsDir})\n` };
    }
    fs.writeFileSync(file, text);
    return { code: 0, out: `wrote ${file}\n` };
}

if (require.main === module) {
    const result = runChartVersions(process.argv.slice(2));
    (result.code === 0 ? process.stdout : process.stderr).write(result.out);
    process.exitCode = result.code;
}
