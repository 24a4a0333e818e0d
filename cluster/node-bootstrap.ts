// How nodes boot without a cluster secret in their user data:
//
// - The boot bundle: the node scripts (+ the cron file and the cloud's root CA) as one text
//   file of "<name> <base64>" lines, named by its sha256. A Command on the bastion publishes
//   it (stdin) into the directory the bastion's bundle server serves on BUNDLE_PORT, before
//   any node that uses it is created. Old bundles stay: launch configurations still name them.
// - User data: a small cloud-config loader (cloud-init.ts) that downloads the bundle, refuses
//   it unless its sha256 matches, installs it and runs bootstrap.sh. Workers also carry their
//   JoinConfiguration with their node group's expiring join token; control-plane nodes only prepare.
// - Control-plane nodes: a `<node>-bootstrap` Command per node (through the bastion) sends the
//   CAs, the service-account key, the kubeadm config, the audit policy, the encryption config
//   and the cluster RBAC on stdin (a Pulumi secret) and runs control-plane-up.sh. Nothing in
//   that stdin changes with a token rotation, so CA keys travel only when a node joins or the
//   cluster configuration changes; the worker tokens go to the cluster through join-tokens.ts.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import type { NodeGroupConfig } from "../model";
import { BUNDLE_PORT } from "../model/constants";
import { buildUserData, CONTROL_PLANE_CRON_JOBS, NodeCloudConfig, NODE_SCRIPTS_DIR, readScriptSource, renderCloudConfig, renderCronFile } from "./cloud-init";
import type { NodeRole } from "./iam";
import { CRON_FILE_NAME, NODE_FILES, nodeFileNames } from "./node-files";
import { admissionConfiguration, auditPolicy, authenticationConfiguration, encryptionConfiguration, limitsAnonymousPaths, renderYaml } from "./hardening";
import { KubeadmSettings, renderClusterWideConfig, renderInitConfig, renderJoinControlPlaneConfig } from "./kubeadm";
import { shellSingleQuote } from "./node-env";
import { BundleRef, bundleFileName, commonNodeEnvFor, kubeadmSettingsFor, NodeBootSettings, sha256Hex, workerCloudConfigFor } from "./node-user-data";
import { bootstrapTokenSecret, ClusterSecrets } from "./secrets";
import { adminClusterRoleBinding } from "./admin-credential";
import type { ControlPlaneBootInput, ControlPlaneNodeBoot } from "./control-plane";

/** Where the bastion keeps the bundles it serves (its bundle server's directory). */
export const BASTION_BUNDLE_DIR = "/var/lib/zadara-eksd/bundles";
export const CRON_BUNDLE_NAME = CRON_FILE_NAME;
export const ROOT_CA_BUNDLE_NAME = "root-ca.crt";
export { bundleFileName, JOIN_TIMEOUT_SECONDS, MIN_API_WAIT_SECONDS, sha256Hex } from "./node-user-data";
/** The bootstrap command waits this long for the loader to install control-plane-up.sh. */
export const BUNDLE_INSTALL_WAIT_SECONDS = 900;
/** A token that never exists: stands in for the real one in the worker roll fingerprint. */
const TOKEN_PLACEHOLDER = "tokenx.placeholderxxxxx";

/** The files control-plane-up.sh accepts on stdin (relative to /etc/kubernetes). */
export const CONTROL_PLANE_STDIN_FILES = [
    "pki/ca.crt",
    "pki/ca.key",
    "pki/sa.key",
    "pki/sa.pub",
    "pki/front-proxy-ca.crt",
    "pki/front-proxy-ca.key",
    "pki/etcd/ca.crt",
    "pki/etcd/ca.key",
    "zadara/kubeadm.yaml",
    "zadara/cluster-rbac.yaml",
    "zadara/backup-export.key",
    "audit/audit-policy.yaml",
    "encryption/encryption-config.yaml",
    "apiserver/admission-config.yaml",
    "apiserver/authentication-config.yaml",
    // EKS-D upgrade: the new release's ClusterConfiguration, uploaded before the join.
    "zadara/kubeadm-cluster.yaml",
] as const;
export type ControlPlaneStdinFile = (typeof CONTROL_PLANE_STDIN_FILES)[number];

