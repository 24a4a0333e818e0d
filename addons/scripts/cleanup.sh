#!/usr/bin/env bash
#
# cleanup.sh - removes what the in-cluster controllers created in the cloud, so that
# `pulumi destroy` can delete the network afterwards and nothing is left behind.
#
# Runs on the first control-plane node (the ClusterCleanup resource's delete step, fed to
# `bash -s` on stdin) BEFORE Pulumi deletes the add-on releases and the nodes. It can also be run
# by hand from any host that has kubectl, the aws CLI and python3 (set CLOUD_API_URL there).
#
#   1. Kubernetes side (skipped with a log line when the API server does not answer):
#      - deletes every Service of type LoadBalancer and every Ingress, so the load balancer
#        controller / cloud controller delete their NLBs, ALBs, target groups and SGs;
#      - deletes every PVC whose PV has reclaimPolicy Delete, then the StatefulSets with volume
#        claim templates (they would re-create claims) and the pods that mount those claims, so
#        the EBS CSI driver detaches and deletes the volumes. Volumes of Retain PVs are kept.
#   2. Cloud side, checked through the zCompute API with the aws CLI until nothing is left:
#      - load balancers and target groups tagged for the cluster (elbv2.k8s.aws/cluster=<name>,
#        kubernetes.io/cluster/<name>=owned or KubernetesCluster=<name>),
#      - volumes created by the CSI driver for a PV that step 1 deleted (tag CSIVolumeName);
#        other volumes tagged for the cluster (Retain PVs, PVs deleted earlier, API server
#        down) are only listed as kept, unless DELETE_ORPHAN_VOLUMES=true,
#      - security groups tagged for the cluster.
#      The controllers get GRACE_PERIOD seconds to do it themselves; after that (or at once when
#      nothing was deleted in Kubernetes, or the API server is down) this script deletes the
#      leftovers: listeners, then load balancers, then detached target groups, available
#      volumes, and security groups once no load balancer is left (rules of other groups that
#      reference them are revoked first). The stack's own resources (KEEP_*) are never touched.
#   3. On TIMEOUT it exits 1 and names every leftover with the command that removes it.
#
# Environment
#   CLUSTER_NAME           Kubernetes cluster name (the `environment` of the stack)   (required)
#   TIMEOUT                seconds for the whole cloud-side wait (default 600)
#   POLL_INTERVAL          seconds between two polls, fractions allowed (default 5)
#   GRACE_PERIOD           seconds the controllers get before leftovers are deleted (default 120)
#   KUBECONFIG_PATH        kubeconfig with cluster-admin rights (default /etc/kubernetes/admin.conf)
#   KEEP_LOAD_BALANCERS    ARNs of the stack's own load balancers (space or comma separated)
#   KEEP_TARGET_GROUPS     ARNs of the stack's own target groups
#   KEEP_SECURITY_GROUPS   ids of the stack's own security groups
#   KEEP_VOLUMES           volume ids never to delete
#   DELETE_ORPHAN_VOLUMES  true: also delete the cluster's volumes that are not of a PV this
#                          script deleted: Retain PVs' volumes, volumes whose PV is already
#                          gone, every volume when the API server is down (default false)
#   CLOUD_API_URL          https://<zCompute API host>; default: cluster_url of the metadata
#   CLOUD_API_INSECURE     true to skip TLS verification of the cloud API (default from node.env)
#   CLOUD_API_CA_BUNDLE    CA bundle file for the cloud API (default from node.env)
#   AWS_REGION             default us-east-1
#
# Exit codes: 0 clean, 1 leftovers at timeout, 2 bad settings or missing tools.

set -euo pipefail
shopt -s nullglob

