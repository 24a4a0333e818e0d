#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# etcd-backup.sh - etcd backup of a control-plane node, run by cron every 2 hours.
#   1. `etcdctl snapshot save` (the node's etcdctl, else the one in the etcd static pod) to
#      $ETCD_BACKUP_DIR/etcd_backup_<hostname>_<instance-id>.db
#   2. No disk snapshot: the root disk holds pki/ (every CA key) and the encryption key; a
#      snapshot of it would be a copy of the whole root of trust.
#   3. Copy of the etcd snapshot to S3 / NGOS, encrypted and authenticated (AES-256-CBC and
#      HMAC-SHA256, format in lib.sh's export_seal; key from the program:
#      $KUBERNETES_ETC/zadara/backup-export.key, also the `etcdBackupKey` stack output; read
#      back by etcd-restore.sh), only when the Kubernetes Secret
#      kube-system/zadara-backup-export exists (keys accessKeyId, secretAccessKey, bucket,
#      endpoint, region, or the reference's backup_access_key_id, backup_secret_access_key,
#      backup_bucket, backup_endpoint, backup_region), keeping the newest ETCD_BACKUP_ROTATION
#      objects of this host (all when 0). The credentials stay in memory and in the aws
#      call's environment.
# A failed step is logged and the next one still runs; the script exits non-zero at the end.
# Log: /var/log/zadara-eksd-etcd-backup.log. Parameters: $ZADARA_ETC/node.env (see lib.sh).

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-etcd-backup.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ETCD_BACKUP_DIR="${ETCD_BACKUP_DIR:-/var/lib/etcd-backup}"
EXPORT_SECRET="zadara-backup-export"
PROBLEMS=0
SNAPSHOT_SAVED=false
declare -A EXPORT=()
EXPORT_OPTIONS=()

problem() {
    log "ERROR: $*"
    PROBLEMS=$((PROBLEMS + 1))
}

take_local_snapshot() {
    local target=$1
    install -d -m 700 "$ETCD_BACKUP_DIR"
    rm -f "${target}.tmp"
    if ! run_logged etcd_snapshot "${target}.tmp"; then
        rm -f "${target}.tmp"
        problem "etcdctl snapshot save failed"
        return 0
    fi
    chmod 600 "${target}.tmp"
    mv -f "${target}.tmp" "$target"
    SNAPSHOT_SAVED=true
    log "etcd snapshot saved to ${target}"
}

# rotate <"time name" lines> <delete command...>: runs the command with each name beyond the
# newest ETCD_BACKUP_ROTATION as its last argument.
rotate() {
    local listing=$1 expired name
    shift
    expired=$(awk 'NF == 2' <<<"$listing" | sort -r | tail -n "+$((ETCD_BACKUP_ROTATION + 1))" |
        awk '{ print $2 }') || expired=""
    for name in $expired; do
        if "$@" "$name" >/dev/null; then
            log "rotation: deleted ${name}"
        else
            problem "rotation: could not delete ${name}"
        fi
    done
}

# export_aws <args...>: aws with the export credentials (environment only) and options.
export_aws() {
    AWS_ACCESS_KEY_ID=${EXPORT[key]} AWS_SECRET_ACCESS_KEY=${EXPORT[secret]} aws "$@" "${EXPORT_OPTIONS[@]}"
}

# Reads the export secret into EXPORT[key secret bucket endpoint region]; our key names win
# over the reference's backup_* ones. Returns 1 when it cannot be read, 2 when it is absent.
read_export_secret() {
    local data name value ours theirs
    # shellcheck disable=SC2016
    data=$(kubectl_admin -n kube-system get secret "$EXPORT_SECRET" --ignore-not-found \
        -o 'go-template={{range $k, $v := .data}}{{$k}} {{$v}}{{"\n"}}{{end}}') || return 1
    if [[ -z $data ]]; then
        return 2
    fi
    local -A raw=()
    while read -r name value; do
        raw[$name]=$(base64 -d <<<"$value") || return 1
    done <<<"$data"
    for name in key:accessKeyId:backup_access_key_id secret:secretAccessKey:backup_secret_access_key \
        bucket:bucket:backup_bucket endpoint:endpoint:backup_endpoint region:region:backup_region; do
        IFS=: read -r name ours theirs <<<"$name"
        EXPORT[$name]=${raw[$ours]:-${raw[$theirs]:-}}
    done
}

