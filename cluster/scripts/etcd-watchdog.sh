#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# etcd-watchdog.sh - removes etcd members whose IP no longer belongs to any instance (a master
# that was replaced or deleted), so that a lost master does not count against the quorum.
# Run by cron every 2 minutes on control-plane nodes.
# Safety: never removes this node's own member, never acts when the instance list is empty or
# does not contain this node, and removes at most one member per run.
# Log: /var/log/zadara-eksd-etcd-watchdog.log. Parameters: $ZADARA_ETC/node.env (see lib.sh).

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-etcd-watchdog.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

trap 'fail "unexpected error at line ${LINENO}"' ERR

main() {
    start_control_plane_job || return 0
    single_instance etcd-watchdog

    local my_ip
    my_ip=$(local_ipv4) || fail "instance metadata at ${METADATA_URL} does not answer"
    resolve_cloud_api || fail "could not read cluster_url from ${METADATA_URL}/openstack/latest/meta_data.json"

    local listing
    listing=$(cloud_aws ec2 describe-instances \
        --query "Reservations[].Instances[?State.Name!='terminated'].PrivateIpAddress" \
        --output text) || fail "could not list instances; not touching etcd"
    local -a instance_ips
    mapfile -t instance_ips < <(printf '%s\n' "$listing" | words_to_lines)
    if ((${#instance_ips[@]} == 0)); then
        fail "the instance list is empty (cloud API problem?); refusing to remove any etcd member"
    fi
    if ! printf '%s\n' "${instance_ips[@]}" | grep -qxF "$my_ip"; then
        fail "the instance list does not contain this node (${my_ip}); refusing to remove any etcd member"
    fi

    local members
    members=$(etcdctl_local member list) || fail "etcdctl member list failed"

    # Lines: <id>, <status>, <name>, <peer urls>, <client urls>, <is learner>
    local id status name peers rest ip
    local -a stale=()
    while IFS=',' read -r id status name peers rest; do
        id=${id//[[:space:]]/}
        name=${name//[[:space:]]/}
        peers=${peers//[[:space:]]/}
        if [[ -z $id || -z $peers ]]; then
            continue
        fi
        ip=${peers#*://}
        ip=${ip%%[:/]*}
        if [[ $ip == "$my_ip" ]]; then
            continue
        fi
        if printf '%s\n' "${instance_ips[@]}" | grep -qxF "$ip"; then
            continue
        fi
        stale+=("${id} ${ip} ${name:-?} ${status//[[:space:]]/}")
    done <<<"$members"

    if ((${#stale[@]} == 0)); then
        return 0
    fi
    local target
    read -r id ip name status <<<"${stale[0]}"
    log "etcd member ${id} (${name}, ${ip}, ${status}) has no instance any more: removing it"
    etcdctl_local member remove "$id" || fail "etcdctl member remove ${id} failed"
    log "removed etcd member ${id}"
    if ((${#stale[@]} > 1)); then
        for target in "${stale[@]:1}"; do
            log "also stale, handled by a later run: ${target}"
        done
    fi
}

main "$@"
