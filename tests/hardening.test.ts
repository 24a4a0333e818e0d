// Hardening on by default, each measure off by its key: the audit policy, the Secrets
// EncryptionConfiguration, the KubeletConfiguration and profiling, as kubeadm renders them
// for every supported minor (v1beta3 on 1.30, v1beta4 from 1.31); and the expiring worker
// join token with its rotation window.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import * as YAML from "yaml";
import { buildClusters, group, recorded, resource, secretValue, stdinFiles, valueOf } from "./helpers/cluster-fixture";
import { decodeUserData } from "../cluster/cloud-init";
import {
    ADMISSION_CONFIG_FILE,
    admissionConfiguration,
    AUTHENTICATION_CONFIG_FILE,
    authenticationConfiguration,
    TLS_CIPHER_SUITES,
    AUDIT_LOG_FILE,
    AUDIT_POLICY_FILE,
    auditPolicy,
    DEFAULT_HARDENING,
    ENCRYPTION_CONFIG_FILE,
    encryptionConfiguration,
    HardeningSettings,
    kubeletConfiguration,
    renderYaml,
} from "../cluster/hardening";
import { KubeadmSettings, renderInitConfig } from "../cluster/kubeadm";
import { sha256Hex } from "../cluster/node-bootstrap";
import { bootstrapTokenSecret, NODE_BOOTSTRAP_GROUP, tokenWindow } from "../cluster/secrets";

const MINORS = ["1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36"];

function settings(minor: string, hardening: Partial<HardeningSettings> = {}): KubeadmSettings {
    return {
        clusterName: "dev",
        kubernetesVersion: `v${minor}.1-eks-x`,
        kubernetesMinor: minor,
        etcdImageTag: "e",
        corednsImageTag: "c",
        controlPlaneEndpoint: "192.168.2.250:6443",
        podCidr: "10.244.0.0/16",
        serviceCidr: "10.96.0.0/12",
        certSans: ["192.168.2.250"],
        bootstrapToken: "abcdef.0123456789abcdef",
        bootstrapTokenExpires: "2026-12-04T12:00:00Z",
        caCertHash: `sha256:${"0".repeat(64)}`,
        hardening: { ...DEFAULT_HARDENING, ...hardening },
    };
}

function documents(text: string): Array<Record<string, any>> {
    return YAML.parseAllDocuments(text).map((document) => document.toJS() as Record<string, any>);
}

/** extraArgs of either API version as a plain map. */
function argsOf(extraArgs: unknown): Record<string, string> {
    if (Array.isArray(extraArgs)) {
        return Object.fromEntries(extraArgs.map((arg: { name: string; value: string }) => [arg.name, arg.value]));
    }
    return (extraArgs ?? {}) as Record<string, string>;
}

describe("audit policy", () => {
    it("is an audit.k8s.io/v1 Policy at Metadata for every request, never recording bodies of Secrets, ConfigMaps or tokens", () => {
        const policy = YAML.parse(renderYaml(auditPolicy()));
        assert.equal(policy.apiVersion, "audit.k8s.io/v1");
        assert.equal(policy.kind, "Policy");
        assert.deepEqual(policy.omitStages, ["RequestReceived"]);
        const none = policy.rules.filter((rule: any) => rule.level === "None");
        for (const rule of policy.rules.slice(none.length)) {
            assert.equal(rule.level, "Metadata", JSON.stringify(rule));
        }
        assert.deepEqual(policy.rules.slice(0, none.length), none, "the None rules come first (first match wins)");
        assert.deepEqual(policy.rules.at(-1), { level: "Metadata" }, "the catch-all is Metadata too");
        // None only for health checks, leases and events: never a sensitive kind.
        assert.deepEqual(none[0].nonResourceURLs, ["/healthz*", "/livez*", "/readyz*", "/version"]);
        const silenced = none.flatMap((rule: any) => (rule.resources ?? []).flatMap((r: any) => r.resources.map((name: string) => `${r.group}/${name}`)));
        assert.deepEqual(silenced.sort(), ["/events", "coordination.k8s.io/leases", "events.k8s.io/events"]);
        const covered = policy.rules.flatMap((rule: any) =>
            (rule.resources ?? []).flatMap((r: any) => r.resources.map((name: string) => `${r.group}/${name}`)),
        );
        for (const sensitive of ["/secrets", "/configmaps", "/serviceaccounts/token", "authentication.k8s.io/tokenreviews"]) {
            assert.ok(covered.includes(sensitive), `${sensitive} is pinned to Metadata`);
        }
    });
});

