// Helm values of every add-on, built as plain objects from plain settings. Pure functions:
// the component resolves its Pulumi inputs first, then calls these (and tests call them too).

import { PlainObject } from "./deep-merge";
import { ZCOMPUTE_REGION, zcomputeEndpoint } from "./cloud-config";
import { AddonVersions, CALICO_CRD_CHART_FROM, compareVersions } from "./versions";

export const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";
/** Set by the kubelet (`--cloud-provider=external`) until the CCM has initialised the node. */
export const UNINITIALIZED_TAINT = "node.cloudprovider.kubernetes.io/uninitialized";

export const CLOUD_CONFIG_CONFIGMAP = "cloud-config";
export const CLOUD_CONFIG_KEY = "cloud.conf";
/** The CCM reads `config/cloud.conf` relative to its working directory `/`. */
export const CLOUD_CONFIG_MOUNT_DIR = "/config";
export const CLOUD_CONFIG_PATH = `${CLOUD_CONFIG_MOUNT_DIR}/${CLOUD_CONFIG_KEY}`;

export const CA_BUNDLE_CONFIGMAP = "zadara-root-ca";
export const CA_BUNDLE_KEY = "ca-certificates.crt";
/** Where Go (and so every AWS SDK client here) looks for trusted roots first. */
export const CA_BUNDLE_PATH = "/etc/ssl/certs/ca-certificates.crt";

export const STORAGE_CLASS_NAME = "ebs-sc";
export const SNAPSHOT_CLASS_NAME = "ebs-vsc";
export const INGRESS_CLASS_NAME = "alb";
/** Where the EBS CSI controller reads its own access key (the chart's awsAccessSecret). */
export const EBS_CSI_SECRET = { name: "aws-secret", keyId: "key_id", accessKey: "access_key" };

/** Where the CA bundle mounted into the cloud controllers comes from. */
export type CaBundleSource = "configMap" | "hostPath";

/** Everything the value builders need, already resolved to plain values. */
export interface AddonSettings {
    clusterName: string;
    podCidr: string;
    vpcId: string;
    /** zCompute API base URL as seen from the VMs, e.g. `https://cloud.example.com`. */
    cloudApiUrl: string;
    volumeType: string;
    caBundle: CaBundleSource;
    autoscalerScaleDownUnneededTime: string;
    autoscalerScaleDownDelayAfterAdd: string;
    versions: AddonVersions;
    /** Image tags replacing the chart defaults, so the image minor is the cluster minor. */
    ccmImageTag?: string;
    autoscalerImageTag?: string;
}

// ---- Shared pieces ----------------------------------------------------------------------

export const CONTROL_PLANE_NODE_SELECTOR: PlainObject = { [CONTROL_PLANE_LABEL]: "" };

export function controlPlaneTolerations(): PlainObject[] {
    return [{ key: CONTROL_PLANE_LABEL, operator: "Exists", effect: "NoSchedule" }];
}

export function uninitializedToleration(): PlainObject {
    return { key: UNINITIALIZED_TAINT, operator: "Exists", effect: "NoSchedule" };
}

export function caBundleVolume(source: CaBundleSource): PlainObject {
    if (source === "configMap") {
        return { name: "ca-bundle", configMap: { name: CA_BUNDLE_CONFIGMAP } };
    }
    return { name: "ca-bundle", hostPath: { path: CA_BUNDLE_PATH, type: "File" } };
}

export function caBundleVolumeMount(source: CaBundleSource): PlainObject {
    const mount: PlainObject = { name: "ca-bundle", mountPath: CA_BUNDLE_PATH, readOnly: true };
    if (source === "configMap") {
        // A single key of the ConfigMap, mounted over the image's own bundle file.
        mount.subPath = CA_BUNDLE_KEY;
    }
    return mount;
}

export function cloudConfigVolume(): PlainObject {
    return { name: "cloud-config", configMap: { name: CLOUD_CONFIG_CONFIGMAP } };
}

export function cloudConfigVolumeMount(): PlainObject {
    return { name: "cloud-config", mountPath: CLOUD_CONFIG_MOUNT_DIR, readOnly: true };
}

// ---- CNI --------------------------------------------------------------------------------

// The chart's DaemonSet tolerates every NoSchedule/NoExecute taint (operator Exists), which
// covers the uninitialized taint: no toleration needed.
export function flannelValues(s: AddonSettings): PlainObject {
    return { podCidr: s.podCidr };
}

/** From v3.32 the operator chart no longer bundles CRDs: the CRD chart goes first. */
export function calicoNeedsCrdChart(calicoVersion: string): boolean {
    return compareVersions(calicoVersion, CALICO_CRD_CHART_FROM) >= 0;
}

