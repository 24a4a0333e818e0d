#!/usr/bin/env bash
# Shared by the rehearsal's node tools (sourced). Every node process gets, from the harness:
#   REHEARSE_NODE_ROOT    the node's root directory (its "/")
#   REHEARSE_NODE_IP      the node's address (a loopback address of its own)
#   REHEARSE_INSTANCE_ID  the instance id the metadata service answers
#   REHEARSE_HOSTNAME     the host name (kubeadm names the Node and the etcd member after it)
#   REHEARSE_CLUSTER_DIR  what every node sees: the fake API's Node objects, the node roots by address
#   REHEARSE_API_HOST     the API load balancer's address (in messages; any other address on 6443 is the API)
#   REHEARSE_REAL_BIN     real etcd, etcdctl, curl and openssl

# record <tool> <args...>: one line per call in the node's call log.
record() {
    printf '%s\n' "$*" >>"${REHEARSE_NODE_ROOT}/var/log/rehearse-calls.log"
}

# etcd_alive <node root>: the etcd process of that node runs.
etcd_alive() {
    local pid
    pid=$(cat "$1/run/rehearse-etcd.pid" 2>/dev/null) || return 1
    local stat
    # A process nobody reaped yet (a zombie) is dead: the machine's init may be slow to reap.
    stat=$(cat "/proc/${pid}/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# api_serves <node root>: that node runs a kube-apiserver (manifest in place) on a live etcd.
api_serves() {
    [[ -f "$1/etc/kubernetes/manifests/kube-apiserver.yaml" ]] && etcd_alive "$1"
}

# cluster_api_up: some node behind the load balancer serves the API.
cluster_api_up() {
    local file
    for file in "${REHEARSE_CLUSTER_DIR}"/roots/*; do
        [[ -f $file ]] || continue
        if api_serves "$(cat "$file")"; then
            return 0
        fi
    done
    return 1
}

# start_etcd <initial-cluster> <new|existing>: this node's etcd as kubeadm's static pod runs it
# (TLS with the node's etcd certificates), in the background; its pid in run/rehearse-etcd.pid.
# With a data directory that holds a member, etcd ignores the two arguments (a restart).
start_etcd() {
    local initial=$1 state=$2
    local pki="${KUBERNETES_ETC:?}/pki/etcd" data="${ETCD_DATA_DIR:?}" ip=$REHEARSE_NODE_IP name=$REHEARSE_HOSTNAME
    mkdir -p "$data" "${REHEARSE_NODE_ROOT}/run" "${REHEARSE_NODE_ROOT}/var/log"
    # etcd reads ETCD_* variables as flags: the node's ETCD_DATA_DIR & co. are not for it.
    setsid env -i PATH=/usr/bin:/bin "${REHEARSE_REAL_BIN}/etcd" --name "$name" --data-dir "$data" \
        --listen-client-urls "https://${ip}:2379" --advertise-client-urls "https://${ip}:2379" \
        --listen-peer-urls "https://${ip}:2380" --initial-advertise-peer-urls "https://${ip}:2380" \
        --initial-cluster "$initial" --initial-cluster-state "$state" --initial-cluster-token rehearsal \
        --client-cert-auth --trusted-ca-file "${pki}/ca.crt" --cert-file "${pki}/server.crt" --key-file "${pki}/server.key" \
        --peer-client-cert-auth --peer-trusted-ca-file "${pki}/ca.crt" --peer-cert-file "${pki}/peer.crt" --peer-key-file "${pki}/peer.key" \
        --heartbeat-interval 50 --election-timeout 500 --snapshot-count 1000 --quota-backend-bytes 67108864 \
        --logger zap --log-level warn </dev/null >>"${REHEARSE_NODE_ROOT}/var/log/etcd.log" 2>&1 &
    echo "$!" >"${REHEARSE_NODE_ROOT}/run/rehearse-etcd.pid"
}
