// Every bad configuration the typed-config issue names is refused with a clear message: the
// key, the bad value and a fix.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectProblem, problemsWith } from "./helpers/config-fixture";

const groups = (value: unknown) => ({ nodeGroups: JSON.stringify(value) });

describe("the issue's bad configurations", () => {
    it("apiEndpoint 123 (was https://0.0.0.123)", () => {
        expectProblem(
            problemsWith({ apiEndpoint: "123" }),
            "apiEndpoint",
            '"123"',
            "not a host name or https URL",
            "Fix: pulumi config set apiEndpoint cloud.example.com",
        );
    });

    it("serviceCidr 172.0.0.0/8 (kube-apiserver refuses more than /12)", () => {
        expectProblem(problemsWith({ serviceCidr: "172.0.0.0/8" }), "serviceCidr", '"172.0.0.0/8"', "larger than /12", "Fix: use a /12 or smaller network");
    });

    it("podCidr /24 (one node's worth of pod addresses)", () => {
        expectProblem(
            problemsWith({ podCidr: "10.244.0.0/24" }),
            "podCidr",
            "10.244.0.0/24 holds 1 node pod range",
            "4) + 1 control-plane node(s) = 5 nodes",
            "Fix: use a /21 or larger",
        );
    });

    it("maxSize 1000000 and worker volumeSize 100000 (no upper bound)", () => {
        const problems = problemsWith(groups({ workers: { maxSize: 1000000, volumeSize: 100000 } }));
        expectProblem(problems, "nodeGroups.workers.maxSize", "1000000 is above the maximum 1000", "Fix: set it to 1000 or less");
        expectProblem(problems, "nodeGroups.workers.volumeSize", "100000 is above the maximum 16384", "Fix: set it to 16384 or less");
    });

    it("400 labels (407 ASG tags, the limit is 50)", () => {
        const labels = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`l${i}`, "x"]));
        expectProblem(
            problemsWith(groups({ workers: { labels } })),
            "nodeGroups.workers",
            "407 ASG tags",
            "limit of 50",
            "Fix: keep at most 43 labels + taints",
        );
    });

    it("instanceType 8 (was replaced by the default)", () => {
        expectProblem(
            problemsWith(groups({ workers: { instanceType: 8 } })),
            "nodeGroups.workers.instanceType",
            "8 is a whole number, expected a string",
            "Fix: pulumi config set --path 'nodeGroups.workers.instanceType' z8.large",
        );
    });

    it("amiId 12345678 (was replaced by the default)", () => {
        expectProblem(
            problemsWith(groups({ workers: { amiId: 12345678 } })),
            "nodeGroups.workers.amiId",
            "12345678 is a whole number, expected a string",
            "Fix: pulumi config set --path 'nodeGroups.workers.amiId' ami-",
        );
    });

    it("a whole group given as a string (was replaced by the defaults)", () => {
        expectProblem(
            problemsWith(groups({ workers: "big" })),
            "nodeGroups.workers",
            '"big" is a string, expected a map',
            "Fix: pulumi config set --path 'nodeGroups.workers.instanceType' z8.large",
        );
    });

    it("minSize true (became 1)", () => {
        expectProblem(
            problemsWith(groups({ workers: { minSize: true } })),
            "nodeGroups.workers.minSize",
            "true is a boolean, expected a whole number",
            "Fix: pulumi config set --path 'nodeGroups.workers.minSize' 1",
        );
    });

    it("a typo in the namespace (zadara_eksd:cni, zadara-eks:cni) was ignored", () => {
        const problems = problemsWith({ "zadara_eksd:cni": "calico", "zadara-eks:cni": "calico" });
        expectProblem(problems, "zadara_eksd:cni", 'namespace "zadara_eksd"', 'did you mean "zadara-eksd:cni"', "Fix: pulumi config rm 'zadara_eksd:cni'");
        expectProblem(problems, "zadara-eks:cni", 'did you mean "zadara-eksd:cni"');
    });

    it("providers' own namespaces are not typos", () => {
        const problems = problemsWith({ "aws:region": "us-east-1", cni: "weave" });
        assert.deepEqual(
            problems.filter((p) => p.startsWith("aws:")),
            [],
        );
    });

    it('instance type "z4.large; reboot" was never checked', () => {
        expectProblem(
            problemsWith({ controlPlaneInstanceType: "z4.large; reboot" }),
            "controlPlaneInstanceType",
            '"z4.large; reboot" is not an instance type',
            "Fix: pulumi config set controlPlaneInstanceType z4.large",
        );
        expectProblem(problemsWith({ bastionInstanceType: "Z2.medium" }), "bastionInstanceType", "not an instance type");
        expectProblem(problemsWith(groups({ workers: { instanceType: "z8" } })), "nodeGroups.workers.instanceType", '"z8" is not an instance type');
    });
});