CLUSTER_NAME="${CLUSTER_NAME:-}"
TIMEOUT="${TIMEOUT:-600}"
POLL_INTERVAL="${POLL_INTERVAL:-5}"
GRACE_PERIOD="${GRACE_PERIOD:-120}"
KUBECONFIG_PATH="${KUBECONFIG_PATH:-/etc/kubernetes/admin.conf}"
KEEP_LOAD_BALANCERS="${KEEP_LOAD_BALANCERS:-}"
KEEP_TARGET_GROUPS="${KEEP_TARGET_GROUPS:-}"
KEEP_SECURITY_GROUPS="${KEEP_SECURITY_GROUPS:-}"
KEEP_VOLUMES="${KEEP_VOLUMES:-}"
DELETE_ORPHAN_VOLUMES="${DELETE_ORPHAN_VOLUMES:-false}"
CLOUD_API_URL="${CLOUD_API_URL:-}"
CLOUD_API_INSECURE="${CLOUD_API_INSECURE:-}"
CLOUD_API_CA_BUNDLE="${CLOUD_API_CA_BUNDLE:-}"
AWS_REGION="${AWS_REGION:-us-east-1}"
METADATA_URL="${METADATA_URL:-http://169.254.169.254}"
NODE_ENV_FILE="${NODE_ENV_FILE:-/etc/kubernetes/zadara/node.env}"
PROGRESS_INTERVAL="${PROGRESS_INTERVAL:-30}"

# sudo and cron use a short PATH; kubectl and aws often live in /usr/local/bin.
PATH="${PATH}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"
export AWS_PAGER="" AWS_REGION

WORK_DIR=""
API_REACHABLE=false
K8S_DELETIONS=0
# PVs whose volumes the CSI driver must delete (also as a set) / volumes of Retain PVs
# (filled by step 1).
DELETE_PV_NAMES=()
declare -A DELETING=()
RETAINED_VOLUMES=()
# What the last poll found (tab-separated lines, see the list_* functions).
LEFT_LBS=""
LEFT_TGS=""
LEFT_VOLUMES=""
UNKNOWN_VOLUMES=""
LEFT_SGS=""
CLOUD_ERROR=""
# Delete attempts and their last error, by resource id.
declare -A ATTEMPTS=()
declare -A LAST_ERRORS=()

log() {
    local stamp
    TZ=UTC0 printf -v stamp '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    printf '%s [cleanup] %s\n' "$stamp" "$*" >&2
}

die() {
    log "ERROR: $2"
    exit "$1"
}

