// Which cluster-wide objects each chart version creates, and how: the data behind the upgrade
// ownership check (tests/addons-upgrades.test.ts). Only objects another release could also
// create are listed: CustomResourceDefinitions and APIServices. Helm's rules for them:
//   - `crds/` folder: created once at install, without Helm ownership metadata, never upgraded
//     or deleted by Helm (a later chart that templates the same object must adopt it);
//   - templates: owned by the release (labels app.kubernetes.io/managed-by=Helm and annotations
//     meta.helm.sh/release-name/-namespace); installing an object that exists without this
//     release's ownership fails ("invalid ownership metadata") unless the install adopts it
//     (`--take-ownership`, Helm 3.17+; `takeOwnership` of helm.v3.Release).
// Each entry names the upstream files it was read from (chart sources at the pinned tag).

/** Objects of one chart version, as `Kind/name`. */
export interface ChartObjects {
    /** Created from the chart's `crds/` folder: no Helm ownership. */
    crdsFolder: string[];
    /** Rendered from templates: owned by the release. */
    templated: string[];
    /** Who else writes the same objects at run time (e.g. an operator managing its CRDs). */
    alsoManagedBy?: string;
    source: string;
}

function crds(names: string[]): string[] {
    return names.map((name) => `CustomResourceDefinition/${name}`);
}

const NONE = { crdsFolder: [], templated: [] };

// libcalico-go/config/crd (symlinked as `calico`) plus the operator.tigera.io CRD files.
const CALICO_V3_29_1 = crds([
    "adminnetworkpolicies.policy.networking.k8s.io",
    "apiservers.operator.tigera.io",
    "bgpconfigurations.crd.projectcalico.org",
    "bgpfilters.crd.projectcalico.org",
    "bgppeers.crd.projectcalico.org",
    "blockaffinities.crd.projectcalico.org",
    "caliconodestatuses.crd.projectcalico.org",
    "clusterinformations.crd.projectcalico.org",
    "felixconfigurations.crd.projectcalico.org",
    "globalnetworkpolicies.crd.projectcalico.org",
    "globalnetworksets.crd.projectcalico.org",
    "hostendpoints.crd.projectcalico.org",
    "imagesets.operator.tigera.io",
    "installations.operator.tigera.io",
    "ipamblocks.crd.projectcalico.org",
    "ipamconfigs.crd.projectcalico.org",
    "ipamhandles.crd.projectcalico.org",
    "ippools.crd.projectcalico.org",
    "ipreservations.crd.projectcalico.org",
    "kubecontrollersconfigurations.crd.projectcalico.org",
    "networkpolicies.crd.projectcalico.org",
    "networksets.crd.projectcalico.org",
    "tiers.crd.projectcalico.org",
    "tigerastatuses.operator.tigera.io",
]);
const CALICO_V3_31_7 = crds([
    "adminnetworkpolicies.policy.networking.k8s.io",
    "apiservers.operator.tigera.io",
    "baselineadminnetworkpolicies.policy.networking.k8s.io",
    "bgpconfigurations.crd.projectcalico.org",
    "bgpfilters.crd.projectcalico.org",
    "bgppeers.crd.projectcalico.org",
    "blockaffinities.crd.projectcalico.org",
    "caliconodestatuses.crd.projectcalico.org",
    "clusterinformations.crd.projectcalico.org",
    "felixconfigurations.crd.projectcalico.org",
    "gatewayapis.operator.tigera.io",
    "globalnetworkpolicies.crd.projectcalico.org",
    "globalnetworksets.crd.projectcalico.org",
    "goldmanes.operator.tigera.io",
    "hostendpoints.crd.projectcalico.org",
    "imagesets.operator.tigera.io",
    "installations.operator.tigera.io",
    "ipamblocks.crd.projectcalico.org",
    "ipamconfigs.crd.projectcalico.org",
    "ipamhandles.crd.projectcalico.org",
    "ippools.crd.projectcalico.org",
    "ipreservations.crd.projectcalico.org",
    "kubecontrollersconfigurations.crd.projectcalico.org",
    "managementclusterconnections.operator.tigera.io",
    "networkpolicies.crd.projectcalico.org",
    "networksets.crd.projectcalico.org",
    "stagedglobalnetworkpolicies.crd.projectcalico.org",
    "stagedkubernetesnetworkpolicies.crd.projectcalico.org",
    "stagednetworkpolicies.crd.projectcalico.org",
    "tiers.crd.projectcalico.org",
    "tigerastatuses.operator.tigera.io",
    "whiskers.operator.tigera.io",
]);
const CALICO_V3_32_1 = crds([
    "apiservers.operator.tigera.io",
    "bgpconfigurations.crd.projectcalico.org",
    "bgpfilters.crd.projectcalico.org",
    "bgppeers.crd.projectcalico.org",
    "blockaffinities.crd.projectcalico.org",
    "caliconodestatuses.crd.projectcalico.org",
    "clusterinformations.crd.projectcalico.org",
    "clusternetworkpolicies.policy.networking.k8s.io",
    "felixconfigurations.crd.projectcalico.org",
    "gatewayapis.operator.tigera.io",
    "globalnetworkpolicies.crd.projectcalico.org",
    "globalnetworksets.crd.projectcalico.org",
    "goldmanes.operator.tigera.io",
    "hostendpoints.crd.projectcalico.org",
    "imagesets.operator.tigera.io",
    "installations.operator.tigera.io",
    "ipamblocks.crd.projectcalico.org",
    "ipamconfigs.crd.projectcalico.org",
    "ipamhandles.crd.projectcalico.org",
    "ippools.crd.projectcalico.org",
    "ipreservations.crd.projectcalico.org",
    "istios.operator.tigera.io",
    "kubecontrollersconfigurations.crd.projectcalico.org",
    "managementclusterconnections.operator.tigera.io",
    "networkpolicies.crd.projectcalico.org",
    "networksets.crd.projectcalico.org",
    "stagedglobalnetworkpolicies.crd.projectcalico.org",
    "stagedkubernetesnetworkpolicies.crd.projectcalico.org",
    "stagednetworkpolicies.crd.projectcalico.org",
    "tiers.crd.projectcalico.org",
    "tigerastatuses.operator.tigera.io",
    "whiskers.operator.tigera.io",
]);

