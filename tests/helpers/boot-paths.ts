// Scenarios that run the node scripts of cluster/scripts once each, with stub commands instead
// of kubeadm, the cloud API and the metadata service. The tests assert on them; the benchmark
// reuses runBootPaths() to time every path.
import * as fs from "node:fs";
import * as path from "node:path";
import { NOOP_STUB, removeRunRoot, runStubbedBash, StubbedRun, StubbedRunOptions } from "./stubbed-bash";

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
    nvmeMountBase: "mnt/nvme",
};

const ROOT_ENV: Record<string, string> = {
    ZADARA_ETC: ROOT_PATHS.zadaraEtc,
    KUBERNETES_ETC: ROOT_PATHS.kubernetesEtc,
    STATE_DIR: ROOT_PATHS.stateDir,
    KUBELET_DEFAULTS: ROOT_PATHS.kubeletDefaults,
    LOG_FILE: ROOT_PATHS.logFile,
    ETCD_BACKUP_DIR: ROOT_PATHS.etcdBackupDir,
    NVME_MOUNT_BASE: ROOT_PATHS.nvmeMountBase,
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
        LEADER_ELECTION: "static",
        IS_LEADER: "false",
        ASG_NAME: "",
        API_HOST: API_HOST,
        API_PORT: "6443",
        KUBERNETES_MINOR: "1.30",
        NODE_LABELS: "",
        NODE_TAINTS: "",
        API_WAIT_TIMEOUT: "2",
        JOIN_TIMEOUT: "2",
        POLL_INTERVAL: "0.05",
        METADATA_TIMEOUT: "2",
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

const CONFIG_FILES: Record<string, string> = {
    "kubeadm-init.yaml": "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\ncertificateKey: '0123'\n",
    "kubeadm-join-control-plane.yaml": [
        "apiVersion: kubeadm.k8s.io/v1beta3",
        "kind: JoinConfiguration",
        ...JOIN_DISCOVERY,
        "controlPlane:",
        "  certificateKey: '0123'",
        "",
    ].join("\n"),
    "kubeadm-join-worker.yaml": ["apiVersion: kubeadm.k8s.io/v1beta3", "kind: JoinConfiguration", ...JOIN_DISCOVERY, ""].join("\n"),
};

/** Files cloud-init writes on a node of the given role. */
function nodeFiles(env: Record<string, string>, role: "control-plane" | "worker"): Record<string, string> {
    const files: Record<string, string> = {};
    files[`${ROOT_PATHS.zadaraEtc}/node.env`] = nodeEnv({ ROLE: role, ...env });
    for (const [name, content] of Object.entries(CONFIG_FILES)) {
        files[`${ROOT_PATHS.zadaraEtc}/${name}`] = content;
    }
    if (role === "control-plane") {
        files[`${ROOT_PATHS.kubernetesEtc}/pki/ca.crt`] = "FAKE CA CERT\n";
        files[`${ROOT_PATHS.kubernetesEtc}/pki/ca.key`] = "FAKE CA KEY\n";
    }
    return files;
}

// Stub for curl: instance metadata, the cloud's meta_data.json and the API /ping.
// The API answers once $TEST_ROOT/.api-up exists (created by `kubeadm init`) or after
// STUB_API_UP_AFTER polls ("0": always; unset: never).
const CURL_STUB = `
url=""
for arg in "$@"; do
    case $arg in http*) url=$arg ;; esac
done
case $url in
    */latest/meta-data/instance-id) printf '%s' "\${STUB_INSTANCE_ID:-${INSTANCE_ID}}" ;;
    */latest/meta-data/local-ipv4) printf '%s' "\${STUB_LOCAL_IP:-${LOCAL_IP}}" ;;
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

// Stub for kubeadm. `join` fails STUB_JOIN_FAILS times; `reset` empties the pki directory
// like the real one; `init` writes admin.conf / super-admin.conf and brings the API "up".
const KUBEADM_STUB = `
case "$1 $2" in
    "init phase") exit 0 ;;
    "init "*)
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
        fi ;;
    "reset "*) rm -rf "$KUBERNETES_ETC/pki" ;;
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

// ---------------------------------------------------------------------------------------------
// bootstrap.sh
// ---------------------------------------------------------------------------------------------

export function runLeaderInit(minor = "1.30"): StubbedRun {
    return run("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv(),
        files: nodeFiles({ IS_LEADER: "true", KUBERNETES_MINOR: minor }, "control-plane"),
    });
}

