// The bounds, the new keys and the rules across keys: one test per rule, each asserting the
// message (key, bad value, fix).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadStackConfig, secretKeysFromEnvironment } from "../config";
import { workerAsgTagKeys } from "../config/rules";
import { END_OF_LIFE_MINORS, EKSD_MINORS } from "../config/schema";
import { nodeGroupTags } from "../cluster/node-groups";
import { baseValues, expectProblem, loadWith, P, problemsWith } from "./helpers/config-fixture";

const groups = (value: unknown) => ({ nodeGroups: JSON.stringify(value) });

describe("new keys: defaults", () => {
    it("node group roll settings, admin credential, join token and hardening", () => {
        const model = loadWith();
        const workers = model.cluster.nodeGroups.workers;
        assert.deepEqual([workers.maxSurge, workers.maxUnavailable, workers.drainTimeoutSeconds], [1, 0, 600]);
        assert.equal(model.cluster.adminCredentialValidityHours, 8);
        assert.equal(model.cluster.workerJoinTokenTtlHours, 168);
        assert.equal(loadWith({ autoscaler: "false" }).cluster.workerJoinTokenTtlHours, 24);
        assert.equal(loadWith({ workerJoinTokenTtlHours: "48" }).cluster.workerJoinTokenTtlHours, 48);
        assert.deepEqual(model.hardening, {
            auditLog: true,
            secretsEncryption: true,
            secretsEncryptionKeyVersion: 1,
            kubeletHardening: true,
            apiServerProfiling: false,
            requireMetadataTokens: false,
        });
        assert.equal(model.cluster.controlPlane.mode, "standalone");
    });
});

describe("bounds", () => {
    it("new keys' ranges", () => {
        expectProblem(
            problemsWith({ adminCredentialValidityHours: "721" }),
            "adminCredentialValidityHours",
            "721 is above the maximum 720",
            "Fix: set it to 720 or less",
        );
        expectProblem(problemsWith({ adminCredentialValidityHours: "1" }), "adminCredentialValidityHours", "1 is below the minimum 2");
        expectProblem(problemsWith({ workerJoinTokenTtlHours: "8761" }), "workerJoinTokenTtlHours", "8761 is above the maximum 8760");
        expectProblem(problemsWith({ workerJoinTokenTtlHours: "0" }), "workerJoinTokenTtlHours", "0 is below the minimum 1");
        expectProblem(problemsWith({ secretsEncryptionKeyVersion: "0" }), "secretsEncryptionKeyVersion", "0 is below the minimum 1");
        const problems = problemsWith(groups({ w: { maxSurge: 0, drainTimeoutSeconds: 10, cooldown: 4000, maxUnavailable: 5, maxSize: 3 } }));
        expectProblem(problems, "nodeGroups.w.maxSurge", "0 is below the minimum 1");
        expectProblem(problems, "nodeGroups.w.drainTimeoutSeconds", "10 is below the minimum 30");
        expectProblem(problems, "nodeGroups.w.cooldown", "4000 is above the maximum 3600");
        expectProblem(problemsWith(groups({ w: { maxUnavailable: 5, maxSize: 3 } })), "nodeGroups.w.maxUnavailable", "5 is above maxSize 3", "Fix:");
    });

    it("VPC and subnet prefixes /16 to /28", () => {
        expectProblem(problemsWith({ vpcCidr: "10.0.0.0/15" }), "vpcCidr", '"10.0.0.0/15" is a /15 network, outside /16 to /28', "Fix:");
        expectProblem(problemsWith({ privateSubnetCidr: "192.168.2.0/29" }), "privateSubnetCidr", "/29 network, outside /16 to /28");
        assert.equal(
            loadWith({ vpcCidr: "10.0.0.0/16", publicSubnetCidr: "10.0.0.0/28", privateSubnetCidr: "10.0.0.16/28" }).network.privateSubnetCidr,
            "10.0.0.16/28",
        );
    });

    it("service CIDR no larger than /12", () => {
        expectProblem(
            problemsWith({ serviceCidr: "10.96.0.0/11" }),
            "serviceCidr",
            "/11 network",
            "kube-apiserver refuses",
            "Fix: use a /12 or smaller network such as 10.96.0.0/12",
        );
        assert.equal(loadWith({ serviceCidr: "10.96.0.0/24" }).cluster.serviceCidr, "10.96.0.0/24");
    });

    it("pod CIDR holds every node's /24: the groups' summed maxSize plus the control plane", () => {
        const big = groups({ a: { maxSize: 200 }, b: { maxSize: 100, minSize: 0 } });
        expectProblem(
            problemsWith({ ...big, controlPlaneCount: "3" }),
            "podCidr",
            "10.244.0.0/16 holds 256 node pod ranges",
            "(300) + 3 control-plane node(s) = 303 nodes",
            "Fix: use a /15 or larger",
        );
        assert.equal(loadWith({ ...big, podCidr: "10.244.0.0/15" }).cluster.podCidr, "10.244.0.0/15");
        assert.equal(loadWith({ podCidr: "10.244.0.0/21" }).cluster.podCidr, "10.244.0.0/21");
    });

    it("at most 5000 nodes in all", () => {
        const many = groups(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`g${i}`, { maxSize: 1000 }])));
        expectProblem(problemsWith({ ...many, podCidr: "10.0.0.0/8" }), "nodeGroups", "6000 workers", "above Kubernetes' supported 5000", "Fix: lower maxSize");
    });
});

