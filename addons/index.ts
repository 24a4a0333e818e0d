// EksdAddons: every in-cluster add-on of an EKS-D cluster on zCompute (CNI, cloud controller
// manager, storage, load balancing, autoscaling, backup), installed as Helm releases through
// one Kubernetes provider built from the cluster's kubeconfig.

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

import { ClusterCleanup } from "./cleanup";
import { buildCloudConfig } from "./cloud-config";
import { CHART_SOURCES, ChartReleaseKey, ChartSource, ReleaseKey, SNAPSHOT_CONTROLLER_FILES, SNAPSHOT_CRD_FILES, externalSnapshotterUrl } from "./charts";
import { PlainObject, deepMerge } from "./deep-merge";
import {
    AddonSettings,
    METRICS_SERVER_ARGS,
    CA_BUNDLE_CONFIGMAP,
    CA_BUNDLE_KEY,
    CLOUD_CONFIG_CONFIGMAP,
    CLOUD_CONFIG_KEY,
    INGRESS_CLASS_NAME,
    SNAPSHOT_CLASS_NAME,
    STORAGE_CLASS_NAME,
    autoscalerValues,
    calicoNeedsCrdChart,
    calicoValues,
    ccmValues,
    ciliumValues,
    EBS_CSI_SECRET,
    ebsCsiValues,
    flannelValues,
    kastenValues,
    loadBalancerControllerValues,
    metricsServerValues,
} from "./values";
import { AddonName, AddonOverrides, AddonVersions, CNI_CHOICES, CniChoice, pinsFor, resolveVersions, supportWarnings } from "./versions";

export { ADDON_NAMES, AddonName, AddonOverride, AddonOverrides, SUPPORTED_EKSD_VERSIONS, VERSION_TABLE } from "./versions";

export { CNI_CHOICES, CniChoice } from "./versions";

export const BACKUP_EXPORT_SECRET_NAME = "zadara-backup-export";

/** Off-cluster export of the etcd backups (S3 / NGOS), read by the control-plane cron job. */
export interface EtcdBackupExportArgs {
    bucket: string;
    /** S3-compatible endpoint URL; empty or undefined means AWS S3. */
    endpoint?: string;
    region: string;
    accessKeyId: pulumi.Input<string>;
    secretAccessKey: pulumi.Input<string>;
}

/** What a stack chooses about its add-ons (the config loader produces exactly this). */
export interface AddonChoices {
    cni: CniChoice;
    /** zCompute volume type of the `ebs-sc` StorageClass (gp2, gp3, io1, ...). */
    volumeType: string;
    ebsCsi: boolean;
    loadBalancerController: boolean;
    autoscaler: boolean;
    kasten: boolean;
    /** metrics-server: the `metrics.k8s.io` API behind `kubectl top` and HorizontalPodAutoscalers. */
    metricsServer: boolean;
    autoscalerScaleDownUnneededTime: string;
    autoscalerScaleDownDelayAfterAdd: string;
    /** Per add-on chart version and values (deep-merged over ours, arrays replaced). */
    overrides: AddonOverrides;
}

export interface EksdAddonsArgs extends AddonChoices {
    /** Kubernetes cluster name (also the tag value used by CCM, LBC and the autoscaler). */
    clusterName: string;
    /** Admin kubeconfig of the cluster (a secret). */
    kubeconfig: pulumi.Input<string>;
    /** EKS-D minor, "1.30" … "1.36": selects the chart versions. */
    eksdVersion: string;
    podCidr: string;
    vpcId: pulumi.Input<string>;
    /** zCompute API base URL as seen from inside the VMs, e.g. https://cloud.example.com. */
    cloudApiUrl: pulumi.Input<string>;
    /** PEM of the cloud's root CA; when unset, pods mount the node's CA bundle instead. */
    rootCaCert?: string;
    /**
     * Who signs the kubelets' serving certificates. metrics-server verifies them against the
     * cluster CA (never `--kubelet-insecure-tls`), so it only becomes ready with "cluster-ca"
     * (serverTLSBootstrap and an approver); with "self-signed" (kubeadm's default, and the
     * default here) it is installed without waiting for readiness and the preview says why.
     */
    kubeletServingCertificates?: "cluster-ca" | "self-signed";
    etcdBackupExport?: EtcdBackupExportArgs;
    /**
     * The EBS CSI controller's own access key: pods cannot reach the instance metadata service
     * (and so no node role), and its chart cannot run the controller with host network.
     */
    ebsCsiCredentials?: { accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> };
    /** What the add-ons need first, e.g. the cluster's nodes; also makes destroy remove add-ons first. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /**
     * Where and what the destroy-time cleanup works on. When set, `pulumi destroy` first removes
     * the load balancers and volumes the controllers created, while they still run.
     */
    cleanup?: AddonsCleanupArgs;
}

