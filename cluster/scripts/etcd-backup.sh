#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# etcd-backup.sh - etcd backup of a control-plane node, run by cron every 2 hours.
#   1. `etcdctl snapshot save` to $ETCD_BACKUP_DIR/etcd_backup_<hostname>_<instance-id>.db
#   2. EBS snapshot of the boot volume tagged managed-by=$ENVIRONMENT, keeping the newest
#      ETCD_BACKUP_ROTATION of them (skipped when ETCD_BACKUP_ROTATION is 0)
#   3. Copy of the etcd snapshot to S3 / NGOS, only when the Kubernetes Secret
#      kube-system/zadara-backup-export exists (keys accessKeyId, secretAccessKey, bucket,
#      endpoint, region). The credentials stay in memory and in the aws call's environment.
# Log: /var/log/zadara-eksd-etcd-backup.log. Parameters: $ZADARA_ETC/node.env (see lib.sh).

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-etcd-backup.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ETCD_BACKUP_DIR="${ETCD_BACKUP_DIR:-/var/lib/etcd-backup}"
EXPORT_SECRET="zadara-backup-export"
PROBLEMS=0

trap 'fail "unexpected error at line ${LINENO}"' ERR

problem() {
    log "ERROR: $*"
    PROBLEMS=$((PROBLEMS + 1))
}

take_local_snapshot() {
    local target=$1
    install -d -m 700 "$ETCD_BACKUP_DIR"
    rm -f "${target}.tmp"
    if ! run_logged etcdctl_local snapshot save "${target}.tmp"; then
        rm -f "${target}.tmp"
        fail "etcdctl snapshot save failed"
    fi
    chmod 600 "${target}.tmp"
    mv -f "${target}.tmp" "$target"
    log "etcd snapshot saved to ${target}"
}

# Prints the id of this instance's boot volume.
boot_volume_id() {
    local instance=$1 root_device volume
    root_device=$(cloud_aws ec2 describe-instances --instance-ids "$instance" \
        --query 'Reservations[0].Instances[0].RootDeviceName' --output text) || return 1
    volume=$(cloud_aws ec2 describe-instances --instance-ids "$instance" \
        --query "Reservations[0].Instances[0].BlockDeviceMappings[?DeviceName=='${root_device}'].Ebs.VolumeId | [0]" \
        --output text) || return 1
    if [[ ! $volume =~ ^vol-[A-Za-z0-9]+$ ]]; then
        log "could not find the boot volume (root device '${root_device}', got '${volume}')"
        return 1
    fi
    printf '%s\n' "$volume"
}

ebs_snapshot() {
    local instance=$1 host=$2 volume snapshot
    if [[ ! $ENVIRONMENT =~ ^[A-Za-z0-9._-]+$ ]]; then
        problem "node.env: ENVIRONMENT must be set (letters, digits, . _ -) to tag EBS snapshots"
        return 0
    fi
    if ! resolve_cloud_api; then
        problem "could not read cluster_url from ${METADATA_URL}/openstack/latest/meta_data.json"
        return 0
    fi
    if ! volume=$(boot_volume_id "$instance"); then
        problem "could not find the boot volume of ${instance}"
        return 0
    fi
    if ! snapshot=$(cloud_aws ec2 create-snapshot --volume-id "$volume" \
        --description "zadara-eksd etcd backup of ${host} (${instance})" \
        --query SnapshotId --output text); then
        problem "create-snapshot of ${volume} failed"
        return 0
    fi
    if ! cloud_aws ec2 create-tags --resources "$snapshot" \
        --tags "Key=managed-by,Value=${ENVIRONMENT}" "Key=Name,Value=etcd-backup-${host}"; then
        problem "could not tag snapshot ${snapshot}; it is left out of the rotation"
        return 0
    fi
    log "EBS snapshot ${snapshot} of boot volume ${volume} created"
    rotate_snapshots "$volume"
}

