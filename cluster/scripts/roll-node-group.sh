#!/usr/bin/env bash
# roll-node-group.sh - replaces every instance of one worker auto scaling group that runs an
# older launch configuration, a batch at a time, while the cluster keeps serving:
#
#   surge: raise desired capacity by up to MAX_SURGE -> wait until the new nodes are Ready ->
#   cordon + drain one old node (evictions honour PodDisruptionBudgets, bounded by DRAIN_TIMEOUT)
#   -> terminate it with a decrement of the desired capacity -> ... -> restore the group's sizes.
#
# At most MAX_SURGE nodes above and MAX_UNAVAILABLE nodes below the desired capacity the group
# had when the roll started. zCompute has no instance refresh, so this script is the roll.
#
# Runs as root on a control-plane node (kubectl with /etc/kubernetes/admin.conf, the aws CLI),
# sent on stdin by the program (lib.sh + drain-node.sh + this file) or by hand next to lib.sh
# and drain-node.sh:   ASG_NAME=dev-workers bash roll-node-group.sh
#
# The cluster autoscaler must not fight the roll: every node of the group gets
# cluster-autoscaler.kubernetes.io/scale-down-disabled=true (plus zadara-eksd/roll=<group>, so
# only annotations this script set are removed) while the roll runs. Desired capacity is only
# ever RAISED with set-desired-capacity (a lowered one would let the group terminate any
# instance, undrained); it goes down only by terminating a drained instance with a decrement.
#
# Idempotent: old instances are those whose launch configuration is not the group's current
# one; the sizes before the roll are kept in ConfigMap kube-system/$STATE_CONFIGMAP, so a run
# after an interruption continues and restores them. With ROLL_FINGERPRINT (what needs new
# instances, from the program) a completed roll is recorded there too: a later run with the
# same fingerprint does nothing, even when the launch configuration changed since for a reason
# that needs no new instances (a renewed join token).
#
# Environment
#   ASG_NAME              the group                                              (required)
#   LAUNCH_CONFIGURATION  the current launch configuration (default: the group's own)
#   ROLL_FINGERPRINT      hash of what needs new instances (optional, see above)
#   MAX_SURGE             nodes above the desired capacity during the roll (default 1)
#   MAX_UNAVAILABLE       nodes below it (default 0); MAX_SURGE + MAX_UNAVAILABLE >= 1
#   DRAIN_TIMEOUT         seconds per node drain (default 600)
#   NODE_READY_TIMEOUT    seconds for new nodes to be Ready (default 900)
#   TERMINATE_TIMEOUT     seconds for a terminated instance to leave the group (default 600)
#   POLL_INTERVAL         seconds between polls (default 5)
#   STATE_CONFIGMAP       default zadara-eksd-rolls (namespace kube-system)
#   CLOUD_API_URL, CLOUD_API_INSECURE, CLOUD_API_CA_BUNDLE, AWS_REGION: the cloud API (defaults
#                         from the instance metadata and $ZADARA_ETC/node.env, see lib.sh)
# Exit: 0 rolled (or nothing to roll); 4 a drain was blocked (node and pods named, node
# uncordoned); 2 bad settings; 1 other failure (what and where named).

set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! declare -F drain_node >/dev/null; then
    # Run from a file: drain_node comes from drain-node.sh next to this script (which then
    # only defines its functions). On stdin, drain-node.sh came before this file.
    DRAIN_NODE_AS_LIBRARY=true
    # shellcheck source=drain-node.sh
    source "$(dirname "${BASH_SOURCE[0]}")/drain-node.sh"
fi

SCALE_DOWN_DISABLED=cluster-autoscaler.kubernetes.io/scale-down-disabled
ROLL_MARK=zadara-eksd/roll
STATE_NAMESPACE=kube-system

