// What the rehearsal sees of etcd from outside the nodes: the member list and each member's
// health through etcd's JSON gateway (TLS with a node's client certificate), and a writer that
// keeps writing keys through every running member and remembers which writes etcd acknowledged.
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";

export interface EtcdTls {
    ca: string;
    cert: string;
    key: string;
}

export interface EtcdMemberView {
    id: string;
    name: string;
    /** The address of the member's peer URL (the node it runs on). */
    ip: string;
    learner: boolean;
    healthy: boolean;
}

/** The client certificate of a node that ran kubeadm's stub (any member's works for all). */
export function tlsOfNode(root: string): EtcdTls | undefined {
    const pki = path.join(root, "etc", "kubernetes", "pki", "etcd");
    const files = ["ca.crt", "healthcheck-client.crt", "healthcheck-client.key"].map((name) => path.join(pki, name));
    if (!files.every((file) => fs.existsSync(file))) {
        return undefined;
    }
    const [ca, cert, key] = files.map((file) => fs.readFileSync(file, "utf8"));
    return { ca, cert, key };
}

function request(tls: EtcdTls, url: string, body: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            url,
            { method: body === undefined ? "GET" : "POST", ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs },
            (response) => {
                let text = "";
                response.on("data", (chunk: Buffer) => (text += chunk.toString()));
                response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
            },
        );
        req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end(body);
    });
}

/** The member list through the first endpoint that answers, each member's health asked directly. */
export async function viewMembers(tls: EtcdTls, endpoints: string[]): Promise<EtcdMemberView[] | undefined> {
    for (const endpoint of endpoints) {
        let listed: { members?: Array<{ ID: string; name?: string; peerURLs?: string[]; isLearner?: boolean }> };
        try {
            const answer = await request(tls, `${endpoint}/v3/cluster/member/list`, "{}", 2000);
            if (answer.status !== 200) {
                continue;
            }
            listed = JSON.parse(answer.text) as typeof listed;
        } catch {
            continue;
        }
        const members: EtcdMemberView[] = [];
        for (const member of listed.members ?? []) {
            const ip = new URL(member.peerURLs?.[0] ?? "https://0.0.0.0:2380").hostname;
            let healthy: boolean;
            try {
                const health = await request(tls, `https://${ip}:2379/health`, undefined, 1500);
                healthy = health.status === 200 && /"health":\s*"true"/.test(health.text);
            } catch {
                healthy = false;
            }
            members.push({ id: member.ID, name: member.name ?? "", ip, learner: member.isLearner === true, healthy });
        }
        return members;
    }
    return undefined;
}

/** The address of the member the first answering member names as its leader. */
export async function leaderAddress(tls: EtcdTls, endpoints: string[]): Promise<string | undefined> {
    const members = await viewMembers(tls, endpoints);
    for (const endpoint of endpoints) {
        try {
            const answer = await request(tls, `${endpoint}/v3/maintenance/status`, "{}", 2000);
            if (answer.status !== 200) {
                continue;
            }
            const leader = (JSON.parse(answer.text) as { leader?: string }).leader;
            return members?.find((member) => member.id === leader)?.ip;
        } catch {
            continue;
        }
    }
    return undefined;
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/**
 * Writes `/rehearsal/<n>` every `periodMs` through the running members (the first that takes
 * it), for as long as it runs. A write every member refused (a leader election) or left
 * unanswered for 1 s is a failed write, not retried: the count shows how often a client without
 * retries would see an error. The longest outage is the longest time between two acknowledged
 * writes.
 */
export class EtcdWriter {
    readonly acknowledged = new Map<string, string>();
    failedWrites = 0;
    longestOutageMs = 0;
    private lastAck = 0;
    private running = false;
    private loop?: Promise<void>;
    private counter = 0;

    constructor(
        private readonly tls: () => EtcdTls | undefined,
        private readonly endpoints: () => string[],
        private readonly now: () => number,
        private readonly periodMs = 100,
    ) {}

    start(): void {
        this.running = true;
        this.lastAck = this.now();
        this.loop = this.run();
    }

    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
    }

    private async run(): Promise<void> {
        while (this.running) {
            const tls = this.tls();
            const endpoints = this.endpoints();
            if (tls && endpoints.length > 0) {
                const key = `/rehearsal/${String(++this.counter).padStart(6, "0")}`;
                const value = `w${this.counter}`;
                let done = false;
                for (const endpoint of endpoints) {
                    try {
                        const answer = await request(tls, `${endpoint}/v3/kv/put`, JSON.stringify({ key: b64(key), value: b64(value) }), 1000);
                        if (answer.status === 200) {
                            done = true;
                            break;
                        }
                    } catch {
                        // the next member
                    }
                }
                const at = this.now();
                if (done) {
                    this.acknowledged.set(key, value);
                    this.longestOutageMs = Math.max(this.longestOutageMs, at - this.lastAck - this.periodMs);
                    this.lastAck = at;
                } else {
                    this.failedWrites++;
                }
            } else {
                this.lastAck = this.now();
            }
            await new Promise((resolve) => setTimeout(resolve, this.periodMs));
        }
    }

    /** Keys etcd acknowledged that do not read back with their value (empty when all do). */
    async unreadable(): Promise<string[] | undefined> {
        const tls = this.tls();
        // Only writes acknowledged before the read: a write in flight may land after it.
        const expected = [...this.acknowledged];
        for (const endpoint of this.endpoints()) {
            if (!tls) {
                break;
            }
            try {
                const answer = await request(tls, `${endpoint}/v3/kv/range`, JSON.stringify({ key: b64("/rehearsal/"), range_end: b64("/rehearsal0") }), 3000);
                if (answer.status !== 200) {
                    continue;
                }
                const kvs = (JSON.parse(answer.text) as { kvs?: Array<{ key: string; value: string }> }).kvs ?? [];
                const found = new Map(kvs.map((kv) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value ?? "", "base64").toString()]));
                return expected.filter(([key, value]) => found.get(key) !== value).map(([key]) => key);
            } catch {
                // the next member
            }
        }
        return undefined;
    }
}