export interface AddonsCleanupArgs {
    /** The Pulumi stack (the cleanup command reads its config). */
    stack: string;
    /** Cloud API base URL as Pulumi reaches it (config), not as the VMs do. */
    cloudApiUrl: pulumi.Input<string>;
    accessKey?: pulumi.Input<string>;
    secretKey?: pulumi.Input<string>;
    keepLoadBalancerArns: pulumi.Input<string>[];
    keepSecurityGroupIds: pulumi.Input<string>[];
    keepTargetGroupArns: pulumi.Input<string>[];
    timeoutSeconds?: number;
}

/** One installed Helm release, as reported in the component's outputs. */
export interface AddonRelease {
    addon: ReleaseKey;
    releaseName: string;
    chart: string;
    version: string;
    namespace: string;
}

/** Per release install options beyond the defaults (pinned, atomic, cleanup on fail). */
interface InstallOptions {
    createNamespace?: boolean;
    version?: string;
    /** Adopt objects that exist without this release's ownership (Helm `--take-ownership`). */
    takeOwnership?: boolean;
    /** false: a failed install must not uninstall (an adopting install would delete what it adopted). */
    atomic?: boolean;
    /** Pulumi never uninstalls the release (its objects outlive it). */
    retainOnDelete?: boolean;
    /** Do not wait for readiness (only with atomic off). */
    skipAwait?: boolean;
}

export class EksdAddons extends pulumi.ComponentResource {
    public readonly provider: k8s.Provider;
    /** Installed add-ons outside their upstream Kubernetes support statement, and other preview notes. */
    public readonly warnings: string[];
    /** The versions in force: version table for `eksdVersion` plus the stack's overrides. */
    public readonly versions: AddonVersions;
    public readonly releases: AddonRelease[];
    /** Tag of external-snapshotter whose CRDs/controller were applied (undefined without EBS CSI). */
    public readonly snapshotterTag?: string;
    public readonly storageClassName?: string;
    public readonly volumeSnapshotClassName?: string;
    public readonly ingressClassName?: string;
    public readonly backupExportSecretName?: string;
    public readonly cleanup?: ClusterCleanup;

    private readonly args: EksdAddonsArgs;
    private readonly settings: pulumi.Output<AddonSettings>;
    private readonly resourceName: string;
    /** Everything installed: the destroy cleanup must run while all of it still exists. */
    private readonly installed: pulumi.Resource[] = [];

