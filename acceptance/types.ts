// Shapes of the acceptance run: what it drives (a Pulumi stack through the Automation API, the
// cluster, the cloud) as small interfaces, so that the order of the phases, their timeouts,
// the destroy after a failure and the report are tested without a Pulumi CLI or a cloud.

/** The stack as the run needs it; acceptance/pulumi-workspace.ts wraps a LocalWorkspace stack. */
export interface AcceptanceStack {
    up(onOutput: (line: string) => void): Promise<Record<string, unknown>>;
    destroy(onOutput: (line: string) => void): Promise<void>;
    /** Stops the running update (a phase timed out). */
    cancel(): Promise<void>;
    /** The plain value of a `zadara-eksd:` key in the stack, undefined when unset. */
    getConfig(key: string): Promise<string | undefined>;
    setConfig(key: string, value: string): Promise<void>;
    removeConfig(key: string): Promise<void>;
}

/** What is checked on the running cluster (acceptance/cluster-checks.ts with a real kubeconfig). */
export interface ClusterChecks {
    healthGate(outputs: Record<string, unknown>): Promise<string>;
    nodesReady(): Promise<string>;
    loadBalancerAnswers(): Promise<string>;
    volumeBoundAndSnapshotted(): Promise<string>;
    autoscalerAddsNode(): Promise<string>;
    /** Removes what the checks created (namespace), before the destroy. */
    removeTestObjects(): Promise<void>;
}

/** Writes to the Kubernetes API once per interval while a day-2 change runs; reports the longest failing stretch. */
export interface WriteProbe {
    start(): void;
    stop(): Promise<{ writes: number; failures: number; longestOutageMs: number }>;
}

/** Time for the run: `now` for the report, `after` for timeouts (tests drive it by hand). */
export interface AcceptanceClock {
    now(): number;
    /** Resolves after `ms`; `cancel` stops the timer. */
    after(ms: number): { done: Promise<void>; cancel(): void };
}

export interface AcceptanceDependencies {
    stack: AcceptanceStack;
    /** `npm run doctor`'s exit code for the stack (0: nothing it needs fails). */
    doctor(): Promise<number>;
    cluster(outputs: Record<string, unknown>): Promise<ClusterChecks>;
    probe(outputs: Record<string, unknown>): Promise<WriteProbe>;
    /** `npm run cleanup -- --dry-run`: exit code and what it would delete. */
    cleanupDryRun(): Promise<{ code: number; found: string[] }>;
    clock: AcceptanceClock;
    log(line: string): void;
}

export type PhaseStatus = "passed" | "failed" | "skipped" | "not run";

export interface PhaseResult {
    name: string;
    status: PhaseStatus;
    seconds: number;
    detail: string;
}

export interface AcceptanceReport {
    stack: string;
    result: "passed" | "failed" | "skipped";
    phases: PhaseResult[];
    /** Write outage of the API during each day-2 change, in seconds. */
    writeOutages: Record<string, number>;
    /** What the cleanup's dry run still found after the destroy, or what the destroy left. */
    left: string[];
}