// The operator pod tolerates every NoSchedule/NoExecute taint by chart default, and the
// operator gives calico-node and typha tolerate-all themselves.
export function calicoValues(s: AddonSettings): PlainObject {
    const values: PlainObject = {
        installation: {
            cni: { type: "Calico" },
            calicoNetwork: {
                bgp: "Enabled",
                ipPools: [
                    {
                        cidr: s.podCidr,
                        encapsulation: "IPIP",
                        natOutgoing: "Enabled",
                        nodeSelector: "all()",
                        blockSize: 26,
                    },
                ],
            },
        },
    };
    if (calicoNeedsCrdChart(s.versions.calico)) {
        // The calico-crds release owns the CRDs from v3.32 on; the operator's default
        // (-manage-crds=true) would make it a second writer of the same objects.
        values.manageCRDs = false;
    }
    return values;
}

// Agent and operator tolerate everything by chart default (`operator: Exists`). Hubble relay
// and UI have no default tolerations; the CNI is installed before the CCM and before any
// worker may have joined, so they must tolerate both taints or the release never gets ready.
export function ciliumValues(s: AddonSettings): PlainObject {
    const hubbleTolerations = [uninitializedToleration(), ...controlPlaneTolerations()];
    return {
        ipam: {
            mode: "cluster-pool",
            operator: {
                clusterPoolIPv4PodCIDRList: [s.podCidr],
                clusterPoolIPv4MaskSize: 24,
            },
        },
        hubble: {
            enabled: true,
            relay: { enabled: true, tolerations: hubbleTolerations },
            ui: { enabled: true, tolerations: hubbleTolerations },
        },
    };
}

// ---- Cloud controller manager -----------------------------------------------------------

export function ccmArgs(s: AddonSettings): string[] {
    return [
        "--v=2",
        "--cloud-provider=aws",
        "--cloud-config=config/cloud.conf",
        "--allocate-node-cidrs=false",
        `--cluster-cidr=${s.podCidr}`,
        `--cluster-name=${s.clusterName}`,
        "--configure-cloud-routes=false",
    ];
}

export function ccmValues(s: AddonSettings): PlainObject {
    const values: PlainObject = {
        // `args` replaces the chart default list, so `--cloud-provider=aws` is repeated here.
        args: ccmArgs(s),
        // Host network: the CCM must not depend on pod networking to initialise nodes.
        hostNetworking: true,
        nodeSelector: { ...CONTROL_PLANE_NODE_SELECTOR },
        tolerations: [{ key: UNINITIALIZED_TAINT, value: "true", effect: "NoSchedule" }, ...controlPlaneTolerations()],
        extraVolumes: [cloudConfigVolume(), caBundleVolume(s.caBundle)],
        extraVolumeMounts: [cloudConfigVolumeMount(), caBundleVolumeMount(s.caBundle)],
    };
    if (s.ccmImageTag) {
        values.image = { tag: s.ccmImageTag };
    }
    return values;
}

// ---- EBS CSI ----------------------------------------------------------------------------

export function ebsCsiValues(s: AddonSettings): PlainObject {
    const sidecarArgs = ["--timeout=60s", "--retry-interval-start=4s"];
    return {
        // Its own access key (controller-credentials.ts): pods never reach instance metadata.
        awsAccessSecret: { ...EBS_CSI_SECRET },
        sidecars: {
            provisioner: { additionalArgs: [...sidecarArgs] },
            attacher: { additionalArgs: [...sidecarArgs] },
            // Without it the chart renders the csi-snapshotter sidecar and the ebs-vsc class only
            // when Helm's discovery sees snapshot.storage.k8s.io at install time (templates
            // controller.yaml and volumesnapshotclass.yaml); snapshots (and K10) must not
            // depend on that timing.
            snapshotter: { forceEnable: true },
        },
        controller: {
            region: ZCOMPUTE_REGION,
            // Tags every volume with the cluster, so the destroy cleanup can find orphans.
            k8sTagClusterId: s.clusterName,
            // No chart key for a custom EC2 endpoint at these versions: the driver reads it
            // from this environment variable.
            env: [{ name: "AWS_EC2_ENDPOINT", value: zcomputeEndpoint(s.cloudApiUrl, "ec2") }],
            // Control-plane instance profiles carry the EC2 permissions.
            nodeSelector: { ...CONTROL_PLANE_NODE_SELECTOR },
            tolerations: [
                // Chart defaults, kept because a list replaces them.
                { key: "CriticalAddonsOnly", operator: "Exists" },
                { effect: "NoExecute", operator: "Exists", tolerationSeconds: 300 },
                ...controlPlaneTolerations(),
            ],
            volumes: [caBundleVolume(s.caBundle)],
            volumeMounts: [caBundleVolumeMount(s.caBundle)],
        },
        storageClasses: [
            {
                name: STORAGE_CLASS_NAME,
                annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
                volumeBindingMode: "WaitForFirstConsumer",
                allowVolumeExpansion: true,
                parameters: { type: s.volumeType },
            },
        ],
        volumeSnapshotClasses: [
            {
                name: SNAPSHOT_CLASS_NAME,
                annotations: {
                    "snapshot.storage.kubernetes.io/is-default-class": "true",
                    "k10.kasten.io/is-snapshot-class": "true",
                },
                deletionPolicy: "Delete",
            },
        ],
    };
}

