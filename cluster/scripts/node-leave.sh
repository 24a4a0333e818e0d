#!/usr/bin/env bash
# node-leave.sh - takes a control-plane node out of the cluster before its instance is deleted.
# Runs on the leaving node itself (the `delete` of its `<node>-bootstrap` Command, through the
# bastion, as root), one node at a time because the Commands form a dependency chain:
#   1. cordon and drain it (drain-node.sh's drain_node when sent along or installed, else
#      kubectl drain with a timeout)
#   2. stop its kube-apiserver, so the API load balancer stops routing to it
#   3. remove its etcd member through a healthy peer: `etcd-membership.sh leave <node>`
#      (moves leadership away first; refused with exit 3 when it would break quorum)
#   4. stop its kubelet and delete its Node object
# A refusal or failure leaves the node serving (API server back, uncordoned) and exits non-zero,
# so `pulumi up` fails on this step with the reason and the next `up` retries it.
# The last control-plane node (only `pulumi destroy` gets there) has nobody to hand over to:
# it is left as it is.
#
# Environment
#   NODE_NAME         the leaving node (= its etcd member name)                       (required)
#   DRAIN_TIMEOUT     seconds for the drain (default 600)
#   API_STOP_TIMEOUT  seconds for the local API server to stop answering (default 120)
#   SCRIPTS_DIR       where drain-node.sh / etcd-membership.sh are installed
#                     (default /usr/local/lib/zadara-eksd)
#   DRAIN_NODE        drain command (default $SCRIPTS_DIR/drain-node.sh; kubectl drain when absent)
#   ETCD_MEMBERSHIP   membership command (default $SCRIPTS_DIR/etcd-membership.sh)
#   ADMIN_KUBECONFIG  default $KUBERNETES_ETC/admin.conf (its server is the load balancer)
#   LOCAL_API_URL     default https://127.0.0.1:6443
# Exit status: 0 left (or nothing to do), 1 error, 3 etcd refused the removal, 4 drain timed out.

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-node-leave.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_NAME="${NODE_NAME:-}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-600}"
API_STOP_TIMEOUT="${API_STOP_TIMEOUT:-120}"
SCRIPTS_DIR="${SCRIPTS_DIR:-/usr/local/lib/zadara-eksd}"
ADMIN_KUBECONFIG="${ADMIN_KUBECONFIG:-${KUBERNETES_ETC}/admin.conf}"
LOCAL_API_URL="${LOCAL_API_URL:-https://127.0.0.1:6443}"
DRAIN_NODE="${DRAIN_NODE:-${SCRIPTS_DIR}/drain-node.sh}"
ETCD_MEMBERSHIP="${ETCD_MEMBERSHIP:-${SCRIPTS_DIR}/etcd-membership.sh}"
PARKED_DIR="${ZADARA_ETC}/left-manifests"
POLL_INTERVAL="${POLL_INTERVAL:-2}"

kube() {
    kubectl --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=30s "$@"
}

local_api_stopped() {
    ! curl -sk -o /dev/null --max-time 3 "${LOCAL_API_URL}/livez"
}

# Puts the API server back and uncordons: the node keeps serving after a refused leave.
restore_node() {
    if [[ -f "${PARKED_DIR}/kube-apiserver.yaml" ]]; then
        mv "${PARKED_DIR}/kube-apiserver.yaml" "${MANIFESTS_DIR}/kube-apiserver.yaml" || true
        log "restored ${MANIFESTS_DIR}/kube-apiserver.yaml"
    fi
    kube uncordon "$NODE_NAME" >/dev/null 2>&1 || true
}

control_plane_node_count() {
    kube get nodes -l node-role.kubernetes.io/control-plane -o name | grep -c . || true
}

drain() {
    local rc=0
    if declare -F drain_node >/dev/null; then
        # Sent together with drain-node.sh: its bounded drain that names the blocking pods.
        drain_node "$NODE_NAME" "$DRAIN_TIMEOUT" || rc=$?
    elif command -v "$DRAIN_NODE" >/dev/null 2>&1; then
        KUBECONFIG="$ADMIN_KUBECONFIG" "$DRAIN_NODE" "$NODE_NAME" "$DRAIN_TIMEOUT" || rc=$?
    else
        kube cordon "$NODE_NAME" || return 1
        kube drain "$NODE_NAME" --ignore-daemonsets --delete-emptydir-data --timeout="${DRAIN_TIMEOUT}s" || rc=4
    fi
    return "$rc"
}

delete_node_object() {
    kube delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null
}

main() {
    [[ -n $NODE_NAME ]] || fail "NODE_NAME is not set"
    need_seconds DRAIN_TIMEOUT API_STOP_TIMEOUT
    local rc=0 count

    if ! kube get node "$NODE_NAME" -o name >/dev/null 2>&1; then
        log "node ${NODE_NAME} is not registered (never joined, or already deleted): removing its etcd member if any"
    else
        count=$(control_plane_node_count)
        if ((count <= 1)); then
            log "${NODE_NAME} is the last control-plane node: nothing can take over, leaving it as it is (cluster destroy)"
            return 0
        fi
        log "step 1/4: cordon and drain ${NODE_NAME} (timeout ${DRAIN_TIMEOUT}s)"
        drain || rc=$?
        if ((rc != 0)); then
            restore_node
            log "FAILED: drain of ${NODE_NAME} did not finish (exit ${rc}); the node is uncordoned and keeps serving. Fix what blocks the eviction (PodDisruptionBudgets above), then run pulumi up again"
            exit 4
        fi
    fi

    log "step 2/4: stop the kube-apiserver of ${NODE_NAME} (the load balancer stops routing to it)"
    mkdir -p "$PARKED_DIR"
    if [[ -f "${MANIFESTS_DIR}/kube-apiserver.yaml" ]]; then
        mv "${MANIFESTS_DIR}/kube-apiserver.yaml" "${PARKED_DIR}/kube-apiserver.yaml"
    fi
    wait_until "$API_STOP_TIMEOUT" "the local kube-apiserver to stop" local_api_stopped ||
        log "the local kube-apiserver still answers; continuing (the load balancer health check removes it)"

    log "step 3/4: remove the etcd member ${NODE_NAME}"
    rc=0
    "$ETCD_MEMBERSHIP" leave "$NODE_NAME" || rc=$?
    if ((rc == 3)); then
        restore_node
        log "FAILED: etcd refused to remove ${NODE_NAME} (see above): removing it would break quorum. The node keeps serving; restore the unhealthy members, then run pulumi up again"
        exit 3
    elif ((rc != 0)); then
        restore_node
        fail "${ETCD_MEMBERSHIP} leave ${NODE_NAME} failed (exit ${rc}); the node keeps serving"
    fi

    log "step 4/4: stop the kubelet and delete the Node object ${NODE_NAME}"
    systemctl stop kubelet || log "could not stop the kubelet; continuing"
    wait_until 120 "the Node object ${NODE_NAME} to be deleted" delete_node_object ||
        fail "could not delete the Node object ${NODE_NAME} through the load balancer"
    log "${NODE_NAME} left the cluster"
}

main "$@" </dev/null
