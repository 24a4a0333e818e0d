#!/usr/bin/env bash
# node-leave.sh - takes a control-plane node out of the cluster before its instance is deleted.
# Runs on the leaving node itself, through the bastion, as root: as the `create` of a replaced
# node's `<node>-retire-replaced` Command (right after its successor passed its gate) and as the
# `delete` of its `<node>-bootstrap` Command (a removed node, or a replaced one that is still in
# the cluster). The Commands form one dependency chain, so one node leaves at a time:
#   1. cordon and drain it (drain-node.sh's drain_node when sent along or installed, else
#      kubectl drain with a timeout)
#   2. stop its kube-apiserver, so the API load balancer stops routing to it
#   3. remove its etcd member through a healthy peer: `etcd-membership.sh leave <node>`
#      (moves leadership away first; refused with exit 3 when it would break quorum)
#   4. lift its instance's termination protection (lib.sh), stop its kubelet, delete its Node
#      object and the pods bound to it
# The node's Kubernetes name (= its etcd member name) is its host name (k8s_node_name), never
# the instance's Name tag: old and new instances of one slot share the tag.
# A refusal or failure leaves the node serving (API server back, uncordoned) and exits non-zero,
# so `pulumi up` fails on this step with the reason and the next `up` retries it. Once its etcd
# member is gone (marker $STATE_DIR/left-etcd) the node never serves again: its cron jobs and
# membership tool are disabled and a re-run only finishes step 4. A node that left completely
# (marker $STATE_DIR/left-cluster) has nothing to do. The last control-plane node
# (only `pulumi destroy` gets there) has nobody to hand over to: it is left as it is.
# etcd is reached through every member (the local one, the client URLs the API lists for the
# etcd static pods, those cached on the node): a leave cut after its member removal can be
# re-run, and a node whose own etcd is down can leave. Its API server is put back only while its
# member is still listed.
#
# Environment
#   SLOT_NAME            the program's name of the node, e.g. dev-master-sa-2 (messages only)
#   EXPECTED_INSTANCE_ID when set, the instance this must run on: on any other instance (the
#                        address was reused) nothing is done
#   K8S_NODE_NAME        the Node / etcd member name (default: k8s_node_name, the host name)
#   DRAIN_TIMEOUT        seconds for the drain (default 600)
#   API_STOP_TIMEOUT     seconds for the local API server to stop answering (default 120)
#   SCRIPTS_DIR          where drain-node.sh / etcd-membership.sh are installed
#                        (default /usr/local/lib/zadara-eksd)
#   DRAIN_NODE           drain command (default $SCRIPTS_DIR/drain-node.sh; kubectl drain when absent)
#   ETCD_MEMBERSHIP      membership command (default $SCRIPTS_DIR/etcd-membership.sh)
#   ADMIN_KUBECONFIG     default $KUBERNETES_ETC/admin.conf (its server is the load balancer)
#   LOCAL_API_URL        default https://127.0.0.1:6443
#   STATE_DIR, CRON_FILE the markers' directory and the maintenance cron file (lib.sh defaults)
# Exit status: 0 left (or nothing to do), 1 error, 3 etcd refused the removal, 4 drain timed out.

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-node-leave.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLOT_NAME="${SLOT_NAME:-}"
EXPECTED_INSTANCE_ID="${EXPECTED_INSTANCE_ID:-}"
NODE_NAME=""
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-600}"
API_STOP_TIMEOUT="${API_STOP_TIMEOUT:-120}"
SCRIPTS_DIR="${SCRIPTS_DIR:-/usr/local/lib/zadara-eksd}"
ADMIN_KUBECONFIG="${ADMIN_KUBECONFIG:-${KUBERNETES_ETC}/admin.conf}"
LOCAL_API_URL="${LOCAL_API_URL:-https://127.0.0.1:6443}"
DRAIN_NODE="${DRAIN_NODE:-${SCRIPTS_DIR}/drain-node.sh}"
ETCD_MEMBERSHIP="${ETCD_MEMBERSHIP:-${SCRIPTS_DIR}/etcd-membership.sh}"
PARKED_DIR="${ZADARA_ETC}/left-manifests"
LEFT_MARKER="${STATE_DIR}/left-cluster"
LEFT_ETCD_MARKER="${STATE_DIR}/left-etcd"
POLL_INTERVAL="${POLL_INTERVAL:-2}"

