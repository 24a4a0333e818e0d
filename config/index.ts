// The one place that reads stack configuration. It parses every key of config/schema.ts,
// applies the reference deployment's defaults and validates the whole stack before any
// resource is registered, reporting every problem at once.
import * as pulumi from "@pulumi/pulumi";
import type { AddonChoices, AddonOverride, EtcdBackupExportArgs } from "../addons";
import { overrideProblems } from "../addons/versions";
import type { ClusterSettings } from "../cluster";
import type { ExistingVpcConfig, NetworkLayout } from "../infra/network";
import { EKSD_RELEASES, SUPPORTED_EKSD_MINORS } from "../cluster/versions";
import { ENVIRONMENT_NAME_PATTERN } from "../infra/tags";
import { cidrContains, cidrsOverlap, Ipv4Cidr, isIpv4Address, networkOf, parseIpv4Cidr } from "./cidr";
import {
    CNI_PROVIDERS, CONFIG_KEYS, CONFIG_KEY_NAMES, CONTROL_PLANE_MODES,
    DEFAULT_NODE_GROUP, TAINT_EFFECTS, TaintEffect, VOLUME_TYPES, findKeyDefinition,
} from "./schema";

export const PROJECT_NAME = "zadara-eksd";

// Which keys were set with --secret is known to the runtime but not in its typings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

export interface Taint { key: string; value?: string; effect: TaintEffect }

export interface NodeGroupConfig {
    instanceType: string;
    minSize: number;
    desiredSize: number;
    maxSize: number;
    volumeSize: number;
    amiId: string;
    labels: Record<string, string>;
    taints: Taint[];
    cooldown: number;
}

export type { ExistingVpcConfig };


export interface StackConfig {
    stack: string;
    environment: string;
    production: boolean;
    tags: Record<string, string>;
    cloud: {
        /** `https://host[:port]`, no trailing slash. */
        apiUrl: string;
        accessKey?: pulumi.Output<string>;
        secretKey?: pulumi.Output<string>;
        insecure: boolean;
        rootCaCert?: string;
    };
    network: NetworkLayout;
    bastion: {
        amiId: string;
        instanceType: string;
        keyName: string;
        sshUser: string;
        sshPrivateKey: pulumi.Output<string>;
        sshCidrs: string[];
    };
    cluster: ClusterSettings & {
        nodeSshUser: string;
        nodeSshPrivateKey: pulumi.Output<string>;
        etcdBackupExport?: EtcdBackupExportArgs;
    };
    addons: AddonChoices;
}

/** Raw configuration as `pulumi config` stores it: full keys to strings. */
export interface RawStackConfig {
    stack: string;
    /** e.g. {"zadara-eksd:vpcCidr": "10.0.0.0/16"}; structured values are JSON strings. */
    values: Record<string, string>;
    /** Full keys that were set with --secret. */
    secretKeys: string[];
    /** For the credential fallbacks (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). */
    env?: Record<string, string | undefined>;
}

