// EksdCluster under mocks: control plane (standalone and ASG), API target group and listener,
// worker node groups with their tag rules and options, bootstrap secrets, the bastion and
// kubeconfig commands, the outputs, and that no secret appears in plain text.
import * as pulumi from "@pulumi/pulumi";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it, type TestContext } from "node:test";
import {
    BASTION_KEY,
    buildClusters,
    LB_ID,
    makeArgs,
    makeCluster,
    mockOutput,
    NODE_KEY,
    optionsOf,
    recorded,
    resource,
    resourcesOf,
    secretValue,
    valueOf,
} from "./helpers/cluster-fixture";
import { isSecretValue, redactSecrets } from "../tools/mock-engine";
import { decodeUserData } from "../cluster/cloud-init";
import { loadBalancerInterfaceDescription, parseIpv4 } from "../cluster/api-endpoint";
import { parseCloudApiUrl } from "../cluster/kubeconfig";
import { propagatesAtLaunch } from "../cluster/asg";
import { compareIpv4, CONTROL_PLANE_REPLACE_ON_CHANGES } from "../cluster/control-plane";
import { CA_VALIDITY_HOURS } from "../cluster/secrets";

const INSTANCE = "aws:ec2/instance:Instance";
const LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration";
const ASG = "aws:autoscaling/group:Group";
const TARGET_GROUP = "aws:lb/targetGroup:TargetGroup";
const LISTENER = "aws:lb/listener:Listener";
const ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment";
const COMMAND = "command:remote:Command";

type Tag = { key: string; value: string; propagateAtLaunch: boolean };

function tagsOf(asgName: string): Map<string, Tag> {
    const tags = resource(ASG, asgName).inputs.tags as Tag[];
    return new Map(tags.map((tag) => [tag.key, tag]));
}

/** A file in a fresh temporary directory, removed when test `t` ends. */
function tmpFile(t: TestContext, name: string, content: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-cluster-"));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
}

describe("EksdCluster component", () => {
    it("is a zadara:eksd:EksdCluster parenting every resource it creates", async () => {
        await buildClusters();
        const component = resource("zadara:eksd:EksdCluster", "dev");
        const children = recorded.filter((r) => r.name.startsWith("dev-") && r.type !== "pulumi:providers:aws");
        assert.ok(children.length > 30);
        for (const child of children) {
            assert.equal(child.parent, component.urn, `${child.type} ${child.name} is not a child of the component`);
        }
    });

    it("sets the zCompute provider explicitly on every AWS resource", async () => {
        await buildClusters();
        const awsResources = recorded.filter((r) => r.type.startsWith("aws:"));
        assert.ok(awsResources.length > 0);
        for (const r of awsResources) {
            const options = optionsOf(r.type, r.name);
            assert.ok(options.provider, `${r.type} ${r.name} has no explicit provider`);
            const urn = await valueOf(options.provider.urn);
            assert.ok(urn.endsWith(`::${r.name.split("-")[0]}-zcompute`), `${r.name} uses ${urn}`);
        }
    });

    it("refuses an environment name too long for the target group name", async () => {
        const { EksdCluster } = await import("../cluster");
        const args = await makeArgs("toolong");
        assert.throws(() => new EksdCluster("x", { ...args, environment: "a-very-long-environment-name" }), /at most 20 characters/);
        assert.throws(() => new EksdCluster("y", { ...args, environment: "okname", eksdVersion: "1.27" }), /not supported/);
    });
});

