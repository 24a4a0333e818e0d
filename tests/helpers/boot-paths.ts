// Scenarios that run the node scripts of cluster/scripts once each, with stub commands instead
// of kubeadm, the cloud API and the metadata service. The tests assert on them; the benchmark
// reuses runBootPaths() to time every path.
import * as fs from "node:fs";
import * as path from "node:path";
import { NOOP_STUB, removeRunRoot, runStubbedBash, SCRIPT_PID_FILE, StubbedRun, StubbedRunOptions } from "./stubbed-bash";

export const SCRIPTS_DIR = path.resolve(__dirname, "..", "..", "cluster", "scripts");

export function scriptPath(name: string): string {
    return path.join(SCRIPTS_DIR, name);
}

/** Relative paths (under the run's temporary root) that replace the real absolute paths. */
export const ROOT_PATHS = {
    zadaraEtc: "etc/kubernetes/zadara",
    kubernetesEtc: "etc/kubernetes",
    stateDir: "var/lib/zadara-eksd",
    kubeletDefaults: "etc/default/kubelet",
    logFile: "var/log/zadara-eksd.log",
    etcdBackupDir: "var/lib/etcd-backup",
    etcdDataDir: "var/lib/etcd",
    nvmeMountBase: "mnt/nvme",
    nodeScriptsDir: "usr/local/lib/zadara-eksd",
    systemdDir: "etc/systemd/system",
    cronFile: "etc/cron.d/zadara-eksd",
    caTrustDir: "usr/local/share/ca-certificates",
    sysctlDir: "etc/sysctl.d",
    secretsRunDir: "run/zadara-eksd/secrets",
};

const ROOT_ENV: Record<string, string> = {
    ZADARA_ETC: ROOT_PATHS.zadaraEtc,
    KUBERNETES_ETC: ROOT_PATHS.kubernetesEtc,
    STATE_DIR: ROOT_PATHS.stateDir,
    KUBELET_DEFAULTS: ROOT_PATHS.kubeletDefaults,
    LOG_FILE: ROOT_PATHS.logFile,
    ETCD_BACKUP_DIR: ROOT_PATHS.etcdBackupDir,
    ETCD_DATA_DIR: ROOT_PATHS.etcdDataDir,
    NVME_MOUNT_BASE: ROOT_PATHS.nvmeMountBase,
    NODE_SCRIPTS_DIR: ROOT_PATHS.nodeScriptsDir,
    SYSTEMD_DIR: ROOT_PATHS.systemdDir,
    CRON_FILE: ROOT_PATHS.cronFile,
    CA_TRUST_DIR: ROOT_PATHS.caTrustDir,
    SYSCTL_DIR: ROOT_PATHS.sysctlDir,
    SECRETS_RUN_DIR: ROOT_PATHS.secretsRunDir,
};

export const LOCAL_IP = "192.168.2.10";
export const INSTANCE_ID = "i-0123abcd";
export const API_HOST = "192.168.0.50";
export const PUBLIC_ENDPOINT = "203.0.113.7:6443";

/** The node.env keys the cluster TypeScript writes, with fast test defaults. */
export function nodeEnv(overrides: Record<string, string> = {}): string {
    const values: Record<string, string> = {
        ROLE: "control-plane",
        CLUSTER_NAME: "dev",
        NODE_NAME: "dev-master-sa-1",
        API_HOST: API_HOST,
        API_PORT: "6443",
        KUBERNETES_MINOR: "1.30",
        NODE_LABELS: "",
        NODE_TAINTS: "",
        API_WAIT_TIMEOUT: "2",
        JOIN_TIMEOUT: "2",
        POLL_INTERVAL: "0.05",
        METADATA_TIMEOUT: "2",
        BOOT_PREPARED_TIMEOUT: "2",
        ETCD_BACKUP_ROTATION: "0",
        ENVIRONMENT: "dev",
        AWS_REGION: "us-east-1",
        ...overrides,
    };
    const lines: string[] = [];
    for (const [key, value] of Object.entries(values)) {
        lines.push(`${key}='${value.replace(/'/g, "'\\''")}'`);
    }
    return lines.join("\n") + "\n";
}

/** A syntactically complete kubeconfig (fake certificate data). */
export function sampleKubeconfig(user: string, server = `https://${API_HOST}:6443`): string {
    const fakeData = Buffer.from(`fake data for ${user}`).toString("base64");
    return [
        "apiVersion: v1",
        "clusters:",
        "- cluster:",
        `    certificate-authority-data: ${fakeData}`,
        `    server: ${server}`,
        "  name: dev",
        "contexts:",
        "- context:",
        "    cluster: dev",
        `    user: ${user}`,
        `  name: ${user}@dev`,
        `current-context: ${user}@dev`,
        "kind: Config",
        "preferences: {}",
        "users:",
        `- name: ${user}`,
        "  user:",
        `    client-certificate-data: ${fakeData}`,
        `    client-key-data: ${fakeData}`,
        "",
    ].join("\n");
}

const JOIN_DISCOVERY = [
    "discovery:",
    "  bootstrapToken:",
    `    apiServerEndpoint: ${API_HOST}:6443`,
    "    token: abcdef.0123456789abcdef",
    "    caCertHashes:",
    "    - sha256:0000000000000000000000000000000000000000000000000000000000000000",
];

