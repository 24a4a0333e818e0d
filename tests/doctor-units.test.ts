// The doctor's pieces without a cloud: the TLS check against a real TLS server with an openssl
// CA, the provider's CA bundle (npm run ca-bundle and the program's check), the recorded result
// and what it changes in the config, and the command line.
import { spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigValidationError, loadStackConfig } from "../config";
import { doctorRecordFileName, parseDoctorRecord, retirePathOf, withCloudFacts } from "../config/cloud-facts";
import { doctorRecord, writeDoctorRecord } from "../tools/doctor-record";
import { consoleHostKeysCheck } from "../doctor/checks-cloud";
import type { DoctorCloud } from "../doctor/cloud";
import type { DeepProbeResult } from "../doctor/deep";
import { formatTable } from "../doctor/report";
import { parseConsoleHostKeys } from "../hostkeys/console";
import { exitCodeOf } from "../doctor/run";
import { checkTls } from "../doctor/tls";
import type { DoctorRow } from "../doctor/types";
import { CA_BUNDLE_ENV, providerCaBundle, providerCaBundleProblem } from "../infra/provider-ca";
import type { StackModel } from "../model";
import { runCaBundleCli } from "../tools/ca-bundle";
import { runDoctorCli } from "../tools/doctor";
import { parseOverride, resolveStackConfig } from "../tools/stack-config";
import { FakeClock } from "./helpers/cleanup-run";

const TOOL_ENV = { PATH: "/usr/bin:/bin" };
let dir: string;
let caPem: string;
let otherCaPem: string;
let server: https.Server;
let serverUrl: string;

function openssl(args: string[]): void {
    const run = spawnSync("openssl", args, { cwd: dir, env: TOOL_ENV, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
}

function stackWith(overrides: string[]): StackModel {
    const input = resolveStackConfig(
        "dev",
        overrides.map((o) => parseOverride(o, false)),
    );
    // The example stack's placeholders stand: only the doctor record's effect is under test.
    return loadStackConfig({ stack: "dev", values: input.values, secretKeys: input.secretKeys, env: {}, placeholders: "allow" });
}

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "doctor-units-"));
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=zcompute test root"]);
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=another root"]);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    fs.writeFileSync(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
    openssl([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    caPem = fs.readFileSync(path.join(dir, "ca.pem"), "utf8");
    otherCaPem = fs.readFileSync(path.join(dir, "other.pem"), "utf8");
    server = https.createServer({ key: fs.readFileSync(path.join(dir, "server.key")), cert: fs.readFileSync(path.join(dir, "server.pem")) }, (_req, res) =>
        res.end("ok"),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    serverUrl = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});
after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
});

describe("api-tls: the API's certificate chain", () => {
    it("verifies against rootCaCert, fails without it or with another CA, and says so for plain http", async () => {
        assert.equal((await checkTls(serverUrl, caPem)).result, "trusted");
        const untrusted = await checkTls(serverUrl, undefined);
        assert.equal(untrusted.result, "untrusted");
        assert.match(untrusted.detail, /does not verify: .*(UNABLE_TO_VERIFY|self-signed|unable to get)/i);
        assert.equal((await checkTls(serverUrl, otherCaPem)).result, "untrusted");
        assert.equal((await checkTls("http://127.0.0.1:1", caPem)).result, "plain-http");
    });
});

