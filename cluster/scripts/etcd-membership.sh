#!/usr/bin/env bash
# etcd-membership.sh - quorum-safe etcd membership changes, one at a time.
#
#   etcd-membership.sh status                          table of members, health, leader; exit 1
#                                                      unless every member is a healthy voter
#   etcd-membership.sh list                            the same table without health/leader (-)
#   etcd-membership.sh wait-healthy <name> <secs> [--promote]
#                                                      until <name> is started, a voter, healthy
#   etcd-membership.sh safe-to-remove <name|id>        exit 0 only when removing it is safe
#   etcd-membership.sh leave <name|id>                 move leadership away, then member remove
#   etcd-membership.sh add <name> <peer-url> [--learner]
#                                                      member add (repair and tests; kubeadm join
#                                                      adds members itself)
#   etcd-membership.sh is-member <name|id>             exit 0 listed, 4 not listed, 1 unknown
#   etcd-membership.sh recover <name> --confirm        quorum lost: restart this node's member
#                                                      <name> with --force-new-cluster (one-member
#                                                      cluster from its data), then without it
# Exit codes: 0 done (or nothing to do), 3 refused because it is unsafe, 4 not a member, 1 error.
#
# Safety rules (etcd's runtime reconfiguration guide):
#   - one membership change at a time: a learner that is not promoted yet, or a member that
#     was added but never started, is a change in flight; any other change is refused;
#   - a removal must leave a healthy majority of the remaining voters, and the cluster must
#     have a healthy majority now (the removal itself is committed by the old configuration);
#   - while a voter is unhealthy, no healthy voter is removed: the unhealthy one goes first
#     (etcd refuses every member add while too few voters are connected, so removing a healthy
#     one would leave the cluster unable to grow back and without failure tolerance);
#   - the last member is never removed; when the leaving member leads, leadership moves to a
#     healthy voter first, and the removal is sent through a healthy peer;
#   - an absent member is a no-op success, so an interrupted run can simply be repeated.
# The checks and the change are not atomic: run one copy of this script per cluster at a time
# (the program chains control-plane changes one after the other).
#
# Environment (defaults in brackets)
#   ETCD_ENDPOINTS        comma-separated client URLs used to discover the members [the local
#                         member https://127.0.0.1:2379, then the members' client URLs cached
#                         by the last run (ETCD_ENDPOINTS_FILE), then the peers of the etcd
#                         manifest's --initial-cluster on kubeadm's client port]: a node whose
#                         own member is gone or down still reaches the others
#   ETCD_EXTRA_ENDPOINTS  more client URLs to try after those (node-leave.sh passes the ones the
#                         API lists for the etcd static pods)
#   ETCD_ENDPOINTS_FILE   the cache of the members' client URLs [$STATE_DIR/etcd-endpoints]
#   ETCD_LOCAL_ENDPOINT   this node's member, for recover [https://127.0.0.1:2379]
#   RECOVER_TIMEOUT       seconds for each restart of the local member during recover [300]
#   ETCD_PKI              directory of the etcd client certificates [$KUBERNETES_ETC/pki/etcd];
#                         ca.crt with healthcheck-client.crt/key (or server.crt/key)
#   ETCD_TLS              auto (flags when ca.crt exists) | on | off [auto]
#   ETCD_DIAL_TIMEOUT     etcdctl --dial-timeout [2s]
#   ETCD_COMMAND_TIMEOUT  etcdctl --command-timeout [5s]
#   LEADER_MOVE_TIMEOUT   seconds to move leadership away from a leaving member [30]
#   REMOVE_TIMEOUT        seconds during which etcd may refuse a removal as "unhealthy cluster"
#                         (a fresh leader), until the member is gone from the list [30]
#   ADD_TIMEOUT           same for member add (etcd wants every voter connected for 5 s) [60]
#   POLL_INTERVAL         seconds between two polls [0.5: each poll is one short etcdctl call, and
#                         etcd refuses changes for ~5 s after a start or an election]
# Works with etcdctl 3.4, 3.5 and 3.6 (only their common flags and output formats are used);
# without etcdctl on the node it runs the one inside the etcd static pod (crictl exec).
# Log: /var/log/zadara-eksd-etcd-membership.log (and stderr). The status table goes to stdout.

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-etcd-membership.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ETCD_LOCAL_ENDPOINT="${ETCD_LOCAL_ENDPOINT:-https://127.0.0.1:2379}"
ETCD_ENDPOINTS_FILE="${ETCD_ENDPOINTS_FILE:-${STATE_DIR}/etcd-endpoints}"
RECOVER_TIMEOUT="${RECOVER_TIMEOUT:-300}"
ETCD_PKI="${ETCD_PKI:-${KUBERNETES_ETC}/pki/etcd}"
ETCD_TLS="${ETCD_TLS:-auto}"
ETCD_DIAL_TIMEOUT="${ETCD_DIAL_TIMEOUT:-2s}"
ETCD_COMMAND_TIMEOUT="${ETCD_COMMAND_TIMEOUT:-5s}"
LEADER_MOVE_TIMEOUT="${LEADER_MOVE_TIMEOUT:-30}"
REMOVE_TIMEOUT="${REMOVE_TIMEOUT:-30}"
ADD_TIMEOUT="${ADD_TIMEOUT:-60}"
POLL_INTERVAL="${POLL_INTERVAL:-0.5}"