    constructor(name: string, args: EksdAddonsArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate before registering anything, so a bad config leaves no half-built component.
        if (!(CNI_CHOICES as readonly string[]).includes(args.cni)) {
            throw new Error(`cni must be one of ${CNI_CHOICES.join(", ")}, got "${args.cni}"`);
        }
        const versions = resolveVersions(args.eksdVersion, args.overrides);
        const { ccmImageTag, autoscalerImageTag } = pinsFor(args.eksdVersion);
        const warnings = supportWarnings(args.eksdVersion, args, versions);
        const kubeletCertsSigned = args.kubeletServingCertificates === "cluster-ca";
        if (args.metricsServer && !kubeletCertsSigned) {
            warnings.push(
                "metrics-server is installed but stays unready: it verifies kubelet serving certificates against the cluster CA " +
                    `(${METRICS_SERVER_ARGS.join(" ")}; --kubelet-insecure-tls is not used) and the kubelets serve self-signed certificates. ` +
                    "kubectl top and HorizontalPodAutoscalers work once kubelets use CA-signed serving certificates (serverTLSBootstrap with an approver); or set metricsServer: false.",
            );
        }

        super("zadara:eksd:EksdAddons", name, {}, opts);
        this.warnings = warnings;
        for (const warning of warnings) {
            void pulumi.log.warn(warning, this);
        }
        this.args = args;
        this.resourceName = name;
        this.versions = versions;
        this.releases = [];

        this.provider = new k8s.Provider(
            `${name}-k8s`,
            {
                kubeconfig: pulumi.secret(args.kubeconfig),
                enableServerSideApply: true,
            },
            { parent: this, dependsOn: args.dependsOn },
        );

        this.settings = pulumi.all([args.vpcId, args.cloudApiUrl]).apply(([vpcId, cloudApiUrl]) => ({
            clusterName: args.clusterName,
            podCidr: args.podCidr,
            vpcId,
            cloudApiUrl,
            volumeType: args.volumeType,
            caBundle: args.rootCaCert ? ("configMap" as const) : ("hostPath" as const),
            autoscalerScaleDownUnneededTime: args.autoscalerScaleDownUnneededTime,
            autoscalerScaleDownDelayAfterAdd: args.autoscalerScaleDownDelayAfterAdd,
            versions: this.versions,
            ccmImageTag,
            autoscalerImageTag,
        }));

        // Order: CNI -> CCM -> snapshot CRDs/controller -> EBS CSI; LBC, autoscaler and K10
        // after the CCM (K10 also after EBS CSI: it needs the default StorageClass).
        const cni = this.installCni();
        const controllerConfig = this.installControllerConfig();
        const ccm = this.installRelease("ccm", ccmValues, [...cni, ...controllerConfig]);

        let ebsCsi: pulumi.Resource | undefined;
        if (args.ebsCsi) {
            const snapshotter = this.installSnapshotController([ccm]);
            const credentials = args.ebsCsiCredentials ? [this.installEbsCsiCredentials(args.ebsCsiCredentials)] : [];
            ebsCsi = this.installRelease("ebsCsi", ebsCsiValues, [ccm, ...snapshotter, ...credentials]);
            this.snapshotterTag = this.versions.snapshotController;
            this.storageClassName = STORAGE_CLASS_NAME;
            this.volumeSnapshotClassName = SNAPSHOT_CLASS_NAME;
        }
        // The LB controller's webhook intercepts every new Service and fails closed while its
        // pods start: charts that create Services (autoscaler, K10) install after it.
        const serviceWebhook: pulumi.Resource[] = [];
        if (args.loadBalancerController) {
            serviceWebhook.push(this.installRelease("loadBalancerController", loadBalancerControllerValues, [ccm]));
            this.ingressClassName = INGRESS_CLASS_NAME;
        }
        if (args.autoscaler) {
            this.installRelease("autoscaler", autoscalerValues, [ccm, ...serviceWebhook]);
        }
        if (args.kasten) {
            this.installRelease("kasten", kastenValues, [ccm, ...(ebsCsi ? [ebsCsi] : []), ...serviceWebhook], { createNamespace: true });
        }
        if (args.metricsServer) {
            // Unready until the kubelets' serving certificates are CA-signed: then a wait would
            // fail every `up`, so the release is not awaited (and so not atomic) until they are.
            this.installRelease("metricsServer", metricsServerValues, [ccm], kubeletCertsSigned ? {} : { atomic: false, skipAwait: true });
        }
        if (args.etcdBackupExport) {
            this.installBackupExportSecret(args.etcdBackupExport);
            this.backupExportSecretName = BACKUP_EXPORT_SECRET_NAME;
        }
        if (args.cleanup) {
            // Depending on every release makes Pulumi delete the cleanup first on destroy,
            // while the controllers that must remove their load balancers and volumes still run.
            this.cleanup = new ClusterCleanup(
                `${name}-cleanup`,
                {
                    clusterName: args.clusterName,
                    stack: args.cleanup.stack,
                    cloudApiUrl: args.cleanup.cloudApiUrl,
                    accessKey: args.cleanup.accessKey,
                    secretKey: args.cleanup.secretKey,
                    kubeconfig: args.kubeconfig,
                    keepLoadBalancerArns: args.cleanup.keepLoadBalancerArns,
                    keepSecurityGroupIds: args.cleanup.keepSecurityGroupIds,
                    keepTargetGroupArns: args.cleanup.keepTargetGroupArns,
                    timeoutSeconds: args.cleanup.timeoutSeconds,
                    dependsOn: [...this.installed, ...(args.dependsOn ?? [])],
                },
                { parent: this },
            );
        }

        this.registerOutputs({
            cni: args.cni,
            eksdVersion: args.eksdVersion,
            versions: this.versions,
            releases: this.releases,
            releaseNames: this.releases.map((r) => r.releaseName),
            warnings: this.warnings,
            snapshotterTag: this.snapshotterTag,
            storageClassName: this.storageClassName,
            volumeSnapshotClassName: this.volumeSnapshotClassName,
            ingressClassName: this.ingressClassName,
            backupExportSecretName: this.backupExportSecretName,
        });
    }

