// Where every add-on comes from and where it is installed.

import { AddonName } from "./versions";

/** `calicoCrds` is not an add-on of its own: it follows the `calico` version. */
export type ReleaseKey = AddonName | "calicoCrds";

/** Add-ons installed from a Helm chart (the snapshot controller is plain manifests). */
export type ChartReleaseKey = Exclude<ReleaseKey, "snapshotController">;

export interface ChartSource {
    /** Helm release name (fixed, so `helm list` shows familiar names). */
    releaseName: string;
    chart: string;
    repo: string;
    namespace: string;
    /** Seconds Helm waits for the release to become ready. */
    timeoutSeconds: number;
}

export const CHART_SOURCES: Record<ChartReleaseKey, ChartSource> = {
    flannel: {
        releaseName: "flannel",
        chart: "flannel",
        repo: "https://flannel-io.github.io/flannel/",
        namespace: "kube-flannel",
        timeoutSeconds: 600,
    },
    calicoCrds: {
        releaseName: "calico-crds",
        chart: "crd.projectcalico.org.v1",
        repo: "https://docs.tigera.io/calico/charts",
        namespace: "tigera-operator",
        timeoutSeconds: 600,
    },
    calico: {
        releaseName: "calico",
        chart: "tigera-operator",
        repo: "https://docs.tigera.io/calico/charts",
        namespace: "tigera-operator",
        timeoutSeconds: 900,
    },
    cilium: {
        releaseName: "cilium",
        chart: "cilium",
        repo: "https://helm.cilium.io/",
        namespace: "cilium-system",
        timeoutSeconds: 900,
    },
    ccm: {
        releaseName: "aws-cloud-controller-manager",
        chart: "aws-cloud-controller-manager",
        repo: "https://kubernetes.github.io/cloud-provider-aws",
        namespace: "kube-system",
        timeoutSeconds: 600,
    },
    ebsCsi: {
        releaseName: "aws-ebs-csi-driver",
        chart: "aws-ebs-csi-driver",
        repo: "https://kubernetes-sigs.github.io/aws-ebs-csi-driver",
        namespace: "kube-system",
        timeoutSeconds: 900,
    },
    loadBalancerController: {
        releaseName: "aws-load-balancer-controller",
        chart: "aws-load-balancer-controller",
        repo: "https://aws.github.io/eks-charts",
        namespace: "kube-system",
        timeoutSeconds: 600,
    },
    autoscaler: {
        releaseName: "cluster-autoscaler",
        chart: "cluster-autoscaler",
        repo: "https://kubernetes.github.io/autoscaler",
        namespace: "kube-system",
        timeoutSeconds: 600,
    },
    metricsServer: {
        releaseName: "metrics-server",
        chart: "metrics-server",
        repo: "https://kubernetes-sigs.github.io/metrics-server/",
        namespace: "kube-system",
        timeoutSeconds: 600,
    },
    kasten: {
        releaseName: "k10",
        chart: "k10",
        repo: "https://charts.kasten.io/",
        namespace: "kasten-io",
        // K10 runs on workers and pulls many images.
        timeoutSeconds: 1200,
    },
};

/** external-snapshotter manifests, applied from the pinned release tag. */
export const SNAPSHOT_CRD_FILES = [
    "client/config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml",
    "client/config/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
    "client/config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml",
];

export const SNAPSHOT_CONTROLLER_FILES = [
    "deploy/kubernetes/snapshot-controller/rbac-snapshot-controller.yaml",
    "deploy/kubernetes/snapshot-controller/setup-snapshot-controller.yaml",
];

export function externalSnapshotterUrl(tag: string, file: string): string {
    return `https://raw.githubusercontent.com/kubernetes-csi/external-snapshotter/${tag}/${file}`;
}