export class ConfigValidationError extends Error {
    constructor(public readonly problems: string[]) {
        super(`Stack configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
            problems.map((p) => `  - ${p}`).join("\n"));
        this.name = "ConfigValidationError";
    }
}

/** Reads the running stack's configuration through the Pulumi runtime. */
export function readRawStackConfig(): RawStackConfig {
    const values = pulumi.runtime.allConfig();
    const secretKeys = Object.keys(values).filter((key) => runtimeConfig.isConfigSecret(key));
    return { stack: pulumi.getStack(), values, secretKeys, env: process.env };
}

const AMI_PATTERN = /^ami-[0-9a-z]{8,17}$/;
const GROUP_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;
const DURATION_PATTERN = /^\d+(s|m|h)$/;
const LABEL_KEY_PATTERN = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE_PATTERN = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
/** The control-plane ASG is `<env>-master`: a worker group of that name would collide with it. */
const RESERVED_GROUP_NAMES = ["master"];

/**
 * kubelet refuses --node-labels in the kubernetes.io and k8s.io namespaces except these
 * (the node would never register).
 */
function kubeletMaySetLabel(key: string): boolean {
    const slash = key.indexOf("/");
    if (slash < 0) {
        return true;
    }
    const prefix = key.slice(0, slash);
    const reserved = /(^|\.)(kubernetes\.io|k8s\.io)$/.test(prefix);
    return !reserved || /(^|\.)(node|kubelet)\.kubernetes\.io$/.test(prefix);
}

/** Builds the typed stack configuration, or throws ConfigValidationError listing every problem. */
export function loadStackConfig(raw: RawStackConfig): StackConfig {
    const reader = new ConfigReader(raw);
    const config = reader.read();
    if (reader.problems.length > 0) {
        throw new ConfigValidationError(reader.problems);
    }
    return config;
}

/** Edit distance, for "did you mean" on misspelt keys. */
function editDistance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let previous = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const current = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
            previous = current;
        }
    }
    return row[b.length];
}

class ConfigReader {
    readonly problems: string[] = [];
    private readonly values: Record<string, string>;
    private readonly secretKeys: Set<string>;

    constructor(private readonly raw: RawStackConfig) {
        this.values = raw.values;
        this.secretKeys = new Set(raw.secretKeys);
    }

    private problem(key: string, message: string): void {
        this.problems.push(`${PROJECT_NAME}:${key}: ${message}`);
    }

    private has(key: string): boolean {
        const value = this.values[`${PROJECT_NAME}:${key}`];
        return value !== undefined && value !== "";
    }

    private rawValue(key: string): string | undefined {
        const value = this.values[`${PROJECT_NAME}:${key}`];
        return value === "" ? undefined : value;
    }

    private defaultOf(key: string): unknown {
        return findKeyDefinition(key)?.defaultValue;
    }

    private string(key: string): string | undefined {
        const value = this.rawValue(key);
        if (value === undefined) {
            const fallback = this.defaultOf(key);
            return typeof fallback === "string" ? fallback : undefined;
        }
        return value;
    }

    private required(key: string, hint: string): string {
        const value = this.string(key);
        if (value === undefined) {
            this.problem(key, `is required. Fix: pulumi config set ${key} ${hint}`);
            return "";
        }
        return value;
    }

    private secret(key: string, hint: string, required: boolean): pulumi.Output<string> | undefined {
        const fullKey = `${PROJECT_NAME}:${key}`;
        const value = this.rawValue(key);
        if (value === undefined) {
            if (required) {
                this.problem(key, `is required. Fix: pulumi config set --secret ${key} ${hint}`);
            }
            return undefined;
        }
        if (!this.secretKeys.has(fullKey)) {
            this.problem(key, `is stored in plain text. Fix: pulumi config set --secret ${key} ${hint}`);
        }
        return pulumi.secret(value);
    }

    private number(key: string, options: { min?: number; max?: number; integer?: boolean } = {}): number {
        const text = this.rawValue(key);
        const fallback = this.defaultOf(key) as number;
        if (text === undefined) {
            return fallback;
        }
        const value = Number(text);
        return this.checkNumber(key, text, value, options) ? value : fallback;
    }

    private checkNumber(key: string, shown: unknown, value: number, options: { min?: number; max?: number; integer?: boolean }): boolean {
        const integer = options.integer ?? true;
        if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
            this.problem(key, `"${String(shown)}" is not ${integer ? "a whole number" : "a number"}. Fix: pulumi config set ${key} <number>`);
            return false;
        }
        if (options.min !== undefined && value < options.min) {
            this.problem(key, `${value} is below the minimum ${options.min}. Fix: set it to ${options.min} or more`);
            return false;
        }
        if (options.max !== undefined && value > options.max) {
            this.problem(key, `${value} is above the maximum ${options.max}. Fix: set it to ${options.max} or less`);
            return false;
        }
        return true;
    }

    private boolean(key: string): boolean {
        const text = this.rawValue(key);
        if (text === undefined) {
            return this.defaultOf(key) as boolean;
        }
        if (text !== "true" && text !== "false") {
            this.problem(key, `"${text}" is not a boolean. Fix: pulumi config set ${key} true|false`);
            return this.defaultOf(key) as boolean;
        }
        return text === "true";
    }

    /** Structured values arrive as JSON text (what `pulumi config set --path` stores). */
    private json(key: string): unknown {
        const text = this.rawValue(key);
        if (text === undefined) {
            return undefined;
        }
        try {
            return JSON.parse(text);
        } catch {
            this.problem(key, `is not valid structured config. Fix: set it with 'pulumi config set --path ${key}...' or as YAML in Pulumi.${this.raw.stack}.yaml`);
            return undefined;
        }
    }

    private list(key: string): string[] {
        const parsed = this.json(key);
        if (parsed === undefined) {
            return [...(this.defaultOf(key) as string[])];
        }
        if (!Array.isArray(parsed) || parsed.some((item) => typeof item !== "string")) {
            this.problem(key, `must be a list of strings. Fix: pulumi config set --path '${key}[0]' <value>`);
            return [...(this.defaultOf(key) as string[])];
        }
        return parsed as string[];
    }

    private enumeration<T extends string>(key: string, allowed: readonly T[]): T {
        const value = this.string(key) as T;
        if (!allowed.includes(value)) {
            this.problem(key, `"${value}" is not one of ${allowed.join(", ")}. Fix: pulumi config set ${key} ${allowed[0]}`);
            return this.defaultOf(key) as T;
        }
        return value;
    }

    private cidr(key: string, text: string): Ipv4Cidr | undefined {
        const parsed = parseIpv4Cidr(text);
        if (!parsed) {
            const network = networkOf(text);
            const fix = network ? `use the network address ${network}` : "use an IPv4 CIDR such as 10.0.0.0/16";
            this.problem(key, `"${text}" is not a valid IPv4 network CIDR. Fix: ${fix}`);
        }
        return parsed;
    }

    private cidrList(key: string, values: string[]): Ipv4Cidr[] {
        const parsed: Ipv4Cidr[] = [];
        for (const text of values) {
            const cidr = this.cidr(key, text);
            if (cidr) {
                parsed.push(cidr);
            }
        }
        return parsed;
    }

    private ami(key: string, value: string | undefined): void {
        if (value !== undefined && value !== "" && !AMI_PATTERN.test(value)) {
            this.problem(key, `"${value}" is not an AMI id. Fix: use the id shaped ami-xxxxxxxx from the cloud's image list`);
        }
    }