describe("EncryptionConfiguration", () => {
    const key = (name: string) => ({ name, secret: randomBytes(32).toString("base64") });

    it("is an apiserver.config.k8s.io/v1 EncryptionConfiguration: secretbox with the newest key first, identity last", () => {
        const [v2, v1] = [key("key-v2"), key("key-v1")];
        const config = YAML.parse(renderYaml(encryptionConfiguration([v2, v1])));
        assert.equal(config.apiVersion, "apiserver.config.k8s.io/v1");
        assert.equal(config.kind, "EncryptionConfiguration");
        assert.deepEqual(config.resources[0].resources, ["secrets"]);
        assert.deepEqual(config.resources[0].providers, [{ secretbox: { keys: [v2, v1] } }, { identity: {} }]);
    });

    it("refuses keys that are not 32 bytes and an empty key list", () => {
        assert.throws(() => encryptionConfiguration([{ name: "k", secret: Buffer.alloc(16).toString("base64") }]), /32 bytes/);
        assert.throws(() => encryptionConfiguration([]), /at least one key/);
    });

    it("keeps the previous key when the version is bumped (v3 encrypts, v2 still decrypts)", async () => {
        await buildClusters();
        const names = recorded.filter((r) => r.type === "random:index/randomBytes:RandomBytes").map((r) => r.name);
        assert.ok(names.includes("asgc-secrets-key-v3") && names.includes("asgc-secrets-key-v2"), names.join(", "));
        assert.ok(!names.includes("asgc-secrets-key-v1"));
        assert.ok(names.includes("dev-secrets-key-v1") && !names.includes("dev-secrets-key-v0"));
        const config = YAML.parse(stdinFiles("dev-master-sa-1-bootstrap")["encryption/encryption-config.yaml"]);
        assert.deepEqual(
            config.resources[0].providers[0].secretbox.keys.map((k: { name: string }) => k.name),
            ["key-v1"],
        );
    });
});

