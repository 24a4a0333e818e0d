#!/usr/bin/env bash
# Runs shellcheck on every shell script of the repository: tracked *.sh files and tracked files
# whose first line is a bash/sh shebang (e.g. .ci/run). Sourced files (lib.sh) are followed
# with -x. Exits non-zero on any finding; prints the files it checked.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

if ! command -v shellcheck >/dev/null 2>&1; then
    echo "shellcheck is not installed (Debian: apt-get install shellcheck)" >&2
    exit 2
fi

scripts=()
while IFS= read -r -d '' file; do
    [[ -f $file ]] || continue # deleted in the work tree, still in the index
    if [[ $file == *.sh ]] || head -n 1 "$file" | grep -qE '^#!.*[/ ](ba)?sh([[:space:]]|$)'; then
        scripts+=("$file")
    fi
done < <(git ls-files -z --cached --others --exclude-standard)

if [[ ${#scripts[@]} -eq 0 ]]; then
    echo "no shell scripts found" >&2
    exit 1
fi
echo "shellcheck: ${#scripts[@]} scripts"
shellcheck -x "${scripts[@]}"