export function runControlPlaneJoinWhenApiAnswers(): StubbedRun {
    return run("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv({ STUB_API_UP_AFTER: "0" }),
        files: nodeFiles({ IS_LEADER: "true", NODE_NAME: "dev-master-sa-1" }, "control-plane"),
    });
}

export function runNonLeaderWaitsThenJoins(): StubbedRun {
    return run("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv({ STUB_API_UP_AFTER: "4" }),
        files: nodeFiles({ IS_LEADER: "false", NODE_NAME: "dev-master-sa-2" }, "control-plane"),
    });
}

export function runWorkerJoin(): StubbedRun {
    return run("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv({ STUB_API_UP_AFTER: "2" }),
        files: nodeFiles(
            { NODE_NAME: "", NODE_LABELS: "node.kubernetes.io/pool=general,tier=web", NODE_TAINTS: "dedicated=web:NoSchedule" },
            "worker",
        ),
    });
}

export function runApiNeverUp(): StubbedRun {
    return run("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv(),
        files: nodeFiles({ ROLE: "worker", API_WAIT_TIMEOUT: "0.4" }, "worker"),
    });
}

export function runJoinFailsTwiceThenSucceeds(): StubbedRun {
    return run("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv({ STUB_API_UP_AFTER: "0", STUB_JOIN_FAILS: "2" }),
        files: nodeFiles({ IS_LEADER: "false", NODE_NAME: "dev-master-sa-3" }, "control-plane"),
    });
}

export function runJoinNeverSucceeds(): StubbedRun {
    return run("bootstrap.sh", {
        stubs: stubs(),
        env: baseEnv({ STUB_API_UP_AFTER: "0", STUB_JOIN_FAILS: "100000" }),
        files: nodeFiles({ JOIN_TIMEOUT: "0.4" }, "worker"),
    });
}

// aws stub for the ASG election: three masters, .10 (this node by default), .11 and .9.
const ASG_AWS_STUB = `
case "$*" in
    *describe-auto-scaling-groups*) printf 'i-a\\ti-b\\ti-c\\n' ;;
    *describe-instances*) printf '192.168.2.10\\t192.168.2.11\\n192.168.2.9\\n' ;;
    *) exit 1 ;;
esac
`;

/** The API comes up after 4 polls: in time for a follower, after the leader's election. */
export function runAsgElection(localIp: string): StubbedRun {
    return run("bootstrap.sh", {
        stubs: stubs({ aws: ASG_AWS_STUB }),
        env: baseEnv({ STUB_LOCAL_IP: localIp, STUB_API_UP_AFTER: "4" }),
        files: nodeFiles({ LEADER_ELECTION: "asg", ASG_NAME: "dev-master", NODE_NAME: "", API_WAIT_TIMEOUT: "0.5" }, "control-plane"),
    });
}

// ---------------------------------------------------------------------------------------------
// kubeconfig-wait.sh
// ---------------------------------------------------------------------------------------------

// sudo stub: runs the command; after STUB_READY_AFTER `test` calls it publishes the kubeconfig
// the way bootstrap.sh does (kubeconfig first, marker last).
// Like sudo with use_pty, it reads its standard input (relayed to the command) to the end.
const SUDO_STUB = `
cat > /dev/null
if [ "$1" = "-n" ]; then shift; fi
if [ "$1" = "test" ] && [ -n "\${STUB_READY_AFTER:-}" ]; then
    tests=$(( $(cat "$TEST_ROOT/.sudo-tests" 2>/dev/null || echo 0) + 1 ))
    echo "$tests" > "$TEST_ROOT/.sudo-tests"
    if [ "$tests" -ge "$STUB_READY_AFTER" ] && [ ! -f "$ZADARA_ETC/kubeconfig.ready" ]; then
        printf '%s' "$STUB_KUBECONFIG" > "$ZADARA_ETC/kubeconfig"
        date > "$ZADARA_ETC/kubeconfig.ready"
    fi
fi
exec "$@"
`;

function kubeconfigWaitEnv(extra: Record<string, string>): Record<string, string> {
    return { POLL_INTERVAL: "0.05", WAIT_TIMEOUT: "5", ...extra };
}

