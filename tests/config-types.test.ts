// Property-style: for every key and every nested field, every JSON type other than the right
// one is refused (with the path and the value in the message), never coerced or defaulted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { knownFields } from "../config/issues";
import { CONFIG_KEYS, CONFIG_SCHEMAS } from "../config/schema";
import { expectProblem, P, problemsWith } from "./helpers/config-fixture";

/** One value of each JSON type (and a fraction for whole-number fields). */
const SAMPLES: Array<{ type: string; value: unknown }> = [
    { type: "string", value: "x" },
    { type: "integer", value: 7 },
    { type: "number", value: 1.5 },
    { type: "boolean", value: true },
    { type: "null", value: null },
    { type: "array", value: [] },
    { type: "object", value: {} },
];

function accepts(jsonType: string, sample: string): boolean {
    return jsonType === sample || (jsonType === "number" && sample === "integer");
}

function jsonType(schema: z.ZodType): string {
    return (z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { type?: string }).type ?? "any";
}

/** How Pulumi hands a value of each JSON type to the program for a top-level key. */
function pulumiText(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

describe("top-level keys refuse every wrong type", () => {
    for (const definition of CONFIG_KEYS) {
        it(`${definition.key} (${definition.kind})`, () => {
            // Pulumi stores scalars as text: "7" and "true" are also a string key's text, so for
            // string keys only maps and lists are a wrong type; their patterns refuse the rest.
            const wrong = SAMPLES.filter((s) => !accepts(definition.kind, s.type)).filter(
                (s) => definition.kind !== "string" || s.type === "array" || s.type === "object",
            );
            assert.ok(wrong.length > 0);
            for (const sample of wrong) {
                const text = pulumiText(sample.value);
                const problems = problemsWith({ [definition.key]: text }, { secretKeys: definition.secret ? [definition.key] : [] });
                expectProblem(problems, definition.key, JSON.stringify(sample.type === "string" ? text : sample.value), "Fix:");
            }
        });
    }

    it('number keys read Pulumi\'s text strictly: "3" is 3, "3.5", "0x3", " 3" and "3abc" are refused', () => {
        for (const text of ["3.5", "0x3", " 3", "3abc", "1e400"]) {
            expectProblem(problemsWith({ controlPlaneCount: text }), "controlPlaneCount", "Fix: pulumi config set controlPlaneCount 3");
        }
    });

    it("boolean keys accept only true and false", () => {
        for (const text of ["yes", "True", "1", "on"]) {
            expectProblem(problemsWith({ apiPublic: text }), "apiPublic", `"${text}"`, "expected a boolean", "Fix: pulumi config set apiPublic true");
        }
    });
});

/** Containers with fields, and how to place one field's value into a config value. */
const NESTED: Array<{ key: string; path: string[]; build: (field: string, value: unknown) => unknown; base?: Record<string, unknown> }> = [
    { key: "nodeGroups", path: ["w"], build: (field, value) => ({ w: { [field]: value } }) },
    { key: "nodeGroups", path: ["w", "taints", "0"], build: (field, value) => ({ w: { taints: [{ key: "a", effect: "NoSchedule", [field]: value }] } }) },
    { key: "existingVpc", path: [], build: (field, value) => ({ vpcId: "vpc-1", publicSubnetId: "subnet-1", privateSubnetId: "subnet-2", [field]: value }) },
    { key: "addonOverrides", path: ["ebsCsi"], build: (field, value) => ({ ebsCsi: { [field]: value } }) },
];

describe("nested fields refuse every wrong type", () => {
    for (const container of NESTED) {
        const schema = CONFIG_SCHEMAS[container.key as keyof typeof CONFIG_SCHEMAS] as z.ZodType;
        const fields = knownFields(
            schema,
            container.path.map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
        ) as Record<string, z.ZodType>;
        for (const [field, fieldSchema] of Object.entries(fields)) {
            const path = [container.key, ...container.path, field].map((s, i) => (i > 0 && /^\d+$/.test(s) ? `[${s}]` : i > 0 ? `.${s}` : s)).join("");
            it(path, () => {
                const type = jsonType(fieldSchema);
                const wrong = SAMPLES.filter((s) => !accepts(type, s.type));
                assert.ok(wrong.length >= 5, `${path}: ${type}`);
                for (const sample of wrong) {
                    const problems = problemsWith({ [container.key]: JSON.stringify(container.build(field, sample.value)) });
                    expectProblem(problems, path, JSON.stringify(sample.value), "Fix:");
                }
            });
        }
    }

    it("label, tag and taint values are strings: numbers and booleans are refused, not converted", () => {
        for (const value of [1, true, null]) {
            expectProblem(
                problemsWith({ nodeGroups: JSON.stringify({ w: { labels: { team: value } } }) }),
                "nodeGroups.w.labels.team",
                JSON.stringify(value),
                "expected a string",
            );
            expectProblem(problemsWith({ tags: JSON.stringify({ team: value }) }), "tags.team", JSON.stringify(value), "expected a string");
        }
    });

    it(`every message of a refused value starts with ${P}:`, () => {
        const problems = problemsWith({ nodeGroups: JSON.stringify({ w: { minSize: "1" } }), cni: "weave", vpcCidr: "x" });
        assert.ok(
            problems.every((p) => p.startsWith(`${P}:`) && p.includes("Fix:")),
            problems.join("\n"),
        );
    });
});