export type { ControlPlaneNodeBoot, ControlPlaneBootInput };

// ---------------------------------------------------------------------------------------------
// Bundle
// ---------------------------------------------------------------------------------------------

/** "<name> <base64>" lines, names sorted: the same files always give the same bytes. */
export function renderBundle(files: Record<string, string>): string {
    const names = Object.keys(files).sort();
    for (const name of names) {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
            throw new Error(`bundle file name "${name}" must be a plain file name`);
        }
    }
    return names.map((name) => `${name} ${Buffer.from(files[name], "utf8").toString("base64")}\n`).join("");
}

/**
 * The bundle files a node of `role` installs: its files of the node-file manifest and the root
 * CA. Control-plane nodes fetch the whole bundle, workers a bundle of their own share.
 */
export function roleBundleFiles(role: NodeRole, all: Record<string, string>): Record<string, string> {
    const used = new Set([...nodeFileNames(role), ROOT_CA_BUNDLE_NAME]);
    return Object.fromEntries(Object.entries(all).filter(([name]) => used.has(name)));
}

/** Every file of the boot bundle: the node-file manifest (cluster/node-files.ts) and the root CA. */
export function bundleFiles(rootCaCert: string | undefined): Record<string, string> {
    const files: Record<string, string> = {};
    for (const file of NODE_FILES) {
        files[file.name] = file.generated === true ? renderCronFile(CONTROL_PLANE_CRON_JOBS) : readScriptSource(file.name);
    }
    if (rootCaCert) {
        files[ROOT_CA_BUNDLE_NAME] = rootCaCert.endsWith("\n") ? rootCaCert : `${rootCaCert}\n`;
    }
    return files;
}

/** Where the bastion trusts the cloud's root CA (taken from the bundle by the publish command). */
export const BASTION_ROOT_CA_FILE = "/usr/local/share/ca-certificates/zadara-eksd-root-ca.crt";

/**
 * Bastion-side publish: write to a temporary name, check the sha256, then rename. With a root
 * CA in the bundle, the bastion trusts it too (it is kept out of the bastion's user data).
 */
export function publishBundleCommand(sha256: string, trustRootCa: boolean): string {
    const target = `${BASTION_BUNDLE_DIR}/${bundleFileName(sha256)}`;
    const temporary = `${BASTION_BUNDLE_DIR}/.incoming-${sha256}`;
    const trust = trustRootCa
        ? [
              `grep '^${ROOT_CA_BUNDLE_NAME} ' ${target} | cut -d' ' -f2 | base64 -d | sudo tee ${BASTION_ROOT_CA_FILE} >/dev/null`,
              "sudo update-ca-certificates >/dev/null",
          ]
        : [];
    return [
        `sudo install -d -m 755 ${BASTION_BUNDLE_DIR}`,
        `sudo tee ${temporary} >/dev/null`,
        `echo '${sha256}  ${temporary}' | sudo sha256sum -c --quiet -`,
        `sudo chmod 644 ${temporary}`,
        `sudo mv -f ${temporary} ${target}`,
        ...trust,
        `echo "published ${target}"`,
    ].join(" && ");
}

// ---------------------------------------------------------------------------------------------
// Control-plane bootstrap command
// ---------------------------------------------------------------------------------------------

/** "<relative-file-name> <base64>" lines for control-plane-up.sh; names checked here and there. */
export function renderStdinFiles(files: Partial<Record<ControlPlaneStdinFile, string>>): string {
    return Object.entries(files)
        .filter(([, content]) => content !== undefined)
        .map(([name, content]) => {
            if (!(CONTROL_PLANE_STDIN_FILES as readonly string[]).includes(name)) {
                throw new Error(`control-plane-up.sh does not accept ${name}`);
            }
            return `${name} ${Buffer.from(content, "utf8").toString("base64")}\n`;
        })
        .join("");
}

