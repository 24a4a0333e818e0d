#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# bootstrap.sh - zadara-eksd node bootstrap, run once by loader.sh on every node, after the
# loader installed the sha256-checked boot bundle into /usr/local/lib/zadara-eksd/:
#
# 1. Every node: trusts the cloud's root CA (root-ca.crt of the bundle, when there is one),
#    installs and starts the NVMe mount unit, writes the kubelet defaults (node IP, external
#    cloud provider, provider id, labels, taints).
# 2. Control plane: installs the maintenance cron jobs and writes the boot-prepared marker.
#    Nothing else: this node holds no cluster secret. The program's bootstrap command
#    (control-plane-up.sh over SSH) brings the secrets on stdin and runs kubeadm init/join.
# 3. Worker: waits for the API, joins with the expiring node-bootstrap token of its user data
#    (retried, kubeadm reset -f in between, until JOIN_TIMEOUT) and deletes the join file.
#
# Where to look
#   /var/log/zadara-eksd-bootstrap.log   this script's log ($LOG_FILE), root only
#   /var/log/cloud-init-output.log       cloud-init's log, includes this script's output
# Markers
#   $ZADARA_ETC/BOOT_FAILED              failed: phase, reason, last 40 log lines
#   $STATE_DIR/boot-prepared             control plane: ready for control-plane-up.sh
#   $STATE_DIR/boot-complete             worker: joined the cluster
# Parameters: $ZADARA_ETC/node.env, described in lib.sh.

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-bootstrap.log}"
BOOT_MARKER=true
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEP="start"
INSTANCE_ID=""
LOCAL_IP=""
JOIN_ATTEMPT=0
NVME_UNIT="zadara-nvme-mount.service"
GUARD_UNIT="zadara-metadata-guard.service"
# The kubelet runs with protectKernelDefaults: it refuses to start unless these are set
# (setupKernelTunables in pkg/kubelet/cm/container_manager_linux.go).
KERNEL_DEFAULTS_FILE="${SYSCTL_DIR:-/etc/sysctl.d}/90-zadara-eksd-kubelet.conf"

on_error() {
    fail "step '${STEP}' failed (exit code $1, line $2)"
}
trap 'on_error $? $LINENO' ERR
trap 'fail "terminated by signal"' TERM INT HUP

# ---------------------------------------------------------------------------------------------

fetch_identity() {
    INSTANCE_ID=$(instance_id) || return 1
    LOCAL_IP=$(local_ipv4) || return 1
    [[ -n $INSTANCE_ID && -n $LOCAL_IP ]]
}

read_instance_identity() {
    STEP="read instance metadata"
    if ! wait_until "$METADATA_TIMEOUT" "instance metadata (instance-id, local-ipv4)" fetch_identity; then
        fail "instance metadata at ${METADATA_URL} did not answer within ${METADATA_TIMEOUT}s"
    fi
    log "instance ${INSTANCE_ID}, private IP ${LOCAL_IP}, name '${NODE_NAME}', role ${ROLE}"
}

# The root CA travels in the bundle (never in user data: it may be any size).
trust_root_ca() {
    STEP="trust the cloud's root CA"
    local bundle_ca="${NODE_SCRIPTS_DIR}/root-ca.crt"
    if [[ ! -s $bundle_ca ]]; then
        return 0
    fi
    install -d -m 755 "$CA_TRUST_DIR"
    install -m 644 "$bundle_ca" "${CA_TRUST_DIR}/zadara-eksd-root-ca.crt"
    run_logged update-ca-certificates
}

start_nvme_unit() {
    STEP="start the NVMe mount unit"
    install -d -m 755 "$SYSTEMD_DIR"
    install -m 644 "${NODE_SCRIPTS_DIR}/${NVME_UNIT}" "${SYSTEMD_DIR}/${NVME_UNIT}"
    systemctl daemon-reload
    if ! systemctl enable --now "$NVME_UNIT"; then
        log "warning: ${NVME_UNIT} did not start; local NVMe disks stay unmounted"
    fi
}

# Pods must never reach the instance metadata service (role credentials; on workers the user
# data with the group's join token). Started now, before kubeadm starts the kubelet, and at
# every boot by its unit; a guard that cannot be installed stops the boot.
start_metadata_guard() {
    STEP="block pod access to instance metadata"
    install -d -m 755 "$SYSTEMD_DIR"
    install -m 644 "${NODE_SCRIPTS_DIR}/${GUARD_UNIT}" "${SYSTEMD_DIR}/${GUARD_UNIT}"
    systemctl daemon-reload
    systemctl enable --now "$GUARD_UNIT"
}

write_kernel_defaults() {
    STEP="write the kernel settings the kubelet protects"
    mkdir -p "$(dirname "$KERNEL_DEFAULTS_FILE")"
    printf '%s\n' "vm.overcommit_memory = 1" "vm.panic_on_oom = 0" "kernel.panic = 10" "kernel.panic_on_oops = 1" \
        "kernel.keys.root_maxkeys = 1000000" "kernel.keys.root_maxbytes = 25000000" >"$KERNEL_DEFAULTS_FILE"
    run_logged sysctl -p "$KERNEL_DEFAULTS_FILE"
}

