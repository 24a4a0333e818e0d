#!/usr/bin/env bash
# loader.sh - the only script in a node's user data. Downloads the boot bundle named in
# node.env (BUNDLE_URL, served by the bastion inside the VPC), refuses it unless its sha256
# is BUNDLE_SHA256 (computed by the program), installs its files and runs bootstrap.sh.
# Bundle: one "<file name> <base64>" line per file. Failure: $ZADARA_ETC/BOOT_FAILED.
set -Eeuo pipefail

ZADARA_ETC="${ZADARA_ETC:-/etc/kubernetes/zadara}"
NODE_SCRIPTS_DIR="${NODE_SCRIPTS_DIR:-/usr/local/lib/zadara-eksd}"
# 180 attempts 5 s apart: the bastion may still be starting its bundle server.
LOADER_ATTEMPTS="${LOADER_ATTEMPTS:-180}"
LOADER_PAUSE="${LOADER_PAUSE:-5}"

log() {
    printf '%s [loader] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

refuse() {
    log "FAILED: $*"
    mkdir -p "$ZADARA_ETC"
    printf 'zadara-eksd loader FAILED\nphase: fetch and check the boot bundle\nreason: %s\n' "$*" >"${ZADARA_ETC}/BOOT_FAILED"
    exit 1
}

# shellcheck source=/dev/null
source "${ZADARA_ETC}/node.env"
[[ -n ${BUNDLE_URL:-} && ${BUNDLE_SHA256:-} =~ ^[0-9a-f]{64}$ ]] || refuse "node.env lacks BUNDLE_URL or a sha256 BUNDLE_SHA256"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((attempt = 1; ; attempt++)); do
    if curl -sf --max-time 20 -o "${work}/bundle" "$BUNDLE_URL"; then
        break
    fi
    ((attempt < LOADER_ATTEMPTS)) || refuse "could not download ${BUNDLE_URL} (${attempt} attempts)"
    ((attempt % 12)) || log "still waiting for ${BUNDLE_URL} (attempt ${attempt} of ${LOADER_ATTEMPTS})"
    sleep "$LOADER_PAUSE"
done

actual=$(sha256sum "${work}/bundle")
actual=${actual%% *}
[[ $actual == "$BUNDLE_SHA256" ]] || refuse "bundle ${BUNDLE_URL} has sha256 ${actual}, expected ${BUNDLE_SHA256}: refusing to run it"

mkdir "${work}/files"
while read -r name data; do
    [[ -n $name ]] || continue
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || refuse "bundle entry '${name}' is not a plain file name"
    base64 -d <<<"$data" >"${work}/files/${name}" 2>/dev/null || refuse "bundle entry ${name} is not base64"
done <"${work}/bundle"
[[ -s ${work}/files/bootstrap.sh && -s ${work}/files/lib.sh ]] || refuse "bundle has no bootstrap.sh and lib.sh"

install -d -m 755 "$NODE_SCRIPTS_DIR"
install -m 755 "${work}"/files/* "$NODE_SCRIPTS_DIR/"
log "installed boot bundle ${BUNDLE_SHA256:0:12} into ${NODE_SCRIPTS_DIR}"
# exec skips the EXIT trap: remove the download first.
rm -rf "$work"
trap - EXIT
exec "${NODE_SCRIPTS_DIR}/bootstrap.sh"