/** Paths the bootstrap command uses on the node (tests point them into a temporary root). */
export interface ControlPlaneUpPaths {
    scriptsDir: string;
    /** Written by control-plane-up.sh once the node passed its gate (lib.sh STATE_DIR). */
    bootComplete: string;
    adminKubeconfig: string;
}

export const NODE_PATHS: ControlPlaneUpPaths = {
    scriptsDir: NODE_SCRIPTS_DIR,
    bootComplete: "/var/lib/zadara-eksd/boot-complete",
    adminKubeconfig: "/etc/kubernetes/admin.conf",
};

/**
 * The bash the bootstrap Command runs as root: wait (bounded, with progress) until the loader
 * installed control-plane-up.sh, then run it with the stdin files.
 *
 * A join that fails before the node ever passed its gate (no boot-complete marker) takes the
 * node out again: its Node object, then `kubeadm reset -f`, which removes the node's own etcd
 * member (kubeadm's reset phase remove-etcd-member) and its local state. A Command whose create
 * fails is not recorded in Pulumi's state, so no delete would ever run for it: a re-run with
 * another configuration (or a rollback) replaces the instance and terminates it at the end of
 * the update without a leave, which would leave a dead voter in etcd. A re-run with the same
 * configuration joins the reset node again. A node that passed its gate before (an update of
 * a running member) is never reset here.
 */
export function controlPlaneUpBody(mode: "init" | "join", paths: ControlPlaneUpPaths = NODE_PATHS): string {
    const script = `${paths.scriptsDir}/control-plane-up.sh`;
    const pauses = BUNDLE_INSTALL_WAIT_SECONDS / 5;
    const wait = [
        `for i in $(seq 1 ${pauses}); do`,
        `if [ -x ${script} ]; then break; fi;`,
        `if [ $((i % 12)) -eq 0 ]; then echo "waiting for the boot bundle on this node ($((i * 5))s of ${BUNDLE_INSTALL_WAIT_SECONDS}s)" >&2; fi;`,
        "sleep 5; done;",
        `if [ ! -x ${script} ]; then echo "FAILED phase: wait for the boot bundle: ${script} is missing after ${BUNDLE_INSTALL_WAIT_SECONDS}s" >&2;`,
        "cat /etc/kubernetes/zadara/BOOT_FAILED >&2 2>/dev/null; tail -n 40 /var/log/cloud-init-output.log >&2 2>/dev/null; exit 1; fi;",
    ];
    if (mode === "init") {
        // A new cluster's first node: nothing else to protect, control-plane-up.sh retries itself.
        return [...wait, `exec ${script} init`].join(" ");
    }
    const nodeName = "$(hostname | tr '[:upper:]' '[:lower:]')";
    return [
        ...wait,
        `rc=0; ${script} join || rc=$?;`,
        `if [ "$rc" -ne 0 ] && [ ! -e ${paths.bootComplete} ]; then`,
        `echo "cleanup: this node never passed its gate; taking it out of the cluster again (Node object, kubeadm reset: its etcd member)" >&2;`,
        `kubectl --kubeconfig ${paths.adminKubeconfig} --request-timeout=20s delete node --ignore-not-found "${nodeName}" >&2 || true;`,
        'if kubeadm reset -f >&2; then echo "cleanup: done; a re-run joins this node again" >&2;',
        `else echo "cleanup FAILED: kubeadm reset -f; if this node's etcd member is still listed, remove it from a healthy control-plane node: ${paths.scriptsDir}/etcd-membership.sh leave ${nodeName}" >&2; fi;`,
        'fi; exit "$rc"',
    ].join(" ");
}