export_snapshot() {
    local file=$1 host=$2 instance=$3 status=0
    read_export_secret || status=$?
    if ((status == 2)); then
        log "no secret kube-system/${EXPORT_SECRET}: object storage export disabled"
        return 0
    elif ((status != 0)); then
        problem "could not read the secret kube-system/${EXPORT_SECRET}; export skipped"
        return 0
    fi
    if [[ -z ${EXPORT[key]} || -z ${EXPORT[secret]} || -z ${EXPORT[bucket]} ]]; then
        problem "secret kube-system/${EXPORT_SECRET} needs accessKeyId, secretAccessKey and bucket"
        return 0
    fi
    if [[ $SNAPSHOT_SAVED != true ]]; then
        log "no new etcd snapshot: export skipped"
        return 0
    fi
    EXPORT_OPTIONS=(--region "${EXPORT[region]:-us-east-1}")
    if [[ -n ${EXPORT[endpoint]} ]]; then
        EXPORT_OPTIONS+=(--endpoint-url "${EXPORT[endpoint]}")
    fi
    if [[ $CLOUD_API_INSECURE == true ]]; then
        EXPORT_OPTIONS+=(--no-verify-ssl)
    elif [[ -n $CLOUD_API_CA_BUNDLE ]]; then
        EXPORT_OPTIONS+=(--ca-bundle "$CLOUD_API_CA_BUNDLE")
    fi
    # Never an unencrypted copy off the node: without the key, no export.
    if [[ ! -s $EXPORT_KEY_FILE ]]; then
        problem "${EXPORT_KEY_FILE} is missing: refusing to export an unencrypted etcd snapshot"
        return 0
    fi
    local encrypted="${file}.enc"
    # EXPORT_KEY_FILE (lib.sh): the program's key, placed 0600 by control-plane-up.sh.
    if ! export_seal "$file" "$EXPORT_KEY_FILE" "$encrypted" 2>>"$LOG_FILE"; then
        rm -f "$encrypted"
        problem "could not encrypt the etcd snapshot; export skipped"
        return 0
    fi
    local prefix="${CLUSTER_NAME}/etcd_backup_${host}_" destination
    destination="s3://${EXPORT[bucket]}/${prefix}${instance}_$(date -u +%Y%m%dT%H%M%SZ).db.enc"
    if export_aws s3 cp --only-show-errors "$encrypted" "$destination"; then
        rm -f "$encrypted"
        log "exported the encrypted etcd snapshot to ${destination}"
    else
        rm -f "$encrypted"
        problem "export to ${destination} failed"
        return 0
    fi
    # This host's objects beyond the newest ETCD_BACKUP_ROTATION go.
    local listing
    if ((ETCD_BACKUP_ROTATION == 0)); then
        return 0
    elif listing=$(export_aws s3api list-objects-v2 --bucket "${EXPORT[bucket]}" --prefix "$prefix" \
        --query 'Contents[].[LastModified,Key]' --output text); then
        rotate "$listing" export_aws s3api delete-object --bucket "${EXPORT[bucket]}" --key
    else
        problem "could not list s3://${EXPORT[bucket]}/${prefix}*; export rotation skipped"
    fi
}

main() {
    cron_job_start etcd-backup
    umask 077

    local instance host
    instance=$(instance_id) || fail "instance metadata at ${METADATA_URL} does not answer"
    host=$(hostname)
    local target="${ETCD_BACKUP_DIR}/etcd_backup_${host}_${instance}.db"

    take_local_snapshot "$target"
    export_snapshot "$target" "$host" "$instance"
    EXPORT=()

    if ((PROBLEMS > 0)); then
        fail "backup finished with ${PROBLEMS} problem(s); the local snapshot is ${target}"
    fi
    log "backup complete"
}

main "$@"
