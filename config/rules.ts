// Rules across keys: they run on the keys that passed the schema (a key that failed already
// has its own message), so one run still reports every problem.
import { openFamilies } from "../model/address-coverage";
import { cidrContains, cidrsOverlap, Ipv4Cidr, parseIpv4Cidr } from "../model/cidr";
import { PRODUCTION_RULES, ProductionRuleId } from "../model/production-rules";
import { calicoOverrideProblem } from "../addons/versions";
import { EKSD_RELEASES } from "../cluster/versions";
import {
    GROUP_NAME_PATTERN,
    MAX_ASG_TAGS,
    MAX_CLUSTER_NODES,
    NODE_GROUP_DEFAULTS,
    NODE_POD_MASK,
    NodeGroupValues,
    PROJECT_NAME,
    RESERVED_GROUP_NAMES,
    StackConfigValues,
    TAG_KEY_MAX,
} from "./schema";

/** The schema-valid keys (with static defaults); a key that failed is absent. */
export type ValidValues = Partial<StackConfigValues>;

type Has = (key: keyof StackConfigValues) => boolean;

/**
 * The value of a key with a schema default, or undefined when the key failed the schema (it has
 * its own message). A key that passed has its default at least, so a missing value is a bug.
 */
function passedValue<K extends keyof StackConfigValues>(v: ValidValues, has: Has, key: K): NonNullable<ValidValues[K]> | undefined {
    if (!has(key)) {
        return undefined;
    }
    const value = v[key];
    if (value === undefined) {
        throw new Error(`config rules: ${key} passed the schema but has no value, though its schema has a default`);
    }
    return value;
}

/** A CIDR key parsed, or undefined when it failed the schema. */
function passedCidr(v: ValidValues, has: Has, key: "vpcCidr" | "publicSubnetCidr" | "privateSubnetCidr" | "podCidr" | "serviceCidr"): Ipv4Cidr | undefined {
    const text = passedValue(v, has, key);
    return text === undefined ? undefined : parseIpv4Cidr(text);
}

/** A group's sizes with the defaults applied (desired = min, max = larger of 4 and min). */
export function groupSizes(group: NodeGroupValues): { minSize: number; desiredSize: number; maxSize: number } {
    const minSize = group.minSize ?? NODE_GROUP_DEFAULTS.minSize;
    return { minSize, desiredSize: group.desiredSize ?? minSize, maxSize: group.maxSize ?? Math.max(NODE_GROUP_DEFAULTS.maxSize, minSize) };
}

/** The autoscaler's node-template tag prefix (cluster/node-groups.ts AUTOSCALER_TAG_PREFIX). */
const AUTOSCALER_TAG_PREFIX = "k8s.io/cluster-autoscaler";

/**
 * The tag keys a worker ASG gets, as cluster/node-groups.ts nodeGroupTags builds them (asgTags
 * makes one ASG tag per key): the user's tags, Name, Environment, the role, cluster and
 * autoscaler discovery tags, and one node-template tag per label and taint.
 * tests/config-rules.test.ts compares it with nodeGroupTags itself.
 */
export function workerAsgTagKeys(environment: string, userTags: Record<string, string>, group: Pick<NodeGroupValues, "labels" | "taints">): string[] {
    const keys = new Set<string>([
        ...Object.keys(userTags),
        "Name",
        "Environment",
        "kubernetes.io/role",
        `kubernetes.io/cluster/${environment}`,
        environment,
        `${AUTOSCALER_TAG_PREFIX}/${environment}`,
        `${AUTOSCALER_TAG_PREFIX}/enabled`,
    ]);
    for (const label of Object.keys(group.labels ?? {})) {
        keys.add(`${AUTOSCALER_TAG_PREFIX}/node-template/label/${label}`);
    }
    for (const taint of group.taints ?? []) {
        keys.add(`${AUTOSCALER_TAG_PREFIX}/node-template/taint/${taint.key}`);
    }
    return [...keys];
}

/** How many nodes' /24 pod ranges a pod CIDR holds. */
export function podCidrNodeCapacity(prefix: number): number {
    return prefix > NODE_POD_MASK ? 0 : 2 ** (NODE_POD_MASK - prefix);
}