// ---- Load balancer controller -----------------------------------------------------------

/**
 * `awsApiEndpoints` in the format the controller version expects: charts up to 1.7.x
 * (controller v2.7, AWS SDK v1) use lowercase SDK v1 service ids; from 1.8.0 on (SDK v2) the
 * SDK v2 service ids ("EC2", "Elastic Load Balancing v2", "ACM", "STS").
 */
export function lbcApiEndpoints(chartVersion: string, cloudApiUrl: string): string {
    const sdkV2 = compareVersions(chartVersion, "1.8.0") >= 0;
    const services: [string, string, string][] = [
        // [SDK v1 id, SDK v2 id, zCompute path]
        ["ec2", "EC2", "ec2"],
        ["elasticloadbalancing", "Elastic Load Balancing v2", "elbv2"],
        ["acm", "ACM", "acm"],
        ["sts", "STS", "sts"],
    ];
    return services.map(([v1, v2, path]) => `${sdkV2 ? v2 : v1}=${zcomputeEndpoint(cloudApiUrl, path)}`).join(",");
}

export function loadBalancerControllerValues(s: AddonSettings): PlainObject {
    return {
        clusterName: s.clusterName,
        vpcId: s.vpcId,
        region: ZCOMPUTE_REGION,
        awsApiEndpoints: lbcApiEndpoints(s.versions.loadBalancerController, s.cloudApiUrl),
        // zCompute has none of these services.
        enableShield: false,
        enableWaf: false,
        enableWafv2: false,
        ingressClassConfig: { default: true },
        // A VPC has one availability zone on zCompute; ALBs normally demand two subnets.
        controllerConfig: { featureGates: { ALBSingleSubnet: true } },
        // Host network on the control plane: the node role's credentials from instance metadata,
        // which pods cannot reach (metadata-guard.sh). ClusterFirstWithHostNet keeps cluster DNS.
        hostNetwork: true,
        dnsPolicy: "ClusterFirstWithHostNet",
        // On host network two replicas cannot share a node (webhook port 9443): with one
        // control-plane node a second replica would never schedule. One leader works anyway.
        replicaCount: 1,
        nodeSelector: { ...CONTROL_PLANE_NODE_SELECTOR },
        tolerations: controlPlaneTolerations(),
        extraVolumes: [caBundleVolume(s.caBundle)],
        extraVolumeMounts: [caBundleVolumeMount(s.caBundle)],
    };
}

// ---- Cluster autoscaler -----------------------------------------------------------------

export function autoscalerValues(s: AddonSettings): PlainObject {
    const values: PlainObject = {
        autoDiscovery: { clusterName: s.clusterName },
        awsRegion: ZCOMPUTE_REGION,
        cloudConfigPath: CLOUD_CONFIG_PATH,
        extraArgs: {
            // Passed explicitly too: not every chart version turns cloudConfigPath into a flag
            // for AWS, and without it the autoscaler would call AWS instead of zCompute.
            "cloud-config": CLOUD_CONFIG_PATH,
            "scale-down-unneeded-time": s.autoscalerScaleDownUnneededTime,
            "scale-down-delay-after-add": s.autoscalerScaleDownDelayAfterAdd,
        },
        // Host network on the control plane, as the load balancer controller.
        hostNetwork: true,
        dnsPolicy: "ClusterFirstWithHostNet",
        nodeSelector: { ...CONTROL_PLANE_NODE_SELECTOR },
        tolerations: controlPlaneTolerations(),
        extraVolumes: [cloudConfigVolume(), caBundleVolume(s.caBundle)],
        extraVolumeMounts: [cloudConfigVolumeMount(), caBundleVolumeMount(s.caBundle)],
    };
    if (s.autoscalerImageTag) {
        // One chart serves several minors; the autoscaler must run the cluster's minor.
        values.image = { tag: s.autoscalerImageTag };
    }
    return values;
}

// ---- metrics-server ---------------------------------------------------------------------

/**
 * How metrics-server reaches the kubelets: by the node's InternalIP (the address the kubelet
 * serving certificate names), verifying the kubelet's certificate against the cluster CA. The
 * chart's default `--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname` is replaced;
 * `--kubelet-insecure-tls` is never set.
 */
export const METRICS_SERVER_ARGS = [
    "--cert-dir=/tmp",
    "--kubelet-preferred-address-types=InternalIP",
    "--kubelet-use-node-status-port",
    "--metric-resolution=15s",
];

export function metricsServerValues(_s: AddonSettings): PlainObject {
    return {
        // `defaultArgs` is a list: ours replace the chart's (same flags, InternalIP only).
        defaultArgs: [...METRICS_SERVER_ARGS],
        // Two replicas and a budget keep `kubectl top` and HPAs working through node rolls.
        replicas: 2,
        podDisruptionBudget: { enabled: true, minAvailable: 1 },
        tolerations: controlPlaneTolerations(),
    };
}

// ---- Kasten K10 -------------------------------------------------------------------------

export function kastenValues(s: AddonSettings): PlainObject {
    return { clusterName: s.clusterName };
}
