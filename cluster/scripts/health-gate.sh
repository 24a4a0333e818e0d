#!/usr/bin/env bash
# health-gate.sh - validates the whole cluster the way `kops validate cluster` does, and waits
# (bounded) until it is healthy:
#   - every node is Ready;
#   - every control-plane node runs its static pods (etcd, kube-apiserver,
#     kube-controller-manager, kube-scheduler);
#   - every pod of HEALTH_NAMESPACES (kube-system and the add-ons' namespaces) is Running with all
#     containers ready (Succeeded pods, and failed pods of Jobs, are ignored);
#   - the etcd members are healthy: `etcd-membership.sh status` when it is installed on this
#     node, else through the etcd static pods above;
#   - every admission webhook answers: each service that a Validating/MutatingWebhookConfiguration
#     calls has at least one ready endpoint (a webhook without endpoints fails every request
#     it intercepts).
# On timeout it exits 1 and prints a table of everything unhealthy, not just "timeout".
#
# Runs as root on a control-plane node (kubectl with /etc/kubernetes/admin.conf), sent on stdin
# by the program at the end of `pulumi up`, or by hand next to lib.sh.
#
# Environment
#   HEALTH_TIMEOUT     seconds to wait for a healthy cluster (default 600)
#   POLL_INTERVAL      seconds between two checks (default 5)
#   HEALTH_NAMESPACES  namespaces whose pods must all run (kube-system is always among them)
#   ETCD_MEMBERSHIP    etcd membership script (default /usr/local/lib/zadara-eksd/etcd-membership.sh)
# Exit: 0 healthy; 1 unhealthy at the timeout (table printed); 2 bad settings.

set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONTROL_PLANE_STATIC_PODS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

# "kind|object|problem" lines of the last check, and a one-line summary of what was healthy.
HEALTH_PROBLEMS=""
HEALTH_SUMMARY=""
HEALTH_LAST_COUNT=-1

health_problem() {
    HEALTH_PROBLEMS+="$1|$2|$3"$'\n'
}

health_check_nodes() {
    local table name ready reason count=0 ready_count=0
    if ! table=$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.status.conditions[?(@.type=="Ready")].status}{"|"}{.status.conditions[?(@.type=="Ready")].reason}{"\n"}{end}' 2>&1); then
        health_problem api kube-apiserver "cannot list nodes: ${table//$'\n'/ }"
        return 1
    fi
    while IFS='|' read -r name ready reason; do
        if [[ -z $name ]]; then
            continue
        fi
        count=$((count + 1))
        if [[ $ready == True ]]; then
            ready_count=$((ready_count + 1))
        else
            health_problem node "$name" "Ready=${ready:-Unknown}${reason:+ (${reason})}"
        fi
    done <<<"$table"
    if ((count == 0)); then
        health_problem node "-" "no node is registered"
    fi
    HEALTH_SUMMARY+="${ready_count}/${count} nodes Ready"
}

# health_check_pods <namespace>: also records the pod names for the static-pod check.
health_check_pods() {
    local namespace=$1 table name phase ready reasons owner
    if ! table=$(kubectl_admin get pods -n "$namespace" -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.status.phase}{"|"}{.status.containerStatuses[*].ready}{"|"}{.status.containerStatuses[*].state.waiting.reason}{"|"}{.metadata.ownerReferences[0].kind}{"\n"}{end}' 2>&1); then
        health_problem pods "$namespace" "cannot list pods: ${table//$'\n'/ }"
        return 0
    fi
    HEALTH_POD_NAMES+=" "
    while IFS='|' read -r name phase ready reasons owner; do
        if [[ -z $name ]]; then
            continue
        fi
        HEALTH_POD_NAMES+="${namespace}/${name} "
        HEALTH_POD_COUNT=$((HEALTH_POD_COUNT + 1))
        case $phase in
            Succeeded) continue ;;
            Failed)
                # A Job retries or reports its own failure; its finished pods are history.
                if [[ $owner == Job ]]; then
                    continue
                fi
                ;;
            Running)
                if [[ -n $ready && " ${ready} " != *" false "* ]]; then
                    continue
                fi
                ;;
        esac
        health_problem pod "${namespace}/${name}" "${phase:-Unknown}${ready:+, containers ready: ${ready}}${reasons:+, waiting: ${reasons}}"
    done <<<"$table"
}

