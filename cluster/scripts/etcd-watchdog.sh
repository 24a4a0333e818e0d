#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# etcd-watchdog.sh - removes etcd members whose IP no longer belongs to any instance (a master
# that was replaced or deleted), so that a lost master does not count against the quorum.
# Run by cron every 2 minutes on control-plane nodes.
# A member is removed only when ALL of these hold:
#   - its IP is missing from the instance listing on ABSENT_RUNS (default 3) runs in a row
#     (counted in $STATE_DIR/etcd-watchdog.absent; a run that cannot trust the listing resets it);
#   - it fails `etcdctl endpoint health` at its own client URL;
#   - etcd-membership.sh leave accepts it: no other membership change in flight, and a healthy
#     majority of the remaining voters (exit 3 otherwise: left for a later run).
# Never this node's own member, never with an empty listing or one without this node, and at
# most one member per run.
# Log: /var/log/zadara-eksd-etcd-watchdog.log. Parameters: $ZADARA_ETC/node.env (see lib.sh).

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-etcd-watchdog.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ABSENT_RUNS="${ABSENT_RUNS:-3}"
MEMBERSHIP="$(dirname "${BASH_SOURCE[0]}")/etcd-membership.sh"

main() {
    cron_job_start etcd-watchdog
    local absent_file="${STATE_DIR}/etcd-watchdog.absent"

    local my_ip
    my_ip=$(local_ipv4) || my_ip=""
    [[ -n $my_ip ]] || fail "instance metadata at ${METADATA_URL} does not answer"
    resolve_cloud_api || fail "could not read cluster_url from ${METADATA_URL}/openstack/latest/meta_data.json"

    local listing
    listing=$(cloud_aws ec2 describe-instances \
        --query "Reservations[].Instances[?State.Name!='terminated'].PrivateIpAddress" \
        --output text | words_to_lines) || fail "could not list instances; not touching etcd"
    # A set, not `printf | grep -q`: under pipefail an early grep exit fails the pipe (SIGPIPE).
    local -A listed=()
    local ip
    if [[ -n $listing ]]; then
        while read -r ip; do
            listed[$ip]=1
        done <<<"$listing"
    fi
    if [[ -z ${listed[$my_ip]:-} ]]; then
        rm -f "$absent_file"
        fail "the instance list is empty or does not contain this node (${my_ip}); refusing to remove any etcd member"
    fi

    # The member list through the membership script; health only once a member is ripe.
    [[ -r $MEMBERSHIP ]] || fail "${MEMBERSHIP} is missing: install it next to this script (control-plane script set)"
    local table
    table=$(LOG_FILE=$LOG_FILE bash "$MEMBERSHIP" list) || fail "could not list the etcd members"

    local -A before=()
    local id count
    if [[ -f $absent_file ]]; then
        while read -r id count; do
            if [[ $count =~ ^[0-9]+$ ]]; then
                before[$id]=$count
            fi
        done <"$absent_file"
    fi

    # Columns: NAME ID STATUS ROLE HEALTH LEADER CLIENT-URL PEER-URL
    local name status role health clients peers state=""
    local -A ripe=()
    while read -r name id status role _ _ _ peers; do
        [[ $name != NAME ]] || continue
        ip=${peers#*://}
        ip=${ip%%[:/]*}
        if [[ -z $id || -z $ip || $ip == "$my_ip" || -n ${listed[$ip]:-} ]]; then
            continue
        fi
        count=$((${before[$id]:-0} + 1))
        state+="${id} ${count}"$'\n'
        log "etcd member ${id} (${name}, ${ip}, ${status} ${role}) has no instance: ${count} run(s) in a row"
        if ((count >= ABSENT_RUNS)); then
            ripe[$id]=1
        fi
    done <<<"$table"
    printf '%s' "$state" >"$absent_file"
    if ((${#ripe[@]} == 0)); then
        return 0
    fi

    # status exits 1 while a member is unhealthy (expected here); the table is what counts.
    table=$(LOG_FILE=$LOG_FILE bash "$MEMBERSHIP" status) || true
    [[ $table == NAME* ]] || fail "could not read the etcd members' health"
    if [[ ! $table =~ [[:space:]]yes[[:space:]] ]]; then
        log "the local etcd member sees no leader: not removing any member"
        return 0
    fi
    # At most one change per run; `leave` refuses (exit 3) when the removal is unsafe.
    local rc=0
    while read -r name id status role health _ clients _; do
        [[ -n ${ripe[$id]:-} ]] || continue
        if [[ $health == healthy ]]; then
            log "etcd member ${id} answers at ${clients}: not removing it"
            continue
        fi
        log "etcd member ${id} is unreachable and has had no instance for ${ABSENT_RUNS} runs: removing it"
        LOG_FILE=$LOG_FILE bash "$MEMBERSHIP" leave "$id" || rc=$?
        case $rc in
            0) log "removed etcd member ${id}; any other stale member is handled by a later run" ;;
            3) log "removing etcd member ${id} is unsafe now (see above): left for a later run" ;;
            *) fail "removing etcd member ${id} failed (exit ${rc})" ;;
        esac
        return 0
    done <<<"$table"
}

main "$@"