describe("ASG tag count", () => {
    it("counts exactly the tags cluster/node-groups.ts puts on a worker ASG", () => {
        const group = { labels: { a: "1", "example.com/b": "2" }, taints: [{ key: "gpu", value: "x", effect: "NoSchedule" as const }] };
        const userTags = { team: "x", Name: "overridden" };
        const real = nodeGroupTags("dev", "workers", { ...loadWith().cluster.nodeGroups.workers, ...group }, userTags);
        assert.deepEqual(workerAsgTagKeys("dev", userTags, group).sort(), Object.keys(real).sort());
    });

    it("refuses more than 50, counting user tags, labels and taints", () => {
        const labels = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`l${i}`, "x"]));
        const tags = JSON.stringify(Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`t${i}`, "x"])));
        expectProblem(problemsWith({ ...groups({ w: { labels } }), tags }), "nodeGroups.w", "51 ASG tags", "Fix: keep at most 39 labels + taints");
        assert.ok(loadWith({ ...groups({ w: { labels } }), tags: "{}" }));
    });
});

describe("rules with their messages", () => {
    it("controlPlaneMode asg is refused with the reason", () => {
        expectProblem(
            problemsWith({ controlPlaneMode: "asg" }),
            "controlPlaneMode",
            '"asg" is refused',
            "cannot receive the control-plane secrets",
            "Fix: pulumi config set controlPlaneMode standalone",
        );
    });

    it("end-of-life EKS-D minors are refused; the supported ones load", () => {
        for (const minor of END_OF_LIFE_MINORS) {
            expectProblem(
                problemsWith({ eksdVersion: minor }),
                "eksdVersion",
                `"${minor}" is past end of life`,
                `Fix: pulumi config set eksdVersion ${EKSD_MINORS[0]}`,
            );
        }
        for (const minor of EKSD_MINORS) {
            assert.equal(loadWith({ eksdVersion: minor }).cluster.eksdVersion, minor);
        }
    });

    it("endpoint is a host name or https URL", () => {
        assert.equal(loadWith({ apiEndpoint: "https://Cloud.Zcompute.Test:8443/" }).cloud.apiUrl, "https://cloud.zcompute.test:8443");
        assert.equal(loadWith({ apiEndpoint: "10.0.0.1" }).cloud.apiUrl, "https://10.0.0.1");
        expectProblem(problemsWith({ apiEndpoint: "http://cloud.example.com" }), "apiEndpoint", "uses http://", "only reached over https", "Fix:");
        expectProblem(problemsWith({ apiEndpoint: "1.2.3" }), "apiEndpoint", '"1.2.3" is not a host name');
        expectProblem(problemsWith({ apiEndpoint: "cloud.example.com:70000" }), "apiEndpoint", "port 70000");
        expectProblem(problemsWith({ apiEndpoint: "cloud.example.com/api" }), "apiEndpoint", "no path");
    });

    it("label and taint syntax", () => {
        expectProblem(problemsWith(groups({ w: { labels: { [`a${"b".repeat(63)}`]: "x" } } })), `nodeGroups.w.labels.a${"b".repeat(63)}`, "1-63 letters");
        expectProblem(
            problemsWith(groups({ w: { labels: { "Example.com/a": "x" } } })),
            "nodeGroups.w.labels.Example.com/a",
            'prefix "Example.com" is not a lowercase DNS subdomain',
        );
        expectProblem(problemsWith(groups({ w: { labels: { team: "a b" } } })), "nodeGroups.w.labels.team", 'label value "a b"', "Fix:");
        expectProblem(
            problemsWith(groups({ w: { taints: [{ key: "-bad", effect: "NoSchedule" }] } })),
            "nodeGroups.w.taints[0].key",
            'taint key "-bad" is not valid',
            "Fix:",
        );
        expectProblem(
            problemsWith(groups({ w: { taints: [{ key: "a", effect: "NoSchedule", extra: 1 }] } })),
            "nodeGroups.w.taints[0].extra",
            "not a known field",
        );
    });

    it("user tags follow the cloud's tag rules", () => {
        expectProblem(
            problemsWith({ tags: JSON.stringify({ "aws:x": "1" }) }),
            "zadara-eksd:tags.aws:x",
            "must be 1-128 characters and not start with aws:",
            "Fix:",
        );
        expectProblem(problemsWith({ tags: JSON.stringify({ a: "x".repeat(257) }) }), "tags.a", "longer than 256", "Fix:");
    });

    it("reports every problem at once, each naming its key", () => {
        const problems = problemsWith({
            vpcCidr: "nope",
            cni: "weave",
            controlPlaneCount: "2",
            apiEndpoint: "123",
            ...groups({ w: { minSize: true, instanceType: 8 } }),
            "zadara_eksd:x": "1",
            vpcCdir: "x",
        });
        assert.equal(problems.length, 8, problems.join("\n"));
    });

    it("cni and other lists suggest the closest choice", () => {
        expectProblem(
            problemsWith({ cni: "calcio" }),
            "cni",
            '"calcio" is not one of flannel, calico, cilium (did you mean "calico"?)',
            "Fix: pulumi config set cni calico",
        );
    });
});

