# shellcheck shell=bash
# lib.sh - helpers shared by the zadara-eksd node scripts. Sourced, never executed.
#
# All node scripts are installed whole into /usr/local/lib/zadara-eksd/ by loader.sh (from the
# sha256-checked boot bundle the bastion serves) and take their parameters from ONE file,
# $ZADARA_ETC/node.env (written by cloud-init): shell-sourceable KEY='value' lines.
#
# node.env keys
#   ROLE                  control-plane | worker                                  (required)
#   CLUSTER_NAME          cluster / environment name                               (required)
#   NODE_NAME             Name tag of the instance, e.g. dev-master-sa-1 (empty for workers)
#   API_HOST              private IP of the API load balancer                      (required)
#   API_PORT              API port on the load balancer (default 6443)
#   KUBERNETES_MINOR      EKS-D minor version, e.g. 1.30                            (required)
#   NODE_LABELS           kubelet labels "k=v,k2=v2" (may be empty)
#   NODE_TAINTS           kubelet taints "k=v:NoSchedule,..." (may be empty)
#   API_WAIT_TIMEOUT      seconds to wait for the API to answer (default 1800)
#   JOIN_TIMEOUT          seconds during which kubeadm join is retried (default 1800)
#   POLL_INTERVAL         seconds between two polls, fractions allowed (default 2)
#   METADATA_TIMEOUT      seconds to wait for the instance metadata service (default 300)
#   BOOT_PREPARED_TIMEOUT seconds control-plane-up.sh waits for the loader's boot-prepared (900)
#   ETCD_BACKUP_ROTATION  exported etcd snapshots of this host to keep; 0 keeps all (default 0)
#   ENVIRONMENT           environment name (kept in node.env; no script reads it today)
#   AWS_REGION            region for the cloud API (default us-east-1)
#   CLOUD_API_INSECURE    true to skip TLS verification of the cloud API (default false)
#   CLOUD_API_CA_BUNDLE   CA bundle file for the cloud API (optional)
#   BUNDLE_URL            where loader.sh downloads the boot bundle (bastion, inside the VPC)
#   BUNDLE_SHA256         sha256 the bundle must have; loader.sh refuses any other
#
# Workers: cloud-init also writes $ZADARA_ETC/kubeadm-join-worker.yaml (JoinConfiguration with
# caCertHashes and the expiring node-bootstrap token), deleted once the node joined.
# Control-plane nodes get no secret at boot: control-plane-up.sh receives the CAs, the
# service-account key, the kubeadm config, the audit policy and the encryption config on
# stdin from the program's bootstrap command.
#
# Paths, each overridable from the environment (real defaults shown)
#   ZADARA_ETC=/etc/kubernetes/zadara   KUBERNETES_ETC=/etc/kubernetes
#   STATE_DIR=/var/lib/zadara-eksd      KUBELET_DEFAULTS=/etc/default/kubelet
#   METADATA_URL=http://169.254.169.254 LOG_FILE=<set by each script, under /var/log>
#   MANIFESTS_DIR=$KUBERNETES_ETC/manifests  CRI_ENDPOINT=unix:///run/containerd/containerd.sock
#   ETCD_DATA_DIR=/var/lib/etcd (host path, mounted at the same path in the etcd static pod)
#   NODE_SCRIPTS_DIR=/usr/local/lib/zadara-eksd  SYSTEMD_DIR=/etc/systemd/system
#   CRON_FILE=/etc/cron.d/zadara-eksd  CA_TRUST_DIR=/usr/local/share/ca-certificates
#   EXPORT_KEY_FILE=$KUBERNETES_ETC/zadara/backup-export.key (the etcd export key, 0600)
#
# Time: FAKE_CLOCK_FILE (tests only) makes now_ms read and `pause` advance a counter in that
# file instead of the wall clock, so waits are counted polls.
#
# Error handling: `fail` logs the reason, runs the script's `fail_cleanup` function when it has
# one, and exits non-zero. When BOOT_MARKER=true (bootstrap.sh, control-plane-up.sh) it also
# writes $ZADARA_ETC/BOOT_FAILED: the failed phase ($STEP), the reason, where to look and the
# last FAIL_LOG_LINES (40) lines of the log; with FAIL_REPORT=true it also prints that report
# to stderr (the bootstrap command shows it in `pulumi up`).