/** The bootstrap Command's create: controlPlaneUpBody as root. */
export function controlPlaneUpCommand(mode: "init" | "join"): string {
    return `sudo bash -c ${shellSingleQuote(controlPlaneUpBody(mode))}`;
}

export interface ControlPlaneBootstrapInput {
    mode: "init" | "join";
    files: pulumi.Input<Partial<Record<ControlPlaneStdinFile, string>>>;
}

/** create + stdin of a `<node>-bootstrap` Command; stdin is a Pulumi secret. */
export function controlPlaneBootstrapCommandArgs(input: ControlPlaneBootstrapInput): { create: pulumi.Output<string>; stdin: pulumi.Output<string> } {
    return {
        create: pulumi.output(controlPlaneUpCommand(input.mode)),
        stdin: pulumi.secret(pulumi.output(input.files).apply((files) => renderStdinFiles(files))),
    };
}

// ---------------------------------------------------------------------------------------------
// NodeBootstrap
// ---------------------------------------------------------------------------------------------

export interface NodeBootstrapArgs extends NodeBootSettings {
    parent: pulumi.Resource;
    secrets: ClusterSecrets;
    /** The API load balancer's private IP and the API server certificate SANs. */
    apiPrivateIp: pulumi.Output<string>;
    certSans: pulumi.Output<string[]>;
    etcdBackupRotation: number;
    bastion: {
        publicIp: pulumi.Input<string>;
        privateIp: pulumi.Input<string>;
        user: string;
        privateKey: pulumi.Input<string>;
        /** Its SSH host key (cluster/host-keys.ts); undefined: not checked. */
        hostKey?: pulumi.Input<string>;
    };
    /** What the publish Command needs first (the network: SG rules, routes). */
    dependsOn: pulumi.Resource[];
}

export class NodeBootstrap implements ControlPlaneNodeBoot {
    readonly bundle: string;
    readonly bundleSha256: string;
    /** sha256 of the bundle files a worker uses (its scripts, the NVMe unit, the root CA). */
    private readonly workerBundleSha256: string;
    readonly bundleUrl: pulumi.Output<string>;
    readonly publishCommand: command.remote.Command;
    readonly dependsOn: pulumi.Resource[];

    constructor(private readonly args: NodeBootstrapArgs) {
        const files = bundleFiles(args.rootCaCert);
        this.bundle = renderBundle(files);
        this.bundleSha256 = sha256Hex(this.bundle);
        this.workerBundleSha256 = sha256Hex(renderBundle(roleBundleFiles("worker", files)));
        // Through the API load balancer (infra/network.ts createBundlePath), not the bastion's own
        // address: a replaced bastion leaves every node's user data as it is.
        this.bundleUrl = pulumi.interpolate`http://${args.apiPrivateIp}:${BUNDLE_PORT}/${bundleFileName(this.bundleSha256)}`;
        this.publishCommand = new command.remote.Command(
            `${args.environment}-boot-bundle`,
            {
                connection: {
                    host: args.bastion.publicIp,
                    user: args.bastion.user,
                    privateKey: pulumi.secret(args.bastion.privateKey),
                    ...(args.bastion.hostKey !== undefined ? { hostKey: args.bastion.hostKey } : {}),
                },
                create: publishBundleCommand(this.bundleSha256, args.rootCaCert !== undefined),
                stdin: this.bundle,
                // A new bastion has an empty bundle directory: publish again.
                triggers: [args.bastion.privateIp],
                addPreviousOutputInEnv: false,
            },
            { parent: args.parent, dependsOn: args.dependsOn },
        );
        this.dependsOn = [this.publishCommand];
    }

