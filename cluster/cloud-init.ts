// The user data of a node: a small cloud-config loader, rendered from objects with the yaml
// library and gzip-compressed. It carries node.env (non-secret parameters, including the
// bundle URL and its sha256), loader.sh and, on workers only, the kubeadm JoinConfiguration
// with the expiring node-bootstrap token. Everything else (the boot scripts, the root CA, the
// cron jobs) is in the boot bundle the loader downloads from the bastion and checks; the
// control-plane secrets never reach a node through user data (node-bootstrap.ts).
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import * as YAML from "yaml";
import { NodeRole } from "./iam";
import { NodeEnv, renderNodeEnv } from "./node-env";
import { CronJob, cronJobs, METADATA_GUARD_UNIT_NAME, NVME_UNIT_NAME } from "./node-files";

export type { CronJob };

/** Our limit for user data as sent (gzip): a quarter of EC2's 16,384 bytes. */
export const USER_DATA_LIMIT_BYTES = 4096;
const GZIP_OS_UNIX = 3;

export const SCRIPTS_SOURCE_DIR = path.join(__dirname, "scripts");
export const NODE_SCRIPTS_DIR = "/usr/local/lib/zadara-eksd";
export const ZADARA_ETC = "/etc/kubernetes/zadara";
export const KUBERNETES_PKI = "/etc/kubernetes/pki";
export const CRON_FILE = "/etc/cron.d/zadara-eksd";
export const NVME_UNIT = NVME_UNIT_NAME;
/** Runs metadata-guard.sh at every boot, before containerd and the kubelet. */
export const METADATA_GUARD_UNIT = METADATA_GUARD_UNIT_NAME;
export const LOADER_SCRIPT = "loader.sh";
export const WORKER_JOIN_FILE = "kubeadm-join-worker.yaml";

/**
 * Control-plane maintenance, from the node-file manifest; each script logs to its own
 * /var/log/zadara-eksd-*.log. No certificate re-upload: joins get the shared certificates from
 * the program.
 */
export const CONTROL_PLANE_CRON_JOBS: CronJob[] = cronJobs();

export interface NodeCloudConfig {
    role: NodeRole;
    /** Must include BUNDLE_URL and BUNDLE_SHA256. */
    nodeEnv: NodeEnv;
    /** Workers only: kubeadm-join-worker.yaml (holds the expiring node-bootstrap token). */
    workerJoinConfig?: string;
    /** Config keys whose values grow the user data, named when it is too large. */
    sizeKeys: string[];
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

/** The cloud-config text ("#cloud-config" + one YAML document). */
export function renderCloudConfig(config: NodeCloudConfig): string {
    const files: WriteFile[] = [
        plainFile(`${ZADARA_ETC}/node.env`, renderNodeEnv(config.nodeEnv), "0600"),
        plainFile(`${NODE_SCRIPTS_DIR}/${LOADER_SCRIPT}`, readScriptSource(LOADER_SCRIPT), "0755"),
    ];
    if (config.role === "worker") {
        if (!config.workerJoinConfig) {
            throw new Error("a worker's user data needs its kubeadm JoinConfiguration");
        }
        files.push(plainFile(`${ZADARA_ETC}/${WORKER_JOIN_FILE}`, config.workerJoinConfig, "0600"));
    } else if (config.workerJoinConfig) {
        throw new Error("control-plane user data never carries a join configuration");
    }
    const document = {
        write_files: files,
        runcmd: [[`${NODE_SCRIPTS_DIR}/${LOADER_SCRIPT}`]],
    };
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

/** Size of the user data as sent (gzip bytes). */
export function userDataSize(userDataBase64: string): number {
    return Buffer.from(userDataBase64, "base64").length;
}

/** Renders and encodes, refusing user data over USER_DATA_LIMIT_BYTES with the keys to shrink. */
export function buildUserData(config: NodeCloudConfig): string {
    const encoded = encodeUserData(renderCloudConfig(config));
    const size = userDataSize(encoded);
    if (size > USER_DATA_LIMIT_BYTES) {
        const keys = config.sizeKeys.length > 0 ? `; shorten ${config.sizeKeys.join(" / ")}` : "";
        // Config refuses a worker group over the limit first (cluster/user-data-size.ts, from program-model.ts); this
        // stays as the backstop for the values only known now. A RunError: no stack trace.
        throw new pulumi.RunError(`user data of a ${config.role} node would be ${size} bytes (gzip), over the ${USER_DATA_LIMIT_BYTES}-byte limit${keys}`);
    }
    return encoded;
}

export function renderCronFile(jobs: CronJob[]): string {
    const lines = [
        "# zadara-eksd control-plane maintenance (installed by bootstrap.sh)",
        "SHELL=/bin/bash",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ];
    for (const job of jobs) {
        lines.push(`# ${job.why}`);
        lines.push(`${job.schedule} root ${NODE_SCRIPTS_DIR}/${job.script} >/dev/null 2>&1`);
    }
    return lines.join("\n") + "\n";
}

function plainFile(filePath: string, content: string, permissions: string): WriteFile {
    return { path: filePath, content, permissions, owner: "root:root" };
}