describe("provider CA trust (provider 4.7.0 reads AWS_CA_BUNDLE only)", () => {
    const read = (file: string) => fs.readFileSync(file, "utf8");

    it("is needed only with rootCaCert and insecure false, and then needs a file that holds the certificate", () => {
        assert.equal(providerCaBundleProblem(undefined, false, {}, read), undefined);
        assert.equal(providerCaBundleProblem(caPem, true, {}, read), undefined);
        assert.match(providerCaBundleProblem(caPem, false, {}, read) ?? "", /AWS_CA_BUNDLE is not set.*Fix: npm run ca-bundle/);
        assert.match(providerCaBundleProblem(caPem, false, { [CA_BUNDLE_ENV]: path.join(dir, "missing.pem") }, read) ?? "", /cannot be read/);
        assert.match(
            providerCaBundleProblem(caPem, false, { [CA_BUNDLE_ENV]: path.join(dir, "other.pem") }, read) ?? "",
            /does not contain the certificate in rootCaCert/,
        );
        const bundle = path.join(dir, "bundle.pem");
        fs.writeFileSync(bundle, providerCaBundle(caPem));
        assert.equal(providerCaBundleProblem(caPem, false, { [CA_BUNDLE_ENV]: bundle }, read), undefined);
    });

    it("npm run ca-bundle writes the stack's rootCaCert and the public roots, from the stack config alone", () => {
        const out: string[] = [];
        const file = path.join(dir, "ca-bundle.dev.pem");
        const code = runCaBundleCli(["--stack", "dev", "--config", `rootCaCert=${caPem}`, "--config", "insecure=false", "--out", file], {}, (l) => out.push(l));
        assert.equal(code, 0, out.join("\n"));
        assert.deepEqual(out, [`export AWS_CA_BUNDLE=${file}`]);
        const text = fs.readFileSync(file, "utf8");
        assert.ok(text.startsWith(caPem.trim()), "the stack's CA first");
        assert.ok((text.match(/BEGIN CERTIFICATE/g) ?? []).length > 50, "then the public roots (AWS_CA_BUNDLE replaces the system store)");
        assert.equal(
            providerCaBundleProblem(caPem, false, { [CA_BUNDLE_ENV]: file }, (f) => fs.readFileSync(f, "utf8")),
            undefined,
        );
    });

    it("npm run ca-bundle answers --help with exit 0 and refuses bad input with exit 2", () => {
        const out: string[] = [];
        assert.equal(
            runCaBundleCli(["--help"], {}, (l) => out.push(l)),
            0,
        );
        assert.match(out[0], /^usage: npm run ca-bundle/);
        assert.equal(
            runCaBundleCli([], {}, (l) => out.push(l)),
            2,
        );
        assert.equal(
            runCaBundleCli(["--stack", "dev", "--config", "rootCaCert=not a pem", "--out", path.join(dir, "x.pem")], {}, (l) => out.push(l)),
            2,
        );
        assert.match(out.join("\n"), /rootCaCert.*not a PEM certificate/);
    });
});

function row(id: string, status: DoctorRow["status"], needed = true): DoctorRow {
    return { id, status, needed, assumption: `${id} assumption`, detail: "evidence", programAction: "action", configKey: "-", docs: "docs/doctor.md" };
}

