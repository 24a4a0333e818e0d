// Generates the README's config reference and Terraform migration tables and the editor JSON
// Schema (schema/stack-config.schema.json) from config/schema.ts, so neither can drift from the
// loader (tests/readme.test.ts and tests/config-schema-file.test.ts check them).
//
//   npm run docs        rewrites the generated sections of README.md and the schema file
import * as fs from "node:fs";
import * as path from "node:path";
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
        throw new Error(`README.md has no ${start} … ${end} section`);
    }
    return `${document.slice(0, from + start.length)}\n${body}\n${document.slice(to)}`;
}

export function renderReadme(document: string): string {
    return replaceSection(replaceSection(document, "config-table", renderConfigTable()), "migration-table", renderMigrationTable());
}

if (require.main === module) {
    const current = fs.readFileSync(README, "utf8");
    const next = renderReadme(current);
    if (next !== current) {
        fs.writeFileSync(README, next);
        console.log("README.md: generated sections updated");
    } else {
        console.log("README.md: generated sections already up to date");
    }
    const schema = renderJsonSchema();
    const existing = fs.existsSync(JSON_SCHEMA_FILE) ? fs.readFileSync(JSON_SCHEMA_FILE, "utf8") : "";
    if (schema !== existing) {
        fs.mkdirSync(path.dirname(JSON_SCHEMA_FILE), { recursive: true });
        fs.writeFileSync(JSON_SCHEMA_FILE, schema);
        console.log(`${path.relative(process.cwd(), JSON_SCHEMA_FILE)}: updated`);
    } else {
        console.log(`${path.relative(process.cwd(), JSON_SCHEMA_FILE)}: already up to date`);
    }
}