kube() {
    kubectl --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=30s "$@"
}

local_api_stopped() {
    ! curl -sk -o /dev/null --max-time 3 "${LOCAL_API_URL}/livez"
}

# etcd_membership <args...>: the membership tool, also told the members' client URLs the API
# knows (a leave re-run after its member removal, or with the local etcd down, has no local
# member to ask).
etcd_membership() {
    ETCD_EXTRA_ENDPOINTS="${ETCD_EXTRA_ENDPOINTS:-${API_ETCD_ENDPOINTS}}" "$ETCD_MEMBERSHIP" "$@"
}

# The client URLs kubeadm annotates its etcd static pods with (kubeadm constants:
# EtcdAdvertiseClientUrlsAnnotationKey), through the load balancer; best effort.
API_ETCD_ENDPOINTS=""
discover_etcd_endpoints() {
    local urls
    urls=$(kube get pods -n kube-system -l component=etcd,tier=control-plane \
        -o jsonpath='{range .items[*]}{.metadata.annotations.kubeadm\.kubernetes\.io/etcd\.advertise-client-urls}{","}{end}' 2>/dev/null) || urls=""
    API_ETCD_ENDPOINTS=$(tr ',' '\n' <<<"$urls" | grep -E '^https?://' | sort -u | paste -sd, -) || API_ETCD_ENDPOINTS=""
}

# membership_state: "member", "gone" (not listed) or "unknown" (nobody answers).
membership_state() {
    local rc=0
    etcd_membership is-member "$NODE_NAME" >/dev/null 2>&1 </dev/null || rc=$?
    case $rc in
        0) echo member ;;
        4) echo gone ;;
        *) echo unknown ;;
    esac
}