export const CHART_OBJECTS: Record<string, Record<string, ChartObjects>> = {
    "tigera-operator": {
        "v3.29.1": {
            crdsFolder: CALICO_V3_29_1,
            templated: [],
            source: "projectcalico/calico v3.29.1 charts/tigera-operator/crds/ (operator.tigera.io_*_crd.yaml; calico -> libcalico-go/config/crd); no CRD in templates/",
        },
        "v3.31.7": {
            crdsFolder: CALICO_V3_31_7,
            templated: [],
            // values.yaml manageCRDs: true -> deployment arg -manage-crds=true: the operator
            // creates and updates these CRDs itself, so the ones new in 3.31 appear on an upgrade
            // even though Helm does not apply crds/ then.
            alsoManagedBy: "tigera-operator (-manage-crds, values.yaml manageCRDs: true)",
            source: "projectcalico/calico v3.31.7 charts/tigera-operator/crds/ and values.yaml manageCRDs; no CRD in templates/",
        },
        "v3.32.1": {
            crdsFolder: [],
            templated: [],
            source: "projectcalico/calico v3.32.1 charts/tigera-operator: no crds/ folder, no CRD in templates/ (CRDs moved to chart crd.projectcalico.org.v1)",
        },
    },
    "crd.projectcalico.org.v1": {
        "v3.32.1": {
            crdsFolder: [],
            templated: CALICO_V3_32_1,
            source: "projectcalico/calico v3.32.1 charts/crd.projectcalico.org.v1/templates/ (operator.tigera.io_*.yaml; calico -> libcalico-go/config/crd)",
        },
    },
    "aws-load-balancer-controller": {
        "1.7.2": {
            crdsFolder: crds(["ingressclassparams.elbv2.k8s.aws", "targetgroupbindings.elbv2.k8s.aws"]),
            templated: [],
            source: "aws/eks-charts stable/aws-load-balancer-controller/crds/crds.yaml (v2.7.2)",
        },
    },
    "metrics-server": {
        "3.12.2": {
            crdsFolder: [],
            templated: ["APIService/v1beta1.metrics.k8s.io"],
            source: "kubernetes-sigs/metrics-server metrics-server-helm-chart-3.12.2 charts/metrics-server/templates/apiservice.yaml",
        },
        "3.13.1": {
            crdsFolder: [],
            templated: ["APIService/v1beta1.metrics.k8s.io"],
            source: "kubernetes-sigs/metrics-server metrics-server-helm-chart-3.13.1 charts/metrics-server/templates/apiservice.yaml",
        },
    },
    // No crds/ folder and no CRD or shared APIService in templates: cilium's operator creates
    // its CRDs at run time; flannel, the CCM, EBS CSI and the autoscaler define none; K10's
    // APIServices are of its own group (kio.kasten.io).
    flannel: {
        "v0.26.2": { ...NONE, source: "flannel-io/flannel chart/kube-flannel at v0.26.2" },
        "v0.28.9": { ...NONE, source: "flannel-io/flannel chart/kube-flannel at v0.28.9" },
    },
    cilium: {
        "1.16.5": { ...NONE, source: "cilium/charts cilium-1.16.5.tgz" },
        "1.18.12": { ...NONE, source: "cilium/charts cilium-1.18.12.tgz (no crds/, no CRD or APIService template)" },
        "1.19.6": { ...NONE, source: "cilium/charts cilium-1.19.6.tgz" },
        "1.20.0": { ...NONE, source: "cilium/charts cilium-1.20.0.tgz (no crds/, no CRD or APIService template)" },
    },
    "aws-cloud-controller-manager": { "0.0.11": { ...NONE, source: "kubernetes/cloud-provider-aws charts/aws-cloud-controller-manager 0.0.11" } },
    "aws-ebs-csi-driver": {
        "2.33.0": { ...NONE, source: "kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver 2.33.0 (snapshot CRDs come from external-snapshotter)" },
        "2.39.3": { ...NONE, source: "kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver 2.39.3" },
        "2.64.0": { ...NONE, source: "kubernetes-sigs/aws-ebs-csi-driver charts/aws-ebs-csi-driver 2.64.0" },
    },
    "cluster-autoscaler": {
        "9.37.0": { ...NONE, source: "kubernetes/autoscaler cluster-autoscaler-chart-9.37.0" },
        "9.38.0": { ...NONE, source: "kubernetes/autoscaler cluster-autoscaler-chart-9.38.0" },
        "9.59.0": { ...NONE, source: "kubernetes/autoscaler cluster-autoscaler-chart-9.59.0" },
    },
    k10: { "7.0.10": { ...NONE, source: "k10 7.0.10 chart: no crds/ folder" } },
};

/** The objects of a chart version; undefined when not recorded (the check refuses that). */
export function chartObjects(chart: string, version: string): ChartObjects | undefined {
    return CHART_OBJECTS[chart]?.[version];
}