# One Python program for every JSON document this script reads (python3 ships with Ubuntu).
# Usage: helper <mode> <args...>, the document on stdin (or files named in the args).
HELPER_PY=$(
    cat <<'PY'
import json, sys

def load(stream):
    text = stream.read()
    return json.loads(text) if text.strip() else {}

def load_file(path):
    with open(path) as f:
        return load(f)

def words(text):
    return [w for w in text.replace(",", " ").split() if w]

def tag_map(tags):
    return {t.get("Key", ""): t.get("Value", "") for t in (tags or [])}

def for_cluster(tags, cluster):
    # Only what a controller created for THIS cluster: "shared" marks the stack's own resources.
    return (tags.get("elbv2.k8s.aws/cluster") == cluster
            or tags.get("kubernetes.io/cluster/" + cluster) == "owned"
            or tags.get("KubernetesCluster") == cluster)

def meta(item):
    m = item.get("metadata", {})
    return m.get("namespace", ""), m.get("name", "")

def out(*fields):
    print("\t".join(str(f) if f not in (None, "") else "-" for f in fields))

mode, args = sys.argv[1], sys.argv[2:]

if mode == "cluster-url":
    print(str(load(sys.stdin).get("cluster_url") or "").rstrip("/"))
elif mode == "lb-services":
    for item in load(sys.stdin).get("items", []):
        if item.get("spec", {}).get("type") == "LoadBalancer":
            out(*meta(item))
elif mode == "names":
    for item in load(sys.stdin).get("items", []):
        out(*meta(item))
elif mode == "sts-with-claims":
    for item in load(sys.stdin).get("items", []):
        if item.get("spec", {}).get("volumeClaimTemplates"):
            out(*meta(item))
elif mode == "pvs":
    # policy, pv name, claim namespace, claim name, cloud volume id
    for item in load(sys.stdin).get("items", []):
        spec = item.get("spec", {})
        claim = spec.get("claimRef") or {}
        volume = (spec.get("csi") or {}).get("volumeHandle") \
            or (spec.get("awsElasticBlockStore") or {}).get("volumeID", "")
        volume = volume.rsplit("/", 1)[-1]
        out(spec.get("persistentVolumeReclaimPolicy", "Delete"), item["metadata"]["name"],
            claim.get("namespace"), claim.get("name"), volume)
elif mode == "pods-using":
    wanted = set(args)
    for item in load(sys.stdin).get("items", []):
        ns, name = meta(item)
        for vol in item.get("spec", {}).get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and ns + "/" + claim in wanted:
                out(ns, name)
                break
elif mode == "field":
    # field <list key> <item key>: one value a line
    for item in load(sys.stdin).get(args[0], []) or []:
        if item.get(args[1]):
            print(item[args[1]])
elif mode == "load-balancers":
    # load-balancers <cluster> <keep> <describe-load-balancers file> <describe-tags files...>
    cluster, keep = args[0], set(words(args[1]))
    tags = {}
    for path in args[3:]:
        for d in load_file(path).get("TagDescriptions", []):
            tags[d.get("ResourceArn")] = tag_map(d.get("Tags"))
    for lb in load_file(args[2]).get("LoadBalancers", []):
        arn = lb.get("LoadBalancerArn")
        if arn not in keep and for_cluster(tags.get(arn, {}), cluster):
            out(arn, lb.get("LoadBalancerName"), (lb.get("State") or {}).get("Code"))
elif mode == "target-groups":
    # target-groups <cluster> <keep tgs> <keep lbs> <describe-target-groups file> <tag files...>
    cluster, keep, keep_lbs = args[0], set(words(args[1])), set(words(args[2]))
    tags = {}
    for path in args[4:]:
        for d in load_file(path).get("TagDescriptions", []):
            tags[d.get("ResourceArn")] = tag_map(d.get("Tags"))
    for tg in load_file(args[3]).get("TargetGroups", []):
        arn, lbs = tg.get("TargetGroupArn"), tg.get("LoadBalancerArns") or []
        if arn in keep or keep_lbs.intersection(lbs):
            continue
        if for_cluster(tags.get(arn, {}), cluster):
            out(arn, tg.get("TargetGroupName"), ",".join(lbs))
elif mode == "volumes":
    # volumes <keep> <describe-volumes files...>: id, state, attached instance, PV name
    keep, seen = set(words(args[0])), set()
    for path in args[1:]:
        for v in load_file(path).get("Volumes", []):
            vid = v.get("VolumeId")
            if vid in keep or vid in seen:
                continue
            seen.add(vid)
            attached = ",".join(a.get("InstanceId", "") for a in v.get("Attachments") or [])
            out(vid, v.get("State"), attached, tag_map(v.get("Tags")).get("CSIVolumeName"))
elif mode == "security-groups":
    # security-groups <cluster> <keep>: id, name
    cluster, keep = args[0], set(words(args[1]))
    for g in load(sys.stdin).get("SecurityGroups", []):
        if g.get("GroupId") not in keep and for_cluster(tag_map(g.get("Tags")), cluster):
            out(g.get("GroupId"), g.get("GroupName"))
elif mode == "sg-refs":
    # sg-refs <group id>: rules of OTHER groups that reference it (they block its deletion)
    target = args[0]
    for g in load(sys.stdin).get("SecurityGroups", []):
        if g.get("GroupId") == target:
            continue
        for direction, key in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
            for perm in g.get(key) or []:
                pairs = [p for p in perm.get("UserIdGroupPairs") or [] if p.get("GroupId") == target]
                if not pairs:
                    continue
                rule = {"IpProtocol": perm.get("IpProtocol"),
                        "UserIdGroupPairs": [{"GroupId": target}]}
                for port in ("FromPort", "ToPort"):
                    if perm.get(port) is not None:
                        rule[port] = perm[port]
                print("\t".join([g["GroupId"], direction, json.dumps([rule])]))
else:
    sys.exit("unknown helper mode " + mode)
PY
)

helper() {
    python3 -c "$HELPER_PY" "$@"
}

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

