// Offline plan: runs the program under Pulumi's mock engine with a stack's configuration and
// shows what `pulumi up` would create. Nothing is deployed and no cloud is contacted.
//
//   npm run plan -- --stack dev [--config key=value]... [--secret key=value]... [--json file] [--show-secrets]
//                   [--previous file]   the stack's previous state: a plan JSON written by --json, `pulumi stack
//                                       export`, or `pulumi stack output --json --show-secrets`. The day-2 rules
//                                       run (a refused change exits 1); with resources in the file, every
//                                       resource is shown as created, updated, replaced or deleted.
//                   [--policy]   (runs the production policy pack, policy/rules.ts, over the planned
//                                 resources of a production stack; exit 1 on a violation)
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { acceptPlaceholdersForOfflinePlan, ConfigValidationError, placeholderFindings, PROJECT_NAME } from "../config";
import { loadProgramModel } from "../program-model";
import { evaluateProductionPolicies, PRODUCTION_POLICIES } from "../policy/rules";
import { RecordedResource, redactSecrets, settle, startMockEngine } from "./mock-engine";
import { Override, parseOverride, readPreviousState, resolveStackConfig } from "./stack-config";
import { asRecord, diffResources, PreviousState, renderChanges, ResourceChange, summarize, ChangeSummary } from "./plan-diff";
import { describeSettingChanges, SettingChange } from "./plan-settings";

interface PlanOptions {
    stack: string;
    overrides: Override[];
    jsonFile?: string;
    /** JSON file with the outputs of the stack's previous update. */
    previousFile?: string;
    showSecrets: boolean;
    quiet: boolean;
    /** Print resource usage as a last JSON line on stderr (for the benchmark). */
    stats: boolean;
    /** Evaluate the production policy pack over the plan. */
    policy: boolean;
}

export interface PlanResource {
    urn: string;
    type: string;
    name: string;
    parent: string | null;
    custom: boolean;
    dependencies: string[];
    /** URN of the explicit provider (a resource waits for it too); null for a default provider. */
    provider: string | null;
    /** The resources whose outputs flow into an input (a subset of dependencies). */
    inputDependencies: string[];
    inputs: unknown;
}

export interface PlanDocument {
    stack: string;
    project: string;
    resources: PlanResource[];
    outputs: Record<string, unknown>;
    /** With --previous: what kind of file it was. */
    previousKind?: PreviousState["kind"];
    /** With --previous holding resources: every resource's action. */
    changes?: ResourceChange[];
    summary?: ChangeSummary;
    /** With --previous: the tracked settings that changed, what each does and what it costs. */
    settingChanges?: SettingChange[];
}

const USAGE = `usage: npm run plan -- --stack <name> [--config key=value]... [--secret key=value]... [--json <file>] [--previous <file>] [--show-secrets] [--quiet] [--policy]

Runs the program under Pulumi's mock engine with the stack's configuration (Pulumi.<name>.yaml plus
the overrides) and prints what \`pulumi up\` would create. Nothing is deployed, no cloud is contacted.

  --stack, -s <name>      the stack (default dev)
  --config, -c key=value  like \`pulumi config set\`; a dotted key acts like --path
  --secret key=value      like \`pulumi config set --secret\`
  --json <file>           also write the plan as JSON (keep it: it can be the next run's --previous)
  --previous <file>       the stack's previous state: a plan JSON, \`pulumi stack export\`, or
                          \`pulumi stack output --json --show-secrets\`; shows what each resource does
                          and refuses what a running cluster cannot take (exit 1)
  --show-secrets          show secret values instead of "[secret]"
  --quiet, -q             print nothing but errors (the JSON file is still written)
  --policy                run the production policy pack (policy/) over the planned resources; exit 1 on a violation
  --help, -h              this text`;

function parseArguments(argv: string[]): PlanOptions {
    const options: PlanOptions = { stack: "dev", overrides: [], showSecrets: false, quiet: false, stats: false, policy: false };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const next = () => {
            const value = argv[++i];
            if (value === undefined) {
                throw new Error(`${arg} needs a value\n${USAGE}`);
            }
            return value;
        };
        switch (arg) {
            case "--stack":
            case "-s":
                options.stack = next();
                break;
            case "--config":
            case "-c":
                options.overrides.push(parseOverride(next(), false));
                break;
            case "--secret":
                options.overrides.push(parseOverride(next(), true));
                break;
            case "--json":
                options.jsonFile = next();
                break;
            case "--previous":
                options.previousFile = next();
                break;
            case "--show-secrets":
                options.showSecrets = true;
                break;
            case "--quiet":
            case "-q":
                options.quiet = true;
                break;
            case "--stats":
                options.stats = true;
                break;
            case "--policy":
                options.policy = true;
                break;
            case "--help":
            case "-h":
                console.log(USAGE);
                process.exit(0);
                break;
            default:
                throw new Error(`unknown argument "${arg}"\n${USAGE}`);
        }
    }
    return options;
}

