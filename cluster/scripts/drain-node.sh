#!/usr/bin/env bash
# drain-node.sh - cordons and drains one node before it is replaced; when the drain cannot finish
# in time it names the pods (and disruption budgets) that blocked it and uncordons the node, so
# the cluster keeps serving with it.
#
# Usage: drain-node.sh <node> <timeout-seconds>
#
# Runs as root on a control-plane node (kubectl with /etc/kubernetes/admin.conf), by hand or as
# part of roll-node-group.sh (which calls `drain_node`). Evictions go through the Eviction API,
# so PodDisruptionBudgets are honoured: a pod whose budget allows no disruption now is retried
# by kubectl until the timeout. DaemonSet pods stay (they run on every node anyway); emptyDir
# data is deleted with its pod. On a node that is not Ready, pods whose deletion started more
# than 60 s ago are not waited for (their kubelet is gone and cannot confirm it).
#
# Environment: POLL_INTERVAL (seconds, default 2), PROGRESS_INTERVAL (lib.sh), KUBERNETES_ETC,
# LOG_FILE (lib.sh).
# Exit: 0 drained; 4 not drained in time (node uncordoned, blockers printed); 2 usage; 1 error.

set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DRAIN_BLOCKED_EXIT=4
# Pods kubectl does not wait for on a node that is not Ready (seconds after their deletion).
DRAIN_SKIP_WAIT_ON_NOT_READY=60
# What blocked the last drain_node call: "namespace/name" list (set for the caller's message).
DRAIN_BLOCKING_PODS=""

# drain_node_pods <node>: "namespace/name|owner kind|phase" of every pod bound to the node.
drain_node_pods() {
    kubectl_admin get pods --all-namespaces --field-selector "spec.nodeName=$1" \
        -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"|"}{.metadata.ownerReferences[0].kind}{"|"}{.status.phase}{"\n"}{end}'
}

# drain_blocking_pods <node>: pods still on the node that the drain had to evict: not DaemonSet
# pods, not static pods (their mirror pods are owned by the Node), not finished ones.
drain_blocking_pods() {
    drain_node_pods "$1" | awk -F'|' 'NF >= 3 && $2 != "DaemonSet" && $2 != "Node" && $3 != "Succeeded" && $3 != "Failed" { print $1 }'
}

# drain_zero_budgets <namespaces...>: PodDisruptionBudgets of those namespaces that allow no
# disruption right now, as namespace/name.
drain_zero_budgets() {
    local wanted=" $* "
    kubectl_admin get poddisruptionbudgets --all-namespaces \
        -o jsonpath='{range .items[*]}{.metadata.namespace}{"|"}{.metadata.name}{"|"}{.status.disruptionsAllowed}{"\n"}{end}' |
        while IFS='|' read -r namespace name allowed; do
            if [[ $wanted == *" ${namespace} "* && ${allowed:-0} == 0 ]]; then
                printf '%s/%s\n' "$namespace" "$name"
            fi
        done
}

drain_node_is_ready() {
    [[ $(kubectl_admin get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

drain_process_finished() {
    ! kill -0 "$1" 2>/dev/null
}

# drain_report_blocked <node> <timeout_s>: logs the blockers, uncordons, sets DRAIN_BLOCKING_PODS.
drain_report_blocked() {
    local node=$1 timeout_s=$2 pods budgets namespaces
    pods=$(drain_blocking_pods "$node" 2>/dev/null) || pods="(could not list the pods of ${node})"
    DRAIN_BLOCKING_PODS=$(printf '%s' "$pods" | tr '\n' ' ' | sed 's/ *$//')
    log "node ${node} was NOT drained within ${timeout_s}s; pods still on it that block the drain:"
    if [[ -z $pods ]]; then
        log "  (none left: the drain failed for another reason, see the kubectl output above)"
    fi
    local pod
    while IFS= read -r pod; do
        if [[ -n $pod ]]; then
            log "  ${pod}"
        fi
    done <<<"$pods"
    namespaces=$(printf '%s\n' "$pods" | sed -n 's|/.*||p' | sort -u | tr '\n' ' ')
    if [[ -n ${namespaces// /} ]]; then
        # shellcheck disable=SC2086 # one namespace per word
        budgets=$(drain_zero_budgets $namespaces 2>/dev/null | tr '\n' ' ') || budgets=""
        if [[ -n ${budgets// /} ]]; then
            log "PodDisruptionBudgets that allow no disruption now: ${budgets}"
        fi
    fi
    log "uncordoning ${node}: it keeps serving until the blockers are resolved"
    if ! kubectl_admin uncordon "$node" >&2; then
        log "could not uncordon ${node}: run kubectl uncordon ${node}"
    fi
}

# drain_node <node> <timeout_s>: 0 drained (node stays cordoned), 4 blocked (node uncordoned).
drain_node() {
    local node=$1 timeout_s=$2 output pid status=0
    local -a extra=()
    DRAIN_BLOCKING_PODS=""
    log "cordoning node ${node}"
    kubectl_admin cordon "$node" >&2
    if ! drain_node_is_ready "$node"; then
        log "node ${node} is not Ready: pods deleted more than ${DRAIN_SKIP_WAIT_ON_NOT_READY}s ago are not waited for"
        extra=(--skip-wait-for-delete-timeout="${DRAIN_SKIP_WAIT_ON_NOT_READY}")
    fi
    output=$(mktemp)
    # In the background, so the wait below prints progress lines while evictions retry.
    kubectl --kubeconfig "${KUBERNETES_ETC}/admin.conf" drain "$node" --ignore-daemonsets --delete-emptydir-data \
        --timeout="${timeout_s}s" "${extra[@]}" >"$output" 2>&1 </dev/null &
    pid=$!
    # A node with nothing to evict drains in a moment: look again after short pauses first, so
    # such a drain does not cost a whole POLL_INTERVAL (every control-plane leave drains).
    local quick
    for quick in 0.05 0.1 0.2 0.4; do
        drain_process_finished "$pid" && break
        pause "$quick"
    done
    # kubectl stops itself at the timeout; the margin only catches a hung client.
    if ! wait_until "$((timeout_s + 30))" "drain of node ${node} (evictions honour PodDisruptionBudgets)" drain_process_finished "$pid"; then
        kill "$pid" 2>/dev/null || true
    fi
    wait "$pid" || status=$?
    tail -n 20 "$output" | sed 's/^/  | /' >&2 || true
    rm -f "$output"
    if ((status == 0)); then
        log "drained node ${node}"
        return 0
    fi
    drain_report_blocked "$node" "$timeout_s"
    return "$DRAIN_BLOCKED_EXIT"
}

drain_node_main() {
    # Sourced by roll-node-group.sh for its functions only.
    if [[ ${DRAIN_NODE_AS_LIBRARY:-} == true ]]; then
        return 0
    fi
    trap 'fail "unexpected error at line ${LINENO}"' ERR
    init_logging
    : "${POLL_INTERVAL:=2}"
    need_seconds POLL_INTERVAL
    if [[ $# -ne 2 || -z $1 || ! $2 =~ ^[0-9]+$ ]]; then
        log "usage: drain-node.sh <node> <timeout-seconds>"
        exit 2
    fi
    local status=0
    drain_node "$1" "$2" || status=$?
    if ((status == DRAIN_BLOCKED_EXIT)); then
        log "FAILED: drain of node $1 blocked by: ${DRAIN_BLOCKING_PODS:-unknown}"
    fi
    exit "$status"
}

drain_node_main "$@"