    private childOptions(dependsOn: pulumi.Resource[] = []): pulumi.CustomResourceOptions {
        return { parent: this, provider: this.provider, dependsOn };
    }

    /** Values we build for an add-on, with the stack's override values merged over them. */
    private valuesFor(addon: AddonName, build: (s: AddonSettings) => PlainObject): pulumi.Output<PlainObject> {
        const overrideValues = this.args.overrides[addon]?.values;
        return this.settings.apply((s) => deepMerge(build(s), overrideValues));
    }

    private installRelease(
        key: ChartReleaseKey,
        values: ((s: AddonSettings) => PlainObject) | undefined,
        dependsOn: pulumi.Resource[],
        options: InstallOptions = {},
    ): k8s.helm.v3.Release {
        const source: ChartSource = CHART_SOURCES[key];
        // `calicoCrds` has no row of its own: the caller passes the calico version.
        const version = options.version ?? this.versions[key as AddonName];
        const release = new k8s.helm.v3.Release(
            `${this.resourceName}-${source.releaseName}`,
            {
                name: source.releaseName,
                chart: source.chart,
                version,
                repositoryOpts: { repo: source.repo },
                namespace: source.namespace,
                createNamespace: options.createNamespace ?? false,
                values: values ? this.valuesFor(key as AddonName, values) : {},
                timeout: source.timeoutSeconds,
                // A failed install or upgrade rolls back instead of leaving a half-applied release;
                // not where rolling back would delete objects the release only adopted.
                atomic: options.atomic ?? true,
                cleanupOnFail: options.atomic ?? true,
                maxHistory: 5,
                ...(options.takeOwnership ? { takeOwnership: true } : {}),
                ...(options.skipAwait ? { skipAwait: true } : {}),
            },
            { ...this.childOptions(dependsOn), ...(options.retainOnDelete ? { retainOnDelete: true } : {}) },
        );
        this.installed.push(release);
        this.releases.push({
            addon: key,
            releaseName: source.releaseName,
            chart: source.chart,
            version,
            namespace: source.namespace,
        });
        return release;
    }

    // CNI pods run privileged; label their namespace so Pod Security admission never blocks them.
    private privilegedNamespace(namespace: string): k8s.core.v1.Namespace {
        return new k8s.core.v1.Namespace(
            `${this.resourceName}-ns-${namespace}`,
            {
                metadata: {
                    name: namespace,
                    labels: { "pod-security.kubernetes.io/enforce": "privileged" },
                },
            },
            this.childOptions(),
        );
    }

    private installCni(): pulumi.Resource[] {
        switch (this.args.cni) {
            case "flannel": {
                const namespace = this.privilegedNamespace(CHART_SOURCES.flannel.namespace);
                return [this.installRelease("flannel", flannelValues, [namespace])];
            }
            case "cilium": {
                const namespace = this.privilegedNamespace(CHART_SOURCES.cilium.namespace);
                return [this.installRelease("cilium", ciliumValues, [namespace])];
            }
            case "calico": {
                const dependsOn: pulumi.Resource[] = [];
                if (calicoNeedsCrdChart(this.versions.calico)) {
                    // Below v3.32 the operator chart's crds/ folder (and from v3.31 the operator
                    // itself) created these CRDs without Helm ownership: this release adopts them
                    // (addons/chart-objects.ts). Never atomic: a failed atomic install uninstalls,
                    // which would delete the adopted CRDs and every Calico object with them. Kept
                    // on delete: Pulumi never uninstalls the CRDs of a running network.
                    dependsOn.push(
                        this.installRelease("calicoCrds", undefined, [], {
                            createNamespace: true,
                            version: this.versions.calico,
                            takeOwnership: true,
                            atomic: false,
                            retainOnDelete: true,
                        }),
                    );
                }
                return [this.installRelease("calico", calicoValues, dependsOn, { createNamespace: true })];
            }
        }
    }

