#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# control-plane-up.sh init|join - brings a prepared control-plane node into the cluster. Run
# by the program's `<node>-bootstrap` command over SSH (through the bastion), as root:
#
#     control-plane-up.sh init|join <secrets     (stdin: "<relative-file-name> <base64>" lines)
#
# The stdin files (only these names are accepted; paths relative to $KUBERNETES_ETC):
#   pki/ca.crt pki/ca.key pki/sa.key pki/sa.pub pki/front-proxy-ca.crt pki/front-proxy-ca.key
#   pki/etcd/ca.crt pki/etcd/ca.key   shared CAs and the service-account key (same on every node)
#   zadara/kubeadm.yaml               kubeadm init or join configuration
#   zadara/kubeadm-cluster.yaml       joins into a running cluster: the init configuration whose
#                                     ClusterConfiguration is uploaded before kubeadm join
#   zadara/cluster-rbac.yaml          the admin credential's ClusterRoleBinding (applied on every run)
#   zadara/backup-export.key          the key etcd-backup.sh encrypts exported snapshots with
#   audit/audit-policy.yaml           kube-apiserver audit policy        (auditLog)
#   encryption/encryption-config.yaml Secrets encryption at rest         (secretsEncryption)
#   apiserver/admission-config.yaml   Pod Security Admission defaults
#   apiserver/authentication-config.yaml  anonymous requests for health checks only (1.32+)
#
# Phases, each printed with what it waits for, the time so far and its budget:
#   wait for boot-prepared -> receive files -> kubeadm init|join (skipped when this node is
#   already in the cluster: then only the files are refreshed; a join first mints its own
#   short join token) -> node identity (cluster RBAC applied, kubeadm's blanket node-client
#   auto-approval removed, super-admin.conf removed) -> health gate (local etcd member
#   healthy, API through the load balancer, Node registered and Ready once the cluster has a
#   CNI) -> boot-complete. No worker token travels here: a token rotation does not run this.
# On failure: exit 1 with the failed phase and the last 40 lines of the log on stderr.
# Parameters: $ZADARA_ETC/node.env (lib.sh); log: /var/log/zadara-eksd-control-plane-up.log.

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-control-plane-up.log}"
BOOT_MARKER=true
FAIL_REPORT=true
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEP="start"
MODE="${1:-}"
SECRETS_RUN_DIR="${SECRETS_RUN_DIR:-/run/zadara-eksd/secrets}"
JOIN_ATTEMPT=0
INIT_ATTEMPTS="${INIT_ATTEMPTS:-3}"
GATE_TIMEOUT="${GATE_TIMEOUT:-600}"
KUBEADM_CONFIG=""
# A control-plane join's kubeadm.yaml names this token; the node replaces it (mint_join_token).
TOKEN_PLACEHOLDER="cpjoin.placeholder000000"
JOIN_TOKEN_TTL="${JOIN_TOKEN_TTL:-30m}"
# kubeadm's binding of every token holder to the node-client auto-approval: any holder would
# get a certificate for any node name. csr-approver.sh approves by cloud identity instead.
AUTOAPPROVE_BINDING="kubeadm:node-autoapprove-bootstrap"

ALLOWED_FILES=(
    pki/ca.crt pki/ca.key pki/sa.key pki/sa.pub pki/front-proxy-ca.crt pki/front-proxy-ca.key
    pki/etcd/ca.crt pki/etcd/ca.key
    zadara/kubeadm.yaml zadara/cluster-rbac.yaml zadara/backup-export.key
    audit/audit-policy.yaml encryption/encryption-config.yaml
    apiserver/admission-config.yaml apiserver/authentication-config.yaml
    zadara/kubeadm-cluster.yaml
)

on_error() {
    fail "unexpected error (exit code $1, line $2)"
}
trap 'on_error $? $LINENO' ERR
trap 'fail "terminated by signal"' TERM INT HUP
# The stdin copy lives on tmpfs for the run only; the kubeadm files hold the join token and
# never outlive the run, whatever path it took (failure, re-run, retried join).
remove_run_files() {
    rm -rf "$SECRETS_RUN_DIR"
    rm -f "${KUBERNETES_ETC:-/etc/kubernetes}/zadara/kubeadm.yaml" "${KUBERNETES_ETC:-/etc/kubernetes}/zadara/kubeadm-cluster.yaml"
}
trap remove_run_files EXIT

# ---------------------------------------------------------------------------------------------

is_allowed() {
    local name
    for name in "${ALLOWED_FILES[@]}"; do
        [[ $name == "$1" ]] && return 0
    done
    return 1
}

