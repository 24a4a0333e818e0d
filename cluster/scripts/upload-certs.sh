#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# upload-certs.sh - re-uploads the control-plane certificates into the kubeadm-certs Secret
# (kubeadm deletes it after 2 hours) with the certificateKey of kubeadm-init.yaml, so that
# kubeadm-join-control-plane.yaml keeps working. Run by cron every hour on control-plane nodes.
# Log: /var/log/zadara-eksd-upload-certs.log. Parameters: $ZADARA_ETC/node.env (see lib.sh).

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-upload-certs.log}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
    cron_job_start upload-certs
    local config="${ZADARA_ETC}/kubeadm-init.yaml"
    if [[ ! -s $config ]]; then
        fail "missing ${config}"
    fi
    # stdout would name the certificate key: keep it out of the log.
    if ! kubeadm init phase upload-certs --upload-certs --config "$config" \
        --kubeconfig "${KUBERNETES_ETC}/admin.conf" --skip-certificate-key-print >/dev/null; then
        fail "kubeadm init phase upload-certs failed"
    fi
    log "control-plane certificates uploaded"
}

main "$@"
