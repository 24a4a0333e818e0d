// `npm run doctor -- --deep` against moto: the one probe instance and its security group are
// always removed (success, a refused option, an error, Ctrl-C), and what only an instance can
// show is answered from it. moto's console output is canned, so the proxy writes the line the
// probe's user data prints on a real instance (with the id and host name a test chooses).
import * as EC2 from "@aws-sdk/client-ec2";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeEach, describe, it } from "node:test";
import { DoctorCloud } from "../doctor/cloud";
import { BUNDLE_PORT as DOCTOR_BUNDLE_PORT, CONSOLE_MARKER, DEEP_TAG, DeepProbe, parseConsole, probeUserData } from "../doctor/deep";
import { FakeClock } from "./helpers/cleanup-run";
import { Call, startDoctorProxy } from "./helpers/doctor-proxy";
import { DoctorSeed, seedZCompute } from "./helpers/doctor-seed";
import { DOCTOR_ENV, DoctorRun, rowStatus, runDoctorJson } from "./helpers/doctor-run";
import { CREDENTIALS } from "./helpers/moto-seed";
import { motoWithProxy } from "./helpers/moto-proxy";

const ENV = DOCTOR_ENV;

const fixture = motoWithProxy(startDoctorProxy, (proxy) => proxy.clear());
let seed: DoctorSeed;

/** The console line a real probe instance prints; `id`/`host` chosen per test from what the API said. */
function fakeConsole(line: (instanceId: string, privateDns: string) => string): void {
    let privateDns = "";
    fixture.proxy.responses.push((c: Call, body: string) => {
        if (c.action === "DescribeInstances") {
            privateDns = /<privateDnsName>([^<]*)<\/privateDnsName>/.exec(body)?.[1] ?? privateDns;
            return undefined;
        }
        if (c.action !== "GetConsoleOutput") {
            return undefined;
        }
        const id = c.params.get("InstanceId") ?? "";
        const output = Buffer.from(`[   12.3] cloud-init: ...\n${line(id, privateDns)}\n`).toString("base64");
        return body.replace(/<output>[^<]*<\/output>/, `<output>${output}</output>`);
    });
}

/** What cloud-init prints after the user data: the instance's SSH host keys (a recorded boot's block). */
const bootText = fs.readFileSync(path.join(__dirname, "fixtures", "console-host-keys.txt"), "utf8");
const HOST_KEY_BLOCK = bootText.slice(bootText.indexOf("-----BEGIN SSH HOST KEY KEYS-----"), bootText.indexOf("-----END SSH HOST KEY KEYS-----") + 31);
const probeLine = (id: string, dns: string) => `${CONSOLE_MARKER} instance-id=${id} hostname=${dns.split(".")[0]}`;
const goodConsole = (id: string, dns: string) => `${probeLine(id, dns)}\n${HOST_KEY_BLOCK}`;

/** Probe instances and groups left in moto (not terminated / still existing). */
async function leftovers(): Promise<string[]> {
    const ec2 = new EC2.EC2Client({ region: "us-east-1", endpoint: fixture.moto.url, credentials: CREDENTIALS });
    try {
        const reservations = (await ec2.send(new EC2.DescribeInstancesCommand({ Filters: [{ Name: `tag:${DEEP_TAG}`, Values: ["dev"] }] }))).Reservations ?? [];
        const instances = reservations.flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== "terminated");
        const groups = ((await ec2.send(new EC2.DescribeSecurityGroupsCommand({}))).SecurityGroups ?? []).filter((g) => /^dev-doctor-/.test(g.GroupName ?? ""));
        return [...instances.map((i) => i.InstanceId ?? "?"), ...groups.map((g) => g.GroupId ?? "?")];
    } finally {
        ec2.destroy();
    }
}

function deepDoctor(extra: string[] = [], signal?: AbortSignal): Promise<DoctorRun> {
    return runDoctorJson(fixture.proxy.url, ["--deep", "--deep-timeout", "60", ...seed.config.flatMap((c) => ["--config", c]), ...extra], signal);
}

const line = rowStatus;