check_settings() {
    [[ $CLUSTER_NAME =~ ^[a-z][a-z0-9-]*$ ]] ||
        die 2 "CLUSTER_NAME must be set to the cluster name (lowercase letters, digits, '-'), got '${CLUSTER_NAME}'"
    is_uint "$TIMEOUT" || die 2 "TIMEOUT must be whole seconds, got '${TIMEOUT}'"
    is_uint "$GRACE_PERIOD" || die 2 "GRACE_PERIOD must be whole seconds, got '${GRACE_PERIOD}'"
    [[ $POLL_INTERVAL =~ ^[0-9]+([.][0-9]+)?$ ]] || die 2 "POLL_INTERVAL must be seconds, got '${POLL_INTERVAL}'"
    local tool
    for tool in aws python3; do
        command -v "$tool" >/dev/null || die 2 "${tool} is not installed on this host; it is needed to check the cloud side"
    done
}

# node_env_value <key>: value of KEY='value' in the node's node.env, empty when absent.
node_env_value() {
    [[ -r $NODE_ENV_FILE ]] || return 0
    sed -n "s/^$1='\\(.*\\)'\$/\\1/p" "$NODE_ENV_FILE" | tail -n 1
}

resolve_cloud_api() {
    if [[ -z $CLOUD_API_INSECURE ]]; then
        CLOUD_API_INSECURE=$(node_env_value CLOUD_API_INSECURE)
    fi
    if [[ -z $CLOUD_API_CA_BUNDLE ]]; then
        CLOUD_API_CA_BUNDLE=$(node_env_value CLOUD_API_CA_BUNDLE)
    fi
    if [[ -n $CLOUD_API_URL ]]; then
        CLOUD_API_URL=${CLOUD_API_URL%/}
        return 0
    fi
    local document
    if ! document=$(curl -sf --max-time 10 "${METADATA_URL}/openstack/latest/meta_data.json"); then
        die 2 "cannot read ${METADATA_URL}/openstack/latest/meta_data.json; set CLOUD_API_URL=https://<zCompute API host> and run again"
    fi
    CLOUD_API_URL=$(printf '%s' "$document" | helper cluster-url) || CLOUD_API_URL=""
    [[ -n $CLOUD_API_URL ]] ||
        die 2 "the instance metadata has no cluster_url; set CLOUD_API_URL=https://<zCompute API host> and run again"
}

# cloud <ec2|elbv2> <operation> <args...>: aws CLI call against the zCompute API, JSON output.
cloud() {
    local service=$1
    shift
    local -a tls=()
    if [[ $CLOUD_API_INSECURE == true ]]; then
        tls=(--no-verify-ssl)
    elif [[ -n $CLOUD_API_CA_BUNDLE ]]; then
        tls=(--ca-bundle "$CLOUD_API_CA_BUNDLE")
    fi
    aws --region "$AWS_REGION" --endpoint-url "${CLOUD_API_URL}/api/v2/aws/${service}" \
        "${tls[@]}" --output json "$service" "$@"
}

# The command a person runs by hand for the same call (printed in the timeout report).
by_hand() {
    local service=$1
    shift
    printf 'aws --region %s --endpoint-url %s/api/v2/aws/%s %s %s' \
        "$AWS_REGION" "$CLOUD_API_URL" "$service" "$service" "$*"
}

# ---------------------------------------------------------------------------------------------
# Step 1: Kubernetes objects
# ---------------------------------------------------------------------------------------------

kube() {
    kubectl --kubeconfig "$KUBECONFIG_PATH" --request-timeout=30s "$@"
}

# kube_delete <kind> <namespace> <name>
kube_delete() {
    log "deleting ${1} ${2}/${3}"
    if kube delete "$1" --namespace "$2" "$3" --wait=false --ignore-not-found >/dev/null; then
        K8S_DELETIONS=$((K8S_DELETIONS + 1))
    else
        log "WARNING: could not delete ${1} ${2}/${3}; the cloud-side check below still catches its resources"
    fi
}

