// One `pulumi up`'s program run for the rehearsal, in its own process (the Pulumi runtime is
// process-global): the program under the mock engine, with the ids and outputs a real engine
// would give it. A resource the state holds keeps its id and outputs unless the change replaces
// it; a new or replaced instance gets a new id and a new loopback address (its node's address
// in the rehearsal); a new tls key or CA is real (openssl), so etcd runs with TLS.
//
//   tsx tools/rehearse/plan-run.ts --stack dev --state state.json --out plan.json
//                                  [--config key=value]... [--replace <resource name>]...
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { acceptPlaceholdersForOfflinePlan, PROJECT_NAME } from "../../config";
import { CONTROL_PLANE_REPLACE_ON_CHANGES } from "../../cluster/control-plane";
import { mockState, redactSecrets, settle, startMockEngine } from "../mock-engine";
import { Override, parseOverride, resolveStackConfig } from "../stack-config";
import { emptyState, PlannedUpdate, RehearsalState, StateResource, stateKey } from "./state";
import * as pulumi from "@pulumi/pulumi";

const USAGE = "usage: tsx tools/rehearse/plan-run.ts --stack <name> --state <file> --out <file> [--config key=value]... [--replace <name>]...";

interface PlanRunOptions {
    stack: string;
    stateFile: string;
    outFile: string;
    overrides: Override[];
    replace: string[];
}

function parseArguments(argv: string[]): PlanRunOptions {
    const options: PlanRunOptions = { stack: "dev", stateFile: "", outFile: "", overrides: [], replace: [] };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = argv[i + 1];
        if (arg === "--help" || arg === "-h") {
            console.log(USAGE);
            process.exit(0);
        }
        if (value === undefined) {
            throw new Error(`${arg} needs a value\n${USAGE}`);
        }
        i++;
        if (arg === "--stack") {
            options.stack = value;
        } else if (arg === "--state") {
            options.stateFile = value;
        } else if (arg === "--out") {
            options.outFile = value;
        } else if (arg === "--config") {
            options.overrides.push(parseOverride(value, false));
        } else if (arg === "--replace") {
            options.replace.push(value);
        } else {
            throw new Error(`unknown argument "${arg}"\n${USAGE}`);
        }
    }
    if (!options.stateFile || !options.outFile) {
        throw new Error(USAGE);
    }
    return options;
}

function plain(value: unknown): unknown {
    return redactSecrets(value, true);
}

function same(a: unknown, b: unknown): boolean {
    return JSON.stringify(plain(a)) === JSON.stringify(plain(b));
}

function openssl(args: string[], input?: string): string {
    const run = spawnSync("openssl", args, { encoding: "utf8", input });
    if (run.status !== 0) {
        throw new Error(`openssl ${args[0]} failed: ${run.stderr}`);
    }
    return run.stdout;
}

/** A real EC P-256 key (fast to make; etcd and kubeadm's hash accept any key type). */
function realKey(): Record<string, unknown> {
    const privateKeyPem = openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    const publicKeyPem = openssl(["pkey", "-pubout"], privateKeyPem);
    return { privateKeyPem, privateKeyPemPkcs8: privateKeyPem, publicKeyPem };
}

