// One-way data flow, checked on the source: model/ at the bottom, config/ above it, the
// components (infra/, cluster/, addons/) beside config and never importing it, index.ts on
// top. Imports are read with the TypeScript parser; no import circle anywhere.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as ts from "typescript";

const root = path.resolve(__dirname, "..");
const COMPONENTS = ["infra", "cluster", "addons"];

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            return entry.name === "node_modules" || entry.name.startsWith(".") ? [] : sourceFiles(full);
        }
        return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
    });
}

function resolve(from: string, specifier: string): string | undefined {
    if (!specifier.startsWith(".")) {
        return undefined;
    }
    const base = path.resolve(path.dirname(from), specifier);
    return [`${base}.ts`, path.join(base, "index.ts"), base].find((candidate) => fs.existsSync(candidate) && fs.statSync(candidate).isFile());
}

/** Repo-relative file -> repo-relative files it imports (type imports and re-exports included). */
export function importGraph(): Map<string, string[]> {
    const graph = new Map<string, string[]>();
    for (const file of sourceFiles(root)) {
        const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
        const targets = info.importedFiles.map((f) => resolve(file, f.fileName)).filter((f): f is string => f !== undefined);
        graph.set(path.relative(root, file), [...new Set(targets.map((t) => path.relative(root, t)))]);
    }
    return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
    const found: string[][] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (node: string) => {
        state.set(node, "open");
        stack.push(node);
        for (const next of graph.get(node) ?? []) {
            if (state.get(next) === "open") {
                found.push([...stack.slice(stack.indexOf(next)), next]);
            } else if (!state.has(next)) {
                visit(next);
            }
        }
        stack.pop();
        state.set(node, "done");
    };
    for (const node of graph.keys()) {
        if (!state.has(node)) {
            visit(node);
        }
    }
    return found;
}

const top = (file: string) => file.split(path.sep)[0];
const graph = importGraph();

describe("one-way data flow", () => {
    it("finds the program's imports (sanity)", () => {
        assert.ok(graph.get("index.ts")!.includes(path.join("config", "index.ts")));
        assert.ok(graph.size > 30);
    });

    it("the circle finder finds a circle (sanity)", () => {
        const sample = new Map([
            ["a", ["b"]],
            ["b", ["c"]],
            ["c", ["a"]],
            ["d", ["a"]],
        ]);
        assert.deepEqual(cycles(sample), [["a", "b", "c", "a"]]);
    });

    it("has no import circle anywhere", () => {
        assert.deepEqual(
            cycles(graph).map((c) => c.join(" -> ")),
            [],
        );
    });

    it("components never import config/", () => {
        const offending = [...graph]
            .filter(([file]) => COMPONENTS.includes(top(file)))
            .flatMap(([file, targets]) => targets.filter((t) => top(t) === "config").map((t) => `${file} -> ${t}`));
        assert.deepEqual(offending, []);
    });

    it("config/ imports no component, only model/ and data modules that import nothing of ours but model/", () => {
        const offending = [...graph]
            .filter(([file]) => top(file) === "config")
            .flatMap(([file, targets]) =>
                targets
                    .filter((t) => COMPONENTS.includes(top(t)) && (graph.get(t) ?? []).some((i) => top(i) !== "model"))
                    .map((t) => `${file} -> ${t} (imports ${graph.get(t)!.join(", ")})`),
            );
        assert.deepEqual(offending, []);
        const reached = [...graph]
            .filter(([file]) => top(file) === "config")
            .flatMap(([, targets]) => targets)
            .filter((t) => COMPONENTS.includes(top(t)));
        assert.ok(
            reached.every((t) => /versions\.ts$|tags\.ts$/.test(t)),
            `config reaches ${reached.join(", ")}`,
        );
    });

    it("model/ is the bottom: it imports nothing of ours outside model/", () => {
        const offending = [...graph]
            .filter(([file]) => top(file) === "model")
            .flatMap(([file, targets]) => targets.filter((t) => top(t) !== "model").map((t) => `${file} -> ${t}`));
        assert.deepEqual(offending, []);
    });

    it("only index.ts and program-model.ts (its config reading, shared with the offline plan), the offline tools and tests read config/", () => {
        const readers = [...graph].filter(([file, targets]) => top(file) !== "config" && targets.some((t) => top(t) === "config")).map(([file]) => file);
        assert.deepEqual(
            readers.filter((f) => !["tools", "tests"].includes(top(f)) && f !== "index.ts" && f !== "program-model.ts"),
            [],
        );
    });
});
