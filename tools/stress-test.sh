#!/usr/bin/env bash
# Runs the whole test suite N times in a row (default 3) while two busy loops keep the cores
# loaded and a real etcdctl is on PATH: tests that lean on wall-clock time or on what the host
# has installed fail here first. Prints pass/fail per run and the names of failed tests; exits
# non-zero if any run failed. Logs go to .stress/run-<i>.log (ignored by git).
#
#   tools/stress-test.sh [runs [test files...]]   e.g. npm run test:stress -- 5
#   tools/stress-test.sh 3 tests/etcd-restore.test.ts   (only these files; default tests/*.test.ts)
#   STRESS_BUSY_LOOPS=4 tools/stress-test.sh
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
    echo "usage: npm run test:stress [-- runs [test files...]]   (default 3 runs of tests/*.test.ts under CPU load)"
    exit 0
fi
runs="${1:-3}"
shift $(($# > 0 ? 1 : 0))
files=("$@")
if [ "${#files[@]}" -eq 0 ]; then
    files=(tests/*.test.ts)
fi
busy_loops="${STRESS_BUSY_LOOPS:-2}"
case "$runs" in '' | *[!0-9]* | 0)
    echo "usage: $0 [runs >= 1 [test files...]]" >&2
    exit 2
    ;;
esac

# The suite must not depend on the host's tools; a host WITH etcdctl is the case that used
# to break it, so the stress run insists on one.
if ! command -v etcdctl >/dev/null 2>&1; then
    echo "etcdctl is not on PATH: install etcd-client (Debian) to stress the hermetic-PATH case" >&2
    exit 2
fi

log_dir=.stress
mkdir -p "$log_dir"

busy_pids=()
stop_busy() {
    local pid
    for pid in "${busy_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    busy_pids=()
}
trap stop_busy EXIT
trap 'exit 130' INT TERM

for _ in $(seq "$busy_loops"); do
    # A bare shell loop: one fully busy core each, no I/O.
    bash -c 'while :; do :; done' &
    busy_pids+=("$!")
done
echo "stress: $runs run(s) of ${#files[@]} test file(s), $busy_loops busy loop(s) (pids ${busy_pids[*]}), etcdctl at $(command -v etcdctl)"

failed_runs=0
summary=()
for i in $(seq "$runs"); do
    log="$log_dir/run-$i.log"
    start=$SECONDS
    # The runner exactly as `npm test` runs it (lint and the type check are not load-sensitive).
    if tools/test.sh --tests-only "${files[@]}" >"$log" 2>&1; then
        status=pass
    else
        status=FAIL
        failed_runs=$((failed_runs + 1))
    fi
    # The spec reporter ends with "ℹ tests N", "ℹ pass N", "ℹ fail N" lines.
    counts=$(grep -E '^ℹ (tests|pass|fail|cancelled) [0-9]+' "$log" | sed 's/^ℹ //' | paste -sd ' ' - || true)
    line="run $i/$runs: $status ($((SECONDS - start)) s; ${counts:-no summary}) log $log"
    summary+=("$line")
    echo "$line"
    if [ "$status" = FAIL ]; then
        # Names of failed tests: the spec reporter lists them after "failing tests:".
        sed -n '/failing tests:/,$p' "$log" | grep -E '^\s*✖ ' | sed 's/^/    /' || true
    fi
done

echo
echo "stress summary:"
printf '  %s\n' "${summary[@]}"
if [ "$failed_runs" -gt 0 ]; then
    echo "stress: $failed_runs of $runs run(s) failed" >&2
    exit 1
fi
echo "stress: all $runs run(s) passed"
