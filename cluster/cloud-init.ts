// The user data of a node: ONE cloud-config document rendered from objects with the yaml
// library. The node scripts alone are ~55 KB, far over the 16 KB user-data limit even when
// each is gzipped (~20 KB); so the whole document is gzip-compressed (cloud-init recognises
// gzip user data) and the scripts travel without their comment-only lines (same commands,
// byte for byte; the commented originals are in cluster/scripts). Node parameters travel
// only in node.env, never inside a script.
import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import * as YAML from "yaml";
import { NodeRole } from "./iam";
import { NodeEnv, renderNodeEnv } from "./node-env";

/** Raw user data limit of RunInstances / CreateLaunchConfiguration. */
export const USER_DATA_LIMIT_BYTES = 16384;
const GZIP_OS_UNIX = 3;

export const SCRIPTS_SOURCE_DIR = path.join(__dirname, "scripts");
export const NODE_SCRIPTS_DIR = "/usr/local/lib/zadara-eksd";
export const ZADARA_ETC = "/etc/kubernetes/zadara";
export const KUBERNETES_PKI = "/etc/kubernetes/pki";
export const CRON_FILE = "/etc/cron.d/zadara-eksd";
export const NVME_UNIT = "zadara-nvme-mount.service";

/** Scripts installed per role. kubeconfig-wait.sh is not among them: it runs over SSH (stdin). */
export const ROLE_SCRIPTS: Record<NodeRole, string[]> = {
    "control-plane": [
        "lib.sh", "bootstrap.sh", "nvme-mount.sh",
        "upload-certs.sh", "etcd-backup.sh", "etcd-watchdog.sh", "renew-certs.sh",
    ],
    "worker": ["lib.sh", "bootstrap.sh", "nvme-mount.sh"],
};

export interface CronJob {
    schedule: string;
    script: string;
    why: string;
}

/** Control-plane maintenance; each script logs to its own /var/log/zadara-eksd-*.log. */
export const CONTROL_PLANE_CRON_JOBS: CronJob[] = [
    { schedule: "7 * * * *", script: "upload-certs.sh", why: "kubeadm deletes the uploaded certificates after 2 h" },
    { schedule: "17 */2 * * *", script: "etcd-backup.sh", why: "etcd snapshot + EBS snapshot every 2 h" },
    { schedule: "*/2 * * * *", script: "etcd-watchdog.sh", why: "drop etcd members of vanished instances" },
    { schedule: "37 3 * * 0", script: "renew-certs.sh", why: "renew kubeadm certificates before they expire" },
];

export interface NodeCloudConfig {
    role: NodeRole;
    nodeEnv: NodeEnv;
    /** File name in ZADARA_ETC -> content (kubeadm-init.yaml, kubeadm-join-*.yaml). */
    kubeadmFiles: Record<string, string>;
    /** Control-plane nodes only: the cluster CA placed before kubeadm runs. */
    clusterCa?: { certPem: string; keyPem: string };
    /** The cloud's root CA, added to the node's trust store. */
    rootCaCert?: string;
}

interface WriteFile {
    path: string;
    content: string;
    permissions: string;
    owner: string;
}

/** Reads a file of cluster/scripts at program time (never changed on the way to the node). */
export function readScriptSource(name: string): string {
    const file = path.join(SCRIPTS_SOURCE_DIR, name);
    if (!fs.existsSync(file)) {
        throw new Error(`node script ${file} is missing`);
    }
    return fs.readFileSync(file, "utf8");
}

/**
 * The script without its comment-only lines (the shebang stays). Scripts with a here-document
 * are shipped unchanged: a line starting with '#' may be data there.
 */
