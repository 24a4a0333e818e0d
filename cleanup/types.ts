// Shared shapes of the cleanup: what it finds, how it reports, how it tells time.

export type ResourceKind = "load-balancer" | "classic-elb" | "listener" | "target-group" | "security-group" | "volume" | "snapshot" | "network-interface";

/** One cloud resource of this cluster, as one inventory round saw it. */
export interface FoundResource {
    kind: ResourceKind;
    /** ARN, name (classic ELB) or id. */
    id: string;
    /** Human name when it differs from the id. */
    name?: string;
    /** The tag that makes it this cluster's, `key=value`. */
    owner: string;
    /** Cloud state (`available`, `in-use`, `active`, ...). */
    state?: string;
    /** Why it cannot be deleted yet (attached volume, held by a load balancer, ...). */
    waitingFor?: string;
    /** The Kubernetes object its controller made it for (tags.ts createdForOf). */
    createdFor?: string;
}

export type Action = "deleted" | "gone" | "would delete" | "kept" | "remains";

/** Time as the cleanup sees it; tests pass a fake one that sleeps by moving `now`. */
export interface Clock {
    now(): number;
    sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

export interface Logger {
    /** Progress for people (stderr). */
    info(message: string): void;
    /** One line per resource and the counts (stdout). */
    result(line: string): void;
}

export const consoleLogger: Logger = {
    info: (message) => process.stderr.write(`[cleanup] ${message}\n`),
    result: (line) => process.stdout.write(`${line}\n`),
};
