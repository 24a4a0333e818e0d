// node.env: the ONLY way node parameters reach the boot scripts (cluster/scripts/lib.sh lists
// the keys). Shell-sourceable KEY='value' lines; values are single-quoted so that no value can
// ever be interpreted by the shell.

export interface NodeEnv {
    ROLE: "control-plane" | "worker";
    CLUSTER_NAME: string;
    /** Name tag of a control-plane instance; empty for workers (their name is the hostname). */
    NODE_NAME: string;
    API_HOST: string;
    API_PORT: string;
    KUBERNETES_MINOR: string;
    /** Exact EKS-D tag: a patch release changes the user data, so nodes roll to it. */
    KUBERNETES_VERSION: string;
    /** "k=v,k2=v2". */
    NODE_LABELS: string;
    /** "k=v:Effect,k2:Effect". */
    NODE_TAINTS: string;
    API_WAIT_TIMEOUT: string;
    JOIN_TIMEOUT: string;
    POLL_INTERVAL: string;
    /** Control plane only: exported etcd snapshots of this host the backup keeps (0 = all). */
    ETCD_BACKUP_ROTATION?: string;
    /**
     * Control plane only: sha256 of this release's ClusterConfiguration and kubelet configuration,
     * so a change of them replaces the control-plane nodes one at a time.
     */
    CLUSTER_CONFIG_SHA256?: string;
    /**
     * Workers only: sha256 of the kubelet configuration the cluster hands out ("" hashed when
     * kubeadm's defaults), so a change of it gives the launch configuration new user data and
     * the group rolls.
     */
    KUBELET_CONFIG_SHA256?: string;
    ENVIRONMENT: string;
    AWS_REGION: string;
    CLOUD_API_INSECURE: "true" | "false";
    CLOUD_API_CA_BUNDLE: string;
    /** http://<bastion private ip>:<BUNDLE_PORT>/bundle-<sha256>.txt */
    BUNDLE_URL: string;
    /** sha256 (hex) the loader requires of the downloaded bundle. */
    BUNDLE_SHA256: string;
}

/** 'value' with every ' written as '\'' — safe for any string, including newlines. */
export function shellSingleQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderNodeEnv(env: NodeEnv): string {
    const lines = ["# zadara-eksd node parameters, written by cloud-init; read by loader.sh and /usr/local/lib/zadara-eksd/*.sh"];
    for (const [key, value] of Object.entries(env)) {
        if (value === undefined) {
            continue;
        }
        if (!/^[A-Z][A-Z0-9_]*$/.test(key)) {
            throw new Error(`node.env key "${key}" is not a shell variable name`);
        }
        lines.push(`${key}=${shellSingleQuote(String(value))}`);
    }
    return lines.join("\n") + "\n";
}
