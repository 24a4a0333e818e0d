// Inputs that pass each key's schema but cannot work, refused before anything is registered:
// Kubernetes tags no EKS-D release has, reserved networks, a taint or tag that would be lost,
// a roll wider than its group, a bastion key that is no key, provider keys the program never
// reads. Each message names the key, the value and the fix. (Rules across keys that decide the
// cluster's shape live in rules.ts.)
import { nearestVersions, PUBLISHED_VERSIONS, publishedVersions, REFRESH_COMMAND } from "../model/published-chart-versions";
import { VERSION_TABLE } from "../addons/versions";
import { EKSD_RELEASES } from "../cluster/versions";
import { cidrsOverlap, parseIpv4Cidr } from "../model/cidr";
import { groupSizes, ValidValues } from "./rules";
import { NODE_GROUP_DEFAULTS, PROJECT_NAME } from "./schema";

const TAG_PATTERN = /^v(\d+)\.(\d+)\.(\d+)(?:-eks-(\d+)-(\d+)-(\d+))?$/;

/** kubernetesVersion against the release catalog (cluster/versions.ts): only tags a release can have. */
export function kubernetesVersionProblems(tag: string | undefined, eksdVersion: string | undefined): string[] {
    const match = tag === undefined ? null : TAG_PATTERN.exec(tag);
    if (tag === undefined || match === null || eksdVersion === undefined) {
        return []; // unset, or the schema or the minor rule (rules.ts) reports it
    }
    const known = EKSD_RELEASES[eksdVersion];
    if (known === undefined || !tag.startsWith(`v${eksdVersion}.`)) {
        return [];
    }
    const key = `${PROJECT_NAME}:kubernetesVersion`;
    const fix = `Fix: pulumi config set kubernetesVersion ${known.kubernetesVersion}, or remove it (pulumi config rm kubernetesVersion) to follow eksdVersion`;
    const [, , , patch, major, minor, releaseNumber] = match;
    if (major === undefined) {
        return [
            `${key}: "${tag}" has no EKS-D release suffix (-eks-<major>-<minor>-<release>): EKS-D images are tagged like ${known.kubernetesVersion}. ${fix}`,
        ];
    }
    if (`${major}.${minor}` !== eksdVersion) {
        return [`${key}: "${tag}" carries the release suffix of EKS-D ${major}.${minor}, not ${eksdVersion}: no release has that tag. ${fix}`];
    }
    const knownPatch = Number(TAG_PATTERN.exec(known.kubernetesVersion)?.[3]);
    const knownRelease = Number(known.release.split("-").pop());
    if (Number(patch) > knownPatch || Number(releaseNumber) > knownRelease) {
        return [
            `${key}: "${tag}" is newer than the newest EKS-D ${eksdVersion} release this program knows (${known.kubernetesVersion}, release ${known.release}): ` +
                `no AMI or image set of that release is known to exist. ${fix}`,
        ];
    }
    return [];
}

/** Networks no pod or service range may touch (RFC 5735 special-use). */
const RESERVED_NETWORKS: Array<[string, string]> = [
    ["0.0.0.0/8", "'this network'"],
    ["127.0.0.0/8", "loopback"],
    ["169.254.0.0/16", "link-local (instance metadata lives at 169.254.169.254)"],
    ["224.0.0.0/4", "multicast"],
    ["240.0.0.0/4", "reserved"],
];

function reservedRangeProblem(key: "podCidr" | "serviceCidr", text: string | undefined, example: string): string | undefined {
    const cidr = text === undefined ? undefined : parseIpv4Cidr(text);
    if (cidr === undefined) {
        return undefined;
    }
    for (const [network, what] of RESERVED_NETWORKS) {
        const reserved = parseIpv4Cidr(network);
        if (reserved !== undefined && cidrsOverlap(cidr, reserved)) {
            return `${PROJECT_NAME}:${key}: "${text}" overlaps ${network}, the ${what} range, which nodes route locally: pods and services there are unreachable. Fix: pulumi config set ${key} ${example}`;
        }
    }
    return undefined;
}

/** A private key's text: PEM (`-----BEGIN ... PRIVATE KEY-----`) or OpenSSH. */
const PRIVATE_KEY = /-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----[\s\S]+-----END ([A-Z0-9]+ )*PRIVATE KEY-----/;

/** With the autoscaler, half the token lifetime covers at least a day between two `pulumi up` runs. */
export const MIN_AUTOSCALER_TOKEN_TTL_HOURS = 48;

