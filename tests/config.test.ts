// Stack configuration: defaults, and one bad value per validation rule with the message the
// user sees (key, bad value, fix). No Pulumi engine is needed: the loader is a plain function.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigValidationError, loadStackConfig } from "../config";
import { BASE_SECRETS, baseValues, expectProblem as assertProblem, loadWith as load, P, problemsWith as problemsOf } from "./helpers/config-fixture";

describe("defaults", () => {
    it("applies the reference deployment's defaults", () => {
        const config = load();
        assert.equal(config.environment, "dev");
        assert.equal(config.cloud.apiUrl, "https://cloud.zcompute.test");
        assert.equal(config.network.vpcCidr, "192.168.0.0/16");
        assert.equal(config.network.publicSubnetCidr, "192.168.0.0/24");
        assert.equal(config.network.privateSubnetCidr, "192.168.2.0/23");
        assert.deepEqual(config.network.dnsServers, ["8.8.8.8", "8.8.4.4"]);
        assert.equal(config.network.dnsDomain, "symphony.local");
        assert.equal(config.bastion.instanceType, "z2.medium");
        assert.equal(config.cluster.podCidr, "10.244.0.0/16");
        assert.equal(config.cluster.controlPlane.count, 1);
        assert.equal(config.cluster.controlPlane.mode, "standalone");
        assert.equal(config.cluster.controlPlane.instanceType, "z4.large");
        assert.equal(config.cluster.controlPlane.volumeSize, 50);
        assert.deepEqual(Object.keys(config.cluster.nodeGroups), ["workers"]);
        const workers = config.cluster.nodeGroups.workers;
        assert.equal(workers.instanceType, "z8.large");
        assert.equal(workers.minSize, 1);
        assert.equal(workers.desiredSize, 1);
        assert.equal(workers.maxSize, 4);
        assert.equal(workers.volumeSize, 100);
        assert.equal(workers.cooldown, 120);
        assert.equal(workers.amiId, "ami-0123456789abcdef2");
        assert.equal(config.addons.cni, "flannel");
        assert.equal(config.addons.volumeType, "gp2");
        assert.equal(config.addons.ebsCsi, true);
        assert.equal(config.addons.loadBalancerController, true);
        assert.equal(config.addons.autoscaler, true);
        assert.equal(config.addons.kasten, false);
        assert.equal(config.cluster.etcdBackupRotation, 100);
        assert.equal(config.cluster.etcdBackupExport, undefined);
        assert.equal(config.cluster.kubeconfigTimeoutMinutes, 25);
        assert.equal(config.production, false);
    });

    it("keeps secrets as Pulumi secrets", async () => {
        const config = load();
        const { isSecret } = await import("@pulumi/pulumi");
        assert.equal(await isSecret(config.cloud.accessKey!), true);
        assert.equal(await isSecret(config.bastion.sshPrivateKey), true);
        assert.equal(await isSecret(config.cluster.nodeSshPrivateKey), true);
    });

    it("normalises the API endpoint to an https base URL", () => {
        assert.equal(load({ apiEndpoint: "https://cloud.zcompute.test:8443/" }).cloud.apiUrl, "https://cloud.zcompute.test:8443");
    });

    it("takes credentials from the AWS environment variables", () => {
        const values = baseValues();
        delete values[`${P}:accessKey`];
        delete values[`${P}:secretKey`];
        const config = loadStackConfig({ stack: "dev", values, secretKeys: BASE_SECRETS, env: { AWS_ACCESS_KEY_ID: "A", AWS_SECRET_ACCESS_KEY: "B" } });
        assert.ok(config.cloud.accessKey);
    });

    it("reads structured node groups with labels and taints", () => {
        const config = load({
            nodeGroups: JSON.stringify({
                workers: {},
                gpu: {
                    instanceType: "z16.large",
                    minSize: 0,
                    maxSize: 2,
                    labels: { "example.com/gpu": "true" },
                    taints: [{ key: "gpu", value: "true", effect: "NoSchedule" }],
                },
            }),
        });
        assert.equal(config.cluster.nodeGroups.gpu.minSize, 0);
        assert.equal(config.cluster.nodeGroups.gpu.desiredSize, 0);
        assert.deepEqual(config.cluster.nodeGroups.gpu.taints, [{ key: "gpu", value: "true", effect: "NoSchedule" }]);
    });

    it("marks stacks named prod* as production", () => {
        assert.equal(
            load({ bastionSshCidrs: '["203.0.113.0/24"]', apiAllowedCidrs: '["203.0.113.0/24"]', controlPlaneCount: "3" }, { stack: "prod" }).production,
            true,
        );
    });
});

