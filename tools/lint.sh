#!/usr/bin/env bash
# The project's lint: ESLint (type-aware), Prettier and shellcheck. Every step runs even when
# an earlier one failed, so one run shows everything; the exit status is non-zero if any failed.
#
#   tools/lint.sh          check only (npm run lint)
#   tools/lint.sh --fix    ESLint --fix, then Prettier --write, then shellcheck; reports what
#                          is left to fix by hand (npm run fix)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

fix=false
for arg in "$@"; do
    if [ "$arg" = "--help" ] || [ "$arg" = "-h" ]; then
        set -- --help
    fi
done
case "${1:-}" in
    "") ;;
    --fix) fix=true ;;
    --help | -h)
        echo "usage: npm run lint | npm run fix    (tools/lint.sh [--fix])"
        echo "ESLint (type-aware), Prettier and shellcheck; --fix rewrites what they can fix"
        exit 0
        ;;
    *)
        echo "usage: $0 [--fix]" >&2
        exit 2
        ;;
esac

bin=node_modules/.bin
failed=()
step() {
    local name=$1
    shift
    echo "== ${name}: $*"
    if ! "$@"; then
        failed+=("$name")
    fi
}

if [[ $fix == true ]]; then
    # ESLint first: its fixes may change line lengths, which Prettier then lays out.
    step eslint "$bin/eslint" --fix .
    step prettier "$bin/prettier" --write --log-level warn .
else
    step eslint "$bin/eslint" .
    step prettier "$bin/prettier" --check --log-level warn .
fi
step shellcheck tools/lint-shell.sh

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "lint: failed: ${failed[*]}" >&2
    exit 1
fi
echo "lint: clean"
