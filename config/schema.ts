// The stack configuration's one schema. Every key of `zadara-eksd:<key>` is a zod schema here,
// with its documentation beside it; from this file come the TypeScript types (z.output), the
// validation (config/index.ts), the defaults, the README config reference and the editor JSON
// Schema (tools/config-docs.ts).
//
// Why zod 4: types are inferred from the schema (no second, hand-written interface to drift),
// one parse reports every issue at once with its path and the offending input (reportInput),
// it never coerces unless asked to, and z.toJSONSchema gives the editor schema for free.
import { z } from "zod";
import { ADDON_NAMES } from "../addons/versions";
import * as eksdVersions from "../cluster/versions";
import { ENVIRONMENT_NAME_PATTERN } from "../infra/tags";
import { rootCaProblem } from "../model/ca-certificate";
import { isIpv4Address, networkOf, parseIpv4Cidr } from "../model/cidr";
import { CNI_CHOICES, CONTROL_PLANE_MODES, SSH_HOST_KEY_MODES, TAINT_EFFECTS, VOLUME_TYPES } from "../model/constants";
import { PRODUCTION_RULE_IDS } from "../model/production-rules";

export { PROJECT_NAME } from "../model/constants";

// ---------------------------------------------------------------------------------------------
// Bounds (each with the reason it is what it is)

/** AWS (and zCompute) VPCs and subnets: a /16 at most, a /28 at least. */
export const VPC_PREFIX = { min: 16, max: 28 } as const;
/** kube-apiserver refuses a --service-cluster-ip-range larger than a /12 (2^20 addresses). */
export const SERVICE_CIDR_MIN_PREFIX = 12;
/** kube-controller-manager's --node-cidr-mask-size default: every node takes a /24 of the pod range. */
export const NODE_POD_MASK = 24;
/**
 * Per node group. Kubernetes supports clusters of up to 5000 nodes; one group of 1000 is far
 * above what a zCompute edge cloud hosts and still catches typos such as 1000000.
 */
export const MAX_GROUP_SIZE = 1000;
/** Kubernetes' documented scalability limit (nodes per cluster). */
export const MAX_CLUSTER_NODES = 5000;
/**
 * Root volumes, GiB: 20 holds the EKS-D image and container images; 16384 (16 TiB) is the
 * largest EBS volume the API creates.
 */
export const VOLUME_SIZE = { min: 20, max: 16384 } as const;
/** AWS Auto Scaling: at most 50 tags per group. */
export const MAX_ASG_TAGS = 50;
/** AWS tag limits: key 128, value 256 characters. */
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;

// ---------------------------------------------------------------------------------------------
// Documentation of a key (the schema is the zod value; this is what the README shows)

export type KeyGroup = "cloud" | "naming" | "network" | "bastion" | "cluster" | "hardening" | "nodes" | "backup" | "addons";

export interface KeyDocumentation {
    group: KeyGroup;
    description: string;
    /** A value that works, used in every "Fix: pulumi config set <key> <example>". */
    example: string;
    required?: boolean;
    /** Must be set with `pulumi config set --secret`. */
    secret?: boolean;
    /** Shown instead of the default when the default is computed. */
    defaultText?: string;
    /** The Terraform variable of Zadara's reference deployment this key replaces. */
    terraformVariable?: string;
    /** Values that have a reason to be refused beyond "not in the list": value -> message. */
    refusals?: Record<string, string>;
}

/** Documentation of every top-level key, keyed by the key's schema. */
export const KEY_DOCS = z.registry<KeyDocumentation>();

function key<S extends z.ZodType>(schema: S, doc: KeyDocumentation): S {
    const described = schema.meta({ description: doc.description });
    KEY_DOCS.add(described, doc);
    return described;
}

