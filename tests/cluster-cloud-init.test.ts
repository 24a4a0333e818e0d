// Node user data: one gzip'd cloud-config loader per node (node.env, loader.sh, and the
// worker's join file), valid for the real cloud-init, at most 4 KB; the boot bundle the
// loader fetches; and the kubeadm files the control-plane bootstrap commands carry on stdin.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import * as YAML from "yaml";
import { buildClusters, group, LB_ID, opensslCertificate, resource, ROOT_CA, secretValue, stdinFiles, valueOf } from "./helpers/cluster-fixture";
import {
    buildUserData,
    CONTROL_PLANE_CRON_JOBS,
    decodeUserData,
    encodeUserData,
    LOADER_SCRIPT,
    NODE_SCRIPTS_DIR,
    readScriptSource,
    renderCloudConfig,
    renderCronFile,
    USER_DATA_LIMIT_BYTES,
    userDataSize,
} from "../cluster/cloud-init";
import { DEFAULT_HARDENING } from "../cluster/hardening";
import {
    CONTROL_PLANE_TOKEN_PLACEHOLDER,
    kubeadmApiVersion,
    KubeadmSettings,
    renderInitConfig,
    renderJoinControlPlaneConfig,
    renderJoinWorkerConfig,
} from "../cluster/kubeadm";
import { allNodeFileNames, nodeFileNames } from "../cluster/node-files";
import { bundleFiles, CRON_BUNDLE_NAME, renderBundle, ROOT_CA_BUNDLE_NAME, sha256Hex } from "../cluster/node-bootstrap";
import { NodeEnv, renderNodeEnv } from "../cluster/node-env";
import { BOOTSTRAP_TOKEN_PATTERN, caCertHashOf } from "../cluster/secrets";
import { bastionCloudConfig } from "../infra/network";

interface WriteFileEntry {
    path: string;
    content: string;
    permissions: string;
    owner: string;
}
interface CloudConfig {
    ca_certs?: unknown;
    write_files: WriteFileEntry[];
    runcmd: string[][];
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-cloud-init-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeTemp(name: string, content: string): string {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, content);
    return file;
}

function plain(value: unknown): string {
    return String(typeof value === "object" && value !== null && "value" in value ? secretValue(value) : value);
}

/** The decoded cloud-config of a recorded instance or launch configuration. */
function cloudConfigText(type: string, name: string): string {
    return decodeUserData(plain(resource(type, name).inputs.userDataBase64));
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
        bootstrapTokenExpires: "2026-12-04T12:00:00Z",
        caCertHash: `sha256:${"0".repeat(64)}`,
        hardening: { ...DEFAULT_HARDENING },
        ...overrides,
    };
}

function nodeEnvFor(role: "worker" | "control-plane", overrides: Partial<NodeEnv> = {}): NodeEnv {
    return {
        ROLE: role,
        CLUSTER_NAME: "a-twenty-char-name-x",
        NODE_NAME: role === "worker" ? "" : "a-twenty-char-name-x-master-sa-5",
        API_HOST: "192.168.255.250",
        API_PORT: "6443",
        KUBERNETES_MINOR: "1.31",
        KUBERNETES_VERSION: "v1.31.14-eks-1-31-50",
        NODE_LABELS: "",
        NODE_TAINTS: "",
        API_WAIT_TIMEOUT: "1800",
        JOIN_TIMEOUT: "1800",
        POLL_INTERVAL: "2",
        ETCD_BACKUP_ROTATION: "100",
        ENVIRONMENT: "a-twenty-char-name-x",
        AWS_REGION: "us-east-1",
        CLOUD_API_INSECURE: "false",
        CLOUD_API_CA_BUNDLE: "/etc/ssl/certs/ca-certificates.crt",
        BUNDLE_URL: `http://192.168.0.10:8089/bundle-${"f".repeat(64)}.txt`,
        BUNDLE_SHA256: "f".repeat(64),
        ...overrides,
    };
}

