#!/usr/bin/env bash
# kubeconfig-wait.sh - waits on the first control-plane node until bootstrap.sh has published
# the cluster-admin kubeconfig, then prints it on stdout (and nothing else).
#
# Run over one SSH session by a sudo-capable user (uses `sudo -n` when not root). Standalone:
# it does not need lib.sh, so it is fed on stdin (`VAR=... bash -s`). Everything runs inside
# main with stdin from /dev/null, so that no command (e.g. sudo relaying its input to a pty)
# can swallow the rest of the script.
#
# Environment
#   WAIT_TIMEOUT       seconds before giving up (default 1500)
#   POLL_INTERVAL      seconds between two checks, at most 2 (default 2)
#   PROGRESS_INTERVAL  seconds between two progress lines on stderr (default 30)
#   PUBLIC_ENDPOINT    host:port; when set, the kubeconfig's server becomes https://PUBLIC_ENDPOINT
#   ZADARA_ETC         default /etc/kubernetes/zadara
#   BOOT_LOG           default /var/log/zadara-eksd-bootstrap.log
#   CLOUD_INIT_LOG     default /var/log/cloud-init-output.log
# Exit status: 0 kubeconfig printed, 1 timed out, 2 bootstrap failed, 3 cannot run.

set -euo pipefail

ZADARA_ETC="${ZADARA_ETC:-/etc/kubernetes/zadara}"
BOOT_LOG="${BOOT_LOG:-/var/log/zadara-eksd-bootstrap.log}"
CLOUD_INIT_LOG="${CLOUD_INIT_LOG:-/var/log/cloud-init-output.log}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-1500}"
POLL_INTERVAL="${POLL_INTERVAL:-2}"
PROGRESS_INTERVAL="${PROGRESS_INTERVAL:-30}"
PUBLIC_ENDPOINT="${PUBLIC_ENDPOINT:-}"

KUBECONFIG_FILE="${ZADARA_ETC}/kubeconfig"
READY_FILE="${ZADARA_ETC}/kubeconfig.ready"
FAILED_FILE="${ZADARA_ETC}/BOOT_FAILED"

say() {
    printf 'kubeconfig-wait: %s\n' "$*" >&2
}

now_ms() {
    local micro=${EPOCHREALTIME//[!0-9]/}
    echo $((10#$micro / 1000))
}

# to_ms <seconds>: "2" -> 2000, "0.05" -> 50. Returns 1 when the value is not a number.
to_ms() {
    local value=$1 whole fraction
    if [[ ! $value =~ ^([0-9]+)(\.([0-9]*))?$ ]]; then
        return 1
    fi
    whole=${BASH_REMATCH[1]}
    fraction="${BASH_REMATCH[3]}000"
    fraction=${fraction:0:3}
    echo $((10#$whole * 1000 + 10#$fraction))
}

# Prefix for commands that need root: empty for root, (sudo -n) otherwise (set in main).
as_root=()

usage_error() {
    say "$*"
    exit 3
}

last_boot_log_line() {
    "${as_root[@]}" tail -n 1 "$BOOT_LOG" 2>/dev/null || true
}

print_hints() {
    say "look at ${BOOT_LOG} and ${CLOUD_INIT_LOG} on this node, e.g.:"
    say "  sudo tail -n 50 ${BOOT_LOG}; sudo tail -n 50 ${CLOUD_INIT_LOG}; cloud-init status --long"
    say "last lines of ${BOOT_LOG}:"
    "${as_root[@]}" tail -n 20 "$BOOT_LOG" 2>/dev/null | sed 's/^/  | /' >&2 || true
}

main() {
    local timeout_ms poll_ms progress_ms started deadline last_report now elapsed kubeconfig
    timeout_ms=$(to_ms "$WAIT_TIMEOUT") || usage_error "WAIT_TIMEOUT must be a number of seconds, got '${WAIT_TIMEOUT}'"
    poll_ms=$(to_ms "$POLL_INTERVAL") || usage_error "POLL_INTERVAL must be a number of seconds, got '${POLL_INTERVAL}'"
    progress_ms=$(to_ms "$PROGRESS_INTERVAL") || usage_error "PROGRESS_INTERVAL must be a number of seconds, got '${PROGRESS_INTERVAL}'"
    if ((poll_ms > 2000)); then
        POLL_INTERVAL=2
    fi
    if [[ -n $PUBLIC_ENDPOINT && ! $PUBLIC_ENDPOINT =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]]; then
        usage_error "PUBLIC_ENDPOINT must be host:port, got '${PUBLIC_ENDPOINT}'"
    fi

    if [[ $(id -u) != 0 ]]; then
        as_root=(sudo -n)
        if ! sudo -n true 2>/dev/null; then
            usage_error "user $(id -un) cannot run sudo without a password; the kubeconfig is readable by root only"
        fi
    fi

    started=$(now_ms)
    deadline=$((started + timeout_ms))
    last_report=$((started - progress_ms))

    while true; do
        if "${as_root[@]}" test -f "$READY_FILE"; then
            break
        fi
        if "${as_root[@]}" test -f "$FAILED_FILE"; then
            say "the node bootstrap FAILED:"
            "${as_root[@]}" cat "$FAILED_FILE" | sed 's/^/  | /' >&2 || true
            print_hints
            exit 2
        fi
        now=$(now_ms)
        elapsed=$(((now - started) / 1000))
        if ((now >= deadline)); then
            say "timed out after ${elapsed}s (WAIT_TIMEOUT=${WAIT_TIMEOUT}) waiting for ${READY_FILE}."
            say "the control-plane bootstrap is still running or stopped without writing ${FAILED_FILE}."
            print_hints
            exit 1
        fi
        if ((now - last_report >= progress_ms)); then
            say "${elapsed}s: waiting for ${READY_FILE} (cluster initialisation); last boot log line: $(last_boot_log_line)"
            last_report=$now
        fi
        sleep "$POLL_INTERVAL"
    done

    kubeconfig=$("${as_root[@]}" cat "$KUBECONFIG_FILE") || {
        say "${READY_FILE} exists but ${KUBECONFIG_FILE} cannot be read"
        exit 2
    }
    if ! grep -q '^apiVersion:' <<<"$kubeconfig" || ! grep -Eq '^[[:space:]]*server:' <<<"$kubeconfig"; then
        say "${KUBECONFIG_FILE} does not look like a kubeconfig (no apiVersion or server)"
        exit 2
    fi

    if [[ -n $PUBLIC_ENDPOINT ]]; then
        kubeconfig=$(awk -v url="https://${PUBLIC_ENDPOINT}" '
            match($0, /^[[:space:]]*server:[[:space:]]*/) { print substr($0, 1, RLENGTH) url; next }
            { print }' <<<"$kubeconfig")
    fi

    say "kubeconfig ready after $((($(now_ms) - started) / 1000))s"
    printf '%s\n' "$kubeconfig"
}

main "$@" </dev/null
