// Pulumi's mock engine, set up to look like a real preview: realistic ids, ARNs and IPs for
// every resource type we use, and a record of each registration (parent, dependencies,
// inputs with secrets still marked) for the plan tool and the tests.
import * as pulumi from "@pulumi/pulumi";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";

/** How the mock monitor marks a secret value inside serialized inputs. */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export const REDACTED = "[secret]";
export const MOCK_ACCOUNT_ID = "000000000000";

export interface RecordedResource {
    urn: string;
    type: string;
    name: string;
    parent: string | undefined;
    custom: boolean;
    /** Inputs as the engine received them; secret values are still wrapped. */
    inputs: Record<string, unknown>;
    dependencies: string[];
    /** The resources whose outputs flow into an input (dependsOn-only ordering excluded). */
    inputDependencies: string[];
    id: string | undefined;
    /** Provider reference `<provider urn>::<provider id>`; undefined for the default provider. */
    provider: string | undefined;
    /** The `deleteBeforeReplace` option: a replacement deletes the old resource first. */
    deleteBeforeReplace: boolean;
}

export function isSecretValue(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** Replaces every secret-marked value with "[secret]" (or unwraps it when showSecrets). */
export function redactSecrets(value: unknown, showSecrets: boolean): unknown {
    if (isSecretValue(value)) {
        return showSecrets ? redactSecrets(value.value, showSecrets) : REDACTED;
    }
    if (Array.isArray(value)) {
        return value.map((item) => redactSecrets(item, showSecrets));
    }
    if (typeof value === "object" && value !== null) {
        const result: Record<string, unknown> = {};
        for (const [key, item] of Object.entries(value)) {
            result[key] = redactSecrets(item, showSecrets);
        }
        return result;
    }
    return value;
}

/** Stable pseudo-random hex derived from a name, so plans are reproducible. */
function hexFrom(seed: string, length: number): string {
    let out = "";
    let counter = 0;
    while (out.length < length) {
        out += createHash("sha256").update(`${seed}#${counter++}`).digest("hex");
    }
    return out.slice(0, length);
}

function octetFrom(seed: string): number {
    return 10 + (parseInt(hexFrom(seed, 4), 16) % 240);
}

let cachedCaKeys: { privateKeyPem: string; publicKeyPem: string } | undefined;
/**
 * The keys of every mocked tls PrivateKey: Ed25519 from a fixed seed (PKCS#8 prefix + 32 bytes),
 * so the CA pin, and everything hashed with it (user data, roll fingerprints), is the same in
 * every plan run, as it is between two `pulumi up` runs of one stack.
 */
function caKeys(): { privateKeyPem: string; publicKeyPem: string } {
    if (!cachedCaKeys) {
        const seed = Buffer.from(hexFrom("mock-engine/ca-key", 64), "hex");
        const privateKey = createPrivateKey({
            key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
            format: "der",
            type: "pkcs8",
        });
        cachedCaKeys = {
            privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
            publicKeyPem: createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString(),
        };
    }
    return cachedCaKeys;
}

/** Outputs a real provider would compute, per resource type. */
export function mockState(type: string, name: string, inputs: Record<string, any>): { id: string; state: Record<string, unknown> } {
    const hex = (n: number) => hexFrom(`${type}/${name}`, n);
    const privateIp = `192.168.2.${octetFrom(name)}`;
    const publicIp = `203.0.113.${octetFrom(`public/${name}`)}`;
    const region = "us-east-1";
    switch (type) {
        case "aws:ec2/vpc:Vpc": {
            const id = `vpc-${hex(17)}`;
            return {
                id,
                state: {
                    arn: `arn:aws:ec2:${region}:${MOCK_ACCOUNT_ID}:vpc/${id}`,
                    defaultRouteTableId: `rtb-${hexFrom(id + "rtb", 17)}`,
                    defaultSecurityGroupId: `sg-${hexFrom(id + "sg", 17)}`,
                    mainRouteTableId: `rtb-${hexFrom(id + "rtb", 17)}`,
                },
            };
        }
        case "aws:ec2/subnet:Subnet": {
            const id = `subnet-${hex(17)}`;
            return { id, state: { arn: `arn:aws:ec2:${region}:${MOCK_ACCOUNT_ID}:subnet/${id}`, availabilityZone: "symphony" } };
        }
        case "aws:ec2/internetGateway:InternetGateway":
            return { id: `igw-${hex(17)}`, state: {} };
        case "aws:ec2/natGateway:NatGateway":
            return { id: `nat-${hex(17)}`, state: { privateIp: `192.168.0.${octetFrom(name)}`, publicIp } };
        case "aws:ec2/eip:Eip":
            return { id: `eipalloc-${hex(17)}`, state: { allocationId: `eipalloc-${hex(17)}`, publicIp, publicDns: "" } };
        case "aws:ec2/routeTable:RouteTable":
            return { id: `rtb-${hex(17)}`, state: {} };
        case "aws:ec2/securityGroup:SecurityGroup": {
            const id = `sg-${hex(17)}`;
            return { id, state: { arn: `arn:aws:ec2:${region}:${MOCK_ACCOUNT_ID}:security-group/${id}` } };
        }
        case "aws:ec2/vpcDhcpOptions:VpcDhcpOptions":
            return { id: `dopt-${hex(17)}`, state: {} };
        case "aws:ec2/instance:Instance": {
            const id = `i-${hex(17)}`;
            return {
                id,
                state: {
                    arn: `arn:aws:ec2:${region}:${MOCK_ACCOUNT_ID}:instance/${id}`,
                    privateIp: inputs.privateIp ?? privateIp,
                    publicIp: inputs.subnetId && String(name).includes("bastion") ? publicIp : "",
                    privateDns: `ip-${privateIp.replace(/\./g, "-")}.ec2.internal`,
                },
            };
        }
        case "aws:lb/loadBalancer:LoadBalancer": {
            const lbName = inputs.name ?? name;
            const arn = `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:loadbalancer/net/${lbName}/${hex(16)}`;
            return {
                id: arn,
                state: { arn, arnSuffix: `net/${lbName}/${hex(16)}`, dnsName: `${lbName}-${hex(8)}.elb.${region}.amazonaws.com`, zoneId: "Z26RNL4JYFTOTI" },
            };
        }
        case "aws:lb/targetGroup:TargetGroup": {
            const tgName = inputs.name ?? name;
            const arn = `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:targetgroup/${tgName}/${hex(16)}`;
            return { id: arn, state: { arn, arnSuffix: `targetgroup/${tgName}/${hex(16)}` } };
        }
        case "aws:lb/listener:Listener": {
            const arn = `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:listener/net/${name}/${hex(16)}/${hex(12)}`;
            return { id: arn, state: { arn } };
        }
        case "aws:iam/role:Role":
        case "aws:iam/instanceProfile:InstanceProfile":
        case "aws:iam/policy:Policy": {
            const resourceName = inputs.name ?? `${name}-${hex(7)}`;
            const kind = type
                .split(":")[2]
                .replace(/^[A-Z]/, (c) => c.toLowerCase())
                .replace("InstanceProfile", "instance-profile");
            return {
                id: resourceName,
                state: {
                    name: resourceName,
                    arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:${kind === "instanceProfile" ? "instance-profile" : kind}/${resourceName}`,
                    uniqueId: `AROA${hex(17).toUpperCase()}`,
                },
            };
        }
        case "aws:ec2/launchConfiguration:LaunchConfiguration": {
            const lcName = inputs.name ?? `${inputs.namePrefix ?? name}${hex(26)}`;
            return {
                id: lcName,
                state: {
                    name: lcName,
                    arn: `arn:aws:autoscaling:${region}:${MOCK_ACCOUNT_ID}:launchConfiguration:${hex(8)}:launchConfigurationName/${lcName}`,
                },
            };
        }
        case "aws:autoscaling/group:Group": {
            const groupName = inputs.name ?? `${inputs.namePrefix ?? name}${hex(26)}`;
            return {
                id: groupName,
                state: {
                    name: groupName,
                    arn: `arn:aws:autoscaling:${region}:${MOCK_ACCOUNT_ID}:autoScalingGroup:${hex(8)}:autoScalingGroupName/${groupName}`,
                },
            };
        }
        case "random:index/randomString:RandomString":
        case "random:index/randomPassword:RandomPassword": {
            const length = Number(inputs.length ?? 16);
            const result = hexFrom(`random/${name}`, length * 2)
                .replace(/[^a-z0-9]/g, "")
                .slice(0, length);
            return { id: name, state: { result } };
        }
        case "random:index/randomBytes:RandomBytes": {
            const length = Number(inputs.length ?? 32);
            const bytes = Buffer.from(hexFrom(`bytes/${name}`, length * 2), "hex");
            return { id: name, state: { hex: bytes.toString("hex"), base64: bytes.toString("base64") } };
        }
        case "random:index/randomId:RandomId": {
            const length = Number(inputs.byteLength ?? 4);
            const idHex = hexFrom(`id/${name}`, length * 2);
            return { id: idHex, state: { hex: idHex, dec: BigInt(`0x${idHex}`).toString(), b64Url: Buffer.from(idHex, "hex").toString("base64url") } };
        }
        case "tls:index/privateKey:PrivateKey": {
            const keys = caKeys();
            return { id: hex(40), state: { privateKeyPem: keys.privateKeyPem, privateKeyPemPkcs8: keys.privateKeyPem, publicKeyPem: keys.publicKeyPem } };
        }
        case "tls:index/selfSignedCert:SelfSignedCert": {
            const body = Buffer.from(`mock certificate for ${name}`).toString("base64");
            return { id: hex(32), state: { certPem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n` } };
        }
        case "tls:index/certRequest:CertRequest": {
            const body = Buffer.from(`mock certificate request for ${name}`).toString("base64");
            return { id: hex(32), state: { certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n` } };
        }
        case "tls:index/locallySignedCert:LocallySignedCert": {
            const body = Buffer.from(`mock client certificate for ${name}`).toString("base64");
            return { id: hex(32), state: { certPem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`, readyForRenewal: false } };
        }
        case "command:remote:Command":
        case "command:local:Command":
            return { id: `${name}-${hex(8)}`, state: { stdout: mockCommandStdout(name), stderr: "" } };
        default:
            return { id: `${name}-${hex(8)}`, state: {} };
    }
}

/**
 * A well-formed ed25519 public key line (`ssh-ed25519 <base64>`), the same for the same name: the
 * wire format (length-prefixed type, then 32 key bytes) that an authorized_keys parser accepts.
 */
export function mockHostKeyLine(name: string): string {
    const type = Buffer.from("ssh-ed25519");
    const key = Buffer.from(hexFrom(`host-key/${name}`, 64), "hex");
    const length = (n: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n);
        return b;
    };
    return `ssh-ed25519 ${Buffer.concat([length(type.length), type, length(key.length), key]).toString("base64")}`;
}

