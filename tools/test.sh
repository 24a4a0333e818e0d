#!/usr/bin/env bash
# The project's test command (npm test): lint, type-check, then every tests/*.test.ts with
# Node's test runner. Extra arguments are test files to run instead of all of them.
#
#   tools/test.sh                      everything (what CI runs)
#   tools/test.sh tests/plan.test.ts   lint, type-check, then only these files
set -Eeuo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    --help | -h)
        echo "usage: npm test [-- test files...]"
        echo "lint (ESLint, Prettier, shellcheck), type-check (tsc --noEmit), then the tests with Node's test runner"
        exit 0
        ;;
    -*)
        echo "usage: npm test [-- test files...]" >&2
        exit 2
        ;;
esac

files=("$@")
if [ "${#files[@]}" -eq 0 ]; then
    files=(tests/*.test.ts)
fi
npm run --silent lint
node_modules/.bin/tsc -p . --noEmit
exec node --import tsx --test --test-reporter=spec "${files[@]}"