/** The message of a refused change, or undefined when the `lifecycle` output resolves. */
async function lifecycleRefusal(lifecycle: unknown): Promise<string | undefined> {
    if (lifecycle === undefined) {
        return undefined;
    }
    // Output.promise() is the runtime's own way to await an output, rejections included.
    const output = pulumi.output(lifecycle) as unknown as { promise(): Promise<unknown> };
    try {
        await output.promise();
        return undefined;
    } catch (error) {
        if (error instanceof pulumi.RunError) {
            return error.message;
        }
        throw error;
    }
}

async function resolveOutputs(exports: Record<string, unknown>, showSecrets: boolean): Promise<Record<string, unknown>> {
    const outputs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(exports)) {
        if (key === "__esModule" || typeof value === "function") {
            continue;
        }
        const output: pulumi.Output<unknown> = pulumi.output(value);
        const secret = await pulumi.isSecret(output);
        const resolved = await new Promise<unknown>((resolve) =>
            output.apply((v: unknown) => {
                resolve(v);
                return v;
            }),
        );
        outputs[key] = secret && !showSecrets ? "[secret]" : resolved;
    }
    return outputs;
}

function toPlanResources(recorded: RecordedResource[], showSecrets: boolean): PlanResource[] {
    return recorded.map((r) => ({
        urn: r.urn,
        type: r.type,
        name: r.name,
        parent: r.parent ?? null,
        custom: r.custom,
        dependencies: r.dependencies,
        inputDependencies: r.inputDependencies,
        provider: r.provider === undefined ? null : r.provider.slice(0, r.provider.lastIndexOf("::")),
        inputs: redactSecrets(r.inputs, showSecrets),
    }));
}

/** The preview-like tree: components with their children, then counts per type. */
export function renderTree(plan: PlanDocument): string {
    const lines: string[] = [];
    const children = new Map<string | null, PlanResource[]>();
    const urns = new Set(plan.resources.map((r) => r.urn));
    for (const resource of plan.resources) {
        const parent = resource.parent && urns.has(resource.parent) ? resource.parent : null;
        children.set(parent, [...(children.get(parent) ?? []), resource]);
    }
    const walk = (parent: string | null, prefix: string) => {
        const items = children.get(parent) ?? [];
        items.forEach((item, index) => {
            const last = index === items.length - 1;
            lines.push(`${prefix}${last ? "└─ " : "├─ "}${item.type}  ${item.name}`);
            walk(item.urn, `${prefix}${last ? "   " : "│  "}`);
        });
    };
    lines.push(`${plan.project} (${plan.stack}): offline plan under mocks, nothing was deployed`);
    walk(null, "");

    const counts = new Map<string, number>();
    for (const resource of plan.resources) {
        counts.set(resource.type, (counts.get(resource.type) ?? 0) + 1);
    }
    lines.push("", `Resources by type (${plan.resources.length} in all):`);
    for (const [type, count] of [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
        lines.push(`  ${String(count).padStart(4)}  ${type}`);
    }
    lines.push("", "Outputs:");
    for (const [key, value] of Object.entries(plan.outputs)) {
        const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "(none)");
        lines.push(`  ${key}: ${text.length > 100 ? `${text.slice(0, 97)}...` : text}`);
    }
    return lines.join("\n");
}

/** The day-2 part of the output: changed settings with their cost, then every resource's action. */
function renderPreviousComparison(plan: PlanDocument, kind: PreviousState["kind"]): string {
    const lines: string[] = [];
    const settings = plan.settingChanges ?? [];
    lines.push(settings.length === 0 ? "Changed settings: none of the tracked settings changed" : "Changed settings (what each does on the running cluster):");
    for (const change of settings) {
        lines.push(`  ${change.key}: ${JSON.stringify(change.from)} → ${JSON.stringify(change.to)}  [${change.kind}]`);
        if (change.cost) {
            lines.push(`      ${change.cost}`);
        }
        lines.push(`      ${change.effect}`);
    }
    lines.push(
        "",
        "Always shown as changes (by design): each worker group's roll step and the health gate run on every `up`;",
        "they do nothing unless a node must change, and the gate checks the whole cluster each time.",
        "",
    );
    if (kind === "outputs" || !plan.changes) {
        lines.push("Per-resource actions: the --previous file holds outputs only; give `pulumi stack export` or a plan JSON to see them.");
        return lines.join("\n");
    }
    lines.push(`Per resource, against the previous ${kind === "plan" ? "plan" : "stack export"} (as \`pulumi preview\` would show it):`);
    lines.push(renderChanges(plan.changes));
    const rolled = plan.changes
        .filter((c) => c.action === "replace" && c.type === "aws:ec2/instance:Instance" && /-master-sa-\d+$/.test(c.name))
        .map((c) => c.name);
    const groups = plan.changes.filter((c) => c.action === "replace" && c.type === "aws:ec2/launchConfiguration:LaunchConfiguration").map((c) => c.name);
    lines.push(`Control-plane nodes replaced, one at a time: ${rolled.length > 0 ? rolled.join(", ") : "none"}`);
    lines.push(`Worker groups rolled (new launch configuration): ${groups.length > 0 ? groups.join(", ") : "none"}`);
    return lines.join("\n");
}