export const WORKER_JOIN_CONFIG = ["apiVersion: kubeadm.k8s.io/v1beta3", "kind: JoinConfiguration", ...JOIN_DISCOVERY, ""].join("\n");

/** Files on a node of the given role after the loader ran (node.env, the bundle, the worker's join file). */
function nodeFiles(env: Record<string, string>, role: "control-plane" | "worker", options: { rootCa?: boolean } = {}): Record<string, string> {
    const files: Record<string, string> = {};
    files[`${ROOT_PATHS.zadaraEtc}/node.env`] = nodeEnv({ ROLE: role, ...(role === "worker" ? { NODE_NAME: "" } : {}), ...env });
    if (role === "worker") {
        files[`${ROOT_PATHS.zadaraEtc}/kubeadm-join-worker.yaml`] = WORKER_JOIN_CONFIG;
    }
    files[`${ROOT_PATHS.nodeScriptsDir}/zadara-nvme-mount.service`] = fs.readFileSync(scriptPath("zadara-nvme-mount.service"), "utf8");
    files[`${ROOT_PATHS.nodeScriptsDir}/zadara-metadata-guard.service`] = fs.readFileSync(scriptPath("zadara-metadata-guard.service"), "utf8");
    files[`${ROOT_PATHS.nodeScriptsDir}/zadara-eksd.cron`] = "# cron\n";
    if (options.rootCa) {
        files[`${ROOT_PATHS.nodeScriptsDir}/root-ca.crt`] = "FAKE ROOT CA\n";
    }
    return files;
}

// Stub for curl: instance metadata, the cloud's meta_data.json and the API /ping.
// The API answers once $TEST_ROOT/.api-up exists (created by `kubeadm init`) or after
// STUB_API_UP_AFTER polls ("0": always; unset: never). With STUB_IMDS_TOKEN set, the metadata
// service requires that session token (IMDSv2, as with requireMetadataTokens); without it, it
// has no token endpoint (zCompute today).
const CURL_STUB = `
url=""
for arg in "$@"; do
    case $arg in http*) url=$arg ;; esac
done
case $url in
    */latest/api/token)
        case " $* " in
            *" -X PUT "*) if [ -n "\${STUB_IMDS_TOKEN:-}" ]; then printf '%s' "$STUB_IMDS_TOKEN"; else exit 22; fi ;;
            *) exit 22 ;;
        esac ;;
    */latest/meta-data/*)
        if [ -n "\${STUB_IMDS_TOKEN:-}" ]; then
            case "$*" in
                *"X-aws-ec2-metadata-token: $STUB_IMDS_TOKEN"*) ;;
                *) exit 22 ;;
            esac
        fi
        case $url in
            */instance-id) printf '%s' "\${STUB_INSTANCE_ID:-${INSTANCE_ID}}" ;;
            */local-ipv4) printf '%s' "\${STUB_LOCAL_IP:-${LOCAL_IP}}" ;;
            *) exit 22 ;;
        esac ;;
    */openstack/latest/meta_data.json) printf '{"uuid": "x", "cluster_url": "https://cloud.example.com/"}' ;;
    */ping)
        polls=$(( $(cat "$TEST_ROOT/.api-polls" 2>/dev/null || echo 0) + 1 ))
        echo "$polls" > "$TEST_ROOT/.api-polls"
        if [ -f "$TEST_ROOT/.api-up" ] || { [ -n "\${STUB_API_UP_AFTER:-}" ] && [ "$polls" -gt "$STUB_API_UP_AFTER" ]; }; then
            printf 403
        else
            printf 000
            exit 7
        fi ;;
    */healthz) printf ok ;;
    *) exit 22 ;;
esac
`;