/** A real self-signed CA certificate of `privateKeyPem`. */
function realCa(privateKeyPem: string, commonName: string): Record<string, unknown> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-rehearse-ca-"));
    try {
        fs.writeFileSync(path.join(dir, "ca.key"), privateKeyPem, { mode: 0o600 });
        const certPem = openssl([
            "req",
            "-x509",
            "-new",
            "-key",
            path.join(dir, "ca.key"),
            "-subj",
            `/CN=${commonName}`,
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment",
        ]);
        return { certPem };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function main(): Promise<void> {
    const options = parseArguments(process.argv.slice(2));
    const state: RehearsalState = fs.existsSync(options.stateFile)
        ? (JSON.parse(fs.readFileSync(options.stateFile, "utf8")) as RehearsalState)
        : emptyState("127.0.9");
    const old = new Map(state.resources.map((r) => [stateKey(r.type, r.name), r]));
    const outputsOf = new Map<string, { id: string; state: Record<string, unknown> }>();
    let nextAddress = state.nextAddress;
    const started: string[] = [];

    const resolveResource = (type: string, name: string, inputs: Record<string, unknown>) => {
        const previous = old.get(stateKey(type, name));
        const forced = options.replace.includes(name);
        let result: { id: string; state: Record<string, unknown> } | undefined;
        if (type === "aws:ec2/instance:Instance") {
            const changed = previous !== undefined && CONTROL_PLANE_REPLACE_ON_CHANGES.some((key) => !same(previous.inputs[key], inputs[key]));
            if (previous && !changed && !forced) {
                result = { id: previous.id, state: { ...inputs, ...previous.outputs } };
            } else {
                const privateIp = `${state.addressPrefix}.${nextAddress++}`;
                const id = `i-${createHash("sha256").update(`${name}/${privateIp}/${nextAddress}`).digest("hex").slice(0, 17)}`;
                started.push(id);
                result = { id, state: { ...inputs, privateIp, publicIp: "", arn: `arn:aws:ec2:us-east-1:000000000000:instance/${id}` } };
            }
        } else if (previous && !forced && (type !== "command:remote:Command" || same(previous.inputs.triggers, inputs.triggers))) {
            result = { id: previous.id, state: { ...inputs, ...previous.outputs } };
        } else if (type === "command:remote:Command" || type === "command:local:Command") {
            // A new or replaced Command (changed triggers) is a new resource: a new id.
            const digest = createHash("sha256")
                .update(JSON.stringify(plain(inputs.triggers ?? null)))
                .update(String(nextAddress))
                // --replace of an unchanged Command: a new resource all the same.
                .update(forced ? `replaces ${previous?.id ?? ""}` : "")
                .digest("hex");
            result = { id: `${name}-${digest.slice(0, 8)}`, state: { ...inputs, ...mockState(type, name, inputs).state } };
        } else if (type === "tls:index/privateKey:PrivateKey") {
            result = { id: `${name}-key`, state: { ...inputs, ...realKey() } };
        } else if (type === "tls:index/selfSignedCert:SelfSignedCert") {
            const commonName = String((plain(inputs.subject) as { commonName?: string } | undefined)?.commonName ?? name);
            result = { id: `${name}-cert`, state: { ...inputs, ...realCa(String(plain(inputs.privateKeyPem)), commonName) } };
        }
        if (!result) {
            // The mock's answer, kept in the state so the next update sees the same outputs.
            const mocked = mockState(type, name, inputs);
            result = { id: mocked.id, state: { ...inputs, ...mocked.state } };
        }
        outputsOf.set(stateKey(type, name), result);
        return result;
    };
    const resolveCall = (token: string, inputs: Record<string, unknown>) => {
        const filters = (inputs.filters ?? []) as Array<{ name: string; values?: unknown[] }>;
        const byId = filters.find((f) => f.name === "instance-id");
        if (token !== "aws:ec2/getInstances:getInstances" || !byId) {
            return undefined;
        }
        const live = new Set([...state.liveInstances, ...started]);
        const ids = (byId.values ?? []).map(String).filter((id) => live.has(id));
        if (ids.length === 0) {
            throw new Error("Your query returned no results. Please change your search criteria and try again.");
        }
        return { id: "us-east-1", ids, privateIps: ids.map(() => ""), publicIps: ids.map(() => "") };
    };

    const input = resolveStackConfig(options.stack, options.overrides);
    const previousOutputs = state.resources.length > 0 ? state.outputs : undefined;
    const recorded = startMockEngine({
        project: PROJECT_NAME,
        stack: input.stack,
        config: input.values,
        secretKeys: input.secretKeys,
        previousOutputs,
        resolveResource,
        resolveCall,
    });
    // The rehearsal runs the example stacks offline, like npm run plan: their placeholders stand.
    acceptPlaceholdersForOfflinePlan();
    const exports = (await import("../../index")) as Record<string, unknown>;
    const write = (planned: PlannedUpdate) => fs.writeFileSync(options.outFile, `${JSON.stringify(planned)}\n`);
    try {
        await (pulumi.output(exports.lifecycle) as unknown as { promise(): Promise<unknown> }).promise();
    } catch (error) {
        write({ resources: [], outputs: {}, refusal: error instanceof Error ? error.message : String(error), nextAddress: state.nextAddress });
        process.exit(0);
    }
    await settle();
    const outputs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(exports)) {
        if (key === "__esModule" || typeof value === "function") {
            continue;
        }
        outputs[key] = await (pulumi.output(value) as unknown as { promise(): Promise<unknown> }).promise();
    }
    await settle();
    const resources: StateResource[] = recorded.map((r) => {
        const resolved = outputsOf.get(stateKey(r.type, r.name));
        return {
            urn: r.urn,
            type: r.type,
            name: r.name,
            custom: r.custom,
            dependencies: r.dependencies,
            deleteBeforeReplace: r.deleteBeforeReplace,
            inputs: plain(r.inputs) as Record<string, unknown>,
            id: r.id ?? resolved?.id ?? r.urn,
            outputs: (plain(resolved?.state ?? {}) as Record<string, unknown>) ?? {},
        };
    });
    write({ resources, outputs: plain(outputs) as Record<string, unknown>, nextAddress });
}

main().catch((error: unknown) => {
    console.error(`plan-run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
});
