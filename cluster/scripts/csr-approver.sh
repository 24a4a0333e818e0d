#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# csr-approver.sh - approves kubelet certificates by cloud identity. Run each minute by cron on
# every control-plane node (admin.conf, the cloud API with the node's role).
#
# kubeadm binds every bootstrap-token holder to kube-controller-manager's node-client
# auto-approval, which checks only the CSR's shape: a token holder would get a certificate for
# ANY node name, a control-plane node's included. control-plane-up.sh deletes that binding
# (this script deletes it again whenever it reappears, e.g. after kubeadm upgrade) and this
# script decides instead:
#
#   kubernetes.io/kube-apiserver-client-kubelet from system:bootstrap:<token id> (a join):
#     approved only when the subject is exactly O=system:nodes, CN=system:node:<name>, <name>
#     is a running instance of this cluster (tag kubernetes.io/cluster/<cluster>=owned) and no
#     Node <name> exists yet (a joined node renews through its own certificate, never a token).
#   kubernetes.io/kubelet-serving from system:node:<name> (serverTLSBootstrap):
#     approved only when the subject is that node's, the Node exists, <name> is a running
#     instance of this cluster and every DNS name / IP address asked for is that instance's.
#   Anything else that fails a rule is denied; other signers and requesters are left alone.
#
# An instance's names: its instance id, its private DNS name and that name's first label,
# ip-a-b-c-d from its private IP, and its Name tag when no other running instance of the
# cluster has it (control-plane nodes: <env>-master-sa-<n>) - the forms a node's host name, and
# so its Node name, takes.
# Log: /var/log/zadara-eksd-csr-approver.log. Parameters: $ZADARA_ETC/node.env (lib.sh).

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-csr-approver.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLIENT_SIGNER="kubernetes.io/kube-apiserver-client-kubelet"
SERVING_SIGNER="kubernetes.io/kubelet-serving"
AUTOAPPROVE_BINDING="kubeadm:node-autoapprove-bootstrap"

# Running instances of this cluster: name -> instance id, instance id -> private IP and DNS name.
declare -A INSTANCE_BY_NAME=()
declare -A IP_OF=()
declare -A DNS_OF=()
# Pending join requests per requested subject CN: two for one name in a run are both denied.
declare -A CLIENT_REQUESTS=()
APPROVED=0
DENIED=0

read_instances() {
    local listing id ip dns tag
    local -A tagged=() tag_count=()
    listing=$(cloud_aws ec2 describe-instances \
        --filters "Name=tag:kubernetes.io/cluster/${CLUSTER_NAME},Values=owned" "Name=instance-state-name,Values=running" \
        --query "Reservations[].Instances[].[InstanceId,PrivateIpAddress,PrivateDnsName,Tags[?Key=='Name']|[0].Value]" \
        --output text) || return 1
    while read -r id ip dns tag; do
        [[ $id == i-* && -n $ip && -n ${tag:-} && $tag != None ]] || continue
        tag=${tag,,}
        tag_count[$tag]=$((${tag_count[$tag]:-0} + 1))
        tagged[$tag]=$id
    done <<<"$listing"
    for tag in "${!tagged[@]}"; do
        if ((tag_count[$tag] == 1)); then
            INSTANCE_BY_NAME[$tag]=${tagged[$tag]}
        fi
    done
    while read -r id ip dns _; do
        [[ $id == i-* && -n $ip ]] || continue
        [[ $dns == None ]] && dns=""
        IP_OF[$id]=$ip
        DNS_OF[$id]=${dns,,}
        INSTANCE_BY_NAME[$id]=$id
        INSTANCE_BY_NAME["ip-${ip//./-}"]=$id
        if [[ -n $dns ]]; then
            INSTANCE_BY_NAME[${dns,,}]=$id
            INSTANCE_BY_NAME[${dns%%.*}]=$id
        fi
    done <<<"$listing"
}

# csr_subject <request base64>: "CN|O|count of O" of the PEM request.
csr_subject() {
    local subject part cn="" org="" orgs=0
    subject=$(base64 -d <<<"$1" | openssl req -noout -subject -nameopt RFC2253 2>/dev/null) || return 1
    subject=${subject#subject=}
    IFS=',' read -ra parts <<<"$subject"
    for part in "${parts[@]}"; do
        case $part in
            CN=*) cn=${part#CN=} ;;
            O=*)
                org=${part#O=}
                orgs=$((orgs + 1))
                ;;
        esac
    done
    printf '%s|%s|%s\n' "$cn" "$org" "$orgs"
}

# csr_alt_names <request base64>: one "DNS:<name>" or "IP Address:<ip>" a line.
csr_alt_names() {
    base64 -d <<<"$1" | openssl req -noout -text 2>/dev/null |
        awk '/X509v3 Subject Alternative Name/ { getline; print; exit }' |
        tr ',' '\n' | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' | grep -v '^$' || true
}

node_exists() {
    local out
    out=$(kubectl_admin get node "$1" -o name 2>&1) && return 0
    [[ $out == *NotFound* || $out == *"not found"* ]] && return 1
    return 2
}

approve() {
    kubectl_admin certificate approve "$1" >/dev/null
    APPROVED=$((APPROVED + 1))
    log "approved ${1}: ${2}"
}

deny() {
    kubectl_admin certificate deny "$1" >/dev/null
    DENIED=$((DENIED + 1))
    log "DENIED ${1}: ${2}"
}

# node_of_subject <csr> <request>: prints the node name of a well-formed kubelet subject, or
# denies the CSR and returns 1.
node_of_subject() {
    local csr=$1 fields cn org orgs
    if ! fields=$(csr_subject "$2"); then
        deny "$csr" "the request is not a readable PEM certificate request"
        return 1
    fi
    IFS='|' read -r cn org orgs <<<"$fields"
    if [[ $org != system:nodes || $orgs != 1 || $cn != system:node:?* ]]; then
        deny "$csr" "subject CN=${cn} O=${org} is not exactly O=system:nodes, CN=system:node:<name>"
        return 1
    fi
    printf '%s\n' "${cn#system:node:}"
}

decide_client() {
    local csr=$1 requester=$2 request=$3 name id state=0
    name=$(node_of_subject "$csr" "$request") || return 0
    id=${INSTANCE_BY_NAME[$name]:-}
    if [[ -z $id ]]; then
        deny "$csr" "${requester} asks for node ${name}, which is no running instance of cluster ${CLUSTER_NAME}"
        return 0
    fi
    if ((${CLIENT_REQUESTS[$name]:-0} > 1)); then
        deny "$csr" "${CLIENT_REQUESTS[$name]} pending requests ask for node ${name}: one of them is not the instance"
        return 0
    fi
    node_exists "$name" || state=$?
    case $state in
        0) deny "$csr" "${requester} asks for node ${name}, which has already joined (a joined node renews with its own certificate)" ;;
        1) approve "$csr" "node ${name} is instance ${id}, running, not joined yet" ;;
        *) log "cannot tell whether Node ${name} exists; ${csr} stays pending" ;;
    esac
}