describe("bootstrap secrets", () => {
    it("generates the expiring token parts, the shared CAs, the SA key and the encryption key as specified", async () => {
        await buildClusters();
        for (const [name, length] of [
            ["dev-join-token-workers-id", 6],
            ["dev-join-token-workers-secret", 16],
        ] as const) {
            // RandomPassword: its result is a secret and its id is not the value (a RandomString's is).
            const inputs = resource("random:index/randomPassword:RandomPassword", name).inputs;
            assert.equal(inputs.length, length);
            assert.equal(inputs.upper, false);
            assert.equal(inputs.special, false);
            assert.equal(inputs.lower, true);
            assert.equal(inputs.numeric, true);
        }
        assert.equal(resourcesOf("random:index/randomString:RandomString", "dev-join-token").length, 0);
        assert.equal(resource("random:index/randomBytes:RandomBytes", "dev-secrets-key-v1").inputs.length, 32);
        assert.ok(!recorded.some((r) => r.name === "dev-certificate-key"), "no certificate key: nothing is uploaded to kubeadm-certs");
        for (const [keyName, certName, commonName] of [
            ["dev-ca-key", "dev-ca", "kubernetes"],
            ["dev-front-proxy-ca-key", "dev-front-proxy-ca", "front-proxy-ca"],
            ["dev-etcd-ca-key", "dev-etcd-ca", "etcd-ca"],
        ]) {
            const key = resource("tls:index/privateKey:PrivateKey", keyName).inputs;
            assert.equal(key.algorithm, "RSA");
            assert.equal(key.rsaBits, 2048);
            const cert = resource("tls:index/selfSignedCert:SelfSignedCert", certName).inputs;
            assert.equal(cert.isCaCertificate, true);
            assert.deepEqual(cert.allowedUses, ["cert_signing", "key_encipherment", "digital_signature"]);
            assert.equal(cert.validityPeriodHours, CA_VALIDITY_HOURS);
            assert.deepEqual(cert.subject, { commonName });
            assert.ok(isSecretValue(cert.privateKeyPem), "the CA key goes to the certificate as a secret");
        }
        assert.equal(CA_VALIDITY_HOURS, 87600);
        assert.equal(resource("tls:index/privateKey:PrivateKey", "dev-sa-key").inputs.algorithm, "RSA");
    });

    it("never shows the token, CA key, encryption key or SSH keys in plain text", async () => {
        await buildClusters();
        const tokenId = mockOutput("random:index/randomPassword:RandomPassword", "dev-join-token-workers-id", { length: 6 }, "result");
        const tokenSecret = mockOutput("random:index/randomPassword:RandomPassword", "dev-join-token-workers-secret", { length: 16 }, "result");
        const encryptionKey = mockOutput("random:index/randomBytes:RandomBytes", "dev-secrets-key-v1", { length: 32 }, "base64");
        const caKey = mockOutput("tls:index/privateKey:PrivateKey", "dev-ca-key", {}, "privateKeyPem");
        const secrets = { token: `${tokenId}.${tokenSecret}`, encryptionKey, caKeyBody: caKey.split("\n")[1], BASTION_KEY, NODE_KEY };
        // Positive control: the token is in the (secret) worker user data and the join-tokens
        // stdin, never in a control-plane bootstrap stdin; the keys on the (secret) stdin.
        const userData = decodeUserData(String(secretValue(resource(LAUNCH_CONFIGURATION, "dev-workers").inputs.userDataBase64)));
        assert.ok(userData.includes(secrets.token));
        assert.ok(String(secretValue(resource(COMMAND, "dev-join-tokens").inputs.stdin)).includes(tokenSecret));
        const stdin = String(secretValue(resource(COMMAND, "dev-master-sa-1-bootstrap").inputs.stdin));
        const decoded = stdin
            .split("\n")
            .filter(Boolean)
            .map((line) => Buffer.from(line.split(" ")[1], "base64").toString("utf8"))
            .join("\n");
        for (const value of [secrets.encryptionKey, secrets.caKeyBody]) {
            assert.ok(decoded.includes(value));
        }
        assert.ok(!decoded.includes(tokenSecret), "a token rotation must not re-run the bootstrap commands");
        for (const r of recorded) {
            const visible = JSON.stringify(redactSecrets(r.inputs, false));
            for (const [what, value] of Object.entries(secrets)) {
                assert.ok(!visible.includes(value), `${what} in plain text in ${r.type} ${r.name}`);
                assert.ok(!visible.includes(JSON.stringify(value).slice(1, -1)), `${what} (escaped) in plain text in ${r.type} ${r.name}`);
            }
        }
    });
});