/** The largest prefix whose pod range holds `nodes` nodes. */
export function podPrefixFor(nodes: number): number {
    return NODE_POD_MASK - Math.ceil(Math.log2(Math.max(nodes, 1)));
}

export interface RuleContext {
    stack: string;
    environment: string;
    production: boolean;
    env: Record<string, string | undefined>;
}

export function crossKeyProblems(v: ValidValues, has: (key: keyof StackConfigValues) => boolean, context: RuleContext): string[] {
    const problems: string[] = [];
    const passed = <K extends keyof StackConfigValues>(key: K) => passedValue(v, has, key);
    const problem = (key: string, message: string) => problems.push(`${PROJECT_NAME}:${key}: ${message}`);

    // Credentials: config or the standard AWS environment variables.
    if (has("accessKey") && has("secretKey")) {
        const accessKey = v.accessKey ?? context.env.AWS_ACCESS_KEY_ID;
        const secretKey = v.secretKey ?? context.env.AWS_SECRET_ACCESS_KEY;
        if (!accessKey || !secretKey) {
            problem(
                accessKey ? "secretKey" : "accessKey",
                "zCompute credentials are missing. Fix: pulumi config set --secret accessKey <key> and --secret secretKey <secret>, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            );
        }
    }

    // Network layout (with an existing VPC the subnets are the user's: not ours to check).
    const vpc = passedCidr(v, has, "vpcCidr");
    if (vpc && has("existingVpc") && !v.existingVpc) {
        const publicSubnet = passedCidr(v, has, "publicSubnetCidr");
        const privateSubnet = passedCidr(v, has, "privateSubnetCidr");
        for (const [name, subnet] of [
            ["publicSubnetCidr", publicSubnet],
            ["privateSubnetCidr", privateSubnet],
        ] as const) {
            if (subnet && !cidrContains(vpc, subnet)) {
                problem(name, `${subnet.text} is not inside vpcCidr ${vpc.text}. Fix: choose a subnet inside ${vpc.text}`);
            }
        }
        if (publicSubnet && privateSubnet && cidrsOverlap(publicSubnet, privateSubnet)) {
            problem(
                "privateSubnetCidr",
                `${privateSubnet.text} overlaps publicSubnetCidr ${publicSubnet.text}. Fix: use separate ranges, e.g. 192.168.0.0/24 and 192.168.2.0/23`,
            );
        }
    }
    if (v.existingVpc?.clusterSecurityGroupId && !v.existingVpc.bastionSecurityGroupId) {
        problem(
            "existingVpc.bastionSecurityGroupId",
            "is required when clusterSecurityGroupId is given: your cluster group must already allow SSH from the bastion's group, which the program cannot add. Fix: pulumi config set --path existingVpc.bastionSecurityGroupId sg-…",
        );
    }
    if (has("apiPublic") && v.apiPublic && passed("apiAllowedCidrs")?.length === 0) {
        problem(
            "apiAllowedCidrs",
            "is empty while apiPublic is true: nobody, not even Pulumi's Kubernetes provider, could reach the API. Fix: pulumi config set --path 'apiAllowedCidrs[0]' <the CIDR Pulumi runs from>",
        );
    }
    if (has("apiPublic") && has("runsInsideVpc") && !v.apiPublic && !v.runsInsideVpc) {
        problem(
            "apiPublic",
            "is false, but Pulumi's Kubernetes provider installs the add-ons from where Pulumi runs and cannot reach an internal API from outside the VPC. Fix: keep apiPublic true and limit apiAllowedCidrs, or run Pulumi inside the VPC (self-hosted agent, VPN) and set runsInsideVpc true",
        );
    }
    if (passed("bastionSshCidrs")?.length === 0) {
        problem(
            "bastionSshCidrs",
            "is empty: the program reaches the nodes over SSH through the bastion (API address, kubeconfig). Fix: pulumi config set --path 'bastionSshCidrs[0]' <the CIDR Pulumi runs from>",
        );
    }

    // Pod and service ranges.
    const pod = passedCidr(v, has, "podCidr");
    const service = passedCidr(v, has, "serviceCidr");
    if (pod && vpc && cidrsOverlap(pod, vpc)) {
        problem("podCidr", `${pod.text} overlaps vpcCidr ${vpc.text}. Fix: pick a range outside the VPC, e.g. 10.244.0.0/16`);
    }
    if (service && vpc && cidrsOverlap(service, vpc)) {
        problem("serviceCidr", `${service.text} overlaps vpcCidr ${vpc.text}. Fix: pick a range outside the VPC, e.g. 10.96.0.0/12`);
    }
    if (pod && service && cidrsOverlap(pod, service)) {
        problem("serviceCidr", `${service.text} overlaps podCidr ${pod.text}. Fix: use separate ranges, e.g. pods 10.244.0.0/16 and services 10.96.0.0/12`);
    }

    // Versions.
    const eksdVersion = passed("eksdVersion");
    if (eksdVersion !== undefined && has("kubernetesVersion") && v.kubernetesVersion !== undefined && !v.kubernetesVersion.startsWith(`v${eksdVersion}.`)) {
        const tag = EKSD_RELEASES[eksdVersion]?.kubernetesVersion;
        problem("kubernetesVersion", `"${v.kubernetesVersion}" is not an EKS-D ${eksdVersion} tag. Fix: use a tag such as ${tag}, or change eksdVersion`);
    }
    const calicoOverride = passed("addonOverrides")?.calico?.version;
    const calicoProblem = eksdVersion !== undefined ? calicoOverrideProblem(eksdVersion, calicoOverride) : undefined;
    if (calicoProblem) {
        problem("addonOverrides.calico.version", calicoProblem);
    }

    // Control plane.
    const controlPlaneCount = passed("controlPlaneCount");
    if (controlPlaneCount !== undefined && controlPlaneCount % 2 === 0) {
        problem(
            "controlPlaneCount",
            `${controlPlaneCount} is even: etcd needs an odd member count to keep quorum. Fix: pulumi config set controlPlaneCount ${controlPlaneCount + 1}`,
        );
    }

    // Node groups.
    const groups = passed("nodeGroups");
    if (groups !== undefined) {
        problems.push(...nodeGroupProblems(groups, v, has, context));
    }

    // etcd backup export: bucket and credentials together.
    if (has("etcdBackupBucket") && has("etcdBackupAccessKeyId") && has("etcdBackupSecretAccessKey") && has("etcdBackupEndpoint")) {
        const any = [v.etcdBackupBucket, v.etcdBackupAccessKeyId, v.etcdBackupSecretAccessKey, v.etcdBackupEndpoint].some((x) => x !== undefined);
        if (any) {
            for (const name of ["etcdBackupBucket", "etcdBackupAccessKeyId", "etcdBackupSecretAccessKey"] as const) {
                if (v[name] === undefined) {
                    problem(
                        name,
                        `is required for the etcd backup export (another etcdBackup* export key is set). Fix: pulumi config set${name === "etcdBackupBucket" ? "" : " --secret"} ${name} <value>, or remove the other etcdBackup* export keys`,
                    );
                }
            }
        }
    }

    // Production safety: every weakening is refused unless acknowledged, all at once
    // (acceptUnsafeProduction) or rule by rule (acceptUnsafeProductionRules).
    if (context.production && has("acceptUnsafeProduction") && has("acceptUnsafeProductionRules") && !v.acceptUnsafeProduction) {
        problems.push(...productionProblems(v, has, v.acceptUnsafeProductionRules ?? []));
    }
    return problems;
}

/** How a production rule is acknowledged, for the end of its message. */
function acknowledgement(rule: ProductionRuleId): string {
    return `or, to accept this risk, pulumi config set --path 'acceptUnsafeProductionRules[0]' ${rule} (acceptUnsafeProduction true accepts every rule)`;
}

/** World-open in words: "every IPv4 address" (0.0.0.0/0 written in any number of CIDRs). */
function worldOpenText(cidrs: readonly string[]): string | undefined {
    const families = openFamilies(cidrs);
    return families.length === 0 ? undefined : `every ${families.map((f) => (f === "ipv4" ? "IPv4" : "IPv6")).join(" and ")} address`;
}

function productionProblems(v: ValidValues, has: Has, accepted: readonly ProductionRuleId[]): string[] {
    const problems: string[] = [];
    const problem = (rule: ProductionRuleId, key: string, message: string) => {
        if (!accepted.includes(rule)) {
            problems.push(`${PROJECT_NAME}:${key}: ${message}, ${acknowledgement(rule)}`);
        }
    };
    const ssh = has("bastionSshCidrs") && v.bastionSshCidrs ? worldOpenText(v.bastionSshCidrs) : undefined;
    if (ssh) {
        problem(
            "bastion-ssh-open-to-world",
            "bastionSshCidrs",
            `opens bastion SSH to the world on a production stack: ${JSON.stringify(v.bastionSshCidrs)} together cover ${ssh}. Fix: pulumi config set --path 'bastionSshCidrs[0]' <your office CIDR>`,
        );
    }
    const api = has("apiAllowedCidrs") && v.apiPublic && v.apiAllowedCidrs ? worldOpenText(v.apiAllowedCidrs) : undefined;
    if (api) {
        problem(
            "api-open-to-world",
            "apiAllowedCidrs",
            `opens the Kubernetes API to the world on a production stack: ${JSON.stringify(v.apiAllowedCidrs)} together cover ${api}. Fix: list your CIDRs in apiAllowedCidrs, or pulumi config set apiPublic false`,
        );
    }
    if (has("insecure") && v.insecure) {
        problem(
            "cloud-api-tls-unverified",
            "insecure",
            'true skips TLS verification of the cloud API on a production stack (anyone on the path can read the cloud credentials). Fix: pulumi config set rootCaCert -- "$(cat root-ca.pem)" and pulumi config set insecure false',
        );
    }
    if (v.controlPlaneCount !== undefined && v.controlPlaneCount < 3) {
        problem(
            "single-control-plane",
            "controlPlaneCount",
            `${v.controlPlaneCount} control-plane node(s) cannot survive a node loss on a production stack. Fix: pulumi config set controlPlaneCount 3`,
        );
    }
    const switches: Array<[ProductionRuleId, "auditLog" | "secretsEncryption" | "kubeletHardening" | "apiServerProfiling", boolean]> = [
        ["audit-log-off", "auditLog", true],
        ["secrets-encryption-off", "secretsEncryption", true],
        ["kubelet-hardening-off", "kubeletHardening", true],
        ["profiling-on", "apiServerProfiling", false],
    ];
    for (const [rule, key, safe] of switches) {
        if (has(key) && v[key] !== undefined && v[key] !== safe) {
            problem(rule, key, `${String(v[key])} weakens a production stack (${PRODUCTION_RULES[rule]}). Fix: pulumi config set ${key} ${String(safe)}`);
        }
    }
    if (has("sshHostKeys") && v.sshHostKeys === "unpinned") {
        problem(
            "ssh-host-keys-unpinned",
            "sshHostKeys",
            '"unpinned" lets every SSH step of a production stack talk to whatever answers at a node\'s address (the control-plane bootstrap sends the CA keys there). ' +
                "Fix: pulumi config set sshHostKeys console (check the cloud first: npm run doctor -- --stack <stack> --deep, row ssh-host-keys-console)",
        );
    }
    return problems;
}

function nodeGroupProblems(groups: StackConfigValues["nodeGroups"], v: ValidValues, has: Has, context: RuleContext): string[] {
    const problems: string[] = [];
    const problem = (key: string, message: string) => problems.push(`${PROJECT_NAME}:${key}: ${message}`);
    const tags = passedValue(v, has, "tags");
    if (Object.keys(groups).length === 0) {
        problem("nodeGroups", "must be a non-empty map of group name to settings. Fix: pulumi config set --path nodeGroups.workers.maxSize 4");
        return problems;
    }
    let workerNodes = 0;
    for (const [name, group] of Object.entries(groups)) {
        const key = `nodeGroups.${name}`;
        if (!GROUP_NAME_PATTERN.test(name)) {
            problem(
                key,
                `group name "${name}" must be lowercase letters, digits and '-', starting with a letter, at most 31 characters. Fix: rename the group`,
            );
        }
        if (RESERVED_GROUP_NAMES.includes(name)) {
            problem(key, `group name "${name}" is reserved (the control-plane ASG is <env>-${name}). Fix: rename the group, e.g. workers`);
        }
        const { minSize, desiredSize, maxSize } = groupSizes(group);
        workerNodes += maxSize;
        if (maxSize < minSize) {
            problem(`${key}.maxSize`, `${maxSize} is below minSize ${minSize}. Fix: pulumi config set --path '${key}.maxSize' ${minSize}`);
        } else if (desiredSize < minSize || desiredSize > maxSize) {
            problem(
                `${key}.desiredSize`,
                `${desiredSize} is outside minSize..maxSize (${minSize}..${maxSize}). Fix: pulumi config set --path '${key}.desiredSize' ${minSize}`,
            );
        }
        if (group.maxUnavailable !== undefined && group.maxUnavailable > maxSize) {
            problem(`${key}.maxUnavailable`, `${group.maxUnavailable} is above maxSize ${maxSize}. Fix: pulumi config set --path '${key}.maxUnavailable' 0`);
        }
        if (tags !== undefined) {
            const tagKeys = workerAsgTagKeys(context.environment, tags, group);
            if (tagKeys.length > MAX_ASG_TAGS) {
                const fixed = tagKeys.length - Object.keys(group.labels ?? {}).length - (group.taints ?? []).length;
                problem(
                    key,
                    `would carry ${tagKeys.length} ASG tags (${fixed} from the program and the tags key, plus one per label and taint), above the cloud's limit of ${MAX_ASG_TAGS}. ` +
                        `Fix: keep at most ${MAX_ASG_TAGS - fixed} labels + taints on this group (or fewer entries in tags)`,
                );
            }
            for (const tagKey of tagKeys.filter((k) => k.length > TAG_KEY_MAX)) {
                problem(
                    key,
                    `the autoscaler tag "${tagKey.slice(0, 60)}..." is longer than ${TAG_KEY_MAX} characters (label or taint key too long). Fix: shorten the label/taint key`,
                );
            }
        }
    }
    // Add-ons (snapshot controller, K10, user workloads) need somewhere to run.
    if (Object.values(groups).every((g) => groupSizes(g).minSize < 1)) {
        problem(
            "nodeGroups",
            "every group may scale to zero workers: the add-ons that run on workers could never start. Fix: pulumi config set --path nodeGroups.<group>.minSize 1 on at least one group",
        );
    }
    const controlPlaneCount = passedValue(v, has, "controlPlaneCount");
    if (controlPlaneCount !== undefined) {
        const nodes = workerNodes + controlPlaneCount;
        if (nodes > MAX_CLUSTER_NODES) {
            problem(
                "nodeGroups",
                `the groups' maxSize sum to ${workerNodes} workers (+ ${controlPlaneCount} control-plane) = ${nodes} nodes, above Kubernetes' supported ${MAX_CLUSTER_NODES}. Fix: lower maxSize`,
            );
        }
        const pod = passedCidr(v, has, "podCidr");
        if (pod && podCidrNodeCapacity(pod.prefix) < nodes) {
            const capacity = podCidrNodeCapacity(pod.prefix);
            const prefix = podPrefixFor(nodes);
            problem(
                "podCidr",
                `${pod.text} holds ${capacity} node pod range${capacity === 1 ? "" : "s"} (/${NODE_POD_MASK} per node), but the node groups' maxSize (${workerNodes}) + ${controlPlaneCount} control-plane node(s) = ${nodes} nodes. ` +
                    `Fix: use a /${prefix} or larger, e.g. pulumi config set podCidr ${prefix >= 16 ? "10.244.0.0/16" : `10.0.0.0/${prefix}`}, or lower maxSize`,
            );
        }
    }
    return problems;
}