const KUBECONFIG_WAIT_ROOT_ENV: Record<string, string> = {
    ZADARA_ETC: ROOT_PATHS.zadaraEtc,
    BOOT_LOG: "var/log/zadara-eksd-bootstrap.log",
};

export function runKubeconfigWaitAppearsAfterPolls(publicEndpoint = PUBLIC_ENDPOINT): StubbedRun {
    return runStubbedBash(scriptPath("kubeconfig-wait.sh"), {
        rootEnv: KUBECONFIG_WAIT_ROOT_ENV,
        stubs: { id: 'if [ "$1" = "-un" ]; then echo ubuntu; else echo 1000; fi', sudo: SUDO_STUB },
        env: kubeconfigWaitEnv({
            STUB_READY_AFTER: "8",
            STUB_KUBECONFIG: sampleKubeconfig("kubernetes-super-admin"),
            PUBLIC_ENDPOINT: publicEndpoint,
            PROGRESS_INTERVAL: "0.1",
        }),
        files: {
            "etc/kubernetes/zadara/node.env": nodeEnv(),
            "var/log/zadara-eksd-bootstrap.log": "2024-01-01T00:00:00Z [bootstrap] running: kubeadm init\n",
        },
    });
}

/** As deployed: `VAR=... bash -s` with the script on stdin, through a stdin-reading sudo. */
export function runKubeconfigWaitFromStdin(): StubbedRun {
    return runStubbedBash("-s", {
        stdin: fs.readFileSync(scriptPath("kubeconfig-wait.sh"), "utf8"),
        rootEnv: KUBECONFIG_WAIT_ROOT_ENV,
        stubs: { id: 'if [ "$1" = "-un" ]; then echo ubuntu; else echo 1000; fi', sudo: SUDO_STUB },
        env: kubeconfigWaitEnv({
            STUB_READY_AFTER: "3",
            STUB_KUBECONFIG: sampleKubeconfig("kubernetes-super-admin"),
            PUBLIC_ENDPOINT: PUBLIC_ENDPOINT,
        }),
        files: { "etc/kubernetes/zadara/node.env": nodeEnv() },
    });
}

export function runKubeconfigWaitAlreadyReadyAsRoot(): StubbedRun {
    return runStubbedBash(scriptPath("kubeconfig-wait.sh"), {
        rootEnv: KUBECONFIG_WAIT_ROOT_ENV,
        env: kubeconfigWaitEnv({}),
        files: {
            "etc/kubernetes/zadara/kubeconfig": sampleKubeconfig("kubernetes-admin"),
            "etc/kubernetes/zadara/kubeconfig.ready": "now\n",
        },
    });
}

export function runKubeconfigWaitBootFailed(): StubbedRun {
    return runStubbedBash(scriptPath("kubeconfig-wait.sh"), {
        rootEnv: KUBECONFIG_WAIT_ROOT_ENV,
        env: kubeconfigWaitEnv({}),
        files: {
            "etc/kubernetes/zadara/BOOT_FAILED":
                "zadara-eksd bootstrap FAILED on dev-master-sa-1\nreason: step 'kubeadm init' failed (exit code 1, line 9)\n",
            "var/log/zadara-eksd-bootstrap.log": "2024-01-01T00:00:00Z [bootstrap] FAILED: step 'kubeadm init' failed\n",
        },
    });
}

export function runKubeconfigWaitTimeout(): StubbedRun {
    return runStubbedBash(scriptPath("kubeconfig-wait.sh"), {
        rootEnv: KUBECONFIG_WAIT_ROOT_ENV,
        env: kubeconfigWaitEnv({ WAIT_TIMEOUT: "0.3" }),
        files: { "var/log/zadara-eksd-bootstrap.log": "2024-01-01T00:00:00Z [bootstrap] waiting for the API\n" },
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

function base64(value: string): string {
    return Buffer.from(value).toString("base64");
}

const ETCDCTL_BACKUP_STUB = `
for last; do :; done
case "$*" in
    *"snapshot save"*) printf 'etcd snapshot data' > "$last" ;;
esac
`;

// aws stub for the backup: boot volume vol-0boot, new snapshot snap-new, five managed snapshots.
// The S3 copy records whether it received the expected credentials, never the values.
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
        if [ "$AWS_ACCESS_KEY_ID" = "$STUB_EXPECT_KEY_ID" ] && [ "$AWS_SECRET_ACCESS_KEY" = "$STUB_EXPECT_SECRET" ]; then
            echo credentials-ok > "$TEST_ROOT/.s3-credentials"
        else
            echo credentials-wrong > "$TEST_ROOT/.s3-credentials"
        fi ;;
    *) exit 1 ;;
esac
`;

const BACKUP_KUBECTL_STUB = `
case "$*" in
    *--ignore-not-found*) if [ -n "\${STUB_EXPORT_SECRET:-}" ]; then echo secret/zadara-backup-export; fi ;;
    *"{.data.accessKeyId}"*) printf '%s' "$STUB_B64_KEY_ID" ;;
    *"{.data.secretAccessKey}"*) printf '%s' "$STUB_B64_SECRET" ;;
    *"{.data.bucket}"*) printf '%s' "$STUB_B64_BUCKET" ;;
    *"{.data.endpoint}"*) printf '%s' "$STUB_B64_ENDPOINT" ;;
    *"{.data.region}"*) printf '%s' "$STUB_B64_REGION" ;;
    *) exit 1 ;;
