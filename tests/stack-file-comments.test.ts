// The example stack files are read by newcomers first: their comments must say what the values
// are. Each "EKS-D 1.NN image" comment names the file's own eksdVersion (or, without one, the
// default minor), and every value marked REPLACE is one the program refuses for a real stack.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { DEFAULT_EKSD_MINOR } from "../cluster/versions";

const root = path.resolve(__dirname, "..");
const stackFiles = fs.readdirSync(root).filter((name) => /^Pulumi\.[^.]+\.yaml$/.test(name));

describe("example stack files", () => {
    it("exist (dev and prod)", () => {
        assert.ok(stackFiles.includes("Pulumi.dev.yaml") && stackFiles.includes("Pulumi.prod.yaml"), stackFiles.join(", "));
    });

    for (const file of stackFiles) {
        it(`${file}: image comments name the stack's own EKS-D minor`, () => {
            const text = fs.readFileSync(path.join(root, file), "utf8");
            const config = (parseYaml(text) as { config: Record<string, unknown> }).config;
            const configured = config["zadara-eksd:eksdVersion"];
            const minor = typeof configured === "string" ? configured : DEFAULT_EKSD_MINOR;
            const named = [...text.matchAll(/EKS-D (1\.\d+)/g)].map((m) => m[1]);
            assert.ok(named.length > 0, `${file} has no EKS-D image comment`);
            for (const comment of named) {
                assert.equal(comment, minor, `${file}: a comment says EKS-D ${comment} while the stack runs ${minor}`);
            }
        });
    }
});