describe("standalone control plane", () => {
    it("creates <env>-master-sa-<n> instances like the reference", async () => {
        await buildClusters();
        const instances = resourcesOf(INSTANCE, "dev-master-sa-");
        assert.deepEqual(instances.map((i) => i.name).sort(), ["dev-master-sa-1", "dev-master-sa-2", "dev-master-sa-3"]);
        for (const instance of instances) {
            const inputs = instance.inputs;
            assert.equal(inputs.ami, "ami-0master01");
            assert.equal(inputs.instanceType, "z4.large");
            assert.equal(inputs.subnetId, "subnet-0private");
            assert.deepEqual(inputs.vpcSecurityGroupIds, ["sg-0cluster"]);
            assert.equal(inputs.keyName, "nodes-key");
            assert.deepEqual(inputs.rootBlockDevice, { volumeSize: 50, deleteOnTermination: true, encrypted: false });
            assert.equal(inputs.volumeTags, undefined, "no volume tags (zCompute rejects them)");
            assert.equal(inputs.userData, undefined);
            // The loader holds no secret: its user data is plain.
            assert.equal(typeof inputs.userDataBase64, "string");
            assert.deepEqual(inputs.tags, {
                team: "platform",
                "cost:center": "k8s",
                Name: instance.name,
                Environment: "dev",
                "kubernetes.io/role": "master",
                "kubernetes.io/cluster/dev": "owned",
                dev: "control",
            });
            const options = optionsOf(INSTANCE, instance.name);
            assert.deepEqual(
                options.ignoreChanges,
                ["disableApiTermination"],
                "control-plane nodes follow every change (one at a time), except the protection they set themselves",
            );
            assert.deepEqual(options.replaceOnChanges, CONTROL_PLANE_REPLACE_ON_CHANGES);
            assert.equal(options.deleteBeforeReplace, false);
        }
    });

    it("puts the masters behind a TCP 6443 target group and listener on the API load balancer", async () => {
        const { dev } = await buildClusters();
        const targetGroup = resource(TARGET_GROUP, "dev-api").inputs;
        assert.match(String(targetGroup.name), /^dev-api-[a-z0-9]{6}$/);
        assert.ok(String(targetGroup.name).length <= 32);
        assert.equal(`${"a".repeat(20)}-api-${"x".repeat(6)}`.length <= 32, true, "longest possible name fits");
        assert.equal(targetGroup.port, 6443);
        assert.equal(targetGroup.protocol, "TCP");
        assert.equal(targetGroup.targetType, "instance");
        assert.equal(targetGroup.vpcId, "vpc-0123456789abcdef0");
        assert.deepEqual(targetGroup.healthCheck, { protocol: "TCP", port: "traffic-port", interval: 10, healthyThreshold: 2, unhealthyThreshold: 2 });
        const tgRecord = resource(TARGET_GROUP, "dev-api");
        const listener = resource(LISTENER, "dev-api").inputs;
        assert.match(String(listener.loadBalancerArn), new RegExp(`loadbalancer/net/dev-eksd-masters/${LB_ID}$`));
        assert.equal(listener.port, 6443);
        assert.equal(listener.protocol, "TCP");
        const actions = listener.defaultActions as Array<Record<string, unknown>>;
        assert.equal(actions.length, 1);
        assert.equal(actions[0].type, "forward");
        assert.match(String(actions[0].targetGroupArn), /:targetgroup\/dev-api-/);
        assert.ok(tgRecord.id);
        const ids = await valueOf(dev.controlPlaneInstanceIds);
        const attachments = resourcesOf(ATTACHMENT, "dev-master-sa-");
        assert.equal(attachments.length, 3);
        assert.deepEqual(attachments.map((a) => a.inputs.targetId).sort(), [...ids].sort());
        for (const attachment of attachments) {
            assert.equal(attachment.inputs.port, 6443);
            assert.match(String(attachment.inputs.targetGroupArn), /:targetgroup\/dev-api-/);
        }
    });

    it("reports instance ids and private IPs, and no control-plane ASG", async () => {
        const { dev } = await buildClusters();
        const ids = await valueOf(dev.controlPlaneInstanceIds);
        const ips = await valueOf(dev.controlPlanePrivateIps);
        assert.equal(ids.length, 3);
        assert.ok(ids.every((id) => /^i-[0-9a-f]{17}$/.test(id)));
        assert.equal(ips.length, 3);
        assert.equal(await valueOf(dev.controlPlaneAsgName), undefined);
        assert.equal(resourcesOf(ASG, "dev-master").length, 0);
    });
});

