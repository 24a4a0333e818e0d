#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# nvme-mount.sh - formats and mounts the local NVMe instance-store disks of the node, if any.
# Started at every boot by zadara-nvme-mount.service (instance-store data does not survive a
# stop, so nothing goes to /etc/fstab). Idempotent:
#   - only whole NVMe disks; never the disk holding /, never a disk with partitions,
#     never a disk that is already mounted, never a model matching NVME_EXCLUDE_MODEL;
#   - only a disk without any signature is formatted (ext4, label $NVME_LABEL): `wipefs -n`
#     lists nothing and `blkid -p` finds no filesystem (TYPE) and no partition table (PTTYPE);
#   - a disk with our label is mounted again; any other signature is left alone.
# Mount point: $NVME_MOUNT_BASE/<device name>, e.g. /mnt/nvme/nvme1n1.
# Environment: NVME_MOUNT_BASE (default /mnt/nvme), NVME_LABEL (default zeksd-nvme),
#   NVME_EXCLUDE_MODEL (extended regex, default "Elastic Block Store").
# Log: /var/log/zadara-eksd-nvme.log.

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-nvme.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NVME_MOUNT_BASE="${NVME_MOUNT_BASE:-/mnt/nvme}"
NVME_LABEL="${NVME_LABEL:-zeksd-nvme}"
NVME_EXCLUDE_MODEL="${NVME_EXCLUDE_MODEL:-Elastic Block Store}"

trap 'fail "unexpected error at line ${LINENO}"' ERR

# Prints the whole disk that holds the root filesystem, e.g. /dev/nvme0n1 or /dev/vda.
root_disk() {
    local source parent
    source=$(findmnt -no SOURCE /) || return 1
    parent=$(lsblk -no PKNAME "$source" 2>/dev/null | head -n 1) || true
    if [[ -n $parent ]]; then
        printf '/dev/%s\n' "$parent"
    else
        printf '%s\n' "$source"
    fi
}

handle_disk() {
    local disk=$1 model children target
    model=$(lsblk -dno MODEL "$disk" 2>/dev/null) || model=""
    if [[ -n $NVME_EXCLUDE_MODEL && $model =~ $NVME_EXCLUDE_MODEL ]]; then
        log "${disk}: model '${model}' is excluded; skipping"
        return 0
    fi
    children=$(lsblk -no NAME "$disk" | wc -l)
    if ((children > 1)); then
        log "${disk}: has partitions; skipping"
        return 0
    fi
    if findmnt -rn -S "$disk" >/dev/null; then
        log "${disk}: already mounted; nothing to do"
        return 0
    fi

    local signatures probe status=0 key value fstype="" pttype="" label=""
    if ! signatures=$(wipefs -n "$disk"); then
        log "${disk}: wipefs failed; skipping"
        return 0
    fi
    probe=$(blkid -p -o export "$disk") || status=$?
    if ((status != 0 && status != 2)); then
        log "${disk}: blkid failed (status ${status}); skipping"
        return 0
    fi
    while IFS='=' read -r key value; do
        case $key in
            TYPE) fstype=$value ;;
            PTTYPE) pttype=$value ;;
            LABEL) label=$value ;;
        esac
    done <<<"$probe"
    if [[ -z $signatures && -z $fstype && -z $pttype ]]; then
        log "${disk}: no signature at all; formatting ext4 with label ${NVME_LABEL}"
        mkfs.ext4 -q -F -m 0 -L "$NVME_LABEL" "$disk"
    elif [[ -n $pttype || $label != "$NVME_LABEL" ]]; then
        log "${disk}: signatures not ours (type '${fstype}', partition table '${pttype}', label '${label}'); skipping"
        return 0
    fi

    target="${NVME_MOUNT_BASE}/$(basename "$disk")"
    mkdir -p "$target"
    mount -o defaults,noatime "$disk" "$target"
    log "${disk}: mounted on ${target}"
}

main() {
    init_logging
    local root
    root=$(root_disk) || fail "cannot find the disk holding /"
    local found disk
    local -a disks
    found=$(lsblk -dnpo NAME,TYPE | awk '$2 == "disk" && $1 ~ /^\/dev\/nvme[0-9]+n[0-9]+$/ { print $1 }') ||
        fail "lsblk failed"
    if [[ -z $found ]]; then
        log "no NVMe disks on this node"
        return 0
    fi
    mapfile -t disks <<<"$found"
    for disk in "${disks[@]}"; do
        if [[ $disk == "$root" ]]; then
            continue
        fi
        handle_disk "$disk"
    done
}

main "$@"