describe("node.env", () => {
    it("round-trips every value through bash, quotes, spaces and shell syntax included", () => {
        const tricky: Record<string, string> = {
            CLUSTER_NAME: 'it\'s a "test"',
            NODE_LABELS: "a=b,c=d e",
            NODE_TAINTS: "$HOME `id` $(id) \\ ; rm -rf / #",
            ENVIRONMENT: "line one\nline two",
            BUNDLE_URL: "",
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
        const run = spawnSync("bash", ["-c", `openssl x509 -pubkey -noout -in '${certFile}' | openssl pkey -pubin -outform der | sha256sum`], {
            encoding: "utf8",
        });
        assert.equal(run.status, 0, run.stderr);
        const expected = `sha256:${run.stdout.split(" ")[0]}`;
        assert.equal(caCertHashOf(certPem), expected);
        const publicKeyPem = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "pem" }).toString();
        assert.equal(caCertHashOf(publicKeyPem), expected);
    });
});

describe("kubeadm configuration", () => {
    it("uses v1beta3 up to 1.30 and v1beta4 from 1.31", () => {
        assert.equal(kubeadmApiVersion("1.30"), "kubeadm.k8s.io/v1beta3");
        assert.equal(kubeadmApiVersion("1.31"), "kubeadm.k8s.io/v1beta4");
        assert.equal(kubeadmApiVersion("1.36"), "kubeadm.k8s.io/v1beta4");
        assert.throws(() => kubeadmApiVersion("one"));
    });

    it("renders InitConfiguration + ClusterConfiguration with EKS-D images, max-snapshots and no token value (kubeadm draws a 15-minute one)", () => {
        const text = renderInitConfig(settings());
        const [init, cluster] = kubeadmDocuments(text);
        assert.equal(init.kind, "InitConfiguration");
        assert.deepEqual(init.bootstrapTokens, [
            {
                description: "zadara-eksd kubeadm init token (unused)",
                ttl: "15m0s",
                usages: ["signing", "authentication"],
                groups: ["system:bootstrappers:kubeadm:default-node-token"],
            },
        ]);
        assert.ok(!text.includes("0123456789abcdef"), "the worker token is not in the init configuration");
        assert.equal(init.certificateKey, undefined);
        assert.equal(cluster.kind, "ClusterConfiguration");
        assert.equal(cluster.apiVersion, "kubeadm.k8s.io/v1beta3");
        assert.equal(cluster.kubernetesVersion, "v1.30.14-eks-1-30-44");
        assert.equal(cluster.imageRepository, "public.ecr.aws/eks-distro/kubernetes");
        assert.equal(cluster.controlPlaneEndpoint, "192.168.2.250:6443");
        assert.deepEqual(cluster.networking, { podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12" });
        assert.deepEqual(cluster.etcd.local, {
            imageRepository: "public.ecr.aws/eks-distro/etcd-io",
            imageTag: "v3.5.21-eks-1-30-44",
            extraArgs: { "max-snapshots": "60" },
        });
        assert.deepEqual(cluster.dns, { imageRepository: "public.ecr.aws/eks-distro/coredns", imageTag: "v1.12.2-eks-1-30-44" });
        assert.deepEqual(cluster.apiServer.certSANs, ["203.0.113.7", "192.168.2.250", "elb-abc", "elb-abc.symphony.local"]);
    });

    it("writes extraArgs as a name/value list for v1beta4", () => {
        const [init, cluster] = kubeadmDocuments(renderInitConfig(settings({ kubernetesMinor: "1.31" })));
        assert.equal(init.apiVersion, "kubeadm.k8s.io/v1beta4");
        assert.deepEqual(cluster.etcd.local.extraArgs, [{ name: "max-snapshots", value: "60" }]);
    });

    it("pins the CA in every join; control-plane joins carry no certificate key and no token (the node mints one)", () => {
        const [controlPlane] = kubeadmDocuments(renderJoinControlPlaneConfig(settings()));
        const [worker] = kubeadmDocuments(renderJoinWorkerConfig(settings()));
        const joins: Array<[Record<string, any>, string]> = [
            [controlPlane, CONTROL_PLANE_TOKEN_PLACEHOLDER],
            [worker, "abcdef.0123456789abcdef"],
        ];
        for (const [join, token] of joins) {
            assert.equal(join.kind, "JoinConfiguration");
            assert.deepEqual(join.discovery.bootstrapToken, {
                apiServerEndpoint: "192.168.2.250:6443",
                token,
                caCertHashes: [`sha256:${"0".repeat(64)}`],
            });
        }
        // control-plane-up.sh replaces exactly this text.
        assert.match(readScriptSource("control-plane-up.sh"), new RegExp(`TOKEN_PLACEHOLDER="${CONTROL_PLANE_TOKEN_PLACEHOLDER.replace(".", "\\.")}"`));
        assert.deepEqual(controlPlane.controlPlane, {});
        assert.equal(worker.controlPlane, undefined);
    });
});

describe("boot bundle", () => {
    it("holds every script of both roles whole, the NVMe unit, the cron file and the root CA only when given", () => {
        const withCa = bundleFiles(ROOT_CA);
        for (const name of allNodeFileNames().filter((n) => n !== CRON_BUNDLE_NAME)) {
            assert.equal(withCa[name], readScriptSource(name), name);
        }
        assert.equal(withCa[ROOT_CA_BUNDLE_NAME], ROOT_CA);
        assert.equal(bundleFiles(undefined)[ROOT_CA_BUNDLE_NAME], undefined);
        assert.equal(withCa["kubeconfig-wait.sh"], undefined, "kubeconfig-wait.sh runs over SSH only");
        assert.equal(withCa[LOADER_SCRIPT], undefined, "the loader is in user data, not in what it loads");
    });

    it("installs the cron jobs (no certificate re-upload: joins get the certificates from the program)", () => {
        const cron = bundleFiles(undefined)[CRON_BUNDLE_NAME];
        assert.equal(cron, renderCronFile(CONTROL_PLANE_CRON_JOBS));
        const jobs = cron.split("\n").filter((line) => /^[0-9*]/.test(line));
        assert.deepEqual(
            jobs.map((line) => line.split(" ").slice(0, 7).join(" ")),
            [
                `17 */2 * * * root ${NODE_SCRIPTS_DIR}/etcd-backup.sh`,
                `*/2 * * * * root ${NODE_SCRIPTS_DIR}/etcd-watchdog.sh`,
                `37 3 * * 0 root ${NODE_SCRIPTS_DIR}/renew-certs.sh`,
                `* * * * * root ${NODE_SCRIPTS_DIR}/csr-approver.sh`,
            ],
        );
        for (const job of CONTROL_PLANE_CRON_JOBS) {
            assert.ok(nodeFileNames("control-plane").includes(job.script), `${job.script} is not in the bundle`);
        }
    });

    it("is `<name> <base64>` lines that bash decodes back to the same bytes, in a stable order", () => {
        const files = bundleFiles(ROOT_CA);
        const bundle = renderBundle(files);
        assert.equal(renderBundle(Object.fromEntries(Object.entries(files).reverse())), bundle);
        const file = writeTemp("bundle.txt", bundle);
        const run = spawnSync("bash", ["-c", `while read -r n d; do printf '%s %s\\n' "$n" "$(base64 -d <<<"$d" | sha256sum | cut -c1-64)"; done <'${file}'`], {
            encoding: "utf8",
        });
        assert.equal(run.status, 0, run.stderr);
        for (const line of run.stdout.trim().split("\n")) {
            const [name, digest] = line.split(" ");
            assert.equal(digest, sha256Hex(files[name]), name);
        }
        assert.throws(() => renderBundle({ "../evil": "x" }), /plain file name/);
    });
});

describe("user data size", () => {
    it("stays at most 4 KB gzip for the largest worker (30 long labels, taints, long names)", () => {
        const labels = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`example.com/label-number-${i}`, `value-${i}-${"x".repeat(20)}`]));
        const worker = group({ labels, taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] });
        const encoded = buildUserData({
            role: "worker",
            nodeEnv: nodeEnvFor("worker", {
                NODE_LABELS: Object.entries(worker.labels)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(","),
            }),
            workerJoinConfig: renderJoinWorkerConfig(settings()),
            sizeKeys: ["nodeGroups.big.labels"],
        });
        assert.ok(userDataSize(encoded) <= USER_DATA_LIMIT_BYTES, `worker user data is ${userDataSize(encoded)} bytes`);
    });

    it("encodes the same config to the same bytes on every OS (gzip header pinned)", () => {
        const encoded = encodeUserData("#cloud-config\n{}\n");
        assert.equal(Buffer.from(encoded, "base64")[9], 3);
        assert.equal(encodeUserData("#cloud-config\n{}\n"), encoded);
    });

    it("refuses user data over 4 KB, naming the config keys to shorten", () => {
        const random = Array.from({ length: 400 }, (_, i) => `k${i}=${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`).join(",");
        assert.throws(
            () =>
                buildUserData({
                    role: "worker",
                    nodeEnv: nodeEnvFor("worker", { NODE_LABELS: random }),
                    workerJoinConfig: renderJoinWorkerConfig(settings()),
                    sizeKeys: ["nodeGroups.big.labels", "nodeGroups.big.taints"],
                }),
            /over the 4096-byte limit; shorten nodeGroups\.big\.labels \/ nodeGroups\.big\.taints/,
        );
    });

    it("keeps every node's recorded user data at most 4 KB", async () => {
        await buildClusters();
        for (const [type, name] of [
            ["aws:ec2/instance:Instance", "dev-master-sa-1"],
            ["aws:ec2/launchConfiguration:LaunchConfiguration", "dev-gpu"],
            ["aws:ec2/instance:Instance", "asgc-master-sa-3"],
            ["aws:ec2/launchConfiguration:LaunchConfiguration", "intl-workers"],
        ]) {
            const size = userDataSize(plain(resource(type, name).inputs.userDataBase64));
            assert.ok(size <= USER_DATA_LIMIT_BYTES, `${name}: ${size} bytes`);
        }
    });
});