    userData(nodeName: string): pulumi.Output<string> {
        return pulumi.all([this.args.apiPrivateIp, this.publicSettings(), this.bundleUrl]).apply(([apiIp, settings, bundleUrl]) =>
            buildUserData({
                role: "control-plane",
                nodeEnv: {
                    ROLE: "control-plane",
                    ...this.commonNodeEnv(apiIp, { url: bundleUrl, sha256: this.bundleSha256 }),
                    NODE_NAME: nodeName,
                    NODE_LABELS: "",
                    NODE_TAINTS: "",
                    ETCD_BACKUP_ROTATION: String(this.args.etcdBackupRotation),
                    CLUSTER_CONFIG_SHA256: sha256Hex(renderClusterWideConfig(settings)),
                },
                sizeKeys: [],
            }),
        );
    }

    bootstrapCommand(node: ControlPlaneBootInput): { create: pulumi.Input<string>; stdin: pulumi.Input<string> } {
        return controlPlaneBootstrapCommandArgs({
            mode: node.mode,
            files: this.controlPlaneFiles(node.mode, node.uploadClusterConfig === true),
        });
    }

    /** InitConfiguration + ClusterConfiguration of this release (secret: it holds the token). */
    initConfig(): pulumi.Output<string> {
        return pulumi.secret(this.kubeadmSettings().apply(renderInitConfig));
    }

    /** Worker user data (a secret: it holds the group's expiring join token). */
    workerUserData(groupName: string, group: NodeGroupConfig): pulumi.Output<string> {
        return pulumi.secret(
            pulumi
                .all([this.kubeadmSettings(this.joinToken(groupName)), this.bundleUrl])
                .apply(([settings, bundleUrl]) => this.renderWorkerUserData(groupName, group, settings, bundleUrl)),
        );
    }

    /**
     * What a group's instances are built from, except the join token (a token rotation changes
     * the launch configuration but must not roll running nodes); EksdCluster hashes it, with the
     * key pair and instance profile, into the group's roll fingerprint. JSON, no secret (tests
     * compare it between stacks): the launch configuration's cloud-config with the token blanked and, instead of the whole
     * bundle's address and sha256, the sha256 of the worker's own bundle files (a new bastion or
     * a control-plane-only script must not roll workers).
     */
    workerBuildInputs(groupName: string, group: NodeGroupConfig): pulumi.Output<string> {
        return this.publicSettings().apply((placeholderSettings) =>
            JSON.stringify({
                amiId: group.amiId,
                instanceType: group.instanceType,
                volumeSize: group.volumeSize,
                cloudConfig: renderCloudConfig(this.workerCloudConfig(groupName, group, placeholderSettings, { url: "", sha256: this.workerBundleSha256 })),
            }),
        );
    }

    /**
     * The bootstrap-token Secrets of every node group, one YAML document each (secret): what
     * the join-tokens Command applies. Only these change when the tokens rotate.
     */
    joinTokenSecrets(): pulumi.Output<string> {
        const groups = Object.keys(this.args.secrets.joinTokens).sort();
        const expires = this.args.secrets.bootstrapTokenExpires;
        return pulumi.secret(
            pulumi
                .all(groups.map((groupName) => this.joinToken(groupName)))
                .apply((tokens) => tokens.map((token, i) => YAML.stringify(bootstrapTokenSecret(token, expires, groups[i]))).join("---\n")),
        );
    }

    private joinToken(groupName: string): pulumi.Output<string> {
        const token = this.args.secrets.joinTokens[groupName];
        if (token === undefined) {
            throw new Error(`node group ${groupName} has no join token`);
        }
        return token;
    }

    /** kubeadm settings with the token blanked: for hashes and plain (non-secret) user data. */
    private publicSettings(): pulumi.Output<KubeadmSettings> {
        return pulumi
            .all([this.args.apiPrivateIp, this.args.certSans, pulumi.unsecret(this.args.secrets.caCertHash)])
            .apply(([apiIp, certSans, caCertHash]) => this.settingsFrom(apiIp, certSans, TOKEN_PLACEHOLDER, caCertHash));
    }

    private renderWorkerUserData(groupName: string, group: NodeGroupConfig, settings: KubeadmSettings, bundleUrl: string): string {
        return buildUserData(this.workerCloudConfig(groupName, group, settings, { url: bundleUrl, sha256: this.bundleSha256 }));
    }

