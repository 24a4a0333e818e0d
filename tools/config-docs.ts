// Generates the README's config reference and Terraform migration tables and the editor JSON
// Schema (schema/stack-config.schema.json) from config/schema.ts, and the README's change table
// from cluster/change-policy.ts, so none can drift from the code (tests/readme.test.ts,
// tests/config-schema-file.test.ts, tests/lifecycle-policy.test.ts).
//
//   npm run docs        rewrites the generated sections and the schema file
import * as fs from "node:fs";
import * as path from "node:path";
import { renderChangeTable } from "../cluster/change-policy";
import { stackFileJsonSchema } from "../config/json-schema";
import { CONFIG_KEYS, ConfigKeyDefinition } from "../config/schema";

const README = path.resolve(__dirname, "..", "README.md");
export const JSON_SCHEMA_FILE = path.resolve(__dirname, "..", "schema", "stack-config.schema.json");

/** The schema file's text exactly as `npm run docs` writes it. */
export function renderJsonSchema(): string {
    return `${JSON.stringify(stackFileJsonSchema(), null, 2)}\n`;
}

function defaultText(definition: ConfigKeyDefinition): string {
    if (definition.defaultText) {
        return definition.defaultText;
    }
    if (definition.required) {
        return "**required**";
    }
    if (definition.defaultValue === undefined) {
        return "—";
    }
    return `\`${typeof definition.defaultValue === "string" ? definition.defaultValue : JSON.stringify(definition.defaultValue)}\``;
}

function cell(text: string): string {
    return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function renderConfigTable(): string {
    const lines = ["| key | type | default | meaning |", "|---|---|---|---|"];
    for (const definition of CONFIG_KEYS) {
        const type = `${definition.kind === "array" ? "list" : definition.kind === "object" ? "map" : definition.kind}${definition.secret ? " (secret)" : ""}`;
        lines.push(`| \`${definition.key}\` | ${type} | ${cell(defaultText(definition))} | ${cell(definition.description)} |`);
    }
    return lines.join("\n");
}

export function renderMigrationTable(): string {
    const lines = ["| Terraform variable (reference) | config key here |", "|---|---|"];
    for (const definition of CONFIG_KEYS) {
        const terraformVariable = definition.terraformVariable;
        if (!terraformVariable) {
            continue; // no Terraform counterpart
        }
        const variables = terraformVariable
            .split(/,\s*|\s*\/\s*/)
            .map((v) => `\`${v}\``)
            .join(", ");
        lines.push(`| ${variables} | \`${definition.key}\`${definition.secret ? " (`--secret`)" : ""} |`);
    }
    return lines.join("\n");
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`. */
export function replaceSection(document: string, name: string, body: string): string {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const from = document.indexOf(start);
    const to = document.indexOf(end);
    if (from < 0 || to < from) {
        throw new Error(`the document has no ${start} … ${end} section`);
    }
    return `${document.slice(0, from + start.length)}\n${body}\n${document.slice(to)}`;
}

export function renderReadme(document: string): string {
    const withConfig = replaceSection(document, "config-table", renderConfigTable());
    const withMigration = replaceSection(withConfig, "migration-table", renderMigrationTable());
    return replaceSection(withMigration, "change-table", renderChangeTable());
}

/** Writes `text` when it differs from the file's and says which happened. */
function writeIfChanged(file: string, text: string): void {
    const existing = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    const name = path.relative(process.cwd(), file);
    if (text === existing) {
        console.log(`${name}: already up to date`);
        return;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    console.log(`${name}: updated`);
}

if (require.main === module) {
    if (process.argv.includes("--help") || process.argv.includes("-h")) {
        console.log(
            "usage: npm run docs\n\nRegenerates the README's config, migration and change tables and schema/stack-config.schema.json from config/schema.ts.",
        );
    } else {
        writeIfChanged(README, renderReadme(fs.readFileSync(README, "utf8")));
        writeIfChanged(JSON_SCHEMA_FILE, renderJsonSchema());
    }
}
