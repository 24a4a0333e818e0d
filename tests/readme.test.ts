// The generated tables of docs/reference.md must match the code, the README's newcomer commands
// must be the ones package.json really has, and every relative link in README.md and docs/ must land on a
// file and, when it names one, a heading.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CONTRIBUTING_DOC, REFERENCE_DOC, renderReference, replaceSection } from "../tools/config-docs";
import { readBenchFigures, renderBenchTable } from "../tools/bench-figures";
import { CONFIG_KEYS } from "../config/schema";

const root = path.resolve(__dirname, "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
const reference = fs.readFileSync(REFERENCE_DOC, "utf8");

describe("docs/reference.md", () => {
    it("config reference, migration and change tables are generated from the code", () => {
        assert.equal(reference, renderReference(reference), "docs/reference.md is stale: run `npm run docs`");
        for (const definition of CONFIG_KEYS) {
            assert.ok(reference.includes(`| \`${definition.key}\` |`), `docs/reference.md misses ${definition.key}`);
        }
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
            assert.ok(reference.includes(`\`${variable}\``), `migration table misses ${variable}`);
        }
    });
});

describe("docs/contributing.md", () => {
    it("quotes the benchmark figures exactly as recorded by npm run bench -- --record", () => {
        const text = fs.readFileSync(CONTRIBUTING_DOC, "utf8");
        assert.equal(replaceSection(text, "bench-table", renderBenchTable(readBenchFigures())), text, "the benchmark table is stale: run `npm run docs`");
    });
});

describe("README", () => {
    it("shows the two newcomer commands that package.json defines", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).scripts as Record<string, string>;
        assert.ok(readme.includes("npm ci && npm run plan -- --stack dev"));
        assert.ok(readme.includes("npm test"));
        assert.ok(scripts.plan && scripts.test && scripts.bench);
    });

    it("is the user's path: short, and every required config key is explained", () => {
        assert.ok(readme.split("\n").length <= 260, `README.md has ${readme.split("\n").length} lines: move reference material to docs/`);
        for (const definition of CONFIG_KEYS.filter((d) => d.required)) {
            assert.ok(readme.includes(`\`${definition.key}\``), `README does not say where ${definition.key} comes from`);
        }
    });
});

/** GitHub's heading anchor: lowercase, punctuation dropped (except - and _), spaces to dashes. */
function anchorOf(heading: string): string {
    return heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-");
}

function anchorsOf(markdown: string): Set<string> {
    const withoutCode = markdown.replace(/```[\s\S]*?```/g, "");
    return new Set([...withoutCode.matchAll(/^#{1,6}\s+(.+)$/gm)].map((match) => anchorOf(match[1])));
}

describe("links in README.md and docs/", () => {
    const documents = ["README.md", ...fs.readdirSync(path.join(root, "docs")).map((name) => path.join("docs", name))].filter((name) => name.endsWith(".md"));

    it("derives anchors the way GitHub does", () => {
        assert.equal(anchorOf("Known gaps (`KNOWN_GAPS`, kept exact by a test)"), "known-gaps-known_gaps-kept-exact-by-a-test");
        assert.equal(anchorOf("EKS-D upgrades"), "eks-d-upgrades");
    });

    it("every relative link names an existing file and heading", () => {
        let checked = 0;
        for (const document of documents) {
            const text = fs.readFileSync(path.join(root, document), "utf8").replace(/```[\s\S]*?```/g, "");
            for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
                const target = match[1];
                if (/^[a-z]+:/.test(target)) {
                    continue;
                }
                const [file, anchor] = target.split("#");
                const resolved = file === "" ? path.join(root, document) : path.resolve(path.dirname(path.join(root, document)), file);
                assert.ok(fs.existsSync(resolved), `${document}: link ${target} names a missing file`);
                if (anchor !== undefined && resolved.endsWith(".md")) {
                    assert.ok(anchorsOf(fs.readFileSync(resolved, "utf8")).has(anchor), `${document}: link ${target} names a missing heading`);
                }
                checked++;
            }
        }
        assert.ok(checked >= 20, `checked only ${checked} links`);
    });
});