export function withoutCommentLines(name: string, script: string): string {
    if (/(?<!<)<<(?!<)/.test(script)) {
        return script;
    }
    const lines = script.split("\n");
    const kept = lines.filter((line, index) => (index === 0 && line.startsWith("#!")) || !/^\s*#/.test(line));
    const note = `# ${name} from zadara-eksd (cluster/scripts/${name}), comment lines removed to fit the user data`;
    return kept[0]?.startsWith("#!") ? [kept[0], note, ...kept.slice(1)].join("\n") : [note, ...kept].join("\n");
}

/** The cloud-config text ("#cloud-config" + one YAML document). */
export function renderCloudConfig(config: NodeCloudConfig): string {
    const document: Record<string, unknown> = {};
    if (config.rootCaCert) {
        document.ca_certs = { trusted: [config.rootCaCert] };
    }
    document.write_files = writeFiles(config);
    document.runcmd = [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", NVME_UNIT],
        [`${NODE_SCRIPTS_DIR}/bootstrap.sh`],
    ];
    return "#cloud-config\n" + YAML.stringify(document, { lineWidth: 0 });
}

/** gzip + base64, for userDataBase64. */
export function encodeUserData(cloudConfig: string): string {
    const gzip = gzipSync(Buffer.from(cloudConfig, "utf8"), { level: 9 });
    // The header's OS byte differs between zlib builds (3 on Linux, 19 on macOS): pin it, so
    // the same config gives the same user data on every machine that runs pulumi.
    gzip[9] = GZIP_OS_UNIX;
    return gzip.toString("base64");
}

export function decodeUserData(userDataBase64: string): string {
    return gunzipSync(Buffer.from(userDataBase64, "base64")).toString("utf8");
}

/** Size of the user data as the cloud counts it (decoded bytes). */
export function userDataSize(userDataBase64: string): number {
    return Buffer.from(userDataBase64, "base64").length;
}

/** Renders and encodes, refusing user data the cloud would reject. */
export function buildUserData(config: NodeCloudConfig): string {
    const encoded = encodeUserData(renderCloudConfig(config));
    const size = userDataSize(encoded);
    if (size >= USER_DATA_LIMIT_BYTES) {
        throw new Error(`user data of a ${config.role} node is ${size} bytes compressed, over the ${USER_DATA_LIMIT_BYTES}-byte limit`);
    }
    return encoded;
}

export function renderCronFile(jobs: CronJob[]): string {
    const lines = [
        "# zadara-eksd control-plane maintenance (written by cloud-init)",
        "SHELL=/bin/bash",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ];
    for (const job of jobs) {
        lines.push(`# ${job.why}`);
        lines.push(`${job.schedule} root ${NODE_SCRIPTS_DIR}/${job.script} >/dev/null 2>&1`);
    }
    return lines.join("\n") + "\n";
}

function writeFiles(config: NodeCloudConfig): WriteFile[] {
    const files: WriteFile[] = [
        plainFile(`${ZADARA_ETC}/node.env`, renderNodeEnv(config.nodeEnv), "0600"),
    ];
    for (const [name, content] of Object.entries(config.kubeadmFiles)) {
        // The bootstrap token and certificate key are in these files.
        files.push(plainFile(`${ZADARA_ETC}/${name}`, content, "0600"));
    }
    if (config.clusterCa) {
        files.push(plainFile(`${KUBERNETES_PKI}/ca.crt`, config.clusterCa.certPem, "0644"));
        files.push(plainFile(`${KUBERNETES_PKI}/ca.key`, config.clusterCa.keyPem, "0600"));
    }
    for (const script of ROLE_SCRIPTS[config.role]) {
        files.push(plainFile(`${NODE_SCRIPTS_DIR}/${script}`, withoutCommentLines(script, readScriptSource(script)), "0755"));
    }
    files.push(plainFile(`/etc/systemd/system/${NVME_UNIT}`, readScriptSource(NVME_UNIT), "0644"));
    if (config.role === "control-plane") {
        files.push(plainFile(CRON_FILE, renderCronFile(CONTROL_PLANE_CRON_JOBS), "0644"));
    }
    return files;
}

function plainFile(filePath: string, content: string, permissions: string): WriteFile {
    return { path: filePath, content, permissions, owner: "root:root" };
}