# The group, as last read: sizes, current launch configuration, old and new instances.
ASG_DESIRED=0 ASG_MIN=0 ASG_MAX=0 CURRENT_LC=""
OLD_IDS=() NEW_IDS=()
# The sizes before the roll.
ORIG_DESIRED=0 ORIG_MIN=0 ORIG_MAX=0
# Nodes by instance id, as last read.
declare -A NODE_OF=() READY_OF=() ANNOTATION_OF=() MARK_OF=()

roll_settings() {
    : "${ASG_NAME:=}" "${LAUNCH_CONFIGURATION:=}" "${ROLL_FINGERPRINT:=}" "${KUBELET_MINOR:=}"
    : "${MAX_SURGE:=1}" "${MAX_UNAVAILABLE:=0}" "${DRAIN_TIMEOUT:=600}" "${NODE_READY_TIMEOUT:=900}"
    : "${TERMINATE_TIMEOUT:=600}" "${POLL_INTERVAL:=5}" "${STATE_CONFIGMAP:=zadara-eksd-rolls}"
    local problem="" key
    if [[ ! $ASG_NAME =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
        problem="ASG_NAME must name the auto scaling group, got '${ASG_NAME}'"
    fi
    for key in MAX_SURGE MAX_UNAVAILABLE DRAIN_TIMEOUT NODE_READY_TIMEOUT TERMINATE_TIMEOUT; do
        if [[ ! ${!key} =~ ^[0-9]+$ ]]; then
            problem="${key} must be a whole number, got '${!key}'"
        fi
    done
    if [[ -z $problem ]] && ((MAX_SURGE + MAX_UNAVAILABLE < 1)); then
        problem="MAX_SURGE and MAX_UNAVAILABLE are both 0: the roll could never replace a node"
    fi
    if [[ -z $problem ]] && ! to_ms "$POLL_INTERVAL" >/dev/null; then
        problem="POLL_INTERVAL must be a number of seconds, got '${POLL_INTERVAL}'"
    fi
    if [[ -n $problem ]]; then
        log "FAILED: ${problem}"
        exit 2
    fi
}

# Cloud API settings not given in the environment come from node.env, then lib.sh's defaults.
roll_cloud_settings() {
    local file="${ZADARA_ETC}/node.env" key value
    for key in AWS_REGION CLOUD_API_INSECURE CLOUD_API_CA_BUNDLE; do
        if [[ -z ${!key+set} && -r $file ]]; then
            # shellcheck source=/dev/null
            value=$(source "$file" >/dev/null 2>&1 && printf '%s' "${!key:-}") || value=""
            printf -v "$key" '%s' "$value"
        fi
    done
    : "${AWS_REGION:=us-east-1}" "${CLOUD_API_INSECURE:=false}" "${CLOUD_API_CA_BUNDLE:=}"
    if ! resolve_cloud_api; then
        fail "cannot find the cloud API URL in the instance metadata: set CLOUD_API_URL"
    fi
}

# ---------------------------------------------------------------------------------------------
# Reading the group and its nodes
# ---------------------------------------------------------------------------------------------

roll_asg() {
    cloud_aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG_NAME" "$@"
}

# roll_read_asg: sizes, current launch configuration, OLD_IDS (any other launch configuration,
# not leaving) and NEW_IDS (current one, InService), both sorted.
roll_read_asg() {
    local sizes instances lc="" id lc_name state
    sizes=$(roll_asg --query 'AutoScalingGroups[0].[DesiredCapacity,MinSize,MaxSize,LaunchConfigurationName]' --output text) || return 1
    read -r ASG_DESIRED ASG_MIN ASG_MAX lc <<<"$sizes"
    if [[ ! $ASG_DESIRED =~ ^[0-9]+$ || ! $ASG_MIN =~ ^[0-9]+$ || ! $ASG_MAX =~ ^[0-9]+$ ]]; then
        log "auto scaling group ${ASG_NAME} not found (got: ${sizes})"
        return 1
    fi
    CURRENT_LC=${LAUNCH_CONFIGURATION:-$lc}
    instances=$(roll_asg --query 'AutoScalingGroups[0].Instances[].[InstanceId,LaunchConfigurationName,LifecycleState]' --output text) || return 1
    OLD_IDS=()
    NEW_IDS=()
    while read -r id lc_name state; do
        case $id:$state in
            : | None:* | *:Terminat* | *:Detach* | *:Standby* | *:EnteringStandby) continue ;;
        esac
        if [[ $lc_name != "$CURRENT_LC" ]]; then
            OLD_IDS+=("$id")
        elif [[ $state == InService ]]; then
            NEW_IDS+=("$id")
        fi
    done < <(printf '%s\n' "$instances" | sort)
}

# roll_read_nodes: node name, Ready, and our annotations by instance id (from spec.providerID
# aws:///<zone>/<instance id>).
roll_read_nodes() {
    local table name provider ready annotation mark id
    table=$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.spec.providerID}{"|"}{.status.conditions[?(@.type=="Ready")].status}{"|"}{.metadata.annotations.cluster-autoscaler\.kubernetes\.io/scale-down-disabled}{"|"}{.metadata.annotations.zadara-eksd/roll}{"\n"}{end}') || return 1
    NODE_OF=()
    READY_OF=()
    ANNOTATION_OF=()
    MARK_OF=()
    while IFS='|' read -r name provider ready annotation mark; do
        id=${provider##*/}
        if [[ -z $name || -z $id ]]; then
            continue
        fi
        NODE_OF[$id]=$name
        READY_OF[$id]=$ready
        ANNOTATION_OF[$id]=$annotation
        MARK_OF[$id]=$mark
    done <<<"$table"
}

# ---------------------------------------------------------------------------------------------
# Keeping the cluster autoscaler out of the way
# ---------------------------------------------------------------------------------------------

# roll_protect <instance ids...>: scale-down-disabled on their nodes, unless a user set it.
roll_protect() {
    local id node
    for id; do
        node=${NODE_OF[$id]:-}
        if [[ -z $node || ${MARK_OF[$id]:-} == "$ASG_NAME" || ${ANNOTATION_OF[$id]:-} == true ]]; then
            continue
        fi
        if kubectl_admin annotate --overwrite node "$node" "${SCALE_DOWN_DISABLED}=true" "${ROLL_MARK}=${ASG_NAME}" >/dev/null; then
            MARK_OF[$id]=$ASG_NAME
            ANNOTATION_OF[$id]=true
            log "node ${node}: autoscaler scale-down disabled while the roll runs"
        fi
    done
}

# roll_unprotect: removes the annotations this roll set (best effort: also used on failure).
roll_unprotect() {
    local id
    roll_read_nodes || true
    for id in $(printf '%s\n' "${!NODE_OF[@]}" | sort); do
        if [[ ${MARK_OF[$id]} == "$ASG_NAME" ]]; then
            if kubectl_admin annotate node "${NODE_OF[$id]}" "${SCALE_DOWN_DISABLED}-" "${ROLL_MARK}-" >/dev/null; then
                log "node ${NODE_OF[$id]}: autoscaler scale-down allowed again"
            else
                log "could not remove ${SCALE_DOWN_DISABLED} from node ${NODE_OF[$id]}"
            fi
        fi
    done
}

# ---------------------------------------------------------------------------------------------
# State kept across runs: ConfigMap kube-system/$STATE_CONFIGMAP, keys <group>--sizes, --fingerprint
# ---------------------------------------------------------------------------------------------

roll_state_get() {
    kubectl_admin get configmap "$STATE_CONFIGMAP" -n "$STATE_NAMESPACE" -o jsonpath="{.data.${ASG_NAME}--$1}" 2>/dev/null || true
}

roll_state_set() {
    kubectl_admin create configmap "$STATE_CONFIGMAP" -n "$STATE_NAMESPACE" >/dev/null 2>&1 || true
    kubectl_admin patch configmap "$STATE_CONFIGMAP" -n "$STATE_NAMESPACE" --type merge \
        -p "{\"data\":{\"${ASG_NAME}--$1\":\"$2\"}}" >/dev/null
}

# Best effort: a left-over key only makes the next run check the group once more.
roll_state_delete() {
    kubectl_admin patch configmap "$STATE_CONFIGMAP" -n "$STATE_NAMESPACE" --type merge \
        -p "{\"data\":{\"${ASG_NAME}--$1\":null}}" >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------

roll_stop() {
    local code=$1 message=$2
    trap - ERR
    log "FAILED: ${message}"
    roll_unprotect
    log "the group keeps its current size; the next run continues the roll and then restores desired/min/max ${ORIG_DESIRED}/${ORIG_MIN}/${ORIG_MAX}"
    exit "$code"
}

# lib.sh's fail calls this: an unexpected error must not leave scale-down disabled.
fail_cleanup() {
    roll_unprotect
}

# roll_capacity_ready <target>: at least <target> nodes serve: Ready new nodes + old ones. New
# Ready nodes are protected from scale-down as soon as they are seen.
roll_capacity_ready() {
    local target=$1 id ready=0
    roll_read_asg && roll_read_nodes || return 1
    for id in "${NEW_IDS[@]}"; do
        if [[ ${READY_OF[$id]:-} == True ]]; then
            ready=$((ready + 1))
            roll_protect "$id"
        fi
    done
    ((ready + ${#OLD_IDS[@]} >= target))
}

roll_new_not_ready() {
    local id list=""
    for id in "${NEW_IDS[@]}"; do
        if [[ ${READY_OF[$id]:-} != True ]]; then
            list+=" ${id}(${NODE_OF[$id]:-no node yet})"
        fi
    done
    printf 'not Ready:%s' "${list:- none of the new instances is InService yet}"
}

roll_instance_gone() {
    local id=$1 states
    states=$(roll_asg --query "AutoScalingGroups[0].Instances[?InstanceId=='${id}'].LifecycleState" --output text) || return 1
    [[ -z ${states//[[:space:]]/} || $states == None || $states == Terminated ]]
}

# roll_set_sizes <min> <max>
roll_set_sizes() {
    log "group ${ASG_NAME}: min ${ASG_MIN} -> $1, max ${ASG_MAX} -> $2"
    cloud_aws autoscaling update-auto-scaling-group --auto-scaling-group-name "$ASG_NAME" --min-size "$1" --max-size "$2"
    ASG_MIN=$1
    ASG_MAX=$2
}

# roll_raise_desired <target>: never lowers it (a lower desired capacity terminates undrained instances).
roll_raise_desired() {
    if ((ASG_DESIRED < $1)); then
        log "surge: desired capacity of ${ASG_NAME} ${ASG_DESIRED} -> $1"
        cloud_aws autoscaling set-desired-capacity --auto-scaling-group-name "$ASG_NAME" --desired-capacity "$1"
        ASG_DESIRED=$1
    fi
}

# roll_replace <instance id>: drain its node, terminate it with a decrement, forget its node.
roll_replace() {
    local id=$1 node status=0
    node=${NODE_OF[$id]:-}
    if [[ -z $node ]]; then
        log "instance ${id} has no node in the cluster (never joined, or already removed): nothing to drain"
    else
        drain_node "$node" "$DRAIN_TIMEOUT" || status=$?
        if ((status == DRAIN_BLOCKED_EXIT)); then
            roll_stop "$DRAIN_BLOCKED_EXIT" "roll of ${ASG_NAME} stopped: node ${node} (instance ${id}) was not drained within ${DRAIN_TIMEOUT}s; pods that blocked it: ${DRAIN_BLOCKING_PODS:-none listed}. The node is uncordoned and keeps serving. Fix the blockers (a PodDisruptionBudget that allows no disruption, a single-replica workload, a pod that ignores SIGTERM), then run pulumi up again"
        elif ((status != 0)); then
            roll_stop 1 "roll of ${ASG_NAME} stopped: the drain of node ${node} (instance ${id}) failed"
        fi
    fi
    log "terminating instance ${id}${node:+ (node ${node})} with a decrement of the desired capacity"
    cloud_aws autoscaling terminate-instance-in-auto-scaling-group --instance-id "$id" --should-decrement-desired-capacity >/dev/null
    if ! wait_until "$TERMINATE_TIMEOUT" "instance ${id} to leave ${ASG_NAME}" roll_instance_gone "$id"; then
        roll_stop 1 "instance ${id} was still in ${ASG_NAME} ${TERMINATE_TIMEOUT}s after its termination"
    fi
    if [[ -n $node ]]; then
        # The instance is gone: its Node object would stay NotReady until the cloud controller notices.
        kubectl_admin delete node "$node" --ignore-not-found --wait=false >/dev/null || log "could not delete node object ${node}"
    fi
}

# roll_finish: desired back to at least where it was, min/max restored, annotations removed.
roll_finish() {
    local max
    roll_read_asg || roll_stop 1 "cannot read auto scaling group ${ASG_NAME}"
    if ((ASG_DESIRED < ORIG_DESIRED)); then
        roll_raise_desired "$ORIG_DESIRED"
        if ! wait_until "$NODE_READY_TIMEOUT" "${ORIG_DESIRED} Ready node(s) in ${ASG_NAME}" roll_capacity_ready "$ORIG_DESIRED"; then
            roll_stop 1 "new node(s) of ${ASG_NAME} did not become Ready within ${NODE_READY_TIMEOUT}s; $(roll_new_not_ready)"
        fi
    fi
    # The autoscaler may have grown the group meanwhile: max never below desired.
    max=$((ASG_DESIRED > ORIG_MAX ? ASG_DESIRED : ORIG_MAX))
    if ((ASG_MIN != ORIG_MIN || ASG_MAX != max)); then
        roll_set_sizes "$ORIG_MIN" "$max"
    fi
    if ((max > ORIG_MAX)); then
        log "max size of ${ASG_NAME} stays at ${max} (desired ${ASG_DESIRED}) until the autoscaler scales the group down"
    fi
    roll_unprotect
    if [[ -n $ROLL_FINGERPRINT ]]; then
        roll_state_set fingerprint "$ROLL_FINGERPRINT"
    fi
    roll_state_delete sizes
}

# roll_skew_allows: new kubelets may join only when no API server is of an older minor (kubelet
# is never newer than the API server). During an EKS-D upgrade each replaced control-plane node
# leaves right after its successor joined, so by the time the roll runs every API server is new.
# A replaced node the program did not retire early (it accepts only a previous login) leaves at
# the END of the `up`: the roll then waits for the next `up`.
roll_skew_allows() {
    if [[ -z $KUBELET_MINOR ]]; then
        return 0
    fi
    local images image minor oldest=""
    images=$(kubectl_admin get pods -n kube-system -l component=kube-apiserver \
        -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}') || fail "cannot list the kube-apiserver pods"
    while IFS= read -r image; do
        if [[ $image =~ :v([0-9]+\.[0-9]+)\. ]]; then
            minor=${BASH_REMATCH[1]}
            if ((10#${minor#*.} < 10#${KUBELET_MINOR#*.})); then
                oldest=$minor
            fi
        fi
    done <<<"$images"
    if [[ -n $oldest ]]; then
        log "not rolling ${ASG_NAME} yet: an API server still runs ${oldest}, older than the new kubelets (${KUBELET_MINOR}); the control-plane nodes this update replaced without retiring them first leave at its end - run pulumi up again to roll the workers"
        return 1
    fi
}

roll_main() {
    trap 'fail "unexpected error at line ${LINENO}"' ERR
    init_logging
    roll_settings
    roll_cloud_settings
    log "roll of ${ASG_NAME}: maxSurge ${MAX_SURGE}, maxUnavailable ${MAX_UNAVAILABLE}, drain timeout ${DRAIN_TIMEOUT}s, node Ready timeout ${NODE_READY_TIMEOUT}s"
    roll_read_asg || fail "cannot read auto scaling group ${ASG_NAME}"
    local sizes done_fingerprint
    sizes=$(roll_state_get sizes)
    done_fingerprint=$(roll_state_get fingerprint)
    if [[ -z $sizes && -n $ROLL_FINGERPRINT && $done_fingerprint == "$ROLL_FINGERPRINT" ]]; then
        log "nothing to roll: ${ASG_NAME} was already rolled to ${ROLL_FINGERPRINT} (launch configuration changes since then need no new instances)"
        exit 0
    fi
    if [[ -z $sizes ]] && ((${#OLD_IDS[@]} > 0)) && ! roll_skew_allows; then
        exit 0
    fi
    if ((${#OLD_IDS[@]} == 0)) && [[ -z $sizes ]]; then
        log "nothing to roll: every instance of ${ASG_NAME} runs launch configuration ${CURRENT_LC}"
        ORIG_DESIRED=$ASG_DESIRED ORIG_MIN=$ASG_MIN ORIG_MAX=$ASG_MAX
        roll_finish
        exit 0
    fi
    if [[ -z $sizes ]]; then
        sizes="${ASG_DESIRED} ${ASG_MIN} ${ASG_MAX}"
        roll_state_set sizes "$sizes"
    else
        log "continuing an interrupted roll of ${ASG_NAME}"
    fi
    read -r ORIG_DESIRED ORIG_MIN ORIG_MAX <<<"$sizes"
    log "${#OLD_IDS[@]} instance(s) of ${ASG_NAME} to replace with launch configuration ${CURRENT_LC}; desired/min/max before the roll: ${ORIG_DESIRED}/${ORIG_MIN}/${ORIG_MAX}"

    # Room for the surge above, and for MAX_UNAVAILABLE terminations with a decrement below.
    local need_max=$((ORIG_DESIRED + MAX_SURGE)) need_min=$((ORIG_DESIRED - MAX_UNAVAILABLE))
    need_max=$((ASG_MAX > need_max ? ASG_MAX : need_max))
    need_min=$((need_min < 0 ? 0 : need_min))
    need_min=$((ASG_MIN < need_min ? ASG_MIN : need_min))
    if ((need_min != ASG_MIN || need_max != ASG_MAX)); then
        roll_set_sizes "$need_min" "$need_max"
    fi
    roll_read_nodes || fail "cannot list the cluster's nodes"
    roll_protect "${OLD_IDS[@]}" "${NEW_IDS[@]}"

    local surge target batch replaced=0 id
    while ((${#OLD_IDS[@]} > 0)); do
        surge=$((MAX_SURGE < ${#OLD_IDS[@]} ? MAX_SURGE : ${#OLD_IDS[@]}))
        target=$((ORIG_DESIRED + surge))
        roll_raise_desired "$target"
        if ! wait_until "$NODE_READY_TIMEOUT" "${target} serving node(s) in ${ASG_NAME}: Ready new ones + ${#OLD_IDS[@]} old" roll_capacity_ready "$target"; then
            roll_stop 1 "new node(s) of ${ASG_NAME} did not become Ready within ${NODE_READY_TIMEOUT}s; $(roll_new_not_ready)"
        fi
        batch=$((surge + MAX_UNAVAILABLE))
        for id in "${OLD_IDS[@]:0:batch}"; do
            roll_replace "$id"
            replaced=$((replaced + 1))
            log "progress: ${replaced} instance(s) of ${ASG_NAME} replaced"
        done
        roll_read_asg || roll_stop 1 "cannot read auto scaling group ${ASG_NAME}"
    done
    roll_finish
    log "roll of ${ASG_NAME} done: ${replaced} instance(s) replaced; every instance runs ${CURRENT_LC}"
}

roll_main "$@"