/** A nested field: its example goes to the JSON Schema and into the fix of its messages. */
function field<S extends z.ZodType>(schema: S, example: unknown, description?: string): S {
    return schema.meta({ examples: [example], ...(description ? { description } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Value shapes

const AMI_PATTERN = /^ami-[0-9a-z]{8,17}$/;
/** zCompute instance types are `<family>.<size>`, e.g. z8.large; nothing else may reach user data. */
export const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9]*\.[a-z0-9]+$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+=,@-]{0,254}$/;
const USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
const DURATION_PATTERN = /^\d+(s|m|h)$/;
const DNS_DOMAIN_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const HOST_LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const HOSTNAME_PATTERN = new RegExp(`^${HOST_LABEL}(\\.${HOST_LABEL})*$`, "i");
export const GROUP_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;
/** Kubernetes qualified name (label key, taint key): optional DNS prefix, name of at most 63. */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
/** The control-plane ASG is `<env>-master`: a worker group of that name would collide with it. */
export const RESERVED_GROUP_NAMES = ["master"];

/** Why a label/taint key is not a Kubernetes qualified name; undefined when it is. */
export function labelKeyProblem(text: string): string | undefined {
    const slash = text.lastIndexOf("/");
    const prefix = slash >= 0 ? text.slice(0, slash) : undefined;
    const name = slash >= 0 ? text.slice(slash + 1) : text;
    if (prefix !== undefined && (prefix.length > 253 || !LABEL_PREFIX.test(prefix))) {
        return `its prefix "${prefix}" is not a lowercase DNS subdomain`;
    }
    if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
        return "its name must be 1-63 letters, digits, '-', '_', '.', starting and ending with a letter or digit";
    }
    return undefined;
}

/**
 * kubelet refuses --node-labels in the kubernetes.io and k8s.io namespaces except these
 * (the node would never register).
 */
function kubeletMaySetLabel(labelKey: string): boolean {
    const slash = labelKey.indexOf("/");
    if (slash < 0) {
        return true;
    }
    const prefix = labelKey.slice(0, slash);
    const reserved = /(^|\.)(kubernetes\.io|k8s\.io)$/.test(prefix);
    return !reserved || /(^|\.)(node|kubelet)\.kubernetes\.io$/.test(prefix);
}

function show(value: unknown): string {
    return JSON.stringify(value);
}

function pattern(regex: RegExp, what: string, fix: string) {
    return z.string().regex(regex, { error: (issue) => `${show(issue.input)} is not ${what}. Fix: ${fix}` });
}

const ami = (fix: string) => pattern(AMI_PATTERN, "an AMI id (ami- and 8 to 17 lowercase letters or digits)", fix);
const instanceType = (fix: string) => pattern(INSTANCE_TYPE_PATTERN, "an instance type (<family>.<size> such as z8.large)", fix);

function cidr(options: { example: string; minPrefix?: number; maxPrefix?: number; why?: string }) {
    return z.string().superRefine((text, ctx) => {
        const parsed = parseIpv4Cidr(text);
        if (!parsed) {
            const network = networkOf(text);
            const fix = network ? `use the network address ${network}` : `use an IPv4 CIDR such as ${options.example}`;
            ctx.addIssue({ code: "custom", input: text, message: `${show(text)} is not a valid IPv4 network CIDR. Fix: ${fix}` });
            return;
        }
        const { minPrefix = 0, maxPrefix = 32, why = "" } = options;
        if (parsed.prefix < minPrefix || parsed.prefix > maxPrefix) {
            const range = minPrefix === maxPrefix ? `/${minPrefix}` : maxPrefix === 32 ? `/${minPrefix} or smaller` : `/${minPrefix} to /${maxPrefix}`;
            ctx.addIssue({
                code: "custom",
                input: text,
                message: `${show(text)} is a /${parsed.prefix} network, outside ${range}${why ? ` (${why})` : ""}. Fix: use a ${range} network such as ${options.example}`,
            });
        }
    });
}

const vpcRange = (example: string) => cidr({ example, minPrefix: VPC_PREFIX.min, maxPrefix: VPC_PREFIX.max, why: "the cloud's VPC and subnet sizes" });

function cidrList(example: string) {
    return z.array(cidr({ example }));
}

/** The zCompute API: a host name (or IPv4 address) with an optional port, or an https URL of one. */
export function endpointProblem(text: string): string | undefined {
    const match = /^(?:(https?):\/\/)?([^/:?#]+)(?::(\d{1,5}))?\/?$/i.exec(text);
    const fix = "Fix: pulumi config set apiEndpoint cloud.example.com (or https://cloud.example.com)";
    if (!match) {
        return `${show(text)} is not a host name or https URL (no path, query or spaces). ${fix}`;
    }
    const [, scheme, host, port] = match;
    if (scheme && scheme.toLowerCase() !== "https") {
        return `${show(text)} uses ${scheme}://: the cloud API is only reached over https. ${fix}`;
    }
    const lastLabel = host.split(".").pop() ?? "";
    const isAddress = isIpv4Address(host) && host.split(".").length === 4;
    if (!isAddress && (!HOSTNAME_PATTERN.test(host) || /^\d+$/.test(lastLabel))) {
        return `${show(text)} is not a host name or https URL (a host name ends in a name such as .com; an address has four parts). ${fix}`;
    }
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
        return `${show(text)} has port ${port}, outside 1-65535. ${fix}`;
    }
    return undefined;
}

const stringMap = z.record(z.string(), z.string());

function tagsSchema(path: string) {
    return stringMap.superRefine((tags, ctx) => {
        for (const [tagKey, value] of Object.entries(tags)) {
            if (tagKey.length === 0 || tagKey.length > TAG_KEY_MAX || tagKey.toLowerCase().startsWith("aws:")) {
                ctx.addIssue({
                    code: "custom",
                    path: [tagKey],
                    input: tagKey,
                    message: `tag key ${show(tagKey)} must be 1-${TAG_KEY_MAX} characters and not start with aws:. Fix: rename it with pulumi config set --path '${path}.<name>' <value>`,
                });
            }
            if (value.length > TAG_VALUE_MAX) {
                ctx.addIssue({
                    code: "custom",
                    path: [tagKey],
                    input: value,
                    message: `tag value of ${show(tagKey)} is longer than ${TAG_VALUE_MAX} characters. Fix: shorten it`,
                });
            }
        }
    });
}

const labelsSchema = stringMap.superRefine((labels, ctx) => {
    for (const [labelKey, value] of Object.entries(labels)) {
        const keyProblem = labelKeyProblem(labelKey);
        if (keyProblem) {
            ctx.addIssue({
                code: "custom",
                path: [labelKey],
                input: labelKey,
                message: `label key ${show(labelKey)} is not a valid Kubernetes label key: ${keyProblem}. Fix: use keys like team or example.com/team`,
            });
        } else if (!kubeletMaySetLabel(labelKey)) {
            ctx.addIssue({
                code: "custom",
                path: [labelKey],
                input: labelKey,
                message: `label key ${show(labelKey)} is in a namespace kubelet may not set (the node would never register). Fix: use your own prefix (example.com/...) or node.kubernetes.io/...`,
            });
        }
        if (value.length > 63 || !LABEL_VALUE.test(value)) {
            ctx.addIssue({
                code: "custom",
                path: [labelKey],
                input: value,
                message: `label value ${show(value)} is not a valid Kubernetes label value. Fix: use at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit`,
            });
        }
    }
});

const taintSchema = z.strictObject({
    key: field(
        z.string().superRefine((text, ctx) => {
            const problem = labelKeyProblem(text);
            if (problem) {
                ctx.addIssue({
                    code: "custom",
                    input: text,
                    message: `taint key ${show(text)} is not valid: ${problem}. Fix: use a label-style key such as dedicated`,
                });
            }
        }),
        "dedicated",
    ),
    // The value travels in kubelet's --register-with-taints and in an ASG tag.
    value: field(
        z
            .string()
            .regex(LABEL_VALUE, { error: (issue) => `taint value ${show(issue.input)} is not valid. Fix: use at most 63 letters, digits, '-', '_', '.'` })
            .max(63, { error: (issue) => `taint value ${show(issue.input)} is longer than 63 characters. Fix: shorten it` }),
        "gpu",
    ).optional(),
    effect: field(z.enum(TAINT_EFFECTS), "NoSchedule"),
});

/** Node group fields with their defaults (the README's nodeGroups default shows them). */
export const NODE_GROUP_DEFAULTS = {
    instanceType: "z8.large",
    minSize: 1,
    maxSize: 4,
    volumeSize: 100,
    cooldown: 120,
    maxSurge: 1,
    maxUnavailable: 0,
    drainTimeoutSeconds: 600,
} as const;

const count = (max: number, example: number) => field(z.int().min(0).max(max), example);

export const NodeGroupSchema = z.strictObject({
    instanceType: field(instanceType("pulumi config set --path 'nodeGroups.<group>.instanceType' z8.large"), "z8.large").optional(),
    minSize: count(MAX_GROUP_SIZE, 1).optional(),
    /** Default: minSize. */
    desiredSize: count(MAX_GROUP_SIZE, 1).optional(),
    /** Default: the larger of 4 and minSize. */
    maxSize: field(z.int().min(1).max(MAX_GROUP_SIZE), 4).optional(),
    volumeSize: field(z.int().min(VOLUME_SIZE.min).max(VOLUME_SIZE.max), 100).optional(),
    /** Default: workerAmiId. */
    amiId: field(ami("pulumi config set --path 'nodeGroups.<group>.amiId' ami-0123456789abcdef0"), "ami-0123456789abcdef0").optional(),
    labels: field(labelsSchema, { "example.com/team": "a" }).optional(),
    taints: field(z.array(taintSchema), [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }]).optional(),
    /** ASG default cooldown, seconds (an hour at most: longer only stalls scaling). */
    cooldown: field(z.int().min(0).max(3600), 120).optional(),
    /** Instances a roll starts above the group's size at a time (1..100). */
    maxSurge: field(z.int().min(1).max(100), 1).optional(),
    /** Instances a roll may take below the group's size (0..100). */
    maxUnavailable: field(z.int().min(0).max(100), 0).optional(),
    /** Drain budget per node: 30 s to 2 h (PodDisruptionBudgets may need minutes). */
    drainTimeoutSeconds: field(z.int().min(30).max(7200), 600).optional(),
});

const existingVpcSchema = z.strictObject({
    vpcId: field(pattern(/^vpc-[0-9a-z]+$/, "an id shaped vpc-…", "copy the id from the cloud console"), "vpc-0123456789abcdef0"),
    publicSubnetId: field(pattern(/^subnet-[0-9a-z]+$/, "an id shaped subnet-…", "copy the id from the cloud console"), "subnet-0123456789abcdef0"),
    privateSubnetId: field(pattern(/^subnet-[0-9a-z]+$/, "an id shaped subnet-…", "copy the id from the cloud console"), "subnet-0123456789abcdef1"),
    clusterSecurityGroupId: field(pattern(/^sg-[0-9a-z]+$/, "an id shaped sg-…", "copy the id from the cloud console"), "sg-0123456789abcdef0").optional(),
    bastionSecurityGroupId: field(pattern(/^sg-[0-9a-z]+$/, "an id shaped sg-…", "copy the id from the cloud console"), "sg-0123456789abcdef1").optional(),
});

const addonOverrideSchema = z.strictObject({
    version: field(
        z.string().trim().min(1, {
            error: "is empty: it must be a non-empty chart version. Fix: pulumi config set --path addonOverrides.<addon>.version <chart version> (see the add-on table)",
        }),
        "1.2.3",
    ).optional(),
    values: field(z.record(z.string(), z.unknown()), { replicaCount: 1 }).optional(),
});

const addonOverridesSchema = z
    .strictObject(
        Object.fromEntries(ADDON_NAMES.map((name) => [name, addonOverrideSchema.optional()])) as Record<
            (typeof ADDON_NAMES)[number],
            z.ZodOptional<typeof addonOverrideSchema>
        >,
    )
    .superRefine((overrides, ctx) => {
        if (overrides.snapshotController?.values !== undefined) {
            // Plain manifests from the external-snapshotter tag: there are no Helm values.
            ctx.addIssue({
                code: "custom",
                path: ["snapshotController", "values"],
                input: overrides.snapshotController.values,
                message:
                    "is not supported: the snapshot controller takes a version (release tag) only. Fix: pulumi config rm --path addonOverrides.snapshotController.values",
            });
        }
    });

// ---------------------------------------------------------------------------------------------
// EKS-D versions: from cluster/versions.ts (a data module that imports nothing of ours)

/** Minors past end of life: refused with their own message. */
export const END_OF_LIFE_MINORS: readonly string[] = eksdVersions.END_OF_LIFE_MINORS;
export const EKSD_MINORS = eksdVersions.SUPPORTED_EKSD_MINORS.filter((minor) => !END_OF_LIFE_MINORS.includes(minor)) as [string, ...string[]];
export const DEFAULT_EKSD_MINOR: string = eksdVersions.DEFAULT_EKSD_MINOR;
/** The default minor's pinned tag: the example of kubernetesVersion follows the catalog. */
const DEFAULT_KUBERNETES_TAG: string = eksdVersions.eksdRelease(eksdVersions.DEFAULT_EKSD_MINOR).kubernetesVersion;

const boolean = (value: boolean) => z.boolean().default(value);

// ---------------------------------------------------------------------------------------------
// The keys

export const CONFIG_SCHEMAS = {
    // Cloud and provider
    apiEndpoint: key(
        z.string().superRefine((text, ctx) => {
            const problem = endpointProblem(text);
            if (problem) {
                ctx.addIssue({ code: "custom", input: text, message: problem });
            }
        }),
        {
            group: "cloud",
            required: true,
            example: "cloud.example.com",
            terraformVariable: "api_endpoint",
            description: "zCompute API host or https URL, e.g. `cloud.example.com` or `https://cloud.example.com`.",
        },
    ),
    accessKey: key(z.string().optional(), {
        group: "cloud",
        secret: true,
        example: "<access key>",
        defaultText: "`AWS_ACCESS_KEY_ID`",
        terraformVariable: "zcompute_access_key",
        description: "Access key of a user with MemberFullAccess + IAMFullAccess. Falls back to the environment.",
    }),
    secretKey: key(z.string().optional(), {
        group: "cloud",
        secret: true,
        example: "<secret key>",
        defaultText: "`AWS_SECRET_ACCESS_KEY`",
        terraformVariable: "zcompute_secret_key",
        description: "Secret key for `accessKey`. Falls back to the environment.",
    }),
    insecure: key(boolean(false), {
        group: "cloud",
        example: "true",
        description: "Skip TLS verification of the zCompute API (self-signed clouds without a CA file).",
    }),
    rootCaCert: key(
        // Parsed (model/ca-certificate.ts); the message never repeats the value (it may hold a key).
        z
            .string()
            .superRefine((text, ctx) => {
                const problem = rootCaProblem(text);
                if (problem) {
                    ctx.addIssue({
                        code: "custom",
                        message: `${problem}. Fix: pulumi config set rootCaCert -- "$(cat root-ca.pem)" with the root CA certificate only`,
                    });
                }
            })
            .optional(),
        {
            group: "cloud",
            example: '-- "$(cat root-ca.pem)"',
            terraformVariable: "root_ca_cert_path",
            description: "PEM of the cloud's root CA: trusted on every VM (bastion and nodes) and mounted into the cloud controllers.",
        },
    ),

    // Naming and safety
    environment: key(
        pattern(
            ENVIRONMENT_NAME_PATTERN,
            "an environment name: it must start with a letter and use only lowercase letters, digits and '-', at most 20 characters (it names resources and the cluster)",
            "pulumi config set environment dev",
        ).optional(),
        {
            group: "naming",
            example: "dev",
            defaultText: "stack name",
            terraformVariable: "environment",
            description: "Name prefix and Kubernetes cluster name (lowercase letters, digits, `-`; at most 20 characters).",
        },
    ),
    production: key(z.boolean().optional(), {
        group: "naming",
        example: "true",
        defaultText: "true for stacks named `prod*`",
        description:
            "Marks a production stack: the production rules (docs/security-production.md) refuse world-open SSH or API, TLS unverified, one control-plane node and every hardening switch off.",
    }),
    acceptUnsafeProduction: key(boolean(false), {
        group: "naming",
        example: "true",
        description: "Explicitly accept every setting that `production` refuses (documented risk); prefer `acceptUnsafeProductionRules`.",
    }),
    acceptUnsafeProductionRules: key(z.array(z.enum(PRODUCTION_RULE_IDS)).default([]), {
        group: "naming",
        example: "--path 'acceptUnsafeProductionRules[0]' single-control-plane",
        description: `Production rules accepted one by one (documented risk): ${PRODUCTION_RULE_IDS.map((id) => `\`${id}\``).join(", ")}.`,
    }),
    tags: key(tagsSchema("tags").default({}), {
        group: "naming",
        example: "--path tags.team platform",
        description: "Extra tags put on every taggable resource (zCompute rejects provider default tags). Each worker ASG carries at most 50 tags in all.",
    }),

    // Network
    vpcCidr: key(vpcRange("192.168.0.0/16").default("192.168.0.0/16"), {
        group: "network",
        example: "192.168.0.0/16",
        terraformVariable: "vpc_cidr",
        description: "VPC CIDR, /16 to /28.",
    }),
    publicSubnetCidr: key(vpcRange("192.168.0.0/24").default("192.168.0.0/24"), {
        group: "network",
        example: "192.168.0.0/24",
        terraformVariable: "public_cidr",
        description: "Public subnet (bastion, NAT gateway, public load balancers), /16 to /28 inside `vpcCidr`.",
    }),
    privateSubnetCidr: key(vpcRange("192.168.2.0/23").default("192.168.2.0/23"), {
        group: "network",
        example: "192.168.2.0/23",
        terraformVariable: "private_cidr",
        description: "Private subnet (Kubernetes nodes, internal load balancers), /16 to /28 inside `vpcCidr`.",
    }),
    dnsServers: key(
        z
            .array(
                z.string().refine((text) => isIpv4Address(text) && text.split(".").length === 4, {
                    error: (issue) => `${show(issue.input)} is not an IPv4 address. Fix: list DNS server addresses such as 8.8.8.8`,
                }),
            )
            .default(["8.8.8.8", "8.8.4.4"]),
        { group: "network", example: "--path 'dnsServers[0]' 8.8.8.8", description: "DHCP options: DNS servers." },
    ),
    dnsDomain: key(pattern(DNS_DOMAIN_PATTERN, "a DNS domain", "pulumi config set dnsDomain symphony.local").default("symphony.local"), {
        group: "network",
        example: "symphony.local",
        description: "DHCP options: domain name; the API NLB is reachable inside the VPC as `elb-<id>.<dnsDomain>`.",
    }),
    existingVpc: key(existingVpcSchema.optional(), {
        group: "network",
        example: "--path existingVpc.vpcId vpc-0123456789abcdef0",
        description:
            "Bring your own VPC: `{vpcId, publicSubnetId, privateSubnetId, clusterSecurityGroupId?, bastionSecurityGroupId?}`. Only what is missing is created.",
    }),
    apiPublic: key(boolean(true), {
        group: "network",
        example: "true",
        terraformVariable: "expose_k8s_api_publicly",
        description: "Internet-facing API NLB in the public subnet; false puts an internal NLB in the private subnet.",
    }),
    runsInsideVpc: key(boolean(false), {
        group: "network",
        example: "true",
        description:
            "Pulumi runs inside the VPC (self-hosted Deployments agent, VPN). Required for `apiPublic: false`: the Kubernetes provider connects from where Pulumi runs.",
    }),
    apiAllowedCidrs: key(cidrList("198.51.100.0/24").default(["0.0.0.0/0"]), {
        group: "network",
        example: "--path 'apiAllowedCidrs[0]' 198.51.100.0/24",
        description:
            "Who may reach the Kubernetes API on 6443: internet clients of a public API, VPC/VPN clients (such as a self-hosted agent) of an internal one.",
    }),

    // Bastion
    bastionAmiId: key(ami("pulumi config set bastionAmiId ami-<ubuntu 22.04 image id>"), {
        group: "bastion",
        required: true,
        example: "ami-<ubuntu 22.04 image id>",
        terraformVariable: "bastion_ami",
        description: "Ubuntu 22.04 AMI id for the bastion.",
    }),
    bastionInstanceType: key(instanceType("pulumi config set bastionInstanceType z2.medium").default("z2.medium"), {
        group: "bastion",
        example: "z2.medium",
        terraformVariable: "bastion_instance_type",
        description: "Bastion instance type.",
    }),
    bastionKeyName: key(pattern(NAME_PATTERN, "a key pair name", "pulumi config set bastionKeyName <key pair name>"), {
        group: "bastion",
        required: true,
        example: "<key pair name>",
        terraformVariable: "bastion_keyname",
        description: "Key pair name for the bastion.",
    }),
    bastionSshUser: key(pattern(USER_PATTERN, "a Linux user name", "pulumi config set bastionSshUser ubuntu").default("ubuntu"), {
        group: "bastion",
        example: "ubuntu",
        terraformVariable: "bastion_user",
        description: "SSH user on the bastion.",
    }),
    bastionSshPrivateKey: key(z.string(), {
        group: "bastion",
        secret: true,
        required: true,
        example: '-- "$(cat bastion.pem)"',
        terraformVariable: "bastion_keyfile",
        description: "Private key (PEM/OpenSSH text) of `bastionKeyName`.",
    }),
    bastionSshCidrs: key(cidrList("198.51.100.0/24").default(["0.0.0.0/0"]), {
        group: "bastion",
        example: "--path 'bastionSshCidrs[0]' 198.51.100.0/24",
        description: "Who may SSH to the bastion. Never `0.0.0.0/0` in production.",
    }),

    // Cluster
    eksdVersion: key(z.enum(EKSD_MINORS).default(DEFAULT_EKSD_MINOR), {
        group: "cluster",
        example: DEFAULT_EKSD_MINOR,
        refusals: Object.fromEntries(
            END_OF_LIFE_MINORS.map((minor) => [
                minor,
                `is past end of life (EKS-D ${minor} gets no more patches). Fix: pulumi config set eksdVersion ${EKSD_MINORS[0]} (upgrade one minor at a time)`,
            ]),
        ),
        description: `EKS-D minor version (\`${EKSD_MINORS[0]}\` … \`${EKSD_MINORS[EKSD_MINORS.length - 1]}\`); selects image tags and add-on chart versions.`,
    }),
    kubernetesVersion: key(
        pattern(
            /^v\d+\.\d+\.\d+(-eks-\d+-\d+-\d+)?$/,
            "an EKS-D Kubernetes tag",
            `use a tag such as ${DEFAULT_KUBERNETES_TAG}, or remove it to follow eksdVersion`,
        ).optional(),
        {
            group: "cluster",
            example: DEFAULT_KUBERNETES_TAG,
            defaultText: "from `eksdVersion`",
            description: `Exact EKS-D Kubernetes tag (e.g. \`${DEFAULT_KUBERNETES_TAG}\`, the pin of ${eksdVersions.DEFAULT_EKSD_MINOR}); must match the kubelet baked in the AMIs.`,
        },
    ),
    podCidr: key(cidr({ example: "10.244.0.0/16" }).default("10.244.0.0/16"), {
        group: "cluster",
        example: "10.244.0.0/16",
        terraformVariable: "pod_network",
        description: "Pod network CIDR: every node takes a /24 of it, so it must hold all node groups' maxSize plus the control-plane nodes.",
    }),
    serviceCidr: key(
        cidr({ example: "10.96.0.0/12", minPrefix: SERVICE_CIDR_MIN_PREFIX, why: "kube-apiserver refuses a service range larger than /12" }).default(
            "10.96.0.0/12",
        ),
        { group: "cluster", example: "10.96.0.0/12", description: "Service CIDR, /12 or smaller." },
    ),
    controlPlaneCount: key(z.int().min(1).max(7).default(1), {
        group: "cluster",
        example: "3",
        terraformVariable: "masters_count",
        description: "Control-plane nodes: odd, 1 to 7 (3 for HA).",
    }),
    controlPlaneMode: key(z.enum(CONTROL_PLANE_MODES).default("standalone"), {
        group: "cluster",
        example: "standalone",
        refusals: {
            asg: "is refused: a node an ASG starts on its own cannot receive the control-plane secrets, and the ASG could replace masters outside the quorum-safe roll. Fix: pulumi config set controlPlaneMode standalone (or pulumi config rm controlPlaneMode)",
        },
        description: "`standalone` instances, one at a time (the only mode; `asg` is refused: an ASG-started master cannot receive the control-plane secrets).",
    }),
    controlPlaneInstanceType: key(instanceType("pulumi config set controlPlaneInstanceType z4.large").default("z4.large"), {
        group: "cluster",
        example: "z4.large",
        terraformVariable: "masters_instance_type",
        description: "Control-plane instance type.",
    }),
    controlPlaneVolumeSize: key(z.int().min(VOLUME_SIZE.min).max(VOLUME_SIZE.max).default(50), {
        group: "cluster",
        example: "50",
        terraformVariable: "masters_volume_size",
        description: "Control-plane root volume, GB (20 to 16384).",
    }),
    controlPlaneAmiId: key(ami("pulumi config set controlPlaneAmiId ami-<EKS-D image id>"), {
        group: "cluster",
        required: true,
        example: "ami-<EKS-D image id>",
        terraformVariable: "masters_eksd_ami",
        description: "EKS-D AMI for control-plane nodes.",
    }),
    controlPlaneInstanceProfile: key(
        pattern(NAME_PATTERN, "an instance profile name", "pulumi config set controlPlaneInstanceProfile <profile name>").optional(),
        {
            group: "cluster",
            example: "<profile name>",
            terraformVariable: "masters_iam_instance_profile",
            description: "Existing instance profile for control-plane nodes (then no IAM is created for them).",
        },
    ),
    kubeconfigTimeoutMinutes: key(z.int().min(1).max(180).default(25), {
        group: "cluster",
        example: "25",
        description:
            "How long each control-plane node's bootstrap waits for the API through the load balancer, minutes (1 to 180). It is part of every node's node.env: a change rolls every node.",
    }),
    adminCredentialValidityHours: key(z.int().min(2).max(720).default(8), {
        group: "cluster",
        example: "8",
        description:
            "Validity of the admin client certificate in the exported kubeconfig, hours (2 to 720); `pulumi up` issues a new key and certificate once half of it has passed.",
    }),
    workerJoinTokenTtlHours: key(z.int().min(1).max(8760).optional(), {
        group: "cluster",
        example: "24",
        defaultText: "168 with `autoscaler`, else 24",
        description: "Lifetime of the node-bootstrap token in worker user data, hours (1 to 8760); the autoscaler starts workers long after `pulumi up`.",
    }),

    // Hardening
    auditLog: key(boolean(true), { group: "hardening", example: "true", description: "API server audit log (policy + rotation) on every control-plane node." }),
    secretsEncryption: key(boolean(true), {
        group: "hardening",
        example: "true",
        description: "Encrypt Secrets at rest in etcd (secretbox key generated by the program).",
    }),
    secretsEncryptionKeyVersion: key(z.int().min(1).max(1000).default(1), {
        group: "hardening",
        example: "2",
        description: "Version of the encryption-at-rest key: bump it to rotate the key.",
    }),
    kubeletHardening: key(boolean(true), { group: "hardening", example: "true", description: "kubelet anonymous auth off and webhook authorization." }),
    apiServerProfiling: key(boolean(false), {
        group: "hardening",
        example: "false",
        description: "Profiling endpoints of the API server, controller manager and scheduler.",
    }),
    requireMetadataTokens: key(boolean(false), {
        group: "hardening",
        example: "false",
        description: "Require IMDSv2 tokens on instances (zCompute does not support IMDSv2: keep false there).",
    }),
    sshHostKeys: key(z.enum(SSH_HOST_KEY_MODES).default("console"), {
        group: "hardening",
        example: "console",
        // A word for "on" must never be answered with the nearest choice, "unpinned".
        refusals: Object.fromEntries([
            ...["pinned", "pin", "true", "on", "yes", "strict"].map((word): [string, string] => [
                word,
                "is not a mode: pinning reads each host key from its instance's console. Fix: pulumi config set sshHostKeys console (or pulumi config rm sshHostKeys)",
            ]),
            ...["false", "off", "no", "none", "ignore"].map((word): [string, string] => [
                word,
                "is not a mode. Fix: pulumi config set sshHostKeys console (pinned, the default), or unpinned where the cloud cannot show a console (no host key is checked)",
            ]),
        ]),
        description:
            "`console`: every SSH step pins the host key of the machine it reaches, read from that instance's console output (GetConsoleOutput) where Pulumi runs; `unpinned`: no host key is checked (a cloud without GetConsoleOutput; refused in production unless accepted).",
    }),

    // Nodes
    nodeKeyName: key(pattern(NAME_PATTERN, "a key pair name", "pulumi config set nodeKeyName <key pair name>"), {
        group: "nodes",
        required: true,
        example: "<key pair name>",
        terraformVariable: "masters_keyname / workers_keyname",
        description: "Key pair name for all Kubernetes nodes.",
    }),
    nodeSshUser: key(pattern(USER_PATTERN, "a Linux user name", "pulumi config set nodeSshUser ubuntu").default("ubuntu"), {
        group: "nodes",
        example: "ubuntu",
        description: "SSH user on the nodes.",
    }),
    nodeSshPrivateKey: key(z.string().optional(), {
        group: "nodes",
        secret: true,
        example: '-- "$(cat nodes.pem)"',
        defaultText: "`bastionSshPrivateKey`",
        terraformVariable: "masters_keyfile",
        description: "Private key of `nodeKeyName`, used through the bastion to fetch the kubeconfig.",
    }),
    workerAmiId: key(ami("pulumi config set workerAmiId ami-<EKS-D image id>"), {
        group: "nodes",
        required: true,
        example: "ami-<EKS-D image id>",
        terraformVariable: "workers_eksd_ami",
        description: "EKS-D AMI for worker node groups (a group may override it).",
    }),
    workerInstanceProfile: key(pattern(NAME_PATTERN, "an instance profile name", "pulumi config set workerInstanceProfile <profile name>").optional(), {
        group: "nodes",
        example: "<profile name>",
        terraformVariable: "workers_iam_instance_profile",
        description: "Existing instance profile for workers (then no IAM is created for them).",
    }),
    nodeGroups: key(z.record(z.string(), NodeGroupSchema).default({ workers: {} }), {
        group: "nodes",
        example: "--path nodeGroups.workers.maxSize 4",
        defaultText: "`{workers: {instanceType: z8.large, minSize: 1, desiredSize: 1, maxSize: 4, volumeSize: 100}}`",
        terraformVariable: "workers_count, workers_addition, workers_instance_type, workers_volume_size",
        description: `Worker node groups by name, every field optional: \`{instanceType?, minSize?, desiredSize?, maxSize?, volumeSize?, amiId?, labels?, taints?: [{key, value?, effect}], cooldown?, maxSurge?, maxUnavailable?, drainTimeoutSeconds?}\`. Defaults: instanceType ${NODE_GROUP_DEFAULTS.instanceType}, minSize ${NODE_GROUP_DEFAULTS.minSize}, desiredSize = minSize, maxSize the larger of ${NODE_GROUP_DEFAULTS.maxSize} and minSize (at most ${MAX_GROUP_SIZE}), volumeSize ${NODE_GROUP_DEFAULTS.volumeSize} GB (${VOLUME_SIZE.min} to ${VOLUME_SIZE.max}), amiId = workerAmiId, cooldown ${NODE_GROUP_DEFAULTS.cooldown} s, maxSurge ${NODE_GROUP_DEFAULTS.maxSurge}, maxUnavailable ${NODE_GROUP_DEFAULTS.maxUnavailable}, drainTimeoutSeconds ${NODE_GROUP_DEFAULTS.drainTimeoutSeconds}.`,
    }),

    // etcd backup
    etcdBackupRotation: key(z.int().min(0).max(10000).default(100), {
        group: "backup",
        example: "100",
        terraformVariable: "backup_rotation",
        description:
            "Exported (encrypted) etcd snapshots per host kept by the 2-hourly etcd backup; 0 keeps every export. No disk is snapshotted: a control-plane disk holds every CA key.",
    }),
    etcdBackupBucket: key(
        pattern(
            /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/,
            "a bucket name (3-255 letters, digits, '.', '_', '-'; object stores other than S3 allow capitals)",
            "pulumi config set etcdBackupBucket etcd-backups",
        ).optional(),
        {
            group: "backup",
            example: "etcd-backups",
            terraformVariable: "backup_bucket",
            description: "S3/NGOS bucket for etcd snapshot export (export is on when this is set).",
        },
    ),
    etcdBackupEndpoint: key(pattern(/^https?:\/\/[^\s/]+(\/\S*)?$/, "an http(s) URL", "pulumi config set etcdBackupEndpoint https://<host>:1061").optional(), {
        group: "backup",
        example: "https://<host>:1061",
        terraformVariable: "backup_endpoint",
        description: "S3-compatible endpoint URL for the export (empty: AWS S3).",
    }),
    etcdBackupRegion: key(pattern(/^[a-z0-9-]{1,32}$/, "a region name", "pulumi config set etcdBackupRegion us-east-1").default("us-east-1"), {
        group: "backup",
        example: "us-east-1",
        terraformVariable: "backup_region",
        description: "Region of the export bucket.",
    }),
    etcdBackupAccessKeyId: key(z.string().optional(), {
        group: "backup",
        secret: true,
        example: "<access key id>",
        terraformVariable: "backup_access_key_id",
        description: "Access key for the export; stored only in the `zadara-backup-export` Secret, never in user data.",
    }),
    etcdBackupSecretAccessKey: key(z.string().optional(), {
        group: "backup",
        secret: true,
        example: "<secret access key>",
        terraformVariable: "backup_secret_access_key",
        description: "Secret key for the export.",
    }),

    // Add-ons
    cni: key(z.enum(CNI_CHOICES).default("flannel"), {
        group: "addons",
        example: "flannel",
        terraformVariable: "cni_provider",
        description: "`flannel`, `calico` or `cilium`.",
    }),
    volumeType: key(z.enum(VOLUME_TYPES).default("gp2"), {
        group: "addons",
        example: "gp2",
        terraformVariable: "ebs_csi_volume_type",
        description: "VolumeType alias of the `ebs-sc` StorageClass (io1 io2 gp2 gp3 sc1 st1 standard sbp1 sbg1).",
    }),
    ebsCsi: key(boolean(true), {
        group: "addons",
        example: "true",
        terraformVariable: "install_ebs_csi",
        description: "EBS CSI driver, snapshot controller, `ebs-sc` and `ebs-vsc`.",
    }),
    loadBalancerController: key(boolean(true), {
        group: "addons",
        example: "true",
        terraformVariable: "install_lb_controller",
        description: "AWS Load Balancer Controller (Ingress → ALB, LoadBalancer Service → NLB).",
    }),
    autoscaler: key(boolean(true), {
        group: "addons",
        example: "true",
        terraformVariable: "install_autoscaler",
        description: "Cluster Autoscaler for the worker node groups.",
    }),
    kasten: key(boolean(false), {
        group: "addons",
        example: "false",
        terraformVariable: "install_kasten_k10",
        description: "Kasten K10 backup (licence: free under 5 worker nodes).",
    }),
    metricsServer: key(boolean(true), {
        group: "addons",
        example: "true",
        description: "metrics-server: the `metrics.k8s.io` API behind `kubectl top` and HorizontalPodAutoscalers (see docs/addons.md).",
    }),
    autoscalerScaleDownUnneededTime: key(pattern(DURATION_PATTERN, "a duration", "use a value such as 10m").default("10m"), {
        group: "addons",
        example: "10m",
        description: "How long a node must be unneeded before the autoscaler removes it.",
    }),
    autoscalerScaleDownDelayAfterAdd: key(pattern(DURATION_PATTERN, "a duration", "use a value such as 10m").default("10m"), {
        group: "addons",
        example: "10m",
        description: "How long after a scale-up the autoscaler waits before scaling down.",
    }),
    addonOverrides: key(addonOverridesSchema.default({}), {
        group: "addons",
        example: "--path addonOverrides.ebsCsi.version 2.39.3",
        description: "Per add-on `{version?, values?}` (values deep-merged over ours, arrays replaced), keyed by add-on name (see the add-on table).",
    }),
};