/** What our commands print on a real cloud, recognised by resource name. */
function mockCommandStdout(name: string): string {
    if (name.endsWith("-host-key")) {
        // tools/host-key.ts: the instance's key from its console (the provider trims the newline).
        return mockHostKeyLine(name);
    }
    if (name.includes("kubeconfig")) {
        return [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            "- cluster:",
            "    certificate-authority-data: bW9jaw==",
            "    server: https://203.0.113.10:6443",
            "  name: mock",
            "contexts:",
            "- context:",
            "    cluster: mock",
            "    user: kubernetes-super-admin",
            "  name: mock",
            "current-context: mock",
            "users:",
            "- name: kubernetes-super-admin",
            "  user:",
            "    client-certificate-data: bW9jaw==",
            "    client-key-data: bW9jaw==",
            "",
        ].join("\n");
    }
    if (name.includes("api-address")) {
        return "192.168.2.250\n";
    }
    if (name.includes("cloud-metadata")) {
        return "https://cloud.internal.example:443\n";
    }
    return "";
}

/** Answers for the provider functions (invokes) the program calls. */
export function mockCall(token: string, inputs: Record<string, any>): Record<string, unknown> {
    switch (token) {
        case "aws:ec2/getNetworkInterfaces:getNetworkInterfaces": {
            // The API NLB's interface, found by its description `ELB net/<name>/<id>`.
            const filter = (inputs.filters ?? []).find((f: { name: string }) => f.name === "description");
            return { id: "us-east-1", ids: filter ? [`eni-${hexFrom(String(filter.values?.[0]), 17)}`] : [] };
        }
        case "aws:ec2/getNetworkInterface:getNetworkInterface": {
            const filter = (inputs.filters ?? []).find((f: { name: string }) => f.name === "addresses.private-ip-address");
            const privateIp = filter?.values?.[0] ?? "192.168.2.250";
            return {
                id: `eni-${hexFrom(privateIp, 17)}`,
                privateIp,
                associations: [
                    { publicIp: `203.0.113.${octetFrom(privateIp)}`, allocationId: "", associationId: "", ipOwnerId: MOCK_ACCOUNT_ID, publicDnsName: "" },
                ],
            };
        }
        case "aws:ec2/getInstances:getInstances": {
            // Asked for instance ids: each runs, except ids starting with `i-0gone` (terminated).
            // Like the pinned provider, an empty result is an error, not an empty list.
            const byId = (inputs.filters ?? []).find((f: { name: string }) => f.name === "instance-id");
            if (byId) {
                const ids = (byId.values ?? []).map(String).filter((id: string) => !id.startsWith("i-0gone"));
                if (ids.length === 0) {
                    throw new Error("Your query returned no results. Please change your search criteria and try again.");
                }
                return { id: "us-east-1", ids, privateIps: ids.map((id: string) => `192.168.2.${octetFrom(id)}`), publicIps: ids.map(() => "") };
            }
            // Two running members, listed out of numeric IP order (as a cloud may list them).
            const seed = JSON.stringify(inputs.filters ?? []);
            const ids = [`i-${hexFrom(`${seed}/a`, 17)}`, `i-${hexFrom(`${seed}/b`, 17)}`];
            return { id: "us-east-1", ids, privateIps: ["192.168.2.30", "192.168.2.4"], publicIps: ["", ""] };
        }
        case "aws:index/getRegion:getRegion":
            return { name: "us-east-1", id: "us-east-1" };
        default:
            return {};
    }
}

