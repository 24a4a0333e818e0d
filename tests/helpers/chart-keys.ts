// Checks that every key path we set in a chart's values exists in that chart at the pinned
// version: in its values.yaml, in the paths its templates read (template-value-refs.json),
// or under a free-form section the chart passes through (documented in charts/SOURCES.md).
//
// The key lists come from the repository's own derived facts (addons/chart-facts/, regenerated
// by `npm run chart-facts -- <charts dir>`), so the check needs nothing outside the repository.
// When the upstream chart defaults are present beside it (`../shared/charts`), tests also
// check against them directly.

import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

import { readCommittedFacts } from "../../tools/chart-facts";

/** Chart defaults and schemas collected beside the repository (`../shared/charts`), if present. */
export const CHARTS_DIR = process.env.ZADARA_CHARTS_DIR ?? path.resolve(__dirname, "../../../shared/charts");

/** True when the upstream chart defaults are available for cross-checks. */
export const UPSTREAM_CHARTS_PRESENT = fs.existsSync(CHARTS_DIR);

/** Sections rendered wholesale (toYaml / range): any sub-key is valid there. */
export const PASS_THROUGH: Record<string, string[]> = {
    "tigera-operator": ["installation", "apiServer", "defaultFelixConfiguration", "goldmane", "whisker"],
    "cluster-autoscaler": ["extraArgs", "extraEnv", "extraEnvSecrets", "extraEnvConfigMaps", "extraVolumeSecrets"],
    "aws-load-balancer-controller": ["controllerConfig.featureGates", "env"],
    "aws-ebs-csi-driver": ["storageClasses", "volumeSnapshotClasses", "controller.env", "node.env"],
    "aws-cloud-controller-manager": ["args", "env", "extraVolumes", "extraVolumeMounts"],
};

export interface ChartKeySource {
    label: string;
    /** Parsed values.yaml (or a tree built from a key list). */
    defaults: unknown;
    /** Dotted paths the templates read. */
    templateRefs: Set<string>;
    passThrough: string[];
}

export function chartDir(chart: string, version: string): string {
    return path.join(CHARTS_DIR, chart, version);
}

/** Key source from the committed chart facts (always available). */
export function loadChartKeySource(chart: string, version: string): ChartKeySource {
    const facts = readCommittedFacts(chart, version);
    if (!facts) {
        throw new Error(`no chart facts for ${chart} ${version} in addons/chart-facts (run npm run chart-facts -- <charts dir>)`);
    }
    return {
        label: `${chart} ${version} (facts)`,
        defaults: facts.keys,
        templateRefs: new Set(facts.templateRefs),
        passThrough: PASS_THROUGH[chart] ?? [],
    };
}

/** Default tolerations lists of a chart, by dotted path, from the committed facts. */
export function defaultTolerations(chart: string, version: string): Record<string, unknown[]> {
    const facts = readCommittedFacts(chart, version);
    if (!facts) {
        throw new Error(`no chart facts for ${chart} ${version}`);
    }
    return facts.tolerations;
}

/** Key source straight from the upstream chart defaults (only when ../shared/charts exists). */
export function loadUpstreamChartKeySource(chart: string, version: string): ChartKeySource {
    const dir = chartDir(chart, version);
    const valuesText = fs.readFileSync(path.join(dir, "values.yaml"), "utf8");
    const refsFile = path.join(dir, "template-value-refs.json");
    const refs: string[] = fs.existsSync(refsFile) ? JSON.parse(fs.readFileSync(refsFile, "utf8")).template_value_refs : [];
    return {
        label: `${chart} ${version}`,
        defaults: parse(valuesText) ?? {},
        templateRefs: new Set(refs),
        passThrough: PASS_THROUGH[chart] ?? [],
    };
}

/** A key source from a list of dotted key paths (for charts whose values.yaml we do not hold). */
export function keySourceFromList(label: string, keyPaths: string[], passThrough: string[] = []): ChartKeySource {
    const tree: Record<string, unknown> = {};
    for (const keyPath of keyPaths) {
        let node = tree;
        const segments = keyPath.split(".");
        segments.forEach((segment, index) => {
            if (index === segments.length - 1) {
                node[segment] = node[segment] ?? null;
            } else {
                if (typeof node[segment] !== "object" || node[segment] === null) {
                    node[segment] = {};
                }
                node = node[segment] as Record<string, unknown>;
            }
        });
    }
    return { label, defaults: tree, templateRefs: new Set(), passThrough };
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function lookup(tree: unknown, segments: string[]): { found: boolean; value: unknown } {
    let node = tree;
    for (const segment of segments) {
        if (!isObject(node) || !(segment in node)) {
            return { found: false, value: undefined };
        }
        node = node[segment];
    }
    return { found: true, value: node };
}

/**
 * Returns the dotted paths of `values` that the chart does not know. Arrays are leaves (their
 * items are Kubernetes objects or chart-defined lists); a default of `{}` is a free-form map.
 */
export function findUnknownKeys(values: Record<string, unknown>, source: ChartKeySource): string[] {
    const unknown: string[] = [];
    const walk = (node: Record<string, unknown>, parents: string[]): void => {
        for (const [key, value] of Object.entries(node)) {
            const segments = [...parents, key];
            const dotted = segments.join(".");
            if (source.passThrough.some((p) => dotted === p || dotted.startsWith(`${p}.`))) {
                continue;
            }
            const inDefaults = lookup(source.defaults, segments);
            const inTemplates = source.templateRefs.has(dotted) || [...source.templateRefs].some((ref) => ref.startsWith(`${dotted}.`));
            if (!inDefaults.found && !inTemplates) {
                unknown.push(dotted);
                continue;
            }
            const freeFormMap = inDefaults.found && isObject(inDefaults.value) && Object.keys(inDefaults.value).length === 0;
            if (isObject(value) && !freeFormMap) {
                walk(value, segments);
            }
        }
    };
    walk(values, []);
    return unknown;
}