describe("the recorded result feeds back into the config", () => {
    const now = new Date(Date.UTC(2026, 11, 6, 12, 0, 0));

    it("a cloud recorded as refusing metadataOptions refuses requireMetadataTokens: true, naming the record and the fix", () => {
        const record = doctorRecord("dev", "https://cloud.example.com", true, [row("metadata-options", "fails"), row("metadata-instance-id", "holds")], now);
        const text = JSON.stringify(record);
        const file = doctorRecordFileName("dev");
        assert.equal(file, "doctor.dev.json");
        const fine = withCloudFacts(stackWith([]), text, file);
        assert.deepEqual(fine.cloud.facts, {
            source: "doctor.dev.json",
            checkedAt: "2026-12-06T12:00:00.000Z",
            metadataOptionsAccepted: false,
            metadataInstanceIdMatches: true,
            consoleHostKeys: undefined,
        });
        assert.match(retirePathOf(fine.cloud.facts), /retire early/);
        assert.throws(
            () => withCloudFacts(stackWith(["requireMetadataTokens=true"]), text, file),
            (error: unknown) =>
                error instanceof ConfigValidationError &&
                /zadara-eksd:requireMetadataTokens: true, but doctor\.dev\.json .* refuses metadataOptions.*Fix: pulumi config set requireMetadataTokens false/.test(
                    error.message,
                ),
        );
    });

    it("a cloud recorded as showing no host keys on the console refuses sshHostKeys console, naming the record and both fixes", () => {
        const fails = JSON.stringify(doctorRecord("dev", "https://c", true, [row("ssh-host-keys-console", "fails")], now));
        assert.throws(
            () => withCloudFacts(stackWith([]), fails, "doctor.dev.json"),
            (error: unknown) =>
                error instanceof ConfigValidationError &&
                /zadara-eksd:sshHostKeys: "console", but doctor\.dev\.json .* shows no SSH host keys.*Fix: pulumi config set sshHostKeys unpinned/.test(
                    error.message,
                ),
        );
        assert.equal(withCloudFacts(stackWith(["sshHostKeys=unpinned"]), fails, "doctor.dev.json").cloud.facts?.consoleHostKeys, false);
        const holds = JSON.stringify(doctorRecord("dev", "https://c", true, [row("ssh-host-keys-console", "holds")], now));
        assert.equal(withCloudFacts(stackWith([]), holds, "doctor.dev.json").cloud.facts?.consoleHostKeys, true);
    });

    it("without a record nothing changes; cannot-tell leaves a fact unknown", () => {
        const stack = stackWith(["requireMetadataTokens=true"]);
        assert.equal(withCloudFacts(stack, undefined, "doctor.dev.json"), stack);
        const unknown = withCloudFacts(
            stack,
            JSON.stringify(doctorRecord("dev", "https://c", false, [row("metadata-options", "cannot-tell")], now)),
            "doctor.dev.json",
        );
        assert.equal(unknown.cloud.facts?.metadataOptionsAccepted, undefined);
        assert.match(retirePathOf(unknown.cloud.facts), /no doctor record/);
        assert.match(retirePathOf({ source: "f", checkedAt: "t", metadataInstanceIdMatches: false }), /end of the update/);
    });

    it("a bad record is refused with the file, the field and the fix", () => {
        const expect = (text: string, pattern: RegExp) =>
            assert.throws(
                () => parseDoctorRecord(text, "doctor.dev.json", "dev"),
                (error: unknown) => error instanceof ConfigValidationError && pattern.test(error.message),
            );
        expect("{", /doctor\.dev\.json: not JSON .*Fix: run `npm run doctor -- --stack dev --record` again/);
        const good = doctorRecord("dev", "https://c", false, [row("credentials", "holds")], now);
        expect(JSON.stringify({ ...good, checks: { credentials: "maybe" } }), /doctor\.dev\.json: checks\.credentials: .*Fix/);
        expect(JSON.stringify({ ...good, stack: "prod" }), /recorded for stack "prod", not "dev"/);
        expect(JSON.stringify({ ...good, extra: 1 }), /doctor\.dev\.json: .*extra/);
    });

    it("--record's file lands beside the stack file and reads back", () => {
        const record = doctorRecord("dev", "https://c", true, [row("metadata-options", "holds")], now);
        const file = writeDoctorRecord(dir, record);
        assert.equal(file, path.join(dir, "doctor.dev.json"));
        assert.deepEqual(parseDoctorRecord(fs.readFileSync(file, "utf8"), "doctor.dev.json", "dev"), record);
    });
});