esac
`;

function bootedControlPlaneFiles(env: Record<string, string> = {}): Record<string, string> {
    const files = nodeFiles(env, "control-plane");
    files[`${ROOT_PATHS.stateDir}/boot-complete`] = "done\n";
    return files;
}

export function runEtcdBackup(withExportSecret: boolean, rotation = "3"): StubbedRun {
    const env: Record<string, string> = {
        STUB_EXPECT_KEY_ID: EXPORT_CREDENTIALS.accessKeyId,
        STUB_EXPECT_SECRET: EXPORT_CREDENTIALS.secretAccessKey,
        STUB_B64_KEY_ID: base64(EXPORT_CREDENTIALS.accessKeyId),
        STUB_B64_SECRET: base64(EXPORT_CREDENTIALS.secretAccessKey),
        STUB_B64_BUCKET: base64(EXPORT_CREDENTIALS.bucket),
        STUB_B64_ENDPOINT: base64(EXPORT_CREDENTIALS.endpoint),
        STUB_B64_REGION: base64(EXPORT_CREDENTIALS.region),
    };
    if (withExportSecret) {
        env.STUB_EXPORT_SECRET = "yes";
    }
    return run("etcd-backup.sh", {
        stubs: stubs({ etcdctl: ETCDCTL_BACKUP_STUB, aws: BACKUP_AWS_STUB, kubectl: BACKUP_KUBECTL_STUB }),
        env,
        files: bootedControlPlaneFiles({ ETCD_BACKUP_ROTATION: rotation }),
    });
}

const MEMBER_LIST = [
    "8e9e05c52164694d, started, dev-master-sa-1, https://192.168.2.10:2380, https://192.168.2.10:2379, false",
    "91bc3c398fb3c146, started, dev-master-sa-2, https://192.168.2.11:2380, https://192.168.2.11:2379, false",
    "fd422379fda50e48, started, dev-master-sa-3, https://192.168.2.12:2380, https://192.168.2.12:2379, false",
].join("\n");

function watchdogStubs(): Record<string, string> {
    return stubs({
        etcdctl: `case "$*" in *"member list"*) printf '%s\\n' "$STUB_MEMBERS" ;; esac`,
        aws: `case "$*" in *describe-instances*) printf '%b' "$STUB_INSTANCE_IPS" ;; *) exit 1 ;; esac`,
    });
}

/** Instances .10 (this node) and .11 exist; member .12 is stale. */
export function runEtcdWatchdogStaleMember(): StubbedRun {
    return run("etcd-watchdog.sh", {
        stubs: watchdogStubs(),
        env: { STUB_MEMBERS: MEMBER_LIST, STUB_INSTANCE_IPS: "192.168.2.10\\t192.168.2.11\\t192.168.7.7\\n" },
        files: bootedControlPlaneFiles(),
    });
}

/** The cloud API returns no instances at all. */
export function runEtcdWatchdogEmptyInstanceList(): StubbedRun {
    return run("etcd-watchdog.sh", {
        stubs: watchdogStubs(),
        env: { STUB_MEMBERS: MEMBER_LIST, STUB_INSTANCE_IPS: "" },
        files: bootedControlPlaneFiles(),
    });
}

export function runUploadCerts(): StubbedRun {
    return run("upload-certs.sh", { stubs: stubs(), env: baseEnv(), files: bootedControlPlaneFiles() });
}

const STATIC_PODS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

// crictl stub: a static pod container "runs" while its manifest is in the manifests directory.
const CRICTL_STUB = `
name=""
while [ $# -gt 0 ]; do
    if [ "$1" = "--name" ]; then name=$2; fi
    shift
done
name=\${name#^}
name=\${name%\\$}
if [ -f "$KUBERNETES_ETC/manifests/$name.yaml" ]; then echo "container-$name"; fi
`;

export function runRenewCerts(residual: string): StubbedRun {
    const files = bootedControlPlaneFiles();
    for (const pod of STATIC_PODS) {
        files[`${ROOT_PATHS.kubernetesEtc}/manifests/${pod}.yaml`] = `kind: Pod\nmetadata:\n  name: ${pod}\n`;
    }
    files[`${ROOT_PATHS.zadaraEtc}/kubeconfig`] = "old kubeconfig\n";
    return run("renew-certs.sh", {
        stubs: stubs({ crictl: CRICTL_STUB }),
        env: baseEnv({ STUB_RESIDUAL: residual, RESTART_TIMEOUT: "2" }),
        files,
    });
}

// Disks: nvme0n1 holds / (partition nvme0n1p1), nvme1n1 is blank, nvme2n1 carries our label,
// nvme3n1 has someone else's filesystem, vdb is not NVMe.
const NVME_STUBS: Record<string, string> = {
    findmnt: `
case "$*" in
    "-no SOURCE /") echo /dev/nvme0n1p1 ;;
    *) exit 1 ;;