# Deletes all but the newest ETCD_BACKUP_ROTATION snapshots of the volume tagged managed-by.
rotate_snapshots() {
    local volume=$1 listing
    if ! listing=$(cloud_aws ec2 describe-snapshots --filters "Name=volume-id,Values=${volume}" \
        --query "Snapshots[?VolumeId=='${volume}'] | [?Tags[?Key=='managed-by' && Value=='${ENVIRONMENT}']].[StartTime,SnapshotId]" \
        --output text); then
        problem "could not list the snapshots of ${volume}; rotation skipped"
        return 0
    fi
    local -a expired
    mapfile -t expired < <(printf '%s\n' "$listing" | awk 'NF == 2' | sort -r |
        tail -n "+$((ETCD_BACKUP_ROTATION + 1))" | awk '{ print $2 }')
    local snapshot
    for snapshot in "${expired[@]}"; do
        if cloud_aws ec2 delete-snapshot --snapshot-id "$snapshot"; then
            log "rotation: deleted snapshot ${snapshot}"
        else
            problem "rotation: could not delete snapshot ${snapshot}"
        fi
    done
    log "rotation: keeping the newest ${ETCD_BACKUP_ROTATION} snapshots of ${volume}"
}

kubectl_admin() {
    kubectl --kubeconfig "${KUBERNETES_ETC}/admin.conf" "$@"
}

# secret_value <key>: decoded value of one key of the export secret (empty when absent).
secret_value() {
    local encoded
    encoded=$(kubectl_admin -n kube-system get secret "$EXPORT_SECRET" -o "jsonpath={.data.$1}") || return 1
    if [[ -n $encoded ]]; then
        printf '%s' "$encoded" | base64 -d
    fi
}

export_snapshot() {
    local file=$1 host=$2 instance=$3 found
    if ! found=$(kubectl_admin -n kube-system get secret "$EXPORT_SECRET" --ignore-not-found -o name); then
        problem "could not check for the secret kube-system/${EXPORT_SECRET}; export skipped"
        return 0
    fi
    if [[ -z $found ]]; then
        log "no secret kube-system/${EXPORT_SECRET}: object storage export disabled"
        return 0
    fi
    local key_id secret bucket endpoint region
    if ! key_id=$(secret_value accessKeyId) || ! secret=$(secret_value secretAccessKey) ||
        ! bucket=$(secret_value bucket) || ! endpoint=$(secret_value endpoint) ||
        ! region=$(secret_value region); then
        problem "could not read the secret kube-system/${EXPORT_SECRET}; export skipped"
        return 0
    fi
    if [[ -z $key_id || -z $secret || -z $bucket ]]; then
        problem "secret kube-system/${EXPORT_SECRET} needs accessKeyId, secretAccessKey and bucket"
        return 0
    fi
    local -a options=(--region "${region:-us-east-1}")
    if [[ -n $endpoint ]]; then
        options+=(--endpoint-url "$endpoint")
    fi
    if [[ $CLOUD_API_INSECURE == true ]]; then
        options+=(--no-verify-ssl)
    fi
    local stamp destination
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    destination="s3://${bucket}/${CLUSTER_NAME}/etcd_backup_${host}_${instance}_${stamp}.db"
    if AWS_ACCESS_KEY_ID="$key_id" AWS_SECRET_ACCESS_KEY="$secret" \
        aws s3 cp --only-show-errors "$file" "$destination" "${options[@]}"; then
        log "exported the etcd snapshot to ${destination}"
    else
        problem "export to ${destination} failed"
    fi
    unset key_id secret
}

main() {
    start_control_plane_job || return 0
    single_instance etcd-backup
    umask 077

    local instance host
    instance=$(instance_id) || fail "instance metadata at ${METADATA_URL} does not answer"
    host=$(hostname)
    local target="${ETCD_BACKUP_DIR}/etcd_backup_${host}_${instance}.db"

    take_local_snapshot "$target"
    if ((ETCD_BACKUP_ROTATION > 0)); then
        ebs_snapshot "$instance" "$host"
    else
        log "ETCD_BACKUP_ROTATION is 0: EBS snapshots disabled"
    fi
    export_snapshot "$target" "$host" "$instance"

    if ((PROBLEMS > 0)); then
        fail "backup finished with ${PROBLEMS} problem(s); the local snapshot is ${target}"
    fi
    log "backup complete"
}

main "$@"
