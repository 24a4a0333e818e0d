#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# etcd-restore.sh - restores the etcd of a kubeadm control-plane node from a snapshot file.
# A runbook script, NOT installed by cloud-init: copy it to the control-plane node whose etcd is
# restored and run it as root there. It uses lib.sh next to it, else the installed
# /usr/local/lib/zadara-eksd/lib.sh:
#
#     sudo ./etcd-restore.sh /var/lib/etcd-backup/etcd_backup_<host>_<instance-id>.db
#     sudo ./etcd-restore.sh etcd_backup_<host>_<instance-id>_<time>.db.enc       (an export)
#     ... | sudo ./etcd-restore.sh --key-file - <export>.db.enc      (the key on stdin)
#
# An export of etcd-backup.sh (lib.sh's format: header, HMAC-SHA256, AES-256-CBC) is recognised
# by its header and decrypted with the node's key ($EXPORT_KEY_FILE, default
# /etc/kubernetes/zadara/backup-export.key) or the one of --key-file <file> (`-`: one line on
# stdin, e.g. `pulumi stack output etcdBackupKey --show-secrets`, for a node without the key).
# The key is never an argument of a command nor logged. The key check, the HMAC and the
# recorded sha256 must match, else it refuses (exit 2) before stopping anything; the decrypted
# snapshot is kept in a 0700 directory next to the data directory and removed at exit.
# Exports of older backups (bare `openssl enc` output, no integrity check) are decrypted with a
# warning. A plain snapshot file is used as it is.
#
#   1. checks the snapshot (`etcdutl snapshot status`, else `etcdctl snapshot status`), reads the member name and peer URL
#      from the etcd static-pod manifest, and counts the live members (`etcdctl member list`,
#      the node's etcdctl or the one in the etcd static pod);
#   2. stops the static pods (etcd, API server, controller manager, scheduler) by moving ALL
#      manifests out of the kubelet's manifest folder, and waits (bounded) until etcd and the
#      API server containers are gone (a crictl failure counts as "not known yet": it waits on);
#   3. `etcdutl snapshot restore` into a NEW data directory, as a single-member cluster;
#   4. swaps it in: the current data directory is kept as <data dir>.before-restore-<time>;
#   5. puts the manifests back and waits (bounded) until the API server answers /readyz.
# A failure (or a signal) before the swap puts everything back as it was. After the swap it
# prints the commands that roll back to the old data directory.
#
# HA control planes: the restored etcd is a NEW one-member cluster. Stop etcd on the other
# control-plane nodes first (move their /etc/kubernetes/manifests/etcd.yaml away), restore on one
# node, then replace the other control-plane nodes so they join again. The script refuses to
# run when `etcdctl member list` shows more than one member, or cannot be read (etcd down),
# unless FORCE=true.
#
# Environment (defaults are kubeadm's paths)
#   ETCD_DATA_DIR     etcd data directory (default: --data-dir of the manifest, else /var/lib/etcd)
#   MANIFESTS_DIR     kubelet static-pod folder (default /etc/kubernetes/manifests)
#   KUBERNETES_ETC    admin.conf (waiting for the API) and pki/etcd (etcdctl) (default /etc/kubernetes)
#   CRI_ENDPOINT      container runtime socket (default unix:///run/containerd/containerd.sock)
#   ETCDUTL           etcdutl binary (default etcdutl; falls back to `etcdctl snapshot restore`)
#   TIMEOUT           seconds for each wait: pods to stop, API to answer (default 300)
#   POLL_INTERVAL     seconds between two polls, fractions allowed (default 5)
#   SKIP_HASH_CHECK   true for a db file copied from a data directory, not saved by etcdctl
#   FORCE             true to restore although etcd has several members (or cannot be asked)
#   LOG_FILE          default /var/log/zadara-eksd-etcd-restore.log
#   EXPORT_KEY_FILE   the export key without --key-file (default /etc/kubernetes/zadara/backup-export.key)
#   KEY_TMPDIR        where a key read from stdin is kept while the script runs (default /dev/shm)
#
# Exit codes: 0 restored and the API answers, 1 failed (see the log), 2 bad input.

