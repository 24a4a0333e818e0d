#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# bootstrap.sh - zadara-eksd node bootstrap, run once by cloud-init on every node:
#     /usr/local/lib/zadara-eksd/bootstrap.sh
#
# 1. Writes the kubelet defaults (node IP, external cloud provider, provider id, labels, taints).
# 2. Control plane: joins when the API already answers; otherwise the elected leader runs
#    `kubeadm init` once the API has stayed silent for INIT_QUORUM_WAIT seconds (it joins when
#    the API answers meanwhile), the others wait for the API and join. Worker: waits for the
#    API, joins and deletes its join file. Joins are retried (kubeadm reset -f in between)
#    until JOIN_TIMEOUT; kubeadm init INIT_ATTEMPTS times (default 3), the API checked again
#    before each attempt.
# 3. Every control-plane node publishes the admin kubeconfig and kubeconfig.ready, so a node
#    that replaces the leader serves the program's kubeconfig fetch too.
# CNI, cloud controller manager and add-ons are NOT installed here: the Pulumi program does that.
#
# Where to look
#   /var/log/zadara-eksd-bootstrap.log   this script's log ($LOG_FILE), root only
#   /var/log/cloud-init-output.log       cloud-init's log, includes this script's output
# Markers
#   $ZADARA_ETC/BOOT_FAILED              bootstrap failed: reason and where to look
#   $ZADARA_ETC/kubeconfig               control plane: cluster-admin kubeconfig (mode 600)
#   $ZADARA_ETC/kubeconfig.ready         control plane: written LAST, once kubeconfig is complete
#                                        and the API answers through the load balancer
#   $STATE_DIR/boot-complete             this node has initialised or joined the cluster
# Parameters: $ZADARA_ETC/node.env, described in lib.sh.

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-bootstrap.log}"
BOOT_MARKER=true
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEP="start"
INSTANCE_ID=""
LOCAL_IP=""
AM_LEADER=false
JOIN_ATTEMPT=0
INITIALISED=false
INIT_ATTEMPTS="${INIT_ATTEMPTS:-3}"
CA_BACKUP_DIR="${STATE_DIR}/ca-backup"

on_error() {
    fail "step '${STEP}' failed (exit code $1, line $2)"
}
trap 'on_error $? $LINENO' ERR
trap 'fail "terminated by signal"' TERM INT HUP

# Called by fail: the CA goes back into place, its copy outside the pki directory goes away.
fail_cleanup() {
    restore_cluster_ca
    forget_cluster_ca_backup
}

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

# require_config <file name>: the file must exist in ZADARA_ETC; join files must pin the CA.
require_config() {
    local file="${ZADARA_ETC}/$1"
    if [[ ! -s $file ]]; then
        fail "missing ${file} (written by cloud-init)"
    fi
    if [[ $1 == kubeadm-join-* ]]; then
        if ! grep -q 'caCertHashes' "$file"; then
            fail "${file} has no caCertHashes: refusing to join without pinning the cluster CA"
        fi
        if grep -Eq 'unsafeSkipCAVerification:[[:space:]]*true' "$file"; then
            fail "${file} disables CA verification: refusing to join"
        fi
    fi
}

# The pre-placed cluster CA is kept aside because `kubeadm reset` empties the pki directory.
# Only nodes that may run `kubeadm init` get it; others download it when they join.
save_cluster_ca() {
    local pki="${KUBERNETES_ETC}/pki"
    if [[ $LEADER_ELECTION == static && $IS_LEADER != true && ! -e "${pki}/ca.key" ]]; then
        log "no cluster CA on this node: the join downloads it with the certificate key"
        return 0
    fi
    if [[ ! -s "${pki}/ca.crt" || ! -s "${pki}/ca.key" ]]; then
        fail "the cluster CA (${pki}/ca.crt and ca.key) must be in place on nodes that may initialise the cluster"
    fi
    install -d -m 700 "$CA_BACKUP_DIR"
    cp -p "${pki}/ca.crt" "${pki}/ca.key" "$CA_BACKUP_DIR/"
}

restore_cluster_ca() {
    if [[ ! -d $CA_BACKUP_DIR ]]; then
        return 0
    fi
    install -d -m 755 "${KUBERNETES_ETC}/pki"
    cp -p "${CA_BACKUP_DIR}"/ca.* "${KUBERNETES_ETC}/pki/"
}