describe("kubeadm configuration per minor", () => {
    for (const minor of MINORS) {
        it(`${minor}: audit log flags + rotation, encryption at rest, profiling off, kubelet webhook auth, hostPath mounts`, () => {
            const [init, cluster, kubelet] = documents(renderInitConfig(settings(minor)));
            const expectedApi = minor === "1.30" ? "kubeadm.k8s.io/v1beta3" : "kubeadm.k8s.io/v1beta4";
            assert.equal(init.apiVersion, expectedApi);
            assert.equal(cluster.apiVersion, expectedApi);
            assert.equal(Array.isArray(cluster.apiServer.extraArgs), minor !== "1.30", "v1beta4 writes extraArgs as a list");
            const api = argsOf(cluster.apiServer.extraArgs);
            assert.equal(api["audit-policy-file"], AUDIT_POLICY_FILE);
            assert.equal(api["audit-log-path"], AUDIT_LOG_FILE);
            assert.equal(api["audit-log-maxage"], "30");
            assert.equal(api["audit-log-maxbackup"], "10");
            assert.equal(api["audit-log-maxsize"], "100");
            assert.equal(api["encryption-provider-config"], ENCRYPTION_CONFIG_FILE);
            assert.equal(api["encryption-provider-config-automatic-reload"], "true");
            assert.equal(api.profiling, "false");
            assert.equal(argsOf(cluster.controllerManager.extraArgs).profiling, "false");
            assert.equal(argsOf(cluster.scheduler.extraArgs).profiling, "false");
            const mounts = Object.fromEntries(cluster.apiServer.extraVolumes.map((v: any) => [v.name, v]));
            assert.deepEqual(mounts["audit-policy"], {
                name: "audit-policy",
                hostPath: "/etc/kubernetes/audit",
                mountPath: "/etc/kubernetes/audit",
                readOnly: true,
                pathType: "DirectoryOrCreate",
            });
            assert.deepEqual(mounts["audit-log"], {
                name: "audit-log",
                hostPath: "/var/log/kubernetes/audit",
                mountPath: "/var/log/kubernetes/audit",
                readOnly: false,
                pathType: "DirectoryOrCreate",
            });
            assert.equal(mounts["encryption-config"].hostPath, "/etc/kubernetes/encryption");
            assert.ok(AUDIT_POLICY_FILE.startsWith(`${mounts["audit-policy"].mountPath}/`));
            assert.ok(ENCRYPTION_CONFIG_FILE.startsWith(`${mounts["encryption-config"].mountPath}/`));
            assert.deepEqual(kubelet, kubeletConfiguration() as Record<string, any>);
            assert.equal(kubelet.apiVersion, "kubelet.config.k8s.io/v1beta1");
            assert.equal(kubelet.kind, "KubeletConfiguration");
            assert.equal(kubelet.authentication.anonymous.enabled, false);
            assert.equal(kubelet.authentication.webhook.enabled, true);
            assert.equal(kubelet.authorization.mode, "Webhook");
            // CIS: verified kubelet serving certificates, kernel defaults, TLS floor and suites.
            assert.equal(kubelet.serverTLSBootstrap, true);
            assert.equal(kubelet.protectKernelDefaults, true);
            assert.equal(kubelet.tlsMinVersion, "VersionTLS12");
            assert.deepEqual(kubelet.tlsCipherSuites, TLS_CIPHER_SUITES);
            assert.equal(api["kubelet-certificate-authority"], "/etc/kubernetes/pki/ca.crt");
            assert.equal(api["tls-min-version"], "VersionTLS12");
            assert.equal(api["tls-cipher-suites"], TLS_CIPHER_SUITES.join(","));
            assert.equal(api["admission-control-config-file"], ADMISSION_CONFIG_FILE);
            assert.equal(
                api["anonymous-auth"],
                undefined,
                "anonymous requests are limited by the authentication config, not cut (the API server's own probes)",
            );
            assert.equal(api["authentication-config"], Number(minor.split(".")[1]) >= 32 ? AUTHENTICATION_CONFIG_FILE : undefined);
            assert.ok(ADMISSION_CONFIG_FILE.startsWith(`${mounts["apiserver-config"].mountPath}/`));
            assert.equal(mounts["apiserver-config"].readOnly, true);
        });
    }

    it("every TLS 1.2 suite is ECDHE with an AEAD cipher", () => {
        for (const suite of TLS_CIPHER_SUITES) {
            assert.match(suite, /^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305)$/);
        }
    });

    it("Pod Security defaults: baseline enforced, restricted warned and audited, add-on namespaces exempt", () => {
        const config = YAML.parse(renderYaml(admissionConfiguration()));
        assert.equal(config.kind, "AdmissionConfiguration");
        const plugin = config.plugins.find((p: any) => p.name === "PodSecurity");
        assert.equal(plugin.configuration.kind, "PodSecurityConfiguration");
        assert.deepEqual(plugin.configuration.defaults, {
            enforce: "baseline",
            "enforce-version": "latest",
            audit: "restricted",
            "audit-version": "latest",
            warn: "restricted",
            "warn-version": "latest",
        });
        assert.ok(plugin.configuration.exemptions.namespaces.includes("kube-system"));
        assert.ok(!plugin.configuration.exemptions.namespaces.includes("default"));
    });

    it("anonymous requests reach only the health checks (1.32+)", () => {
        const config = YAML.parse(renderYaml(authenticationConfiguration()));
        assert.equal(config.kind, "AuthenticationConfiguration");
        assert.deepEqual(config.anonymous, { enabled: true, conditions: [{ path: "/livez" }, { path: "/readyz" }, { path: "/healthz" }] });
    });

    it("each measure is off by its own key", () => {
        const off = { auditLog: false, secretsEncryption: false, kubeletHardening: false, apiServerProfiling: true };
        const docs = documents(renderInitConfig(settings("1.31", off)));
        assert.equal(docs.length, 2, "no KubeletConfiguration: kubeadm's defaults");
        const cluster = docs[1];
        // What stays is not switchable: TLS floor, Pod Security defaults and their mount.
        assert.deepEqual(Object.keys(argsOf(cluster.apiServer.extraArgs)).sort(), ["admission-control-config-file", "tls-cipher-suites", "tls-min-version"]);
        assert.deepEqual(
            cluster.apiServer.extraVolumes.map((v: any) => v.name),
            ["apiserver-config"],
        );
        assert.deepEqual(argsOf(cluster.controllerManager.extraArgs), {});
        const auditOnly = argsOf(documents(renderInitConfig(settings("1.30", { secretsEncryption: false })))[1].apiServer.extraArgs);
        assert.ok(auditOnly["audit-log-path"] && !auditOnly["encryption-provider-config"]);
    });

    it("the recorded clusters deliver the audit policy and encryption config on stdin only when on", async () => {
        await buildClusters();
        const dev = stdinFiles("dev-master-sa-2-bootstrap");
        assert.equal(YAML.parse(dev["audit/audit-policy.yaml"]).kind, "Policy");
        assert.equal(YAML.parse(dev["encryption/encryption-config.yaml"]).kind, "EncryptionConfiguration");
        const off = stdinFiles("asgc-master-sa-1-bootstrap");
        assert.equal(off["audit/audit-policy.yaml"], undefined);
        assert.equal(off["encryption/encryption-config.yaml"], undefined);
    });
});