// Stub for kubeadm. `join` fails STUB_JOIN_FAILS times, a control-plane join writes admin.conf;
// `reset` empties the pki directory like the real one; `init` fails STUB_INIT_FAILS times (and
// then brings another leader's API up when STUB_OTHER_LEADER is set), else writes admin.conf /
// super-admin.conf and brings the API "up".
const KUBEADM_STUB = `
case "$1 $2" in
    "init phase") exit 0 ;;
    "init "*)
        inits=$(( $(cat "$TEST_ROOT/.inits" 2>/dev/null || echo 0) + 1 ))
        echo "$inits" > "$TEST_ROOT/.inits"
        if [ "$inits" -le "\${STUB_INIT_FAILS:-0}" ]; then
            echo "error execution phase wait-control-plane: timed out" >&2
            if [ -n "\${STUB_OTHER_LEADER:-}" ]; then touch "$TEST_ROOT/.api-up"; fi
            exit 1
        fi
        mkdir -p "$KUBERNETES_ETC"
        printf '%s' "$STUB_ADMIN_CONF" > "$KUBERNETES_ETC/admin.conf"
        printf '%s' "$STUB_SUPER_ADMIN_CONF" > "$KUBERNETES_ETC/super-admin.conf"
        touch "$TEST_ROOT/.api-up" ;;
    "join "*)
        joins=$(( $(cat "$TEST_ROOT/.joins" 2>/dev/null || echo 0) + 1 ))
        echo "$joins" > "$TEST_ROOT/.joins"
        if [ "$joins" -le "\${STUB_JOIN_FAILS:-0}" ]; then
            echo "error execution phase preflight: couldn't validate the identity of the API Server" >&2
            exit 1
        fi
        if [ -n "\${STUB_KEEP_JOIN_CONFIG:-}" ]; then cat "\${3}" > "$TEST_ROOT/.join-config-seen"; fi
        case "$*" in *control-plane* | */zadara/kubeadm.yaml) printf '%s' "$STUB_ADMIN_CONF" > "$KUBERNETES_ETC/admin.conf" ;; esac ;;
    "reset "*) rm -rf "$KUBERNETES_ETC/pki" ;;
    "token create") printf '%s\n' "\${STUB_MINTED_TOKEN-abc123.0123456789abcdef}" ;;
    "certs check-expiration")
        cat <<EOF
CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED
admin.conf                 Jan 01, 2026 00:00 UTC   \${STUB_RESIDUAL:-300d}            ca                      no
apiserver                  Jan 01, 2026 00:00 UTC   300d            ca                      no
super-admin.conf           Jan 01, 2026 00:00 UTC   300d            ca                      no

CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED
ca                      Jan 01, 2034 00:00 UTC   9y              no
EOF
        ;;
    "certs renew")
        printf '%s' "$STUB_ADMIN_CONF" > "$KUBERNETES_ETC/admin.conf"
        printf '%s' "$STUB_SUPER_ADMIN_CONF" > "$KUBERNETES_ETC/super-admin.conf" ;;
esac
`;

function stubs(extra: Record<string, string> = {}): Record<string, string> {
    return {
        curl: CURL_STUB,
        kubeadm: KUBEADM_STUB,
        systemctl: NOOP_STUB,
        sysctl: NOOP_STUB,
        openssl: NOOP_STUB,
        hostname: "echo dev-master-sa-1",
        ...extra,
    };
}

function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
        STUB_ADMIN_CONF: sampleKubeconfig("kubernetes-admin"),
        STUB_SUPER_ADMIN_CONF: sampleKubeconfig("kubernetes-super-admin"),
        ...extra,
    };
}

function run(script: string, options: StubbedRunOptions): StubbedRun {
    return runStubbedBash(scriptPath(script), { rootEnv: ROOT_ENV, timeoutMs: 20_000, ...options });
}

/** Boot scripts on the fake clock: every wait is a counted number of polls, whatever the load. */
function runOnFakeClock(script: string, options: StubbedRunOptions): StubbedRun {
    return run(script, { timeoutMs: 120_000, ...options, rootEnv: { ...ROOT_ENV, FAKE_CLOCK_FILE: ".clock", ...options.rootEnv } });
}

// ---------------------------------------------------------------------------------------------
// bootstrap.sh
// ---------------------------------------------------------------------------------------------

/** A control-plane node at boot: prepares only (no secret, no kubeadm). */
export function runControlPlanePrepare(rootCa = true, env: Record<string, string> = {}): StubbedRun {
    return runOnFakeClock("bootstrap.sh", {
        stubs: stubs({ "update-ca-certificates": NOOP_STUB }),
        env: baseEnv(env),
        files: nodeFiles({}, "control-plane", { rootCa }),
    });
}

export function runWorkerJoin(): StubbedRun {
    return runOnFakeClock("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv({ STUB_API_UP_AFTER: "2" }),
        files: nodeFiles({ NODE_LABELS: "node.kubernetes.io/pool=general,tier=web", NODE_TAINTS: "dedicated=web:NoSchedule" }, "worker"),
    });
}

export function runApiNeverUp(): StubbedRun {
    return runOnFakeClock("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv(),
        files: nodeFiles({ API_WAIT_TIMEOUT: "0.4" }, "worker"),
    });
}

export function runJoinFailsTwiceThenSucceeds(): StubbedRun {
    return runOnFakeClock("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv({ STUB_API_UP_AFTER: "0", STUB_JOIN_FAILS: "2" }),
        files: nodeFiles({}, "worker"),
    });
}

export function runJoinNeverSucceeds(): StubbedRun {
    return runOnFakeClock("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv({ STUB_API_UP_AFTER: "0", STUB_JOIN_FAILS: "100000" }),
        files: nodeFiles({ JOIN_TIMEOUT: "0.4" }, "worker"),
    });
}

/** A worker waiting for an API that never answers gets SIGTERM after 1 s. */
export function runWorkerTerminated(): StubbedRun {
    return runOnFakeClock("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv(),
        files: nodeFiles({ API_WAIT_TIMEOUT: "30" }, "worker"),
        termAfterSeconds: 1,
    });
}

// ---------------------------------------------------------------------------------------------
// control-plane-up.sh
// ---------------------------------------------------------------------------------------------

/** stdin of a bootstrap command: "<name> <base64>" lines. */
export function stdinOf(files: Record<string, string>): string {
    return Object.entries(files)
        .map(([name, content]) => `${name} ${Buffer.from(content).toString("base64")}\n`)
        .join("");
}