describe("control-plane bootstrap commands", () => {
    it("one `<node>-bootstrap` per node through the bastion: node 0 inits, each later node joins after the previous one", async () => {
        await buildClusters();
        const names = ["dev-master-sa-1", "dev-master-sa-2", "dev-master-sa-3"];
        names.forEach((name, index) => {
            const command = resource(COMMAND, `${name}-bootstrap`);
            assert.match(String(command.inputs.create), new RegExp(`control-plane-up\\.sh ${index === 0 ? "init" : "join"}`));
            const connection = secretOrPlain(command.inputs.connection as Record<string, unknown>);
            assert.equal(secretOrPlain(connection.proxy as Record<string, unknown>).host, "203.0.113.5");
            assert.ok(command.dependencies.includes(resource(INSTANCE, name).urn));
            if (index > 0) {
                // The chain: this node's instance is created only after the previous node's gate
                // and retire step (which depends on that gate).
                assert.ok(
                    resource(INSTANCE, name).dependencies.includes(resource(COMMAND, `${names[index - 1]}-retire-replaced`).urn),
                    `${name} waits for the previous node`,
                );
                assert.ok(
                    resource(COMMAND, `${names[index - 1]}-retire-replaced`).dependencies.includes(resource(COMMAND, `${names[index - 1]}-bootstrap`).urn),
                );
            }
            assert.ok(resource(INSTANCE, name).dependencies.includes(resource(COMMAND, "dev-boot-bundle").urn), "the bundle is published first");
        });
    });

    it("publishes the boot bundle on the bastion, checked by its sha256", async () => {
        const { dev } = await buildClusters();
        const publish = resource(COMMAND, "dev-boot-bundle").inputs;
        assert.equal(publish.stdin, dev.boot.bundle);
        assert.match(String(publish.create), new RegExp(`sha256sum -c`));
        assert.ok(String(publish.create).includes(`bundle-${dev.boot.bundleSha256}.txt`));
    });

    it("refuses controlPlaneMode asg: a node the ASG starts cannot receive the control-plane secrets", async () => {
        await assert.rejects(
            async () => makeCluster("asgx", { controlPlane: { count: 3, mode: "asg", instanceType: "z4.large", volumeSize: 50, amiId: "ami-0master01" } }),
            /controlPlaneMode "asg" is not supported/,
        );
        assert.ok(compareIpv4("10.0.0.9", "10.0.0.10") < 0);
    });
});

