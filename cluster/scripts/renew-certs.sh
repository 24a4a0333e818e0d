#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# renew-certs.sh - renews the kubeadm certificates of a control-plane node when one of them
# expires within RENEW_BEFORE_DAYS (default 30) days, restarts the control-plane static pods
# one by one (manifest moved out and back, each step waited on), and refreshes
# $ZADARA_ETC/kubeconfig when the node has one. Run by cron weekly on control-plane nodes.
# Safety, because every master runs it in the same minute:
#   - one master at a time: the lock is the ConfigMap kube-system/zadara-renew-certs-lock
#     (created atomically; an expired one is taken over at the resourceVersion read), waited
#     for up to LOCK_WAIT seconds, else this run is skipped;
#   - `etcdctl endpoint health --cluster` must be fully healthy before anything is renewed or
#     moved, else this run is skipped; after etcd's restart it must be healthy again;
#   - timeouts are checked before anything moves; manifests parked by an interrupted run are
#     put back at the start, and an EXIT/TERM trap puts them back on the way out;
#   - $STATE_DIR/renew-certs.pending marks renewed certificates whose pods were not all
#     restarted yet: the next run restarts them even though nothing expires any more.
# Environment: RENEW_BEFORE_DAYS, RESTART_TIMEOUT (seconds per wait, default 300),
#   LOCK_WAIT (seconds, default 12 x RESTART_TIMEOUT), CRI_ENDPOINT, MANIFESTS_DIR (lib.sh),
#   LOCAL_API_URL (default https://127.0.0.1:6443).
# Log: /var/log/zadara-eksd-renew-certs.log. Parameters: $ZADARA_ETC/node.env (see lib.sh).

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-renew-certs.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RENEW_BEFORE_DAYS="${RENEW_BEFORE_DAYS:-30}"
RESTART_TIMEOUT="${RESTART_TIMEOUT:-300}"
LOCAL_API_URL="${LOCAL_API_URL:-https://127.0.0.1:6443}"
PARKED_DIR="${STATE_DIR}/parked-manifests"
PENDING="${STATE_DIR}/renew-certs.pending"
LOCK=zadara-renew-certs-lock
LOCK_TTL=0
LOCKED=false
HOLDER=""
STATIC_PODS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

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

local_api_healthy() {
    [[ $(curl -sk --max-time 5 "${LOCAL_API_URL}/healthz" 2>/dev/null) == ok ]]
}

etcd_healthy() {
    etcdctl_local endpoint health --cluster >/dev/null 2>&1
}

# lock_cm <verb> <args...>: kubectl <verb> on the lock ConfigMap.
lock_cm() {
    kubectl_admin -n kube-system "$1" configmap "$LOCK" "${@:2}"
}

# take_lock: one attempt; creates the lock, or takes it over when it expired or is ours.
take_lock() {
    local expires=$((EPOCHSECONDS + LOCK_TTL)) found version until holder
    if lock_cm create --from-literal=holder="$HOLDER" --from-literal=expires="$expires" >/dev/null 2>&1; then
        LOCKED=true
        return 0
    fi
    found=$(lock_cm get -o 'jsonpath={.metadata.resourceVersion} {.data.expires} {.data.holder}' 2>/dev/null) || return 1
    read -r version until holder <<<"$found"
    if [[ $holder != "$HOLDER" && $until =~ ^[0-9]+$ ]] && ((until >= EPOCHSECONDS)); then
        return 1
    fi
    log "taking over the lock of '${holder}' (expired or ours)"
    # The resourceVersion in the patch makes it fail when someone else changed the lock first.
    lock_cm patch -p "{\"metadata\":{\"resourceVersion\":\"${version}\"},\"data\":{\"holder\":\"${HOLDER}\",\"expires\":\"${expires}\"}}" >/dev/null 2>&1 || return 1
    LOCKED=true
}

release_lock() {
    if [[ $LOCKED == true && $(lock_cm get -o 'jsonpath={.data.holder}' 2>/dev/null) == "$HOLDER" ]]; then
        lock_cm delete >/dev/null 2>&1 || log "warning: could not delete the lock ${LOCK}; it expires by itself"
    fi
    LOCKED=false
}

on_exit() {
    unpark_manifests "$PARKED_DIR"
    release_lock
}

restart_static_pod() {
    local name=$1
    if [[ ! -f "${MANIFESTS_DIR}/${name}.yaml" ]]; then
        log "no static pod manifest for ${name}; skipping it"
        return 0
    fi
    park_manifests "$PARKED_DIR" "${MANIFESTS_DIR}/${name}.yaml"
    if ! wait_until "$RESTART_TIMEOUT" "${name} to stop" container_is stopped "$name"; then
        fail "${name} did not stop within ${RESTART_TIMEOUT}s; its manifest is put back"
    fi
    unpark_manifests "$PARKED_DIR"
    if ! wait_until "$RESTART_TIMEOUT" "${name} to run again" container_is running "$name"; then
        fail "${name} did not start again within ${RESTART_TIMEOUT}s after the certificate renewal"
    fi
    if [[ $name == etcd ]] && ! wait_until "$RESTART_TIMEOUT" "every etcd member to be healthy" etcd_healthy; then
        fail "etcd is not healthy ${RESTART_TIMEOUT}s after its restart"
    fi
}

main() {
    cron_job_start renew-certs
    need_seconds RESTART_TIMEOUT
    LOCK_TTL=$(($(to_ms "$RESTART_TIMEOUT") * 12 / 1000 + 60))
    LOCK_WAIT=${LOCK_WAIT:-$LOCK_TTL}
    need_seconds LOCK_WAIT
    [[ $RENEW_BEFORE_DAYS =~ ^[0-9]+$ ]] || fail "RENEW_BEFORE_DAYS must be whole days, got '${RENEW_BEFORE_DAYS}'"
    HOLDER=$(hostname)
    trap on_exit EXIT
    trap 'fail "terminated by signal"' TERM INT HUP
    unpark_manifests "$PARKED_DIR"

    if [[ -f $PENDING ]]; then
        log "certificates were renewed but not every static pod restarted since: restarting them"
    else
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
        log "a certificate expires in ${soonest} days (threshold ${RENEW_BEFORE_DAYS})"
    fi

    if ! wait_until "$LOCK_WAIT" "the lock ${LOCK} (one control-plane node at a time)" take_lock; then
        log "another control-plane node holds the lock ${LOCK}: skipping this run"
        return 0
    fi
    if ! etcd_healthy; then
        log "etcd is not fully healthy (etcdctl endpoint health --cluster): skipping this run"
        return 0
    fi
    if [[ ! -f $PENDING ]]; then
        run_logged kubeadm certs renew all || fail "kubeadm certs renew all failed"
        # system:masters, not revocable by RBAC: never kept on a node (control-plane-up.sh).
        rm -f "${KUBERNETES_ETC}/super-admin.conf"
        date -u +%Y-%m-%dT%H:%M:%SZ >"$PENDING"
    fi

    local name
    for name in "${STATIC_PODS[@]}"; do
        restart_static_pod "$name"
    done
    if ! wait_until "$RESTART_TIMEOUT" "the local API server to be healthy" local_api_healthy; then
        fail "the API server is not healthy ${RESTART_TIMEOUT}s after the restart"
    fi
    rm -f "$PENDING"

    if [[ -f "${ZADARA_ETC}/kubeconfig" ]]; then
        publish_admin_kubeconfig
    fi
    log "certificates renewed and control-plane pods restarted"
}

main "$@"
