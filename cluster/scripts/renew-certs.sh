#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# renew-certs.sh - renews the kubeadm certificates of a control-plane node when one of them
# expires within RENEW_BEFORE_DAYS (default 30) days, restarts the control-plane static pods
# one by one (manifest moved out and back, each step waited on), and refreshes
# $ZADARA_ETC/kubeconfig when the node has one. Run by cron weekly on control-plane nodes.
# Environment: RENEW_BEFORE_DAYS, RESTART_TIMEOUT (seconds per wait, default 300),
#   CRI_ENDPOINT (default unix:///run/containerd/containerd.sock),
#   LOCAL_API_URL (default https://127.0.0.1:6443).
# Log: /var/log/zadara-eksd-renew-certs.log. Parameters: $ZADARA_ETC/node.env (see lib.sh).

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-renew-certs.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RENEW_BEFORE_DAYS="${RENEW_BEFORE_DAYS:-30}"
RESTART_TIMEOUT="${RESTART_TIMEOUT:-300}"
CRI_ENDPOINT="${CRI_ENDPOINT:-unix:///run/containerd/containerd.sock}"
LOCAL_API_URL="${LOCAL_API_URL:-https://127.0.0.1:6443}"
MANIFESTS_DIR="${KUBERNETES_ETC}/manifests"
PARKED_DIR="${STATE_DIR}/parked-manifests"
STATIC_PODS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

trap 'fail "unexpected error at line ${LINENO}"' ERR

# Reads `kubeadm certs check-expiration` on stdin; prints the smallest residual time in days
# of the certificates (not the CAs); -1 when one has expired. Prints nothing when no row parses.
soonest_expiry_days() {
    awk '
        /^CERTIFICATE AUTHORITY/ { exit }
        {
            for (i = 1; i < NF; i++) {
                if ($i != "UTC") continue
                residual = $(i + 1)
                if (residual ~ /invalid/) days = -1
                else if (residual ~ /^[0-9]+y$/) days = substr(residual, 1, length(residual) - 1) * 365
                else if (residual ~ /^[0-9]+d$/) days = substr(residual, 1, length(residual) - 1) + 0
                else if (residual ~ /^[0-9]+[hms]$/) days = 0
                else continue
                if (!found || days < soonest) soonest = days
                found = 1
            }
        }
        END { if (found) print soonest }'
}

container_running() {
    [[ -n $(crictl --runtime-endpoint "$CRI_ENDPOINT" ps --name "^$1\$" -q 2>/dev/null) ]]
}

container_stopped() {
    local ids
    ids=$(crictl --runtime-endpoint "$CRI_ENDPOINT" ps --name "^$1\$" -q 2>/dev/null) || return 1
    [[ -z $ids ]]
}

local_api_healthy() {
    [[ $(curl -sk --max-time 5 "${LOCAL_API_URL}/healthz" 2>/dev/null) == ok ]]
}

restart_static_pod() {
    local name=$1
    local manifest="${MANIFESTS_DIR}/${name}.yaml" parked="${PARKED_DIR}/${name}.yaml"
    if [[ ! -f $manifest ]]; then
        log "no static pod manifest ${manifest}; skipping ${name}"
        return 0
    fi
    mv -f "$manifest" "$parked"
    if ! wait_until "$RESTART_TIMEOUT" "${name} to stop" container_stopped "$name"; then
        mv -f "$parked" "$manifest"
        fail "${name} did not stop within ${RESTART_TIMEOUT}s; its manifest is back in place"
    fi
    mv -f "$parked" "$manifest"
    if ! wait_until "$RESTART_TIMEOUT" "${name} to run again" container_running "$name"; then
        fail "${name} did not start again within ${RESTART_TIMEOUT}s after the certificate renewal"
    fi
}

main() {
    start_control_plane_job || return 0
    single_instance renew-certs

    local report soonest
    report=$(kubeadm certs check-expiration) || fail "kubeadm certs check-expiration failed"
    soonest=$(soonest_expiry_days <<<"$report")
    if [[ -z $soonest ]]; then
        fail "could not read the output of kubeadm certs check-expiration"
    fi
    if ((soonest > RENEW_BEFORE_DAYS)); then
        log "certificates are valid for ${soonest} more days; nothing to renew"
        return 0
    fi

    log "a certificate expires in ${soonest} days (threshold ${RENEW_BEFORE_DAYS}): renewing all"
    run_logged kubeadm certs renew all || fail "kubeadm certs renew all failed"

    install -d -m 700 "$PARKED_DIR"
    local name
    for name in "${STATIC_PODS[@]}"; do
        restart_static_pod "$name"
    done
    if ! wait_until "$RESTART_TIMEOUT" "the local API server to be healthy" local_api_healthy; then
        fail "the API server is not healthy ${RESTART_TIMEOUT}s after the restart"
    fi

    if [[ -f "${ZADARA_ETC}/kubeconfig" ]]; then
        publish_admin_kubeconfig
    fi
    log "certificates renewed and control-plane pods restarted"
}

main "$@"
