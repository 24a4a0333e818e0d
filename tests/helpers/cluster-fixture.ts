// Builds EksdCluster components under the mock engine for the cluster tests: a public
// standalone cluster, an ASG-mode cluster with existing instance profiles, and an internal one.
// Import this module first: it installs the mocks before any resource module is loaded.
import * as pulumi from "@pulumi/pulumi";
import { isSecretValue, mockState, RecordedResource, settle, startMockEngine } from "../../tools/mock-engine";
import type { EksdCluster, EksdClusterArgs } from "../../cluster";
import type { NodeGroupConfig } from "../../model";

export const recorded: RecordedResource[] = startMockEngine({ project: "zadara-eksd", stack: "test" });

export const BASTION_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ncluster-test-bastion-key-material\n-----END OPENSSH PRIVATE KEY-----\n";
export const NODE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ncluster-test-node-key-material\n-----END OPENSSH PRIVATE KEY-----\n";
export const LB_ID = "0a1b2c3d4e5f";

import { opensslCertificate } from "./openssl-cert";

export { opensslCertificate };

export const ROOT_CA = opensslCertificate().certPem;

export function group(overrides: Partial<NodeGroupConfig> = {}): NodeGroupConfig {
    return {
        instanceType: "z8.large",
        minSize: 1,
        desiredSize: 2,
        maxSize: 4,
        volumeSize: 100,
        amiId: "ami-0worker01",
        labels: {},
        taints: [],
        cooldown: 120,
        maxSurge: 1,
        maxUnavailable: 0,
        drainTimeoutSeconds: 600,
        ...overrides,
    };
}

/** Options of every resource, captured through a transformation (mocks do not see options). */
export const capturedOptions = new Map<string, pulumi.CustomResourceOptions>();

function captureOptions(args: pulumi.ResourceTransformationArgs): pulumi.ResourceTransformationResult | undefined {
    capturedOptions.set(`${args.type}::${args.name}`, args.opts);
    return undefined;
}

export function optionsOf(type: string, name: string): pulumi.CustomResourceOptions {
    const options = capturedOptions.get(`${type}::${name}`);
    if (!options) {
        throw new Error(`no options captured for ${type} ${name}`);
    }
    return options;
}

export async function makeArgs(environment: string, overrides: Partial<EksdClusterArgs> = {}): Promise<EksdClusterArgs> {
    const aws = await import("@pulumi/aws");
    const provider = new aws.Provider(`${environment}-zcompute`, { region: "us-east-1", skipCredentialsValidation: true });
    return {
        provider,
        environment,
        tags: { team: "platform", "cost:center": "k8s" },
        network: {
            vpcId: "vpc-0123456789abcdef0",
            privateSubnetId: "subnet-0private",
            clusterSecurityGroupId: "sg-0cluster",
            apiLoadBalancerArn: `arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/${environment}-eksd-masters/${LB_ID}`,
            apiLoadBalancerId: LB_ID,
            apiInternalDnsName: `elb-${LB_ID}.symphony.local`,
            bastionPublicIp: "203.0.113.5",
            bastionPrivateIp: "192.168.0.10",
            bastionInstanceId: "i-0bastion000000001",
        },
        apiPublic: true,
        eksdVersion: "1.30",
        kubernetesVersion: "v1.30.14-eks-1-30-44",
        podCidr: "10.244.0.0/16",
        serviceCidr: "10.96.0.0/12",
        controlPlane: { count: 3, mode: "standalone", instanceType: "z4.large", volumeSize: 50, amiId: "ami-0master01" },
        nodeGroups: {
            workers: group(),
            gpu: group({
                instanceType: "z16.xlarge",
                minSize: 0,
                desiredSize: 0,
                maxSize: 2,
                volumeSize: 200,
                amiId: "ami-0gpu0001",
                cooldown: 300,
                labels: { "example.com/team": "ml", accelerator: "gpu" },
                taints: [
                    { key: "dedicated", value: "gpu", effect: "NoSchedule" },
                    { key: "spot", effect: "PreferNoSchedule" },
                ],
            }),
        },
        nodeKeyName: "nodes-key",
        ssh: { bastionUser: "ubuntu", bastionPrivateKey: pulumi.secret(BASTION_KEY), nodeUser: "ubuntu", nodePrivateKey: pulumi.secret(NODE_KEY) },
        kubeconfigTimeoutMinutes: 25,
        etcdBackupRotation: 100,
        rootCaCert: ROOT_CA,
        sshHostKeys: { mode: "console", stack: "test", cloudApiUrl: "https://cloud.example.com" },
        // The 1.30 pins (addons/versions.ts); a cluster of another minor passes its own.
        controllerCharts: { ccm: "0.0.11", ebsCsi: "2.33.0", loadBalancerController: "1.7.2", autoscaler: "9.37.0" },
        ...overrides,
    };
}

