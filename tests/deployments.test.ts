// Pulumi Deployments settings files (Pulumi.<stack>.deploy.yaml) and the example CI workflow:
// every key must exist in the documented schema, and no credential may sit in plain text.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";

const ROOT = path.resolve(__dirname, "..");

// ---- the settings file schema ---------------------------------------------------------------
// The file is `settings:` + the fields of the CLI's DeploymentSettings type (YAML names as the
// CLI reads them: sdk/go/common/apitype, `pulumi deployment settings init|pull|push|env`), plus
// `cacheOptions` of the Pulumi Cloud REST API schema.

/** A value that may be a secret: plain string, `{secret: <plaintext>}` or `{ciphertext: <...>}`. */
const SECRET_VALUE = "secretValue";
type Leaf = "string" | "boolean" | "integer" | "string[]" | typeof SECRET_VALUE;
interface MapOf {
    $mapOf: Schema;
}
type Schema = Leaf | MapOf | { [key: string]: Schema };

const DEPLOYMENT_SETTINGS_SCHEMA: Schema = {
    settings: {
        tag: "string",
        agentPoolID: "string",
        executorContext: {
            workingDirectory: "string",
            executorImage: { reference: "string", credentials: { username: "string", password: SECRET_VALUE } },
        },
        sourceContext: {
            git: {
                repoUrl: "string",
                branch: "string",
                commit: "string",
                repoDir: "string",
                gitAuth: {
                    accessToken: SECRET_VALUE,
                    sshAuth: { sshPrivateKey: SECRET_VALUE, password: SECRET_VALUE },
                    basicAuth: { userName: SECRET_VALUE, password: SECRET_VALUE },
                },
            },
        },
        gitHub: {
            repository: "string",
            deployCommits: "boolean",
            previewPullRequests: "boolean",
            deployPullRequest: "integer",
            pullRequestTemplate: "boolean",
            paths: "string[]",
        },
        operationContext: {
            preRunCommands: "string[]",
            environmentVariables: { $mapOf: SECRET_VALUE },
            options: {
                skipInstallDependencies: "boolean",
                skipIntermediateDeployments: "boolean",
                deleteAfterDestroy: "boolean",
                remediateIfDriftDetected: "boolean",
                shell: "string",
            },
            oidc: {
                aws: { roleArn: "string", sessionName: "string", duration: "string", policyArns: "string[]" },
                azure: { clientId: "string", tenantId: "string", subscriptionId: "string" },
                gcp: {
                    projectId: "string",
                    region: "string",
                    workloadPoolId: "string",
                    providerId: "string",
                    serviceAccount: "string",
                    tokenLifetime: "string",
                },
            },
        },
        cacheOptions: { enable: "boolean" },
    },
};

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every problem found: unknown keys, wrong types. */
function validate(value: unknown, schema: Schema, where: string): string[] {
    if (schema === "string") return typeof value === "string" ? [] : [`${where}: expected a string`];
    if (schema === "boolean") return typeof value === "boolean" ? [] : [`${where}: expected true or false`];
    if (schema === "integer") return Number.isInteger(value) ? [] : [`${where}: expected a whole number`];
    if (schema === "string[]") {
        return Array.isArray(value) && value.every((v) => typeof v === "string") ? [] : [`${where}: expected a list of strings`];
    }
    if (schema === SECRET_VALUE) {
        if (typeof value === "string") return [];
        if (isObject(value)) {
            const keys = Object.keys(value);
            if (keys.length === 1 && (keys[0] === "secret" || keys[0] === "ciphertext") && typeof value[keys[0]] === "string") return [];
        }
        return [`${where}: expected a string, {secret: ...} or {ciphertext: ...}`];
    }
    if (!isObject(value)) return [`${where}: expected a mapping`];
    if ("$mapOf" in schema) {
        return Object.entries(value).flatMap(([key, item]) => validate(item, (schema as MapOf).$mapOf, `${where}.${key}`));
    }
    const shape = schema as Record<string, Schema>;
    return Object.entries(value).flatMap(([key, item]) =>
        key in shape ? validate(item, shape[key], where ? `${where}.${key}` : key) : [`${where ? `${where}.` : ""}${key}: unknown key`],
    );
}

// ---- credentials ----------------------------------------------------------------------------