export interface MockEngineOptions {
    project: string;
    stack: string;
    /** Full keys (`project:key`) to raw string values, as `pulumi config` stores them. */
    config?: Record<string, string>;
    secretKeys?: string[];
    preview?: boolean;
    /**
     * Outputs of the stack's last update, as a StackReference to the stack itself reads them
     * (e.g. `{ lifecycle: {...} }`); undefined = a stack that never ran.
     */
    previousOutputs?: Record<string, unknown>;
    /** Pulumi organization (getOrganization); "organization" like the CLI's default for individuals. */
    organization?: string;
    /**
     * Replaces the mocked id and outputs of a resource (e.g. the rehearsal keeps the ids of the
     * previous state and gives replaced instances new ones); undefined keeps the mock's answer.
     */
    resolveResource?: (type: string, name: string, inputs: Record<string, any>) => { id: string; state: Record<string, unknown> } | undefined;
    /** Replaces the answer of a provider function; undefined keeps the mock's answer. */
    resolveCall?: (token: string, inputs: Record<string, any>) => Record<string, unknown> | undefined;
}

export const STACK_REFERENCE = "pulumi:pulumi:StackReference";

/**
 * Installs the mocks and returns the list that fills up as the program registers resources.
 * Call before importing any module that creates resources.
 */