write_kubelet_defaults() {
    STEP="write kubelet defaults"
    local safe='^[A-Za-z0-9./_:=,-]*$' key
    for key in NODE_LABELS NODE_TAINTS; do
        if [[ ! ${!key} =~ $safe ]]; then
            fail "node.env: ${key} contains unsupported characters: '${!key}'"
        fi
    done
    local args="--node-ip=${LOCAL_IP} --cloud-provider=external --provider-id=aws:///symphony/${INSTANCE_ID}"
    if [[ -n $NODE_LABELS ]]; then
        args+=" --node-labels=${NODE_LABELS}"
    fi
    if [[ -n $NODE_TAINTS ]]; then
        args+=" --register-with-taints=${NODE_TAINTS}"
    fi
    mkdir -p "$(dirname "$KUBELET_DEFAULTS")"
    printf 'KUBELET_EXTRA_ARGS="%s"\n' "$args" >"$KUBELET_DEFAULTS"
    log "wrote ${KUBELET_DEFAULTS}: ${args}"
    if ! systemctl enable kubelet; then
        log "warning: could not enable the kubelet service (kubeadm starts it anyway)"
    fi
}

# ---------------------------------------------------------------------------------------------
# Control plane: prepare only
# ---------------------------------------------------------------------------------------------

prepare_control_plane() {
    STEP="install the maintenance cron jobs"
    install -d -m 755 "$(dirname "$CRON_FILE")"
    install -m 644 "${NODE_SCRIPTS_DIR}/zadara-eksd.cron" "$CRON_FILE"
    STEP="write the boot-prepared marker"
    mkdir -p "$STATE_DIR"
    date -u +%Y-%m-%dT%H:%M:%SZ >"${STATE_DIR}/boot-prepared"
    log "prepared: waiting for the program's bootstrap command (control-plane-up.sh)"
}

# ---------------------------------------------------------------------------------------------
# Worker
# ---------------------------------------------------------------------------------------------

reset_node() {
    log "resetting the node before the next attempt"
    if ! run_logged kubeadm reset -f; then
        log "warning: kubeadm reset -f reported an error"
    fi
}

# try_join <config>: one kubeadm join attempt; resets the node when it fails.
try_join() {
    local config=$1
    JOIN_ATTEMPT=$((JOIN_ATTEMPT + 1))
    log "kubeadm join attempt ${JOIN_ATTEMPT} with ${config}"
    if run_logged kubeadm join --config "$config"; then
        return 0
    fi
    log "kubeadm join attempt ${JOIN_ATTEMPT} failed"
    reset_node
    return 1
}

require_worker_join_config() {
    local file=$1
    if [[ ! -s $file ]]; then
        fail "missing ${file} (written by cloud-init)"
    fi
    if ! grep -q 'caCertHashes' "$file"; then
        fail "${file} has no caCertHashes: refusing to join without pinning the cluster CA"
    fi
    if grep -Eq 'unsafeSkipCAVerification:[[:space:]]*true' "$file"; then
        fail "${file} disables CA verification: refusing to join"
    fi
}

bootstrap_worker() {
    local config="${ZADARA_ETC}/kubeadm-join-worker.yaml"
    STEP="check the join configuration"
    # A worker never holds the CA key; an existing ca.crt would also fail kubeadm's preflight.
    rm -f "${KUBERNETES_ETC:?}/pki/ca.key" "${KUBERNETES_ETC:?}/pki/ca.crt"
    require_worker_join_config "$config"
    STEP="wait for the Kubernetes API"
    if ! wait_until "$API_WAIT_TIMEOUT" "the Kubernetes API at https://${API_HOST}:${API_PORT}" api_answers; then
        fail "the Kubernetes API at https://${API_HOST}:${API_PORT} did not answer within ${API_WAIT_TIMEOUT}s; check the control-plane bootstrap and the load balancer targets"
    fi
    STEP="kubeadm join as worker"
    if ! wait_until "$JOIN_TIMEOUT" "kubeadm join as worker" try_join "$config"; then
        fail "kubeadm join as worker did not succeed within ${JOIN_TIMEOUT}s (${JOIN_ATTEMPT} attempts; an expired join token shows as 'token id ... is invalid' above)"
    fi
    # It holds the bootstrap token, which the node never needs again.
    rm -f "$config"
    STEP="write the boot-complete marker"
    mkdir -p "$STATE_DIR"
    date -u +%Y-%m-%dT%H:%M:%SZ >"${STATE_DIR}/boot-complete"
    log "joined the cluster as worker"
}

main() {
    init_logging
    STEP="read node.env"
    load_node_env
    rm -f "${ZADARA_ETC}/BOOT_FAILED"
    if [[ -f "${STATE_DIR}/boot-complete" || -f "${STATE_DIR}/boot-prepared" ]]; then
        log "this node is already bootstrapped or prepared (${STATE_DIR}); nothing to do"
        return 0
    fi
    log "bootstrap of ${ROLE} node for cluster ${CLUSTER_NAME} (EKS-D ${KUBERNETES_MINOR})"

    read_instance_identity
    trust_root_ca
    start_metadata_guard
    start_nvme_unit
    write_kernel_defaults
    write_kubelet_defaults

    if [[ $ROLE == control-plane ]]; then
        prepare_control_plane
    else
        bootstrap_worker
    fi
    log "bootstrap complete"
}

main "$@"
