// The production rules by name. One list for the two places that enforce them: the stack
// config's guard (config/rules.ts, refused before anything is registered, acknowledged with
// acceptUnsafeProduction or acceptUnsafeProductionRules) and the policy pack (policy/, the same
// rules over the planned resources, for `pulumi preview --policy-pack policy` and
// `npm run plan -- --policy`).

export const PRODUCTION_RULES = {
    "bastion-ssh-open-to-world": "SSH (22) must not be reachable from the whole internet (any list of CIDRs covering every IPv4 or IPv6 address)",
    "api-open-to-world": "the Kubernetes API (6443) must not be reachable from the whole internet",
    "ingress-open-to-world": "no other port may be reachable from the whole internet",
    "cloud-api-tls-unverified": "the cloud API's TLS certificate must be verified (insecure false; rootCaCert for a private CA)",
    "single-control-plane": "at least 3 control-plane nodes, so the cluster survives the loss of one",
    "audit-log-off": "the API server audit log must be on",
    "secrets-encryption-off": "Secrets must be encrypted at rest in etcd",
    "kubelet-hardening-off": "kubelet anonymous auth off and webhook authorization on",
    "profiling-on": "the profiling endpoints of the API server, controller manager and scheduler must be off",
    "ssh-host-keys-unpinned": "every SSH step of the program must pin the host key of the machine it reaches (sshHostKeys console)",
} as const;

export type ProductionRuleId = keyof typeof PRODUCTION_RULES;

export const PRODUCTION_RULE_IDS = Object.keys(PRODUCTION_RULES) as [ProductionRuleId, ...ProductionRuleId[]];