    private apiUrl(): string {
        const text = this.required("apiEndpoint", "<cloud host or https URL>");
        if (text === "") {
            return "";
        }
        const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `https://${text}`;
        let url: URL | undefined;
        try {
            url = new URL(withScheme);
        } catch {
            url = undefined;
        }
        if (!url || url.protocol !== "https:" || (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash || !url.hostname) {
            this.problem("apiEndpoint", `"${text}" is not a host name or https URL. Fix: pulumi config set apiEndpoint cloud.example.com (or https://cloud.example.com)`);
            return "";
        }
        return `https://${url.host}`;
    }

    private unknownKeys(): void {
        for (const fullKey of Object.keys(this.values)) {
            const [namespace, ...rest] = fullKey.split(":");
            const key = rest.join(":");
            if (namespace !== PROJECT_NAME || CONFIG_KEY_NAMES.has(key)) {
                continue;
            }
            const nearest = CONFIG_KEYS.map((k) => ({ key: k.key, distance: editDistance(key, k.key) }))
                .sort((a, b) => a.distance - b.distance)[0];
            const hint = nearest && nearest.distance <= Math.max(2, Math.floor(key.length / 4))
                ? `did you mean "${nearest.key}"? Fix: pulumi config mv ${key} ${nearest.key}`
                : `Fix: remove it (pulumi config rm ${key}); see the README's config reference`;
            this.problem(key, `is not a known setting (likely a typo): ${hint}`);
        }
    }

    read(): StackConfig {
        this.unknownKeys();

        const environment = this.rawValue("environment") ?? this.raw.stack.toLowerCase().replace(/[^a-z0-9-]/g, "-");
        if (!ENVIRONMENT_NAME_PATTERN.test(environment)) {
            this.problem("environment", `"${environment}" must start with a letter and use only lowercase letters, digits and '-', at most 20 characters (it names resources and the cluster). Fix: pulumi config set environment dev`);
        }
        const production = this.has("production") ? this.boolean("production") : /^prod/.test(this.raw.stack);
        const acceptUnsafe = this.boolean("acceptUnsafeProduction");
        const tags = this.stringMap("tags", this.json("tags") ?? {});

        const env = this.raw.env ?? {};
        const accessKey = this.secret("accessKey", "<access key>", false) ?? (env.AWS_ACCESS_KEY_ID ? pulumi.secret(env.AWS_ACCESS_KEY_ID) : undefined);
        const secretKey = this.secret("secretKey", "<secret key>", false) ?? (env.AWS_SECRET_ACCESS_KEY ? pulumi.secret(env.AWS_SECRET_ACCESS_KEY) : undefined);
        if (!accessKey || !secretKey) {
            this.problem(accessKey ? "secretKey" : "accessKey", "zCompute credentials are missing. Fix: pulumi config set --secret accessKey <key> and --secret secretKey <secret>, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        }
        const rootCaCert = this.string("rootCaCert");
        if (rootCaCert !== undefined && !/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(rootCaCert)) {
            this.problem("rootCaCert", "is not a PEM certificate. Fix: pulumi config set rootCaCert -- \"$(cat root-ca.pem)\"");
        }

        const network = this.readNetwork();
        const bastion = {
            amiId: this.required("bastionAmiId", "ami-<ubuntu 22.04 image id>"),
            instanceType: this.string("bastionInstanceType")!,
            keyName: this.required("bastionKeyName", "<key pair name>"),
            sshUser: this.string("bastionSshUser")!,
            sshPrivateKey: this.secret("bastionSshPrivateKey", "-- \"$(cat bastion.pem)\"", true) ?? pulumi.secret(""),
            sshCidrs: this.list("bastionSshCidrs"),
        };
        this.ami("bastionAmiId", bastion.amiId);
        this.cidrList("bastionSshCidrs", bastion.sshCidrs);
        if (bastion.sshCidrs.length === 0) {
            this.problem("bastionSshCidrs", "is empty: the program reaches the nodes over SSH through the bastion (API address, kubeconfig, destroy cleanup). Fix: list the CIDR Pulumi runs from");
        }

        const cluster = this.readCluster(network.vpcCidr);
        const addons = this.readAddons();

        if (production && !acceptUnsafe) {
            const acknowledge = "or, to accept the risk, pulumi config set acceptUnsafeProduction true";
            if (bastion.sshCidrs.includes("0.0.0.0/0")) {
                this.problem("bastionSshCidrs", `opens bastion SSH to the world (0.0.0.0/0) on a production stack. Fix: pulumi config set --path 'bastionSshCidrs[0]' <your office CIDR>, ${acknowledge}`);
            }
            if (network.apiPublic && network.apiAllowedCidrs.includes("0.0.0.0/0")) {
                this.problem("apiAllowedCidrs", `opens the Kubernetes API to the world on a production stack. Fix: pulumi config set apiPublic false, or list your CIDRs in apiAllowedCidrs, ${acknowledge}`);
            }
            if (cluster.controlPlane.count < 3) {
                this.problem("controlPlaneCount", `${cluster.controlPlane.count} control-plane node(s) cannot survive a node loss on a production stack. Fix: pulumi config set controlPlaneCount 3, ${acknowledge}`);
            }
        }

        return {
            stack: this.raw.stack,
            environment,
            production,
            tags,
            cloud: { apiUrl: this.apiUrl(), accessKey, secretKey, insecure: this.boolean("insecure"), rootCaCert },
            network,
            bastion,
            cluster,
            addons,
        };
    }

    private stringMap(key: string, value: unknown): Record<string, string> {
        if (typeof value !== "object" || value === null || Array.isArray(value) ||
            Object.values(value).some((item) => typeof item !== "string")) {
            this.problem(key, `must be a map of strings. Fix: pulumi config set --path '${key}.<name>' <value>`);
            return {};
        }
        return value as Record<string, string>;
    }

    private readNetwork(): StackConfig["network"] {
        const network = {
            vpcCidr: this.string("vpcCidr")!,
            publicSubnetCidr: this.string("publicSubnetCidr")!,
            privateSubnetCidr: this.string("privateSubnetCidr")!,
            dnsServers: this.list("dnsServers"),
            dnsDomain: this.string("dnsDomain")!,
            existingVpc: this.readExistingVpc(),
            apiPublic: this.boolean("apiPublic"),
            apiAllowedCidrs: this.list("apiAllowedCidrs"),
        };
        for (const server of network.dnsServers) {
            if (!isIpv4Address(server)) {
                this.problem("dnsServers", `"${server}" is not an IPv4 address. Fix: list DNS server addresses such as 8.8.8.8`);
            }
        }
        if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(network.dnsDomain)) {
            this.problem("dnsDomain", `"${network.dnsDomain}" is not a DNS domain. Fix: pulumi config set dnsDomain symphony.local`);
        }
        this.cidrList("apiAllowedCidrs", network.apiAllowedCidrs);
        if (network.apiPublic && network.apiAllowedCidrs.length === 0) {
            this.problem("apiAllowedCidrs", "is empty while apiPublic is true: nobody, not even Pulumi's Kubernetes provider, could reach the API. Fix: list the CIDR Pulumi runs from");
        }
        const runsInsideVpc = this.boolean("runsInsideVpc");
        if (!network.apiPublic && !runsInsideVpc) {
            this.problem("apiPublic", "is false, but Pulumi's Kubernetes provider installs the add-ons from where Pulumi runs and cannot reach an internal API from outside the VPC. Fix: keep apiPublic true and limit apiAllowedCidrs, or run Pulumi inside the VPC (self-hosted agent, VPN) and set runsInsideVpc true");
        }

        const vpc = this.cidr("vpcCidr", network.vpcCidr);
        const publicSubnet = this.cidr("publicSubnetCidr", network.publicSubnetCidr);
        const privateSubnet = this.cidr("privateSubnetCidr", network.privateSubnetCidr);
        // With an existing VPC the subnets are the user's; their CIDRs are not ours to check.
        if (!network.existingVpc && vpc) {
            for (const [key, subnet] of [["publicSubnetCidr", publicSubnet], ["privateSubnetCidr", privateSubnet]] as const) {
                if (subnet && !cidrContains(vpc, subnet)) {
                    this.problem(key, `${subnet.text} is not inside vpcCidr ${vpc.text}. Fix: choose a subnet inside ${vpc.text}`);
                }
            }
            if (publicSubnet && privateSubnet && cidrsOverlap(publicSubnet, privateSubnet)) {
                this.problem("privateSubnetCidr", `${privateSubnet.text} overlaps publicSubnetCidr ${publicSubnet.text}. Fix: use separate ranges, e.g. 192.168.0.0/24 and 192.168.2.0/23`);
            }
        }
        return network;
    }

    private readExistingVpc(): ExistingVpcConfig | undefined {
        const value = this.json("existingVpc");
        if (value === undefined) {
            return undefined;
        }
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            this.problem("existingVpc", "must be an object of ids. Fix: pulumi config set --path existingVpc.vpcId vpc-…");
            return undefined;
        }
        const ids = value as Record<string, unknown>;
        const fields: Array<[keyof ExistingVpcConfig, string, boolean]> = [
            ["vpcId", "vpc-", true], ["publicSubnetId", "subnet-", true], ["privateSubnetId", "subnet-", true],
            ["clusterSecurityGroupId", "sg-", false], ["bastionSecurityGroupId", "sg-", false],
        ];
        const known = new Set(fields.map(([field]) => field as string));
        for (const field of Object.keys(ids)) {
            if (!known.has(field)) {
                this.problem(`existingVpc.${field}`, `is not a known field (${[...known].join(", ")}). Fix: remove it or correct its name`);
            }
        }
        if (ids.clusterSecurityGroupId && !ids.bastionSecurityGroupId) {
            this.problem("existingVpc.bastionSecurityGroupId", "is required when clusterSecurityGroupId is given: your cluster group must already allow SSH from the bastion's group, which the program cannot add. Fix: pulumi config set --path existingVpc.bastionSecurityGroupId sg-…");
        }
        for (const [field, prefix, required] of fields) {
            const id = ids[field];
            if (id === undefined || id === "") {
                if (required) {
                    this.problem(`existingVpc.${field}`, `is required when existingVpc is set. Fix: pulumi config set --path existingVpc.${field} ${prefix}…`);
                }
                continue;
            }
            if (typeof id !== "string" || !id.startsWith(prefix)) {
                this.problem(`existingVpc.${field}`, `"${String(id)}" is not an id shaped ${prefix}…. Fix: copy the id from the cloud console`);
            }
        }
        return ids as unknown as ExistingVpcConfig;
    }

    private readCluster(vpcCidrText: string): StackConfig["cluster"] {
        let eksdVersion = this.string("eksdVersion")!;
        if (!SUPPORTED_EKSD_MINORS.includes(eksdVersion)) {
            this.problem("eksdVersion", `"${eksdVersion}" is not a supported EKS-D minor (${SUPPORTED_EKSD_MINORS.join(", ")}). Fix: pulumi config set eksdVersion 1.30`);
            eksdVersion = "1.30";
        }
        const kubernetesVersion = this.rawValue("kubernetesVersion") ?? EKSD_RELEASES[eksdVersion].kubernetesVersion;
        const expectedPrefix = `v${eksdVersion}.`;
        if (!kubernetesVersion.startsWith(expectedPrefix) || !/^v\d+\.\d+\.\d+(-eks-\d+-\d+-\d+)?$/.test(kubernetesVersion)) {
            this.problem("kubernetesVersion", `"${kubernetesVersion}" is not an EKS-D ${eksdVersion} tag. Fix: use a tag such as ${EKSD_RELEASES[eksdVersion].kubernetesVersion}, or change eksdVersion`);
        }

        const podCidr = this.string("podCidr")!;
        const serviceCidr = this.string("serviceCidr")!;
        const pod = this.cidr("podCidr", podCidr);
        const service = this.cidr("serviceCidr", serviceCidr);
        const vpc = parseIpv4Cidr(vpcCidrText);
        if (pod && vpc && cidrsOverlap(pod, vpc)) {
            this.problem("podCidr", `${pod.text} overlaps vpcCidr ${vpc.text}. Fix: pick a range outside the VPC, e.g. 10.244.0.0/16`);
        }
        if (service && vpc && cidrsOverlap(service, vpc)) {
            this.problem("serviceCidr", `${service.text} overlaps vpcCidr ${vpc.text}. Fix: pick a range outside the VPC, e.g. 10.96.0.0/12`);
        }
        if (pod && service && cidrsOverlap(pod, service)) {
            this.problem("serviceCidr", `${service.text} overlaps podCidr ${pod.text}. Fix: use separate ranges, e.g. pods 10.244.0.0/16 and services 10.96.0.0/12`);
        }

        const count = this.number("controlPlaneCount", { min: 1, max: 7 });
        if (count % 2 === 0) {
            this.problem("controlPlaneCount", `${count} is even: etcd needs an odd member count to keep quorum. Fix: pulumi config set controlPlaneCount ${count + 1}`);
        }
        const controlPlane = {
            count,
            mode: this.enumeration("controlPlaneMode", CONTROL_PLANE_MODES),
            instanceType: this.string("controlPlaneInstanceType")!,
            volumeSize: this.number("controlPlaneVolumeSize", { min: 20, max: 16384 }),
            amiId: this.required("controlPlaneAmiId", "ami-<EKS-D image id>"),
            instanceProfile: this.string("controlPlaneInstanceProfile"),
        };
        this.ami("controlPlaneAmiId", controlPlane.amiId);

        const workerAmiId = this.required("workerAmiId", "ami-<EKS-D image id>");
        this.ami("workerAmiId", workerAmiId);
        const bastionKey = this.rawValue("bastionSshPrivateKey");
        const nodeSshPrivateKey = this.secret("nodeSshPrivateKey", "-- \"$(cat nodes.pem)\"", false)
            ?? pulumi.secret(bastionKey ?? "");

        const backupBucket = this.string("etcdBackupBucket");
        const backupEndpoint = this.string("etcdBackupEndpoint");
        const backupAccessKeyId = this.secret("etcdBackupAccessKeyId", "<access key id>", false);
        const backupSecretAccessKey = this.secret("etcdBackupSecretAccessKey", "<secret access key>", false);
        let etcdBackupExport: EtcdBackupExportArgs | undefined;
        if (backupBucket !== undefined || backupAccessKeyId || backupSecretAccessKey || backupEndpoint !== undefined) {
            const missing = [
                ["etcdBackupBucket", backupBucket], ["etcdBackupAccessKeyId", backupAccessKeyId], ["etcdBackupSecretAccessKey", backupSecretAccessKey],
            ].filter(([, value]) => value === undefined).map(([key]) => key as string);
            for (const key of missing) {
                this.problem(key, `is required for the etcd backup export (another etcdBackup* export key is set). Fix: pulumi config set${key === "etcdBackupBucket" ? "" : " --secret"} ${key} <value>, or remove the other etcdBackup* export keys`);
            }
            if (backupEndpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(backupEndpoint)) {
                this.problem("etcdBackupEndpoint", `"${backupEndpoint}" is not an http(s) URL. Fix: pulumi config set etcdBackupEndpoint https://<host>:1061`);
            }
            if (missing.length === 0) {
                etcdBackupExport = {
                    bucket: backupBucket!, endpoint: backupEndpoint, region: this.string("etcdBackupRegion")!,
                    accessKeyId: backupAccessKeyId!, secretAccessKey: backupSecretAccessKey!,
                };
            }
        }

        return {
            eksdVersion,
            kubernetesVersion,
            podCidr,
            serviceCidr,
            controlPlane,
            workerInstanceProfile: this.string("workerInstanceProfile"),
            nodeGroups: this.readNodeGroups(workerAmiId),
            nodeKeyName: this.required("nodeKeyName", "<key pair name>"),
            nodeSshUser: this.string("nodeSshUser")!,
            nodeSshPrivateKey,
            kubeconfigTimeoutMinutes: this.number("kubeconfigTimeoutMinutes", { min: 1, max: 180 }),
            etcdBackupRotation: this.number("etcdBackupRotation", { min: 0, max: 10000 }),
            etcdBackupExport,
        };
    }

    private readNodeGroups(workerAmiId: string): Record<string, NodeGroupConfig> {
        const value = this.json("nodeGroups") ?? { workers: {} };
        if (typeof value !== "object" || value === null || Array.isArray(value) || Object.keys(value).length === 0) {
            this.problem("nodeGroups", "must be a non-empty map of group name to settings. Fix: pulumi config set --path nodeGroups.workers.maxSize 4");
            return {};
        }
        const groups: Record<string, NodeGroupConfig> = {};
        const knownFields = new Set(["instanceType", "minSize", "desiredSize", "maxSize", "volumeSize", "amiId", "labels", "taints", "cooldown"]);
        for (const [name, rawGroup] of Object.entries(value as Record<string, unknown>)) {
            const key = `nodeGroups.${name}`;
            if (!GROUP_NAME_PATTERN.test(name)) {
                this.problem(key, `group name "${name}" must be lowercase letters, digits and '-', starting with a letter. Fix: rename the group`);
            }
            if (RESERVED_GROUP_NAMES.includes(name)) {
                this.problem(key, `group name "${name}" is reserved (the control-plane ASG is <env>-${name}). Fix: rename the group, e.g. workers`);
            }
            const settings = (typeof rawGroup === "object" && rawGroup !== null ? rawGroup : {}) as Record<string, unknown>;
            for (const field of Object.keys(settings)) {
                if (!knownFields.has(field)) {
                    this.problem(`${key}.${field}`, `is not a node group setting (${[...knownFields].join(", ")}). Fix: remove it or correct its name`);
                }
            }
            const numberField = (field: string, fallback: number, min: number): number => {
                const raw = settings[field];
                if (raw === undefined) {
                    return fallback;
                }
                const parsed = typeof raw === "number" ? raw : Number(raw);
                return this.checkNumber(`${key}.${field}`, raw, parsed, { min }) ? parsed : fallback;
            };
            const minSize = numberField("minSize", DEFAULT_NODE_GROUP.minSize, 0);
            const maxSize = numberField("maxSize", Math.max(DEFAULT_NODE_GROUP.maxSize, minSize), 1);
            const desiredSize = numberField("desiredSize", minSize, 0);
            if (maxSize < minSize) {
                this.problem(`${key}.maxSize`, `${maxSize} is below minSize ${minSize}. Fix: set maxSize to ${minSize} or more`);
            }
            if (desiredSize < minSize || desiredSize > maxSize) {
                this.problem(`${key}.desiredSize`, `${desiredSize} is outside minSize..maxSize (${minSize}..${maxSize}). Fix: set desiredSize between them`);
            }
            const amiId = typeof settings.amiId === "string" ? settings.amiId : workerAmiId;
            this.ami(`${key}.amiId`, amiId);
            const labels = this.stringMap(`${key}.labels`, settings.labels ?? {});
            for (const [labelKey, labelValue] of Object.entries(labels)) {
                if (!LABEL_KEY_PATTERN.test(labelKey) || !LABEL_VALUE_PATTERN.test(labelValue) || labelValue.length > 63) {
                    this.problem(`${key}.labels`, `"${labelKey}=${labelValue}" is not a valid Kubernetes label. Fix: use keys like team or example.com/team and values of letters, digits, '-', '_', '.'`);
                } else if (!kubeletMaySetLabel(labelKey)) {
                    this.problem(`${key}.labels`, `"${labelKey}" is in a namespace kubelet may not set (the node would never register). Fix: use your own prefix (example.com/...) or node.kubernetes.io/...`);
                }
            }
            groups[name] = {
                instanceType: typeof settings.instanceType === "string" ? settings.instanceType : DEFAULT_NODE_GROUP.instanceType,
                minSize,
                desiredSize,
                maxSize,
                volumeSize: numberField("volumeSize", DEFAULT_NODE_GROUP.volumeSize, 20),
                amiId,
                labels,
                taints: this.readTaints(key, settings.taints),
                cooldown: numberField("cooldown", DEFAULT_NODE_GROUP.cooldown, 0),
            };
        }
        // Add-ons (snapshot controller, K10, user workloads) need somewhere to run.
        if (Object.keys(groups).length > 0 && Object.values(groups).every((g) => g.minSize < 1)) {
            this.problem("nodeGroups", "every group may scale to zero workers: the add-ons that run on workers could never start. Fix: set minSize 1 on at least one group");
        }
        return groups;
    }

    private readTaints(key: string, value: unknown): Taint[] {
        if (value === undefined) {
            return [];
        }
        if (!Array.isArray(value)) {
            this.problem(`${key}.taints`, "must be a list of {key, value?, effect}. Fix: pulumi config set --path 'nodeGroups.<group>.taints[0].key' dedicated");
            return [];
        }
        const taints: Taint[] = [];
        for (const item of value as Array<Record<string, unknown>>) {
            const effect = item?.effect as TaintEffect;
            if (typeof item?.key !== "string" || !LABEL_KEY_PATTERN.test(item.key)) {
                this.problem(`${key}.taints`, `taint key "${String(item?.key)}" is not valid. Fix: use a label-style key such as dedicated`);
                continue;
            }
            if (!TAINT_EFFECTS.includes(effect)) {
                this.problem(`${key}.taints`, `taint effect "${String(effect)}" is not one of ${TAINT_EFFECTS.join(", ")}. Fix: set effect to NoSchedule`);
                continue;
            }
            // The value travels in kubelet's --register-with-taints and in an ASG tag.
            const taintValue = item.value === undefined ? undefined : String(item.value);
            if (taintValue !== undefined && (!LABEL_VALUE_PATTERN.test(taintValue) || taintValue.length > 63)) {
                this.problem(`${key}.taints`, `taint value "${taintValue}" of "${item.key}" is not valid. Fix: use letters, digits, '-', '_', '.' (at most 63)`);
                continue;
            }
            taints.push({ key: item.key, value: taintValue, effect });
        }
        return taints;
    }

    private readAddons(): StackConfig["addons"] {
        const overrides = this.json("addonOverrides") ?? {};
        const addons = {
            cni: this.enumeration("cni", CNI_PROVIDERS),
            volumeType: this.enumeration("volumeType", VOLUME_TYPES),
            ebsCsi: this.boolean("ebsCsi"),
            loadBalancerController: this.boolean("loadBalancerController"),
            autoscaler: this.boolean("autoscaler"),
            kasten: this.boolean("kasten"),
            autoscalerScaleDownUnneededTime: this.string("autoscalerScaleDownUnneededTime")!,
            autoscalerScaleDownDelayAfterAdd: this.string("autoscalerScaleDownDelayAfterAdd")!,
            overrides: {} as Record<string, AddonOverride>,
        };
        for (const key of ["autoscalerScaleDownUnneededTime", "autoscalerScaleDownDelayAfterAdd"] as const) {
            if (!DURATION_PATTERN.test(addons[key])) {
                this.problem(key, `"${addons[key]}" is not a duration. Fix: use a value such as 10m`);
            }
        }
        const problems = overrideProblems(overrides);
        for (const { key, message } of problems) {
            this.problem(key, `${message}. Fix: pulumi config set --path addonOverrides.<addon>.version <chart version> (see the add-on table)`);
        }
        if (problems.length === 0) {
            addons.overrides = overrides as Record<string, AddonOverride>;
        }
        return addons;
    }
}