set -Eeuo pipefail
shopt -s nullglob

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-etcd-restore.log}"
LIB="$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ ! -r $LIB ]]; then
    LIB=/usr/local/lib/zadara-eksd/lib.sh
fi
# shellcheck source=lib.sh
source "$LIB"

ETCDUTL="${ETCDUTL:-etcdutl}"
TIMEOUT="${TIMEOUT:-300}"
POLL_INTERVAL="${POLL_INTERVAL:-5}"
SKIP_HASH_CHECK="${SKIP_HASH_CHECK:-false}"
FORCE="${FORCE:-false}"
ETCD_DATA_DIR="${ETCD_DATA_DIR:-}"

SNAPSHOT=""
SOURCE=""
KEY_FILE=""
KEY_DIR=""
DECRYPT_DIR=""
STAMP=""
STOPPED_DIR=""
NEW_DIR=""
OLD_DIR=""
# Where a failure leaves the node: start -> stopped -> swapped -> started -> finished.
PHASE=start

die() {
    log "ERROR: $2"
    exit "$1"
}

# manifest_flag <flag>: value of `- --<flag>=<value>` in the etcd manifest.
manifest_flag() {
    sed -n "s/^[[:space:]]*-[[:space:]]*--$1=\\(.*\\)\$/\\1/p" "${MANIFESTS_DIR}/etcd.yaml" |
        tr -d "\"'" | head -n 1
}

api_ready() {
    KUBECTL_TIMEOUT=5s kubectl_admin get --raw=/readyz >/dev/null 2>&1
}

control_plane_stopped() {
    container_is stopped etcd && container_is stopped kube-apiserver
}

restore_snapshot() {
    local name=$1 peer=$2
    local -a tool=("$ETCDUTL") hash=()
    if [[ $SKIP_HASH_CHECK == true ]]; then
        hash=(--skip-hash-check)
    fi
    if ! command -v "$ETCDUTL" >/dev/null; then
        log "${ETCDUTL} not found: using the older 'etcdctl snapshot restore'"
        tool=(env ETCDCTL_API=3 etcdctl)
    fi
    "${tool[@]}" snapshot restore "$SNAPSHOT" --data-dir "$NEW_DIR" --name "$name" \
        --initial-cluster "${name}=${peer}" --initial-advertise-peer-urls "$peer" "${hash[@]}"
}

# check_snapshot <file>: etcdutl (or the older etcdctl) reads the snapshot's status.
check_snapshot() {
    if command -v "$ETCDUTL" >/dev/null; then
        "$ETCDUTL" snapshot status "$1" -w table >&2
    else
        ETCDCTL_API=3 etcdctl snapshot status "$1" -w table >&2
    fi
}

