// The cleanup command against moto_server (behind a proxy that serves zCompute's paths and
// injects faults), seeded with what each controller leaves behind.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { explain, runCli } from "./helpers/cleanup-run";
import { motoBehindProxy } from "./helpers/moto-proxy";
import { existingIds, seed, Seed } from "./helpers/moto-seed";

const cloud = motoBehindProxy();

function baseArgs(s: Seed): string[] {
    return ["--stack", "dev", "--endpoint-url", cloud.proxy.url, "--timeout", "120", "--keep", s.apiNlbArn, "--keep", s.stackSecurityGroups.join(",")];
}

const deletes = () => cloud.proxy.calls.filter((c) => /^(Delete|Revoke|Detach)/.test(c.action));

describe("cleanup against moto", () => {
    let s: Seed;
    beforeEach(() => cloud.reset());

    it("removes every resource the controllers left, touches nothing else, and finds nothing on a second run", async () => {
        s = await seed(cloud.moto.url);
        const run = await runCli(baseArgs(s));
        assert.equal(run.code, 0, explain(run));
        const left = await existingIds(cloud.moto.url);
        assert.deepEqual(
            s.ours.filter((id) => left.has(id)),
            [],
            `leaks\n${explain(run)}`,
        );
        assert.deepEqual(
            s.collateral.filter((id) => !left.has(id)),
            [],
            `collateral damage\n${explain(run)}`,
        );
        // Every line names kind, id, owner tag and action.
        for (const id of s.ours) {
            assert.ok(
                run.stdout.some((l) => l.includes(id) && / (deleted|gone)/.test(l)),
                `no line for ${id}\n${explain(run)}`,
            );
        }
        assert.ok(
            run.stdout.some((l) => l.startsWith(`classic-elb a0f1e2d3c4b5a69788796a5b4c3d2e1f kubernetes.io/cluster/dev=owned deleted`)),
            explain(run),
        );
        assert.match(run.stdout.at(-1)!, /^deleted \d+, removed by their controllers 0, kept 0, remaining 0/);
        // The CCM rule in the stack's node SG was revoked before its SG went; the node SG stays.
        const revoke = cloud.proxy.calls.findIndex((c) => c.action === "RevokeSecurityGroupIngress" && c.params.get("GroupId") === s.nodeSecurityGroup);
        const sgDelete = cloud.proxy.calls.findIndex((c) => c.action === "DeleteSecurityGroup" && c.params.get("GroupId") === s.ccmSecurityGroup);
        assert.ok(revoke >= 0 && revoke < sgDelete, explain(run));
        // Security groups only once no load balancer holds them.
        const lastLbDelete = Math.max(...cloud.proxy.calls.map((c, i) => (c.action === "DeleteLoadBalancer" ? i : -1)));
        const firstSgDelete = cloud.proxy.calls.findIndex((c) => c.action === "DeleteSecurityGroup");
        assert.ok(lastLbDelete < firstSgDelete, "security groups go after the load balancers");

        cloud.proxy.calls.length = 0;
        const again = await runCli(baseArgs(s));
        assert.equal(again.code, 0, explain(again));
        assert.deepEqual(deletes(), [], "a second run deletes nothing");
        assert.match(again.stdout.at(-1)!, /^deleted 0, removed by their controllers 0, kept 0, remaining 0 \(1 round/);
    });

    it("--dry-run lists what it would delete and deletes nothing", async () => {
        s = await seed(cloud.moto.url);
        const before = await existingIds(cloud.moto.url);
        const run = await runCli([...baseArgs(s), "--dry-run"]);
        assert.equal(run.code, 1, "something of the cluster remains");
        assert.deepEqual(deletes(), []);
        assert.deepEqual([...(await existingIds(cloud.moto.url))].sort(), [...before].sort());
        assert.ok(
            run.stdout.some((l) => /^load-balancer \S+k8s-shop-web\S+ \(k8s-shop-web-aa11bb22cc\) elbv2\.k8s\.aws\/cluster=dev would delete$/.test(l)),
            explain(run),
        );
        assert.ok(
            run.stdout.some((l) => /^security-group \S+ \(k8s-elb-a0f1\S+\) kubernetes\.io\/cluster\/dev=owned would delete: after: classic ELB/.test(l)),
            explain(run),
        );
        assert.match(run.stdout.at(-1)!, /^would delete 1[0-9], /);
    });

    it("retries a DependencyViolation with backoff until the group can go", async () => {
        s = await seed(cloud.moto.url);
        let refusals = 0;
        cloud.proxy.faults.push((call) => {
            if (call.action === "DeleteSecurityGroup" && call.params.get("GroupId") === s.ccmSecurityGroup && refusals < 3) {
                refusals++;
                return { status: 400, code: "DependencyViolation", message: `resource ${s.ccmSecurityGroup} has a dependent object` };
            }
            return undefined;
        });
        const run = await runCli(baseArgs(s));
        assert.equal(run.code, 0, explain(run));
        assert.equal(refusals, 3);
        assert.equal(cloud.proxy.calls.filter((c) => c.action === "DeleteSecurityGroup" && c.params.get("GroupId") === s.ccmSecurityGroup).length, 4);
        assert.equal(
            run.stderr.filter((l) => l.includes(`security-group ${s.ccmSecurityGroup}: still in use (ec2:DeleteSecurityGroup: DependencyViolation`)).length,
            1,
            "one message per distinct error, not one per retry",
        );
        // Backoff on the fake clock: 1 s, then 2 s, then capped by the poll interval (3 s).
        assert.deepEqual(run.clock.sleeps.slice(0, 3), [1000, 2000, 3000]);
    });

    it("never force-detaches: at the deadline it exits 1 with a table of what remains and the commands", async () => {
        s = await seed(cloud.moto.url, { attachedVolume: true });
        const attached = s.ours.at(-1)!;
        const run = await runCli([...baseArgs(s), "--timeout", "30"]);
        assert.equal(run.code, 1, explain(run));
        assert.equal(cloud.proxy.calls.filter((c) => c.action === "DetachVolume").length, 0, "no detach");
        assert.ok(run.clock.time - 1_000_000 <= 30_000, `overran the deadline: ${run.clock.time - 1_000_000} ms`);
        assert.ok(
            run.stdout.some((l) => l.startsWith(`volume ${attached} kubernetes.io/cluster/dev=owned remains: attached to ${s.instanceId}`)),
            explain(run),
        );
        const table = run.stderr.join("\n");
        assert.match(table, /DEADLINE: 1 resource\(s\) of cluster dev remain after 30s/);
        assert.ok(
            table.includes(
                `aws --region us-east-1 --endpoint-url ${cloud.proxy.url}/api/v2/aws/ec2 --no-verify-ssl ec2 detach-volume --volume-id ${attached} --instance-id ${s.instanceId}`,
            ),
            table,
        );
        assert.ok(table.includes(`ec2 delete-volume --volume-id ${attached}`));
        const left = await existingIds(cloud.moto.url);
        assert.deepEqual(
            s.ours.filter((id) => left.has(id)),
            [attached],
            "everything else went",
        );
    });

    it("names the failing call when the cloud API keeps failing, and gives up at the deadline", async () => {
        s = await seed(cloud.moto.url);
        cloud.proxy.faults.push((call) =>
            call.action === "DescribeVolumes" ? { status: 503, code: "ServiceUnavailable", message: "zCompute is busy" } : undefined,
        );
        const run = await runCli([...baseArgs(s), "--timeout", "20"]);
        assert.equal(run.code, 1, explain(run));
        assert.ok(
            run.stderr.some((l) => /listing the cloud failed \(ec2:DescribeVolumes: ServiceUnavailable/.test(l)),
            explain(run),
        );
        assert.deepEqual(deletes(), [], "nothing is deleted on a partial view");
    });

    for (const fault of [
        { status: 401, code: "AuthFailure", message: "AWS was not able to validate the provided access credentials" },
        { status: 403, code: "InvalidClientTokenId", message: "The security token included in the request is invalid" },
    ]) {
        it(`stops at once when the cloud refuses the credentials (${fault.code}), and never reports clean`, async () => {
            s = await seed(cloud.moto.url);
            cloud.proxy.faults.push(() => fault);
            for (const extra of [[], ["--dry-run"]]) {
                cloud.proxy.calls.length = 0;
                const run = await runCli([...baseArgs(s), ...extra]);
                assert.equal(run.code, 3, explain(run));
                assert.ok(
                    run.stderr.some((l) => l.startsWith("STOPPED: listing the cloud:") && l.includes(`the cloud refused the credentials (${fault.code})`)),
                    explain(run),
                );
                assert.deepEqual(run.clock.sleeps, [], "no retry: a refused key stays refused");
                assert.ok(cloud.proxy.calls.length <= 10, `one look, not retries until the deadline: ${cloud.proxy.calls.length} calls`);
                assert.ok(!run.stdout.some((l) => /remaining 0/.test(l)), explain(run));
            }
            assert.deepEqual(deletes(), []);
        });
    }

    it("stops at once, dry run too, when the endpoint's host name does not resolve", async () => {
        const run = await runCli(["--stack", "dev", "--endpoint-url", "http://zcompute-endpoint.invalid", "--dry-run"]);
        assert.equal(run.code, 3, explain(run));
        assert.ok(
            run.stderr.some((l) => l.startsWith("STOPPED: listing the cloud:") && /host name does not resolve \((ENOTFOUND|EAI_AGAIN)/.test(l)),
            explain(run),
        );
        assert.deepEqual(run.clock.sleeps, []);
    });

    it("logs a rule that is already gone (NotFound on revoke) as gone, not as revoked", async () => {
        s = await seed(cloud.moto.url);
        cloud.proxy.faults.push((call) =>
            call.action === "RevokeSecurityGroupIngress"
                ? { status: 400, code: "InvalidPermission.NotFound", message: "The specified rule does not exist" }
                : undefined,
        );
        const run = await runCli(baseArgs(s));
        assert.equal(run.code, 0, explain(run));
        assert.ok(
            run.stderr.some((l) => l === `the ingress rule of ${s.nodeSecurityGroup} that referenced ${s.ccmSecurityGroup} was already gone`),
            explain(run),
        );
        assert.ok(!run.stderr.some((l) => /^revoked the ingress rule/.test(l)), explain(run));
    });

    it("a dry run whose listing keeps failing is not clean", async () => {
        s = await seed(cloud.moto.url);
        cloud.proxy.faults.push((call) =>
            call.action === "DescribeVolumes" ? { status: 503, code: "ServiceUnavailable", message: "zCompute is busy" } : undefined,
        );
        const run = await runCli([...baseArgs(s), "--dry-run", "--timeout", "20"]);
        assert.equal(run.code, 1, explain(run));
        assert.ok(
            run.stderr.some((l) => /the cloud could not be listed within 20s \(last error: ec2:DescribeVolumes: ServiceUnavailable/.test(l)),
            explain(run),
        );
    });
});
