// `npm run doctor` (read-only checks) against moto_server seeded to look like a zCompute the dev
// stack can use, behind a proxy that breaks one assumption at a time: each check holds on the
// good cloud and fails on the cloud that breaks it.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { startDoctorProxy } from "./helpers/doctor-proxy";
import { DEV_EKSD_MINOR, DoctorSeed, seedZCompute } from "./helpers/doctor-seed";
import { DoctorRun, rowStatus, runDoctorJson } from "./helpers/doctor-run";
import { motoWithProxy } from "./helpers/moto-proxy";

const fixture = motoWithProxy(startDoctorProxy, (proxy) => proxy.clear());
let seed: DoctorSeed;

type Run = DoctorRun;

async function doctor(extra: string[] = [], options: { seedConfig?: boolean } = {}): Promise<Run> {
    const config = (options.seedConfig ?? true) ? seed.config.flatMap((c) => ["--config", c]) : [];
    return runDoctorJson(fixture.proxy.url, [...config, ...extra]);
}

const status = rowStatus;

describe("doctor against a moto zCompute (read-only)", () => {
    beforeEach(async () => {
        await fixture.reset();
        seed = await seedZCompute(fixture.moto.url);
    });

    it("answers every assumption on the good cloud: read-only ones hold, instance-only ones cannot tell without --deep, exit 0", async () => {
        const run = await doctor();
        assert.equal(run.code, 0, run.err.join("\n"));
        for (const id of [
            "credentials",
            "provider-ca-trust",
            "describe-instances-filters",
            "nlb-interface-description",
            "classic-elb-path",
            "asg-instance-launch-configuration",
            "images",
            "key-pairs",
            "instance-types",
            "volume-type",
            "quotas",
            "existing-vpc",
        ]) {
            assert.match(status(run, id), /^holds/, id);
        }
        for (const id of ["metadata-options", "metadata-instance-id", "hostname", "in-use-error-codes", "bastion-bundle-port"]) {
            assert.match(status(run, id), /^cannot-tell: .*--deep/, id);
        }
        // Plain http (the proxy): no certificate to check. Never checkable here: IAM conditions, terminate-with-decrement.
        assert.match(status(run, "api-tls"), /^cannot-tell: .*plain http/);
        assert.match(status(run, "iam-condition-keys"), /^cannot-tell/);
        assert.match(status(run, "asg-terminate-decrement"), /^cannot-tell/);
        // Read-only: nothing was created, changed or deleted.
        assert.deepEqual(
            fixture.proxy.calls.filter((c) => !/^(Describe|Get)/.test(c.action)).map((c) => c.action),
            [],
        );
    });

    it("credentials: a key the cloud refuses fails and the doctor exits 1", async () => {
        fixture.proxy.faults.push((c) =>
            c.action === "GetCallerIdentity"
                ? { status: 403, code: "InvalidClientTokenId", message: "The security token included in the request is invalid" }
                : undefined,
        );
        const run = await doctor();
        assert.match(status(run, "credentials"), /^fails: .*InvalidClientTokenId/);
        assert.equal(run.code, 1);
    });

    it("describe-instances-filters: a cloud that refuses the instance-id filter fails", async () => {
        fixture.proxy.faults.push((c) =>
            c.action === "DescribeInstances" && c.params.get("Filter.1.Name") === "instance-id"
                ? { status: 400, code: "InvalidParameterValue", message: "The filter 'instance-id' is invalid" }
                : undefined,
        );
        const run = await doctor();
        assert.match(status(run, "describe-instances-filters"), /^fails: refused: .*InvalidParameterValue/);
        assert.equal(run.code, 1);
    });

    it("describe-instances-filters: a cloud that ignores the filters fails (it would mistake other instances for the recorded one)", async () => {
        fixture.proxy.requests.push((c) => {
            if (c.action !== "DescribeInstances") {
                return undefined;
            }
            const kept = new URLSearchParams();
            c.params.forEach((value, key) => {
                if (!key.startsWith("Filter.")) {
                    kept.append(key, value);
                }
            });
            return kept;
        });
        const run = await doctor();
        assert.match(status(run, "describe-instances-filters"), /^fails: .*filters are ignored/);
    });

    it("nlb-interface-description: an NLB whose interface carries another description fails", async () => {
        fixture.proxy.requests.push((c) => {
            if (c.action !== "DescribeNetworkInterfaces" || !c.params.has("Filter.1.Value.1")) {
                return undefined;
            }
            const changed = new URLSearchParams(c.params);
            changed.set("Filter.1.Value.1", `zCompute ${c.params.get("Filter.1.Value.1")}`);
            return changed;
        });
        const run = await doctor();
        assert.match(status(run, "nlb-interface-description"), /^fails: no interface listed by description for NLB\(s\) dev-eksd-masters-3f2a/);
    });

    it("nlb-interface-description: a cloud that refuses a description filter fails", async () => {
        fixture.proxy.faults.push((c) =>
            c.action === "DescribeNetworkInterfaces" && c.params.get("Filter.1.Name") === "description"
                ? { status: 400, code: "InvalidParameterValue", message: "The filter 'description' is invalid" }
                : undefined,
        );
        const run = await doctor();
        assert.match(status(run, "nlb-interface-description"), /^fails: a description filter is refused/);
    });

    it("classic-elb-path: a cloud without the classic ELB API under elbv2 fails", async () => {
        fixture.proxy.faults.push((c) =>
            c.service === "elbv2" && c.params.get("Version") === "2012-06-01" ? { status: 400, code: "InvalidAction", message: "not implemented" } : undefined,
        );
        const run = await doctor();
        assert.match(status(run, "classic-elb-path"), /^fails: .*InvalidAction/);
        assert.match(status(run, "nlb-interface-description"), /^holds/, "the ELBv2 API still answers");
    });

    it("asg-instance-launch-configuration: instances reported without LaunchConfigurationName fail", async () => {
        fixture.proxy.responses.push((c, body) =>
            c.action === "DescribeAutoScalingInstances" ? body.replace(/<LaunchConfigurationName>[^<]*<\/LaunchConfigurationName>/g, "") : undefined,
        );
        const run = await doctor();
        assert.match(status(run, "asg-instance-launch-configuration"), /^fails: 1 of 1 ASG instance\(s\) report no launch configuration/);
    });

    it("images, key pairs, instance types: what does not exist fails, each naming the key", async () => {
        const run = await doctor([
            "--config",
            "workerAmiId=ami-0000000000000abcd",
            "--config",
            "nodeKeyName=nobodys-key",
            "--config",
            "bastionInstanceType=z9.huge",
        ]);
        assert.match(status(run, "images"), /^fails: ami-0000000000000abcd \(nodeGroups\.workers\.amiId\) does not exist/);
        assert.match(status(run, "key-pairs"), /^fails: no key pair named nobodys-key/);
        assert.match(status(run, "instance-types"), /^fails: unknown instance type\(s\): z9\.huge/);
        assert.equal(run.code, 1);
    });

    it("images: an EKS-D image tagged with another minor fails", async () => {
        await fixture.moto.reset();
        seed = await seedZCompute(fixture.moto.url, { eksdTag: "1.29.9" });
        const run = await doctor();
        assert.match(status(run, "images"), new RegExp(`^fails: .*tagged eksd-version=1\\.29\\.9, not EKS-D ${DEV_EKSD_MINOR.replace(".", "\\.")}`));
    });

    it("volume-type: a type no volume uses yet cannot be told read-only", async () => {
        const run = await doctor(["--config", "volumeType=io1"]);
        assert.match(status(run, "volume-type"), /^cannot-tell: no volume of type io1 exists yet \(types in use: gp2\)/);
    });

    it("quotas: more planned instances than max-instances fails", async () => {
        const run = await doctor(["--config", "nodeGroups.workers.maxSize=40"]);
        assert.match(status(run, "quotas"), /^fails: 1 running \+ 43 planned instances > max-instances 20/);
    });

    it("existing-vpc: holds for the seeded VPC, fails for a subnet it does not have", async () => {
        const good = { vpcId: seed.vpcId, publicSubnetId: seed.publicSubnetId, privateSubnetId: seed.privateSubnetId };
        const run = await doctor(["--config", `existingVpc=${JSON.stringify(good)}`]);
        assert.match(status(run, "existing-vpc"), new RegExp(`^holds: VPC ${seed.vpcId} with both subnets`));
        const bad = await doctor(["--config", `existingVpc=${JSON.stringify({ ...good, privateSubnetId: "subnet-0000000000000dead" })}`]);
        assert.match(status(bad, "existing-vpc"), /^fails: subnet subnet-0000000000000dead does not exist/);
        assert.equal(bad.code, 1);
    });

    it("a check whose call breaks answers cannot-tell with the error; the other rows still answer", async () => {
        fixture.proxy.faults.push((c) => (c.action === "DescribeAccountAttributes" ? { status: 500, code: "InternalError", message: "boom" } : undefined));
        const run = await doctor();
        assert.match(status(run, "quotas"), /^cannot-tell: the check's call failed: .*InternalError/);
        assert.match(status(run, "images"), /^holds/);
    });
});