describe("sshHostKeys", () => {
    it("defaults to console; unpinned is a choice; anything else names the key, the value and the fix", () => {
        assert.equal(loadWith().cluster.sshHostKeys, "console");
        assert.equal(loadWith({ sshHostKeys: "unpinned" }).cluster.sshHostKeys, "unpinned");
        expectProblem(
            problemsWith({ sshHostKeys: "consol" }),
            "sshHostKeys",
            '"consol" is not one of console, unpinned',
            "Fix: pulumi config set sshHostKeys console",
        );
        // A word for "on" is never answered with the nearest choice, which would turn pinning off.
        const pinned = problemsWith({ sshHostKeys: "pinned" });
        expectProblem(pinned, "sshHostKeys", '"pinned" is not a mode', "Fix: pulumi config set sshHostKeys console");
        assert.doesNotMatch(pinned.join("\n"), /set sshHostKeys unpinned/);
        expectProblem(problemsWith({ sshHostKeys: "off" }), "sshHostKeys", '"off" is not a mode', "sshHostKeys console", "unpinned");
    });

    it("unpinned is refused in production unless its rule is accepted", () => {
        const prod = { production: "true", bastionSshCidrs: '["10.20.0.0/16"]', apiAllowedCidrs: '["10.20.0.0/16"]', controlPlaneCount: "3" };
        expectProblem(
            problemsWith({ ...prod, sshHostKeys: "unpinned" }),
            "sshHostKeys",
            "unpinned",
            "ssh-host-keys-unpinned",
            "pulumi config set sshHostKeys console",
        );
        assert.equal(loadWith({ ...prod, sshHostKeys: "unpinned", acceptUnsafeProductionRules: '["ssh-host-keys-unpinned"]' }).cluster.sshHostKeys, "unpinned");
        assert.equal(loadWith({ ...prod, sshHostKeys: "console" }).cluster.sshHostKeys, "console");
    });
});

describe("secrets", () => {
    it("are detected through PULUMI_CONFIG_SECRET_KEYS, the language host's documented variable", () => {
        assert.deepEqual(secretKeysFromEnvironment({ PULUMI_CONFIG_SECRET_KEYS: '["zadara-eksd:accessKey"]' }), ["zadara-eksd:accessKey"]);
        assert.deepEqual(secretKeysFromEnvironment({}), []);
    });

    it("a secret stored in plain text is refused, and every secret key follows the rule", () => {
        for (const key of ["accessKey", "secretKey", "bastionSshPrivateKey", "nodeSshPrivateKey", "etcdBackupAccessKeyId", "etcdBackupSecretAccessKey"]) {
            const problems = (() => {
                try {
                    const secrets = [
                        "accessKey",
                        "secretKey",
                        "bastionSshPrivateKey",
                        "etcdBackupAccessKeyId",
                        "etcdBackupSecretAccessKey",
                        "nodeSshPrivateKey",
                    ];
                    const values = {
                        ...baseValues(),
                        [`${P}:${key}`]: "plain",
                        [`${P}:etcdBackupBucket`]: "backups",
                        [`${P}:etcdBackupAccessKeyId`]: "a",
                        [`${P}:etcdBackupSecretAccessKey`]: "s",
                    };
                    loadStackConfig({ stack: "dev", values, secretKeys: secrets.filter((k) => k !== key).map((k) => `${P}:${k}`), env: {} });
                } catch (error) {
                    return (error as { problems: string[] }).problems;
                }
                return [];
            })();
            expectProblem(problems, key, "is stored in plain text", `Fix: pulumi config set --secret ${key}`);
        }
    });
});