describe("worker node groups", () => {
    it("creates one launch configuration per group with the group's image, size and options", async () => {
        await buildClusters();
        const lc = resource(LAUNCH_CONFIGURATION, "dev-gpu").inputs;
        assert.equal(lc.namePrefix, "dev-gpu-200g-");
        assert.equal(lc.imageId, "ami-0gpu0001");
        assert.equal(lc.instanceType, "z16.xlarge");
        assert.equal(lc.keyName, "nodes-key");
        assert.deepEqual(lc.securityGroups, ["sg-0cluster"]);
        assert.deepEqual(lc.rootBlockDevice, { volumeSize: 200, deleteOnTermination: true, encrypted: false });
        secretValue(lc.userDataBase64);
        const options = optionsOf(LAUNCH_CONFIGURATION, "dev-gpu");
        assert.deepEqual(options.ignoreChanges, ["rootBlockDevice", "ebsBlockDevices"]);
        assert.equal(options.deleteBeforeReplace, false, "created before the old one is destroyed");
    });

    it("creates ASG <env>-<group> sized from the group, leaving desiredCapacity to the autoscaler", async () => {
        const { dev } = await buildClusters();
        for (const [group, sizes] of Object.entries({ workers: [1, 4, 2, 120], gpu: [0, 2, 0, 300] })) {
            const asg = resource(ASG, `dev-${group}`).inputs;
            assert.equal(asg.name, `dev-${group}`);
            assert.deepEqual([asg.minSize, asg.maxSize, asg.desiredCapacity, asg.defaultCooldown], sizes);
            assert.deepEqual(asg.vpcZoneIdentifiers, ["subnet-0private"]);
            assert.equal(asg.launchConfiguration, resource(LAUNCH_CONFIGURATION, `dev-${group}`).id);
            assert.equal(asg.healthCheckType, "EC2");
            assert.equal(asg.healthCheckGracePeriod, 300);
            assert.equal(asg.waitForCapacityTimeout, "30m");
            assert.deepEqual(asg.terminationPolicies, ["OldestInstance", "NewestInstance", "OldestLaunchConfiguration", "Default"]);
            assert.equal(asg.targetGroupArns, undefined);
            assert.deepEqual(optionsOf(ASG, `dev-${group}`).ignoreChanges, ["desiredCapacity"]);
        }
        assert.deepEqual(await valueOf(dev.nodeGroupAsgNames), { workers: "dev-workers", gpu: "dev-gpu" });
    });

    it("tags groups for the autoscaler and does not propagate tags with ':' (zCompute quirk)", async () => {
        await buildClusters();
        const tags = tagsOf("dev-gpu");
        const expectPropagated: Record<string, string> = {
            Name: "dev-gpu",
            Environment: "dev",
            team: "platform",
            "kubernetes.io/role": "worker",
            "kubernetes.io/cluster/dev": "owned",
            dev: "data",
            "k8s.io/cluster-autoscaler/dev": "owned",
            "k8s.io/cluster-autoscaler/enabled": "owned",
            "k8s.io/cluster-autoscaler/node-template/label/example.com/team": "ml",
            "k8s.io/cluster-autoscaler/node-template/label/accelerator": "gpu",
        };
        for (const [key, value] of Object.entries(expectPropagated)) {
            assert.deepEqual(tags.get(key), { key, value, propagateAtLaunch: true }, key);
        }
        const expectAsgOnly: Record<string, string> = {
            "cost:center": "k8s",
            "k8s.io/cluster-autoscaler/node-template/taint/dedicated": "gpu:NoSchedule",
            "k8s.io/cluster-autoscaler/node-template/taint/spot": ":PreferNoSchedule",
        };
        for (const [key, value] of Object.entries(expectAsgOnly)) {
            assert.deepEqual(tags.get(key), { key, value, propagateAtLaunch: false }, key);
        }
        assert.equal(tags.size, Object.keys(expectPropagated).length + Object.keys(expectAsgOnly).length);
        assert.ok(!tagsOf("dev-workers").has("k8s.io/cluster-autoscaler/node-template/taint/dedicated"));
        assert.equal(propagatesAtLaunch("a", "b"), true);
        assert.equal(propagatesAtLaunch("a:b", "c"), false);
        assert.equal(propagatesAtLaunch("a", "b:c"), false);
    });
});

describe("API endpoint discovery", () => {
    it("reads the load balancer's private and public IP from its network interface through the cloud API, without SSH", async () => {
        const { dev } = await buildClusters();
        assert.equal(recorded.filter((r) => r.name.endsWith("-api-address")).length, 0, "no command on the bastion");
        assert.equal(await valueOf(dev.apiPrivateIp), "192.168.2.250");
        assert.equal(await valueOf(dev.apiEndpointPrivate), "https://192.168.2.250:6443");
        const publicIp = await valueOf(dev.apiPublicIp);
        assert.match(String(publicIp), /^203\.0\.113\.\d+$/);
        assert.equal(await valueOf(dev.apiEndpointPublic), `https://${publicIp}:6443`);
    });

    it("has no public address for an internal API", async () => {
        const { intl } = await buildClusters();
        assert.equal(await valueOf(intl.apiPublicIp), undefined);
        assert.equal(await valueOf(intl.apiEndpointPublic), undefined);
        assert.equal(await valueOf(intl.apiEndpointPrivate), "https://192.168.2.250:6443");
    });

    it("finds the interface by the description AWS gives a load balancer's interfaces", () => {
        assert.equal(
            loadBalancerInterfaceDescription("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/dev-eksd-masters/50dc6c495c0c9188"),
            "ELB net/dev-eksd-masters/50dc6c495c0c9188",
        );
        assert.throws(() => loadBalancerInterfaceDescription("arn:aws:ec2:us-east-1:0:instance/i-1"), /not a load balancer ARN/);
        assert.throws(() => parseIpv4("not an ip\n", "x"), /expected an IPv4 address/);
        assert.equal(parseIpv4(" 10.1.2.3\n", "x"), "10.1.2.3");
    });
});

