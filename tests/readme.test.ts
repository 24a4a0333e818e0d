// The README's generated tables must match config/schema.ts, and the newcomer commands must
// be the ones package.json really has.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { renderReadme } from "../tools/config-docs";
import { CONFIG_KEYS } from "../config/schema";

const root = path.resolve(__dirname, "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

describe("README", () => {
    it("config reference and migration tables are generated from the loader's schema", () => {
        assert.equal(readme, renderReadme(readme), "README.md is stale: run `npm run docs`");
        for (const definition of CONFIG_KEYS) {
            assert.ok(readme.includes(`| \`${definition.key}\` |`), `README misses ${definition.key}`);
        }
    });

    it("shows the two newcomer commands that package.json defines", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).scripts as Record<string, string>;
        assert.ok(readme.includes("npm ci && npm run plan -- --stack dev"));
        assert.ok(readme.includes("npm test"));
        assert.ok(scripts.plan && scripts.test && scripts.bench);
    });

    it("maps the reference's Terraform variables", () => {
        for (const variable of [
            "api_endpoint",
            "environment",
            "vpc_cidr",
            "masters_count",
            "cni_provider",
            "install_ebs_csi",
            "install_kasten_k10",
            "backup_rotation",
        ]) {
            assert.ok(readme.includes(`\`${variable}\``), `migration table misses ${variable}`);
        }
    });
});