describe("instance metadata options", () => {
    it("are set (tokens required, hop limit 1) only when requireMetadataTokens is on", async () => {
        await buildClusters();
        const required = { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 };
        assert.deepEqual(resource("aws:ec2/instance:Instance", "asgc-master-sa-2").inputs.metadataOptions, required);
        assert.deepEqual(resource("aws:ec2/launchConfiguration:LaunchConfiguration", "asgc-workers").inputs.metadataOptions, required);
        assert.equal(resource("aws:ec2/instance:Instance", "dev-master-sa-1").inputs.metadataOptions, undefined);
        assert.equal(resource("aws:ec2/launchConfiguration:LaunchConfiguration", "dev-workers").inputs.metadataOptions, undefined);
    });
});

describe("worker join token", () => {
    const HOUR = 3_600_000;

    it("rotates every ttl/2 and always has at least ttl/2 left when issued", () => {
        const ttl = 24;
        const start = Date.UTC(2026, 11, 3, 0, 0, 0);
        const a = tokenWindow(start, ttl);
        assert.equal(tokenWindow(start + 11 * HOUR, ttl).index, a.index, "same window within 12 h");
        const b = tokenWindow(start + 12 * HOUR, ttl);
        assert.equal(b.index, a.index + 1);
        assert.equal(a.expires, "2026-12-04T00:00:00Z");
        for (const offset of [0, 1, 6, 11.99]) {
            const now = start + offset * HOUR;
            const left = Date.parse(tokenWindow(now, ttl).expires) - now;
            assert.ok(left >= (ttl / 2) * HOUR && left <= ttl * HOUR, `${offset} h: ${left / HOUR} h left`);
        }
        assert.throws(() => tokenWindow(start, 0), /workerJoinTokenTtlHours/);
        assert.throws(() => tokenWindow(start, 8761), /workerJoinTokenTtlHours/);
    });

    it("is the bootstrap-token Secret kubeadm expects: node-joining groups only, with its expiration", () => {
        const secret = bootstrapTokenSecret("abcdef.0123456789abcdef", "2026-12-04T00:00:00Z", "workers");
        assert.deepEqual(secret, {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "bootstrap-token-abcdef", namespace: "kube-system" },
            type: "bootstrap.kubernetes.io/token",
            stringData: {
                description: "zadara-eksd worker join token of node group workers (rotated by pulumi up)",
                "token-id": "abcdef",
                "token-secret": "0123456789abcdef",
                expiration: "2026-12-04T00:00:00Z",
                "usage-bootstrap-authentication": "true",
                "usage-bootstrap-signing": "true",
                "auth-extra-groups": NODE_BOOTSTRAP_GROUP,
            },
        });
        assert.equal(NODE_BOOTSTRAP_GROUP, "system:bootstrappers:kubeadm:default-node-token");
        assert.throws(() => bootstrapTokenSecret("ABC.def", "x", "workers"), /must look like/);
    });

    it("keys each group's token parts (RandomPassword: a secret result, never a plain id) on the rotation window; only the join-tokens command applies them", async () => {
        await buildClusters();
        for (const part of ["dev-join-token-workers-id", "dev-join-token-workers-secret"]) {
            const keepers = resource("random:index/randomPassword:RandomPassword", part).inputs.keepers as Record<string, string>;
            assert.match(keepers.window, /^\d+$/);
            assert.equal(keepers.ttlHours, "24");
        }
        assert.equal(recorded.filter((r) => r.type === "random:index/randomString:RandomString" && r.name.includes("join-token")).length, 0);
        const applied = YAML.parseAllDocuments(String(secretValue(resource("command:remote:Command", "dev-join-tokens").inputs.stdin))).map((d) => d.toJS());
        assert.ok(applied.length >= 1);
        for (const token of applied) {
            assert.equal(token.type, "bootstrap.kubernetes.io/token");
            assert.match(token.stringData.expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        }
        for (const node of ["dev-master-sa-1", "dev-master-sa-2", "dev-master-sa-3"]) {
            const files = stdinFiles(`${node}-bootstrap`);
            assert.equal(files["zadara/bootstrap-token.yaml"], undefined, `${node}: no worker token in a control-plane stdin`);
            for (const token of applied) {
                assert.ok(!Object.values(files).some((text) => text.includes(token.stringData["token-secret"])), `${node}: no token secret at all`);
            }
        }
    });

    it("the roll fingerprint hashes the launch input with the token blanked: a rotation changes the launch configuration, never the roll trigger", async () => {
        const { dev } = await buildClusters();
        const workers = group();
        const userData = decodeUserData(String(secretValue(resource("aws:ec2/launchConfiguration:LaunchConfiguration", "dev-workers").inputs.userDataBase64)));
        const token = /token: ([a-z0-9]{6}\.[a-z0-9]{16})/.exec(userData)![1];
        const inputs = await valueOf(dev.boot.workerBuildInputs("workers", workers));
        assert.ok(!inputs.includes(token) && !inputs.includes(token.split(".")[1]), "the roll input holds no part of the token");
        const cloudConfig = (JSON.parse(inputs) as { cloudConfig: string }).cloudConfig;
        // The launch configuration's cloud-config, token and bundle address aside.
        const neutral = (text: string) => text.replace(/^(\s*BUNDLE_(?:URL|SHA256)=).*$/gm, "$1");
        assert.equal(neutral(cloudConfig).replace("tokenx.placeholderxxxxx", token), neutral(userData));
        // The fingerprint hashes exactly that launch input, with the key pair and instance profile.
        const rollInputs = await valueOf(dev.workerRollInputs.workers);
        assert.equal((JSON.parse(rollInputs) as { launch: string }).launch, inputs);
        assert.equal(await valueOf(dev.workerRollFingerprints.workers), sha256Hex(rollInputs).slice(0, 20));
    });
});