# read_key_stdin: the export key, one line from the caller's stdin (fd 3), into a 0600 file in a
# private directory on tmpfs (removed at exit). Sets KEY_FILE.
read_key_stdin() {
    local key="" base="${KEY_TMPDIR:-/dev/shm}"
    IFS= read -r key <&3 || [[ -n $key ]] || die 2 "--key-file -: no key on stdin"
    [[ -n $key ]] || die 2 "--key-file -: the first line of stdin is empty"
    [[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
    KEY_DIR=$(mktemp -d "${base}/etcd-restore-key.XXXXXX") || die 1 "could not create a directory in ${base} for the key"
    (umask 077 && printf '%s\n' "$key" >"${KEY_DIR}/export.key") || die 1 "could not keep the key in ${KEY_DIR}"
    KEY_FILE="${KEY_DIR}/export.key"
}

# decrypt_export <export>: verifies and decrypts it; SNAPSHOT becomes the decrypted file.
decrypt_export() {
    DECRYPT_DIR="${ETCD_DATA_DIR}.decrypt-${STAMP}"
    install -d -m 700 "$DECRYPT_DIR" || die 1 "could not create ${DECRYPT_DIR}"
    log "${1} is an encrypted export: checking it with the key ${KEY_FILE}"
    export_open "$1" "$KEY_FILE" "${DECRYPT_DIR}/snapshot.db" || die 2 "refusing ${1} (see above); nothing was changed"
    SNAPSHOT="${DECRYPT_DIR}/snapshot.db"
}

# On failure: undo what is safe to undo, print the rest. Always: remove the decrypted snapshot
# and a key read from stdin.
on_exit() {
    local status=$?
    [[ -n $DECRYPT_DIR ]] && rm -rf "$DECRYPT_DIR"
    [[ -n $KEY_DIR ]] && rm -rf "$KEY_DIR"
    if ((status == 0)) || [[ $PHASE == start || $PHASE == finished ]]; then
        return
    fi
    case $PHASE in
        stopped)
            log "restoring failed before the data directory was touched: putting the static pods back"
            [[ -n $NEW_DIR ]] && rm -rf "$NEW_DIR"
            unpark_manifests "$STOPPED_DIR"
            log "the node runs its previous etcd data again (${ETCD_DATA_DIR})"
            ;;
        swapped | started)
            log "the restored data is in ${ETCD_DATA_DIR}; the previous data is in ${OLD_DIR}."
            log "Check: crictl --runtime-endpoint ${CRI_ENDPOINT} ps -a --name etcd ; crictl logs <id>"
            log "To roll back to the previous data:"
            log "  mkdir ${STOPPED_DIR} && mv ${MANIFESTS_DIR}/*.yaml ${STOPPED_DIR}/   (then wait until etcd stops)"
            log "  mv ${ETCD_DATA_DIR} ${ETCD_DATA_DIR}.failed-restore-${STAMP} && mv ${OLD_DIR} ${ETCD_DATA_DIR}"
            log "  mv ${STOPPED_DIR}/*.yaml ${MANIFESTS_DIR}/"
            ;;
    esac
}

