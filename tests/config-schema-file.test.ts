// The editor JSON Schema (schema/stack-config.schema.json) is generated from config/schema.ts
// and checked in: it must be current, accept the repository's stack files and refuse what the
// loader refuses by type.
import assert from "node:assert/strict";
import Ajv2020 from "ajv/dist/2020";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as YAML from "yaml";
import { CONFIG_KEYS } from "../config/schema";
import { JSON_SCHEMA_FILE, renderJsonSchema } from "../tools/config-docs";

const root = path.resolve(__dirname, "..");
const schema = JSON.parse(fs.readFileSync(JSON_SCHEMA_FILE, "utf8"));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

function errorsOf(document: unknown): string[] {
    return validate(document) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

describe("editor JSON Schema", () => {
    it("is in sync with the schema (run `npm run docs` when this fails)", () => {
        assert.equal(fs.readFileSync(JSON_SCHEMA_FILE, "utf8"), renderJsonSchema());
    });

    it("documents every key", () => {
        for (const definition of CONFIG_KEYS) {
            assert.ok(schema.properties.config.properties[`zadara-eksd:${definition.key}`]?.description, definition.key);
        }
    });

    for (const stack of ["dev", "prod"]) {
        it(`accepts Pulumi.${stack}.yaml`, () => {
            const document = YAML.parse(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8"));
            assert.deepEqual(errorsOf(document), []);
        });
    }

    it('accepts Pulumi\'s own representations: "3", "true", secure secrets, provider namespaces', () => {
        assert.deepEqual(
            errorsOf({
                config: {
                    "zadara-eksd:controlPlaneCount": "3",
                    "zadara-eksd:apiPublic": "true",
                    "zadara-eksd:accessKey": { secure: "AAAB" },
                    "aws:region": "us-east-1",
                },
            }),
            [],
        );
    });

    it("refuses wrong types, unknown keys and out-of-range values", () => {
        const cases: Array<[string, unknown]> = [
            ["zadara-eksd:nodeGroups", { workers: { instanceType: 8 } }],
            ["zadara-eksd:nodeGroups", { workers: { minSize: true } }],
            ["zadara-eksd:nodeGroups", { workers: "big" }],
            ["zadara-eksd:nodeGroups", { workers: { maxSize: 1000000 } }],
            ["zadara-eksd:controlPlaneCount", "three"],
            ["zadara-eksd:apiPublic", "yes"],
            ["zadara-eksd:cni", "weave"],
            ["zadara-eksd:vpcCdir", "10.0.0.0/16"],
            ["zadara-eksd:controlPlaneMode", "asg"],
            ["zadara-eksd:controlPlaneInstanceType", "z4.large; reboot"],
        ];
        for (const [key, value] of cases) {
            assert.notDeepEqual(errorsOf({ config: { [key]: value } }), [], `${key}: ${JSON.stringify(value)}`);
        }
    });
});
