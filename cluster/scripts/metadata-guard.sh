#!/usr/bin/env bash
#
# metadata-guard.sh apply|check - no pod reaches the instance metadata service (169.254.169.254),
# on every node, whatever the CNI. Run at every boot by zadara-metadata-guard.service, before
# containerd and the kubelet start (bootstrap.sh installs and starts it on the first boot).
#
# The metadata service holds the node's role credentials and, on workers, the user data with
# the node group's join token. Pod traffic reaches the host through its interfaces (a veth, a
# bridge, a tunnel) and is ROUTED: it passes the prerouting and forward hooks. The host's own
# processes - host-network pods such as the cloud controllers, the kubelet, these scripts -
# send from the host itself: the output hook, which this guard leaves alone.
#
# With nft: a table of its own (inet zadara_eksd_metadata_guard) that drops every packet to
# 169.254.169.254 in prerouting (priority -400: before conntrack, before any NAT) and in forward
# (a NAT to that address after prerouting, e.g. an EndpointSlice naming it, is dropped there).
# A drop in one nftables table is final: an accept in any other table or chain (iptables-nft
# rules of a CNI or kube-proxy are nftables rules too) cannot undo it; iptables-legacy hooks
# run in the same hooks and cannot undo it either. A CNI that moves packets with eBPF before
# netfilter (Cilium with kube-proxy replacement and host routing) is not covered: docs/security.md.
# Without nft: the same two drops as the first rules of iptables raw PREROUTING and filter
# FORWARD (re-inserted first on every run).
#
#   apply   installs the guard (idempotent: the table is replaced whole, rules are not doubled)
#   check   exits 0 when the guard is in place, 1 (saying what is missing) when it is not
#
# Log: /var/log/zadara-eksd-metadata-guard.log.

set -Eeuo pipefail

LOG_FILE="${LOG_FILE:-/var/log/zadara-eksd-metadata-guard.log}"
METADATA_IP="169.254.169.254"
TABLE="zadara_eksd_metadata_guard"

log() {
    printf '%s metadata-guard: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" | tee -a "$LOG_FILE" >&2
}

fail() {
    log "FAILED: $*"
    exit 1
}

# The whole table, replaced in one transaction: declared (so the delete cannot fail), deleted,
# declared again with its two chains.
nft_ruleset() {
    cat <<RULES
table inet ${TABLE}
delete table inet ${TABLE}
table inet ${TABLE} {
    chain prerouting {
        type filter hook prerouting priority -400; policy accept;
        ip daddr ${METADATA_IP} counter drop comment "pods never reach instance metadata"
    }
    chain forward {
        type filter hook forward priority -400; policy accept;
        ip daddr ${METADATA_IP} counter drop comment "nor through a NAT to it"
    }
}
RULES
}

have_nft() {
    command -v nft >/dev/null 2>&1
}

apply_nft() {
    nft_ruleset | nft -f - || fail "nft could not load table inet ${TABLE}"
    log "table inet ${TABLE} drops pod traffic to ${METADATA_IP} (prerouting, forward)"
}

# iptables_first <table> <chain>: the drop rule as rule 1 of the chain, exactly once.
iptables_first() {
    local table=$1 chain=$2
    while iptables -w -t "$table" -C "$chain" -d "${METADATA_IP}/32" -j DROP 2>/dev/null; do
        iptables -w -t "$table" -D "$chain" -d "${METADATA_IP}/32" -j DROP
    done
    iptables -w -t "$table" -I "$chain" 1 -d "${METADATA_IP}/32" -j DROP
}

apply_iptables() {
    command -v iptables >/dev/null 2>&1 || fail "neither nft nor iptables is installed: pods could reach ${METADATA_IP}"
    iptables_first raw PREROUTING || fail "iptables could not insert the raw PREROUTING drop"
    iptables_first filter FORWARD || fail "iptables could not insert the filter FORWARD drop"
    log "iptables raw PREROUTING and filter FORWARD drop traffic to ${METADATA_IP} (rule 1)"
}

check() {
    if have_nft; then
        local listing
        listing=$(nft list table inet "$TABLE" 2>/dev/null) || fail "table inet ${TABLE} is missing"
        local chain
        for chain in prerouting forward; do
            if ! awk -v chain="$chain" -v ip="$METADATA_IP" '
                $1 == "chain" { inside = ($2 == chain) }
                inside && /ip daddr/ && index($0, ip) && / drop/ { found = 1 }
                END { exit found ? 0 : 1 }' <<<"$listing"; then
                fail "table inet ${TABLE} has no drop to ${METADATA_IP} in chain ${chain}"
            fi
        done
    else
        iptables -w -t raw -C PREROUTING -d "${METADATA_IP}/32" -j DROP 2>/dev/null || fail "no raw PREROUTING drop to ${METADATA_IP}"
        iptables -w -t filter -C FORWARD -d "${METADATA_IP}/32" -j DROP 2>/dev/null || fail "no filter FORWARD drop to ${METADATA_IP}"
    fi
    log "in place: pod traffic to ${METADATA_IP} is dropped"
}

main() {
    mkdir -p "$(dirname "$LOG_FILE")"
    case "${1:-}" in
        apply)
            if have_nft; then apply_nft; else apply_iptables; fi
            ;;
        check) check ;;
        *) fail "usage: metadata-guard.sh apply|check; got '${1:-}'" ;;
    esac
}

main "$@"
