// The console parser (hostkeys/console.ts) over recorded console text: a real cloud-init boot
// with interleaved kernel lines, garbage, a missing block, CRLF, a block split over two reads,
// repeated and changed blocks, and the key order ed25519 > ecdsa > rsa.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { blobMatchesType, HOST_KEYS_BEGIN, HOST_KEYS_END, hostKeyLine, joinConsoleReads, parseConsoleHostKeys, preferredHostKey } from "../hostkeys/console";

const BOOT = fs.readFileSync(path.join(__dirname, "fixtures", "console-host-keys.txt"), "utf8");
const lineOf = (prefix: string) => {
    const line = [...BOOT.split("\n")].reverse().find((l) => l.startsWith(prefix));
    assert.ok(line, `fixture has a ${prefix} line`);
    return line.split(" ").slice(0, 2).join(" ");
};
const ED25519 = lineOf("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI");
const ECDSA = lineOf("ecdsa-sha2-nistp256 ");
const RSA = lineOf("ssh-rsa ");

function pinned(text: string): string | undefined {
    const found = parseConsoleHostKeys(text);
    if (found.kind !== "keys") {
        return undefined;
    }
    const key = preferredHostKey(found.keys);
    return key && hostKeyLine(key);
}

describe("host keys on the console", () => {
    it("pins the ed25519 key of a recorded cloud-init boot, without its comment", () => {
        const found = parseConsoleHostKeys(BOOT);
        assert.equal(found.kind, "keys");
        assert.equal(found.kind === "keys" && found.keys.length, 3);
        assert.equal(pinned(BOOT), ED25519);
        assert.doesNotMatch(pinned(BOOT) ?? "", /root@/);
    });

    it("ignores key-like lines outside the block, fingerprints, kernel lines and garbage inside it", () => {
        const garbage = `${HOST_KEYS_BEGIN}\n\u0000\u00ff noise ssh-ed25519 !!!\nssh-ed25519 AAAAnotbase64key\n${ED25519.split(" ")[0]} ${Buffer.from("ssh-rsa-but-not").toString("base64")}\n${ECDSA}\n${HOST_KEYS_END}\n`;
        assert.equal(pinned(`${ED25519} root@x\n${garbage}`), ECDSA);
        assert.equal(pinned(`[  1.0] random text\n${ED25519}\nno markers at all\n`), undefined);
    });

    it("falls back to ecdsa, then rsa", () => {
        const only = (...lines: string[]) => `${HOST_KEYS_BEGIN}\n${lines.join("\n")}\n${HOST_KEYS_END}\n`;
        assert.equal(pinned(only(RSA, ECDSA)), ECDSA);
        assert.equal(pinned(only(RSA)), RSA);
    });

    it("reads log-prefixed lines (a console that passes the block through syslog)", () => {
        const prefixed = BOOT.replace(/^(-----|ssh-|ecdsa-)/gm, "<14>Dec  6 12:00:31 ec2: $1");
        assert.equal(pinned(prefixed), ED25519);
    });

    it("reads CRLF and CR line endings", () => {
        assert.equal(pinned(BOOT.replace(/\n/g, "\r\n")), ED25519);
        assert.equal(pinned(BOOT.replace(/\n/g, "\r")), ED25519);
    });

    it("says none while the block is missing or has not ended, and whether one started", () => {
        const before = BOOT.slice(0, BOOT.indexOf(HOST_KEYS_BEGIN));
        assert.deepEqual(parseConsoleHostKeys(before), { kind: "none", partial: false });
        const cut = BOOT.slice(0, BOOT.indexOf(ED25519) + 20);
        assert.deepEqual(parseConsoleHostKeys(cut), { kind: "none", partial: true });
        assert.deepEqual(parseConsoleHostKeys(""), { kind: "none", partial: false });
    });

    it("joins a block split over two reads, whether the cloud answers the whole buffer or only what is new", () => {
        const cutAt = BOOT.indexOf(ED25519) + 30;
        const first = BOOT.slice(0, cutAt);
        assert.equal(pinned(joinConsoleReads("", first)), undefined);
        // Only what is new: appended (the split key line is whole again).
        assert.equal(pinned(joinConsoleReads(first, BOOT.slice(cutAt))), ED25519);
        // The whole buffer again: it replaces the first read.
        assert.equal(joinConsoleReads(first, BOOT), BOOT);
        assert.equal(pinned(joinConsoleReads(first, BOOT)), ED25519);
        // A sliding window that starts elsewhere: the block cut off in the first read restarts.
        assert.equal(pinned(joinConsoleReads(first, BOOT.slice(BOOT.indexOf(HOST_KEYS_BEGIN) - 10))), ED25519);
    });

    it("keeps the joined text bounded", () => {
        const joined = joinConsoleReads("a".repeat(100), "b".repeat(100), 150);
        assert.equal(joined.length, 150);
        assert.ok(joined.endsWith("b".repeat(100)));
    });

    it("accepts a block printed again at a later boot, refuses blocks whose keys differ", () => {
        assert.equal(pinned(BOOT + BOOT), ED25519);
        const other = `${HOST_KEYS_BEGIN}\n${RSA}\n${HOST_KEYS_END}\n`;
        const found = parseConsoleHostKeys(BOOT + other);
        assert.equal(found.kind, "unusable");
        assert.match(found.kind === "unusable" ? found.reason : "", /changed after its first boot/);
    });

    it("refuses a complete block without a usable key", () => {
        const found = parseConsoleHostKeys(`${HOST_KEYS_BEGIN}\nssh-dss AAAAB3NzaC1kc3MAAACBAP\n${HOST_KEYS_END}\n`);
        assert.equal(found.kind, "unusable");
    });

    it("checks the key blob's own type (what an authorized_keys parser checks)", () => {
        const [type, blob] = ED25519.split(" ");
        assert.ok(blobMatchesType(type, blob));
        assert.ok(!blobMatchesType("ssh-rsa", blob));
        assert.ok(!blobMatchesType(type, blob.slice(0, 20)));
        assert.ok(!blobMatchesType(type, `${blob}=`));
    });
});