describe("doctor --deep on moto", () => {
    beforeEach(async () => {
        await fixture.reset();
        seed = await seedZCompute(fixture.moto.url);
    });

    it("answers the instance-only assumptions on a good cloud and removes its instance and group", async () => {
        fakeConsole(goodConsole);
        // moto deletes a group an instance uses; zCompute (like AWS) answers DependencyViolation.
        fixture.proxy.faults.push((c) =>
            c.action === "DeleteSecurityGroup" && fixture.proxy.calls.filter((x) => x.action === "TerminateInstances").length === 0
                ? { status: 400, code: "DependencyViolation", message: "resource has a dependent object" }
                : undefined,
        );
        const run = await deepDoctor();
        assert.equal(run.code, 0, run.err.join("\n"));
        assert.match(line(run, "metadata-options"), /^holds: RunInstances accepted them/);
        assert.match(line(run, "metadata-instance-id"), /^holds: metadata and API both say i-/);
        assert.match(line(run, "hostname"), /^holds: host name "ip-.*" matches the private DNS name/);
        assert.match(line(run, "in-use-error-codes"), /^holds: DeleteSecurityGroup of a group in use answered DependencyViolation/);
        assert.match(line(run, "bastion-bundle-port"), /^holds/);
        assert.match(line(run, "ssh-host-keys-console"), /^holds: the console of the probe i-\S+ .* shows 3 host key\(s\); it would pin ssh-ed25519 /);
        assert.match(line(run, "termination-protection"), /^holds: TerminateInstances refused the protected probe \(OperationNotPermitted\)/);
        // Protected, a refused terminate, lifted, then removed.
        const order = fixture.proxy.calls.filter((c) => ["ModifyInstanceAttribute", "TerminateInstances"].includes(c.action)).map((c) => c.action);
        assert.deepEqual(order.slice(0, 3), ["ModifyInstanceAttribute", "TerminateInstances", "ModifyInstanceAttribute"]);
        assert.equal(order.at(-1), "TerminateInstances");
        assert.deepEqual(await leftovers(), []);
        // Tagged at launch (instance only: a volume TagSpecification is what zCompute refuses).
        const run1 = fixture.proxy.calls.find((c) => c.action === "RunInstances");
        assert.equal(run1?.params.get("TagSpecification.1.ResourceType"), "instance");
        assert.equal(run1?.params.get("TagSpecification.2.ResourceType"), null);
    });

    it("metadata-options: a cloud that refuses them fails; the probe goes on without them", async () => {
        fakeConsole(goodConsole);
        fixture.proxy.faults.push((c) =>
            c.action === "RunInstances" && c.params.has("MetadataOptions.HttpTokens")
                ? { status: 400, code: "InvalidParameterValue", message: "MetadataOptions is not supported" }
                : undefined,
        );
        const run = await deepDoctor();
        assert.match(line(run, "metadata-options"), /^fails: RunInstances refused them: .*InvalidParameterValue/);
        assert.match(line(run, "metadata-instance-id"), /^holds/);
        assert.equal(run.code, 0, "not needed while requireMetadataTokens is false");
        const needed = await deepDoctor(["--config", "requireMetadataTokens=true"]);
        assert.equal(needed.code, 1, "needed once requireMetadataTokens is true");
        assert.deepEqual(await leftovers(), []);
    });

    it("termination-protection: a cloud that refuses the attribute fails the row (not needed) and the probe is still removed", async () => {
        fakeConsole(goodConsole);
        fixture.proxy.faults.push((c) =>
            c.action === "ModifyInstanceAttribute"
                ? { status: 400, code: "InvalidParameterValue", message: "disableApiTermination is not supported" }
                : undefined,
        );
        const run = await deepDoctor();
        assert.equal(run.code, 0, run.err.join("\n"));
        assert.match(line(run, "termination-protection"), /^fails: ModifyInstanceAttribute disableApiTermination was refused: .*not supported/);
        assert.deepEqual(await leftovers(), []);
    });

    it("metadata-instance-id and hostname: an instance that calls itself something else fails", async () => {
        fakeConsole(() => `${CONSOLE_MARKER} instance-id=i-0fromthemetadata hostname=k8s-master-sa-1`);
        const run = await deepDoctor();
        assert.match(line(run, "metadata-instance-id"), /^fails: metadata says "i-0fromthemetadata", the API i-/);
        assert.match(line(run, "hostname"), /^fails: host name "k8s-master-sa-1", private DNS name "ip-/);
    });

    it("in-use-error-codes and bastion-bundle-port: an unknown in-use code and a refused 8089 rule fail", async () => {
        fakeConsole(goodConsole);
        let first = true;
        fixture.proxy.faults.push((c) => {
            if (c.action === "DeleteSecurityGroup" && first) {
                first = false;
                return { status: 400, code: "GroupBusy", message: "the group is busy" };
            }
            return undefined;
        });
        fixture.proxy.faults.push((c) =>
            c.action === "AuthorizeSecurityGroupIngress" && c.params.get("IpPermissions.1.FromPort") === String(DOCTOR_BUNDLE_PORT)
                ? { status: 400, code: "InvalidParameterValue", message: "port not allowed" }
                : undefined,
        );
        const run = await deepDoctor();
        assert.match(line(run, "in-use-error-codes"), /^fails: .*answered GroupBusy, not one of the cleanup's in-use codes/);
        assert.match(line(run, "bastion-bundle-port"), /^fails: refused: .*port not allowed/);
        assert.equal(run.code, 1);
        assert.deepEqual(await leftovers(), []);
    });

    it("ssh-host-keys-console: a console without cloud-init's host-key block fails, needed while sshHostKeys is console", async () => {
        fakeConsole(probeLine);
        const run = await deepDoctor();
        assert.match(line(run, "metadata-instance-id"), /^holds/);
        assert.match(line(run, "ssh-host-keys-console"), /^fails: the console of the probe i-\S+ .* shows no complete -----BEGIN SSH HOST KEY KEYS----- block/);
        assert.equal(run.code, 1);
        // It waits a bounded number of polls for the block once the probe's line is there.
        assert.ok(fixture.proxy.calls.filter((c) => c.action === "GetConsoleOutput").length <= 14);
        const unpinned = await deepDoctor(["--config", "sshHostKeys=unpinned"]);
        assert.equal(unpinned.code, 0, "not needed with sshHostKeys unpinned");
        assert.deepEqual(await leftovers(), []);
    });

    it("a console that never shows the line leaves the instance-only rows at cannot-tell after the deadline, and still removes everything", async () => {
        const run = await deepDoctor();
        assert.match(line(run, "metadata-instance-id"), /^cannot-tell/);
        assert.match(line(run, "metadata-options"), /^holds/);
        assert.deepEqual(await leftovers(), []);
    });

    it("an error after the instance started still removes the instance and the group", async () => {
        fixture.proxy.faults.push((c) => (c.action === "GetConsoleOutput" ? { status: 500, code: "InternalError", message: "console broke" } : undefined));
        const run = await deepDoctor();
        assert.ok(
            run.err.some((l) => /stopped early: .*console broke/.test(l)),
            run.err.join("\n"),
        );
        assert.ok(run.err.some((l) => /terminated instance i-/.test(l)));
        assert.deepEqual(await leftovers(), []);
    });

    it("Ctrl-C (abort) right after the instance started removes the instance and the group", async () => {
        const controller = new AbortController();
        fixture.proxy.responses.push((c) => {
            if (c.action === "RunInstances") {
                controller.abort();
            }
            return undefined;
        });
        const cloud = new DoctorCloud({ baseUrl: fixture.proxy.url, ...CREDENTIALS });
        const { loadStackConfig } = await import("../config");
        const { resolveStackConfig, parseOverride } = await import("../tools/stack-config");
        const input = resolveStackConfig(
            "dev",
            seed.config.map((c) => parseOverride(c, false)),
        );
        const stack = loadStackConfig({ stack: "dev", values: input.values, secretKeys: input.secretKeys, env: ENV, placeholders: "allow" });
        try {
            const result = await new DeepProbe({
                stack,
                cloud,
                clock: new FakeClock(),
                signal: controller.signal,
                timeoutSeconds: 60,
                log: () => undefined,
            }).run();
            assert.match(result.error ?? "", /interrupted/);
            assert.ok(result.instanceId, "the instance had started");
            assert.deepEqual(result.leftovers, []);
            assert.equal(
                fixture.proxy.calls.some((c) => c.action === "GetConsoleOutput"),
                false,
                "nothing more after Ctrl-C than the removal",
            );
        } finally {
            cloud.destroy();
        }
        assert.deepEqual(await leftovers(), []);
    });
});

describe("the probe's user data and console line", () => {
    it("prints one marker line with the metadata instance-id (IMDSv2 token where required) and the host name", () => {
        const script = Buffer.from(probeUserData(), "base64").toString("utf8");
        assert.match(script, /^#!\/bin\/sh\n/);
        assert.match(script, /X-aws-ec2-metadata-token-ttl-seconds/);
        assert.match(script, /meta-data\/instance-id/);
        assert.deepEqual(parseConsole(`noise\n${CONSOLE_MARKER} instance-id=i-1 hostname=a\n${CONSOLE_MARKER} instance-id=i-2 hostname=b\n`), {
            instanceId: "i-2",
            hostname: "b",
        });
        assert.equal(parseConsole("nothing here"), undefined);
    });

    it("uses the bundle port the network opens on the bastion", async () => {
        const { BUNDLE_PORT } = await import("../infra/network");
        assert.equal(DOCTOR_BUNDLE_PORT, BUNDLE_PORT);
    });
});
