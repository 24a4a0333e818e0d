// The runbooks are commands a user copies at 2 a.m.: every config key they set must be a key
// the program reads, every resource they name by URN must be one the program declares, every
// node script they call must be one the nodes receive, and every npm command must exist.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CONFIG_KEYS } from "../config/schema";
import { runPlan } from "./helpers/plan-cli";

const root = path.resolve(__dirname, "..");
const documents = [
    "README.md",
    ...fs
        .readdirSync(path.join(root, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => path.join("docs", f)),
];
const texts = documents.map((file) => ({ file, text: fs.readFileSync(path.join(root, file), "utf8") }));
const keys = new Set<string>(CONFIG_KEYS.map((d) => d.key));

describe("commands in README.md and docs/", () => {
    it("every `pulumi config set|rm` names a config key the program reads", () => {
        let checked = 0;
        for (const { file, text } of texts) {
            for (const match of text.matchAll(/pulumi config (?:set|rm)(?: --secret| --path)* '?([A-Za-z][A-Za-z0-9]*)/g)) {
                checked++;
                assert.ok(keys.has(match[1]), `${file}: \`${match[0]}\` sets ${match[1]}, which is not a config key`);
            }
        }
        assert.ok(checked > 20, `only ${checked} config commands found`);
    });

    it("every `npm run` names a script of package.json", () => {
        const scripts = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
        for (const { file, text } of texts) {
            for (const match of text.matchAll(/npm run ([a-z][a-z:-]*)/g)) {
                assert.ok(match[1] in scripts, `${file}: \`npm run ${match[1]}\` is not a script`);
            }
        }
    });

    it("every node script a runbook calls is a shipped script", () => {
        for (const { file, text } of texts) {
            for (const match of text.matchAll(/\/usr\/local\/lib\/zadara-eksd\/([a-z0-9-]+\.sh)/g)) {
                assert.ok(fs.existsSync(path.join(root, "cluster", "scripts", match[1])), `${file}: ${match[1]} is not in cluster/scripts`);
            }
        }
    });

    it("every `<urn of <env>-NAME>` names a resource of the dev plan", () => {
        const plan = runPlan(["--stack", "dev", "--quiet"]);
        assert.equal(plan.code, 0, plan.stderr);
        const names = new Set((plan.plan?.resources ?? []).map((r) => r.name.replace(/^dev-/, "<env>-")));
        let checked = 0;
        for (const { file, text } of texts) {
            for (const match of text.matchAll(/<urn of (<env>-[a-z0-9-]+)>/g)) {
                checked++;
                assert.ok(names.has(match[1]), `${file}: ${match[0]} names no resource of the plan`);
            }
        }
        assert.ok(checked > 0);
    });
});