esac`,
    lsblk: `
case "$*" in
    "-no PKNAME /dev/nvme0n1p1") echo nvme0n1 ;;
    "-dnpo NAME,TYPE") printf '/dev/nvme0n1 disk\\n/dev/nvme1n1 disk\\n/dev/nvme2n1 disk\\n/dev/nvme3n1 disk\\n/dev/vdb disk\\n' ;;
    "-dno MODEL "*) echo "Zadara local NVMe" ;;
    "-no NAME "*) basename "$3" ;;
    *) exit 1 ;;
esac`,
    blkid: `
case "$*" in
    "-o value -s TYPE /dev/nvme1n1") exit 2 ;;
    "-o value -s TYPE "*) echo ext4 ;;
    "-o value -s LABEL /dev/nvme2n1") echo zeksd-nvme ;;
    "-o value -s LABEL "*) echo data ;;
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
    { name: "bootstrap: leader init (1.30)", run: () => runLeaderInit("1.30") },
    { name: "bootstrap: leader init (1.28)", run: () => runLeaderInit("1.28") },
    { name: "bootstrap: control plane joins (API answers)", run: runControlPlaneJoinWhenApiAnswers },
    { name: "bootstrap: non-leader waits, then joins", run: runNonLeaderWaitsThenJoins },
    { name: "bootstrap: ASG election, leader", run: () => runAsgElection("192.168.2.9") },
    { name: "bootstrap: ASG election, follower joins", run: () => runAsgElection("192.168.2.10") },
    { name: "bootstrap: worker joins", run: runWorkerJoin },
    { name: "bootstrap: API never up", run: runApiNeverUp },
    { name: "bootstrap: join fails twice, then succeeds", run: runJoinFailsTwiceThenSucceeds },
    { name: "bootstrap: join never succeeds", run: runJoinNeverSucceeds },
    { name: "kubeconfig-wait: appears after polls", run: () => runKubeconfigWaitAppearsAfterPolls() },
    { name: "kubeconfig-wait: script on stdin (bash -s)", run: runKubeconfigWaitFromStdin },
    { name: "kubeconfig-wait: already ready (root)", run: runKubeconfigWaitAlreadyReadyAsRoot },
    { name: "kubeconfig-wait: boot failed", run: runKubeconfigWaitBootFailed },
    { name: "kubeconfig-wait: timeout", run: runKubeconfigWaitTimeout },
    { name: "etcd-backup: no export secret", run: () => runEtcdBackup(false) },
    { name: "etcd-backup: with export secret", run: () => runEtcdBackup(true) },
    { name: "etcd-watchdog: stale member", run: runEtcdWatchdogStaleMember },
    { name: "etcd-watchdog: empty instance list", run: runEtcdWatchdogEmptyInstanceList },
    { name: "upload-certs", run: runUploadCerts },
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