ZADARA_ETC="${ZADARA_ETC:-/etc/kubernetes/zadara}"
KUBERNETES_ETC="${KUBERNETES_ETC:-/etc/kubernetes}"
STATE_DIR="${STATE_DIR:-/var/lib/zadara-eksd}"
KUBELET_DEFAULTS="${KUBELET_DEFAULTS:-/etc/default/kubelet}"
METADATA_URL="${METADATA_URL:-http://169.254.169.254}"
MANIFESTS_DIR="${MANIFESTS_DIR:-${KUBERNETES_ETC}/manifests}"
CRI_ENDPOINT="${CRI_ENDPOINT:-unix:///run/containerd/containerd.sock}"
LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd.log}"
CLOUD_INIT_LOG="${CLOUD_INIT_LOG:-/var/log/cloud-init-output.log}"
BOOT_MARKER="${BOOT_MARKER:-false}"
FAIL_REPORT="${FAIL_REPORT:-false}"
FAIL_LOG_LINES="${FAIL_LOG_LINES:-40}"
NODE_SCRIPTS_DIR="${NODE_SCRIPTS_DIR:-/usr/local/lib/zadara-eksd}"
SYSTEMD_DIR="${SYSTEMD_DIR:-/etc/systemd/system}"
CRON_FILE="${CRON_FILE:-/etc/cron.d/zadara-eksd}"
CA_TRUST_DIR="${CA_TRUST_DIR:-/usr/local/share/ca-certificates}"
EXPORT_KEY_FILE="${EXPORT_KEY_FILE:-${KUBERNETES_ETC}/zadara/backup-export.key}"
FAKE_CLOCK_FILE="${FAKE_CLOCK_FILE:-}"
PROGRESS_INTERVAL="${PROGRESS_INTERVAL:-30}"
SCRIPT_NAME="$(basename "$0" .sh)"

# cron starts scripts with PATH=/usr/bin:/bin; kubeadm, etcdctl and aws often live elsewhere.
PATH="${PATH}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"
export AWS_PAGER=""

# ---------------------------------------------------------------------------------------------
# Logging and failure
# ---------------------------------------------------------------------------------------------

# Creates the log file readable by root only (kubeadm output names the bootstrap token).
init_logging() {
    {
        mkdir -p "$(dirname "$LOG_FILE")"
        touch "$LOG_FILE"
        chmod 600 "$LOG_FILE"
    } 2>/dev/null || true
}

# log <message...>: timestamped line to stderr and to $LOG_FILE.
log() {
    local stamp line
    TZ=UTC0 printf -v stamp '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    line="${stamp} [${SCRIPT_NAME}] $*"
    printf '%s\n' "$line" >&2 || true
    { printf '%s\n' "$line" >>"$LOG_FILE"; } 2>/dev/null || true
}

# fail <reason>: logs, writes the BOOT_FAILED report (boot only) and exits 1.
fail() {
    local reason=$1
    # Whoever read stderr may be gone (signal): the marker must still be written.
    trap '' PIPE
    trap - ERR
    log "FAILED: ${reason}"
    if declare -F fail_cleanup >/dev/null; then
        fail_cleanup || true
    fi
    if [[ $BOOT_MARKER == true ]]; then
        local report
        report=$(failure_report "$reason")
        if ! { mkdir -p "$ZADARA_ETC" && printf '%s\n' "$report" >"$ZADARA_ETC/BOOT_FAILED"; } 2>/dev/null; then
            log "could not write ${ZADARA_ETC}/BOOT_FAILED"
        fi
        if [[ $FAIL_REPORT == true ]]; then
            printf '%s\n' "$report" >&2 || true
        fi
    fi
    exit 1
}

# failure_report <reason>: node, phase, reason, where to look, and the log's last lines.
failure_report() {
    local node="${NODE_NAME:-}"
    if [[ -z $node ]]; then
        node="$(hostname 2>/dev/null || echo unknown)"
    fi
    printf 'zadara-eksd %s FAILED on %s (%s)\n' "$SCRIPT_NAME" "$node" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'phase: %s\nreason: %s\nlook at: %s and %s\n' "${STEP:-unknown}" "$1" "$LOG_FILE" "$CLOUD_INIT_LOG"
    printf -- '---- last %s lines of %s ----\n' "$FAIL_LOG_LINES" "$LOG_FILE"
    tail -n "$FAIL_LOG_LINES" "$LOG_FILE" 2>/dev/null || true
}