async function main(): Promise<number> {
    let options: PlanOptions;
    let input;
    try {
        options = parseArguments(process.argv.slice(2));
        input = resolveStackConfig(options.stack, options.overrides);
    } catch (error) {
        console.error(`error: ${(error as Error).message}`);
        return 2;
    }

    // The example stacks plan as they are; `pulumi up` refuses their placeholders (config/placeholders.ts).
    acceptPlaceholdersForOfflinePlan();
    // Validate before anything is registered, exactly as the program will.
    let production: boolean;
    try {
        production = loadProgramModel({ stack: input.stack, values: input.values, secretKeys: input.secretKeys, env: process.env }).production;
    } catch (error) {
        if (error instanceof ConfigValidationError) {
            // Point at the stack file line of each key the file sets (overrides have none).
            const located = error.problems.map((problem) => {
                const key = /^([^:\s]+:[^.[:\s]+)/.exec(problem)?.[1];
                const where = key ? input.locations[key] : undefined;
                return `  - ${problem}${where ? `\n      (set at ${where})` : ""}`;
            });
            console.error(`${error.message.split("\n")[0]}\n${located.join("\n")}`);
            return 1;
        }
        throw error;
    }

    let previous: PreviousState | undefined;
    try {
        previous = options.previousFile ? readPreviousState(options.previousFile) : undefined;
    } catch (error) {
        console.error(`error: ${(error as Error).message}`);
        return 2;
    }
    const recorded = startMockEngine({
        project: PROJECT_NAME,
        stack: input.stack,
        config: input.values,
        secretKeys: input.secretKeys,
        previousOutputs: previous?.outputs,
    });
    // Keep the program's own progress lines (pulumi.log) visible but apart from the tree.
    const exports = (await import("../index")) as Record<string, unknown>;
    // A change the previous state refuses fails the preview with its messages (exit 1).
    const refusal = await lifecycleRefusal(exports.lifecycle);
    if (refusal) {
        console.error(refusal);
        // The registrations that waited for the check reject too: stop before they repeat it.
        process.exit(1);
    }
    await settle();
    const plan: PlanDocument = {
        stack: input.stack,
        project: PROJECT_NAME,
        resources: toPlanResources(recorded, options.showSecrets),
        outputs: await resolveOutputs(exports, options.showSecrets),
    };
    await settle();
    if (previous) {
        plan.previousKind = previous.kind;
        plan.settingChanges = describeSettingChanges(previous.outputs.lifecycle, plan.outputs.lifecycle);
        if (previous.resources) {
            plan.changes = diffResources(
                previous.resources,
                plan.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, inputs: asRecord(r.inputs) ?? {}, dependencies: r.inputDependencies })),
            );
            plan.summary = summarize(plan.changes);
        }
    }

    if (!options.quiet) {
        if (input.placeholders.length > 0) {
            console.log(`note: offline placeholders stand in for secrets not set in this stack: ${input.placeholders.map((k) => k.split(":")[1]).join(", ")}`);
        }
        const examples = placeholderFindings(input.values);
        if (examples.length > 0) {
            console.log(
                `note: this plan runs on the example stack's placeholders, which \`pulumi up\` refuses: ${examples.map((f) => `${f.key.split(":")[1]} (${f.value})`).join(", ")}`,
            );
        }
        console.log(renderTree(plan));
        if (previous) {
            console.log(`\n${renderPreviousComparison(plan, previous.kind)}`);
        }
    }
    if (options.jsonFile) {
        const file = path.resolve(options.jsonFile);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, `${JSON.stringify(plan, null, 2)}\n`);
        if (!options.quiet) {
            console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
        }
    }
    if (options.stats) {
        console.error(JSON.stringify({ resources: plan.resources.length, maxRssKb: process.resourceUsage().maxRSS }));
    }
    return options.policy ? reportPolicies(plan, recorded, production) : 0;
}

/**
 * The policy pack over the plan, as `pulumi preview --policy-pack policy` would run it: over
 * the inputs with secrets unpacked, as CrossGuard hands them to a policy (a remote Command's
 * whole `connection` is secret, and its host-key pins are inside). Nothing of it is printed.
 */
function reportPolicies(plan: PlanDocument, recorded: RecordedResource[], production: boolean): number {
    if (!production) {
        console.log(`\npolicy: ${plan.stack} is not a production stack; the production policies do not apply`);
        return 0;
    }
    const violations = evaluateProductionPolicies(
        recorded.map((r) => ({ type: r.type, name: r.name, props: (redactSecrets(r.inputs, true) ?? {}) as Record<string, unknown> })),
    );
    if (violations.length === 0) {
        console.log(`\npolicy: ${PRODUCTION_POLICIES.length} production policies passed`);
        return 0;
    }
    console.error(`policy: ${violations.length} mandatory violation(s):`);
    for (const violation of violations) {
        console.error(`  - [${violation.policy}] ${violation.message}`);
    }
    return 1;
}

main().then(
    (code) => {
        process.exitCode = code;
    },
    (error: unknown) => {
        console.error(`plan failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        process.exitCode = 1;
    },
);
