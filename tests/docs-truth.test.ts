// Statements the docs once got wrong, held by the code they describe so they cannot come back:
// each test reads the code's own answer and the text that states it.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CHANGE_POLICY, replacedNodes } from "../cluster/change-policy";
import { encryptionConfiguration } from "../cluster/hardening";
import { CONFIG_KEYS } from "../config/schema";

const root = path.resolve(__dirname, "..");
const docs = [
    "README.md",
    ...fs
        .readdirSync(path.join(root, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => path.join("docs", f)),
].map((file) => ({
    file,
    text: fs.readFileSync(path.join(root, file), "utf8"),
}));
const description = (key: string) => CONFIG_KEYS.find((d) => d.key === key)?.description ?? "";

describe("docs say what the code does", () => {
    it("secretsEncryption names the encryption provider the API server is given", () => {
        const providers = JSON.stringify(encryptionConfiguration([{ name: "key-v1", secret: Buffer.alloc(32, 7).toString("base64") }]));
        const provider = ["secretbox", "aescbc", "aesgcm", "kms"].find((name) => providers.includes(`"${name}"`));
        assert.ok(provider, providers);
        assert.match(description("secretsEncryption"), new RegExp(provider));
        for (const { file, text } of docs) {
            for (const other of ["aescbc", "aesgcm"].filter((name) => name !== provider)) {
                assert.ok(!text.includes(other), `${file} names ${other}; the program uses ${provider}`);
            }
        }
    });

    it("kubeconfigTimeoutMinutes is every node's API wait, and the docs say a change rolls every node", () => {
        assert.equal(replacedNodes(CHANGE_POLICY.kubeconfigTimeoutMinutes), "all");
        assert.match(description("kubeconfigTimeoutMinutes"), /rolls every node/);
    });

    it("no doc suggests a command that does not exist, or numbers control-plane nodes from 0", () => {
        for (const { file, text } of docs) {
            assert.ok(!text.includes("pulumi config mv"), `${file}: pulumi config has no mv`);
            assert.ok(!/\bnode 0\b/.test(text), `${file}: control-plane nodes are numbered from 1 (<env>-master-sa-1)`);
        }
    });

    it("the join token's default lifetime is stated with the autoscaler that sets it", () => {
        for (const { file, text } of docs) {
            assert.ok(!/default,? 24 h/.test(text.replace(/\s+/g, " ")), `${file}: the default is 168 h while the autoscaler (on by default) runs`);
        }
    });
});