# Puts the API server back and uncordons: the node keeps serving after a refused leave. Never
# on a node whose etcd member is gone (a leave cut after the removal) or cannot be confirmed:
# its API server would serve from a member that is no longer in the cluster.
restore_node() {
    if [[ -f "${PARKED_DIR}/kube-apiserver.yaml" ]]; then
        local state
        state=$(membership_state)
        if [[ $state != member ]]; then
            log "not restoring the kube-apiserver of ${NODE_NAME}: its etcd membership is ${state}"
            return 0
        fi
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

# The kubelet is stopped: nothing deletes the node's mirror pods (kube-apiserver, etcd, ...) but
# the pod garbage collector, later. Deleting them now keeps the old API server's version out of
# the worker roll's skew check.
delete_bound_pods() {
    kube delete pods --all-namespaces --field-selector "spec.nodeName=${NODE_NAME}" --force --grace-period=0 --wait=false >/dev/null 2>&1 ||
        log "could not delete the pods bound to ${NODE_NAME}; the pod garbage collector removes them"
}

# identify: which node this is, and whether it is the one the program means.
identify() {
    NODE_NAME=${K8S_NODE_NAME:-$(k8s_node_name)}
    [[ -n $NODE_NAME ]] || fail "cannot tell this node's name (hostname printed nothing)"
    if [[ -n $SLOT_NAME ]]; then
        log "leaving node: ${SLOT_NAME} = Node and etcd member ${NODE_NAME}"
    fi
    if [[ -z $EXPECTED_INSTANCE_ID ]]; then
        return 0
    fi
    local actual
    actual=$(instance_id) || fail "cannot read this node's instance id from the instance metadata"
    if [[ $actual != "$EXPECTED_INSTANCE_ID" ]]; then
        log "this address now belongs to instance ${actual}, not ${EXPECTED_INSTANCE_ID}: that node is gone, nothing to do here (the etcd watchdog removes a member that died without leaving)"
        exit 0
    fi
}

# Steps 1-3. Sets LAST_NODE=true (and changes nothing) on the last control-plane node. Called
# as a plain statement: under `!` or `||` bash would ignore `set -e` inside it.
LAST_NODE=false
leave_etcd() {
    local rc=0 count lookup
    # Only "not found" means unregistered; an API that does not answer stops the leave here.
    if ! lookup=$(kube get node "$NODE_NAME" -o name 2>&1); then
        if [[ $lookup != *NotFound* && $lookup != *"not found"* ]]; then
            fail "cannot look up Node ${NODE_NAME} through the API (${lookup}); nothing changed, the node keeps serving"
        fi
        log "node ${NODE_NAME} is not registered (never joined, or already deleted): removing its etcd member if any"
        discover_etcd_endpoints
    else
        discover_etcd_endpoints
        count=$(control_plane_node_count)
        if ((count <= 1)); then
            log "${NODE_NAME} is the last control-plane node: nothing can take over, leaving it as it is (cluster destroy)"
            LAST_NODE=true
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
    etcd_membership leave "$NODE_NAME" || rc=$?
    if ((rc != 0)) && [[ $(membership_state) == gone ]]; then
        log "the leave exited ${rc}, but etcd no longer lists ${NODE_NAME}: its removal went through"
        rc=0
    fi
    if ((rc == 3)); then
        restore_node
        log "FAILED: etcd refused to remove ${NODE_NAME} (see above): removing it would break quorum. The node keeps serving; restore the unhealthy members, then run pulumi up again"
        exit 3
    elif ((rc != 0)); then
        restore_node
        fail "${ETCD_MEMBERSHIP} leave ${NODE_NAME} failed (exit ${rc}); the node keeps serving"
    fi
    # From here on the node cannot serve again: a re-run only finishes step 4.
    mkdir -p "$STATE_DIR"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$LEFT_ETCD_MARKER"
}

# A node out of etcd must not change the cluster any more: its maintenance cron jobs go, and its
# membership tool answers "nothing to do" (also for a delete step stored by an earlier version
# of the program, which calls it by path).
disable_node_tools() {
    local tool="${SCRIPTS_DIR}/etcd-membership.sh"
    rm -f "$CRON_FILE"
    if [[ -f $tool ]]; then
        # Replaced by rename: a watchdog run that started earlier keeps reading the old file.
        printf '#!/usr/bin/env bash\necho "this node left the cluster (%s): no etcd membership change from here" >&2\n' "$(cat "$LEFT_ETCD_MARKER")" \
            >"${tool}.left"
        chmod 755 "${tool}.left"
        mv -f "${tool}.left" "$tool"
    fi
}

# The instance may be terminated once its member left (lib.sh: termination protection).
lift_protection() {
    unprotect_member_instance ||
        fail "${NODE_NAME} left etcd, but the termination protection of its instance could not be lifted (ModifyInstanceAttribute failed); run pulumi up again, or lift it by hand: aws ec2 modify-instance-attribute --instance-id <id> --no-disable-api-termination"
}

main() {
    need_seconds DRAIN_TIMEOUT API_STOP_TIMEOUT
    identify
    if [[ -f $LEFT_MARKER ]]; then
        log "${NODE_NAME} already left the cluster ($(cat "$LEFT_MARKER")): nothing to do"
        lift_protection
        return 0
    fi
    if [[ -f $LEFT_ETCD_MARKER ]]; then
        log "${NODE_NAME} left etcd already ($(cat "$LEFT_ETCD_MARKER")): finishing the leave"
    else
        leave_etcd
        if [[ $LAST_NODE == true ]]; then
            lift_protection
            return 0
        fi
    fi
    disable_node_tools
    lift_protection

    log "step 4/4: stop the kubelet, delete the Node object ${NODE_NAME} and its pods"
    systemctl stop kubelet || log "could not stop the kubelet; continuing"
    wait_until 120 "the Node object ${NODE_NAME} to be deleted" delete_node_object ||
        fail "could not delete the Node object ${NODE_NAME} through the load balancer"
    delete_bound_pods
    date -u +%Y-%m-%dT%H:%M:%SZ >"$LEFT_MARKER"
    log "${NODE_NAME} left the cluster"
}

main "$@" </dev/null
