// Every bad configuration the typed-config issue names is refused with a clear message: the
// key, the bad value and a fix.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { VERSION_TABLE } from "../addons/versions";
import { EKSD_RELEASES } from "../cluster/versions";
import { loadStackConfig } from "../config";
import { parseOverride, readPreviousState, resolveStackConfig } from "../tools/stack-config";
import { expectProblem, loadWith, problemsWith } from "./helpers/config-fixture";

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
        const problems = problemsWith({ "kubernetes:context": "x", cni: "weave" });
        assert.deepEqual(
            problems.filter((p) => p.startsWith("kubernetes:")),
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

/** The catalog's newest tag of a minor, split: [patch, release number]. */
function catalogTag(minor: string): { tag: string; patch: number; release: number; version: string } {
    const tag = EKSD_RELEASES[minor].kubernetesVersion;
    const match = /^v(\d+\.\d+)\.(\d+)-eks-\d+-\d+-(\d+)$/.exec(tag);
    assert.ok(match, tag);
    return { tag, version: match[1], patch: Number(match[2]), release: Number(match[3]) };
}

describe("issue 20 item 7: bad inputs accepted before", () => {
    const minor = "1.33";
    const known = catalogTag(minor);
    const other = catalogTag("1.32");

    it("kubernetesVersion tags no EKS-D release has (checked against the catalog)", () => {
        expectProblem(
            problemsWith({ eksdVersion: minor, kubernetesVersion: `v${minor}.${known.patch + 80}-eks-1-33-${known.release}` }),
            "kubernetesVersion",
            "is newer than the newest EKS-D 1.33 release this program knows",
            `Fix: pulumi config set kubernetesVersion ${known.tag}`,
        );
        expectProblem(
            problemsWith({ eksdVersion: minor, kubernetesVersion: `v${minor}.${known.patch}` }),
            "kubernetesVersion",
            "has no EKS-D release suffix",
            known.tag,
        );
        expectProblem(
            problemsWith({ eksdVersion: minor, kubernetesVersion: `v${minor}.${known.patch}-eks-1-32-${other.release}` }),
            "kubernetesVersion",
            "carries the release suffix of EKS-D 1.32, not 1.33",
            "Fix:",
        );
        expectProblem(
            problemsWith({ eksdVersion: minor, kubernetesVersion: `v${minor}.${known.patch}-eks-1-33-${known.release + 1}` }),
            "kubernetesVersion",
            "is newer than the newest",
        );
        // The catalog's own tag and an older release of the same minor load.
        assert.equal(loadWith({ eksdVersion: minor, kubernetesVersion: known.tag }).cluster.kubernetesVersion, known.tag);
        const older = `v${minor}.${Math.max(0, known.patch - 1)}-eks-1-33-${known.release - 1}`;
        assert.equal(loadWith({ eksdVersion: minor, kubernetesVersion: older }).cluster.kubernetesVersion, older);
    });

    it("aws:region and other default-provider keys, which the program never reads", () => {
        const problems = problemsWith({ "aws:region": "eu-west-1", "aws:accessKey": "AK" });
        expectProblem(problems, "aws:region", "is not read", "zCompute provider", "Fix: pulumi config rm aws:region");
        expectProblem(problems, "aws:accessKey", "Fix: pulumi config rm aws:accessKey, then pulumi config set --secret accessKey <key>");
    });

    it("non-hex AMI ids", () => {
        expectProblem(problemsWith({ workerAmiId: "ami-0worker01xyz" }), "workerAmiId", '"ami-0worker01xyz" is not an image id', "hex digits", "Fix:");
        expectProblem(
            problemsWith(groups({ gpu: { amiId: "ami-zzzzzzzzzz" } })),
            "nodeGroups.gpu.amiId",
            "only hex digits",
            "pulumi config set --path 'nodeGroups.gpu.amiId'",
        );
    });

    it("the same taint twice", () => {
        const taint = { key: "dedicated", value: "gpu", effect: "NoSchedule" };
        expectProblem(
            problemsWith(groups({ workers: { taints: [taint, { ...taint, value: "other" }] } })),
            "nodeGroups.workers.taints[1]",
            "dedicated with effect NoSchedule is given twice",
            "Fix: pulumi config rm --path 'nodeGroups.workers.taints[1]'",
        );
    });

    it("a user tag Name, which every resource's own Name overwrote", () => {
        expectProblem(
            problemsWith({ tags: JSON.stringify({ Name: "mine" }) }),
            "tags.Name",
            '"mine" would be overwritten',
            "Fix: pulumi config rm --path 'tags.Name'",
        );
    });

    it("a bastion SSH key that is not a key (its text is never echoed)", () => {
        const problem = expectProblem(
            problemsWith({ bastionSshPrivateKey: "hunter2-not-a-key" }),
            "bastionSshPrivateKey",
            "is not a private key",
            'Fix: pulumi config set --secret bastionSshPrivateKey -- "$(cat <key file>.pem)"',
        );
        assert.doesNotMatch(problem, /hunter2/);
    });

    it("maxSurge above maxSize", () => {
        expectProblem(
            problemsWith(groups({ workers: { maxSize: 2, maxSurge: 3 } })),
            "nodeGroups.workers.maxSurge",
            "3 is above the group's maxSize 2",
            "Fix: pulumi config set --path 'nodeGroups.workers.maxSurge' 2",
        );
    });

    it("an add-on chart version no release can have (form checked against the catalog's pin)", () => {
        const pins = VERSION_TABLE["1.33"].versions;
        const overrides = (o: unknown) => ({ eksdVersion: "1.33", addonOverrides: JSON.stringify(o) });
        expectProblem(
            problemsWith(overrides({ ebsCsi: { version: "latest" } })),
            "addonOverrides.ebsCsi.version",
            '"latest" is not a release version of ebsCsi',
            `written like ${pins.ebsCsi}`,
            "Fix: pulumi config set --path 'addonOverrides.ebsCsi.version'",
        );
        // The other spelling of the leading v: the chart repository has no such version.
        const otherSpelling = pins.calico.startsWith("v") ? pins.calico.slice(1) : `v${pins.calico}`;
        expectProblem(problemsWith(overrides({ calico: { version: otherSpelling } })), "addonOverrides.calico.version", "is not a release version of calico");
        assert.equal(loadWith(overrides({ ebsCsi: { version: pins.ebsCsi } })).addons.overrides.ebsCsi?.version, pins.ebsCsi);
    });

    it("a join-token lifetime shorter than the autoscaler needs", () => {
        expectProblem(
            problemsWith({ autoscaler: "true", workerJoinTokenTtlHours: "12" }),
            "workerJoinTokenTtlHours",
            "12 is shorter than the autoscaler needs",
            "Fix: pulumi config set workerJoinTokenTtlHours 48 or more",
        );
        assert.equal(loadWith({ autoscaler: "false", workerJoinTokenTtlHours: "12" }).cluster.workerJoinTokenTtlHours, 12);
        assert.equal(loadWith({ autoscaler: "true" }).cluster.workerJoinTokenTtlHours, 168);
    });

    it("a root CA over the ConfigMap limit", () => {
        const pem = `-----BEGIN CERTIFICATE-----\n${"A".repeat(1024 * 1024)}\n-----END CERTIFICATE-----\n`;
        // The CA-bundle bound (64 KiB) is far below the ConfigMap's 1 MiB, so it answers first.
        expectProblem(problemsWith({ rootCaCert: pem }), "rootCaCert", "above the 65536 a CA bundle needs", "Fix:");
    });

    it("a --previous file that is missing, not JSON, a list, or not this program's outputs", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "previous-"));
        const file = (name: string, text: string) => {
            fs.writeFileSync(path.join(dir, name), text);
            return path.join(dir, name);
        };
        try {
            const cases: Array<[string, RegExp]> = [
                [path.join(dir, "missing.json"), /missing\.json: no such file\. Fix: save the running stack's outputs/],
                [file("bad.json", "{oops"), /bad\.json: is not JSON \(/],
                [file("list.json", "[]"), /list\.json: is a list, not the JSON object of a stack's outputs/],
                [file("other.json", '{"kubeconfig": "x"}'), /other\.json: has no "lifecycle" output.*would skip the day-2 change rules/],
            ];
            for (const [name, message] of cases) {
                assert.throws(() => readPreviousState(name), message);
            }
            assert.deepEqual(readPreviousState(file("ok.json", '{"lifecycle": {}}')).outputs, { lifecycle: {} });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("podCidr in link-local space, serviceCidr in loopback", () => {
        expectProblem(
            problemsWith({ podCidr: "169.254.0.0/16" }),
            "podCidr",
            "overlaps 169.254.0.0/16, the link-local",
            "Fix: pulumi config set podCidr 10.244.0.0/16",
        );
        expectProblem(
            problemsWith({ serviceCidr: "127.0.0.0/16" }),
            "serviceCidr",
            "overlaps 127.0.0.0/8, the loopback",
            "Fix: pulumi config set serviceCidr 10.96.0.0/12",
        );
    });
});

describe("issue 20 item 7: unclear messages made clear", () => {
    it("numeric limits are the setting's own, never 9007199254740991 or null", () => {
        const huge = problemsWith({ controlPlaneVolumeSize: "1e300", workerJoinTokenTtlHours: "1e400" });
        assert.ok(!huge.some((p) => /9007199254740991|\bnull\b/.test(p)), huge.join("\n"));
        expectProblem(huge, "controlPlaneVolumeSize", "is above the maximum 16384");
        expectProblem(huge, "workerJoinTokenTtlHours", "Infinity (too large to be a number)", "Fix:");
    });

    it("--config key without =value", () => {
        assert.throws(() => parseOverride("cni", false), /^Error: "cni" has no value\. Fix: write cni=<value>/);
        assert.throws(() => parseOverride("=calico", false), /has no key\. Fix: write <key>=<value>/);
    });

    it('Pulumi\'s quoted path syntax labels["kubernetes.io/role"]', () => {
        const input = resolveStackConfig("dev", [parseOverride('nodeGroups.workers.labels["node.kubernetes.io/role"]=worker', false)]);
        assert.deepEqual(JSON.parse(input.values["zadara-eksd:nodeGroups"]).workers.labels, { "node.kubernetes.io/role": "worker" });
        assert.throws(
            () => resolveStackConfig("dev", [parseOverride('nodeGroups.workers.labels["x=y', false)]),
            /write names with dots as \["name\.with\/dots"\]/,
        );
    });

    describe("stack files", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "stack-files-"));
        const write = (stack: string, text: string) => fs.writeFileSync(path.join(root, `Pulumi.${stack}.yaml`), text);

        it("duplicate YAML keys name the key and the line", () => {
            write("dup", "config:\n  zadara-eksd:cni: flannel\n  zadara-eksd:cni: calico\n");
            assert.throws(
                () => resolveStackConfig("dup", [], { root }),
                /Pulumi\.dup\.yaml:3: the key "zadara-eksd:cni" is set twice in the same map.*Fix: keep one/,
            );
        });

        it("a namespaced and an unqualified spelling of the same key", () => {
            write("twice", "config:\n  cni: flannel\n  zadara-eksd:cni: calico\n");
            assert.throws(
                () => resolveStackConfig("twice", [], { root }),
                /Pulumi\.twice\.yaml:3: "zadara-eksd:cni" sets zadara-eksd:cni again \(already set at \S*Pulumi\.twice\.yaml:2\)\. Fix: keep one/,
            );
        });

        it("YAML anchors, aliases and merge keys resolve as Pulumi resolves them", () => {
            write(
                "alias",
                "config:\n  zadara-eksd:tags: &team\n    team: a\n  zadara-eksd:nodeGroups:\n    workers:\n      <<: {minSize: 1}\n      maxSize: 4\n      labels: *team\n",
            );
            const values = resolveStackConfig("alias", [], { root }).values;
            assert.deepEqual(JSON.parse(values["zadara-eksd:nodeGroups"]), { workers: { minSize: 1, maxSize: 4, labels: { team: "a" } } });
            fs.rmSync(root, { recursive: true, force: true });
        });
    });
});

describe("issue 21 item 2: the example stacks' placeholders", () => {
    for (const stack of ["dev", "prod"]) {
        it(`Pulumi.${stack}.yaml as shipped is refused by the program, naming each placeholder and what to set`, () => {
            const input = resolveStackConfig(stack);
            let problems: string[] = [];
            try {
                loadStackConfig({ stack, values: input.values, secretKeys: input.secretKeys, env: {} });
            } catch (error) {
                problems = (error as { problems: string[] }).problems;
            }
            expectProblem(
                problems,
                "apiEndpoint",
                '"cloud.example.com" is the example host name',
                "Fix: pulumi config set apiEndpoint <your zCompute API host>",
            );
            expectProblem(problems, "bastionAmiId", "an example image id", "Fix: pulumi config set bastionAmiId ami-<Ubuntu 22.04 image id of your cloud>");
            expectProblem(problems, "bastionKeyName", '"REPLACE-bastion-keypair" is a REPLACE marker', "<a key pair name of your cloud>");
            expectProblem(problems, "nodeKeyName", "a REPLACE marker");
            expectProblem(problems, "workerAmiId", "an example image id");
            if (stack === "prod") {
                expectProblem(problems, "bastionSshCidrs[0]", '"198.51.100.0/24" is the example network', "Fix: pulumi config set --path 'bastionSshCidrs[0]'");
                expectProblem(problems, "etcdBackupBucket", "a REPLACE marker");
                expectProblem(problems, "etcdBackupEndpoint", "the example host name");
            }
            // The offline plan runs on them (it says so: tools/plan.ts).
            loadStackConfig({ stack, values: input.values, secretKeys: input.secretKeys, env: {}, placeholders: "allow" });
        });
    }
});
