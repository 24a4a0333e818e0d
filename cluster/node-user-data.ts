// What a node's user data is made of, from plain settings: the kubeadm settings, the node.env
// every node shares and a worker group's cloud-config. NodeBootstrap renders the real user data
// with these, and the config check (cluster/user-data-size.ts, asked by program-model.ts) sizes each worker group with the
// same functions before anything is registered. No Pulumi resources here: config/ imports it.
import { createHash } from "node:crypto";
import type { NodeGroupModel } from "../model";
import { API_PORT, ZCOMPUTE_REGION } from "../model/constants";
import { NodeCloudConfig } from "./cloud-init";
import { HardeningSettings } from "./hardening";
import { KubeadmSettings, renderJoinWorkerConfig, renderKubeletConfig } from "./kubeadm";
import { NodeEnv } from "./node-env";

/** Ubuntu's system bundle, which holds the root CA once bootstrap.sh trusted it. */
const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
/** Seconds a joining node waits for the API; at least the reference's 30 minutes. */
export const MIN_API_WAIT_SECONDS = 1800;
export const JOIN_TIMEOUT_SECONDS = 1800;
const NODE_POLL_INTERVAL_SECONDS = 2;

/** The cluster settings the nodes' user data is rendered from. */
export interface NodeBootSettings {
    environment: string;
    /** EKS-D minor, e.g. "1.30". */
    eksdVersion: string;
    kubernetesVersion: string;
    etcdImageTag: string;
    corednsImageTag: string;
    podCidr: string;
    serviceCidr: string;
    kubeconfigTimeoutMinutes: number;
    /** PEM of the cloud's root CA: travels in the bundle, never in user data. */
    rootCaCert?: string;
    cloudApiInsecure?: boolean;
    hardening: HardeningSettings;
}

/** Where a node's loader fetches its bundle, and the sha256 it requires. */
export interface BundleRef {
    url: string;
    sha256: string;
}

export function sha256Hex(text: string): string {
    return createHash("sha256").update(text, "utf8").digest("hex");
}

export function bundleFileName(sha256: string): string {
    return `bundle-${sha256}.txt`;
}

/**
 * kubelet --node-labels value: "k=v,k2=v2", sorted: the order in the config means nothing, and
 * a reordered map must not change the user data (that would roll the group).
 */
export function nodeLabelsValue(labels: Record<string, string>): string {
    return Object.entries(labels)
        .map(([key, value]) => `${key}=${value}`)
        .sort()
        .join(",");
}

/** kubelet --register-with-taints value: "k=v:Effect,k2:Effect", sorted like the labels. */
export function nodeTaintsValue(taints: NodeGroupModel["taints"]): string {
    return taints
        .map((taint) => `${taint.key}${taint.value ? `=${taint.value}` : ""}:${taint.effect}`)
        .sort()
        .join(",");
}

export function kubeadmSettingsFor(
    boot: NodeBootSettings,
    apiIp: string,
    certSans: string[],
    token: string,
    caCertHash: string,
    bootstrapTokenExpires: string,
): KubeadmSettings {
    return {
        clusterName: boot.environment,
        kubernetesVersion: boot.kubernetesVersion,
        kubernetesMinor: boot.eksdVersion,
        etcdImageTag: boot.etcdImageTag,
        corednsImageTag: boot.corednsImageTag,
        controlPlaneEndpoint: `${apiIp}:${API_PORT}`,
        podCidr: boot.podCidr,
        serviceCidr: boot.serviceCidr,
        certSans,
        bootstrapToken: token,
        bootstrapTokenExpires,
        caCertHash,
        hardening: boot.hardening,
    };
}

/** node.env values every node shares (none of them secret). */
export function commonNodeEnvFor(
    boot: NodeBootSettings,
    apiIp: string,
    bundle: BundleRef,
): Omit<NodeEnv, "ROLE" | "NODE_NAME" | "NODE_LABELS" | "NODE_TAINTS"> {
    return {
        CLUSTER_NAME: boot.environment,
        API_HOST: apiIp,
        API_PORT: String(API_PORT),
        KUBERNETES_MINOR: boot.eksdVersion,
        KUBERNETES_VERSION: boot.kubernetesVersion,
        API_WAIT_TIMEOUT: String(Math.max(MIN_API_WAIT_SECONDS, boot.kubeconfigTimeoutMinutes * 60)),
        JOIN_TIMEOUT: String(JOIN_TIMEOUT_SECONDS),
        POLL_INTERVAL: String(NODE_POLL_INTERVAL_SECONDS),
        ENVIRONMENT: boot.environment,
        AWS_REGION: ZCOMPUTE_REGION,
        CLOUD_API_INSECURE: boot.cloudApiInsecure ? "true" : "false",
        CLOUD_API_CA_BUNDLE: boot.rootCaCert ? SYSTEM_CA_BUNDLE : "",
        BUNDLE_URL: bundle.url,
        BUNDLE_SHA256: bundle.sha256,
    };
}

/** Config keys of a group whose values go into its workers' user data. */
export function workerSizeKeys(groupName: string): string[] {
    return [`nodeGroups.${groupName}.labels`, `nodeGroups.${groupName}.taints`];
}

/** A worker group's cloud-config: node.env, the loader and the kubeadm JoinConfiguration. */
export function workerCloudConfigFor(
    boot: NodeBootSettings,
    groupName: string,
    group: Pick<NodeGroupModel, "labels" | "taints">,
    settings: KubeadmSettings,
    bundle: BundleRef,
): NodeCloudConfig {
    return {
        role: "worker",
        nodeEnv: {
            ROLE: "worker",
            ...commonNodeEnvFor(boot, settings.controlPlaneEndpoint.split(":")[0], bundle),
            NODE_NAME: "",
            NODE_LABELS: nodeLabelsValue(group.labels),
            NODE_TAINTS: nodeTaintsValue(group.taints),
            KUBELET_CONFIG_SHA256: sha256Hex(renderKubeletConfig(settings)),
        },
        workerJoinConfig: renderJoinWorkerConfig(settings),
        sizeKeys: workerSizeKeys(groupName),
    };
}