# receive_files: reads stdin into SECRETS_RUN_DIR, refusing any name not in ALLOWED_FILES.
receive_files() {
    STEP="receive files from the bootstrap command"
    rm -rf "$SECRETS_RUN_DIR"
    install -d -m 700 "$SECRETS_RUN_DIR"
    local name data count=0
    while read -r name data || [[ -n ${name:-} ]]; do
        if [[ -z $name ]]; then
            continue
        fi
        if ! is_allowed "$name"; then
            fail "stdin names '${name}', which is not a file this script accepts (${ALLOWED_FILES[*]})"
        fi
        mkdir -p "$(dirname "${SECRETS_RUN_DIR}/${name}")"
        if ! base64 -d <<<"$data" >"${SECRETS_RUN_DIR}/${name}" 2>/dev/null; then
            fail "stdin entry ${name} is not valid base64"
        fi
        count=$((count + 1))
    done
    if [[ ! -s "${SECRETS_RUN_DIR}/zadara/kubeadm.yaml" ]]; then
        fail "stdin carried no zadara/kubeadm.yaml (${count} files received)"
    fi
    log "received ${count} files"
}

# place_files: installs the received files; keys and configs 0600, certificates 0644.
place_files() {
    local file name mode
    while IFS= read -r file; do
        name=${file#"${SECRETS_RUN_DIR}/"}
        mode=600
        if [[ $name == *.crt || $name == *.pub ]]; then
            mode=644
        fi
        install -d -m 755 "$(dirname "${KUBERNETES_ETC}/${name}")"
        install -m "$mode" "$file" "${KUBERNETES_ETC}/${name}"
    done < <(find "$SECRETS_RUN_DIR" -type f | sort)
    KUBEADM_CONFIG="${KUBERNETES_ETC}/zadara/kubeadm.yaml"
}

boot_prepared() {
    if [[ -s "${ZADARA_ETC}/BOOT_FAILED" ]]; then
        return 0
    fi
    [[ -f "${STATE_DIR}/boot-prepared" ]]
}

# A report this script wrote on an earlier, failed run is not a failed boot: a re-run of the
# bootstrap step (the same Command after `pulumi up` failed) must be able to try again. Keep it
# beside for whoever reads the node, and go on.
set_aside_own_report() {
    local report="${ZADARA_ETC}/BOOT_FAILED"
    if [[ -s $report ]] && head -n 1 "$report" | grep -q "^zadara-eksd ${SCRIPT_NAME} FAILED "; then
        mv -f "$report" "${report}.previous-${SCRIPT_NAME}" 2>/dev/null || rm -f "$report"
        log "set aside the report of an earlier ${SCRIPT_NAME} run: ${report}.previous-${SCRIPT_NAME}"
    fi
}

wait_boot_prepared() {
    STEP="wait for the node to be prepared"
    set_aside_own_report
    if ! wait_until "$BOOT_PREPARED_TIMEOUT" "the loader to prepare this node (${STATE_DIR}/boot-prepared)" boot_prepared; then
        fail "the node was not prepared within ${BOOT_PREPARED_TIMEOUT}s: see ${CLOUD_INIT_LOG} (bundle download, loader)"
    fi
    if [[ -s "${ZADARA_ETC}/BOOT_FAILED" ]]; then
        cat "${ZADARA_ETC}/BOOT_FAILED" >>"$LOG_FILE" 2>/dev/null || true
        fail "the node's own boot failed: $(grep -m1 '^reason:' "${ZADARA_ETC}/BOOT_FAILED" || echo 'see BOOT_FAILED')"
    fi
}

reset_node() {
    log "resetting the node before the next attempt"
    if ! run_logged kubeadm reset -f; then
        log "warning: kubeadm reset -f reported an error"
    fi
    # kubeadm reset empties the pki directory: put the received files back.
    place_files
}

init_cluster() {
    STEP="make sure no cluster answers yet"
    if api_answers; then
        fail "the API at https://${API_HOST}:${API_PORT} already answers: refusing kubeadm init next to a running cluster (this node must join)"
    fi
    local attempt
    for ((attempt = 1; ; attempt++)); do
        STEP="kubeadm init (attempt ${attempt} of ${INIT_ATTEMPTS})"
        if run_logged kubeadm init --config "$KUBEADM_CONFIG" --skip-token-print; then
            break
        fi
        if ((attempt >= INIT_ATTEMPTS)); then
            fail "kubeadm init failed ${attempt} times"
        fi
        log "kubeadm init attempt ${attempt} failed"
        reset_node
    done
}

try_join() {
    JOIN_ATTEMPT=$((JOIN_ATTEMPT + 1))
    log "kubeadm join attempt ${JOIN_ATTEMPT}"
    if run_logged kubeadm join --config "$KUBEADM_CONFIG"; then
        return 0
    fi
    log "kubeadm join attempt ${JOIN_ATTEMPT} failed"
    reset_node
    return 1
}

# upload_cluster_config: every join into a running cluster. kubeadm join renders the control-plane
# static pods from the cluster's kubeadm-config, so this program's current ClusterConfiguration
# (and kubelet config: a new release, audit, encryption, SANs) goes up first. The admin
# credential for that is minted here from the CA key this node just received, used once and
# removed. Idempotent: uploading the same configuration again is a no-op. The file itself goes
# with kubeadm.yaml once kubeadm ran (and at exit on every path).
upload_cluster_config() {
    local cluster_config="${KUBERNETES_ETC}/zadara/kubeadm-cluster.yaml"
    if [[ ! -s $cluster_config ]]; then
        return 0
    fi
    STEP="upload the current cluster configuration"
    local dir
    dir=$(mktemp -d)
    if ! run_logged kubeadm init phase kubeconfig admin --config "$cluster_config" --kubeconfig-dir "$dir" ||
        ! run_logged kubeadm init phase upload-config all --config "$cluster_config" --kubeconfig "${dir}/admin.conf"; then
        rm -rf "$dir"
        fail "could not upload the current cluster configuration (kubeadm init phase upload-config all)"
    fi
    rm -rf "$dir"
    log "uploaded the current cluster configuration"
}

# mint_join_token: this node's own bootstrap token, valid JOIN_TOKEN_TTL, created with a
# one-off admin client certificate signed by the CA key this node was just sent (files in a
# 0700 directory, removed at once; the token never reaches a command line). It replaces
# TOKEN_PLACEHOLDER in kubeadm.yaml, so the program keeps no control-plane token at all.
mint_join_token() {
    if ! grep -q "$TOKEN_PLACEHOLDER" "$KUBEADM_CONFIG"; then
        return 0
    fi
    STEP="mint this node's join token"
    local dir pki="${KUBERNETES_ETC}/pki" token content
    dir=$(mktemp -d)
    chmod 700 "$dir"
    if ! run_logged openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "${dir}/join.key" -subj "/O=kubeadm:cluster-admins/CN=zadara-eksd-join:$(k8s_node_name)" -out "${dir}/join.csr" ||
        ! run_logged openssl x509 -req -in "${dir}/join.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" \
            -set_serial "0x$(openssl rand -hex 16)" -days 1 -out "${dir}/join.crt" ||
        ! run_logged kubectl config --kubeconfig "${dir}/kubeconfig" set-cluster join --server "https://${API_HOST}:${API_PORT}" \
            --certificate-authority "${pki}/ca.crt" --embed-certs ||
        ! run_logged kubectl config --kubeconfig "${dir}/kubeconfig" set-credentials join --client-certificate "${dir}/join.crt" \
            --client-key "${dir}/join.key" --embed-certs ||
        ! run_logged kubectl config --kubeconfig "${dir}/kubeconfig" set-context join --cluster join --user join ||
        ! run_logged kubectl config --kubeconfig "${dir}/kubeconfig" use-context join ||
        ! token=$(kubeadm token create --kubeconfig "${dir}/kubeconfig" --ttl "$JOIN_TOKEN_TTL" \
            --description "zadara-eksd control-plane join of $(k8s_node_name)" 2>>"$LOG_FILE"); then
        rm -rf "$dir"
        fail "could not mint a join token with the cluster CA (see ${LOG_FILE})"
    fi
    rm -rf "$dir"
    if [[ ! $token =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]]; then
        fail "kubeadm token create printed no token"
    fi
    content=$(<"$KUBEADM_CONFIG")
    printf '%s\n' "${content//"$TOKEN_PLACEHOLDER"/"$token"}" >"$KUBEADM_CONFIG"
    log "minted a join token valid for ${JOIN_TOKEN_TTL}"
}

join_cluster() {
    STEP="wait for the Kubernetes API"
    if ! wait_until "$API_WAIT_TIMEOUT" "the Kubernetes API at https://${API_HOST}:${API_PORT}" api_answers; then
        fail "the Kubernetes API at https://${API_HOST}:${API_PORT} did not answer within ${API_WAIT_TIMEOUT}s"
    fi
    upload_cluster_config
    mint_join_token
    STEP="kubeadm join as control plane"
    if ! wait_until "$JOIN_TIMEOUT" "kubeadm join as control plane" try_join; then
        fail "kubeadm join as control plane did not succeed within ${JOIN_TIMEOUT}s (${JOIN_ATTEMPT} attempts)"
    fi
}

remove_autoapprove_binding() {
    kubectl_admin delete clusterrolebinding "$AUTOAPPROVE_BINDING" --ignore-not-found >/dev/null
}

# node_identity: on every run (kubeadm init and upgrades create the auto-approval binding
# again; csr-approver.sh also removes it each minute). super-admin.conf (system:masters, not
# revocable by RBAC) is not kept on the node: kubeadm advises to keep it off the machine.
node_identity() {
    local rbac="${KUBERNETES_ETC}/zadara/cluster-rbac.yaml"
    if [[ -s $rbac ]]; then
        STEP="apply the cluster RBAC"
        if ! wait_until "$GATE_TIMEOUT" "the API to accept the cluster RBAC" kubectl_admin apply -f "$rbac"; then
            fail "could not apply ${rbac} within ${GATE_TIMEOUT}s"
        fi
    fi
    STEP="remove kubeadm's node-client auto-approval"
    if ! wait_until "$GATE_TIMEOUT" "the API to delete ClusterRoleBinding ${AUTOAPPROVE_BINDING}" remove_autoapprove_binding; then
        fail "could not delete ClusterRoleBinding ${AUTOAPPROVE_BINDING} within ${GATE_TIMEOUT}s"
    fi
    rm -f "${KUBERNETES_ETC}/super-admin.conf"
}

etcd_member_healthy() {
    etcdctl_local endpoint health >/dev/null 2>&1
}

# node_ready: the Node is registered; Ready is required once any node is Ready (before the
# CNI is installed, after the control plane, no node can be).
node_ready() {
    local name status any
    name=$(k8s_node_name)
    status=$(kubectl_admin get node "$name" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) || return 1
    if [[ $status == True ]]; then
        return 0
    fi
    any=$(kubectl_admin get nodes -o 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) || return 1
    [[ $any != *True* ]]
}

health_gate() {
    STEP="health gate: local etcd member healthy"
    wait_until "$GATE_TIMEOUT" "the local etcd member to report healthy" etcd_member_healthy ||
        fail "the etcd member on this node is not healthy after ${GATE_TIMEOUT}s. If etcd lost its quorum (e.g. two members, one of them down: the window of a 1->3 scale-up) and the lost members are gone for good, rebuild from the surviving one, on its node: sudo ${NODE_SCRIPTS_DIR}/etcd-membership.sh recover <its member name> --confirm (docs/etcd.md, 'Quorum lost'); then run pulumi up again"
    STEP="health gate: API through the load balancer"
    wait_until "$GATE_TIMEOUT" "the API through the load balancer (https://${API_HOST}:${API_PORT})" api_answers ||
        fail "the API does not answer through the load balancer https://${API_HOST}:${API_PORT} after ${GATE_TIMEOUT}s; check the target group"
    STEP="health gate: Node registered and Ready"
    wait_until "$GATE_TIMEOUT" "Node $(k8s_node_name) to be registered (and Ready once the cluster has a CNI)" node_ready ||
        fail "Node $(k8s_node_name) is not registered/Ready after ${GATE_TIMEOUT}s"
}

# kubeconfig.ready: a marker for operators on the node (the program builds its own kubeconfig).
publish_kubeconfig() {
    STEP="publish the kubeconfig"
    publish_admin_kubeconfig
    date -u +%Y-%m-%dT%H:%M:%SZ >"${ZADARA_ETC}/kubeconfig.ready"
    log "wrote ${ZADARA_ETC}/kubeconfig.ready"
}

main() {
    init_logging
    STEP="check arguments"
    if [[ $MODE != init && $MODE != join ]]; then
        fail "usage: control-plane-up.sh init|join <files (stdin)>; got '${MODE}'"
    fi
    STEP="read node.env"
    load_node_env
    if [[ $ROLE != control-plane ]]; then
        fail "this is a ${ROLE} node, not a control-plane node"
    fi
    log "control-plane-up ${MODE} on ${NODE_NAME} (cluster ${CLUSTER_NAME}, EKS-D ${KUBERNETES_MINOR})"
    receive_files
    wait_boot_prepared
    rm -f "${ZADARA_ETC}/BOOT_FAILED"
    STEP="place the received files"
    place_files

    if [[ -f "${STATE_DIR}/boot-complete" ]]; then
        log "this node is already in the cluster: files refreshed, kubeadm skipped"
    elif [[ $MODE == init ]]; then
        init_cluster
    else
        join_cluster
    fi
    # kubeadm.yaml holds the join token; the kubeadm-config ConfigMap keeps the cluster's copy.
    rm -f "$KUBEADM_CONFIG" "${KUBERNETES_ETC}/zadara/kubeadm-cluster.yaml"
    publish_kubeconfig
    node_identity
    health_gate
    STEP="termination protection"
    protect_member_instance

    STEP="write the boot-complete marker"
    mkdir -p "$STATE_DIR"
    date -u +%Y-%m-%dT%H:%M:%SZ >"${STATE_DIR}/boot-complete"
    log "control plane node ${NODE_NAME} is up (${MODE})"
}

main "$@"