describe("the doctor's answer and command line", () => {
    it("exits 1 only when a check the stack needs fails", () => {
        assert.equal(exitCodeOf([row("a", "holds"), row("b", "fails", false), row("c", "cannot-tell")]), 0);
        assert.equal(exitCodeOf([row("a", "holds"), row("b", "fails", true)]), 1);
    });

    it("prints one block per assumption: status, evidence, what the program does, the config key", () => {
        const lines = formatTable([row("metadata-options", "fails"), row("credentials", "holds", false)]);
        assert.match(lines[0], /^STATUS +CHECK +NEEDED +ASSUMPTION$/);
        assert.match(lines[1], /^FAILS +metadata-options +yes +metadata-options assumption$/);
        assert.match(lines[2], /evidence: evidence$/);
        assert.match(lines[3], /program: +action$/);
        assert.match(lines[4], /config: +- +\(docs\/doctor\.md\)$/);
        assert.equal(lines.at(-1), "1 hold, 1 fail, 0 cannot tell; needed and failing: metadata-options");
    });

    it("answers --help with exit 0 and calls nothing; bad input exits 2 before any call", async () => {
        const run = async (args: string[], env: NodeJS.ProcessEnv = { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" }) => {
            const out: string[] = [];
            const err: string[] = [];
            const code = await runDoctorCli(args, { env, clock: new FakeClock(), out: (l) => out.push(l), err: (l) => err.push(l) });
            return { code, text: [...out, ...err].join("\n") };
        };
        const help = await run(["--help"], {});
        assert.equal(help.code, 0);
        assert.match(help.text, /^usage: npm run doctor -- --stack <name>/);
        assert.match((await run([])).text, /--stack <name> is required/);
        assert.equal((await run(["--stack", "dev", "--deep-timeout", "soon"])).code, 2);
        const noKeys = await run(["--stack", "dev"], {});
        assert.equal(noKeys.code, 2);
        assert.match(noKeys.text, /no cloud credentials: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
        assert.match((await run(["--stack", "dev", "--frobnicate"])).text, /unknown argument "--frobnicate"/);
    });
});

describe("ssh-host-keys-console", () => {
    const BOOT = fs.readFileSync(path.join(__dirname, "fixtures", "console-host-keys.txt"), "utf8");
    const KERNEL_ONLY = "Linux version 5.15.0\nKernel command line: ro\n";
    /** A cloud with one running instance whose console answers `text`, or refuses with `code`. */
    const cloud = (text: string, code?: string) =>
        ({
            instances: () => Promise.resolve([{ id: "i-0running", state: "running", privateDnsName: "", privateIp: "", tags: {} }]),
            consoleOutput: () => (code ? Promise.reject(Object.assign(new Error(`${code}: no`), { code })) : Promise.resolve(text)),
        }) as unknown as DoctorCloud;
    const deepWith = (fields: Partial<DeepProbeResult>): DeepProbeResult => ({ instanceId: "i-0probe", leftovers: [], ...fields });
    const check = (stack: StackModel, c: DoctorCloud, deep?: DeepProbeResult) => consoleHostKeysCheck.run({ stack, cloud: c, deep, env: {} });

    it("is needed with sshHostKeys console only", () => {
        assert.equal(consoleHostKeysCheck.needed(stackWith([])), true);
        assert.equal(consoleHostKeysCheck.needed(stackWith(["sshHostKeys=unpinned"])), false);
    });

    it("--deep: holds when the probe's console shows the keys, naming the key it would pin; fails without them or without the API", async () => {
        const stack = stackWith([]);
        const holds = await check(stack, cloud(""), deepWith({ consoleHostKeys: parseConsoleHostKeys(BOOT) }));
        assert.equal(holds.status, "holds");
        assert.match(holds.detail, /probe i-0probe .* shows 3 host key\(s\); it would pin ssh-ed25519 /);
        const none = await check(stack, cloud(""), deepWith({ consoleHostKeys: parseConsoleHostKeys(KERNEL_ONLY) }));
        assert.equal(none.status, "fails");
        assert.match(none.programAction, /sshHostKeys unpinned/);
        const refused = await check(stack, cloud(""), deepWith({ consoleError: "ec2:GetConsoleOutput: UnsupportedOperation: no" }));
        assert.equal(refused.status, "fails");
        assert.match(refused.detail, /UnsupportedOperation/);
    });

    it("without --deep: asks a running instance; an old console without the block cannot tell, a missing API fails", async () => {
        const stack = stackWith([]);
        assert.equal((await check(stack, cloud(BOOT))).status, "holds");
        const old = await check(stack, cloud(KERNEL_ONLY));
        assert.equal(old.status, "cannot-tell");
        assert.match(old.detail, /run with --deep/);
        const missing = await check(stack, cloud("", "UnsupportedOperation"));
        assert.equal(missing.status, "fails");
        assert.match(missing.detail, /GetConsoleOutput is not served/);
    });
});