main() {
    local usage="usage: etcd-restore.sh [--key-file <file>|-] <snapshot.db | export.db.enc>"
    trap on_exit EXIT
    declare -F export_open >/dev/null ||
        die 2 "${LIB} predates encrypted exports: copy cluster/scripts/lib.sh next to this script"
    while (($# > 0)); do
        case $1 in
            --key-file)
                [[ $# -ge 2 && -n $2 ]] || die 2 "$usage"
                KEY_FILE=$2
                shift 2
                ;;
            --key-file=*)
                KEY_FILE=${1#--key-file=}
                shift
                ;;
            -h | --help) die 2 "$usage" ;;
            -*) die 2 "unknown option $1; ${usage}" ;;
            *) break ;;
        esac
    done
    (($# == 1)) || die 2 "$usage"
    SNAPSHOT=$1
    SOURCE=$1
    [[ -f $SNAPSHOT && -r $SNAPSHOT ]] || die 2 "snapshot file ${SNAPSHOT} not found or not readable"
    [[ $TIMEOUT =~ ^[0-9]+$ ]] || die 2 "TIMEOUT must be whole seconds, got '${TIMEOUT}'"
    [[ $POLL_INTERVAL =~ ^[0-9]+([.][0-9]+)?$ ]] || die 2 "POLL_INTERVAL must be seconds, got '${POLL_INTERVAL}'"
    [[ -f ${MANIFESTS_DIR}/etcd.yaml ]] ||
        die 2 "${MANIFESTS_DIR}/etcd.yaml not found: run this on a control-plane node with a local (stacked) etcd"
    local tool
    for tool in crictl kubectl; do
        command -v "$tool" >/dev/null || die 2 "${tool} is not installed on this node"
    done
    command -v "$ETCDUTL" >/dev/null || command -v etcdctl >/dev/null ||
        die 2 "neither ${ETCDUTL} nor etcdctl is installed; copy etcdutl of the same etcd version to /usr/local/bin"
    init_logging
    local format
    format=$(export_format "$SNAPSHOT")
    if [[ $format != plain ]]; then
        command -v openssl >/dev/null || die 2 "openssl is not installed: it decrypts the export"
        if [[ $KEY_FILE == - ]]; then
            read_key_stdin
        fi
        KEY_FILE=${KEY_FILE:-$EXPORT_KEY_FILE}
        [[ -s $KEY_FILE && -r $KEY_FILE ]] ||
            die 2 "the export key ${KEY_FILE} is missing or empty: give the stack's etcdBackupKey with --key-file <file> or --key-file - (stdin)"
    elif [[ $SNAPSHOT == *.enc ]]; then
        die 2 "${SNAPSHOT} ends in .enc but has no export header: not an export of etcd-backup.sh (damaged, or not downloaded whole?)"
    elif [[ -n $KEY_FILE ]]; then
        log "${SNAPSHOT} is a plain snapshot: --key-file is not needed"
    fi

    local name peer members count
    name=$(manifest_flag name)
    peer=$(manifest_flag initial-advertise-peer-urls)
    [[ -n $name && -n $peer ]] ||
        die 2 "could not read --name and --initial-advertise-peer-urls from ${MANIFESTS_DIR}/etcd.yaml"
    ETCD_DATA_DIR=${ETCD_DATA_DIR:-$(manifest_flag data-dir)}
    ETCD_DATA_DIR=${ETCD_DATA_DIR:-/var/lib/etcd}
    ETCD_DATA_DIR=${ETCD_DATA_DIR%/}
    if members=$(etcdctl_local member list); then
        count=$(grep -c . <<<"$members") || count=0
        log "etcd has ${count} member(s):"$'\n'"${members}"
    else
        count="an unknown number of"
        log "etcdctl member list failed (etcd down?)"
    fi
    if [[ $count != 1 && $FORCE != true ]]; then
        die 2 "etcd has ${count} members. The restore makes a NEW one-member cluster: stop etcd on the other control-plane nodes first, replace them afterwards, and run again with FORCE=true"
    fi

    printf -v STAMP '%(%Y%m%d%H%M%S)T' -1
    STOPPED_DIR="${MANIFESTS_DIR%/}-stopped-${STAMP}"
    NEW_DIR="${ETCD_DATA_DIR}.restore-${STAMP}"
    OLD_DIR="${ETCD_DATA_DIR}.before-restore-${STAMP}"
    [[ ! -e $NEW_DIR && ! -e $OLD_DIR && ! -e $STOPPED_DIR ]] || die 2 "${NEW_DIR}, ${OLD_DIR} or ${STOPPED_DIR} already exists"

    if [[ $format != plain ]]; then
        decrypt_export "$SOURCE"
    fi
    log "checking snapshot ${SNAPSHOT}"
    check_snapshot "$SNAPSHOT" || die 2 "${SNAPSHOT} is not a readable etcd snapshot; nothing was changed"
    log "restoring member ${name} (${peer}) into ${ETCD_DATA_DIR}"

    trap 'die 1 "terminated by signal"' TERM INT HUP
    trap 'die 1 "unexpected error at line ${LINENO}"' ERR
    log "stopping the static pods: moving the manifests to ${STOPPED_DIR}"
    PHASE=stopped
    park_manifests "$STOPPED_DIR" "$MANIFESTS_DIR"/*
    wait_until "$TIMEOUT" "etcd and kube-apiserver to stop" control_plane_stopped || die 1 "the static pods did not stop"

    log "etcdutl snapshot restore into ${NEW_DIR}"
    restore_snapshot "$name" "$peer" >&2 || die 1 "snapshot restore failed"
    [[ -d ${NEW_DIR}/member ]] || die 1 "the restore produced no ${NEW_DIR}/member directory"

    log "swapping data directories: current data kept in ${OLD_DIR}"
    if [[ -e $ETCD_DATA_DIR ]]; then
        mv "$ETCD_DATA_DIR" "$OLD_DIR"
    fi
    PHASE=swapped
    mv "$NEW_DIR" "$ETCD_DATA_DIR"
    chmod 700 "$ETCD_DATA_DIR"

    log "starting the static pods again"
    unpark_manifests "$STOPPED_DIR"
    PHASE=started
    wait_until "$TIMEOUT" "the API server to answer /readyz" api_ready || die 1 "the API server did not come back"
    PHASE=finished

    log "etcd restored from ${SOURCE}. The previous data is in ${OLD_DIR}: delete it once the cluster looks right."
    log "Objects created after the snapshot are gone; restart the kubelets if nodes report stale leases."
}

# Children get /dev/null as stdin (the script may be fed to `bash -s`); fd 3 keeps the
# caller's stdin for --key-file -.
main "$@" 3<&0 </dev/null