decide_serving() {
    local csr=$1 requester=$2 request=$3 name id state=0 entry value
    name=$(node_of_subject "$csr" "$request") || return 0
    if [[ $requester != "system:node:${name}" ]]; then
        deny "$csr" "${requester} asks for a serving certificate of node ${name}"
        return 0
    fi
    id=${INSTANCE_BY_NAME[$name]:-}
    if [[ -z $id ]]; then
        deny "$csr" "node ${name} is no running instance of cluster ${CLUSTER_NAME}"
        return 0
    fi
    node_exists "$name" || state=$?
    if ((state != 0)); then
        log "Node ${name} is not registered (yet); ${csr} stays pending"
        return 0
    fi
    while IFS= read -r entry; do
        [[ -n $entry ]] || continue
        value=${entry#*:}
        case $entry in
            "IP Address:"*) [[ $value == "${IP_OF[$id]}" ]] && continue ;;
            DNS:*)
                value=${value,,}
                [[ $value == "$name" || $value == "$id" || $value == "${DNS_OF[$id]}" || (-n ${DNS_OF[$id]} && $value == "${DNS_OF[$id]%%.*}") ]] && continue
                ;;
        esac
        deny "$csr" "node ${name} (instance ${id}, ${IP_OF[$id]}) asks for ${entry}, which is not its own"
        return 0
    done < <(csr_alt_names "$request")
    approve "$csr" "serving certificate of node ${name} (instance ${id}): every name and address is its own"
}

main() {
    cron_job_start csr-approver
    if kubectl_admin get clusterrolebinding "$AUTOAPPROVE_BINDING" -o name >/dev/null 2>&1; then
        kubectl_admin delete clusterrolebinding "$AUTOAPPROVE_BINDING" --ignore-not-found >/dev/null
        log "deleted ClusterRoleBinding ${AUTOAPPROVE_BINDING} (node client certificates are approved here, by cloud identity)"
    fi
    local listing
    listing=$(kubectl_admin get csr -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.spec.signerName}{"|"}{.spec.username}{"|"}{.status.conditions[*].type}{"|"}{.spec.request}{"\n"}{end}') ||
        fail "could not list the certificate signing requests"
    local csr signer requester conditions request pending=()
    while IFS='|' read -r csr signer requester conditions request; do
        [[ -n $csr && -z $conditions ]] || continue
        if [[ ($signer == "$CLIENT_SIGNER" && $requester == system:bootstrap:*) || ($signer == "$SERVING_SIGNER" && $requester == system:node:*) ]]; then
            pending+=("${csr}|${signer}|${requester}|${request}")
        fi
    done <<<"$listing"
    if ((${#pending[@]} == 0)); then
        return 0
    fi
    resolve_cloud_api || fail "could not read cluster_url from ${METADATA_URL}/openstack/latest/meta_data.json"
    read_instances || fail "could not list the instances of cluster ${CLUSTER_NAME}; ${#pending[@]} requests stay pending"
    local item fields cn
    for item in "${pending[@]}"; do
        IFS='|' read -r csr signer requester request <<<"$item"
        # Only well-formed node subjects count (the others are denied for their shape).
        if [[ $signer == "$CLIENT_SIGNER" ]] && fields=$(csr_subject "$request") && [[ $fields == system:node:?*"|system:nodes|1" ]]; then
            cn=${fields%%|*}
            cn=${cn#system:node:}
            CLIENT_REQUESTS[$cn]=$((${CLIENT_REQUESTS[$cn]:-0} + 1))
        fi
    done
    for item in "${pending[@]}"; do
        IFS='|' read -r csr signer requester request <<<"$item"
        if [[ $signer == "$CLIENT_SIGNER" ]]; then
            decide_client "$csr" "$requester" "$request"
        else
            decide_serving "$csr" "$requester" "$request"
        fi
    done
    log "${APPROVED} approved, ${DENIED} denied"
}

main "$@"