export type ConfigKey = keyof typeof CONFIG_SCHEMAS;

/** The whole `zadara-eksd:` namespace as one object (JSON Schema and types). */
export const StackConfigSchema = z.strictObject(CONFIG_SCHEMAS);

/** What a stack file may say (before defaults). */
export type StackConfigInput = z.input<typeof StackConfigSchema>;
/** The validated values with their static defaults applied. */
export type StackConfigValues = z.output<typeof StackConfigSchema>;
export type NodeGroupValues = z.output<typeof NodeGroupSchema>;

/** JSON type a key's value has (decides how Pulumi's string is read). */
export type KeyKind = "string" | "integer" | "number" | "boolean" | "array" | "object";

export interface ConfigKeyDefinition extends KeyDocumentation {
    key: ConfigKey;
    kind: KeyKind;
    schema: z.ZodType;
    /** Static default, undefined when none (or computed: see defaultText). */
    defaultValue?: unknown;
}

function kindOf(schema: z.ZodType): KeyKind {
    const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { type?: string };
    return (json.type ?? "object") as KeyKind;
}

function defaultOf(schema: z.ZodType): unknown {
    const parsed = schema.safeParse(undefined);
    return parsed.success ? parsed.data : undefined;
}

/** Every key in the README's order, with its documentation. */
export const CONFIG_KEYS: ConfigKeyDefinition[] = (Object.entries(CONFIG_SCHEMAS) as Array<[ConfigKey, z.ZodType]>).map(([name, schema]) => {
    const doc = KEY_DOCS.get(schema);
    if (doc === undefined) {
        throw new Error(`config key ${name} has no documentation: declare it in CONFIG_SCHEMAS with key(schema, doc)`);
    }
    return {
        ...doc,
        key: name,
        kind: kindOf(schema),
        schema,
        defaultValue: defaultOf(schema),
    };
});

export const CONFIG_KEY_NAMES: ReadonlySet<string> = new Set(CONFIG_KEYS.map((k) => k.key));

export function findKeyDefinition(name: string): ConfigKeyDefinition | undefined {
    return CONFIG_KEYS.find((k) => k.key === name);
}