forget_cluster_ca_backup() {
    rm -rf "$CA_BACKUP_DIR"
}

wait_for_api() {
    STEP="wait for the Kubernetes API"
    if ! wait_until "$API_WAIT_TIMEOUT" "the Kubernetes API at https://${API_HOST}:${API_PORT}" api_answers; then
        fail "the Kubernetes API at https://${API_HOST}:${API_PORT} did not answer within ${API_WAIT_TIMEOUT}s; check the first control-plane node's BOOT_FAILED and log, and the load balancer targets"
    fi
}

reset_node() {
    log "resetting the node before the next attempt"
    if ! run_logged kubeadm reset -f; then
        log "warning: kubeadm reset -f reported an error"
    fi
    restore_cluster_ca
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

# join_cluster <control-plane|worker>
join_cluster() {
    local kind=$1
    local config="${ZADARA_ETC}/kubeadm-join-${kind}.yaml"
    require_config "kubeadm-join-${kind}.yaml"
    STEP="kubeadm join as ${kind}"
    if ! wait_until "$JOIN_TIMEOUT" "kubeadm join as ${kind}" try_join "$config"; then
        fail "kubeadm join as ${kind} did not succeed within ${JOIN_TIMEOUT}s (${JOIN_ATTEMPT} attempts)"
    fi
    log "joined the cluster as ${kind}"
}

# ---------------------------------------------------------------------------------------------
# Leader election
# ---------------------------------------------------------------------------------------------

ASG_IPS=""
ASG_DESIRED=0

# Sets ASG_DESIRED and ASG_IPS: the sorted private IPs of the instances of ASG_NAME that are not
# terminating, pending ones included (they have their private IP already).
read_asg_ips() {
    local out
    out=$(cloud_aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG_NAME" \
        --query "AutoScalingGroups[0].[DesiredCapacity, Instances[?!starts_with(LifecycleState || '', 'Terminating')].InstanceId]" \
        --output text | words_to_lines) || return 1
    local -a words
    mapfile -t words <<<"$out"
    ASG_DESIRED=${words[0]}
    if [[ ! $ASG_DESIRED =~ ^[0-9]+$ ]] || ((${#words[@]} < 2)); then
        return 1
    fi
    ASG_IPS=$(cloud_aws ec2 describe-instances --instance-ids "${words[@]:1}" \
        --query "Reservations[].Instances[?State.Name=='pending' || State.Name=='running'].PrivateIpAddress" \
        --output text | words_to_lines | sort_ips) || return 1
    [[ -n $ASG_IPS ]]
}

# The election can stop once the group lists as many members as it wants (DesiredCapacity),
# this node among them, or once the API answers meanwhile.
asg_election_ready() {
    if api_answers; then
        return 0
    fi
    read_asg_ips || return 1
    (($(grep -c . <<<"$ASG_IPS") == ASG_DESIRED)) && grep -qxF "$LOCAL_IP" <<<"$ASG_IPS"
}

elect_leader() {
    STEP="leader election (${LEADER_ELECTION})"
    case $LEADER_ELECTION in
        static)
            if [[ $IS_LEADER == true ]]; then
                AM_LEADER=true
            fi
            ;;
        asg)
            if [[ -z $ASG_NAME ]]; then
                fail "node.env: ASG_NAME is required for LEADER_ELECTION=asg"
            fi
            if ! resolve_cloud_api; then
                fail "could not read cluster_url from ${METADATA_URL}/openstack/latest/meta_data.json"
            fi
            local what="ASG ${ASG_NAME} to list its desired members, this node (${LOCAL_IP}) among them"
            if ! wait_until "$API_WAIT_TIMEOUT" "$what" asg_election_ready; then
                fail "gave up waiting for ${what}"
            fi
            if api_answers; then
                log "the API started answering during the election: another node is the leader"
            elif [[ $(head -n 1 <<<"$ASG_IPS") == "$LOCAL_IP" ]]; then
                AM_LEADER=true
            fi
            log "members of ${ASG_NAME} (desired ${ASG_DESIRED}): $(tr '\n' ' ' <<<"$ASG_IPS")"
            ;;
        *)
            fail "node.env: LEADER_ELECTION must be static or asg, got '${LEADER_ELECTION}'"
            ;;
    esac
    log "leader: ${AM_LEADER}"
}

# ---------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------

# publish_kubeconfig: the admin kubeconfig, then kubeconfig.ready once the API answers
# through the load balancer (the program's kubeconfig fetch waits for that marker).
publish_kubeconfig() {
    STEP="publish the kubeconfig"
    publish_admin_kubeconfig
    STEP="wait for the API through the load balancer"
    if ! wait_until "$API_WAIT_TIMEOUT" "the API through the load balancer (https://${API_HOST}:${API_PORT})" api_answers; then
        fail "the API does not answer through the load balancer https://${API_HOST}:${API_PORT} within ${API_WAIT_TIMEOUT}s; check the target group"
    fi
    STEP="write the kubeconfig.ready marker"
    date -u +%Y-%m-%dT%H:%M:%SZ >"${ZADARA_ETC}/kubeconfig.ready"
    log "wrote ${ZADARA_ETC}/kubeconfig.ready"
}

# init_cluster: kubeadm init once the API stayed silent for INIT_QUORUM_WAIT seconds; sets
# INITIALISED=true, or leaves it false when another node's API answered (join instead).
init_cluster() {
    require_config kubeadm-init.yaml
    STEP="make sure no other node initialised the cluster"
    if wait_until "$INIT_QUORUM_WAIT" "another node's API (kubeadm init only if none answers)" api_answers; then
        return 0
    fi
    local attempt
    for ((attempt = 1; ; attempt++)); do
        if api_answers; then
            return 0
        fi
        STEP="kubeadm init (attempt ${attempt} of ${INIT_ATTEMPTS})"
        if run_logged kubeadm init --config "${ZADARA_ETC}/kubeadm-init.yaml" --upload-certs \
            --skip-token-print --skip-certificate-key-print; then
            break
        fi
        if ((attempt >= INIT_ATTEMPTS)); then
            fail "kubeadm init failed ${attempt} times"
        fi
        log "kubeadm init attempt ${attempt} failed"
        reset_node
    done
    INITIALISED=true
    publish_kubeconfig
}

bootstrap_control_plane() {
    STEP="check the control-plane files"
    require_config kubeadm-join-control-plane.yaml
    save_cluster_ca

    STEP="check whether the API already answers"
    if api_answers; then
        log "the API already answers: joining as an additional control-plane node"
    else
        elect_leader
        if [[ $AM_LEADER == true ]]; then
            log "this node is the leader: initialising the cluster unless another node's API answers"
            init_cluster
        fi
        if [[ $INITIALISED == false ]]; then
            wait_for_api
        fi
    fi
    if [[ $INITIALISED == false ]]; then
        join_cluster control-plane
        publish_kubeconfig
    fi
    forget_cluster_ca_backup
}

remove_control_plane_files() {
    STEP="remove control-plane files from a worker"
    local name
    for name in kubeadm-init.yaml kubeadm-join-control-plane.yaml kubeconfig kubeconfig.ready; do
        rm -f "${ZADARA_ETC:?}/${name}"
    done
    # A worker never holds the CA key; an existing ca.crt would also fail kubeadm's preflight.
    rm -f "${KUBERNETES_ETC:?}/pki/ca.key" "${KUBERNETES_ETC:?}/pki/ca.crt"
}

bootstrap_worker() {
    remove_control_plane_files
    require_config kubeadm-join-worker.yaml
    wait_for_api
    join_cluster worker
    # It holds the bootstrap token, which the node never needs again.
    rm -f "${ZADARA_ETC}/kubeadm-join-worker.yaml"
}

main() {
    init_logging
    STEP="read node.env"
    load_node_env
    rm -f "${ZADARA_ETC}/BOOT_FAILED"
    if [[ -f "${STATE_DIR}/boot-complete" ]]; then
        log "this node is already bootstrapped (${STATE_DIR}/boot-complete); nothing to do"
        return 0
    fi
    log "bootstrap of ${ROLE} node for cluster ${CLUSTER_NAME} (EKS-D ${KUBERNETES_MINOR})"

    read_instance_identity
    write_kubelet_defaults

    if [[ $ROLE == control-plane ]]; then
        bootstrap_control_plane
    else
        bootstrap_worker
    fi

    STEP="write the boot-complete marker"
    mkdir -p "$STATE_DIR"
    date -u +%Y-%m-%dT%H:%M:%SZ >"${STATE_DIR}/boot-complete"
    log "bootstrap complete"
}

main "$@"