# delete_listed <kind> <lines "namespace<TAB>name">
delete_listed() {
    local kind=$1 ns name
    while IFS=$'\t' read -r ns name; do
        if [[ -n $name ]]; then
            kube_delete "$kind" "$ns" "$name"
        fi
    done <<<"$2"
}

kubernetes_cleanup() {
    if ! command -v kubectl >/dev/null; then
        log "kubectl is not installed here: skipping the Kubernetes side, going on with the cloud-side checks"
        return 0
    fi
    if ! kube get --raw=/readyz >/dev/null 2>&1; then
        log "the API server does not answer (kubeconfig ${KUBECONFIG_PATH}): skipping the Kubernetes side, going on with the cloud-side checks"
        return 0
    fi
    API_REACHABLE=true
    log "API server reachable: deleting LoadBalancer Services, Ingresses and PVCs with reclaimPolicy Delete"

    local services ingresses statefulsets pvs pods
    if ! services=$(kube get services --all-namespaces -o json | helper lb-services) ||
        ! ingresses=$(kube get ingresses --all-namespaces -o json | helper names) ||
        ! statefulsets=$(kube get statefulsets --all-namespaces -o json | helper sts-with-claims) ||
        ! pvs=$(kube get persistentvolumes -o json | helper pvs) ||
        ! pods=$(kube get pods --all-namespaces -o json); then
        log "WARNING: listing Kubernetes objects failed half-way; going on with the cloud-side checks"
        API_REACHABLE=false
        return 0
    fi

    delete_listed service "$services"
    delete_listed ingress "$ingresses"

    local policy pv claim_ns claim volume
    local -a claims=()
    while IFS=$'\t' read -r policy pv claim_ns claim volume; do
        [[ -n $pv ]] || continue
        if [[ $policy == Delete ]]; then
            DELETE_PV_NAMES+=("$pv")
            DELETING[$pv]=1
            if [[ $claim != - ]]; then
                claims+=("${claim_ns}/${claim}")
            fi
        elif [[ $volume != - ]]; then
            RETAINED_VOLUMES+=("$volume")
            log "keeping volume ${volume} of PV ${pv} (reclaimPolicy ${policy})"
        fi
    done <<<"$pvs"

    if ((${#claims[@]} > 0)); then
        # Claims first: once marked for deletion no new pod can be scheduled with them. A claim
        # stays until no pod uses it, and a StatefulSet would create it again: those go next.
        local entry
        for entry in "${claims[@]}"; do
            kube_delete persistentvolumeclaim "${entry%%/*}" "${entry#*/}"
        done
        delete_listed statefulset "$statefulsets"
        delete_listed pod "$(printf '%s' "$pods" | helper pods-using "${claims[@]}")"
    fi
    log "Kubernetes side done: ${K8S_DELETIONS} deletion(s) requested"
}

# ---------------------------------------------------------------------------------------------
# Step 2: the cloud side
# ---------------------------------------------------------------------------------------------

# describe_tags <name prefix> <arns...>: elbv2 describe-tags in batches of 20 (the API's limit),
# one file per batch in $WORK_DIR.
describe_tags() {
    local prefix=$1
    shift
    local -a arns=("$@")
    local i
    rm -f "${WORK_DIR}/${prefix}"-tags-*.json
    for ((i = 0; i < ${#arns[@]}; i += 20)); do
        cloud elbv2 describe-tags --resource-arns "${arns[@]:i:20}" >"${WORK_DIR}/${prefix}-tags-${i}.json" || return 1
    done
}

# Sets LEFT_LBS to "arn<TAB>name<TAB>state" lines.
list_load_balancers() {
    local -a arns=()
    cloud elbv2 describe-load-balancers >"${WORK_DIR}/lbs.json" || return 1
    mapfile -t arns < <(helper field LoadBalancers LoadBalancerArn <"${WORK_DIR}/lbs.json")
    describe_tags lb "${arns[@]}" || return 1
    LEFT_LBS=$(helper load-balancers "$CLUSTER_NAME" "$KEEP_LOAD_BALANCERS" "${WORK_DIR}/lbs.json" \
        "${WORK_DIR}"/lb-tags-*.json) || return 1
}

# Sets LEFT_TGS to "arn<TAB>name<TAB>load balancer arns" lines.
list_target_groups() {
    local -a arns=()
    cloud elbv2 describe-target-groups >"${WORK_DIR}/tgs.json" || return 1
    mapfile -t arns < <(helper field TargetGroups TargetGroupArn <"${WORK_DIR}/tgs.json")
    describe_tags tg "${arns[@]}" || return 1
    LEFT_TGS=$(helper target-groups "$CLUSTER_NAME" "$KEEP_TARGET_GROUPS" "$KEEP_LOAD_BALANCERS" \
        "${WORK_DIR}/tgs.json" "${WORK_DIR}"/tg-tags-*.json) || return 1
}

# Sets LEFT_VOLUMES (to wait for / delete: volumes of the PVs step 1 deleted, or every one with
# DELETE_ORPHAN_VOLUMES=true) and UNKNOWN_VOLUMES (kept: the others) to
# "id<TAB>state<TAB>instance<TAB>pv name" lines.
list_volumes() {
    rm -f "${WORK_DIR}"/vols-*.json
    cloud ec2 describe-volumes --filters "Name=tag:kubernetes.io/cluster/${CLUSTER_NAME},Values=owned" \
        >"${WORK_DIR}/vols-owned.json" || return 1
    cloud ec2 describe-volumes --filters "Name=tag:KubernetesCluster,Values=${CLUSTER_NAME}" \
        >"${WORK_DIR}/vols-legacy.json" || return 1
    if ((${#DELETE_PV_NAMES[@]} > 0)); then
        local names
        names=$(IFS=,; printf '%s' "${DELETE_PV_NAMES[*]}")
        cloud ec2 describe-volumes --filters "Name=tag:ebs.csi.aws.com/cluster,Values=true" \
            "Name=tag:CSIVolumeName,Values=${names}" >"${WORK_DIR}/vols-csi.json" || return 1
    fi
    local found line id state instance pv
    found=$(helper volumes "${KEEP_VOLUMES} ${RETAINED_VOLUMES[*]}" "${WORK_DIR}"/vols-*.json) || return 1
    LEFT_VOLUMES=""
    UNKNOWN_VOLUMES=""
    while IFS= read -r line; do
        IFS=$'\t' read -r id state instance pv <<<"$line"
        [[ -n $id ]] || continue
        if [[ $DELETE_ORPHAN_VOLUMES == true || ($API_REACHABLE == true && -n ${DELETING[$pv]:-}) ]]; then
            LEFT_VOLUMES+="${line}"$'\n'
        else
            UNKNOWN_VOLUMES+="${line}"$'\n'
        fi
    done <<<"$found"
}

# Sets LEFT_SGS to "id<TAB>name" lines; keeps the full listing for sg-refs.
list_security_groups() {
    cloud ec2 describe-security-groups >"${WORK_DIR}/sgs.json" || return 1
    LEFT_SGS=$(helper security-groups "$CLUSTER_NAME" "$KEEP_SECURITY_GROUPS" <"${WORK_DIR}/sgs.json") || return 1
}

# Fills every LEFT_* list; returns 1 (with CLOUD_ERROR set) when the cloud API fails.
poll_cloud() {
    local errors="${WORK_DIR}/errors.txt"
    if list_load_balancers 2>"$errors" && list_target_groups 2>"$errors" &&
        list_volumes 2>"$errors" && list_security_groups 2>"$errors"; then
        CLOUD_ERROR=""
        return 0
    fi
    CLOUD_ERROR=$(tail -n 3 "$errors" | tr '\n' ' ')
    return 1
}

first_column() {
    cut -f1 <<<"$1" | paste -sd ' ' -
}

summary() {
    local text=""
    if [[ -n $LEFT_LBS ]]; then text+="load balancers: $(first_column "$LEFT_LBS"); "; fi
    if [[ -n $LEFT_TGS ]]; then text+="target groups: $(first_column "$LEFT_TGS"); "; fi
    if [[ -n $LEFT_VOLUMES ]]; then text+="volumes: $(first_column "$LEFT_VOLUMES"); "; fi
    if [[ -n $LEFT_SGS ]]; then text+="security groups: $(first_column "$LEFT_SGS"); "; fi
    printf '%s' "${text%; }"
}

# attempt <key> <what> <command...>: one delete call. Logs the first try and the first failure
# only (it is retried every round); the last error is kept for the timeout report.
attempt() {
    local key=$1 what=$2
    shift 2
    local tries=${ATTEMPTS[$key]:-0} error
    ATTEMPTS[$key]=$((tries + 1))
    if ((tries == 0)); then
        log "$what"
    fi
    if error=$("$@" 2>&1 >/dev/null); then
        return 0
    fi
    LAST_ERRORS[$key]=${error//$'\n'/ }
    if ((tries == 0)); then
        log "WARNING: failed, retrying every round: ${LAST_ERRORS[$key]}"
    fi
    return 1
}

# Deletes what the controllers left: listeners and load balancers first, then what they held.
delete_leftovers() {
    local arn name state lbs listener instance pv id
    while IFS=$'\t' read -r arn name state; do
        [[ -n $arn ]] || continue
        while read -r listener; do
            [[ -n $listener ]] || continue
            attempt "$listener" "deleting listener ${listener}" \
                cloud elbv2 delete-listener --listener-arn "$listener" || true
        done < <(cloud elbv2 describe-listeners --load-balancer-arn "$arn" 2>/dev/null | helper field Listeners ListenerArn || true)
        attempt "$arn" "deleting load balancer ${name} (${arn})" \
            cloud elbv2 delete-load-balancer --load-balancer-arn "$arn" || true
    done <<<"$LEFT_LBS"

    while IFS=$'\t' read -r arn name lbs; do
        [[ -n $arn ]] || continue
        if [[ $lbs != - ]]; then
            continue # still attached: its load balancer goes first
        fi
        attempt "$arn" "deleting target group ${name} (${arn})" \
            cloud elbv2 delete-target-group --target-group-arn "$arn" || true
    done <<<"$LEFT_TGS"

    while IFS=$'\t' read -r id state instance pv; do
        [[ -n $id ]] || continue
        if [[ $state != available ]]; then
            continue # in use: wait until its pod is gone and the CSI driver detaches it
        fi
        attempt "$id" "deleting volume ${id} (PV ${pv})" cloud ec2 delete-volume --volume-id "$id" || true
    done <<<"$LEFT_VOLUMES"

    if [[ -n $LEFT_LBS ]]; then
        return 0 # security groups stay in use until the load balancers are gone
    fi
    local group direction permissions
    while IFS=$'\t' read -r id name; do
        [[ -n $id ]] || continue
        while IFS=$'\t' read -r group direction permissions; do
            [[ -n $group ]] || continue
            attempt "${group}>${id}" "revoking the ${direction} rule of ${group} that references ${id}" \
                cloud ec2 "revoke-security-group-${direction}" --group-id "$group" --ip-permissions "$permissions" || true
        done < <(helper sg-refs "$id" <"${WORK_DIR}/sgs.json")
        attempt "$id" "deleting security group ${name} (${id})" cloud ec2 delete-security-group --group-id "$id" || true
    done <<<"$LEFT_SGS"
}

# last_error <key>: " (last error: ...)" when a delete of it failed.
last_error() {
    if [[ -n ${LAST_ERRORS[$1]:-} ]]; then
        printf ' (last error: %s)' "${LAST_ERRORS[$1]}"
    fi
}

report_unknown_volumes() {
    [[ -n $UNKNOWN_VOLUMES ]] || return 0
    if [[ $API_REACHABLE == true ]]; then
        log "WARNING: volumes tagged for ${CLUSTER_NAME} were kept: they belong to no PV this cleanup deleted (Retain PVs, or PVs deleted earlier)."
    else
        log "WARNING: volumes tagged for ${CLUSTER_NAME} were kept: the API server is down, so their PV's reclaim policy is unknown."
    fi
    log "Delete the ones you do not need by hand (or run again with DELETE_ORPHAN_VOLUMES=true):"
    local id state instance pv
    while IFS=$'\t' read -r id state instance pv; do
        [[ -n $id ]] || continue
        log "  volume ${id} (${state}, PV ${pv}): $(by_hand ec2 delete-volume --volume-id "$id")"
    done <<<"$UNKNOWN_VOLUMES"
}

report_timeout() {
    log "ERROR: timed out after ${TIMEOUT}s; these cloud resources of cluster ${CLUSTER_NAME} are still there:"
    if [[ -n $CLOUD_ERROR ]]; then
        log "  (the last cloud API call failed: ${CLOUD_ERROR})"
    fi
    local arn name state lbs id instance pv
    while IFS=$'\t' read -r arn name state; do
        [[ -n $arn ]] || continue
        log "  load balancer ${name} ${arn} (${state})$(last_error "$arn"): $(by_hand elbv2 delete-load-balancer --load-balancer-arn "$arn")"
    done <<<"$LEFT_LBS"
    while IFS=$'\t' read -r arn name lbs; do
        [[ -n $arn ]] || continue
        log "  target group ${name} ${arn}$(last_error "$arn"): $(by_hand elbv2 delete-target-group --target-group-arn "$arn")"
    done <<<"$LEFT_TGS"
    while IFS=$'\t' read -r id state instance pv; do
        [[ -n $id ]] || continue
        if [[ $state == in-use ]]; then
            log "  volume ${id} (in-use on ${instance}, PV ${pv}): $(by_hand ec2 detach-volume --volume-id "$id" --force), then $(by_hand ec2 delete-volume --volume-id "$id")"
        else
            log "  volume ${id} (${state}, PV ${pv})$(last_error "$id"): $(by_hand ec2 delete-volume --volume-id "$id")"
        fi
    done <<<"$LEFT_VOLUMES"
    while IFS=$'\t' read -r id name; do
        [[ -n $id ]] || continue
        log "  security group ${name} ${id}$(last_error "$id"): $(by_hand ec2 delete-security-group --group-id "$id") (after the load balancers; remove rules of other groups that reference it first)"
    done <<<"$LEFT_SGS"
    report_unknown_volumes
    log "Remove them by hand with the commands above (or raise TIMEOUT), then run 'pulumi destroy' again."
    exit 1
}

cloud_cleanup() {
    local started=$SECONDS
    local deadline=$((started + TIMEOUT))
    local grace_end=$started
    if ((K8S_DELETIONS > 0)); then
        grace_end=$((started + GRACE_PERIOD))
        log "giving the controllers up to ${GRACE_PERIOD}s to delete their cloud resources"
    fi
    log "checking the cloud side through ${CLOUD_API_URL} (timeout ${TIMEOUT}s, poll every ${POLL_INTERVAL}s)"

    local last_summary="" last_progress=$started current
    while true; do
        if poll_cloud; then
            current=$(summary)
            if [[ -z $current ]]; then
                log "cloud side clean: no load balancer, target group, volume or security group of ${CLUSTER_NAME} is left"
                report_unknown_volumes
                return 0
            fi
            if [[ $current != "$last_summary" ]] || ((SECONDS - last_progress >= PROGRESS_INTERVAL)); then
                log "waiting ($((SECONDS - started))s): ${current}"
                last_summary=$current
                last_progress=$SECONDS
            fi
        else
            log "WARNING: the cloud API call failed (${CLOUD_ERROR}); retrying"
        fi
        if ((SECONDS >= deadline)); then
            report_timeout
        fi
        if ((SECONDS >= grace_end)) && [[ -z $CLOUD_ERROR ]]; then
            delete_leftovers
        fi
        sleep "$POLL_INTERVAL"
    done
}

main() {
    check_settings
    WORK_DIR=$(mktemp -d)
    trap 'rm -rf "$WORK_DIR"' EXIT
    log "cleaning up the cloud resources of cluster ${CLUSTER_NAME} before destroy"
    resolve_cloud_api
    kubernetes_cleanup
    cloud_cleanup
    log "done"
}

# Children get /dev/null as stdin: under `bash -s` the rest of stdin is this script itself.
main "$@" </dev/null
