// Derives the chart facts the tests need (the project's own data, not copies of upstream files)
// from a directory of chart defaults laid out as <chart>/<version>/{Chart.yaml, values.yaml,
// template-value-refs.json}, and writes them to addons/chart-facts/<chart>-<version>.json.
//
//   npm run chart-facts -- <charts dir>            write the facts of every chart the add-ons install
//   npm run chart-facts -- <charts dir> --check    exit 1 when the committed facts differ
//
// Facts per chart version: the key tree of values.yaml (leaves replaced by their type, `{}`
// kept for free-form maps), the value paths the templates read, the declared kubeVersion and
// appVersion, the default image tags, and the default tolerations (the tests check taints).

import * as fs from "node:fs";
import * as path from "node:path";
import { parse, parseAllDocuments } from "yaml";

import { CHART_SOURCES } from "../addons/charts";

export const FACTS_DIR = path.resolve(__dirname, "../addons/chart-facts");

/** A key tree: nested maps; a leaf is the type name of the default value. */
export type KeyTree = { [key: string]: KeyTree | string };

export interface ChartFacts {
    chart: string;
    version: string;
    /** Chart.yaml appVersion (null when the chart declares none). */
    appVersion: string | null;
    /** Chart.yaml kubeVersion constraint (null when the chart declares none). */
    kubeVersion: string | null;
    /** Dotted path of every `image.tag`-like default -> its value (non-empty tags only). */
    imageTags: Record<string, string>;
    /** Dotted path of every default `tolerations` list -> its value. */
    tolerations: Record<string, unknown[]>;
    keys: KeyTree;
    /** Value paths the templates read (from template-value-refs.json), sorted. */
    templateRefs: string[];
}

function isMap(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
    if (value === null || value === undefined) {
        return "null";
    }
    return Array.isArray(value) ? "array" : typeof value;
}

/** Sorted so the generated file does not depend on key order upstream. */
function keyTree(values: Record<string, unknown>): KeyTree {
    const tree: KeyTree = {};
    for (const key of Object.keys(values).sort()) {
        const value = values[key];
        tree[key] = isMap(value) ? keyTree(value) : typeName(value);
    }
    return tree;
}

function collect(values: Record<string, unknown>, parents: string[], facts: Pick<ChartFacts, "imageTags" | "tolerations">): void {
    for (const key of Object.keys(values).sort()) {
        const value = values[key];
        const dotted = [...parents, key].join(".");
        if (key === "tag" && typeof value === "string" && value !== "") {
            facts.imageTags[dotted] = value;
        } else if (key === "tolerations" && Array.isArray(value)) {
            facts.tolerations[dotted] = value;
        } else if (isMap(value)) {
            collect(value, [...parents, key], facts);
        }
    }
}

/** Chart.yaml may start and end with `---` (two documents, one empty). */
function readChartYaml(file: string): Record<string, unknown> {
    const docs = parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJSON() as unknown);
    const chart = docs.find(isMap);
    if (!chart) {
        throw new Error(`${file}: no chart document`);
    }
    return chart;
}

export function deriveChartFacts(chartsDir: string, chart: string, version: string): ChartFacts {
    const dir = path.join(chartsDir, chart, version);
    const chartYaml = readChartYaml(path.join(dir, "Chart.yaml"));
    const valuesFile = path.join(dir, "values.yaml");
    const parsed: unknown = fs.existsSync(valuesFile) ? parse(fs.readFileSync(valuesFile, "utf8")) : {};
    const values = isMap(parsed) ? parsed : {};
    const refsFile = path.join(dir, "template-value-refs.json");
    const refs: string[] = fs.existsSync(refsFile)
        ? (JSON.parse(fs.readFileSync(refsFile, "utf8")) as { template_value_refs: string[] }).template_value_refs
        : [];
    const facts: ChartFacts = {
        chart,
        version,
        appVersion: scalarText(chartYaml.appVersion),
        kubeVersion: scalarText(chartYaml.kubeVersion),
        imageTags: {},
        tolerations: {},
        keys: keyTree(values),
        templateRefs: [...new Set(refs)].sort(),
    };
    collect(values, [], facts);
    return facts;
}

/** The charts the add-ons install (by Helm chart name). */
export function installedChartNames(): string[] {
    return [...new Set(Object.values(CHART_SOURCES).map((s) => s.chart))].sort();
}

/** Every (chart, version) of the installed charts present in `chartsDir`. */
export function chartVersionsIn(chartsDir: string): { chart: string; version: string }[] {
    const found: { chart: string; version: string }[] = [];
    for (const chart of installedChartNames()) {
        const chartDir = path.join(chartsDir, chart);
        if (!fs.existsSync(chartDir)) {
            continue;
        }
        for (const version of fs.readdirSync(chartDir).sort()) {
            if (fs.existsSync(path.join(chartDir, version, "Chart.yaml"))) {
                found.push({ chart, version });
            }
        }
    }
    return found;
}

export function factsFileName(chart: string, version: string): string {
    return `${chart}-${version}.json`;
}

export function serializeFacts(facts: ChartFacts): string {
    return `${JSON.stringify(facts, null, 2)}\n`;
}

/** The facts committed in the repository (undefined when absent). */
export function readCommittedFacts(chart: string, version: string): ChartFacts | undefined {
    const file = path.join(FACTS_DIR, factsFileName(chart, version));
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ChartFacts) : undefined;
}

const USAGE = "usage: npm run chart-facts -- <charts dir> [--check]\n";

function main(argv: string[]): number {
    if (argv.includes("--help") || argv.includes("-h")) {
        process.stdout.write(USAGE);
        return 0;
    }
    const chartsDir = argv.find((a) => !a.startsWith("--"));
    const check = argv.includes("--check");
    if (!chartsDir || !fs.existsSync(chartsDir)) {
        process.stderr.write(USAGE);
        return 2;
    }
    fs.mkdirSync(FACTS_DIR, { recursive: true });
    let stale = 0;
    for (const { chart, version } of chartVersionsIn(chartsDir)) {
        const file = path.join(FACTS_DIR, factsFileName(chart, version));
        const text = serializeFacts(deriveChartFacts(chartsDir, chart, version));
        const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        if (current === text) {
            continue;
        }
        stale++;
        if (check) {
            process.stdout.write(`stale: ${path.relative(process.cwd(), file)}\n`);
        } else {
            fs.writeFileSync(file, text);
            process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
        }
    }
    return check && stale > 0 ? 1 : 0;
}

if (require.main === module) {
    process.exitCode = main(process.argv.slice(2));
}

/** A Chart.yaml scalar as text (versions may parse as numbers); null when absent or not a scalar. */
function scalarText(value: unknown): string | null {
    return typeof value === "string" || typeof value === "number" ? String(value) : null;
}