describe("validation rules (one bad value each)", () => {
    it("reports every problem at once", () => {
        const problems = problemsOf({ vpcCidr: "nope", cni: "weave", controlPlaneCount: "2" });
        assert.equal(problems.length >= 3, true, problems.join("\n"));
    });

    it("CIDR syntax", () => {
        assertProblem(problemsOf({ vpcCidr: "192.168.0.0/33" }), "vpcCidr", "192.168.0.0/33", "not a valid IPv4 network CIDR", "Fix:");
        assertProblem(problemsOf({ podCidr: "10.244.1.0/16" }), "podCidr", "10.244.1.0/16", "use the network address 10.244.0.0/16");
        assertProblem(problemsOf({ apiAllowedCidrs: '["10.0.0.0/8", "bad"]' }), "apiAllowedCidrs", '"bad"');
        assertProblem(problemsOf({ bastionSshCidrs: '["1.2.3.4"]' }), "bastionSshCidrs", "1.2.3.4");
    });

    it("subnets inside the VPC", () => {
        assertProblem(problemsOf({ publicSubnetCidr: "10.0.0.0/24" }), "publicSubnetCidr", "10.0.0.0/24", "not inside vpcCidr 192.168.0.0/16", "Fix:");
        assertProblem(problemsOf({ privateSubnetCidr: "172.16.0.0/23" }), "privateSubnetCidr", "not inside vpcCidr");
    });

    it("subnets do not overlap", () => {
        assertProblem(problemsOf({ privateSubnetCidr: "192.168.0.0/23" }), "privateSubnetCidr", "overlaps publicSubnetCidr 192.168.0.0/24", "Fix:");
    });

    it("pod and service CIDRs stay out of the VPC and of each other", () => {
        assertProblem(problemsOf({ podCidr: "192.168.128.0/17" }), "podCidr", "overlaps vpcCidr", "Fix:");
        assertProblem(problemsOf({ serviceCidr: "192.168.0.0/12" }), "serviceCidr", "192.168.0.0/12");
        assertProblem(
            problemsOf({ serviceCidr: "10.96.0.0/16", vpcCidr: "10.96.0.0/16", publicSubnetCidr: "10.96.0.0/24", privateSubnetCidr: "10.96.2.0/23" }),
            "serviceCidr",
            "overlaps vpcCidr",
        );
        assertProblem(problemsOf({ serviceCidr: "10.244.0.0/20" }), "serviceCidr", "overlaps podCidr 10.244.0.0/16", "Fix:");
    });

    it("enumerations", () => {
        assertProblem(problemsOf({ cni: "weave" }), "cni", '"weave"', "flannel, calico, cilium", "Fix: pulumi config set cni flannel");
        assertProblem(problemsOf({ volumeType: "gp4" }), "volumeType", '"gp4"', "io1", "sbg1");
        assertProblem(
            problemsOf({ controlPlaneMode: "fleet" }),
            "controlPlaneMode",
            '"fleet"',
            "is not one of standalone",
            "Fix: pulumi config set controlPlaneMode standalone",
        );
        assertProblem(problemsOf({ nodeGroups: '{"w": {"taints": [{"key": "a", "effect": "Never"}]}}' }), "nodeGroups.w.taints", '"Never"', "NoSchedule");
    });

    it("control-plane count odd, 1 to 7", () => {
        assertProblem(problemsOf({ controlPlaneCount: "2" }), "controlPlaneCount", "2 is even", "Fix: pulumi config set controlPlaneCount 3");
        assertProblem(problemsOf({ controlPlaneCount: "9" }), "controlPlaneCount", "9 is above the maximum 7");
        assertProblem(problemsOf({ controlPlaneCount: "0" }), "controlPlaneCount", "below the minimum 1");
        assertProblem(
            problemsOf({ controlPlaneCount: "three" }),
            "controlPlaneCount",
            '"three" is a string, expected a whole number',
            "Fix: pulumi config set controlPlaneCount 3",
        );
        assertProblem(problemsOf({ controlPlaneCount: "3.5" }), "controlPlaneCount", "3.5 is not a whole number", "Fix: pulumi config set controlPlaneCount 3");
    });

    it("AMI ids shaped ami-…", () => {
        assertProblem(problemsOf({ bastionAmiId: "ubuntu-22.04" }), "bastionAmiId", '"ubuntu-22.04" is not an AMI id', "Fix:");
        assertProblem(problemsOf({ controlPlaneAmiId: "AMI-123" }), "controlPlaneAmiId", "not an AMI id");
        assertProblem(problemsOf({ workerAmiId: "ami-x" }), "workerAmiId", "not an AMI id");
        assertProblem(problemsOf({ nodeGroups: '{"w": {"amiId": "img-1"}}' }), "nodeGroups.w.amiId", '"img-1"');
    });

    it("required keys present", () => {
        for (const key of ["apiEndpoint", "bastionAmiId", "bastionKeyName", "controlPlaneAmiId", "workerAmiId", "nodeKeyName"]) {
            assertProblem(problemsOf({ [key]: undefined }), key, "is required", `Fix: pulumi config set ${key}`);
        }
        assertProblem(problemsOf({ bastionSshPrivateKey: undefined }), "bastionSshPrivateKey", "is required", "--secret");
        assertProblem(problemsOf({ accessKey: undefined }), "accessKey", "credentials are missing", "AWS_ACCESS_KEY_ID");
    });

    it("secrets must be set with --secret", () => {
        const values = baseValues();
        const problems = (() => {
            try {
                loadStackConfig({ stack: "dev", values, secretKeys: [`${P}:accessKey`, `${P}:secretKey`], env: {} });
            } catch (error) {
                return (error as ConfigValidationError).problems;
            }
            return [];
        })();
        assertProblem(problems, "bastionSshPrivateKey", "stored in plain text", "pulumi config set --secret bastionSshPrivateKey");
    });

    it("API endpoint is a host or https URL", () => {
        assertProblem(problemsOf({ apiEndpoint: "http://cloud.example.com" }), "apiEndpoint", '"http://cloud.example.com"', "Fix:");
        assertProblem(problemsOf({ apiEndpoint: "https://cloud.example.com/api/v2" }), "apiEndpoint", "not a host name or https URL");
        assertProblem(problemsOf({ apiEndpoint: "cloud example" }), "apiEndpoint", "not a host name");
    });

    it("bring-your-own VPC requires all of its ids", () => {
        const problems = problemsOf({ existingVpc: JSON.stringify({ vpcId: "vpc-1234", privateSubnetId: "sub-1" }) });
        assertProblem(problems, "existingVpc.publicSubnetId", "is required", "Fix: pulumi config set --path 'existingVpc.publicSubnetId' subnet-");
        assertProblem(problems, "existingVpc.privateSubnetId", '"sub-1"', "subnet-");
        assertProblem(
            problemsOf({
                existingVpc: JSON.stringify({ vpcId: "vpc-1", publicSubnetId: "subnet-1", privateSubnetId: "subnet-2", clusterSecurityGroupId: "group-1" }),
            }),
            "existingVpc.clusterSecurityGroupId",
            "sg-",
        );
        assertProblem(
            problemsOf({ existingVpc: JSON.stringify({ vpcId: "vpc-1", publicSubnetId: "subnet-1", privateSubnetId: "subnet-2", vpcCidr: "x" }) }),
            "existingVpc.vpcCidr",
            "not a known field of existingVpc",
            "Fix:",
        );
    });

    it("bring-your-own VPC skips the subnet layout checks", () => {
        const config = load({
            existingVpc: JSON.stringify({ vpcId: "vpc-1", publicSubnetId: "subnet-1", privateSubnetId: "subnet-2" }),
            publicSubnetCidr: "10.9.0.0/24",
        });
        assert.equal(config.network.existingVpc?.vpcId, "vpc-1");
    });

    it("counts and sizes positive, max ≥ min, desired between", () => {
        assertProblem(problemsOf({ controlPlaneVolumeSize: "-5" }), "controlPlaneVolumeSize", "below the minimum");
        assertProblem(problemsOf({ nodeGroups: '{"w": {"minSize": 3, "maxSize": 2}}' }), "nodeGroups.w.maxSize", "2 is below minSize 3", "Fix:");
        assertProblem(
            problemsOf({ nodeGroups: '{"w": {"minSize": 1, "maxSize": 3, "desiredSize": 5}}' }),
            "nodeGroups.w.desiredSize",
            "outside minSize..maxSize",
        );
        assertProblem(problemsOf({ nodeGroups: '{"w": {"volumeSize": 0}}' }), "nodeGroups.w.volumeSize", "below the minimum");
        assertProblem(problemsOf({ nodeGroups: "{}" }), "nodeGroups", "non-empty map");
        assertProblem(problemsOf({ kubeconfigTimeoutMinutes: "0" }), "kubeconfigTimeoutMinutes", "below the minimum 1");
        assertProblem(problemsOf({ etcdBackupRotation: "-1" }), "etcdBackupRotation", "below the minimum 0");
    });

    it("node group names, fields and labels", () => {
        assertProblem(problemsOf({ nodeGroups: '{"Big_Nodes": {}}' }), "nodeGroups.Big_Nodes", "group name");
        assertProblem(
            problemsOf({ nodeGroups: '{"w": {"instancetype": "z8.large"}}' }),
            "nodeGroups.w.instancetype",
            "not a known field of nodeGroups.w",
            'did you mean "instanceType"',
        );
        assertProblem(
            problemsOf({ nodeGroups: '{"w": {"labels": {"bad key!": "x"}}}' }),
            "nodeGroups.w.labels.bad key!",
            '"bad key!" is not a valid Kubernetes label key',
            "Fix:",
        );
    });

    it("access paths the program itself needs stay open", () => {
        assertProblem(problemsOf({ bastionSshCidrs: "[]" }), "bastionSshCidrs", "is empty", "through the bastion", "Fix:");
        assertProblem(problemsOf({ apiAllowedCidrs: "[]" }), "apiAllowedCidrs", "is empty while apiPublic is true", "Fix:");
        assertProblem(problemsOf({ apiPublic: "false" }), "apiPublic", "cannot reach an internal API", "runsInsideVpc true");
        assert.equal(load({ apiPublic: "false", runsInsideVpc: "true" }).network.apiPublic, false);
        assertProblem(
            problemsOf({
                existingVpc: JSON.stringify({ vpcId: "vpc-1", publicSubnetId: "subnet-1", privateSubnetId: "subnet-2", clusterSecurityGroupId: "sg-1" }),
            }),
            "existingVpc.bastionSecurityGroupId",
            "required when clusterSecurityGroupId is given",
        );
    });

    it("node labels and taints kubelet would refuse, reserved group names, no worker at all", () => {
        assertProblem(
            problemsOf({ nodeGroups: '{"w": {"labels": {"node-role.kubernetes.io/worker": "true"}}}' }),
            "nodeGroups.w.labels.node-role.kubernetes.io/worker",
            "namespace kubelet may not set",
            "Fix:",
        );
        assert.deepEqual(load({ nodeGroups: '{"w": {"labels": {"node.kubernetes.io/pool": "a", "example.com/team": "x"}}}' }).cluster.nodeGroups.w.labels, {
            "node.kubernetes.io/pool": "a",
            "example.com/team": "x",
        });
        assertProblem(
            problemsOf({ nodeGroups: '{"w": {"taints": [{"key": "a", "value": "b,c=d:e", "effect": "NoSchedule"}]}}' }),
            "nodeGroups.w.taints[0].value",
            'taint value "b,c=d:e"',
            "Fix:",
        );
        // No coercion: a number where the taint value (a string) belongs is refused.
        assertProblem(
            problemsOf({ nodeGroups: '{"w": {"taints": [{"key": "gpu", "value": 1, "effect": "NoSchedule"}]}}' }),
            "nodeGroups.w.taints[0].value",
            "1 is a whole number, expected a string",
            "Fix:",
        );
        assertProblem(problemsOf({ nodeGroups: '{"master": {}}' }), "nodeGroups.master", "reserved");
        assertProblem(problemsOf({ nodeGroups: '{"w": {"minSize": 0, "maxSize": 3}}' }), "nodeGroups", "scale to zero", "minSize 1");
    });

    it("unknown keys are reported as likely typos", () => {
        assertProblem(
            problemsOf({ vpcCdir: "10.0.0.0/16" }),
            "vpcCdir",
            "not a known setting",
            'did you mean "vpcCidr"',
            "pulumi config set vpcCidr <value> && pulumi config rm vpcCdir",
        );
        assertProblem(problemsOf({ somethingElse: "1" }), "somethingElse", "not a known setting", "pulumi config rm somethingElse");
    });

    it("environment name", () => {
        assertProblem(problemsOf({ environment: "Dev_Cluster" }), "environment", '"Dev_Cluster"', "lowercase");
    });

    it("booleans, durations, versions", () => {
        assertProblem(
            problemsOf({ apiPublic: "yes" }),
            "apiPublic",
            '"yes" is a string, expected a boolean (true or false)',
            "Fix: pulumi config set apiPublic true",
        );
        assertProblem(problemsOf({ autoscalerScaleDownUnneededTime: "10 minutes" }), "autoscalerScaleDownUnneededTime", "not a duration");
        assertProblem(problemsOf({ eksdVersion: "1.25" }), "eksdVersion", '"1.25" is not one of 1.30', "Fix: pulumi config set eksdVersion");
        assertProblem(problemsOf({ eksdVersion: "1.30", kubernetesVersion: "v1.29.1" }), "kubernetesVersion", "not an EKS-D 1.30 tag");
        assertProblem(problemsOf({ dnsServers: '["8.8.8.8", "dns.google"]' }), "dnsServers", '"dns.google" is not an IPv4 address');
        assertProblem(problemsOf({ rootCaCert: "not a pem" }), "rootCaCert", "not a PEM certificate");
    });

    it("etcd backup export needs bucket and credentials together", () => {
        const problems = problemsOf({ etcdBackupBucket: "backups" });
        assertProblem(problems, "etcdBackupAccessKeyId", "required for the etcd backup export", "--secret");
        assertProblem(problems, "etcdBackupSecretAccessKey", "required for the etcd backup export");
        assertProblem(
            problemsOf(
                { etcdBackupBucket: "backups", etcdBackupAccessKeyId: "a", etcdBackupSecretAccessKey: "s", etcdBackupEndpoint: "ftp://x" },
                { secretKeys: ["etcdBackupAccessKeyId", "etcdBackupSecretAccessKey"] },
            ),
            "etcdBackupEndpoint",
            "not an http(s) URL",
        );
        const config = load(
            { etcdBackupBucket: "backups", etcdBackupAccessKeyId: "a", etcdBackupSecretAccessKey: "s" },
            { secretKeys: ["etcdBackupAccessKeyId", "etcdBackupSecretAccessKey"] },
        );
        assert.equal(config.cluster.etcdBackupExport?.bucket, "backups");
        assert.equal(config.cluster.etcdBackupExport?.region, "us-east-1");
    });

    it("add-on overrides are {version?, values?}", () => {
        assertProblem(
            problemsOf({ addonOverrides: '{"ebsCsi": {"chartVersion": "1"}}' }),
            "addonOverrides.ebsCsi.chartVersion",
            "not a known field of addonOverrides.ebsCsi",
            "Fix: remove it (known: version, values)",
        );
        assertProblem(problemsOf({ addonOverrides: '{"ebsCsi": {"version": ""}}' }), "addonOverrides.ebsCsi.version", "non-empty");
        assertProblem(
            problemsOf({ addonOverrides: '{"snapshotController": {"values": {"a": 1}}}' }),
            "addonOverrides.snapshotController.values",
            "version (release tag) only",
            "Fix:",
        );
        assertProblem(
            problemsOf({ addonOverrides: '{"ebs-csi": {"version": "2.39.3"}}' }),
            "addonOverrides.ebs-csi",
            "not a known field of addonOverrides",
            'did you mean "ebsCsi"',
        );
        assert.equal(
            load({ addonOverrides: '{"ebsCsi": {"version": "2.39.3", "values": {"controller": {"replicaCount": 1}}}}' }).addons.overrides.ebsCsi.version,
            "2.39.3",
        );
    });

    it("production refuses open SSH, a world-open API and a single control-plane node", () => {
        const problems = problemsOf({ production: "true" });
        assertProblem(problems, "bastionSshCidrs", "0.0.0.0/0", "production", "acceptUnsafeProduction");
        assertProblem(problems, "apiAllowedCidrs", "world", "apiPublic false");
        assertProblem(problems, "controlPlaneCount", "1 control-plane node", "controlPlaneCount 3");
    });

    it("production accepts the risk only when acknowledged by name", () => {
        const config = load({ production: "true", acceptUnsafeProduction: "true" });
        assert.equal(config.production, true);
    });
});