export const CONTROL_PLANE_STDIN: Record<string, string> = {
    "pki/ca.crt": "FAKE CA CERT\n",
    "pki/ca.key": "FAKE CA KEY\n",
    "pki/sa.key": "FAKE SA KEY\n",
    "pki/sa.pub": "FAKE SA PUB\n",
    "pki/front-proxy-ca.crt": "FAKE FP CERT\n",
    "pki/front-proxy-ca.key": "FAKE FP KEY\n",
    "pki/etcd/ca.crt": "FAKE ETCD CERT\n",
    "pki/etcd/ca.key": "FAKE ETCD KEY\n",
    "zadara/kubeadm.yaml": "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n",
    "zadara/cluster-rbac.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n",
    "audit/audit-policy.yaml": "apiVersion: audit.k8s.io/v1\nkind: Policy\n",
    "encryption/encryption-config.yaml": "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n",
};

// kubectl for control-plane-up.sh: apply succeeds; the node is Ready after STUB_READY_AFTER
// polls (unset: never; no node is Ready before); STUB_NO_NODE_READY: the cluster has no CNI yet.
const CP_KUBECTL_STUB = `
case "$*" in
    *" apply "*) exit 0 ;;
    *"get node "*)
        polls=$(( $(cat "$TEST_ROOT/.ready-polls" 2>/dev/null || echo 0) + 1 ))
        echo "$polls" > "$TEST_ROOT/.ready-polls"
        if [ -n "\${STUB_READY_AFTER:-}" ] && [ "$polls" -gt "$STUB_READY_AFTER" ]; then printf True; else printf False; fi ;;
    *"get nodes "*)
        if [ -n "\${STUB_NO_NODE_READY:-}" ]; then printf 'False'; else printf 'True False'; fi ;;
esac
`;

export interface ControlPlaneUpOptions {
    mode?: string;
    stdin?: string;
    prepared?: boolean;
    alreadyInCluster?: boolean;
    env?: Record<string, string>;
    nodeEnv?: Record<string, string>;
    etcdHealthy?: boolean;
    bootFailed?: string;
    /** The cloud CLI's stub (ModifyInstanceAttribute); absent: not on PATH. */
    aws?: string;
}

export function runControlPlaneUp(options: ControlPlaneUpOptions = {}): StubbedRun {
    const files = nodeFiles({ NODE_NAME: "dev-master-sa-1", ...options.nodeEnv }, "control-plane");
    if (options.prepared ?? true) {
        files[`${ROOT_PATHS.stateDir}/boot-prepared`] = "done\n";
    }
    if (options.alreadyInCluster) {
        files[`${ROOT_PATHS.stateDir}/boot-complete`] = "done\n";
        files[`${ROOT_PATHS.kubernetesEtc}/admin.conf`] = sampleKubeconfig("kubernetes-admin");
    }
    if (options.bootFailed) {
        files[`${ROOT_PATHS.zadaraEtc}/BOOT_FAILED`] = options.bootFailed;
    }
    return runOnFakeClock("control-plane-up.sh", {
        args: [options.mode ?? "init"],
        stdin: options.stdin ?? stdinOf(CONTROL_PLANE_STDIN),
        stubs: stubs({
            kubectl: CP_KUBECTL_STUB,
            etcdctl: options.etcdHealthy === false ? "echo 'unhealthy: context deadline exceeded' >&2; exit 1" : "echo '127.0.0.1:2379 is healthy'",
            ...(options.aws === undefined ? {} : { aws: options.aws }),
        }),
        env: baseEnv({ GATE_TIMEOUT: "2", PROGRESS_INTERVAL: "1", STUB_READY_AFTER: "0", ...options.env }),
        files,
    });
}

// ---------------------------------------------------------------------------------------------
// etcd-backup.sh, etcd-watchdog.sh, upload-certs.sh, renew-certs.sh, nvme-mount.sh
// ---------------------------------------------------------------------------------------------

export const EXPORT_CREDENTIALS = {
    accessKeyId: "AKIDEXAMPLE4242",
    secretAccessKey: "wJalrXUtnFEMIK7MDENGbPxRfiCYzzSECRET",
    bucket: "etcd-backups",
    endpoint: "https://ngos.example.com:1061",
    region: "us-east-1",
};

/** The same settings under the reference deployment's key names. */
export const REFERENCE_EXPORT_KEYS: Record<string, string> = {
    backup_access_key_id: EXPORT_CREDENTIALS.accessKeyId,
    backup_secret_access_key: EXPORT_CREDENTIALS.secretAccessKey,
    backup_bucket: EXPORT_CREDENTIALS.bucket,
    backup_endpoint: EXPORT_CREDENTIALS.endpoint,
    backup_region: EXPORT_CREDENTIALS.region,
};

function base64(value: string): string {
    return Buffer.from(value).toString("base64");
}

// etcdctl: `snapshot save <file>` writes the file (a copy of STUB_SNAPSHOT_SOURCE, e.g. a real
// etcd snapshot, when set) unless STUB_SNAPSHOT_FAILS is set.
const ETCDCTL_BACKUP_STUB = `
for last; do :; done
case "$*" in
    *"snapshot save"*)
        if [ -n "\${STUB_SNAPSHOT_FAILS:-}" ]; then echo "context deadline exceeded" >&2; exit 1; fi
        if [ -n "\${STUB_SNAPSHOT_SOURCE:-}" ]; then cp "$STUB_SNAPSHOT_SOURCE" "$last"; else printf 'etcd snapshot data' > "$last"; fi ;;
esac
`;

