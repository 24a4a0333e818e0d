// Node user data: one gzip'd cloud-config per node, valid for the real cloud-init, under the
// 16 KB limit, carrying node.env, the kubeadm files, the CA (control plane only), the scripts,
// the cron jobs and the NVMe unit. kubeadm files and node.env are parsed back and checked.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as YAML from "yaml";
import { buildClusters, LB_ID, opensslCertificate, resource, ROOT_CA, secretValue, valueOf } from "./helpers/cluster-fixture";
import {
    buildUserData, CONTROL_PLANE_CRON_JOBS, CRON_FILE, decodeUserData, encodeUserData, NODE_SCRIPTS_DIR, readScriptSource, renderCloudConfig, renderCronFile,
    ROLE_SCRIPTS, USER_DATA_LIMIT_BYTES, userDataSize, withoutCommentLines,
} from "../cluster/cloud-init";
import { kubeadmApiVersion, KubeadmSettings, renderInitConfig, renderJoinControlPlaneConfig, renderJoinWorkerConfig } from "../cluster/kubeadm";
import { NodeEnv, renderNodeEnv } from "../cluster/node-env";
import { BOOTSTRAP_TOKEN_PATTERN, caCertHashOf } from "../cluster/secrets";
import { EKSD_RELEASES } from "../cluster/versions";

interface WriteFileEntry { path: string; content: string; permissions: string; owner: string }
interface CloudConfig { ca_certs?: { trusted: string[] }; write_files: WriteFileEntry[]; runcmd: string[][] }

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-cloud-init-"));

function writeTemp(name: string, content: string): string {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, content);
    return file;
}

/** The decoded cloud-config of a recorded instance or launch configuration. */
function cloudConfigText(type: string, name: string): string {
    return decodeUserData(String(secretValue(resource(type, name).inputs.userDataBase64)));
}

function textOf(node: readonly [string, string]): string {
    return cloudConfigText(node[0], node[1]);
}

function parseCloudConfig(text: string): CloudConfig {
    assert.ok(text.startsWith("#cloud-config\n"), "user data must start with #cloud-config");
    const documents = YAML.parseAllDocuments(text);
    assert.equal(documents.length, 1, "exactly one YAML document");
    return documents[0].toJS() as CloudConfig;
}

function fileIn(config: CloudConfig, filePath: string): WriteFileEntry | undefined {
    return config.write_files.find((file) => file.path === filePath);
}

function requireFile(config: CloudConfig, filePath: string): WriteFileEntry {
    const file = fileIn(config, filePath);
    assert.ok(file, `write_files has no ${filePath}`);
    return file;
}