export async function makeCluster(environment: string, overrides: Partial<EksdClusterArgs> = {}): Promise<EksdCluster> {
    const { EksdCluster } = await import("../../cluster");
    const args = await makeArgs(environment, overrides);
    return new EksdCluster(environment, args, { transformations: [captureOptions] });
}

/** The three clusters every cluster test looks at, created once per test process. */
export interface Clusters {
    /** Public API, 3 standalone masters, IAM created, root CA. */
    dev: EksdCluster;
    /** Existing instance profiles, 1.31 (kubeadm v1beta4), no root CA, hardening off. */
    asgc: EksdCluster;
    /** Internal API, one standalone master. */
    intl: EksdCluster;
}

let clusters: Promise<Clusters> | undefined;

export function buildClusters(): Promise<Clusters> {
    clusters ??= (async () => {
        const dev = await makeCluster("dev");
        const asgc = await makeCluster("asgc", {
            eksdVersion: "1.31",
            kubernetesVersion: "v1.31.14-eks-1-31-40",
            controlPlane: {
                count: 3,
                mode: "standalone",
                instanceType: "z4.large",
                volumeSize: 60,
                amiId: "ami-0master01",
                instanceProfile: "existing-masters",
            },
            hardening: { auditLog: false, secretsEncryption: false, kubeletHardening: false, apiServerProfiling: true, requireMetadataTokens: true },
            secretsEncryptionKeyVersion: 3,
            workerInstanceProfile: "existing-workers",
            rootCaCert: undefined,
            cloudApiInsecure: true,
        });
        const intl = await makeCluster("intl", {
            apiPublic: false,
            controlPlane: { count: 1, mode: "standalone", instanceType: "z4.large", volumeSize: 50, amiId: "ami-0master01" },
            nodeGroups: { workers: group() },
            ebsCsiCredentials: true,
        });
        // Wait for every output the tests read, then for the registrations they cause.
        for (const cluster of [dev, asgc, intl]) {
            await valueOf(cluster.kubeconfig);
            await valueOf(cluster.cloudApiUrl);
            await valueOf(cluster.controlPlaneInstanceIds);
            await valueOf(cluster.nodeGroupAsgNames);
        }
        await settle();
        return { dev, asgc, intl };
    })();
    return clusters;
}

export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) =>
        output.apply((value) => {
            resolve(value);
            return value;
        }),
    );
}

export function resourcesOf(type: string, namePrefix?: string): RecordedResource[] {
    return recorded.filter((r) => r.type === type && (namePrefix === undefined || r.name.startsWith(namePrefix)));
}

export function resource(type: string, name: string): RecordedResource {
    const found = recorded.find((r) => r.type === type && r.name === name);
    if (!found) {
        throw new Error(
            `no ${type} named ${name}; have: ${recorded
                .filter((r) => r.type === type)
                .map((r) => r.name)
                .join(", ")}`,
        );
    }
    return found;
}

/** The value inside a secret marker; throws when the value is not marked secret. */
export function secretValue(value: unknown): unknown {
    if (!isSecretValue(value)) {
        throw new Error(`expected a secret, got ${JSON.stringify(value)?.slice(0, 80)}`);
    }
    return value.value;
}

/** What the mock engine generated for a random/tls resource (same function, same name). */
export function mockOutput(type: string, name: string, inputs: Record<string, unknown>, field: string): string {
    return String(mockState(type, name, inputs).state[field]);
}

/** The files a recorded `<node>-bootstrap` command sends on stdin ("<name> <base64>" lines). */
export function stdinFiles(commandName: string): Record<string, string> {
    const stdin = secretValue(resource("command:remote:Command", commandName).inputs.stdin) as string;
    const files: Record<string, string> = {};
    for (const line of stdin.split("\n").filter(Boolean)) {
        const [name, data] = line.split(" ");
        files[name] = Buffer.from(data, "base64").toString("utf8");
    }
    return files;
}