# run_logged <command...>: runs a command, copying its output to stderr and $LOG_FILE.
run_logged() {
    log "running: $*"
    "$@" 2>&1 | tee -a "$LOG_FILE" >&2
}

# ---------------------------------------------------------------------------------------------
# Time and bounded waits
# ---------------------------------------------------------------------------------------------

now_ms() {
    if [[ -n $FAKE_CLOCK_FILE ]]; then
        local fake=0
        if [[ -s $FAKE_CLOCK_FILE ]]; then
            fake=$(<"$FAKE_CLOCK_FILE")
        fi
        echo "$fake"
        return 0
    fi
    local micro=${EPOCHREALTIME//[!0-9]/}
    echo $((10#$micro / 1000))
}

# pause <seconds>: sleep, or advance the fake clock (tests: waits become counted polls).
pause() {
    if [[ -n $FAKE_CLOCK_FILE ]]; then
        local ms
        ms=$(to_ms "$1") || ms=0
        echo $(($(now_ms) + ms)) >"$FAKE_CLOCK_FILE"
        return 0
    fi
    sleep "$1"
}

# to_ms <seconds>: "2" -> 2000, "0.05" -> 50. Returns 1 when the value is not a number.
to_ms() {
    local value=$1 whole fraction
    if [[ ! $value =~ ^([0-9]+)(\.([0-9]*))?$ ]]; then
        return 1
    fi
    whole=${BASH_REMATCH[1]}
    fraction="${BASH_REMATCH[3]}000"
    fraction=${fraction:0:3}
    echo $((10#$whole * 1000 + 10#$fraction))
}

# need_seconds <variable names...>: fails unless each holds a number of seconds.
need_seconds() {
    local key
    for key; do
        to_ms "${!key}" >/dev/null || fail "${key} must be a number of seconds, got '${!key}'"
    done
}

# wait_until <timeout_s> <description> <command...>
# Runs the command every POLL_INTERVAL seconds until it succeeds (return 0) or the timeout
# passes (return 1). Logs when it starts, every PROGRESS_INTERVAL seconds, and at the end.
wait_until() {
    local timeout_s=$1 description=$2
    shift 2
    local started deadline now last_report timeout_ms progress_ms
    timeout_ms=$(to_ms "$timeout_s") || fail "invalid timeout '${timeout_s}' for: ${description}"
    progress_ms=$(to_ms "$PROGRESS_INTERVAL") || progress_ms=30000
    started=$(now_ms)
    deadline=$((started + timeout_ms))
    last_report=$started
    log "waiting up to ${timeout_s}s for ${description}"
    while true; do
        if "$@"; then
            now=$(now_ms)
            log "done waiting for ${description} after $(((now - started) / 1000))s"
            return 0
        fi
        now=$(now_ms)
        if ((now >= deadline)); then
            log "gave up waiting for ${description} after ${timeout_s}s"
            return 1
        fi
        if ((now - last_report >= progress_ms)); then
            log "still waiting for ${description} ($(((now - started) / 1000))s of ${timeout_s}s)"
            last_report=$now
        fi
        pause "$POLL_INTERVAL"
    done
}

# ---------------------------------------------------------------------------------------------
# node.env
# ---------------------------------------------------------------------------------------------

load_node_env() {
    local file="${ZADARA_ETC}/node.env"
    if [[ ! -r $file ]]; then
        fail "cannot read ${file} (written by cloud-init)"
    fi
    # shellcheck source=/dev/null
    source "$file"

    : "${ROLE:=}" "${CLUSTER_NAME:=}" "${NODE_NAME:=}" "${API_HOST:=}" "${KUBERNETES_MINOR:=}"
    : "${API_PORT:=6443}"
    : "${NODE_LABELS:=}" "${NODE_TAINTS:=}" "${ENVIRONMENT:=}" "${AWS_REGION:=us-east-1}"
    : "${API_WAIT_TIMEOUT:=1800}" "${JOIN_TIMEOUT:=1800}" "${POLL_INTERVAL:=2}"
    : "${METADATA_TIMEOUT:=300}" "${ETCD_BACKUP_ROTATION:=0}" "${BOOT_PREPARED_TIMEOUT:=900}"
    : "${CLOUD_API_INSECURE:=false}" "${CLOUD_API_CA_BUNDLE:=}" "${BUNDLE_URL:=}" "${BUNDLE_SHA256:=}"

    case $ROLE in
        control-plane | worker) ;;
        *) fail "node.env: ROLE must be control-plane or worker, got '${ROLE}'" ;;
    esac
    local key
    for key in CLUSTER_NAME API_HOST KUBERNETES_MINOR; do
        if [[ -z ${!key} ]]; then
            fail "node.env: ${key} is required"
        fi
    done
    if [[ ! $KUBERNETES_MINOR =~ ^[0-9]+\.[0-9]+$ ]]; then
        fail "node.env: KUBERNETES_MINOR must look like 1.30, got '${KUBERNETES_MINOR}'"
    fi
    need_seconds API_WAIT_TIMEOUT JOIN_TIMEOUT POLL_INTERVAL METADATA_TIMEOUT BOOT_PREPARED_TIMEOUT
    if [[ ! $ETCD_BACKUP_ROTATION =~ ^[0-9]+$ ]]; then
        fail "node.env: ETCD_BACKUP_ROTATION must be a whole number, got '${ETCD_BACKUP_ROTATION}'"
    fi
}

# minor_at_least <minor>: true when KUBERNETES_MINOR is 1.<minor> or newer.
minor_at_least() {
    local major=${KUBERNETES_MINOR%%.*} minor=${KUBERNETES_MINOR#*.}
    ((10#$major > 1 || 10#$minor >= $1))
}

# cron_job_start <name>: common start of the control-plane cron jobs: ERR trap, logging,
# node.env, bootstrap completed, control plane only, one run at a time (else exits 0).
cron_job_start() {
    trap 'fail "unexpected error at line ${LINENO}"' ERR
    init_logging
    load_node_env
    if [[ ! -f "${STATE_DIR}/boot-complete" || $ROLE != control-plane ]]; then
        log "not a bootstrapped control-plane node (${STATE_DIR}/boot-complete); nothing to do"
        exit 0
    fi
    mkdir -p "$STATE_DIR"
    exec 9>"${STATE_DIR}/$1.lock"
    if ! flock -n 9; then
        log "another $1 run is still in progress; skipping this one"
        exit 0
    fi
}

# ---------------------------------------------------------------------------------------------
# Instance metadata and the cloud API
# ---------------------------------------------------------------------------------------------

# metadata_get <path>: IMDSv2 (a session token, required when the instance was started with
# requireMetadataTokens), falling back to a plain GET where the cloud has no token endpoint.
metadata_get() {
    local token
    # Only a token-shaped answer is used: a service without IMDSv2 may answer the PUT with a page.
    if token=$(curl -sf --max-time 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "${METADATA_URL}/latest/api/token") &&
        [[ $token =~ ^[A-Za-z0-9_=+/-]+$ ]]; then
        curl -sf --max-time 5 -H "X-aws-ec2-metadata-token: ${token}" "${METADATA_URL}/latest/meta-data/$1"
    else
        curl -sf --max-time 5 "${METADATA_URL}/latest/meta-data/$1"
    fi
}

instance_id() {
    metadata_get instance-id
}

local_ipv4() {
    metadata_get local-ipv4
}

# k8s_node_name: this node's Kubernetes Node name, which kubeadm also gives its etcd member:
# the host name, lower-cased (kubeadm's default; the program sets no nodeRegistration.name).
k8s_node_name() {
    hostname | tr '[:upper:]' '[:lower:]'
}

# Sets CLOUD_API_URL from field cluster_url of the OpenStack-style metadata (unless preset).
resolve_cloud_api() {
    if [[ -n ${CLOUD_API_URL:-} ]]; then
        return 0
    fi
    local document pattern='"cluster_url"[[:space:]]*:[[:space:]]*"([^"]+)"'
    document=$(curl -sf --max-time 5 "${METADATA_URL}/openstack/latest/meta_data.json") || return 1
    [[ $document =~ $pattern ]] || return 1
    CLOUD_API_URL=${BASH_REMATCH[1]%/}
}

# cloud_aws <service> <args...>: AWS CLI call against the zCompute API (resolve_cloud_api first).
cloud_aws() {
    local service=$1
    shift
    local endpoint_path=$service
    if [[ $service == elb || $service == elbv2 ]]; then
        endpoint_path=elbv2
    fi
    local -a tls=()
    if [[ $CLOUD_API_INSECURE == true ]]; then
        tls=(--no-verify-ssl)
    elif [[ -n $CLOUD_API_CA_BUNDLE ]]; then
        tls=(--ca-bundle "$CLOUD_API_CA_BUNDLE")
    fi
    aws --region "$AWS_REGION" --endpoint-url "${CLOUD_API_URL}/api/v2/aws/${endpoint_path}" \
        "${tls[@]}" "$service" "$@"
}

# words_to_lines: AWS CLI text output (tabs/newlines, "None") -> one value a line.
words_to_lines() {
    tr -s '[:space:]' '\n' | grep -v -e '^$' -e '^None$' || true
}

# sort_ips: sorts IPv4 addresses numerically, one a line.
sort_ips() {
    sort -t . -k1,1n -k2,2n -k3,3n -k4,4n
}

# ---------------------------------------------------------------------------------------------
# Termination protection of a control-plane member
# ---------------------------------------------------------------------------------------------
# A control-plane instance is protected against API termination while its etcd member is in
# the cluster: a delete that skips the leave (`pulumi up --target <instance>` without
# --target-dependents, the console) fails instead of leaving a dead voter behind.
# control-plane-up.sh turns it on once the node passed its gate; node-leave.sh turns it off once
# the member left (and on the last node, which only `pulumi destroy` removes). The marker says
# this node turned it on: without it (a cloud that refused the call) there is nothing to lift.

termination_protection_marker() {
    echo "${STATE_DIR}/termination-protected"
}

# set_termination_protection on|off: ModifyInstanceAttribute on this instance, with node.env's
# cloud settings (in a subshell: node.env would overwrite the caller's variables).
set_termination_protection() {
    local flag=--disable-api-termination
    if [[ $1 != on ]]; then
        flag=--no-disable-api-termination
    fi
    (
        load_node_env
        resolve_cloud_api || fail "could not read cluster_url from ${METADATA_URL}/openstack/latest/meta_data.json"
        id=$(instance_id) || fail "cannot read this node's instance id from the instance metadata"
        cloud_aws ec2 modify-instance-attribute --instance-id "$id" "$flag" >/dev/null
    )
}

# protect_member_instance: best effort; a cloud without the call keeps the unprotected behaviour.
protect_member_instance() {
    local marker
    marker=$(termination_protection_marker)
    if [[ -f $marker ]]; then
        return 0
    fi
    if set_termination_protection on; then
        mkdir -p "$STATE_DIR"
        date -u +%Y-%m-%dT%H:%M:%SZ >"$marker"
        log "termination protection on: this instance cannot be terminated before its etcd member left"
    else
        log "WARNING: could not turn on termination protection (ModifyInstanceAttribute refused?): a delete that skips the leave would leave this etcd member behind"
    fi
}

# unprotect_member_instance: fails when the protection this node turned on cannot be lifted
# (the instance's delete would fail after it).
unprotect_member_instance() {
    local marker
    marker=$(termination_protection_marker)
    if [[ ! -f $marker ]]; then
        return 0
    fi
    set_termination_protection off || return 1
    rm -f "$marker"
    log "termination protection off: the instance can be terminated"
}

# ---------------------------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------------------------

# api_answers: true when the API behind the load balancer answers /ping (200, 401 or 403).
api_answers() {
    local code
    code=$(curl -sk -o /dev/null --max-time 5 -w '%{http_code}' \
        "https://${API_HOST}:${API_PORT}/ping" 2>/dev/null) || true
    [[ $code == 200 || $code == 401 || $code == 403 ]]
}

# kubectl_admin <args...>: kubectl with the node's admin kubeconfig and a request timeout.
kubectl_admin() {
    kubectl --kubeconfig "${KUBERNETES_ETC}/admin.conf" --request-timeout="${KUBECTL_TIMEOUT:-30s}" "$@"
}

# publish_admin_kubeconfig: copies admin.conf (group kubeadm:cluster-admins, revocable by
# RBAC) to $ZADARA_ETC/kubeconfig, mode 600, replacing the old file atomically. Never
# super-admin.conf: control-plane-up.sh removes it.
publish_admin_kubeconfig() {
    local source="${KUBERNETES_ETC}/admin.conf"
    if [[ ! -s $source ]]; then
        fail "${source} is missing or empty"
    fi
    mkdir -p "$ZADARA_ETC"
    install -m 600 "$source" "${ZADARA_ETC}/kubeconfig.tmp"
    mv -f "${ZADARA_ETC}/kubeconfig.tmp" "${ZADARA_ETC}/kubeconfig"
    log "copied ${source} to ${ZADARA_ETC}/kubeconfig"
}

# ---------------------------------------------------------------------------------------------
# Static pods, containers and etcd
# ---------------------------------------------------------------------------------------------

cri() {
    crictl --runtime-endpoint "$CRI_ENDPOINT" "$@"
}

# container_is <running|stopped> <name>: state of the container named exactly <name>.
# A crictl failure is neither (returns 1): waits go on until crictl answers.
container_is() {
    local ids
    ids=$(cri ps --name "^$2\$" -q 2>/dev/null) || return 1
    [[ ($1 == running && -n $ids) || ($1 == stopped && -z $ids) ]]
}

# park_manifests <dir> <manifest files...>: moves static-pod manifests out of MANIFESTS_DIR
# into <dir>, so the kubelet stops their pods.
park_manifests() {
    local dir=$1
    shift
    install -d -m 700 "$dir"
    mv -f "$@" "$dir/"
}

# unpark_manifests <dir>: moves every parked manifest back and removes <dir> when empty.
unpark_manifests() {
    local file
    for file in "$1"/*; do
        if [[ -f $file ]]; then
            log "putting ${file##*/} back into ${MANIFESTS_DIR}"
            mv -f "$file" "${MANIFESTS_DIR}/"
        fi
    done
    rmdir "$1" 2>/dev/null || true
}

# find_etcdctl: sets the array ETCDCTL_CMD to the node's etcdctl or, when the image has none,
# the one inside the etcd static pod (status 127 when neither exists).
find_etcdctl() {
    local ids
    ETCDCTL_CMD=(etcdctl)
    if command -v etcdctl >/dev/null; then
        return 0
    fi
    ids=$(cri ps --name '^etcd$' -q 2>/dev/null) || ids=""
    if [[ -z $ids ]]; then
        echo "etcdctl is not installed and no etcd container runs" >&2
        return 127
    fi
    ETCDCTL_CMD=(cri exec "${ids%%$'\n'*}" etcdctl)
}

# etcdctl_local <args...>: etcdctl against the etcd member of this node (ETCD_ENDPOINT: another
# member).
etcdctl_local() {
    local pki="${KUBERNETES_ETC}/pki/etcd"
    find_etcdctl || return
    ETCDCTL_API=3 "${ETCDCTL_CMD[@]}" --endpoints="${ETCD_ENDPOINT:-https://127.0.0.1:2379}" \
        --cacert="${pki}/ca.crt" --cert="${pki}/server.crt" --key="${pki}/server.key" "$@"
}

# etcd_snapshot <file>: etcdctl snapshot save. Through the etcd container the snapshot is
# written under ETCD_DATA_DIR (host-mounted at the same path), then moved to <file>.
etcd_snapshot() {
    local out=$1
    if ! command -v etcdctl >/dev/null; then
        out="${ETCD_DATA_DIR:-/var/lib/etcd}/zadara-snapshot.db"
    fi
    rm -f "$out"
    etcdctl_local snapshot save "$out" || return 1
    if [[ $out != "$1" ]]; then
        mv -f "$out" "$1"
    fi
}

# ---------------------------------------------------------------------------------------------
# Encrypted etcd exports (etcd-backup.sh writes them, etcd-restore.sh reads them)
# ---------------------------------------------------------------------------------------------
#
# An export is four text lines, then the output of `openssl enc`:
#   zadara-eksd etcd export v2
#   key-check <hex>      HMAC-SHA256 of EXPORT_KEY_CHECK_LABEL: tells a wrong key from a damaged file
#   sha256 <hex>         of the etcd snapshot before encryption
#   hmac-sha256 <hex>    over the three lines above and every byte after this line
#   Salted__<8-byte salt><AES-256-CBC ciphertext>
# AES key and IV: PBKDF2-SHA256 (EXPORT_KDF_ITERATIONS rounds) of the key file's first line and
# the salt. CBC alone detects no change, hence the HMAC; its key is the SHA-256 of
# "zadara-eksd etcd export hmac " and the AES key in lower-case hex. Exports written before this
# format are the bare `openssl enc` output (same cipher, no header, no integrity check).
# The key never becomes a command argument: openssl reads the key file, and the HMAC is computed
# by printf (a shell builtin) feeding sha256sum.

EXPORT_MAGIC="zadara-eksd etcd export v2"
EXPORT_KDF_ITERATIONS=200000
EXPORT_CIPHER=(-aes-256-cbc -md sha256 -pbkdf2 -iter "$EXPORT_KDF_ITERATIONS")
EXPORT_KEY_CHECK_LABEL="zadara-eksd etcd export key check"
# Header bytes: the magic line, key-check (10 + 64 + 1), sha256 (7 + 64 + 1), hmac-sha256 (12 + 64 + 1).
EXPORT_HEADER_BYTES=$((${#EXPORT_MAGIC} + 1 + 75 + 72 + 77))

# hex_escapes <hex>: "\xNN" escapes of the bytes, for printf %b.
hex_escapes() {
    local hex=$1 out="" i
    for ((i = 0; i < ${#hex}; i += 2)); do
        out+="\\x${hex:i:2}"
    done
    printf '%s' "$out"
}

# hmac_sha256 <key hex, at most 64 bytes> <command...>: HMAC-SHA256 (RFC 2104) of the command's
# output, in hex.
hmac_sha256() {
    local key=$1 ipad="" opad="" byte i inner
    shift
    for ((i = 0; i < 64; i++)); do
        byte=0
        if ((2 * i < ${#key})); then
            byte=$((16#${key:2*i:2}))
        fi
        printf -v ipad '%s\\x%02x' "$ipad" $((byte ^ 0x36))
        printf -v opad '%s\\x%02x' "$opad" $((byte ^ 0x5c))
    done
    inner=$({ printf '%b' "$ipad" && "$@"; } | sha256sum) || return 1
    inner=$(hex_escapes "${inner%% *}")
    inner=$({ printf '%b' "$opad" && printf '%b' "$inner"; } | sha256sum) || return 1
    printf '%s\n' "${inner%% *}"
}

# export_format <file>: v2 (header and HMAC), v1 (bare `openssl enc` output) or plain.
export_format() {
    local start
    start=$(head -c "${#EXPORT_MAGIC}" -- "$1" | tr -d '\0\n')
    if [[ $start == "$EXPORT_MAGIC" ]]; then
        echo v2
    elif [[ ${start:0:8} == Salted__ ]]; then
        echo v1
    else
        echo plain
    fi
}

# export_mac_key <key file> <encrypted file> <offset of "Salted__">: the HMAC key (hex).
export_mac_key() {
    local salt derived
    salt=$(head -c "$(($3 + 16))" -- "$2" | tail -c 8 | od -An -tx1 | tr -d ' \n')
    [[ $salt =~ ^[0-9a-f]{16}$ ]] || return 1
    derived=$(openssl enc -e "${EXPORT_CIPHER[@]}" -S "$salt" -pass "file:$1" -P) || return 1
    [[ $derived =~ key=([0-9A-Fa-f]{64}) ]] || return 1
    derived="zadara-eksd etcd export hmac ${BASH_REMATCH[1],,}"
    derived=$(printf '%s' "$derived" | sha256sum) || return 1
    printf '%s\n' "${derived%% *}"
}

# export_seal <snapshot> <key file> <output>: writes the encrypted export (format above).
export_seal() {
    local plain=$1 key_file=$2 out=$3 body="$3.body" mac_key sum check header mac
    rm -f "$body"
    openssl enc -e "${EXPORT_CIPHER[@]}" -salt -pass "file:${key_file}" -in "$plain" -out "$body" &&
        mac_key=$(export_mac_key "$key_file" "$body" 0) &&
        sum=$(sha256sum <"$plain") &&
        check=$(hmac_sha256 "$mac_key" printf '%s' "$EXPORT_KEY_CHECK_LABEL") &&
        printf -v header '%s\nkey-check %s\nsha256 %s\n' "$EXPORT_MAGIC" "$check" "${sum%% *}" &&
        mac=$(hmac_sha256 "$mac_key" export_stream "$header" cat -- "$body") &&
        { printf '%shmac-sha256 %s\n' "$header" "$mac" && cat -- "$body"; } >"$out"
    local status=$?
    rm -f "$body"
    return "$status"
}

# export_stream <text> <command...>: the text, then the command's output.
export_stream() {
    printf '%s' "$1"
    shift
    "$@"
}

# export_open <export> <key file> <output>: checks and decrypts an export into <output>. Logs
# why it refuses (wrong key, altered file, digest mismatch) and returns 1 then.
export_open() {
    local file=$1 key_file=$2 out=$3 format magic check_line sum_line mac_line mac_key header
    if [[ ! -s $key_file || ! -r $key_file ]]; then
        log "the export key ${key_file} is missing, empty or not readable"
        return 1
    fi
    format=$(export_format "$file")
    if [[ $format == v1 ]]; then
        log "WARNING: ${file} is an export of an older backup: encrypted, but WITHOUT an integrity check (a changed file may decrypt to a damaged snapshot); relying on the snapshot's own hash check"
        if ! openssl enc -d "${EXPORT_CIPHER[@]}" -pass "file:${key_file}" -in "$file" -out "$out" 2>/dev/null; then
            log "could not decrypt ${file}: wrong key (older exports need the key from before a --replace of the backup key) or a damaged file"
            return 1
        fi
        return 0
    elif [[ $format != v2 ]]; then
        log "${file} is not an encrypted etcd export (no '${EXPORT_MAGIC}' header)"
        return 1
    fi
    {
        IFS= read -r magic && IFS= read -r check_line && IFS= read -r sum_line && IFS= read -r mac_line
    } < <(head -c "$EXPORT_HEADER_BYTES" -- "$file" | tr -d '\0') || true
    if [[ ${magic:-} != "$EXPORT_MAGIC" || ! ${check_line:-} =~ ^key-check\ [0-9a-f]{64}$ ||
        ! ${sum_line:-} =~ ^sha256\ [0-9a-f]{64}$ || ! ${mac_line:-} =~ ^hmac-sha256\ [0-9a-f]{64}$ ]]; then
        log "${file}: the export header is damaged"
        return 1
    fi
    if [[ $(head -c "$((EXPORT_HEADER_BYTES + 8))" -- "$file" | tail -c 8 | tr -d '\0') != Salted__ ]]; then
        log "${file}: no encrypted data after the header (truncated or damaged)"
        return 1
    fi
    mac_key=$(export_mac_key "$key_file" "$file" "$EXPORT_HEADER_BYTES") || {
        log "could not derive the keys from ${key_file}"
        return 1
    }
    if [[ $(hmac_sha256 "$mac_key" printf '%s' "$EXPORT_KEY_CHECK_LABEL") != "${check_line#key-check }" ]]; then
        log "the key in ${key_file} is not the key ${file} was encrypted with (wrong key). Use the stack's etcdBackupKey; an export older than a --replace of <env>-etcd-backup-key needs the older key"
        return 1
    fi
    printf -v header '%s\n%s\n%s\n' "$magic" "$check_line" "$sum_line"
    if [[ $(hmac_sha256 "$mac_key" export_stream "$header" tail -c "+$((EXPORT_HEADER_BYTES + 1))" -- "$file") != "${mac_line#hmac-sha256 }" ]]; then
        log "${file} was altered or damaged (its HMAC does not match): refusing to restore it"
        return 1
    fi
    if ! tail -c "+$((EXPORT_HEADER_BYTES + 1))" -- "$file" |
        openssl enc -d "${EXPORT_CIPHER[@]}" -pass "file:${key_file}" -out "$out" 2>/dev/null; then
        log "could not decrypt ${file} although its HMAC matches"
        return 1
    fi
    local sum
    sum=$(sha256sum <"$out") || return 1
    if [[ ${sum%% *} != "${sum_line#sha256 }" ]]; then
        log "the decrypted snapshot's sha256 is not the one the backup recorded: refusing it"
        return 1
    fi
    log "${file}: key, HMAC and sha256 verified; decrypted"
}
