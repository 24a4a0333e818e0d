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