describe("kubeconfig and cloud metadata", () => {
    it("bootstraps each node through the bastion with control-plane-up.sh, never returning a node's kubeconfig", async () => {
        const { dev } = await buildClusters();
        const record = resource(COMMAND, "dev-master-sa-1-bootstrap");
        const inputs = record.inputs;
        const connection = secretOrPlain(inputs.connection as Record<string, unknown>);
        const firstIp = (await valueOf(dev.controlPlanePrivateIps))[0];
        const firstId = (await valueOf(dev.controlPlaneInstanceIds))[0];
        assert.equal(connection.host, firstIp);
        assert.equal(connection.user, "ubuntu");
        const proxy = secretOrPlain(connection.proxy as Record<string, unknown>);
        assert.equal(proxy.host, "203.0.113.5");
        assert.equal(proxy.user, "ubuntu");
        assert.match(String(inputs.create), /control-plane-up\.sh init/);
        assert.match(String(secretValue(inputs.stdin)), /^pki\/ca\.crt /m, "the secrets travel on stdin, as a Pulumi secret");
        assert.equal(inputs.logging, "stderr");
        assert.equal(inputs.addPreviousOutputInEnv, false);
        assert.deepEqual(inputs.triggers, [firstId]);
        assert.ok(optionsOf(COMMAND, "dev-master-sa-1-bootstrap").additionalSecretOutputs?.includes("stdout"));
        assert.ok(record.dependencies.includes(resource(INSTANCE, "dev-master-sa-1").urn));
        assert.deepEqual(
            resourcesOf(COMMAND).filter((r) => r.name.endsWith("-kubeconfig")),
            [],
            "no super-admin.conf fetch",
        );
    });

    it("outputs the kubeconfig as a secret that kubectl reads", async (t) => {
        const { dev } = await buildClusters();
        assert.equal(await pulumi.isSecret(dev.kubeconfig), true);
        const file = tmpFile(t, "kubeconfig", await valueOf(dev.kubeconfig));
        const run = spawnSync("kubectl", ["config", "view", "--kubeconfig", file, "-o", "jsonpath={.clusters[0].cluster.server}"], { encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /^https:\/\/[\d.]+:6443$/);
    });

    it("reads the in-cloud API URL from the node's metadata after the kubeconfig", async () => {
        const { dev } = await buildClusters();
        const record = resource(COMMAND, "dev-cloud-metadata");
        assert.match(String(record.inputs.create), /169\.254\.169\.254\/openstack\/latest\/meta_data\.json/);
        assert.match(String(record.inputs.create), /cluster_url/);
        assert.ok(record.dependencies.includes(resource(COMMAND, "dev-master-sa-1-bootstrap").urn));
        assert.equal(await valueOf(dev.cloudApiUrl), "https://cloud.internal.example:443");
        assert.equal(parseCloudApiUrl("https://x.example/\n"), "https://x.example");
        assert.throws(() => parseCloudApiUrl("null"), /not an http\(s\) URL/);
    });
});

describe("outputs", () => {
    it("exposes role names, the CA pin and the resources add-ons depend on", async () => {
        const { dev, intl } = await buildClusters();
        assert.match(String(await valueOf(dev.controlPlaneRoleName)), /^dev-control-plane-[a-z0-9]{6}$/);
        assert.match(String(await valueOf(dev.workerRoleName)), /^dev-worker-[a-z0-9]{6}$/);
        assert.match(await valueOf(dev.caCertHash), /^sha256:[0-9a-f]{64}$/);
        const kinds = new Set(dev.nodes.map((node) => (node as unknown as { __pulumiType?: string }).__pulumiType ?? node.constructor.name));
        assert.ok(dev.nodes.length >= 3 + 2 + 1, `nodes: ${[...kinds].join(", ")}`);
        assert.ok(intl.nodes.length >= 1 + 1 + 1);
    });
});

/** Connection objects may arrive whole-secret or with secret fields; this returns the fields. */
function secretOrPlain(value: Record<string, unknown>): Record<string, unknown> {
    return (isSecretValue(value) ? value.value : value) as Record<string, unknown>;
}
