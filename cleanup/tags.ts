// Which cloud resources belong to a cluster, decided only by the tags the in-cluster
// controllers put on what they create. Sources (read in each controller's code):
// - AWS Load Balancer Controller: every load balancer, target group, listener and security
//   group it creates carries `elbv2.k8s.aws/cluster=<cluster>` (pkg/shared_constants/tag_keys.go),
//   plus `service.k8s.aws/stack=<ns>/<name>` or `ingress.k8s.aws/stack=<ns>/<name>|<group>`
//   and `<prefix>/resource=<what>` (pkg/deploy/tracking/provider.go).
// - cloud-provider-aws (CCM): classic ELBs, NLBs and the `k8s-elb-<lb name>` security groups
//   get `kubernetes.io/cluster/<cluster>=owned` (tags.go buildTags with ResourceLifecycleOwned;
//   legacy `KubernetesCluster=<cluster>`) and the LBs `kubernetes.io/service-name=<ns>/<name>`.
// - aws-ebs-csi-driver: volumes `CSIVolumeName=<pv name>` and `ebs.csi.aws.com/cluster=true`,
//   snapshots `CSIVolumeSnapshotName=<name>` and `ebs.csi.aws.com/cluster=true`
//   (pkg/cloud/cloud.go); with k8sTagClusterId (set by addons/values.ts) also
//   `kubernetes.io/cluster/<cluster>=owned`, `KubernetesCluster=<cluster>` and
//   `Name=<cluster>-dynamic-<pv name>` (pkg/driver/controller.go).
// `ebs.csi.aws.com/cluster=true` names no cluster: alone it proves nothing about ours.

export type Tags = Record<string, string>;

export const LBC_CLUSTER_TAG = "elbv2.k8s.aws/cluster";
export const LBC_SERVICE_STACK_TAG = "service.k8s.aws/stack";
export const LBC_INGRESS_STACK_TAG = "ingress.k8s.aws/stack";
export const CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/";
export const LEGACY_CLUSTER_TAG = "KubernetesCluster";
export const CCM_SERVICE_TAG = "kubernetes.io/service-name";
export const CSI_DRIVER_TAG = "ebs.csi.aws.com/cluster";
export const CSI_VOLUME_NAME_TAG = "CSIVolumeName";
export const CSI_SNAPSHOT_NAME_TAG = "CSIVolumeSnapshotName";
/** The tag every resource of the stack itself carries (infra/tags.ts resourceTags). */
export const STACK_OWNER_TAG = "Environment";

export function clusterTagKey(cluster: string): string {
    return `${CLUSTER_TAG_PREFIX}${cluster}`;
}

export function tagMap(tags: Array<{ Key?: string; Value?: string }> | undefined): Tags {
    const map: Tags = {};
    for (const tag of tags ?? []) {
        if (tag.Key !== undefined) {
            map[tag.Key] = tag.Value ?? "";
        }
    }
    return map;
}

/**
 * The tag (`key=value`) that makes a resource this cluster's, or undefined. `pvNames` are the
 * cluster's PVs known from its API: a CSI volume tagged only with CSIVolumeName is ours when it
 * names one of them.
 */
export function clusterOwnerTag(tags: Tags, cluster: string, pvNames: ReadonlySet<string> = new Set()): string | undefined {
    if (tags[LBC_CLUSTER_TAG] === cluster) {
        return `${LBC_CLUSTER_TAG}=${cluster}`;
    }
    const key = clusterTagKey(cluster);
    if (tags[key] === "owned") {
        return `${key}=owned`;
    }
    if (tags[LEGACY_CLUSTER_TAG] === cluster) {
        return `${LEGACY_CLUSTER_TAG}=${cluster}`;
    }
    const pv = tags[CSI_VOLUME_NAME_TAG];
    if (tags[CSI_DRIVER_TAG] === "true" && pv !== undefined && pvNames.has(pv)) {
        return `${CSI_VOLUME_NAME_TAG}=${pv}`;
    }
    return undefined;
}

/**
 * Why a resource is the stack's own (never deleted), or undefined: it carries the stack's
 * ownership tag, or marks the cluster as a mere user (`shared`), as the stack's subnets and SGs do.
 */
export function stackOwnedReason(tags: Tags, cluster: string): string | undefined {
    if (tags[STACK_OWNER_TAG] === cluster) {
        return `${STACK_OWNER_TAG}=${cluster}`;
    }
    if (tags[clusterTagKey(cluster)] === "shared") {
        return `${clusterTagKey(cluster)}=shared`;
    }
    return undefined;
}

/**
 * The Kubernetes object a controller made this resource for, in the form the Kubernetes side
 * records what it deleted (`Service ns/name`, `Ingress ns/name`, `PersistentVolume name`): the
 * grace period waits only for those.
 */
export function createdForOf(tags: Tags): string | undefined {
    const service = tags[LBC_SERVICE_STACK_TAG] ?? tags[CCM_SERVICE_TAG];
    if (service !== undefined) {
        return `Service ${service}`;
    }
    const ingress = tags[LBC_INGRESS_STACK_TAG];
    if (ingress !== undefined) {
        return `Ingress ${ingress}`;
    }
    const pv = tags[CSI_VOLUME_NAME_TAG];
    return pv !== undefined ? `PersistentVolume ${pv}` : undefined;
}