// crictl with an etcd container and no etcdctl on the node: `exec <id> etcdctl ...` runs the
// container's etcdctl, which writes the snapshot where it is told (inside ETCD_DATA_DIR).
const CRICTL_ETCD_STUB = `
case "$*" in
    *"ps --name ^etcd\\$ -q"*) echo c0ffee-etcd ;;
    *"exec c0ffee-etcd etcdctl"*"snapshot save"*)
        for last; do :; done
        mkdir -p "$(dirname "$last")"
        printf 'etcd snapshot data' > "$last" ;;
    *) exit 1 ;;
esac
`;

// aws stub for the backup: boot volume vol-0boot, new snapshot snap-new, five managed snapshots,
// five exported objects of this host. The S3 copy records whether it received the expected
// credentials, never the values.
const BACKUP_AWS_STUB = `
case "$*" in
    *RootDeviceName*) echo /dev/vda ;;
    *BlockDeviceMappings*) echo vol-0boot ;;
    *create-snapshot*) echo snap-new ;;
    *create-tags*) ;;
    *describe-snapshots*)
        printf '2024-01-05T10:00:00.000Z\\tsnap-new\\n'
        printf '2024-01-01T10:00:00.000Z\\tsnap-oldest\\n'
        printf '2024-01-04T10:00:00.000Z\\tsnap-4\\n'
        printf '2024-01-02T10:00:00.000Z\\tsnap-2\\n'
        printf '2024-01-03T10:00:00.000Z\\tsnap-3\\n' ;;
    *delete-snapshot*) ;;
    *"s3 cp"*)
        for arg in "$@"; do case $arg in /*) cp "$arg" "$TEST_ROOT/.exported" ;; esac; done
        if [ "$AWS_ACCESS_KEY_ID" = "$STUB_EXPECT_KEY_ID" ] && [ "$AWS_SECRET_ACCESS_KEY" = "$STUB_EXPECT_SECRET" ]; then
            echo credentials-ok > "$TEST_ROOT/.s3-credentials"
        else
            echo credentials-wrong > "$TEST_ROOT/.s3-credentials"
        fi ;;
    *"s3api list-objects-v2"*)
        p=dev/etcd_backup_dev-master-sa-1_i-0123abcd_
        printf '2024-01-03T10:00:00.000Z\\t%s20240103T100000Z.db\\n' "$p"
        printf '2024-01-05T10:00:00.000Z\\t%s20240105T100000Z.db\\n' "$p"
        printf '2024-01-01T10:00:00.000Z\\t%s20240101T100000Z.db\\n' "$p"
        printf '2024-01-04T10:00:00.000Z\\t%s20240104T100000Z.db\\n' "$p"
        printf '2024-01-02T10:00:00.000Z\\t%s20240102T100000Z.db\\n' "$p" ;;
    *"s3api delete-object"*) ;;
    *) exit 1 ;;
esac
`;

// kubectl: the export secret as `<key> <base64 value>` lines (the go-template's output).
const BACKUP_KUBECTL_STUB = `
case "$*" in
    *"get secret zadara-backup-export --ignore-not-found -o go-template="*) printf '%b' "\${STUB_SECRET_LINES:-}" ;;
    *) exit 1 ;;
esac
`;

function bootedControlPlaneFiles(env: Record<string, string> = {}): Record<string, string> {
    const files = nodeFiles(env, "control-plane");
    files[`${ROOT_PATHS.stateDir}/boot-complete`] = "done\n";
    return files;
}

export interface EtcdBackupOptions {
    /** Keys of the export secret (our names or the reference's); none: no secret. */
    secret?: Record<string, string>;
    rotation?: string;
    snapshotFails?: boolean;
    /** No etcdctl on the node: the etcd container's one is used through crictl. */
    etcdctlInContainerOnly?: boolean;
    nodeEnv?: Record<string, string>;
    /** The program's export key is not on the node. */
    noExportKey?: boolean;
    /** A file `etcdctl snapshot save` copies (a real snapshot) instead of writing fixed bytes. */
    snapshotSource?: string;
    /** More stubs, e.g. a logging wrapper around the real openssl. */
    extraStubs?: Record<string, string>;
}

/** The export key control-plane-up.sh places (the program's `etcdBackupKey`). */
export const EXPORT_KEY = "Zk3p9Qx7Lm2Wv8Rt4Yb6Nc1Hd5Jf0Gs3Ka7Ue9Io2Pl4Mn8";

export function ourExportSecret(): Record<string, string> {
    return { ...EXPORT_CREDENTIALS };
}