export interface InputRuleContext {
    /** The offline plan's stand-ins (`offline-plan-*`) are accepted for the secrets nobody set. */
    offlinePlaceholders: boolean;
}

/** Image ids are `ami-` and hex digits (the EC2 API's id format, which zCompute's AWS API answers with). */
const HEX_AMI = /^ami-[0-9a-f]+$/;

function amiProblems(v: ValidValues): string[] {
    const ids: Array<[string, string | undefined, string]> = [
        ["bastionAmiId", v.bastionAmiId, "pulumi config set bastionAmiId"],
        ["controlPlaneAmiId", v.controlPlaneAmiId, "pulumi config set controlPlaneAmiId"],
        ["workerAmiId", v.workerAmiId, "pulumi config set workerAmiId"],
        ...Object.entries(v.nodeGroups ?? {}).map(([name, group]): [string, string | undefined, string] => [
            `nodeGroups.${name}.amiId`,
            group.amiId,
            `pulumi config set --path 'nodeGroups.${name}.amiId'`,
        ]),
    ];
    return ids
        .filter(([, id]) => id !== undefined && !HEX_AMI.test(id))
        .map(
            ([where, id, command]) =>
                `${PROJECT_NAME}:${where}: "${id}" is not an image id: after "ami-" come only hex digits (0-9, a-f). Fix: copy the id from the cloud's image list, ${command} ami-<hex id>`,
        );
}

const RELEASE_VERSION = /^(v?)\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

/**
 * An override's chart version has the form the add-on's releases have (semver, with or without
 * the leading v as the catalog pins it): `latest`, `2.39` or `v2.39.3` for a chart published
 * as 2.39.3 name no release Helm could fetch. A well-formed version must also be one the
 * recorded list of published versions holds (model/published-chart-versions.json), so a version the
 * chart never published fails here, offline, instead of at the preview's Helm fetch.
 */
function chartVersionProblems(v: ValidValues): string[] {
    const pins = v.eksdVersion === undefined ? undefined : VERSION_TABLE[v.eksdVersion]?.versions;
    if (pins === undefined || v.addonOverrides === undefined) {
        return [];
    }
    const problems: string[] = [];
    for (const [name, override] of Object.entries(v.addonOverrides)) {
        const version = override?.version?.trim();
        const pinned = (pins as Record<string, string | undefined>)[name];
        if (version === undefined || pinned === undefined) {
            continue;
        }
        const form = RELEASE_VERSION.exec(version);
        const pinnedPrefix = RELEASE_VERSION.exec(pinned)?.[1] ?? "";
        if (form === null || form[1] !== pinnedPrefix) {
            problems.push(
                `${PROJECT_NAME}:addonOverrides.${name}.version: "${version}" is not a release version of ${name}: its releases are written like ${pinned} ` +
                    `(the catalog's pin for EKS-D ${v.eksdVersion}). Fix: pulumi config set --path 'addonOverrides.${name}.version' <a published version such as ${pinned}>`,
            );
            continue;
        }
        const published = publishedVersions(name) ?? [];
        if (!published.includes(version)) {
            const { chart } = PUBLISHED_VERSIONS.addons[name] ?? { chart: name };
            problems.push(
                `${PROJECT_NAME}:addonOverrides.${name}.version: "${version}" is not a published ${chart} version known here ` +
                    `(list as of ${PUBLISHED_VERSIONS.listedAsOf}: ${published.join(", ")}); nearest known: ${nearestVersions(published, version).join(", ")}. ` +
                    `Fix: pulumi config set --path 'addonOverrides.${name}.version' <one of the listed versions>, or, if ${chart} published ${version} after ` +
                    `${PUBLISHED_VERSIONS.listedAsOf}, add its chart defaults to the charts dir and refresh the list: ${REFRESH_COMMAND}`,
            );
        }
    }
    return problems;
}