/** Sources node.env in bash (set -a) and returns the exported variables. */
function sourceNodeEnv(content: string): Record<string, string> {
    const file = writeTemp(`node-${Math.random().toString(36).slice(2)}.env`, content);
    const run = spawnSync("env", ["-i", "bash", "-c", `set -a; . '${file}'; env -0`], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const result: Record<string, string> = {};
    for (const entry of run.stdout.split("\0").filter(Boolean)) {
        const index = entry.indexOf("=");
        result[entry.slice(0, index)] = entry.slice(index + 1);
    }
    return result;
}

function kubeadmDocuments(text: string): Array<Record<string, any>> {
    return YAML.parseAllDocuments(text).map((document) => document.toJS() as Record<string, any>);
}

function cloudInitSchema(text: string, name: string): { code: number; output: string } {
    const file = writeTemp(`${name}.yaml`, text);
    const run = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    return { code: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

function settings(overrides: Partial<KubeadmSettings> = {}): KubeadmSettings {
    return {
        clusterName: "dev",
        kubernetesVersion: "v1.30.14-eks-1-30-44",
        kubernetesMinor: "1.30",
        etcdImageTag: "v3.5.21-eks-1-30-44",
        corednsImageTag: "v1.12.2-eks-1-30-44",
        controlPlaneEndpoint: "192.168.2.250:6443",
        podCidr: "10.244.0.0/16",
        serviceCidr: "10.96.0.0/12",
        certSans: ["203.0.113.7", "192.168.2.250", "elb-abc", "elb-abc.symphony.local"],
        bootstrapToken: "abcdef.0123456789abcdef",
        certificateKey: "ab".repeat(32),
        caCertHash: `sha256:${"0".repeat(64)}`,
        ...overrides,
    };
}

describe("node.env", () => {
    it("round-trips every value through bash, quotes, spaces and shell syntax included", () => {
        const tricky: Record<string, string> = {
            CLUSTER_NAME: "it's a \"test\"",
            NODE_LABELS: "a=b,c=d e",
            NODE_TAINTS: "$HOME `id` $(id) \\ ; rm -rf / #",
            ENVIRONMENT: "line one\nline two",
            ASG_NAME: "",
        };
        const env = { ROLE: "worker", API_HOST: "192.168.2.250", ...tricky } as unknown as NodeEnv;
        const parsed = sourceNodeEnv(renderNodeEnv(env));
        for (const [key, value] of Object.entries({ ROLE: "worker", API_HOST: "192.168.2.250", ...tricky })) {
            assert.equal(parsed[key], value, key);
        }
    });

    it("refuses keys that are not shell variable names", () => {
        assert.throws(() => renderNodeEnv({ "BAD-KEY": "x" } as unknown as NodeEnv), /not a shell variable name/);
    });
});

describe("cluster CA pin", () => {
    it("equals openssl's sha256 of the DER SubjectPublicKeyInfo, from the certificate or the key", () => {
        const { certPem, keyPem } = opensslCertificate();
        const certFile = writeTemp("pin.crt", certPem);
        const run = spawnSync("bash", ["-c", `openssl x509 -pubkey -noout -in '${certFile}' | openssl pkey -pubin -outform der | sha256sum`], { encoding: "utf8" });
        assert.equal(run.status, 0, run.stderr);
        const expected = `sha256:${run.stdout.split(" ")[0]}`;
        assert.equal(caCertHashOf(certPem), expected);
        const publicKeyPem = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "pem" }).toString();
        assert.equal(caCertHashOf(publicKeyPem), expected);
    });
});

describe("kubeadm configuration", () => {
    it("uses v1beta3 up to 1.30 and v1beta4 from 1.31", () => {
        assert.equal(kubeadmApiVersion("1.28"), "kubeadm.k8s.io/v1beta3");
        assert.equal(kubeadmApiVersion("1.30"), "kubeadm.k8s.io/v1beta3");
        assert.equal(kubeadmApiVersion("1.31"), "kubeadm.k8s.io/v1beta4");
        assert.throws(() => kubeadmApiVersion("one"));
    });

    it("renders InitConfiguration + ClusterConfiguration with EKS-D images and max-snapshots", () => {
        const [init, cluster] = kubeadmDocuments(renderInitConfig(settings()));
        assert.equal(init.kind, "InitConfiguration");
        assert.equal(init.bootstrapTokens[0].token, "abcdef.0123456789abcdef");
        assert.equal(init.bootstrapTokens[0].ttl, "0s");
        assert.equal(init.certificateKey, "ab".repeat(32));
        assert.equal(cluster.kind, "ClusterConfiguration");
        assert.equal(cluster.apiVersion, "kubeadm.k8s.io/v1beta3");
        assert.equal(cluster.clusterName, "dev");
        assert.equal(cluster.kubernetesVersion, "v1.30.14-eks-1-30-44");
        assert.equal(cluster.imageRepository, "public.ecr.aws/eks-distro/kubernetes");
        assert.equal(cluster.controlPlaneEndpoint, "192.168.2.250:6443");
        assert.deepEqual(cluster.networking, { podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12" });
        assert.deepEqual(cluster.etcd.local, {
            imageRepository: "public.ecr.aws/eks-distro/etcd-io", imageTag: "v3.5.21-eks-1-30-44", extraArgs: { "max-snapshots": "60" },
        });
        assert.deepEqual(cluster.dns, { imageRepository: "public.ecr.aws/eks-distro/coredns", imageTag: "v1.12.2-eks-1-30-44" });
        assert.deepEqual(cluster.apiServer.certSANs, ["203.0.113.7", "192.168.2.250", "elb-abc", "elb-abc.symphony.local"]);
    });

    it("writes extraArgs as a name/value list for v1beta4", () => {
        const [init, cluster] = kubeadmDocuments(renderInitConfig(settings({ kubernetesMinor: "1.31" })));
        assert.equal(init.apiVersion, "kubeadm.k8s.io/v1beta4");
        assert.deepEqual(cluster.etcd.local.extraArgs, [{ name: "max-snapshots", value: "60" }]);
    });

    it("pins the CA in every join and gives the certificate key only to control-plane joins", () => {
        const [controlPlane] = kubeadmDocuments(renderJoinControlPlaneConfig(settings()));
        const [worker] = kubeadmDocuments(renderJoinWorkerConfig(settings()));
        for (const join of [controlPlane, worker]) {
            assert.equal(join.kind, "JoinConfiguration");
            assert.deepEqual(join.discovery.bootstrapToken, {
                apiServerEndpoint: "192.168.2.250:6443", token: "abcdef.0123456789abcdef", caCertHashes: [`sha256:${"0".repeat(64)}`],
            });
        }
        assert.deepEqual(controlPlane.controlPlane, { certificateKey: "ab".repeat(32) });
        assert.equal(worker.controlPlane, undefined);
    });
});

describe("scripts in user data", () => {
    it("ship the same commands: bash parses original and shipped copy to the same program", () => {
        for (const name of new Set([...ROLE_SCRIPTS["control-plane"], ...ROLE_SCRIPTS.worker])) {
            const original = readScriptSource(name);
            const shipped = withoutCommentLines(name, original);
            const normalized = (script: string) => {
                // Parsed as a function body, bash prints the program without comments.
                const run = spawnSync("bash", ["-c", `eval "__shipped() {\n$(cat)\n}"; declare -f __shipped`], { input: script, encoding: "utf8" });
                assert.equal(run.status, 0, `${name}: ${run.stderr}`);
                return run.stdout;
            };
            assert.equal(normalized(shipped), normalized(original), `${name} changed beyond comments`);
            assert.ok(shipped.length < original.length, `${name} was not shortened`);
            if (original.startsWith("#!")) {
                assert.equal(shipped.split("\n")[0], original.split("\n")[0], `${name} lost its shebang`);
            }
        }
    });

    it("leaves scripts with a here-document unchanged, but not those with a here-string", () => {
        const script = "#!/bin/bash\ncat <<EOF\n# data, not a comment\nEOF\n";
        assert.equal(withoutCommentLines("x.sh", script), script);
        const hereString = "#!/bin/bash\n# comment\ngrep -q x <<<\"$y\"\n";
        assert.doesNotMatch(withoutCommentLines("y.sh", hereString), /# comment/);
    });

    it("install the cron jobs with the reference's schedules", () => {
        const cron = renderCronFile(CONTROL_PLANE_CRON_JOBS);
        const jobs = cron.split("\n").filter((line) => /^[0-9*]/.test(line));
        assert.deepEqual(jobs.map((line) => line.split(" ").slice(0, 7).join(" ")), [
            `7 * * * * root ${NODE_SCRIPTS_DIR}/upload-certs.sh`,
            `17 */2 * * * root ${NODE_SCRIPTS_DIR}/etcd-backup.sh`,
            `*/2 * * * * root ${NODE_SCRIPTS_DIR}/etcd-watchdog.sh`,
            `37 3 * * 0 root ${NODE_SCRIPTS_DIR}/renew-certs.sh`,
        ]);
        for (const job of CONTROL_PLANE_CRON_JOBS) {
            assert.ok(ROLE_SCRIPTS["control-plane"].includes(job.script), `${job.script} is not installed`);
        }
        assert.ok(cron.endsWith("\n"), "cron files need a final newline");
    });
});

describe("user data size", () => {
    it("stays under 16 KB for the largest control-plane node (real CA, root CA, long names)", () => {
        const ca = opensslCertificate();
        const big = settings({ certSans: ["203.0.113.254", "192.168.255.254", `elb-${"f".repeat(32)}`, `elb-${"f".repeat(32)}.some.long.internal.domain.example`] });
        const encoded = buildUserData({
            role: "control-plane",
            nodeEnv: { ROLE: "control-plane", CLUSTER_NAME: "a".repeat(20), NODE_NAME: `${"a".repeat(20)}-master-sa-7` } as NodeEnv,
            kubeadmFiles: { "kubeadm-init.yaml": renderInitConfig(big), "kubeadm-join-control-plane.yaml": renderJoinControlPlaneConfig(big) },
            clusterCa: { certPem: ca.certPem, keyPem: ca.keyPem },
            rootCaCert: ROOT_CA,
        });
        const size = userDataSize(encoded);
        assert.ok(size < USER_DATA_LIMIT_BYTES, `control-plane user data is ${size} bytes`);
    });

    it("encodes the same config to the same bytes on every OS (gzip header pinned)", () => {
        const encoded = Buffer.from(encodeUserData("#cloud-config\n{}\n"), "base64");
        assert.equal(encoded[9], 3, "gzip OS byte");
        assert.equal(encoded.readUInt32LE(4), 0, "no modification time");
        assert.equal(encodeUserData("#cloud-config\n{}\n"), encodeUserData("#cloud-config\n{}\n"));
    });

    it("refuses user data over the limit", () => {
        assert.throws(() => buildUserData({
            role: "worker", nodeEnv: { ROLE: "worker" } as NodeEnv, kubeadmFiles: {},
            rootCaCert: randomBytes(20000).toString("base64"),
        }), /over the 16384-byte limit/);
    });

    it("keeps every node's recorded user data under 16 KB", async () => {
        await buildClusters();
        for (const [type, name] of [["aws:ec2/instance:Instance", "dev-master-sa-1"], ["aws:ec2/launchConfiguration:LaunchConfiguration", "asgc-master"],
            ["aws:ec2/launchConfiguration:LaunchConfiguration", "dev-gpu"]]) {
            const size = userDataSize(String(secretValue(resource(type, name).inputs.userDataBase64)));
            assert.ok(size < USER_DATA_LIMIT_BYTES, `${name}: ${size} bytes`);
        }
    });
});

describe("rendered cloud-config per role", () => {
    const nodes = {
        leader: ["aws:ec2/instance:Instance", "dev-master-sa-1"],
        follower: ["aws:ec2/instance:Instance", "dev-master-sa-2"],
        asgMaster: ["aws:ec2/launchConfiguration:LaunchConfiguration", "asgc-master"],
        worker: ["aws:ec2/launchConfiguration:LaunchConfiguration", "dev-workers"],
        gpuWorker: ["aws:ec2/launchConfiguration:LaunchConfiguration", "dev-gpu"],
        asgWorker: ["aws:ec2/launchConfiguration:LaunchConfiguration", "asgc-workers"],
    } as const;

    it("passes the real `cloud-init schema` for every role", async () => {
        await buildClusters();
        for (const [label, [type, name]] of Object.entries(nodes)) {
            const result = cloudInitSchema(cloudConfigText(type, name), label);
            assert.equal(result.code, 0, `${label}: ${result.output}`);
        }
    });

    it("is rendered from objects: one #cloud-config document, scripts installed whole-but-comments, bootstrap last", async () => {
        await buildClusters();
        for (const [label, [type, name]] of Object.entries(nodes)) {
            const config = parseCloudConfig(cloudConfigText(type, name));
            const role = label.toLowerCase().includes("worker") ? "worker" : "control-plane";
            for (const script of ROLE_SCRIPTS[role]) {
                const file = requireFile(config, `${NODE_SCRIPTS_DIR}/${script}`);
                assert.equal(file.content, withoutCommentLines(script, readScriptSource(script)), `${label}: ${script}`);
                assert.equal(file.permissions, "0755");
            }
            assert.equal(fileIn(config, `${NODE_SCRIPTS_DIR}/kubeconfig-wait.sh`), undefined, "kubeconfig-wait.sh runs over SSH only");
            const unit = requireFile(config, "/etc/systemd/system/zadara-nvme-mount.service");
            assert.equal(unit.content, readScriptSource("zadara-nvme-mount.service"));
            assert.deepEqual(config.runcmd, [
                ["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "zadara-nvme-mount.service"], [`${NODE_SCRIPTS_DIR}/bootstrap.sh`],
            ]);
            const nodeEnv = requireFile(config, "/etc/kubernetes/zadara/node.env");
            assert.equal(nodeEnv.permissions, "0600");
            assert.equal(role === "control-plane", fileIn(config, CRON_FILE) !== undefined, `${label}: cron file only on control-plane nodes`);
        }
    });

    it("places the cluster CA (key 0600) on control-plane nodes only", async () => {
        const { dev } = await buildClusters();
        const leader = parseCloudConfig(textOf(nodes.leader));
        const crt = requireFile(leader, "/etc/kubernetes/pki/ca.crt");
        const key = requireFile(leader, "/etc/kubernetes/pki/ca.key");
        assert.equal(key.permissions, "0600");
        assert.equal(crt.permissions, "0644");
        assert.match(key.content, /BEGIN (RSA )?PRIVATE KEY/);
        // The pinned hash is the one of this key.
        assert.equal(caCertHashOf(createPublicKey(createPrivateKey(key.content)).export({ type: "spki", format: "pem" }).toString()), await valueOf(dev.caCertHash));
        // A static follower never runs `kubeadm init`: it downloads the CA when it joins, so its
        // user data (readable through the metadata service) holds no CA key.
        assert.equal(fileIn(parseCloudConfig(textOf(nodes.follower)), "/etc/kubernetes/pki/ca.key"), undefined);
        for (const worker of [nodes.worker, nodes.gpuWorker]) {
            const config = parseCloudConfig(textOf(worker));
            assert.equal(fileIn(config, "/etc/kubernetes/pki/ca.key"), undefined);
            assert.equal(fileIn(config, "/etc/kubernetes/pki/ca.crt"), undefined);
            assert.equal(fileIn(config, "/etc/kubernetes/zadara/kubeadm-init.yaml"), undefined);
            assert.equal(fileIn(config, "/etc/kubernetes/zadara/kubeadm-join-control-plane.yaml"), undefined);
        }
    });

    it("trusts the root CA through ca_certs only when one is given", async () => {
        await buildClusters();
        assert.deepEqual(parseCloudConfig(textOf(nodes.leader)).ca_certs, { trusted: [ROOT_CA] });
        assert.deepEqual(parseCloudConfig(textOf(nodes.worker)).ca_certs, { trusted: [ROOT_CA] });
        assert.equal(parseCloudConfig(textOf(nodes.asgMaster)).ca_certs, undefined);
    });

    it("writes node.env per node: leader, follower, ASG master, workers with labels and taints", async () => {
        await buildClusters();
        const envOf = (node: readonly [string, string]) => sourceNodeEnv(requireFile(parseCloudConfig(textOf(node)), "/etc/kubernetes/zadara/node.env").content);
        const leader = envOf(nodes.leader);
        assert.equal(leader.ROLE, "control-plane");
        assert.equal(leader.CLUSTER_NAME, "dev");
        assert.equal(leader.NODE_NAME, "dev-master-sa-1");
        assert.equal(leader.LEADER_ELECTION, "static");
        assert.equal(leader.IS_LEADER, "true");
        assert.equal(leader.API_HOST, "192.168.2.250");
        assert.equal(leader.API_PORT, "6443");
        assert.equal(leader.KUBERNETES_MINOR, "1.30");
        assert.equal(leader.ETCD_BACKUP_ROTATION, "100");
        assert.equal(leader.ENVIRONMENT, "dev");
        assert.equal(leader.AWS_REGION, "us-east-1");
        assert.equal(leader.API_WAIT_TIMEOUT, "1800");
        assert.equal(leader.CLOUD_API_CA_BUNDLE, "/etc/ssl/certs/ca-certificates.crt");
        assert.equal(leader.CLOUD_API_INSECURE, "false");
        const follower = envOf(nodes.follower);
        assert.equal(follower.NODE_NAME, "dev-master-sa-2");
        assert.equal(follower.IS_LEADER, "false");
        const asgMaster = envOf(nodes.asgMaster);
        assert.equal(asgMaster.LEADER_ELECTION, "asg");
        assert.equal(asgMaster.ASG_NAME, "asgc-master");
        assert.equal(asgMaster.NODE_NAME, "");
        assert.equal(asgMaster.KUBERNETES_MINOR, "1.31");
        assert.equal(asgMaster.CLOUD_API_INSECURE, "true");
        assert.equal(asgMaster.CLOUD_API_CA_BUNDLE, "");
        const gpu = envOf(nodes.gpuWorker);
        assert.equal(gpu.ROLE, "worker");
        assert.equal(gpu.NODE_LABELS, "example.com/team=ml,accelerator=gpu");
        assert.equal(gpu.NODE_TAINTS, "dedicated=gpu:NoSchedule,spot:PreferNoSchedule");
        assert.equal(envOf(nodes.worker).NODE_LABELS, "");
        // Backup export credentials never travel in user data.
        for (const env of [leader, gpu]) {
            assert.ok(!Object.keys(env).some((key) => /BACKUP_(ACCESS|SECRET)|ACCESS_KEY|SECRET/.test(key)));
        }
    });

    it("carries kubeadm files with the token, the CA pin, the API address and the SANs", async () => {
        const { dev, asgc } = await buildClusters();
        const caHash = await valueOf(dev.caCertHash);
        const publicIp = await valueOf(dev.apiPublicIp);
        const leader = parseCloudConfig(textOf(nodes.leader));
        const [init, cluster] = kubeadmDocuments(requireFile(leader, "/etc/kubernetes/zadara/kubeadm-init.yaml").content);
        assert.match(init.bootstrapTokens[0].token, BOOTSTRAP_TOKEN_PATTERN);
        assert.equal(init.bootstrapTokens[0].ttl, "0s");
        assert.match(init.certificateKey, /^[0-9a-f]{64}$/);
        assert.equal(cluster.controlPlaneEndpoint, "192.168.2.250:6443");
        assert.deepEqual(cluster.apiServer.certSANs, [publicIp, "192.168.2.250", `elb-${LB_ID}`, `elb-${LB_ID}.symphony.local`]);
        // etcd follows the EKS-D catalog; the fixture's kubernetesVersion overrides only Kubernetes.
        assert.equal(cluster.etcd.local.imageTag, EKSD_RELEASES["1.30"].etcdImageTag);
        assert.deepEqual(cluster.etcd.local.extraArgs, { "max-snapshots": "60" });
        const [cpJoin] = kubeadmDocuments(requireFile(leader, "/etc/kubernetes/zadara/kubeadm-join-control-plane.yaml").content);
        assert.deepEqual(cpJoin.discovery.bootstrapToken.caCertHashes, [caHash]);
        assert.equal(cpJoin.discovery.bootstrapToken.token, init.bootstrapTokens[0].token);
        assert.equal(cpJoin.controlPlane.certificateKey, init.certificateKey);
        const worker = parseCloudConfig(textOf(nodes.worker));
        const [workerJoin] = kubeadmDocuments(requireFile(worker, "/etc/kubernetes/zadara/kubeadm-join-worker.yaml").content);
        assert.deepEqual(workerJoin.discovery.bootstrapToken.caCertHashes, [caHash]);
        assert.equal(workerJoin.discovery.bootstrapToken.apiServerEndpoint, "192.168.2.250:6443");
        for (const config of [leader, worker]) {
            for (const file of config.write_files.filter((entry) => entry.path.includes("/kubeadm-"))) {
                assert.doesNotMatch(file.content, /unsafeSkipCAVerification|unsafe-skip-ca-verification/, file.path);
            }
        }
        // 1.31: kubeadm v1beta4; an internal API has no public SAN.
        const asgConfig = parseCloudConfig(textOf(nodes.asgMaster));
        const [asgInit, asgCluster] = kubeadmDocuments(requireFile(asgConfig, "/etc/kubernetes/zadara/kubeadm-init.yaml").content);
        assert.equal(asgInit.apiVersion, "kubeadm.k8s.io/v1beta4");
        assert.deepEqual(asgCluster.etcd.local.extraArgs, [{ name: "max-snapshots", value: "60" }]);
        assert.equal(asgCluster.kubernetesVersion, "v1.31.14-eks-1-31-40");
        assert.match(await valueOf(asgc.caCertHash), /^sha256:[0-9a-f]{64}$/);
        const intl = parseCloudConfig(cloudConfigText("aws:ec2/instance:Instance", "intl-master-sa-1"));
        const [, intlCluster] = kubeadmDocuments(requireFile(intl, "/etc/kubernetes/zadara/kubeadm-init.yaml").content);
        assert.deepEqual(intlCluster.apiServer.certSANs, ["192.168.2.250", `elb-${LB_ID}`, `elb-${LB_ID}.symphony.local`]);
    });

    it("renders a worker without root CA as valid cloud-config too", () => {
        const text = renderCloudConfig({ role: "worker", nodeEnv: { ROLE: "worker" } as NodeEnv, kubeadmFiles: { "kubeadm-join-worker.yaml": renderJoinWorkerConfig(settings()) } });
        assert.equal(cloudInitSchema(text, "bare-worker").code, 0);
        assert.equal(parseCloudConfig(text).ca_certs, undefined);
    });
});
