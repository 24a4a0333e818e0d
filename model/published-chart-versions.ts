// The chart versions (release tags for the snapshot controller) known to be published, per
// add-on: data in model/published-chart-versions.json, written by `npm run chart-versions` from the
// collected chart defaults, the committed chart facts and the catalog's pins. An override naming
// any other version is refused at config time: Helm would only fail at the preview's fetch.
import data from "./published-chart-versions.json";
import { compareVersions } from "./version-order";

export interface PublishedVersion {
    version: string;
    /** Where the version was seen published (chart snapshot ref/commit, facts file, pin). */
    from: string;
}

export interface PublishedVersionsData {
    note: string;
    /** Where the list was derived from. */
    source: string;
    /** Newest upstream date the list reflects (YYYY-MM-DD). */
    listedAsOf: string;
    addons: Record<string, { chart: string; versions: PublishedVersion[] }>;
}

export const PUBLISHED_VERSIONS: PublishedVersionsData = data;

/** The npm script that refreshes the list (named in the refusal's fix). */
export const REFRESH_COMMAND = "npm run chart-versions -- <charts dir>";

/** The versions recorded for an add-on, oldest first; undefined when none are recorded. */
export function publishedVersions(addon: string): string[] | undefined {
    return PUBLISHED_VERSIONS.addons[addon]?.versions.map((v) => v.version);
}

/**
 * The recorded versions closest to `version`: the next lower and the next higher one (one of
 * them when `version` is beyond either end), so a typo points at what was meant.
 */
export function nearestVersions(known: readonly string[], version: string): string[] {
    const sorted = [...known].sort(compareVersions);
    const below = sorted.filter((v) => compareVersions(v, version) < 0).pop();
    const above = sorted.find((v) => compareVersions(v, version) >= 0);
    return [below, above].filter((v): v is string => v !== undefined);
}