export function inputProblems(v: ValidValues, context: InputRuleContext): string[] {
    const problems: string[] = [...amiProblems(v), ...chartVersionProblems(v)];
    problems.push(...kubernetesVersionProblems(v.kubernetesVersion, v.eksdVersion));
    for (const problem of [reservedRangeProblem("podCidr", v.podCidr, "10.244.0.0/16"), reservedRangeProblem("serviceCidr", v.serviceCidr, "10.96.0.0/12")]) {
        if (problem !== undefined) {
            problems.push(problem);
        }
    }
    // A token issued at an `up` is valid for at least half its lifetime (cluster/secrets.ts
    // tokenWindow); the autoscaler starts workers between two runs, so half must cover a day.
    if (v.autoscaler === true && v.workerJoinTokenTtlHours !== undefined && v.workerJoinTokenTtlHours < MIN_AUTOSCALER_TOKEN_TTL_HOURS) {
        problems.push(
            `${PROJECT_NAME}:workerJoinTokenTtlHours: ${v.workerJoinTokenTtlHours} is shorter than the autoscaler needs: it starts workers between two \`pulumi up\` runs, ` +
                `and a token is only sure to be valid for half its lifetime after an \`up\`, so a worker started later could not join. ` +
                `Fix: pulumi config set workerJoinTokenTtlHours ${MIN_AUTOSCALER_TOKEN_TTL_HOURS} or more (default 168 with the autoscaler), or pulumi config rm workerJoinTokenTtlHours`,
        );
    }
    // rootCaCert's size: model/ca-certificate.ts bounds it at 64 KiB, far below the 1 MiB of the
    // ConfigMap that carries it to the controllers.
    if (v.tags !== undefined && "Name" in v.tags) {
        problems.push(
            `${PROJECT_NAME}:tags.Name: "${v.tags.Name}" would be overwritten: every resource gets its own Name tag (infra/tags.ts). ` +
                "Fix: pulumi config rm --path 'tags.Name' (use another key, e.g. Project)",
        );
    }
    for (const [name, group] of Object.entries(v.nodeGroups ?? {})) {
        const where = `${PROJECT_NAME}:nodeGroups.${name}`;
        const seen = new Set<string>();
        (group.taints ?? []).forEach((taint, i) => {
            const id = `${taint.key}:${taint.effect}`;
            if (seen.has(id)) {
                problems.push(
                    `${where}.taints[${i}]: the taint ${taint.key} with effect ${taint.effect} is given twice (kubelet refuses duplicate taints and the node never registers). ` +
                        `Fix: pulumi config rm --path 'nodeGroups.${name}.taints[${i}]'`,
                );
            }
            seen.add(id);
        });
        const maxSurge = group.maxSurge ?? NODE_GROUP_DEFAULTS.maxSurge;
        const { maxSize } = groupSizes(group);
        if (maxSurge > maxSize) {
            problems.push(
                `${where}.maxSurge: ${maxSurge} is above the group's maxSize ${maxSize}: a roll cannot start more new nodes than the group may hold. ` +
                    `Fix: pulumi config set --path 'nodeGroups.${name}.maxSurge' ${maxSize}`,
            );
        }
    }
    for (const keyName of ["bastionSshPrivateKey", "nodeSshPrivateKey"] as const) {
        const text = v[keyName];
        if (text === undefined || PRIVATE_KEY.test(text) || (context.offlinePlaceholders && text.startsWith("offline-plan-"))) {
            continue;
        }
        problems.push(
            `${PROJECT_NAME}:${keyName}: the value (${text.length} characters, not shown) is not a private key (no -----BEGIN ... PRIVATE KEY----- block): SSH steps would fail at the first node. ` +
                `Fix: pulumi config set --secret ${keyName} -- "$(cat <key file>.pem)"`,
        );
    }
    return problems;
}

/**
 * `aws:*` settings: every AWS resource of this program goes through its own zCompute provider
 * (infra/provider.ts: region us-east-1, endpoints from apiEndpoint, keys from accessKey), so
 * Pulumi's default-provider keys change nothing. Refused, so nobody believes they do.
 */
export function ignoredProviderKeyProblems(values: Record<string, string>): string[] {
    const instead: Record<string, string> = {
        "aws:accessKey": "pulumi config set --secret accessKey <key>",
        "aws:secretKey": "pulumi config set --secret secretKey <secret>",
        "aws:insecure": "pulumi config set insecure true",
        "aws:endpoints": "pulumi config set apiEndpoint <your zCompute API host>",
    };
    return Object.keys(values)
        .filter((key) => key.startsWith("aws:"))
        .map(
            (key) =>
                `${key}: is not read: every AWS resource of this program uses its own zCompute provider (region us-east-1, endpoints from apiEndpoint). ` +
                `Fix: pulumi config rm ${key}${instead[key] ? `, then ${instead[key]}` : ""}`,
        );
}