readonly EXIT_REFUSED=3
readonly EXIT_NOT_MEMBER=4
readonly RECOVER_HINT="sudo /usr/local/lib/zadara-eksd/etcd-membership.sh recover <its member name> --confirm (docs/etcd.md, 'Quorum lost')"
# kubeadm's etcd ports (cmd/kubeadm/app/constants: EtcdListenClientPort, EtcdListenPeerPort).
readonly KUBEADM_ETCD_CLIENT_PORT=2379
readonly KUBEADM_ETCD_PEER_PORT=2380

# default_endpoints: the local member first, then every member another run saw, then the peers
# the etcd manifest was started with. A leave cut after its member removal, or run while the
# local member is down, reaches the rest of the cluster through them.
default_endpoints() {
    local list=$ETCD_LOCAL_ENDPOINT url peers entry
    if [[ -s $ETCD_ENDPOINTS_FILE ]]; then
        while read -r url; do
            if [[ -n $url && ",${list}," != *",${url},"* ]]; then
                list+=",${url}"
            fi
        done <"$ETCD_ENDPOINTS_FILE"
    fi
    if [[ -f "${MANIFESTS_DIR}/etcd.yaml" ]]; then
        peers=$(sed -n 's/^[[:space:]]*-[[:space:]]*--initial-cluster=\(.*\)$/\1/p' "${MANIFESTS_DIR}/etcd.yaml" | head -n 1 | tr -d "\"'")
        local -a entries=()
        IFS=',' read -r -a entries <<<"$peers"
        for entry in "${entries[@]}"; do
            url=${entry#*=}
            if [[ $url == *":${KUBEADM_ETCD_PEER_PORT}" && ",${list}," != *",${url%:*}:${KUBEADM_ETCD_CLIENT_PORT},"* ]]; then
                list+=",${url%:*}:${KUBEADM_ETCD_CLIENT_PORT}"
            fi
        done
    fi
    echo "$list"
}
ETCD_ENDPOINTS="${ETCD_ENDPOINTS:-$(default_endpoints)}${ETCD_EXTRA_ENDPOINTS:+,${ETCD_EXTRA_ENDPOINTS}}"

# remember_endpoints: caches the members' client URLs for the next run (best effort).
remember_endpoints() {
    local text
    text=$(printf '%s\n' "${M_CLIENT[@]}" | grep . | sort -u) || return 0
    if [[ -f $ETCD_ENDPOINTS_FILE && $(cat "$ETCD_ENDPOINTS_FILE" 2>/dev/null) == "$text" ]]; then
        return 0
    fi
    { mkdir -p "$(dirname "$ETCD_ENDPOINTS_FILE")" && printf '%s\n' "$text" >"${ETCD_ENDPOINTS_FILE}.new" &&
        mv -f "${ETCD_ENDPOINTS_FILE}.new" "$ETCD_ENDPOINTS_FILE"; } 2>/dev/null || true
}

# refuse <reason>: the change would be unsafe; nothing was changed.
refuse() {
    log "REFUSED: $*"
    exit "$EXIT_REFUSED"
}

# ---------------------------------------------------------------------------------------------
# etcdctl
# ---------------------------------------------------------------------------------------------

# ectl <endpoints> <args...>: etcdctl v3 with the node's client certificate and short timeouts.
ectl() {
    local endpoints=$1
    shift
    local -a tls=()
    find_etcdctl || return
    # ETCDCTL_CACERT & co. in the environment win: flags would shadow them.
    if [[ -z ${ETCDCTL_CACERT:-} && ($ETCD_TLS == on || ($ETCD_TLS == auto && -f "${ETCD_PKI}/ca.crt")) ]]; then
        local client=healthcheck-client
        if [[ ! -f "${ETCD_PKI}/${client}.crt" ]]; then
            client=server
        fi
        tls=(--cacert="${ETCD_PKI}/ca.crt" --cert="${ETCD_PKI}/${client}.crt" --key="${ETCD_PKI}/${client}.key")
    fi
    ETCDCTL_API=3 "${ETCDCTL_CMD[@]}" --endpoints="$endpoints" --dial-timeout="$ETCD_DIAL_TIMEOUT" \
        --command-timeout="$ETCD_COMMAND_TIMEOUT" "${tls[@]}" "$@"
}

# ---------------------------------------------------------------------------------------------
# Cluster view: members, their health, the leader
# ---------------------------------------------------------------------------------------------

# One entry per member, same index in each array (filled by load_cluster).
M_ID=() M_STATUS=() M_NAME=() M_PEER=() M_CLIENT=() M_LEARNER=() M_HEALTHY=()
LEADER_ID=""
VOTERS=0
HEALTHY_VOTERS=0

# load_members: `member list` through the first endpoint that answers (also the client URLs of
# members found on an earlier load, so the view survives the loss of the first endpoint).
load_members() {
    local endpoint output="" line id status name peers clients learner
    local -a candidates=()
    IFS=',' read -r -a candidates <<<"$ETCD_ENDPOINTS"
    candidates+=("${M_CLIENT[@]}")
    for endpoint in "${candidates[@]}"; do
        [[ -n $endpoint ]] || continue
        if output=$(ectl "$endpoint" member list 2>/dev/null); then
            break
        fi
        output=""
    done
    [[ -n $output ]] || return 1
    M_ID=() M_STATUS=() M_NAME=() M_PEER=() M_CLIENT=() M_LEARNER=() M_HEALTHY=()
    # Simple format (3.4-3.6): <id>, <status>, <name>, <peer urls>, <client urls>, <is learner>
    while read -r line; do
        [[ -n $line ]] || continue
        IFS='|' read -r id status name peers clients learner <<<"${line//, /|}"
        M_ID+=("$id")
        M_STATUS+=("$status")
        M_NAME+=("$name")
        M_PEER+=("${peers%%,*}")
        M_CLIENT+=("${clients%%,*}")
        M_LEARNER+=("${learner:-false}")
        M_HEALTHY+=(false)
    done <<<"$output"
    ((${#M_ID[@]} > 0)) || return 1
    remember_endpoints
}

# load_health: `endpoint health` of every started member at once (etcdctl checks them in
# parallel, each bounded by the command timeout); fills M_HEALTHY, VOTERS, HEALTHY_VOTERS.
load_health() {
    local i output="" endpoints=""
    for i in "${!M_ID[@]}"; do
        if [[ -n ${M_CLIENT[i]} ]]; then
            endpoints+="${endpoints:+,}${M_CLIENT[i]}"
        fi
    done
    if [[ -n $endpoints ]]; then
        output=$(ectl "$endpoints" endpoint health 2>&1) || true
    fi
    VOTERS=0 HEALTHY_VOTERS=0
    for i in "${!M_ID[@]}"; do
        M_HEALTHY[i]=false
        if [[ -n ${M_CLIENT[i]} && $output == *"${M_CLIENT[i]} is healthy"* ]]; then
            M_HEALTHY[i]=true
        fi
        if [[ ${M_LEARNER[i]} != true ]]; then
            VOTERS=$((VOTERS + 1))
            if [[ ${M_HEALTHY[i]} == true ]]; then
                HEALTHY_VOTERS=$((HEALTHY_VOTERS + 1))
            fi
        fi
    done
}

# load_leader: LEADER_ID (hex, like `member list`) as seen by the healthy members; "" if none.
load_leader() {
    local i endpoints="" output
    LEADER_ID=""
    for i in "${!M_ID[@]}"; do
        if [[ ${M_HEALTHY[i]} == true ]]; then
            endpoints+="${endpoints:+,}${M_CLIENT[i]}"
        fi
    done
    [[ -n $endpoints ]] || return 0
    # JSON, not the table: its columns differ between 3.4, 3.5 and 3.6. IDs are decimal there.
    output=$(ectl "$endpoints" endpoint status -w json 2>/dev/null) || output=""
    local pattern='"leader":([1-9][0-9]*)'
    if [[ $output =~ $pattern ]]; then
        LEADER_ID=$(printf '%x' "${BASH_REMATCH[1]}")
    fi
}

# load_cluster: members, health and leader; fails when no endpoint answers.
load_cluster() {
    load_members || fail "no etcd endpoint answers 'member list' (tried ${ETCD_ENDPOINTS})"
    load_health
    load_leader
}

# find_member <name|hex id>: prints the index, or returns 1.
find_member() {
    local i
    for i in "${!M_ID[@]}"; do
        if [[ (-n ${M_NAME[i]} && ${M_NAME[i]} == "$1") || ${M_ID[i]} == "$1" ]]; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# describe <index>: "name (id)" for messages; unstarted members have no name yet.
describe() {
    echo "${M_NAME[$1]:-<unstarted>} (${M_ID[$1]})"
}

role_of() {
    if [[ ${M_LEARNER[$1]} == true ]]; then echo learner; else echo voter; fi
}

# summary: one line for the log, e.g. "a (1f): started voter healthy leader; ...".
summary() {
    local i text=""
    for i in "${!M_ID[@]}"; do
        text+="${text:+; }$(describe "$i"): ${M_STATUS[i]} $(role_of "$i") "
        if [[ ${M_HEALTHY[i]} == true ]]; then text+=healthy; else text+=unhealthy; fi
        if [[ ${M_ID[i]} == "$LEADER_ID" ]]; then text+=" leader"; fi
    done
    echo "$text"
}

# in_flight_change [except-index]: prints the first pending change (learner or unstarted
# member) other than the given one, and returns 0 when there is one.
in_flight_change() {
    local i except=${1:--1}
    for i in "${!M_ID[@]}"; do
        ((i == except)) && continue
        if [[ ${M_STATUS[i]} == unstarted ]]; then
            echo "member $(describe "$i") was added but never started"
            return 0
        fi
        if [[ ${M_LEARNER[i]} == true ]]; then
            echo "member $(describe "$i") is a learner that is not promoted yet"
            return 0
        fi
    done
    return 1
}

# removal_verdict <index>: prints why removing the member is unsafe and returns 1, or
# returns 0. Needs load_cluster.
removal_verdict() {
    local i=$1 who pending need_now remaining healthy_after need_after
    who=$(describe "$i")
    if pending=$(in_flight_change "$i"); then
        echo "cannot remove ${who}: ${pending}; another membership change is in flight (finish or undo it first)"
        return 1
    fi
    need_now=$((VOTERS / 2 + 1))
    if ((HEALTHY_VOTERS < need_now)); then
        echo "cannot remove ${who}: only ${HEALTHY_VOTERS} of ${VOTERS} voters are healthy, the cluster has no quorum to commit a change"
        return 1
    fi
    if [[ ${M_LEARNER[i]} == true ]]; then
        return 0
    fi
    if ((VOTERS <= 1)); then
        echo "cannot remove ${who}: it is the last voting member of the cluster"
        return 1
    fi
    remaining=$((VOTERS - 1))
    healthy_after=$HEALTHY_VOTERS
    if [[ ${M_HEALTHY[i]} == true ]]; then
        healthy_after=$((healthy_after - 1))
    fi
    need_after=$((remaining / 2 + 1))
    if ((healthy_after < need_after)); then
        echo "cannot remove ${who}: ${healthy_after} of the ${remaining} remaining voters would be healthy, a majority needs ${need_after}"
        return 1
    fi
    # Zero margin: with an unhealthy voter left behind, etcd refuses every member add until it
    # is back or removed, so the roll could not go on. The unhealthy one goes first.
    local j unhealthy=""
    if [[ ${M_HEALTHY[i]} == true ]]; then
        for j in "${!M_ID[@]}"; do
            if ((j != i)) && [[ ${M_LEARNER[j]} != true && ${M_HEALTHY[j]} != true ]]; then
                unhealthy+="${unhealthy:+, }$(describe "$j")"
            fi
        done
    fi
    if [[ -n $unhealthy ]]; then
        echo "cannot remove ${who}: voter ${unhealthy} is unhealthy, and removing a healthy voter first would leave no failure tolerance (etcd then refuses new members). Bring it back, or when its instance is gone remove it first: etcd-membership.sh leave ${unhealthy%% (*} (the etcd watchdog does this for vanished instances)"
        return 1
    fi
    return 0
}

# healthy_peers <index>: comma-separated client URLs of the healthy members other than <index>.
healthy_peers() {
    local i urls=""
    for i in "${!M_ID[@]}"; do
        if ((i != $1)) && [[ ${M_HEALTHY[i]} == true ]]; then
            urls+="${urls:+,}${M_CLIENT[i]}"
        fi
    done
    echo "$urls"
}

# ---------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------

# cmd_status [with-health]: the table; `list` skips the health and leader queries.
cmd_status() {
    if [[ ${1:-true} == true ]]; then
        load_cluster
    else
        load_members || fail "no etcd endpoint answers 'member list' (tried ${ETCD_ENDPOINTS})"
    fi
    local i leader health
    printf '%-24s %-17s %-10s %-8s %-10s %-7s %s %s\n' NAME ID STATUS ROLE HEALTH LEADER CLIENT-URL PEER-URL
    for i in "${!M_ID[@]}"; do
        leader=- health=-
        if [[ ${1:-true} == true ]]; then
            leader=no health=unhealthy
            [[ ${M_ID[i]} != "$LEADER_ID" ]] || leader=yes
            [[ ${M_HEALTHY[i]} != true ]] || health=healthy
        fi
        printf '%-24s %-17s %-10s %-8s %-10s %-7s %s %s\n' "${M_NAME[i]:-<unstarted>}" "${M_ID[i]}" \
            "${M_STATUS[i]}" "$(role_of "$i")" "$health" "$leader" "${M_CLIENT[i]:--}" "${M_PEER[i]:--}"
    done
    if [[ ${1:-true} != true ]]; then
        return 0
    fi
    # Exit 1 unless the cluster is whole: a leader, every member a started, healthy voter.
    local problem=""
    [[ -n $LEADER_ID ]] || problem="no healthy member reports a leader"
    for i in "${!M_ID[@]}"; do
        if [[ ${M_HEALTHY[i]} != true || ${M_LEARNER[i]} == true || ${M_STATUS[i]} != started ]]; then
            problem+="${problem:+; }$(describe "$i") is ${M_STATUS[i]}, $(role_of "$i"), $([[ ${M_HEALTHY[i]} == true ]] && echo healthy || echo unhealthy)"
        fi
    done
    if [[ -n $problem ]]; then
        log "etcd is not fully healthy: ${problem} (${HEALTHY_VOTERS} of ${VOTERS} voters healthy)"
        if ((HEALTHY_VOTERS < VOTERS / 2 + 1)); then
            log "etcd has NO QUORUM. When the unhealthy members are gone for good, rebuild from a surviving one, on its node: ${RECOVER_HINT}"
        fi
        return 1
    fi
}

cmd_safe_to_remove() {
    local target=$1 i verdict
    load_cluster
    log "members: $(summary)"
    if ! i=$(find_member "$target"); then
        log "etcd member ${target} is not a member: nothing to remove"
        return 0
    fi
    if ! verdict=$(removal_verdict "$i"); then
        refuse "$verdict"
    fi
    log "removing etcd member $(describe "$i") keeps a healthy majority (${HEALTHY_VOTERS} of ${VOTERS} voters healthy now)"
}

# leader_is_not <id>: true once a healthy member reports a leader other than <id>.
leader_is_not() {
    load_members || return 1
    load_health
    load_leader
    [[ -n $LEADER_ID && $LEADER_ID != "$1" ]]
}

# move_leader_from <id>: hands leadership to a healthy voter (sent to the leader itself).
move_leader_from() {
    local i j successor=""
    i=$(find_member "$1") || return 1
    for j in "${!M_ID[@]}"; do
        if ((j != i)) && [[ ${M_HEALTHY[j]} == true && ${M_LEARNER[j]} != true ]]; then
            successor=$j
            break
        fi
    done
    [[ -n $successor ]] || return 1
    log "etcd member $(describe "$i") leads: moving leadership to $(describe "$successor")"
    ectl "${M_CLIENT[i]}" move-leader "${M_ID[successor]}" >&2 || true
    leader_is_not "${M_ID[i]}"
}

# remove_member <id> <endpoints>: one try of `member remove`; true once it is gone.
REMOVE_ERROR=""
remove_member() {
    if member_absent "$1"; then
        return 0
    fi
    if REMOVE_ERROR=$(ectl "$2" member remove "$1" 2>&1); then
        return 0
    fi
    REMOVE_ERROR=$(grep -v '"level":"warn"' <<<"$REMOVE_ERROR" | tail -n 1) || true
    log "member remove ${1}: ${REMOVE_ERROR}"
    return 1
}

member_absent() {
    load_members || return 1
    ! find_member "$1" >/dev/null
}

cmd_leave() {
    local target=$1 i verdict id who peers
    load_cluster
    log "members: $(summary)"
    if ! i=$(find_member "$target"); then
        log "etcd member ${target} is not a member (already removed): nothing to do"
        return 0
    fi
    who=$(describe "$i")
    id=${M_ID[i]}
    if ! verdict=$(removal_verdict "$i"); then
        refuse "$verdict"
    fi
    if [[ $id == "$LEADER_ID" ]]; then
        # wait_until re-reads the cluster on each try; keep the target's view for the move.
        wait_until "$LEADER_MOVE_TIMEOUT" "etcd leadership to move away from ${who}" move_leader_from "$id" ||
            fail "could not move etcd leadership away from ${who}; not removing it"
        load_health
        i=$(find_member "$id") || fail "etcd member ${who} vanished while leadership moved"
    fi
    peers=$(healthy_peers "$i")
    [[ -n $peers ]] || fail "no healthy peer to remove ${who} through"
    log "removing etcd member ${who} through ${peers}"
    # A new leader refuses reconfiguration ("unhealthy cluster") until it has heard from its
    # peers; each try re-checks the member list, so a removal that went through is not repeated.
    ETCD_ENDPOINTS=$peers wait_until "$REMOVE_TIMEOUT" "etcd to accept the removal of ${who}" remove_member "$id" "$peers" ||
        fail "etcdctl member remove ${id} (${who}) failed: ${REMOVE_ERROR:-no answer}"
    ETCD_ENDPOINTS=$peers wait_until "$REMOVE_TIMEOUT" "etcd member ${who} to leave the member list" member_absent "$id" ||
        fail "etcd member ${who} is still listed after member remove"
    log "etcd member ${who} left the cluster"
}

# add_member <peer-url> <endpoints> <member add args...>: one try; true once the peer URL is listed.
ADD_ERROR=""
add_member() {
    local peer=$1 endpoints=$2 i
    shift 2
    if load_members; then
        for i in "${!M_ID[@]}"; do
            [[ ${M_PEER[i]} == "$peer" ]] && return 0
        done
    fi
    if ADD_ERROR=$(ectl "$endpoints" member add "$@" 2>&1); then
        load_members || true
        return 0
    fi
    ADD_ERROR=$(grep -v '"level":"warn"' <<<"$ADD_ERROR" | tail -n 1) || true
    log "member add ${1}: ${ADD_ERROR}"
    return 1
}

# print_join_env <name> <peer-url>: what the new member needs (--initial-cluster & co.).
print_join_env() {
    local i cluster=""
    for i in "${!M_ID[@]}"; do
        if [[ -n ${M_NAME[i]} && ${M_PEER[i]} != "$2" ]]; then
            cluster+="${cluster:+,}${M_NAME[i]}=${M_PEER[i]}"
        fi
    done
    cluster+="${cluster:+,}$1=$2"
    printf 'ETCD_NAME="%s"\nETCD_INITIAL_CLUSTER="%s"\nETCD_INITIAL_ADVERTISE_PEER_URLS="%s"\nETCD_INITIAL_CLUSTER_STATE="existing"\n' \
        "$1" "$cluster" "$2"
}

cmd_add() {
    local name=$1 peer=$2 learner=$3 i pending need_after peers
    load_cluster
    log "members: $(summary)"
    for i in "${!M_ID[@]}"; do
        if [[ ${M_NAME[i]} == "$name" || ${M_PEER[i]} == "$peer" ]]; then
            if [[ ${M_PEER[i]} != "$peer" ]]; then
                refuse "etcd member ${name} exists with peer URL ${M_PEER[i]}, not ${peer}: remove it first (leave ${name})"
            fi
            log "etcd member $(describe "$i") with peer URL ${peer} is already added: nothing to do"
            print_join_env "$name" "$peer"
            return 0
        fi
    done
    if pending=$(in_flight_change); then
        refuse "cannot add ${name}: ${pending}; another membership change is in flight"
    fi
    if ((HEALTHY_VOTERS < VOTERS / 2 + 1)); then
        refuse "cannot add ${name}: only ${HEALTHY_VOTERS} of ${VOTERS} voters are healthy, the cluster has no quorum"
    fi
    need_after=$(((VOTERS + 1) / 2 + 1))
    if [[ $learner != true ]] && ((HEALTHY_VOTERS < need_after)); then
        if ((VOTERS == 1)); then
            # etcd allows it: the 2-member cluster waits for the new member to start.
            log "adding a second voter to a single-member cluster: writes stop until ${name} starts (add --learner avoids this)"
        else
            refuse "cannot add ${name}: with it ${HEALTHY_VOTERS} of $((VOTERS + 1)) voters would be healthy, a majority needs ${need_after}; add it as a learner or repair the cluster first"
        fi
    fi
    peers=$(healthy_peers -1)
    local -a flags=(--peer-urls="$peer")
    [[ $learner == true ]] && flags+=(--learner)
    log "adding etcd member ${name} (${peer}$([[ $learner == true ]] && echo ', learner')) through ${peers}"
    # etcd refuses ("unhealthy cluster") until every voter has been connected for 5 s, e.g.
    # right after the previous member started; each try first looks whether it went through.
    ETCD_ENDPOINTS=$peers wait_until "$ADD_TIMEOUT" "etcd to accept ${name} as a new member" add_member "$peer" "$peers" "$name" "${flags[@]}" ||
        fail "etcdctl member add ${name} failed: ${ADD_ERROR:-no answer}"
    print_join_env "$name" "$peer"
}

# member_ready <name> <promote>: one poll of wait-healthy; logs when the state changes.
LAST_STATE=""
member_ready() {
    local name=$1 promote=$2 i state
    if ! load_members; then
        state="no etcd endpoint answers"
    elif ! i=$(find_member "$name"); then
        state="${name} is not a member yet (or added but not started)"
    elif [[ ${M_STATUS[i]} != started ]]; then
        state="$(describe "$i") is ${M_STATUS[i]}"
    elif [[ ${M_LEARNER[i]} == true ]]; then
        state="$(describe "$i") is a learner, waiting for its promotion"
        if [[ $promote == true ]]; then
            # Refused by etcd until the learner caught up with the leader; then it is a voter.
            if ectl "$(healthy_or_all_peers "$i")" member promote "${M_ID[i]}" >/dev/null 2>&1; then
                state="$(describe "$i") promoted to voter"
            fi
        fi
    else
        load_health
        if [[ ${M_HEALTHY[i]} == true ]]; then
            log "etcd member $(describe "$i") is started, a voter and healthy"
            return 0
        fi
        state="$(describe "$i") is a voter but its endpoint ${M_CLIENT[i]:-?} is not healthy"
    fi
    if [[ $state != "$LAST_STATE" ]]; then
        log "$state"
        LAST_STATE=$state
    fi
    return 1
}

# healthy_or_all_peers <index>: client URLs of the other members (promote goes to a voter).
healthy_or_all_peers() {
    local i urls=""
    for i in "${!M_ID[@]}"; do
        if ((i != $1)) && [[ -n ${M_CLIENT[i]} && ${M_LEARNER[i]} != true ]]; then
            urls+="${urls:+,}${M_CLIENT[i]}"
        fi
    done
    echo "${urls:-$ETCD_ENDPOINTS}"
}

cmd_wait_healthy() {
    local name=$1 timeout=$2 promote=$3
    to_ms "$timeout" >/dev/null || fail "wait-healthy: timeout must be a number of seconds, got '${timeout}'"
    wait_until "$timeout" "etcd member ${name} to be started, a voter and healthy" member_ready "$name" "$promote" ||
        fail "etcd member ${name} is not healthy after ${timeout}s: ${LAST_STATE:-no answer}"
}

# cmd_is_member <name|id>: exit 0 when listed, EXIT_NOT_MEMBER when not, 1 when nobody answers.
cmd_is_member() {
    load_members || fail "no etcd endpoint answers 'member list' (tried ${ETCD_ENDPOINTS})"
    if find_member "$1" >/dev/null; then
        log "etcd member $1 is listed"
        return 0
    fi
    log "$1 is not an etcd member"
    exit "$EXIT_NOT_MEMBER"
}

# ---------------------------------------------------------------------------------------------
# recover: quorum lost, rebuild from the surviving member (etcd's disaster recovery guide:
# --force-new-cluster keeps the member's data and drops every other member)
# ---------------------------------------------------------------------------------------------

RECOVER_BACKUP=""

# local_single_member <name>: the local member answers, lists only itself and is healthy.
local_single_member() {
    local output
    output=$(ectl "$ETCD_LOCAL_ENDPOINT" member list 2>/dev/null) || return 1
    [[ $(grep -c . <<<"$output") == 1 && $output == *", $1, "* ]] || return 1
    ectl "$ETCD_LOCAL_ENDPOINT" endpoint health >/dev/null 2>&1
}

manifest_has_force_flag() {
    grep -q -- '--force-new-cluster' "${MANIFESTS_DIR}/etcd.yaml"
}

# put_back_manifest: the manifest as it was (kubelet restarts etcd without the flag).
put_back_manifest() {
    if [[ -n $RECOVER_BACKUP && -f $RECOVER_BACKUP ]]; then
        cp -f "$RECOVER_BACKUP" "${MANIFESTS_DIR}/.etcd.yaml.recover" &&
            mv -f "${MANIFESTS_DIR}/.etcd.yaml.recover" "${MANIFESTS_DIR}/etcd.yaml"
    fi
}

cmd_recover() {
    local name=$1 confirmed=$2 manifest="${MANIFESTS_DIR}/etcd.yaml" own lost="" i
    [[ -f $manifest ]] || fail "recover runs on the surviving control-plane node: ${manifest} is missing here"
    own=$(sed -n 's/^[[:space:]]*-[[:space:]]*--name=\(.*\)$/\1/p' "$manifest" | head -n 1 | tr -d "\"'")
    [[ $own == "$name" ]] || refuse "this node's etcd member is '${own}', not '${name}': run recover on the node of ${name}"
    if load_members; then
        load_health
        if ((HEALTHY_VOTERS >= VOTERS / 2 + 1)); then
            refuse "the cluster has quorum (${HEALTHY_VOTERS} of ${VOTERS} voters healthy): nothing to recover; remove dead members with leave"
        fi
        for i in "${!M_ID[@]}"; do
            [[ ${M_NAME[i]} == "$name" ]] || lost+="${lost:+, }$(describe "$i")"
        done
    fi
    if [[ $confirmed != true ]]; then
        refuse "recover makes ${name} a one-member cluster and drops every other member (${lost:-unknown}). Run it only when those members are gone for good (their instances terminated or never coming back), never while they may still run apart from this node; then: etcd-membership.sh recover ${name} --confirm"
    fi
    log "recovering etcd from ${name}: dropping ${lost:-the other members}"
    mkdir -p "$STATE_DIR"
    RECOVER_BACKUP="${STATE_DIR}/etcd.yaml.before-recover"
    # Outside the manifest folder: the kubelet runs every file in it.
    cp -f "$manifest" "$RECOVER_BACKUP"
    trap 'put_back_manifest; fail "recover stopped at line ${LINENO}; the etcd manifest is as it was"' ERR
    awk '{ print } /^[[:space:]]*-[[:space:]]*etcd[[:space:]]*$/ && !done { sub(/etcd[[:space:]]*$/, "--force-new-cluster"); print; done = 1 }' \
        "$RECOVER_BACKUP" >"${MANIFESTS_DIR}/.etcd.yaml.recover"
    mv -f "${MANIFESTS_DIR}/.etcd.yaml.recover" "$manifest"
    manifest_has_force_flag || { put_back_manifest; fail "could not add --force-new-cluster to ${manifest} (no '- etcd' command line)"; }
    log "step 1/2: the kubelet restarts etcd with --force-new-cluster"
    if ! wait_until "$RECOVER_TIMEOUT" "etcd member ${name} to run alone" local_single_member "$name"; then
        put_back_manifest
        fail "etcd member ${name} did not come back as a one-member cluster within ${RECOVER_TIMEOUT}s; the manifest is as it was"
    fi
    log "step 2/2: the kubelet restarts etcd without the flag (a later restart must not drop members again)"
    put_back_manifest
    # The flag acts only when etcd starts: from here on every (re)start reads the manifest
    # without it, and the member keeps its one-member cluster.
    wait_until "$RECOVER_TIMEOUT" "etcd member ${name} to answer again" local_single_member "$name" ||
        fail "etcd member ${name} does not answer after its restart without --force-new-cluster"
    trap - ERR
    log "etcd runs as a one-member cluster on ${name}. Next: pulumi up replaces or re-joins the lost control-plane nodes (a lost node whose instance still exists: pulumi up --replace <its instance URN>)"
}

usage() {
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 1
}

main() {
    trap 'fail "unexpected error at line ${LINENO}"' ERR
    need_seconds POLL_INTERVAL LEADER_MOVE_TIMEOUT REMOVE_TIMEOUT ADD_TIMEOUT RECOVER_TIMEOUT
    local command=${1:-}
    shift || true
    case $command in
        status)
            (($# == 0)) || usage
            cmd_status true || exit 1
            ;;
        list)
            (($# == 0)) || usage
            cmd_status false
            ;;
        wait-healthy)
            [[ $# == 2 || ($# == 3 && $3 == --promote) ]] || usage
            cmd_wait_healthy "$1" "$2" "$([[ ${3:-} == --promote ]] && echo true || echo false)"
            ;;
        safe-to-remove)
            (($# == 1)) || usage
            cmd_safe_to_remove "$1"
            ;;
        leave)
            (($# == 1)) || usage
            cmd_leave "$1"
            ;;
        add)
            [[ $# == 2 || ($# == 3 && $3 == --learner) ]] || usage
            [[ $2 =~ ^https?:// ]] || fail "add: peer URL must start with http:// or https://, got '$2'"
            cmd_add "$1" "$2" "$([[ ${3:-} == --learner ]] && echo true || echo false)"
            ;;
        is-member)
            (($# == 1)) || usage
            cmd_is_member "$1"
            ;;
        recover)
            [[ $# == 1 || ($# == 2 && $2 == --confirm) ]] || usage
            cmd_recover "$1" "$([[ ${2:-} == --confirm ]] && echo true || echo false)"
            ;;
        *) usage ;;
    esac
}

main "$@"
