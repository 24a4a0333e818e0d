// The host-key reader and its command (tools/host-key.ts) against moto_server behind the
// zCompute-paths proxy: moto's GetConsoleOutput answers a canned kernel log without host keys,
// so the deadline path is checked on moto with a fake clock; the refusals are injected by the
// proxy; the success path reads a recorded cloud-init console from a stubbed client.
import * as EC2 from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeEach, describe, it } from "node:test";
import { HOST_KEYS_BEGIN } from "../hostkeys/console";
import { ConsoleSource, Ec2ConsoleSource, readHostKey } from "../hostkeys/reader";
import { runHostKeyCli } from "../tools/host-key";
import { FakeClock } from "./helpers/cleanup-run";
import { motoBehindProxy } from "./helpers/moto-proxy";
import { CREDENTIALS } from "./helpers/moto-seed";

const BOOT = fs.readFileSync(path.join(__dirname, "fixtures", "console-host-keys.txt"), "utf8");
const ED25519 = [...BOOT.split("\n")]
    .reverse()
    .find((l) => l.startsWith("ssh-ed25519 "))!
    .split(" ")
    .slice(0, 2)
    .join(" ");
const ENV = { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey };

const cloud = motoBehindProxy();

async function motoInstance(): Promise<string> {
    const ec2 = new EC2.EC2Client({ region: "us-east-1", endpoint: cloud.moto.url, credentials: CREDENTIALS });
    try {
        const image = (await ec2.send(new EC2.DescribeImagesCommand({}))).Images![0].ImageId!;
        return (await ec2.send(new EC2.RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1 }))).Instances![0].InstanceId!;
    } finally {
        ec2.destroy();
    }
}

async function run(args: string[], source?: ConsoleSource) {
    const out: string[] = [];
    const err: string[] = [];
    const clock = new FakeClock();
    const code = await runHostKeyCli(args, { env: ENV, clock, out: (l) => out.push(l), err: (l) => err.push(l), source });
    return { code, out, err, clock, text: `exit ${code}\n${out.join("\n")}\n${err.join("\n")}` };
}

const consoleCalls = () => cloud.proxy.calls.filter((c) => c.action === "GetConsoleOutput");