export function runEtcdBackup(options: EtcdBackupOptions = {}): StubbedRun {
    const lines = Object.entries(options.secret ?? {}).map(([key, value]) => `${key} ${base64(value)}\\n`);
    const env: Record<string, string> = {
        STUB_EXPECT_KEY_ID: EXPORT_CREDENTIALS.accessKeyId,
        STUB_EXPECT_SECRET: EXPORT_CREDENTIALS.secretAccessKey,
        STUB_SECRET_LINES: lines.join(""),
    };
    if (options.snapshotFails) {
        env.STUB_SNAPSHOT_FAILS = "yes";
    }
    if (options.snapshotSource) {
        env.STUB_SNAPSHOT_SOURCE = options.snapshotSource;
    }
    // The real openssl encrypts the export (no stub), when the host has it.
    const extra: Record<string, string> = { aws: BACKUP_AWS_STUB, kubectl: BACKUP_KUBECTL_STUB };
    const files = bootedControlPlaneFiles({ ETCD_BACKUP_ROTATION: options.rotation ?? "3", ...options.nodeEnv });
    if (!options.noExportKey) {
        files[`${ROOT_PATHS.zadaraEtc}/backup-export.key`] = `${EXPORT_KEY}\n`;
    }
    if (options.etcdctlInContainerOnly) {
        extra.crictl = CRICTL_ETCD_STUB;
    } else {
        extra.etcdctl = ETCDCTL_BACKUP_STUB;
    }
    const { openssl: _noStub, ...withoutOpenssl } = stubs(extra);
    return run("etcd-backup.sh", {
        stubs: { ...withoutOpenssl, ...options.extraStubs },
        hostTools: ["openssl"],
        env,
        files,
    });
}

export const MEMBER_LIST = [
    "8e9e05c52164694d, started, dev-master-sa-1, https://192.168.2.10:2380, https://192.168.2.10:2379, false",
    "91bc3c398fb3c146, started, dev-master-sa-2, https://192.168.2.11:2380, https://192.168.2.11:2379, false",
    "fd422379fda50e48, started, dev-master-sa-3, https://192.168.2.12:2380, https://192.168.2.12:2379, false",
].join("\n");

export const FOURTH_MEMBER = "0a1b2c3d4e5f6789, started, dev-master-sa-4, https://192.168.2.13:2380, https://192.168.2.13:2379, false";

// etcdctl for the watchdog (and the etcd-membership.sh it runs): the member list minus removed
// members, the status (leader STUB_LEADER, 0 = none), per-endpoint health where 192.168.2.12
// fails unless STUB_MEMBER_HEALTHY=true, and member remove (remembered in $TEST_ROOT/.removed).
const WATCHDOG_ETCDCTL_STUB = `
case "$*" in
    *"member list"*) printf '%s\\n' "$STUB_MEMBERS" | { if [ -s "$TEST_ROOT/.removed" ]; then grep -v -F -f "$TEST_ROOT/.removed"; else cat; fi; } ;;
    *"endpoint status"*) printf '[{"Endpoint":"https://127.0.0.1:2379","Status":{"header":{"member_id":10276657743932975437},"leader":%s,"raftTerm":8}}]\\n' "\${STUB_LEADER:-10276657743932975437}" ;;
    *"endpoint health"*)
        endpoints=\${*#*--endpoints=}; endpoints=\${endpoints%% *}; rc=0
        for url in \${endpoints//,/ }; do
            if [ "$url" != https://192.168.2.12:2379 ] || [ "\${STUB_MEMBER_HEALTHY:-false}" = true ]; then echo "$url is healthy: successfully committed proposal"
            else echo "$url is unhealthy: failed to commit proposal: context deadline exceeded" >&2; rc=1; fi
        done
        exit $rc ;;
    *"member remove"*) echo "\${@: -1}" >> "$TEST_ROOT/.removed" ;;
    *) exit 1 ;;
esac
`;

export interface WatchdogOptions {
    /** Private IPs the cloud lists, one a line (default: .10 this node, .11, and an unrelated .7.7). */
    instanceIps?: string;
    members?: string;
    /** Content of $STATE_DIR/etcd-watchdog.absent before the run. */
    absent?: string;
    leader?: boolean;
    memberHealthy?: boolean;
}

export function runEtcdWatchdog(options: WatchdogOptions = {}): StubbedRun {
    const files = bootedControlPlaneFiles();
    files[".instances"] = options.instanceIps ?? "192.168.2.10\t192.168.2.11\t192.168.7.7\n";
    if (options.absent !== undefined) {
        files[`${ROOT_PATHS.stateDir}/etcd-watchdog.absent`] = options.absent;
    }
    return run("etcd-watchdog.sh", {
        stubs: stubs({
            etcdctl: WATCHDOG_ETCDCTL_STUB,
            aws: `case "$*" in *describe-instances*) cat "$TEST_ROOT/.instances" ;; *) exit 1 ;; esac`,
        }),
        env: {
            STUB_MEMBERS: options.members ?? MEMBER_LIST,
            STUB_LEADER: options.leader === false ? "0" : "10276657743932975437",
            STUB_MEMBER_HEALTHY: options.memberHealthy ? "true" : "false",
        },
        files,
    });
}

export const STATIC_PODS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

