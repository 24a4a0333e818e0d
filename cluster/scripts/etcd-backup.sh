#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# etcd-backup.sh - etcd backup of a control-plane node, run by cron every 2 hours.
#   1. `etcdctl snapshot save` (the node's etcdctl, else the one in the etcd static pod) to
#      $ETCD_BACKUP_DIR/etcd_backup_<hostname>_<instance-id>.db
#   2. EBS snapshot of the boot volume tagged managed-by=$ENVIRONMENT, keeping the newest
#      ETCD_BACKUP_ROTATION of them (skipped when ETCD_BACKUP_ROTATION is 0)
#   3. Copy of the etcd snapshot to S3 / NGOS, only when the Kubernetes Secret
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
    rotate "$listing" cloud_aws ec2 delete-snapshot --snapshot-id
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
    local prefix="${CLUSTER_NAME}/etcd_backup_${host}_" destination
    destination="s3://${EXPORT[bucket]}/${prefix}${instance}_$(date -u +%Y%m%dT%H%M%SZ).db"
    if export_aws s3 cp --only-show-errors "$file" "$destination"; then
        log "exported the etcd snapshot to ${destination}"
    else
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
    if ((ETCD_BACKUP_ROTATION > 0)); then
        ebs_snapshot "$instance" "$host"
    else
        log "ETCD_BACKUP_ROTATION is 0: EBS snapshots disabled"
    fi
    export_snapshot "$target" "$host" "$instance"
    EXPORT=()

    if ((PROBLEMS > 0)); then
        fail "backup finished with ${PROBLEMS} problem(s); the local snapshot is ${target}"
    fi
    log "backup complete"
}

main "$@"
