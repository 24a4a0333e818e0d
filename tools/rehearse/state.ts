// The rehearsal's stand-in for a stack's state: the resources the last update left (with the
// inputs and outputs the engine stored for them), the old halves a failed update could not
// delete, and the stack outputs the program reads back through its own StackReference.

export interface StateResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    /** URNs this resource depends on (the program's dependsOn and input dependencies). */
    dependencies: string[];
    /** Replaced delete-before-replace: the old resource is deleted right before the new one is created. */
    deleteBeforeReplace?: boolean;
    /** Inputs with secret values unwrapped (the state holds them encrypted; the rehearsal has no key). */
    inputs: Record<string, unknown>;
    id: string;
    outputs: Record<string, unknown>;
}

export interface RehearsalState {
    resources: StateResource[];
    /**
     * Old halves of replacements and removed resources a failed update did not delete: since
     * Pulumi 3.46 (pulumi/pulumi#11027) the next update deletes them at its end.
     */
    pendingDeletes: StateResource[];
    outputs: Record<string, unknown>;
    /** Instance ids the cloud runs (the provider's getInstances answers from this list). */
    liveInstances: string[];
    /** `a.b.c` of the loopback /24 the instances' addresses come from. */
    addressPrefix: string;
    /** The last octet the next new instance gets. */
    nextAddress: number;
}

export function emptyState(addressPrefix: string): RehearsalState {
    return { resources: [], pendingDeletes: [], outputs: {}, liveInstances: [], addressPrefix, nextAddress: 10 };
}

/** What one program run under the mock engine plans (tools/rehearse/plan-run.ts). */
export interface PlannedUpdate {
    resources: StateResource[];
    outputs: Record<string, unknown>;
    /** The preview's refusal (a change the lifecycle checks reject); nothing runs then. */
    refusal?: string;
    nextAddress: number;
}

export function stateKey(type: string, name: string): string {
    return `${type}::${name}`;
}