// crictl stub: a static pod container "runs" while its manifest is in the manifests directory;
// STUB_NEVER_STOPS names a container that keeps running without its manifest.
const CRICTL_STUB = `
name=""
while [ $# -gt 0 ]; do
    if [ "$1" = "--name" ]; then name=$2; fi
    shift
done
name=\${name#^}
name=\${name%\\$}
if [ -f "$KUBERNETES_ETC/manifests/$name.yaml" ] || [ "$name" = "\${STUB_NEVER_STOPS:-}" ]; then echo "container-$name"; fi
# STUB_TERM_AFTER_MS: SIGTERM to the script that long after its first poll of the pod that never
# stops, so the signal lands while that pod's manifest is parked however slow the machine is.
if [ -n "\${STUB_TERM_AFTER_MS:-}" ] && [ "$name" = "\${STUB_NEVER_STOPS:-}" ] && [ ! -f "$KUBERNETES_ETC/manifests/$name.yaml" ]; then
    now=$(date +%s%3N)
    [ -f "$TEST_ROOT/.first-poll-ms" ] || echo "$now" > "$TEST_ROOT/.first-poll-ms"
    if [ $((now - $(cat "$TEST_ROOT/.first-poll-ms"))) -ge "$STUB_TERM_AFTER_MS" ]; then kill -TERM "$(cat "$TEST_ROOT/${SCRIPT_PID_FILE}")"; fi
fi
`;

// kubectl stub for the renewal lock: the ConfigMap lives in $TEST_ROOT/.lock as
// "<resourceVersion> <expires> <holder>"; create fails when it exists, a patch only applies
// at the current resourceVersion.
const LOCK_KUBECTL_STUB = `
lock="$TEST_ROOT/.lock"
case "$*" in
    *" create configmap "*)
        if [ -f "$lock" ]; then echo 'configmaps "zadara-renew-certs-lock" already exists' >&2; exit 1; fi
        for arg; do
            case $arg in
                --from-literal=holder=*) holder=\${arg#--from-literal=holder=} ;;
                --from-literal=expires=*) expires=\${arg#--from-literal=expires=} ;;
            esac
        done
        echo "1 $expires $holder" > "$lock" ;;
    *" get configmap "*)
        [ -f "$lock" ] || { echo 'not found' >&2; exit 1; }
        read -r version expires holder < "$lock"
        case "$*" in *resourceVersion*) echo "$version $expires $holder" ;; *) printf '%s' "$holder" ;; esac ;;
    *" patch configmap "*)
        read -r version expires holder < "$lock"
        case "$*" in *"\\"resourceVersion\\":\\"$version\\""*) ;; *) echo 'the object has been modified' >&2; exit 1 ;; esac
        holder=$(printf '%s' "$*" | sed -n 's/.*"holder":"\\([^"]*\\)".*/\\1/p')
        expires=$(printf '%s' "$*" | sed -n 's/.*"expires":"\\([^"]*\\)".*/\\1/p')
        echo "$((version + 1)) $expires $holder" > "$lock" ;;
    *" delete configmap "*) rm -f "$lock" ;;
    *) exit 1 ;;
esac
`;

export interface RenewCertsOptions {
    /** "<expires epoch> <holder>" of a lock another node holds. */
    lock?: string;
    etcdHealthy?: boolean;
    /** Manifests a previous run left parked (moved out of the manifests directory). */
    parked?: string[];
    /** A previous run renewed the certificates without restarting every pod. */
    pending?: boolean;
    env?: Record<string, string>;
    neverStops?: string;
    /**
     * SIGTERM this long after the script began waiting for the `neverStops` pod (the clock starts
     * at its first poll), so the signal always finds that manifest parked.
     */
    termAfterSeconds?: number;
}

export function runRenewCerts(residual: string, options: RenewCertsOptions = {}): StubbedRun {
    const files = bootedControlPlaneFiles();
    for (const pod of STATIC_PODS) {
        const folder = options.parked?.includes(pod) ? `${ROOT_PATHS.stateDir}/parked-manifests` : `${ROOT_PATHS.kubernetesEtc}/manifests`;
        files[`${folder}/${pod}.yaml`] = `kind: Pod\nmetadata:\n  name: ${pod}\n`;
    }
    files[`${ROOT_PATHS.zadaraEtc}/kubeconfig`] = "old kubeconfig\n";
    files[`${ROOT_PATHS.kubernetesEtc}/admin.conf`] = "old admin.conf\n";
    files[`${ROOT_PATHS.kubernetesEtc}/super-admin.conf`] = "old super-admin.conf\n";
    if (options.lock) {
        files[".lock"] = `7 ${options.lock}\n`;
    }
    if (options.pending) {
        files[`${ROOT_PATHS.stateDir}/renew-certs.pending`] = "2024-01-01T00:00:00Z\n";
    }
    // On the fake clock unless a signal must arrive during a real wait.
    const runner = options.termAfterSeconds === undefined ? runOnFakeClock : run;
    return runner("renew-certs.sh", {
        stubs: stubs({
            crictl: CRICTL_STUB,
            kubectl: LOCK_KUBECTL_STUB,
            etcdctl: `case "$*" in *"endpoint health --cluster"*) [ "\${STUB_ETCD_HEALTHY:-true}" = true ] ;; *) exit 1 ;; esac`,
        }),
        env: baseEnv({
            STUB_RESIDUAL: residual,
            RESTART_TIMEOUT: "2",
            // Generous: a foreign lock is polled for this long, at least twice even on a loaded machine.
            LOCK_WAIT: "3",
            STUB_ETCD_HEALTHY: options.etcdHealthy === false ? "false" : "true",
            STUB_NEVER_STOPS: options.neverStops ?? "",
            STUB_TERM_AFTER_MS: options.termAfterSeconds === undefined ? "" : String(options.termAfterSeconds * 1000),
            ...options.env,
        }),
        files,
    });
}