health_check_static_pods() {
    local nodes node component
    nodes=$(kubectl_admin get nodes -l node-role.kubernetes.io/control-plane -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' 2>/dev/null) || return 0
    if [[ -z ${nodes//[[:space:]]/} ]]; then
        health_problem control-plane "-" "no node has the label node-role.kubernetes.io/control-plane"
        return 0
    fi
    while IFS= read -r node; do
        if [[ -z $node ]]; then
            continue
        fi
        for component in "${CONTROL_PLANE_STATIC_PODS[@]}"; do
            if [[ $HEALTH_POD_NAMES != *" kube-system/${component}-${node} "* ]]; then
                health_problem static-pod "kube-system/${component}-${node}" "missing on control-plane node ${node}"
            fi
        done
    done <<<"$nodes"
}

health_check_etcd() {
    local output status=0
    if [[ ! -f $ETCD_MEMBERSHIP ]]; then
        HEALTH_SUMMARY+=", etcd via its static pods"
        return 0
    fi
    output=$(bash "$ETCD_MEMBERSHIP" status 2>&1 </dev/null) || status=$?
    if ((status != 0)); then
        health_problem etcd members "etcd-membership.sh status exited ${status}: $(printf '%s\n' "$output" | tail -n 3 | tr '\n' ' ')"
    else
        HEALTH_SUMMARY+=", etcd members healthy"
    fi
}

# health_service_ready <namespace/name>: at least one endpoint not marked unready (an unset
# `ready` condition means ready).
health_service_ready() {
    local namespace=${1%%/*} name=${1#*/} endpoints
    endpoints=$(kubectl_admin get endpointslices -n "$namespace" -l "kubernetes.io/service-name=${name}" \
        -o jsonpath='{range .items[*]}{range .endpoints[*]}{"e:"}{.conditions.ready}{"\n"}{end}{end}' 2>/dev/null) || return 1
    grep -qx -e 'e:' -e 'e:true' <<<"$endpoints"
}

health_check_webhooks() {
    local kind table config services service count=0
    local -A checked=()
    for kind in validatingwebhookconfigurations mutatingwebhookconfigurations; do
        if ! table=$(kubectl_admin get "$kind" -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{range .webhooks[*]}{.clientConfig.service.namespace}{"/"}{.clientConfig.service.name}{" "}{end}{"\n"}{end}' 2>&1); then
            health_problem webhook "$kind" "cannot list: ${table//$'\n'/ }"
            continue
        fi
        while IFS='|' read -r config services; do
            for service in $services; do
                # Webhooks called by URL have no service ("/").
                if [[ $service == / || -n ${checked[$service]:-} ]]; then
                    continue
                fi
                count=$((count + 1))
                checked[$service]=ok
                if ! health_service_ready "$service"; then
                    checked[$service]=bad
                    health_problem webhook "${kind%%webhookconfigurations}/${config}" "service ${service} has no ready endpoint: requests it intercepts fail"
                fi
            done
        done <<<"$table"
    done
    HEALTH_SUMMARY+=", ${count} webhook service(s) checked"
}

# health_check: 0 when nothing is unhealthy; logs the problem count whenever it changes.
health_check() {
    HEALTH_PROBLEMS=""
    HEALTH_SUMMARY=""
    HEALTH_POD_NAMES=""
    HEALTH_POD_COUNT=0
    local namespace count
    if health_check_nodes; then
        for namespace in $HEALTH_NAMESPACES; do
            health_check_pods "$namespace"
        done
        HEALTH_SUMMARY+=", ${HEALTH_POD_COUNT} pods in ${HEALTH_NAMESPACES}"
        health_check_static_pods
        health_check_etcd
        health_check_webhooks
    fi
    count=$(printf '%s' "$HEALTH_PROBLEMS" | grep -c . || true)
    if ((count != HEALTH_LAST_COUNT)); then
        if ((count > 0)); then
            log "${count} problem(s), e.g. $(printf '%s' "$HEALTH_PROBLEMS" | head -n 1 | tr '|' ' ')"
        fi
        HEALTH_LAST_COUNT=$count
    fi
    ((count == 0))
}

health_print_table() {
    local kind object problem
    {
        printf '%-14s %-60s %s\n' KIND OBJECT PROBLEM
        while IFS='|' read -r kind object problem; do
            if [[ -n $kind ]]; then
                printf '%-14s %-60s %s\n' "$kind" "$object" "$problem"
            fi
        done <<<"$HEALTH_PROBLEMS"
    } | tee -a "$LOG_FILE" >&2 2>/dev/null || true
}

health_main() {
    trap 'fail "unexpected error at line ${LINENO}"' ERR
    init_logging
    : "${HEALTH_TIMEOUT:=600}" "${POLL_INTERVAL:=5}" "${HEALTH_NAMESPACES:=kube-system}"
    : "${ETCD_MEMBERSHIP:=/usr/local/lib/zadara-eksd/etcd-membership.sh}"
    # The static pods live in kube-system: it is always checked.
    if [[ " ${HEALTH_NAMESPACES} " != *" kube-system "* ]]; then
        HEALTH_NAMESPACES="kube-system ${HEALTH_NAMESPACES}"
    fi
    if ! to_ms "$HEALTH_TIMEOUT" >/dev/null || ! to_ms "$POLL_INTERVAL" >/dev/null; then
        log "FAILED: HEALTH_TIMEOUT and POLL_INTERVAL must be numbers of seconds"
        exit 2
    fi
    if wait_until "$HEALTH_TIMEOUT" "a healthy cluster (nodes, control plane, ${HEALTH_NAMESPACES} pods, etcd, webhooks)" health_check; then
        log "cluster healthy: ${HEALTH_SUMMARY}"
        printf 'healthy: %s\n' "$HEALTH_SUMMARY"
        return 0
    fi
    log "FAILED: the cluster is not healthy after ${HEALTH_TIMEOUT}s; what is unhealthy:"
    health_print_table
    exit 1
}

health_main "$@"