describe("host-key reader against moto", () => {
    beforeEach(() => cloud.reset());

    it("waits for the block until its deadline, then names the instance and the fix (moto's console has no host keys)", async () => {
        const id = await motoInstance();
        const r = await run(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--instance-id", id, "--timeout", "60"]);
        assert.equal(r.code, 1, r.text);
        assert.deepEqual(r.out, []);
        const message = r.err.join("\n");
        assert.match(message, new RegExp(`${id}: no SSH host-key block on its console after 60 s`));
        assert.match(message, /characters of console output, no host-key block/);
        assert.match(message, /get-console-output --instance-id/);
        assert.match(message, /npm run doctor -- --stack dev --deep/);
        assert.match(message, /pulumi config set sshHostKeys unpinned/);
        // Bounded by the fake clock: polls every 10 s up to 60 s, never a longer sleep.
        assert.ok(r.clock.time - 1_000_000 >= 60_000);
        assert.ok(
            r.clock.sleeps.every((ms) => ms > 0 && ms <= 10_000),
            String(r.clock.sleeps),
        );
        assert.equal(consoleCalls().length, 7);
        assert.ok(consoleCalls().every((c) => c.params.get("InstanceId") === id));
    });

    it("retries an instance the cloud does not know yet, and says what the last call answered", async () => {
        const r = await run(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--instance-id", "i-0123456789abcdef0", "--timeout", "20"]);
        assert.equal(r.code, 1, r.text);
        assert.match(r.err.join("\n"), /i-0123456789abcdef0: no SSH host-key block .*the last call failed: .*InvalidInstanceID\.NotFound/);
        assert.equal(consoleCalls().length, 3);
    });

    it("stops at once when the cloud has no GetConsoleOutput, naming sshHostKeys unpinned", async () => {
        const id = await motoInstance();
        cloud.proxy.faults.push((call) =>
            call.action === "GetConsoleOutput" ? { status: 400, code: "UnsupportedOperation", message: "GetConsoleOutput is not supported" } : undefined,
        );
        const r = await run(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--instance-id", id]);
        assert.equal(r.code, 1, r.text);
        assert.match(r.err.join("\n"), new RegExp(`${id}: the cloud does not serve GetConsoleOutput .*UnsupportedOperation.*sshHostKeys unpinned`));
        assert.equal(consoleCalls().length, 1);
        assert.deepEqual(r.clock.sleeps, []);
    });

    it("stops at once on refused credentials", async () => {
        const id = await motoInstance();
        cloud.proxy.faults.push((call) => (call.action === "GetConsoleOutput" ? { status: 401, code: "AuthFailure", message: "bad key" } : undefined));
        const r = await run(["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--instance-id", id]);
        assert.equal(r.code, 1, r.text);
        assert.match(r.err.join("\n"), /cannot read its console: the cloud refused the credentials \(AuthFailure\)/);
        assert.equal(consoleCalls().length, 1);
    });
});

describe("host-key reader, stubbed console", () => {
    it("prints the ed25519 line once a block split over two reads is complete", async () => {
        const cut = BOOT.indexOf(ED25519) + 25;
        const reads = [undefined, BOOT.slice(0, cut), BOOT.slice(cut)];
        const source: ConsoleSource = { consoleOutput: () => Promise.resolve(reads.shift()) };
        const r = await run(["--stack", "dev", "--endpoint-url", "http://127.0.0.1:9", "--instance-id", "i-0abc"], source);
        assert.equal(r.code, 0, r.text);
        assert.deepEqual(r.out, [ED25519]);
        assert.equal(reads.length, 0);
        assert.equal(r.clock.sleeps.length, 2);
    });

    it("decodes the API's base64 output (GetConsoleOutput through a stubbed SDK client)", async () => {
        const sent: unknown[] = [];
        const client = {
            send: (command: unknown) => {
                sent.push(command);
                return Promise.resolve({ Output: Buffer.from(BOOT.replace(/\n/g, "\r\n")).toString("base64") });
            },
        } as unknown as EC2.EC2Client;
        const key = await readHostKey({
            instanceId: "i-0abc",
            source: new Ec2ConsoleSource(client),
            clock: new FakeClock(),
            timeoutSeconds: 30,
            log: () => undefined,
        });
        assert.equal(`${key.type} ${key.blob}`, ED25519);
        assert.ok(sent[0] instanceof EC2.GetConsoleOutputCommand);
        assert.equal(sent[0].input.InstanceId, "i-0abc");
    });

    it("refuses a console whose host keys changed after the first boot", async () => {
        const changed = `${BOOT}${HOST_KEYS_BEGIN}\n${BOOT.split("\n").find((l) => l.startsWith("ssh-rsa "))}\n-----END SSH HOST KEY KEYS-----\n`;
        const r = await run(["--stack", "dev", "--endpoint-url", "http://127.0.0.1:9", "--instance-id", "i-0abc"], {
            consoleOutput: () => Promise.resolve(changed),
        });
        assert.equal(r.code, 1, r.text);
        assert.match(r.err.join("\n"), /i-0abc: the console shows 2 host-key blocks with different keys/);
    });

    it("answers --help, and refuses a bad command line before any call", async () => {
        const calls: string[] = [];
        const source: ConsoleSource = { consoleOutput: (id) => Promise.resolve(void calls.push(id)) };
        assert.equal((await run(["--help"], source)).code, 0);
        const missing = await run(["--stack", "dev"], source);
        assert.equal(missing.code, 2);
        assert.match(missing.err.join("\n"), /--instance-id <id> is required/);
        assert.equal((await run(["--stack", "dev", "--instance-id", "vol-1"], source)).code, 2);
        assert.equal((await run(["--stack", "dev", "--instance-id", "i-1", "--timeout", "0"], source)).code, 2);
        assert.deepEqual(calls, []);
    });
});