export function startMockEngine(options: MockEngineOptions): RecordedResource[] {
    const recorded: RecordedResource[] = [];
    pulumi.runtime.setAllConfig(options.config ?? {}, options.secretKeys ?? []);
    // The language host passes the secret keys to the program in this documented variable.
    process.env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(options.secretKeys ?? []);
    void pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                if (args.type === STACK_REFERENCE) {
                    // A read: the referenced stack's outputs are the state.
                    return { id: args.id || args.name, state: { name: args.inputs.name, outputs: options.previousOutputs ?? {}, secretOutputNames: [] } };
                }
                const { id, state } = options.resolveResource?.(args.type, args.name, args.inputs) ?? mockState(args.type, args.name, args.inputs);
                // The monitor passes the import id, "" for a new resource: only a real one wins.
                return { id: args.id || id, state: { ...args.inputs, ...state } };
            },
            call: (args) => options.resolveCall?.(args.token, args.inputs) ?? mockCall(args.token, args.inputs),
        },
        options.project,
        options.stack,
        options.preview ?? false,
        options.organization ?? "organization",
    );

    // The mock monitor does not pass parents or dependencies to the mocks: read them from
    // the registration requests themselves.
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request: any, callback: (err: unknown, response: any) => void) => {
        register(request, (err: unknown, response: any) => {
            // The real engine refuses two resources with one URN; the mock monitor does not.
            if (!err && response && recorded.some((r) => r.urn === response.getUrn())) {
                callback(new Error(`duplicate resource URN ${response.getUrn()}: two resources share a type and name`), undefined);
                return;
            }
            if (!err && response) {
                const inputs = pulumi.runtime.deserializeProperties(request.getObject());
                const inputDependencies = new Set<string>();
                request.getPropertydependenciesMap().forEach((deps: any) => {
                    for (const urn of deps.getUrnsList() as string[]) {
                        inputDependencies.add(urn);
                    }
                });
                recorded.push({
                    urn: response.getUrn(),
                    type: request.getType(),
                    name: request.getName(),
                    parent: request.getParent() || undefined,
                    custom: request.getCustom(),
                    inputs,
                    dependencies: request.getDependenciesList(),
                    inputDependencies: [...inputDependencies],
                    id: response.getId() || undefined,
                    provider: request.getProvider() || undefined,
                    deleteBeforeReplace: request.getDeletebeforereplace() === true,
                });
            }
            callback(err, response);
        });
    };
    return recorded;
}

// The runtime's RPC drain is not in its public typings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeSettings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

/** Lets every pending registration and output settle. */
export async function settle(): Promise<void> {
    for (let round = 0; round < 3; round++) {
        await runtimeSettings.waitForRPCs();
        await new Promise((resolve) => setImmediate(resolve));
    }
}
