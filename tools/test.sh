#!/usr/bin/env bash
# The project's test command (npm test): lint, type-check, then every tests/*.test.ts with
# Node's test runner. Extra arguments are test files to run instead of all of them.
#
#   tools/test.sh                      everything (what CI runs)
#   tools/test.sh tests/plan.test.ts   lint, type-check, then only these files
#   tools/test.sh --tests-only [files] only the test runner (tools/stress-test.sh runs it so)
#
# Three test files at a time: most of them wait on subprocesses (etcd, the program under the mock
# engine, bash with stubs), so three keep two cores busy. No test asserts on time and each one
# picks its own ports, addresses and directories, so they run side by side; the stress run
# (npm run test:stress) checks that under two busy loops.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

lint=true
case "${1:-}" in
    --help | -h)
        echo "usage: npm test [-- [--tests-only] test files...]"
        echo "lint (ESLint, Prettier, shellcheck), type-check (tsc --noEmit), then the tests with Node's test runner"
        echo "  --tests-only   skip lint and the type check"
        exit 0
        ;;
    --tests-only)
        lint=false
        shift
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
if [ "$lint" = true ]; then
    npm run --silent lint
    node_modules/.bin/tsc -p . --noEmit
fi
exec node --import tsx --test --test-concurrency=3 --test-reporter=spec "${files[@]}"