    private workerCloudConfig(groupName: string, group: NodeGroupConfig, settings: KubeadmSettings, bundle: BundleRef): NodeCloudConfig {
        return workerCloudConfigFor(this.args, groupName, group, settings, bundle);
    }

    /** The stdin files of a control-plane node (all secret material travels only here). */
    private controlPlaneFiles(mode: "init" | "join", uploadClusterConfig: boolean): pulumi.Output<Partial<Record<ControlPlaneStdinFile, string>>> {
        const s = this.args.secrets;
        const hardening = this.args.hardening;
        const pki = pulumi.all([
            s.caCertPem,
            s.caKeyPem,
            s.serviceAccountKeyPem,
            s.serviceAccountPublicKeyPem,
            s.frontProxyCa.certPem,
            s.frontProxyCa.keyPem,
            s.etcdCa.certPem,
            s.etcdCa.keyPem,
            s.backupExportKey,
        ]);
        return pulumi
            .all([this.kubeadmSettings(), pki, s.encryptionKeys])
            .apply(([settings, [caCert, caKey, saKey, saPub, fpCert, fpKey, etcdCert, etcdKey, backupKey], encryptionKeys]) => {
                const files: Partial<Record<ControlPlaneStdinFile, string>> = {
                    "pki/ca.crt": caCert,
                    "pki/ca.key": caKey,
                    "pki/sa.key": saKey,
                    "pki/sa.pub": saPub,
                    "pki/front-proxy-ca.crt": fpCert,
                    "pki/front-proxy-ca.key": fpKey,
                    "pki/etcd/ca.crt": etcdCert,
                    "pki/etcd/ca.key": etcdKey,
                    "zadara/kubeadm.yaml": mode === "init" ? renderInitConfig(settings) : renderJoinControlPlaneConfig(settings),
                    "zadara/cluster-rbac.yaml": YAML.stringify(adminClusterRoleBinding()),
                    "zadara/backup-export.key": `${backupKey}\n`,
                    "apiserver/admission-config.yaml": renderYaml(admissionConfiguration()),
                };
                if (limitsAnonymousPaths(settings.kubernetesMinor)) {
                    files["apiserver/authentication-config.yaml"] = renderYaml(authenticationConfiguration());
                }
                if (uploadClusterConfig && mode === "join") {
                    files["zadara/kubeadm-cluster.yaml"] = renderInitConfig(settings);
                }
                if (hardening.auditLog) {
                    files["audit/audit-policy.yaml"] = renderYaml(auditPolicy());
                }
                if (hardening.secretsEncryption) {
                    files["encryption/encryption-config.yaml"] = renderYaml(encryptionConfiguration(encryptionKeys));
                }
                return files;
            });
    }

    /**
     * Everything kubeadm needs, once the API address and the secrets are known. Without a
     * group's token (control-plane files), the placeholder: those files never hold a token.
     */
    private kubeadmSettings(token: pulumi.Input<string> = TOKEN_PLACEHOLDER): pulumi.Output<KubeadmSettings> {
        return pulumi
            .all([this.args.apiPrivateIp, this.args.certSans, token, this.args.secrets.caCertHash])
            .apply(([apiIp, certSans, token, caCertHash]) => this.settingsFrom(apiIp, certSans, token, caCertHash));
    }

    private settingsFrom(apiIp: string, certSans: string[], token: string, caCertHash: string): KubeadmSettings {
        return kubeadmSettingsFor(this.args, apiIp, certSans, token, caCertHash, this.args.secrets.bootstrapTokenExpires);
    }

    /** node.env values every node shares (none of them secret). */
    private commonNodeEnv(apiIp: string, bundle: BundleRef): ReturnType<typeof commonNodeEnvFor> {
        return commonNodeEnvFor(this.args, apiIp, bundle);
    }
}
