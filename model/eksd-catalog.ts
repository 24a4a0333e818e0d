// The EKS-D release records (model/eksd-releases.json) and how they are read from upstream:
// each EKS-D release page (GitHub release `v1-XX-eks-N`, or the repository's rendering
// docs/contents/releases/1-XX/N/index.md) links its manifest `kubernetes-1-XX-eks-N.yaml` and
// lists every image as "name | version | URI". The catalog tool (tools/eksd-catalog.ts) turns
// such a page into a record; cluster/versions.ts pins the highest release number per minor.

/** One EKS-D release as read from its release page. */
export interface EksdReleaseRecord {
    /** e.g. 1-33-eks-35 */
    release: string;
    /** Upstream versions (the image tags add the `-eks-1-XX-N` suffix). */
    kubernetes: string;
    etcd: string;
    coredns: string;
    /** Where the image table was read. */
    source: string;
}

/** A release known to exist whose image table was not read (kept so the gap is visible). */
export interface NamedRelease {
    release: string;
    why: string;
    /** Every place looked in for its image table, so the next search starts elsewhere. */
    searched: string[];
}

export interface EksdCatalogData {
    note: string;
    releases: EksdReleaseRecord[];
    namedNotRead: NamedRelease[];
}

const RELEASE_NAME = /^1-(\d+)-eks-(\d+)$/;

/** "1-33-eks-35" -> { minor: "1.33", number: 35 }. */
export function parseReleaseName(release: string): { minor: string; channel: string; number: number } {
    const match = RELEASE_NAME.exec(release);
    if (!match) {
        throw new Error(`"${release}" is not an EKS-D release name (1-XX-eks-N)`);
    }
    return { minor: `1.${match[1]}`, channel: `1-${match[1]}`, number: Number(match[2]) };
}

/** The image tag suffix of a release: 1-33-eks-35 -> "-eks-1-33-35". */
export function imageSuffix(release: string): string {
    const { channel, number } = parseReleaseName(release);
    return `-eks-${channel}-${number}`;
}

/** Problems of one record (empty when it is consistent). */
export function recordProblems(record: EksdReleaseRecord): string[] {
    const problems: string[] = [];
    let minor: string;
    try {
        minor = parseReleaseName(record.release).minor;
    } catch (error) {
        return [(error as Error).message];
    }
    if (!new RegExp(`^v${minor.replace(".", "\\.")}\\.\\d+$`).test(record.kubernetes)) {
        problems.push(`${record.release}: kubernetes "${record.kubernetes}" is not a ${minor} patch version (v${minor}.N)`);
    }
    for (const [name, value] of [
        ["etcd", record.etcd],
        ["coredns", record.coredns],
    ] as const) {
        if (!/^v\d+\.\d+\.\d+$/.test(value)) {
            problems.push(`${record.release}: ${name} "${value}" is not a version vX.Y.Z`);
        }
    }
    if (record.source.trim().length < 10) {
        problems.push(`${record.release}: source must name the release page it was read from`);
    }
    return problems;
}

/** The newest (highest number) release of each minor. */
export function newestPerMinor(records: readonly EksdReleaseRecord[]): Record<string, EksdReleaseRecord> {
    const newest: Record<string, EksdReleaseRecord> = {};
    for (const record of records) {
        const { minor, number } = parseReleaseName(record.release);
        const current = newest[minor];
        if (!current || parseReleaseName(current.release).number < number) {
            newest[minor] = record;
        }
    }
    return newest;
}

// Image rows of a release page: "| kube-apiserver | v1.33.13 | public.ecr.aws/...:v1.33.13-eks-1-33-35 |"
// (repository page, Markdown) or "kube-apiserver v1.33.13 public.ecr.aws/...:v1.33.13-eks-1-33-35" (GitHub release page).
const IMAGE_ROW = /^\|?\s*(kube-apiserver|etcd|coredns)\s*\|?\s+(v\d+\.\d+\.\d+)\s*\|?\s+(public\.ecr\.aws\/\S+?:(\S+?))\s*\|?\s*$/;
const MANIFEST_NAME = /kubernetes-(1-\d+)-eks-(\d+)\.yaml/;

/**
 * Reads one release page: the release from the manifest link, the Kubernetes, etcd and CoreDNS
 * versions from the image table. Every image tag must carry this release's suffix.
 */
export function parseReleasePage(text: string, source: string): EksdReleaseRecord {
    const manifest = MANIFEST_NAME.exec(text);
    if (!manifest) {
        throw new Error(`${source}: no release manifest link (kubernetes-1-XX-eks-N.yaml) found`);
    }
    const release = `${manifest[1]}-eks-${manifest[2]}`;
    const suffix = imageSuffix(release);
    const versions: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
        const row = IMAGE_ROW.exec(line.trim());
        if (!row) {
            continue;
        }
        const [, name, version, , tag] = row;
        if (tag !== `${version}${suffix}`) {
            throw new Error(`${source}: ${name} image tag "${tag}" is not ${version}${suffix} (another release's table?)`);
        }
        versions[name] = version;
    }
    const missing = ["kube-apiserver", "etcd", "coredns"].filter((name) => versions[name] === undefined);
    if (missing.length > 0) {
        throw new Error(`${source}: no image row for ${missing.join(", ")} in the release table`);
    }
    const record: EksdReleaseRecord = {
        release,
        kubernetes: versions["kube-apiserver"],
        etcd: versions.etcd,
        coredns: versions.coredns,
        source,
    };
    const problems = recordProblems(record);
    if (problems.length > 0) {
        throw new Error(problems.join("\n"));
    }
    return record;
}

/** Adds a record or replaces the one of the same release; ordered by minor, then number. */
export function upsertRelease(data: EksdCatalogData, record: EksdReleaseRecord): EksdCatalogData {
    const releases = [...data.releases.filter((r) => r.release !== record.release), record].sort((a, b) => {
        const left = parseReleaseName(a.release);
        const right = parseReleaseName(b.release);
        return Number(left.minor.split(".")[1]) - Number(right.minor.split(".")[1]) || left.number - right.number;
    });
    return { ...data, releases, namedNotRead: data.namedNotRead.filter((n) => n.release !== record.release) };
}

/** One release per line, so a new release is a one-line diff. */
export function serializeCatalog(data: EksdCatalogData): string {
    const line = (value: unknown): string =>
        JSON.stringify(value)
            .replace(/^\{/, "{ ")
            .replace(/\}$/, " }")
            .replace(/","/g, '", "')
            .replace(/"(\w+)":/g, '"$1": ');
    const list = (items: unknown[]): string => (items.length === 0 ? "[]" : `[\n${items.map((item) => `    ${line(item)}`).join(",\n")}\n  ]`);
    return `{\n  "note": ${JSON.stringify(data.note)},\n  "releases": ${list(data.releases)},\n  "namedNotRead": ${list(data.namedNotRead)}\n}\n`;
}