describe("rendered cloud-config per role", () => {
    const nodes = {
        first: ["aws:ec2/instance:Instance", "dev-master-sa-1"],
        second: ["aws:ec2/instance:Instance", "dev-master-sa-2"],
        v131Master: ["aws:ec2/instance:Instance", "asgc-master-sa-1"],
        worker: ["aws:ec2/launchConfiguration:LaunchConfiguration", "dev-workers"],
        gpuWorker: ["aws:ec2/launchConfiguration:LaunchConfiguration", "dev-gpu"],
        v131Worker: ["aws:ec2/launchConfiguration:LaunchConfiguration", "asgc-workers"],
    } as const;
    const textOf = (node: readonly [string, string]) => cloudConfigText(node[0], node[1]);

    it("passes the real `cloud-init schema` for every role", async () => {
        await buildClusters();
        for (const [label, node] of Object.entries(nodes)) {
            const result = cloudInitSchema(textOf(node), label);
            assert.equal(result.code, 0, `${label}: ${result.output}`);
        }
    });

    it("is a loader: node.env, loader.sh, the worker's join file, and nothing else; runcmd runs the loader", async () => {
        await buildClusters();
        for (const [label, node] of Object.entries(nodes)) {
            const config = parseCloudConfig(textOf(node));
            const worker = label.toLowerCase().includes("worker");
            const expected = [
                "/etc/kubernetes/zadara/node.env",
                `${NODE_SCRIPTS_DIR}/${LOADER_SCRIPT}`,
                ...(worker ? ["/etc/kubernetes/zadara/kubeadm-join-worker.yaml"] : []),
            ];
            assert.deepEqual(
                config.write_files.map((file) => file.path),
                expected,
                label,
            );
            assert.equal(requireFile(config, `${NODE_SCRIPTS_DIR}/${LOADER_SCRIPT}`).content, readScriptSource(LOADER_SCRIPT));
            assert.equal(requireFile(config, `${NODE_SCRIPTS_DIR}/${LOADER_SCRIPT}`).permissions, "0755");
            assert.equal(requireFile(config, "/etc/kubernetes/zadara/node.env").permissions, "0600");
            assert.deepEqual(config.runcmd, [[`${NODE_SCRIPTS_DIR}/${LOADER_SCRIPT}`]]);
            assert.equal(config.ca_certs, undefined, `${label}: the root CA travels in the bundle`);
        }
    });

    it("writes node.env per node with the bundle URL on the bastion and the bundle's sha256", async () => {
        const { dev } = await buildClusters();
        const envOf = (node: readonly [string, string]) =>
            sourceNodeEnv(requireFile(parseCloudConfig(textOf(node)), "/etc/kubernetes/zadara/node.env").content);
        const first = envOf(nodes.first);
        assert.equal(first.ROLE, "control-plane");
        assert.equal(first.NODE_NAME, "dev-master-sa-1");
        assert.equal(first.API_HOST, "192.168.2.250");
        assert.equal(first.KUBERNETES_MINOR, "1.30");
        assert.equal(first.ETCD_BACKUP_ROTATION, "100");
        assert.equal(first.CLOUD_API_CA_BUNDLE, "/etc/ssl/certs/ca-certificates.crt");
        assert.equal(first.BUNDLE_SHA256, dev.boot.bundleSha256);
        assert.equal(first.BUNDLE_SHA256, sha256Hex(dev.boot.bundle));
        // Through the API load balancer, never the bastion's own address (192.168.0.10 here):
        // a replaced bastion must not change any node's user data.
        assert.equal(first.BUNDLE_URL, `http://192.168.2.250:8089/bundle-${dev.boot.bundleSha256}.txt`);
        assert.ok(!Object.values(first).some((value) => String(value).includes("192.168.0.10")), "node.env names the bastion");
        for (const key of ["LEADER_ELECTION", "IS_LEADER", "ASG_NAME"]) {
            assert.equal(first[key], undefined, `${key} is gone with the leader election`);
        }
        assert.equal(envOf(nodes.second).NODE_NAME, "dev-master-sa-2");
        const v131 = envOf(nodes.v131Master);
        assert.equal(v131.KUBERNETES_MINOR, "1.31");
        assert.equal(v131.CLOUD_API_INSECURE, "true");
        assert.equal(v131.CLOUD_API_CA_BUNDLE, "");
        assert.notEqual(v131.BUNDLE_SHA256, first.BUNDLE_SHA256, "the root CA is part of the bundle");
        const gpu = envOf(nodes.gpuWorker);
        assert.equal(gpu.ROLE, "worker");
        assert.equal(gpu.NODE_LABELS, "accelerator=gpu,example.com/team=ml", "sorted: the config order does not change the user data");
        assert.equal(gpu.NODE_TAINTS, "dedicated=gpu:NoSchedule,spot:PreferNoSchedule");
        for (const env of [first, gpu]) {
            assert.ok(!Object.keys(env).some((key) => /BACKUP_(ACCESS|SECRET)|ACCESS_KEY|SECRET/.test(key)));
        }
    });

    it("gives workers a join file with the expiring token and the CA pin; the kubeadm files of masters travel on stdin", async () => {
        const { dev, asgc } = await buildClusters();
        const caHash = await valueOf(dev.caCertHash);
        const publicIp = await valueOf(dev.apiPublicIp);
        const worker = parseCloudConfig(textOf(nodes.worker));
        const [workerJoin] = kubeadmDocuments(requireFile(worker, "/etc/kubernetes/zadara/kubeadm-join-worker.yaml").content);
        assert.deepEqual(workerJoin.discovery.bootstrapToken.caCertHashes, [caHash]);
        assert.match(workerJoin.discovery.bootstrapToken.token, BOOTSTRAP_TOKEN_PATTERN);
        assert.doesNotMatch(JSON.stringify(workerJoin), /unsafeSkipCAVerification/);

        const [init, cluster] = kubeadmDocuments(stdinFiles("dev-master-sa-1-bootstrap")["zadara/kubeadm.yaml"]);
        assert.equal(init.kind, "InitConfiguration");
        assert.equal(init.bootstrapTokens[0].token, undefined, "kubeadm draws the init token; the program knows none");
        assert.deepEqual(cluster.apiServer.certSANs, [publicIp, "192.168.2.250", `elb-${LB_ID}`, `elb-${LB_ID}.symphony.local`]);
        const [join] = kubeadmDocuments(stdinFiles("dev-master-sa-2-bootstrap")["zadara/kubeadm.yaml"]);
        assert.equal(join.kind, "JoinConfiguration");
        assert.deepEqual(join.controlPlane, {});
        assert.deepEqual(join.discovery.bootstrapToken.caCertHashes, [caHash]);

        const [asgInit, asgCluster] = kubeadmDocuments(stdinFiles("asgc-master-sa-1-bootstrap")["zadara/kubeadm.yaml"]);
        assert.equal(asgInit.apiVersion, "kubeadm.k8s.io/v1beta4");
        assert.equal(asgCluster.kubernetesVersion, "v1.31.14-eks-1-31-40");
        assert.match(await valueOf(asgc.caCertHash), /^sha256:[0-9a-f]{64}$/);
        const [, intlCluster] = kubeadmDocuments(stdinFiles("intl-master-sa-1-bootstrap")["zadara/kubeadm.yaml"]);
        assert.deepEqual(intlCluster.apiServer.certSANs, ["192.168.2.250", `elb-${LB_ID}`, `elb-${LB_ID}.symphony.local`]);
    });

    it("leaves cloud-init's host-key print on: every SSH step pins the key it prints to the console (docs/security.md#ssh-host-keys)", async () => {
        await buildClusters();
        const configs: Record<string, unknown> = {
            bastion: YAML.parse(bastionCloudConfig()),
            "control-plane": parseCloudConfig(cloudConfigText("aws:ec2/instance:Instance", "dev-master-sa-1")),
            worker: parseCloudConfig(cloudConfigText("aws:ec2/launchConfiguration:LaunchConfiguration", "dev-workers")),
        };
        for (const [role, config] of Object.entries(configs)) {
            const keys = Object.keys(config as object);
            // keys_to_console: `ssh.emit_keys_to_console`, the key-type blacklist, or a module list without it.
            for (const off of ["ssh", "ssh_key_console_blacklist", "cloud_final_modules", "cloud_config_modules"]) {
                assert.ok(!keys.includes(off), `${role} user data sets ${off}`);
            }
        }
    });

    it("renders a bare worker and a bare control-plane node as valid cloud-config too", () => {
        for (const role of ["worker", "control-plane"] as const) {
            const text = renderCloudConfig({
                role,
                nodeEnv: nodeEnvFor(role),
                workerJoinConfig: role === "worker" ? renderJoinWorkerConfig(settings()) : undefined,
                sizeKeys: [],
            });
            assert.equal(cloudInitSchema(text, `bare-${role}`).code, 0);
        }
        assert.throws(
            () => renderCloudConfig({ role: "control-plane", nodeEnv: nodeEnvFor("control-plane"), workerJoinConfig: "x", sizeKeys: [] }),
            /never carries a join/,
        );
        assert.throws(() => renderCloudConfig({ role: "worker", nodeEnv: nodeEnvFor("worker"), sizeKeys: [] }), /needs its kubeadm JoinConfiguration/);
    });
});