// Disks: nvme0n1 holds / (partition nvme0n1p1), nvme1n1 is blank, nvme2n1 carries our label,
// nvme3n1 has someone else's filesystem, nvme4n1 only a partition table (no partitions),
// nvme5n1 a signature only wipefs knows; vdb is not NVMe.
const NVME_STUBS: Record<string, string> = {
    findmnt: `
case "$*" in
    "-no SOURCE /") echo /dev/nvme0n1p1 ;;
    *) exit 1 ;;
esac`,
    lsblk: `
case "$*" in
    "-no PKNAME /dev/nvme0n1p1") echo nvme0n1 ;;
    "-dnpo NAME,TYPE") printf '/dev/nvme0n1 disk\\n/dev/nvme1n1 disk\\n/dev/nvme2n1 disk\\n/dev/nvme3n1 disk\\n/dev/nvme4n1 disk\\n/dev/nvme5n1 disk\\n/dev/vdb disk\\n' ;;
    "-dno MODEL "*) echo "Zadara local NVMe" ;;
    "-no NAME "*) basename "$3" ;;
    *) exit 1 ;;
esac`,
    wipefs: `
case "$*" in
    "-n /dev/nvme1n1") ;;
    "-n /dev/nvme4n1") printf 'DEVICE  OFFSET TYPE UUID LABEL\\nnvme4n1 0x200  gpt\\n' ;;
    "-n /dev/nvme5n1") printf 'DEVICE  OFFSET TYPE        UUID LABEL\\nnvme5n1 0x0    zfs_member\\n' ;;
    "-n "*) printf 'DEVICE OFFSET TYPE UUID LABEL\\nx      0x438  ext4\\n' ;;
    *) exit 1 ;;
esac`,
    blkid: `
case "$*" in
    "-p -o export /dev/nvme1n1" | "-p -o export /dev/nvme5n1") exit 2 ;;
    "-p -o export /dev/nvme2n1") printf 'DEVNAME=/dev/nvme2n1\\nLABEL=zeksd-nvme\\nTYPE=ext4\\n' ;;
    "-p -o export /dev/nvme4n1") printf 'DEVNAME=/dev/nvme4n1\\nPTUUID=1234\\nPTTYPE=gpt\\n' ;;
    "-p -o export "*) printf 'DEVNAME=%s\\nLABEL=data\\nTYPE=ext4\\n' "$4" ;;
    *) exit 1 ;;
esac`,
    "mkfs.ext4": NOOP_STUB,
    mount: NOOP_STUB,
};

export function runNvmeMount(): StubbedRun {
    return run("nvme-mount.sh", { stubs: NVME_STUBS });
}

// ---------------------------------------------------------------------------------------------
// Benchmark entry point
// ---------------------------------------------------------------------------------------------

export interface BootPath {
    name: string;
    run: () => StubbedRun;
}

export const BOOT_PATHS: BootPath[] = [
    { name: "bootstrap: control plane prepares", run: () => runControlPlanePrepare() },
    { name: "bootstrap: worker joins", run: runWorkerJoin },
    { name: "bootstrap: API never up", run: runApiNeverUp },
    { name: "bootstrap: join fails twice, then succeeds", run: runJoinFailsTwiceThenSucceeds },
    { name: "bootstrap: join never succeeds", run: runJoinNeverSucceeds },
    { name: "control-plane-up: init", run: () => runControlPlaneUp({ mode: "init" }) },
    { name: "control-plane-up: join", run: () => runControlPlaneUp({ mode: "join", env: { STUB_API_UP_AFTER: "2" } }) },
    { name: "control-plane-up: etcd never healthy", run: () => runControlPlaneUp({ etcdHealthy: false }) },
    { name: "etcd-backup: no export secret", run: () => runEtcdBackup() },
    { name: "etcd-backup: with export secret", run: () => runEtcdBackup({ secret: ourExportSecret() }) },
    { name: "etcd-watchdog: stale member", run: () => runEtcdWatchdog({ absent: "fd422379fda50e48 2\n" }) },
    { name: "etcd-watchdog: empty instance list", run: () => runEtcdWatchdog({ instanceIps: "" }) },
    { name: "renew-certs: expiring", run: () => runRenewCerts("20d") },
    { name: "renew-certs: nothing to do", run: () => runRenewCerts("300d") },
    { name: "nvme-mount", run: runNvmeMount },
];

export interface BootPathTiming {
    path: string;
    elapsedMs: number;
}

/** Runs every path once (temporary roots are removed) and returns how long each took. */
export function runBootPaths(): BootPathTiming[] {
    const timings: BootPathTiming[] = [];
    for (const bootPath of BOOT_PATHS) {
        const result = bootPath.run();
        removeRunRoot(result);
        timings.push({ path: bootPath.name, elapsedMs: result.elapsedMs });
    }
    return timings;
}