    /** The `cloud-config` ConfigMap (CCM, autoscaler) and, with a root CA, the CA ConfigMap. */
    private installControllerConfig(): pulumi.Resource[] {
        const resources: pulumi.Resource[] = [];
        resources.push(
            new k8s.core.v1.ConfigMap(
                `${this.resourceName}-cloud-config`,
                {
                    metadata: { name: CLOUD_CONFIG_CONFIGMAP, namespace: "kube-system" },
                    data: { [CLOUD_CONFIG_KEY]: pulumi.output(this.args.cloudApiUrl).apply(buildCloudConfig) },
                },
                this.childOptions(),
            ),
        );
        if (this.args.rootCaCert) {
            resources.push(
                new k8s.core.v1.ConfigMap(
                    `${this.resourceName}-root-ca`,
                    {
                        metadata: { name: CA_BUNDLE_CONFIGMAP, namespace: "kube-system" },
                        data: { [CA_BUNDLE_KEY]: this.args.rootCaCert },
                    },
                    this.childOptions(),
                ),
            );
        }
        return resources;
    }

    /** Snapshot CRDs, then the snapshot controller, from the pinned external-snapshotter tag. */
    private installSnapshotController(dependsOn: pulumi.Resource[]): pulumi.Resource[] {
        const tag = this.versions.snapshotController;
        const crds = SNAPSHOT_CRD_FILES.map((file) => this.configFile(tag, file, dependsOn));
        const controller = SNAPSHOT_CONTROLLER_FILES.map((file) => this.configFile(tag, file, [...dependsOn, ...crds]));
        return [...crds, ...controller];
    }

    private configFile(tag: string, file: string, dependsOn: pulumi.Resource[]): k8s.yaml.v2.ConfigFile {
        const baseName = file
            .slice(file.lastIndexOf("/") + 1)
            .replace(/\.yaml$/, "")
            .replace(/^snapshot\.storage\.k8s\.io_/, "");
        return new k8s.yaml.v2.ConfigFile(
            `${this.resourceName}-snapshot-${baseName}`,
            {
                file: externalSnapshotterUrl(tag, file),
            },
            this.childOptions(dependsOn),
        );
    }

    /** The Secret the EBS CSI chart reads its controller's credentials from (awsAccessSecret). */
    private installEbsCsiCredentials(credentials: { accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> }): k8s.core.v1.Secret {
        const stringData = pulumi.all([credentials.accessKeyId, credentials.secretAccessKey]).apply(([keyId, accessKey]) => ({
            [EBS_CSI_SECRET.keyId]: keyId,
            [EBS_CSI_SECRET.accessKey]: accessKey,
        }));
        return new k8s.core.v1.Secret(
            `${this.resourceName}-ebs-csi-credentials`,
            {
                metadata: { name: EBS_CSI_SECRET.name, namespace: "kube-system" },
                type: "Opaque",
                stringData: pulumi.secret(stringData),
            },
            this.childOptions(),
        );
    }

    /** Settings for the etcd backup export, read at run time by the control-plane cron job. */
    private installBackupExportSecret(exportArgs: EtcdBackupExportArgs): k8s.core.v1.Secret {
        const stringData = pulumi.all([exportArgs.accessKeyId, exportArgs.secretAccessKey]).apply(([accessKeyId, secretAccessKey]) => ({
            accessKeyId,
            secretAccessKey,
            bucket: exportArgs.bucket,
            endpoint: exportArgs.endpoint ?? "",
            region: exportArgs.region,
        }));
        return new k8s.core.v1.Secret(
            `${this.resourceName}-backup-export`,
            {
                metadata: { name: BACKUP_EXPORT_SECRET_NAME, namespace: "kube-system" },
                type: "Opaque",
                stringData: pulumi.secret(stringData),
            },
            this.childOptions(),
        );
    }
}
