// Stack file errors name the file, the line and the fix, instead of reporting present keys as
// "required" or the list index as a setting.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { resolveStackConfig, StackFileError } from "../tools/stack-config";

function withStackFile(text: string): ReturnType<typeof resolveStackConfig> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-file-"));
    try {
        fs.writeFileSync(path.join(dir, "Pulumi.t.yaml"), text);
        return resolveStackConfig("t", [], { root: dir, placeholders: false });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function refusal(text: string): string {
    try {
        withStackFile(text);
    } catch (error) {
        assert.ok(error instanceof StackFileError, String(error));
        return error.message;
    }
    assert.fail("expected the stack file to be refused");
}

describe("stack file errors", () => {
    it("YAML syntax error: file, line, column and fix", () => {
        const message = refusal("config:\n  zadara-eksd:cni: flannel\n  zadara-eksd:vpcCidr: [10.0.0.0/16\n");
        assert.match(message, /Pulumi\.t\.yaml:\d+:\d+: YAML syntax error/);
        assert.match(message, /Fix: check the indentation and quoting/);
    });

    it("settings without the config: wrapper", () => {
        const message = refusal("# comment\nzadara-eksd:apiEndpoint: cloud.example.com\nzadara-eksd:cni: flannel\n");
        assert.match(message, /Pulumi\.t\.yaml:2: "zadara-eksd:apiEndpoint" is at the top level, outside "config:"/);
        assert.match(message, /Fix: add a line "config:" above the settings/);
    });

    it("config: written as a list", () => {
        const message = refusal("config:\n  - zadara-eksd:cni: flannel\n  - zadara-eksd:apiEndpoint: x\n");
        assert.match(message, /Pulumi\.t\.yaml:2: "config:" is a list/);
        assert.match(message, /Fix: remove the "- "/);
    });

    it("config: holding a single value, and a file that is a list", () => {
        assert.match(refusal("config: zadara-eksd:cni=flannel\n"), /Pulumi\.t\.yaml:1: "config:" holds a single value.*Fix:/);
        assert.match(refusal("- a\n- b\n"), /Pulumi\.t\.yaml:1: the stack file is a list.*Fix: start the file with a line "config:"/);
    });

    it("a misspelt section", () => {
        assert.match(
            refusal("confg:\n  zadara-eksd:cni: flannel\n"),
            /Pulumi\.t\.yaml:1: "confg" is not a stack file section \(did you mean "config:"\?\)\. Fix: rename it/,
        );
    });

    it("reads a good file, its secrets marked secret and structured values as JSON", () => {
        const input = withStackFile(
            "secretsprovider: passphrase\nconfig:\n  zadara-eksd:controlPlaneCount: 3\n  zadara-eksd:accessKey:\n    secure: AAAB\n  zadara-eksd:nodeGroups:\n    workers:\n      minSize: 1\n",
        );
        assert.equal(input.values["zadara-eksd:controlPlaneCount"], "3");
        assert.equal(input.values["zadara-eksd:nodeGroups"], JSON.stringify({ workers: { minSize: 1 } }));
        assert.ok(input.secretKeys.includes("zadara-eksd:accessKey"));
        assert.match(input.locations["zadara-eksd:nodeGroups"], /Pulumi\.t\.yaml:6$/);
        assert.match(input.locations["zadara-eksd:controlPlaneCount"], /Pulumi\.t\.yaml:3$/);
    });
});
