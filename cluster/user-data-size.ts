// Each worker group's user data must fit the launch configuration's limit
// (USER_DATA_LIMIT_BYTES, gzip). program-model.ts asks right after reading the config, before anything
// is registered (config/ imports no component, and this is the cluster's rendering); sized by the very code that
// renders it (cluster/node-user-data.ts, cluster/cloud-init.ts); only the values the cloud and the
// random providers pick later are stood in for, each by the widest value it can take.
import { createHash } from "node:crypto";
import { encodeUserData, renderCloudConfig, USER_DATA_LIMIT_BYTES, userDataSize } from "./cloud-init";
import { DEFAULT_HARDENING } from "./hardening";
import { bundleFileName, kubeadmSettingsFor, NodeBootSettings, sha256Hex, workerCloudConfigFor } from "./node-user-data";
import { EKSD_RELEASES } from "./versions";
import type { NodeGroupModel, StackModel } from "../model";
import { BUNDLE_PORT, PROJECT_NAME } from "../model/constants";

/** The longest IPv4 address the API load balancer can get. */
const WIDEST_IP = "255.255.255.255";

/** Random-looking text of the alphabet a generated value uses: compresses as badly as the real one. */
function randomLooking(seed: string, length: number, alphabet: string): string {
    let text = "";
    for (let round = 0; text.length < length; round++) {
        for (const byte of createHash("sha256").update(`${seed}/${round}`).digest()) {
            text += alphabet[byte % alphabet.length];
        }
    }
    return text.slice(0, length);
}

function bootSettingsOf(model: StackModel): NodeBootSettings {
    const release = EKSD_RELEASES[model.cluster.eksdVersion];
    const h = model.hardening;
    return {
        environment: model.environment,
        eksdVersion: model.cluster.eksdVersion,
        kubernetesVersion: model.cluster.kubernetesVersion,
        etcdImageTag: release.etcdImageTag,
        corednsImageTag: release.corednsImageTag,
        podCidr: model.cluster.podCidr,
        serviceCidr: model.cluster.serviceCidr,
        kubeconfigTimeoutMinutes: model.cluster.kubeconfigTimeoutMinutes,
        rootCaCert: model.cloud.rootCaCert,
        cloudApiInsecure: model.cloud.insecure,
        hardening: {
            ...DEFAULT_HARDENING,
            auditLog: h.auditLog,
            secretsEncryption: h.secretsEncryption,
            kubeletHardening: h.kubeletHardening,
            apiServerProfiling: h.apiServerProfiling,
            requireMetadataTokens: h.requireMetadataTokens,
        },
    };
}

/** Gzip bytes of a worker group's user data, rendered as the program renders it. */
export function workerUserDataBytes(model: StackModel, groupName: string, group: Pick<NodeGroupModel, "labels" | "taints">): number {
    const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
    // A join token is 6 + 16 lowercase letters and digits (cluster/secrets.ts), the CA pin a sha256.
    const token = `${randomLooking("token-id", 6, lowerAlnum)}.${randomLooking("token-secret", 16, lowerAlnum)}`;
    const caCertHash = `sha256:${sha256Hex("ca-cert-hash")}`;
    const settings = kubeadmSettingsFor(bootSettingsOf(model), WIDEST_IP, [], token, caCertHash, "2000-01-01T00:00:00Z");
    const bundleSha = sha256Hex("bundle");
    const bundle = { url: `http://${WIDEST_IP}:${BUNDLE_PORT}/${bundleFileName(bundleSha)}`, sha256: bundleSha };
    return userDataSize(encodeUserData(renderCloudConfig(workerCloudConfigFor(bootSettingsOf(model), groupName, group, settings, bundle))));
}

/** One problem per worker group whose user data would be over the limit. */
export function workerUserDataProblems(model: StackModel): string[] {
    const problems: string[] = [];
    for (const [name, group] of Object.entries(model.cluster.nodeGroups)) {
        const size = workerUserDataBytes(model, name, group);
        if (size <= USER_DATA_LIMIT_BYTES) {
            continue;
        }
        // What each key adds: the size with it, less the size without it.
        const parts = [
            { key: `nodeGroups.${name}.labels`, bytes: size - workerUserDataBytes(model, name, { ...group, labels: {} }) },
            { key: `nodeGroups.${name}.taints`, bytes: size - workerUserDataBytes(model, name, { ...group, taints: [] }) },
        ].sort((a, b) => b.bytes - a.bytes);
        problems.push(
            `${PROJECT_NAME}:nodeGroups.${name}: the workers' user data would be ${size} bytes (gzip), over the ${USER_DATA_LIMIT_BYTES}-byte limit of the launch configuration; ` +
                `largest parts: ${parts.map((p) => `${p.key} (+${p.bytes} bytes)`).join(", ")}. ` +
                `Fix: shorten ${parts[0].key} (fewer entries, shorter keys and values: the kubelet gets them all on its command line) ` +
                `until the group is ${size - USER_DATA_LIMIT_BYTES} bytes smaller, e.g. pulumi config set --path '${parts[0].key}' with fewer entries`,
        );
    }
    return problems;
}
