// Runs the EksdAddons component under Pulumi mocks and records every registered resource:
// type, name, inputs (as the engine would see them), dependencies, parent and provider.

import * as pulumi from "@pulumi/pulumi";
import type { EksdAddons, EksdAddonsArgs } from "../../addons";

import { SECRET_SIG, SECRET_SIG_KEY } from "../../tools/mock-engine";

/** How the Pulumi SDK marks a secret value on the wire (and so in mock inputs). */
export { SECRET_SIG_KEY };
export const SECRET_SIG_VALUE = SECRET_SIG;

export interface RecordedResource {
    type: string;
    name: string;
    urn: string;
    inputs: Record<string, any>;
    /** URNs this resource depends on (explicit dependsOn plus input dependencies). */
    dependencies: string[];
    parent: string;
    /** Provider reference `urn::id`, empty for the default provider. */
    provider: string;
}

export interface AddonsRun {
    component: EksdAddons;
    resources: RecordedResource[];
    byName(name: string): RecordedResource;
    ofType(type: string): RecordedResource[];
    release(releaseName: string): RecordedResource | undefined;
    /** True when `from` depends (directly or through other recorded resources) on `to`. */
    dependsOn(from: RecordedResource, to: RecordedResource): boolean;
}

export const BASE_ARGS: Omit<EksdAddonsArgs, "dependsOn"> = {
    clusterName: "demo",
    kubeconfig: "apiVersion: v1\nkind: Config\n",
    eksdVersion: "1.30",
    podCidr: "10.244.0.0/16",
    vpcId: "vpc-0123456789",
    cloudApiUrl: "https://cloud.example.com",
    cni: "flannel",
    volumeType: "gp2",
    ebsCsi: true,
    loadBalancerController: true,
    autoscaler: true,
    kasten: false,
    metricsServer: true,
    autoscalerScaleDownUnneededTime: "10m",
    autoscalerScaleDownDelayAfterAdd: "10m",
    overrides: {},
};

function isSecret(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as any)[SECRET_SIG_KEY] === SECRET_SIG_VALUE;
}

/** Removes the secret markers (for asserting on values). */
export function unwrapSecrets(value: unknown): any {
    if (isSecret(value)) {
        return unwrapSecrets(value.value);
    }
    if (Array.isArray(value)) {
        return value.map(unwrapSecrets);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

export function isSecretValue(value: unknown): boolean {
    return isSecret(value);
}

// Realistic state per type: what the provider would report after create.
function mockState(type: string, name: string, inputs: any): Record<string, any> {
    switch (type) {
        case "kubernetes:helm.sh/v3:Release":
            return {
                ...inputs,
                status: {
                    name: inputs.name ?? name,
                    namespace: inputs.namespace,
                    chart: inputs.chart,
                    version: inputs.version,
                    appVersion: "",
                    revision: 1,
                    status: "deployed",
                },
            };
        case "kubernetes:core/v1:ConfigMap":
        case "kubernetes:core/v1:Secret":
        case "kubernetes:core/v1:Namespace":
            return {
                ...inputs,
                apiVersion: "v1",
                kind: type.split(":").pop(),
                metadata: { ...(inputs.metadata ?? {}), uid: `${name}-uid`, resourceVersion: "1" },
            };
        case "kubernetes:yaml/v2:ConfigFile":
            return { ...inputs, resources: [] };
        default:
            return { ...inputs };
    }
}

let componentCounter = 0;

/**
 * Builds the component with `args` (over BASE_ARGS) under fresh mocks and waits until every
 * resource has been registered.
 */
export async function runAddons(args: Partial<EksdAddonsArgs> = {}, withNodes = true): Promise<AddonsRun> {
    const resources: RecordedResource[] = [];
    const newResourceInputs = new Map<string, any>();

    await pulumi.runtime.setMocks(
        {
            newResource(mockArgs: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
                newResourceInputs.set(`${mockArgs.type}::${mockArgs.name}`, mockArgs.inputs);
                return { id: `${mockArgs.name}-id`, state: mockState(mockArgs.type, mockArgs.name, mockArgs.inputs) };
            },
            call(mockArgs: pulumi.runtime.MockCallArgs): Record<string, any> {
                return mockArgs.inputs;
            },
        },
        "zadara-eksd",
        "test",
        false,
    );

    // Wrap the mock monitor to see what the engine would see: dependencies, parent, provider.
    const monitor: any = pulumi.runtime.getMonitor();
    const originalRegister = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, res: any) => void) => {
        const type: string = req.getType();
        const name: string = req.getName();
        return originalRegister(req, (err: any, res: any) => {
            if (!err && res) {
                resources.push({
                    type,
                    name,
                    urn: res.getUrn(),
                    inputs: newResourceInputs.get(`${type}::${name}`) ?? {},
                    dependencies: req.getDependenciesList(),
                    parent: req.getParent(),
                    provider: req.getProvider(),
                });
            }
            callback(err, res);
        });
    };

    const { EksdAddons } = await import("../../addons");
    const { FakeNode } = await import("./fake-node");
    componentCounter += 1;
    const nodes = withNodes ? [new FakeNode(`node-${componentCounter}`)] : undefined;
    const component = new EksdAddons(`t${componentCounter}-addons`, { ...BASE_ARGS, ...args, dependsOn: nodes });

    await settle(resources);
    return makeRun(component, resources);
}

// Registrations are asynchronous (inputs resolve first): wait until the count stays stable.
async function settle(resources: RecordedResource[]): Promise<void> {
    let last = -1;
    let stableRounds = 0;
    for (let i = 0; i < 400 && stableRounds < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (resources.length === last) {
            stableRounds += 1;
        } else {
            stableRounds = 0;
            last = resources.length;
        }
    }
}

function makeRun(component: EksdAddons, resources: RecordedResource[]): AddonsRun {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    return {
        component,
        resources,
        byName(name: string): RecordedResource {
            const found = resources.find((r) => r.name === name);
            if (!found) {
                throw new Error(`no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
            }
            return found;
        },
        ofType(type: string): RecordedResource[] {
            return resources.filter((r) => r.type === type);
        },
        release(releaseName: string): RecordedResource | undefined {
            return resources.find((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.name === releaseName);
        },
        dependsOn(from: RecordedResource, to: RecordedResource): boolean {
            const seen = new Set<string>();
            const queue = [...from.dependencies];
            while (queue.length > 0) {
                const urn = queue.shift()!;
                if (urn === to.urn) {
                    return true;
                }
                if (!seen.has(urn)) {
                    seen.add(urn);
                    queue.push(...(byUrn.get(urn)?.dependencies ?? []));
                }
            }
            return false;
        },
    };
}