const CREDENTIAL_NAME = /KEY|SECRET|TOKEN|PASSWORD|PASSPHRASE/i;
const PLACEHOLDER = /^REPLACE_WITH_[A-Za-z0-9_.-]+$/;
const AWS_ACCESS_KEY = /\b(AKIA|ASIA)[A-Z0-9]{16}\b/;
const AWS_SECRET_KEY = /(^|[^A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}([^A-Za-z0-9/+=]|$)/;

/** Problems with the environment variables that hold credentials. */
function credentialProblems(environment: Record<string, unknown>): string[] {
    const problems: string[] = [];
    for (const [name, value] of Object.entries(environment)) {
        if (!CREDENTIAL_NAME.test(name)) continue;
        if (!isObject(value)) {
            problems.push(`${name}: a credential must not be plain text; use pulumi deployment settings env ${name} <value> --secret`);
        } else if ("secret" in value && !PLACEHOLDER.test(String(value.secret))) {
            problems.push(`${name}: {secret: ...} holds the value in plain text; only a REPLACE_WITH_... placeholder may stand there`);
        } else if ("ciphertext" in value && AWS_ACCESS_KEY.test(String(value.ciphertext))) {
            problems.push(`${name}: the ciphertext looks like a raw access key`);
        }
    }
    return problems;
}

const STACKS = ["dev", "prod"] as const;
const settingsFile = (stack: string) => path.join(ROOT, `Pulumi.${stack}.deploy.yaml`);
const loadSettings = (stack: string) => parse(fs.readFileSync(settingsFile(stack), "utf8")) as { settings: any };

describe("Pulumi Deployments settings files", () => {
    it("the validator itself rejects unknown keys, wrong types and plain-text credentials", () => {
        const bad = {
            settings: {
                sourceContext: { git: { repoUrl: "https://example.test/r.git", branch: "refs/heads/main", depth: 1 } },
                operationContext: {
                    options: { skipInstallDeps: true, deleteAfterDestroy: "no" },
                    environmentVariables: { AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NOTE: { secret: 1 } },
                },
                github: {},
            },
        };
        const problems = validate(bad, DEPLOYMENT_SETTINGS_SCHEMA, "");
        assert.deepEqual(problems.sort(), [
            "settings.github: unknown key",
            "settings.operationContext.environmentVariables.NOTE: expected a string, {secret: ...} or {ciphertext: ...}",
            "settings.operationContext.options.deleteAfterDestroy: expected true or false",
            "settings.operationContext.options.skipInstallDeps: unknown key",
            "settings.sourceContext.git.depth: unknown key",
        ]);
        assert.equal(credentialProblems(bad.settings.operationContext.environmentVariables).length, 1);
        assert.equal(credentialProblems({ AWS_ACCESS_KEY_ID: { secret: "AKIAABCDEFGHIJKLMNOP" } }).length, 1);
        assert.deepEqual(credentialProblems({ AWS_ACCESS_KEY_ID: { ciphertext: "AAABAGNpcGhlcnRleHQtZnJvbS1wdWx1bWktY2xvdWQ=" } }), []);
    });

    for (const stack of STACKS) {
        describe(`Pulumi.${stack}.deploy.yaml`, () => {
            it("belongs to an existing stack and has only documented keys", () => {
                assert.ok(fs.existsSync(path.join(ROOT, `Pulumi.${stack}.yaml`)), `stack settings Pulumi.${stack}.yaml`);
                const document = loadSettings(stack);
                assert.deepEqual(validate(document, DEPLOYMENT_SETTINGS_SCHEMA, ""), []);
            });

            it("builds from git with npm ci instead of the built-in install, and keeps the stack after destroy", () => {
                const { settings } = loadSettings(stack);
                assert.match(settings.sourceContext.git.repoUrl, /^https:\/\/.+\.git$/);
                assert.match(settings.sourceContext.git.branch, /^refs\/heads\//);
                assert.deepEqual(settings.operationContext.preRunCommands, [
                    "npm ci",
                    `npm run ca-bundle -- --stack ${stack} --out ${settings.operationContext.environmentVariables.AWS_CA_BUNDLE}`,
                ]);
                assert.equal(settings.operationContext.options.skipInstallDependencies, true);
                assert.equal(settings.operationContext.options.deleteAfterDestroy, false);
                assert.equal(settings.operationContext.environmentVariables.AWS_REGION, "us-east-1");
                assert.equal(
                    settings.operationContext.environmentVariables.PULUMI_CONFIG_PASSPHRASE,
                    undefined,
                    "Pulumi Cloud encrypts the stack's secrets: no passphrase",
                );
            });

            it("holds the cloud credentials only as encrypted values or placeholders", () => {
                const { settings } = loadSettings(stack);
                const environment = settings.operationContext.environmentVariables;
                for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
                    assert.ok(isObject(environment[name]), `${name} must be an encrypted entry`);
                }
                assert.deepEqual(credentialProblems(environment), []);
                const text = fs.readFileSync(settingsFile(stack), "utf8");
                assert.doesNotMatch(text, AWS_ACCESS_KEY);
                assert.doesNotMatch(text.replace(/^\s*#.*$/gm, ""), AWS_SECRET_KEY);
            });
        });
    }

    it("one push-to-deploy mechanism: the GitHub workflow deploys on push, Deployments run on demand only (and never pull-request code with prod credentials)", () => {
        const dev = loadSettings("dev").settings.gitHub;
        const prod = loadSettings("prod").settings.gitHub;
        const workflow = fs.readFileSync(path.join(__dirname, "..", ".github", "workflows", "pulumi.yml"), "utf8");
        assert.match(workflow, /push:\n\s+branches: \[main, prod\]/, "the workflow is the one that deploys on push");
        assert.equal(dev.deployCommits, false);
        assert.equal(prod.deployCommits, false);
        assert.equal(dev.previewPullRequests, false);
        assert.equal(prod.previewPullRequests, false);
        assert.equal(prod.deployPullRequest, undefined, "a pull request deployed onto prod runs its code with prod credentials");
        assert.ok(prod.paths.includes("Pulumi.prod.yaml") && !prod.paths.includes("Pulumi.dev.yaml"));
    });
});

// ---- the CI workflow ------------------------------------------------------------------------

/** Inputs of pulumi/actions v6 as its README documents them. */
const PULUMI_ACTION_INPUTS = new Set([
    "command",
    "stack-name",
    "work-dir",
    "cloud-url",
    "comment-on-pr",
    "comment-on-pr-number",
    "comment-on-summary",
    "github-token",
    "refresh",
    "secrets-provider",
    "color",
    "config-map",
    "diff",
    "edit-pr-comment",
    "expect-no-changes",
    "message",
    "parallel",
    "policyPacks",
    "policyPackConfigs",
    "pulumi-version",
    "pulumi-version-file",
    "remove",
    "replace",
    "target",
    "target-dependents",
    "upsert",
    "exclude-protected",
    "suppress-outputs",
    "suppress-progress",
    "plan",
    "always-include-summary",
    "continue-on-error",
    "log-verbosity",
    "log-flow",
    "debug",
]);

interface Step {
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
    id?: string;
}
interface Job {
    if?: string;
    needs?: string | string[];
    steps: Step[];
    environment?: string;
    permissions?: Record<string, string>;
}

describe(".github/workflows/pulumi.yml", () => {
    const text = fs.readFileSync(path.join(ROOT, ".github/workflows/pulumi.yml"), "utf8");
    const workflow = parse(text) as { on: Record<string, { branches: string[] }>; jobs: Record<string, Job> };

    it("previews on pull requests and updates on pushes to main", () => {
        assert.ok(workflow.on.pull_request.branches.includes("main"));
        assert.ok(workflow.on.push.branches.includes("main"));
        const pulumiStep = (job: Job) => job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
        const preview = workflow.jobs.preview;
        const up = workflow.jobs.up;
        assert.match(preview.if ?? "", /pull_request/);
        assert.match(up.if ?? "", /push/);
        assert.equal(pulumiStep(preview)?.with?.command, "preview");
        assert.equal(pulumiStep(up)?.with?.command, "up");
        assert.equal(pulumiStep(preview)?.with?.["comment-on-pr"], true);
    });

    it("installs what the tests run for real, then runs npm ci and npm test before any Pulumi operation", () => {
        const runs = workflow.jobs.test.steps.map((s) => s.run).filter(Boolean);
        assert.equal(runs[0], "npm ci");
        assert.equal(runs[runs.length - 1], "npm test");
        const install = runs.slice(1, -1).join("\n");
        for (const tool of ["etcd-server", "etcd-client", "cloud-init", "shellcheck", "openssl", "kubectl", "moto[server]"]) {
            assert.ok(install.includes(tool), `the test job installs ${tool}`);
        }
        for (const name of ["preview", "up"]) {
            assert.equal(workflow.jobs[name].needs, "test");
            const steps = workflow.jobs[name].steps;
            const npmCi = steps.findIndex((s) => s.run === "npm ci");
            const pulumi = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@"));
            assert.ok(npmCi >= 0 && npmCi < pulumi, `${name}: npm ci before the Pulumi step`);
        }
    });

    it("uses the official action with documented inputs only, a stack per branch, and secrets from GitHub", () => {
        for (const [name, job] of Object.entries(workflow.jobs)) {
            for (const step of job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"))) {
                assert.equal(step.uses, "pulumi/actions@v6");
                for (const key of Object.keys(step.with ?? {})) {
                    assert.ok(PULUMI_ACTION_INPUTS.has(key), `${name}: unknown pulumi/actions input ${key}`);
                }
                assert.equal(step.with?.["stack-name"], "${{ steps.stack.outputs.name }}");
                for (const variable of ["PULUMI_ACCESS_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
                    assert.match(step.env?.[variable] ?? "", /^\$\{\{ secrets\.[A-Z_]+ \}\}$/, `${name}: ${variable}`);
                }
            }
            const stackStep = job.steps.find((s) => s.id === "stack");
            if (stackStep) {
                assert.match(stackStep.run ?? "", /main\) stack=dev/);
                assert.match(stackStep.run ?? "", /prod\) stack=prod/);
                assert.doesNotMatch(stackStep.run ?? "", /\$\{\{/, "no expressions inside the script (injection)");
            }
        }
        assert.doesNotMatch(text, AWS_ACCESS_KEY);
    });

    /** Every `secrets.NAME` a job reads. */
    function secretsOf(job: Job): string[] {
        return [...JSON.stringify(job).matchAll(/secrets\.([A-Za-z_]+)/g)].map((m) => m[1]);
    }

    it("never triggers on pull_request_target (base-branch secrets for pull-request code)", () => {
        assert.deepEqual(Object.keys(workflow.on).sort(), ["pull_request", "push"]);
        assert.doesNotMatch(text, /pull_request_target/);
    });

    it("reads secrets only inside a GitHub environment, and the tests read none", () => {
        assert.deepEqual(secretsOf(workflow.jobs.test), []);
        for (const [name, job] of Object.entries(workflow.jobs)) {
            if (secretsOf(job).length > 0) {
                assert.ok(job.environment, `${name} reads secrets outside an environment`);
            }
        }
    });

    it("previews pull requests with read-only credentials from <stack>-preview, never with the update's", () => {
        const preview = workflow.jobs.preview;
        assert.equal(preview.environment, "${{ github.base_ref == 'prod' && 'prod-preview' || 'dev-preview' }}");
        assert.match(preview.if ?? "", /head\.repo\.full_name == github\.repository/, "fork pull requests are not previewed");
        assert.deepEqual(secretsOf(preview).sort(), ["PULUMI_READ_TOKEN", "ZCOMPUTE_READONLY_ACCESS_KEY_ID", "ZCOMPUTE_READONLY_SECRET_ACCESS_KEY"]);
        const upSecrets = new Set(secretsOf(workflow.jobs.up));
        assert.deepEqual(
            secretsOf(preview).filter((secret) => upSecrets.has(secret)),
            [],
            "the preview must not name a secret of the update",
        );
        assert.deepEqual(preview.permissions, { contents: "read", "pull-requests": "write" });
    });

    it("updates prod only behind the prod environment, and runs the policy pack on both operations", () => {
        const up = workflow.jobs.up;
        assert.equal(up.environment, "${{ github.ref_name == 'prod' && 'prod' || 'dev' }}");
        assert.deepEqual(secretsOf(up).sort(), ["PULUMI_ACCESS_TOKEN", "ZCOMPUTE_ACCESS_KEY_ID", "ZCOMPUTE_SECRET_ACCESS_KEY"]);
        for (const name of ["preview", "up"]) {
            const step = workflow.jobs[name].steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
            assert.equal(step?.with?.policyPacks, "policy", `${name} runs the policy pack`);
        }
        assert.ok(fs.existsSync(path.join(ROOT, "policy", "PulumiPolicy.yaml")));
        // The header tells where the credentials belong.
        assert.match(text, /never as repository secrets/);
        assert.match(text, /prod: required reviewers, deployment branches: prod only/);
    });
});
