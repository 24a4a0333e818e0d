// EksdAddons: version table, overrides, cloud config, and what reaches each Helm release
// under Pulumi mocks (values, ordering, toggles, the backup-export Secret).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CHART_OBJECTS } from "../addons/chart-objects";
import { buildCloudConfig, serializeIni, zcomputeEndpoint } from "../addons/cloud-config";
import { deepMerge } from "../addons/deep-merge";
import { calicoNeedsCrdChart, lbcApiEndpoints } from "../addons/values";
import {
    ADDON_NAMES,
    SNAPSHOT_CONTROLLER_IMAGES,
    SUPPORTED_EKSD_VERSIONS,
    VERSION_TABLE,
    compareVersions,
    imageMinor,
    pinsFor,
    resolveVersions,
} from "../addons/versions";
import { AddonsRun, RecordedResource, isSecretValue, runAddons, unwrapSecrets } from "./helpers/addons-harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";

function releaseOf(run: AddonsRun, releaseName: string): RecordedResource {
    const release = run.release(releaseName);
    assert.ok(release, `release ${releaseName} is installed`);
    return release;
}

function valuesOf(run: AddonsRun, releaseName: string): any {
    return unwrapSecrets(releaseOf(run, releaseName).inputs.values);
}

function releaseNames(run: AddonsRun): string[] {
    return run
        .ofType(RELEASE)
        .map((r) => r.inputs.name)
        .sort();
}

describe("deepMerge", () => {
    test("merges objects key by key and replaces arrays and scalars", () => {
        const base = { a: { b: 1, c: [1, 2], d: { e: "x" } }, f: "keep" };
        const merged = deepMerge(base, { a: { c: [9], d: { g: true } }, h: null });
        assert.deepEqual(merged, { a: { b: 1, c: [9], d: { e: "x", g: true } }, f: "keep", h: null });
    });

    test("never modifies its inputs", () => {
        const base = { a: { list: [1] } };
        const override = { a: { list: [2], extra: { x: 1 } } };
        const merged = deepMerge(base, override);
        (merged.a as any).extra.x = 99;
        (merged.a as any).list.push(3);
        assert.deepEqual(base, { a: { list: [1] } });
        assert.deepEqual(override, { a: { list: [2], extra: { x: 1 } } });
    });

    test("an object replaces a scalar and the other way round", () => {
        assert.deepEqual(deepMerge({ a: "x" }, { a: { b: 1 } }), { a: { b: 1 } });
        assert.deepEqual(deepMerge({ a: { b: 1 } }, { a: "x" }), { a: "x" });
        assert.deepEqual(deepMerge({ a: 1 }, undefined), { a: 1 });
    });
});

describe("cloud config", () => {
    test("INI serializer renders sections, subsections and entries", () => {
        const text = serializeIni([
            { name: "Global", entries: { Zone: "z" } },
            { name: "ServiceOverride", subsection: "1", entries: { Service: "ec2", URL: "u" } },
        ]);
        assert.equal(text, '[Global]\nZone = z\n\n[ServiceOverride "1"]\nService = ec2\nURL = u\n');
    });

    test("points ec2, autoscaling and elasticloadbalancing at zCompute", () => {
        const text = buildCloudConfig("https://cloud.example.com/");
        assert.equal(
            text,
            [
                "[Global]",
                "Zone = us-east-1a",
                "",
                '[ServiceOverride "1"]',
                "Service = ec2",
                "Region = us-east-1",
                "URL = https://cloud.example.com/api/v2/aws/ec2",
                "SigningRegion = us-east-1",
                "SigningMethod = v4",
                "",
                '[ServiceOverride "2"]',
                "Service = autoscaling",
                "Region = us-east-1",
                "URL = https://cloud.example.com/api/v2/aws/autoscaling",
                "SigningRegion = us-east-1",
                "SigningMethod = v4",
                "",
                '[ServiceOverride "3"]',
                "Service = elasticloadbalancing",
                "Region = us-east-1",
                "URL = https://cloud.example.com/api/v2/aws/elbv2",
                "SigningRegion = us-east-1",
                "SigningMethod = v4",
                "",
            ].join("\n"),
        );
    });

    test("endpoint URLs never get a double slash", () => {
        assert.equal(zcomputeEndpoint("https://c.example.com//", "sts"), "https://c.example.com/api/v2/aws/sts");
    });
});

describe("version table", () => {
    test("covers EKS-D 1.30 to 1.36, every add-on in every row", () => {
        assert.deepEqual(SUPPORTED_EKSD_VERSIONS, ["1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36"]);
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            for (const addon of ADDON_NAMES) {
                assert.match(VERSION_TABLE[minor].versions[addon], /^v?\d+\.\d+\.\d+$/, `${minor} ${addon}`);
            }
        }
    });

    test("the CCM and the autoscaler run the cluster's own minor on every minor", () => {
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            assert.equal(imageMinor(pinsFor(minor).ccmImageTag), minor, `${minor} ccm`);
            assert.equal(imageMinor(pinsFor(minor).autoscalerImageTag), minor, `${minor} autoscaler`);
        }
    });

    test("the CCM chart is 0.0.11 everywhere (tokenreviews/subjectaccessreviews RBAC)", () => {
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            assert.equal(pinsFor(minor).versions.ccm, "0.0.11", minor);
        }
    });

    test("the snapshot controller image is on the line of its tag (no v8.2.0 tag with a v8.0.1 image)", () => {
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            const tag = pinsFor(minor).versions.snapshotController;
            const image = SNAPSHOT_CONTROLLER_IMAGES[tag];
            assert.ok(image, `${minor}: image known for ${tag}`);
            assert.equal(imageMinor(image), imageMinor(tag), `${minor}: ${tag} deploys ${image}`);
        }
    });

    test("the load balancer controller stays on the SDK v1 line (1.7.x) everywhere", () => {
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            assert.match(pinsFor(minor).versions.loadBalancerController, /^1\.7\./, minor);
        }
    });

    test("an unknown or end-of-life EKS-D version is refused", () => {
        assert.throws(() => pinsFor("1.27"), /No add-on versions for EKS-D 1.27/);
        assert.throws(() => pinsFor("1.29"), /No add-on versions for EKS-D 1.29/);
    });

    test("overrides replace one version and leave the rest", () => {
        const v = resolveVersions("1.30", { autoscaler: { version: "9.38.0" } });
        assert.equal(v.autoscaler, "9.38.0");
        assert.equal(v.ebsCsi, pinsFor("1.30").versions.ebsCsi);
    });

    test("override names and shapes are validated", () => {
        assert.throws(() => resolveVersions("1.30", { ebs: { version: "1" } }), /addonOverrides.ebs: unknown add-on/);
        assert.throws(() => resolveVersions("1.30", { ebsCsi: { version: " " } }), /non-empty/);
        assert.throws(() => resolveVersions("1.30", { ebsCsi: { values: [] as any } }), /must be an object/);
        assert.throws(() => resolveVersions("1.30", { snapshotController: { values: {} } }), /version \(release tag\) only/);
    });

    test("compareVersions orders numerically and ignores v and suffixes", () => {
        assert.ok(compareVersions("v3.32.1", "v3.29.1") > 0);
        assert.ok(compareVersions("1.10.0", "1.9.9") > 0);
        assert.equal(compareVersions("v1.8.0", "1.8.0-rc.1"), 0);
        assert.ok(calicoNeedsCrdChart("v3.32.1"));
        assert.ok(!calicoNeedsCrdChart("v3.29.1"));
    });
});

describe("load balancer controller endpoints", () => {
    const url = "https://cloud.example.com";
    test("chart 1.7.x uses the SDK v1 service ids", () => {
        assert.equal(
            lbcApiEndpoints("1.7.2", url),
            "ec2=https://cloud.example.com/api/v2/aws/ec2," +
                "elasticloadbalancing=https://cloud.example.com/api/v2/aws/elbv2," +
                "acm=https://cloud.example.com/api/v2/aws/acm," +
                "sts=https://cloud.example.com/api/v2/aws/sts",
        );
    });

    test("chart 1.8.0 and later use the SDK v2 service ids", () => {
        for (const version of ["1.8.0", "3.5.0"]) {
            assert.equal(
                lbcApiEndpoints(version, url),
                "EC2=https://cloud.example.com/api/v2/aws/ec2," +
                    "Elastic Load Balancing v2=https://cloud.example.com/api/v2/aws/elbv2," +
                    "ACM=https://cloud.example.com/api/v2/aws/acm," +
                    "STS=https://cloud.example.com/api/v2/aws/sts",
            );
        }
    });
});

describe("EksdAddons under mocks: defaults (flannel, EBS CSI, LBC, autoscaler)", async () => {
    const run = await runAddons();
    const componentUrn = run.ofType("zadara:eksd:EksdAddons")[0].urn;
    const provider = run.ofType("pulumi:providers:kubernetes")[0];

    test("installs the expected releases and nothing else", () => {
        assert.deepEqual(releaseNames(run), [
            "aws-cloud-controller-manager",
            "aws-ebs-csi-driver",
            "aws-load-balancer-controller",
            "cluster-autoscaler",
            "flannel",
            "metrics-server",
        ]);
        assert.equal(run.ofType("kubernetes:core/v1:Secret").length, 0, "no backup-export Secret");
        assert.equal(run.resources.filter((r) => r.inputs?.metadata?.name === "zadara-root-ca").length, 0);
    });

    test("the provider uses the kubeconfig as a secret, server-side apply, and waits for the nodes", () => {
        assert.equal(provider.inputs.enableServerSideApply, "true");
        assert.ok(isSecretValue(provider.inputs.kubeconfig), "kubeconfig is secret");
        const node = run.ofType("test:index:Node")[0];
        assert.ok(provider.dependencies.includes(node.urn), "provider depends on the nodes");
    });

    test("every add-on resource is a child of the component and uses its provider", () => {
        for (const r of run.resources.filter((x) => x.type.startsWith("kubernetes:"))) {
            assert.equal(r.parent, componentUrn, `${r.name} parent`);
            assert.ok(r.provider.startsWith(`${provider.urn}::`), `${r.name} provider`);
        }
    });

    test("releases are pinned, atomic, clean up on failure and keep little history (metrics-server: see below)", () => {
        for (const r of run.ofType(RELEASE).filter((release) => release.inputs.name !== "metrics-server")) {
            assert.equal(r.inputs.atomic, true, r.name);
            assert.equal(r.inputs.cleanupOnFail, true, r.name);
            assert.equal(r.inputs.maxHistory, 5, r.name);
            assert.ok(r.inputs.timeout >= 600, r.name);
            assert.ok(r.inputs.version, r.name);
            assert.match(r.inputs.repositoryOpts.repo, /^https:\/\//, r.name);
        }
        assert.equal(releaseOf(run, "aws-ebs-csi-driver").inputs.version, "2.33.0");
        assert.equal(releaseOf(run, "aws-ebs-csi-driver").inputs.namespace, "kube-system");
    });

    test("cloud-config ConfigMap holds cloud.conf for zCompute", () => {
        const configMap = run.resources.find((r) => r.inputs?.metadata?.name === "cloud-config")!;
        assert.equal(configMap.inputs.metadata.namespace, "kube-system");
        assert.equal(configMap.inputs.data["cloud.conf"], buildCloudConfig("https://cloud.example.com"));
    });

    test("flannel gets the pod CIDR and a privileged namespace", () => {
        assert.deepEqual(valuesOf(run, "flannel"), { podCidr: "10.244.0.0/16" });
        assert.equal(releaseOf(run, "flannel").inputs.namespace, "kube-flannel");
        const namespace = run.byName("t1-addons-ns-kube-flannel");
        assert.equal(namespace.inputs.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
    });

    test("CCM: full argument list, cloud-config and CA bundle mounts, control-plane placement", () => {
        const values = valuesOf(run, "aws-cloud-controller-manager");
        assert.deepEqual(values.args, [
            "--v=2",
            "--cloud-provider=aws",
            "--cloud-config=config/cloud.conf",
            "--allocate-node-cidrs=false",
            "--cluster-cidr=10.244.0.0/16",
            "--cluster-name=demo",
            "--configure-cloud-routes=false",
        ]);
        assert.deepEqual(values.extraVolumes, [
            { name: "cloud-config", configMap: { name: "cloud-config" } },
            { name: "ca-bundle", hostPath: { path: "/etc/ssl/certs/ca-certificates.crt", type: "File" } },
        ]);
        assert.deepEqual(values.extraVolumeMounts, [
            { name: "cloud-config", mountPath: "/config", readOnly: true },
            { name: "ca-bundle", mountPath: "/etc/ssl/certs/ca-certificates.crt", readOnly: true },
        ]);
        assert.deepEqual(values.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
        assert.ok(values.tolerations.some((t: any) => t.key === "node.cloudprovider.kubernetes.io/uninitialized"));
        assert.ok(values.tolerations.some((t: any) => t.key === "node-role.kubernetes.io/control-plane"));
        assert.deepEqual(values.image, { tag: "v1.30.10" }, "1.30 runs the 1.30 CCM, not the chart's v1.35.0");
    });

    test("EBS CSI: region, sidecar args, ebs-sc and ebs-vsc, EC2 endpoint, CA bundle, control plane", () => {
        const values = valuesOf(run, "aws-ebs-csi-driver");
        assert.equal(values.controller.region, "us-east-1");
        for (const sidecar of ["provisioner", "attacher"]) {
            assert.deepEqual(values.sidecars[sidecar].additionalArgs, ["--timeout=60s", "--retry-interval-start=4s"]);
        }
        assert.deepEqual(values.storageClasses, [
            {
                name: "ebs-sc",
                annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
                volumeBindingMode: "WaitForFirstConsumer",
                allowVolumeExpansion: true,
                parameters: { type: "gp2" },
            },
        ]);
        assert.deepEqual(values.volumeSnapshotClasses, [
            {
                name: "ebs-vsc",
                annotations: {
                    "snapshot.storage.kubernetes.io/is-default-class": "true",
                    "k10.kasten.io/is-snapshot-class": "true",
                },
                deletionPolicy: "Delete",
            },
        ]);
        assert.deepEqual(values.controller.env, [{ name: "AWS_EC2_ENDPOINT", value: "https://cloud.example.com/api/v2/aws/ec2" }]);
        assert.deepEqual(values.controller.volumeMounts, [{ name: "ca-bundle", mountPath: "/etc/ssl/certs/ca-certificates.crt", readOnly: true }]);
        assert.deepEqual(values.controller.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
        assert.ok(values.controller.tolerations.some((t: any) => t.key === "node-role.kubernetes.io/control-plane"));
    });

    test("snapshot CRDs and controller come from the pinned external-snapshotter tag", () => {
        const files = run.ofType("kubernetes:yaml/v2:ConfigFile").map((r) => r.inputs.file);
        const base = "https://raw.githubusercontent.com/kubernetes-csi/external-snapshotter/v8.2.1/";
        assert.deepEqual(files.sort(), [
            `${base}client/config/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml`,
            `${base}client/config/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml`,
            `${base}client/config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml`,
            `${base}deploy/kubernetes/snapshot-controller/rbac-snapshot-controller.yaml`,
            `${base}deploy/kubernetes/snapshot-controller/setup-snapshot-controller.yaml`,
        ]);
    });

    test("LBC: cluster, VPC, region, SDK v1 endpoints, no Shield/WAF, default IngressClass, control plane", () => {
        const values = valuesOf(run, "aws-load-balancer-controller");
        assert.equal(values.clusterName, "demo");
        assert.equal(values.vpcId, "vpc-0123456789");
        assert.equal(values.region, "us-east-1");
        assert.equal(values.awsApiEndpoints, lbcApiEndpoints("1.7.2", "https://cloud.example.com"));
        assert.equal(values.enableShield, false);
        assert.equal(values.enableWaf, false);
        assert.equal(values.enableWafv2, false);
        assert.deepEqual(values.ingressClassConfig, { default: true });
        assert.deepEqual(values.extraVolumeMounts, [{ name: "ca-bundle", mountPath: "/etc/ssl/certs/ca-certificates.crt", readOnly: true }]);
        assert.deepEqual(values.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
    });

    test("autoscaler: auto-discovery, region, cloud config, scale-down timings, control plane", () => {
        const values = valuesOf(run, "cluster-autoscaler");
        assert.deepEqual(values.autoDiscovery, { clusterName: "demo" });
        assert.equal(values.awsRegion, "us-east-1");
        assert.equal(values.cloudConfigPath, "/config/cloud.conf");
        assert.equal(values.extraArgs["cloud-config"], "/config/cloud.conf");
        assert.equal(values.extraArgs["scale-down-unneeded-time"], "10m");
        assert.equal(values.extraArgs["scale-down-delay-after-add"], "10m");
        assert.deepEqual(values.nodeSelector, { "node-role.kubernetes.io/control-plane": "" });
        assert.deepEqual(values.tolerations, [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }]);
        assert.deepEqual(values.extraVolumes[0], { name: "cloud-config", configMap: { name: "cloud-config" } });
    });

    test("order: CNI -> CCM -> snapshot CRDs/controller -> EBS CSI; LBC and autoscaler after CCM", () => {
        const cni = releaseOf(run, "flannel");
        const ccm = releaseOf(run, "aws-cloud-controller-manager");
        const ebs = releaseOf(run, "aws-ebs-csi-driver");
        const cloudConfig = run.resources.find((r) => r.inputs?.metadata?.name === "cloud-config")!;
        assert.ok(run.dependsOn(ccm, cni), "CCM after CNI");
        assert.ok(run.dependsOn(ccm, cloudConfig), "CCM after its cloud-config");
        const configFiles = run.ofType("kubernetes:yaml/v2:ConfigFile");
        for (const file of configFiles) {
            assert.ok(run.dependsOn(file, ccm), `${file.name} after CCM`);
            assert.ok(run.dependsOn(ebs, file), `EBS CSI after ${file.name}`);
        }
        const crds = configFiles.filter((f) => f.inputs.file.includes("/client/config/crd/"));
        const controller = configFiles.filter((f) => f.inputs.file.includes("snapshot-controller/"));
        for (const c of controller) {
            for (const crd of crds) {
                assert.ok(run.dependsOn(c, crd), `${c.name} after ${crd.name}`);
            }
        }
        assert.ok(run.dependsOn(releaseOf(run, "aws-load-balancer-controller"), ccm), "LBC after CCM");
        assert.ok(run.dependsOn(releaseOf(run, "cluster-autoscaler"), ccm), "autoscaler after CCM");
        // The LBC webhook rejects new Services until its pods run: Service-making charts wait.
        assert.ok(run.dependsOn(releaseOf(run, "cluster-autoscaler"), releaseOf(run, "aws-load-balancer-controller")), "autoscaler after LBC");
        assert.ok(!run.dependsOn(cni, ccm), "no cycle");
    });

    test("outputs name the releases, versions and classes", () => {
        const c = run.component;
        assert.deepEqual(c.releases.map((r) => r.releaseName).sort(), releaseNames(run));
        assert.equal(c.storageClassName, "ebs-sc");
        assert.equal(c.volumeSnapshotClassName, "ebs-vsc");
        assert.equal(c.ingressClassName, "alb");
        assert.equal(c.snapshotterTag, "v8.2.1");
        assert.equal(c.backupExportSecretName, undefined);
        assert.equal(c.versions.ccm, "0.0.11");
        const ccm = c.releases.find((r) => r.addon === "ccm")!;
        assert.deepEqual(ccm, {
            addon: "ccm",
            releaseName: "aws-cloud-controller-manager",
            chart: "aws-cloud-controller-manager",
            version: "0.0.11",
            namespace: "kube-system",
        });
    });
});

describe("EksdAddons under mocks: CNI choices", () => {
    test("calico: tigera operator with BGP and an IPIP pool on the pod CIDR", async () => {
        const run = await runAddons({ cni: "calico", podCidr: "10.50.0.0/16" });
        const release = releaseOf(run, "calico");
        assert.equal(release.inputs.chart, "tigera-operator");
        assert.equal(release.inputs.version, "v3.29.1");
        assert.equal(release.inputs.namespace, "tigera-operator");
        assert.equal(release.inputs.createNamespace, true);
        const values = valuesOf(run, "calico");
        assert.equal(values.installation.calicoNetwork.bgp, "Enabled");
        assert.deepEqual(values.installation.calicoNetwork.ipPools, [
            {
                cidr: "10.50.0.0/16",
                encapsulation: "IPIP",
                natOutgoing: "Enabled",
                nodeSelector: "all()",
                blockSize: 26,
            },
        ]);
        assert.equal(run.release("calico-crds"), undefined, "v3.29 bundles its CRDs");
        assert.equal(run.release("flannel"), undefined);
        assert.ok(run.dependsOn(releaseOf(run, "aws-cloud-controller-manager"), release));
        assert.ok(valuesOf(run, "aws-cloud-controller-manager").args.includes("--cluster-cidr=10.50.0.0/16"));
    });

    test("calico v3.32+: the CRD chart is installed first", async () => {
        const run = await runAddons({ cni: "calico", overrides: { calico: { version: "v3.32.1" } } });
        const crds = releaseOf(run, "calico-crds");
        const operator = releaseOf(run, "calico");
        assert.equal(crds.inputs.chart, "crd.projectcalico.org.v1");
        assert.equal(crds.inputs.version, "v3.32.1");
        assert.equal(operator.inputs.version, "v3.32.1");
        assert.ok(run.dependsOn(operator, crds), "operator after its CRDs");
        assert.ok(run.dependsOn(releaseOf(run, "aws-cloud-controller-manager"), operator));
    });

    test("cilium: cilium-system, Hubble relay and UI, cluster-pool IPAM on the pod CIDR", async () => {
        const run = await runAddons({ cni: "cilium" });
        const release = releaseOf(run, "cilium");
        assert.equal(release.inputs.namespace, "cilium-system");
        assert.equal(release.inputs.version, "1.16.5");
        assert.equal(release.inputs.repositoryOpts.repo, "https://helm.cilium.io/");
        const values = valuesOf(run, "cilium");
        assert.equal(values.hubble.relay.enabled, true);
        assert.equal(values.hubble.ui.enabled, true);
        assert.equal(values.ipam.mode, "cluster-pool");
        assert.deepEqual(values.ipam.operator.clusterPoolIPv4PodCIDRList, ["10.244.0.0/16"]);
        for (const part of ["relay", "ui"]) {
            assert.ok(
                values.hubble[part].tolerations.some((t: any) => t.key === "node.cloudprovider.kubernetes.io/uninitialized"),
                part,
            );
        }
        const namespace = run.ofType("kubernetes:core/v1:Namespace")[0];
        assert.equal(namespace.inputs.metadata.name, "cilium-system");
        assert.ok(run.dependsOn(release, namespace));
        assert.ok(run.dependsOn(releaseOf(run, "aws-cloud-controller-manager"), release));
    });

    test("an unknown CNI is refused", async () => {
        await assert.rejects(runAddons({ cni: "weave" as any }), /cni must be one of flannel, calico, cilium/);
    });
});

describe("EksdAddons under mocks: toggles, CA, overrides, EKS-D 1.31", () => {
    test("everything optional off: only CNI and CCM (and their config)", async () => {
        const run = await runAddons({ ebsCsi: false, loadBalancerController: false, autoscaler: false, kasten: false, metricsServer: false });
        assert.deepEqual(releaseNames(run), ["aws-cloud-controller-manager", "flannel"]);
        assert.equal(run.ofType("kubernetes:yaml/v2:ConfigFile").length, 0, "no snapshot manifests without EBS CSI");
        assert.equal(run.component.storageClassName, undefined);
        assert.equal(run.component.ingressClassName, undefined);
    });

    test("kasten on: k10 in kasten-io after the CCM and EBS CSI", async () => {
        const run = await runAddons({ kasten: true });
        const k10 = releaseOf(run, "k10");
        assert.equal(k10.inputs.namespace, "kasten-io");
        assert.equal(k10.inputs.createNamespace, true);
        assert.equal(k10.inputs.version, "7.0.10");
        assert.equal(k10.inputs.repositoryOpts.repo, "https://charts.kasten.io/");
        assert.deepEqual(valuesOf(run, "k10"), { clusterName: "demo" });
        assert.ok(run.dependsOn(k10, releaseOf(run, "aws-cloud-controller-manager")));
        assert.ok(run.dependsOn(k10, releaseOf(run, "aws-ebs-csi-driver")));
        assert.ok(run.dependsOn(k10, releaseOf(run, "aws-load-balancer-controller")), "K10 after the LBC webhook");
    });

    test("kasten without EBS CSI still waits for the CCM", async () => {
        const run = await runAddons({ kasten: true, ebsCsi: false });
        assert.ok(run.dependsOn(releaseOf(run, "k10"), releaseOf(run, "aws-cloud-controller-manager")));
    });

    test("a root CA is shipped in a ConfigMap and mounted instead of the node's bundle", async () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        const run = await runAddons({ rootCaCert: pem });
        const configMap = run.resources.find((r) => r.inputs?.metadata?.name === "zadara-root-ca")!;
        assert.equal(configMap.inputs.metadata.namespace, "kube-system");
        assert.equal(configMap.inputs.data["ca-certificates.crt"], pem);
        const expectedVolume = { name: "ca-bundle", configMap: { name: "zadara-root-ca" } };
        const expectedMount = {
            name: "ca-bundle",
            mountPath: "/etc/ssl/certs/ca-certificates.crt",
            readOnly: true,
            subPath: "ca-certificates.crt",
        };
        const ccm = valuesOf(run, "aws-cloud-controller-manager");
        assert.deepEqual(ccm.extraVolumes[1], expectedVolume);
        assert.deepEqual(ccm.extraVolumeMounts[1], expectedMount);
        assert.deepEqual(valuesOf(run, "aws-ebs-csi-driver").controller.volumes, [expectedVolume]);
        assert.deepEqual(valuesOf(run, "aws-load-balancer-controller").extraVolumes, [expectedVolume]);
        assert.deepEqual(valuesOf(run, "cluster-autoscaler").extraVolumeMounts[1], expectedMount);
        assert.ok(run.dependsOn(releaseOf(run, "aws-cloud-controller-manager"), configMap), "CCM after the CA");
    });

    test("override values are deep-merged over ours, arrays replaced; override versions reach the release", async () => {
        const run = await runAddons({
            overrides: {
                ebsCsi: {
                    version: "2.39.3",
                    values: { controller: { replicaCount: 1, env: [{ name: "X", value: "1" }] } },
                },
                autoscaler: { values: { extraArgs: { "scale-down-utilization-threshold": "0.6" } } },
            },
        });
        const ebs = releaseOf(run, "aws-ebs-csi-driver");
        assert.equal(ebs.inputs.version, "2.39.3");
        const values = valuesOf(run, "aws-ebs-csi-driver");
        assert.equal(values.controller.replicaCount, 1);
        assert.equal(values.controller.region, "us-east-1", "our keys survive");
        assert.deepEqual(values.controller.env, [{ name: "X", value: "1" }], "arrays are replaced");
        const autoscaler = valuesOf(run, "cluster-autoscaler");
        assert.equal(autoscaler.extraArgs["scale-down-utilization-threshold"], "0.6");
        assert.equal(autoscaler.extraArgs["scale-down-unneeded-time"], "10m");
    });

    test("an LBC version override to the 1.8+ line switches the endpoint format", async () => {
        const run = await runAddons({ overrides: { loadBalancerController: { version: "3.5.0" } } });
        assert.match(valuesOf(run, "aws-load-balancer-controller").awsApiEndpoints, /^EC2=.*,Elastic Load Balancing v2=.*,ACM=.*,STS=/);
    });

    test("EKS-D 1.31: CCM 0.0.11 with the v1.31 image, EBS CSI 2.39.3, autoscaler 9.38.0", async () => {
        const run = await runAddons({ eksdVersion: "1.31" });
        assert.equal(releaseOf(run, "aws-cloud-controller-manager").inputs.version, "0.0.11");
        assert.deepEqual(valuesOf(run, "aws-cloud-controller-manager").image, { tag: "v1.31.9" });
        assert.equal(releaseOf(run, "aws-ebs-csi-driver").inputs.version, "2.39.3");
        assert.equal(releaseOf(run, "cluster-autoscaler").inputs.version, "9.38.0");
        assert.deepEqual(valuesOf(run, "cluster-autoscaler").image, { tag: "v1.31.5" });
    });

    test("EKS-D 1.36: one autoscaler chart (9.59.0) runs the 1.36 image; calico CRDs from their own chart", async () => {
        const run = await runAddons({ eksdVersion: "1.36", cni: "calico" });
        assert.equal(releaseOf(run, "cluster-autoscaler").inputs.version, "9.59.0");
        assert.deepEqual(valuesOf(run, "cluster-autoscaler").image, { tag: "v1.36.1" });
        assert.deepEqual(valuesOf(run, "aws-cloud-controller-manager").image, { tag: "v1.36.1" });
        assert.equal(releaseOf(run, "calico-crds").inputs.version, "v3.32.1");
        assert.ok(run.dependsOn(releaseOf(run, "calico"), releaseOf(run, "calico-crds")), "CRDs first");
    });

    test("an unknown override name fails the program instead of being ignored", async () => {
        await assert.rejects(runAddons({ overrides: { kasten10: { version: "7.0.10" } } }), /unknown add-on/);
    });
});

describe("EksdAddons under mocks: etcd backup export Secret", () => {
    test("present with every key, and the whole data is a secret", async () => {
        const run = await runAddons({
            etcdBackupExport: {
                bucket: "etcd-backups",
                endpoint: "https://cloud.example.com:1061",
                region: "us-east-1",
                accessKeyId: "AKIDEXAMPLE",
                secretAccessKey: "wJalrXUtnFEMI",
            },
        });
        const secrets = run.ofType("kubernetes:core/v1:Secret");
        assert.equal(secrets.length, 1);
        const secret = secrets[0];
        assert.deepEqual(secret.inputs.metadata, { name: "zadara-backup-export", namespace: "kube-system" });
        assert.ok(isSecretValue(secret.inputs.stringData), "stringData is a Pulumi secret");
        assert.deepEqual(unwrapSecrets(secret.inputs.stringData), {
            accessKeyId: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI",
            bucket: "etcd-backups",
            endpoint: "https://cloud.example.com:1061",
            region: "us-east-1",
        });
        assert.equal(run.component.backupExportSecretName, "zadara-backup-export");
    });

    test("endpoint defaults to empty (AWS S3)", async () => {
        const run = await runAddons({
            etcdBackupExport: { bucket: "b", region: "us-east-1", accessKeyId: "a", secretAccessKey: "s" },
        });
        assert.equal(unwrapSecrets(run.ofType("kubernetes:core/v1:Secret")[0].inputs.stringData).endpoint, "");
    });

    test("absent when the export is off", async () => {
        const run = await runAddons({ etcdBackupExport: undefined });
        assert.equal(run.ofType("kubernetes:core/v1:Secret").length, 0);
    });
});

describe("EksdAddons under mocks: controllers keep cloud credentials while pods cannot reach instance metadata", () => {
    test("the load balancer controller and the autoscaler run with host network on the control plane (the node role)", async () => {
        const run = await runAddons();
        for (const release of ["aws-load-balancer-controller", "cluster-autoscaler"]) {
            const values = valuesOf(run, release);
            assert.equal(values.hostNetwork, true, release);
            assert.equal(values.dnsPolicy, "ClusterFirstWithHostNet", `${release} keeps cluster DNS`);
            assert.deepEqual(values.nodeSelector, { "node-role.kubernetes.io/control-plane": "" }, release);
        }
        assert.equal(valuesOf(run, "aws-load-balancer-controller").replicaCount, 1, "two host-network replicas cannot share a node");
        assert.equal(valuesOf(run, "aws-cloud-controller-manager").hostNetworking, true);
    });

    test("the EBS CSI controller (no host-network switch in its chart) reads its own access key from kube-system/aws-secret, created before the release", async () => {
        const run = await runAddons({ ebsCsiCredentials: { accessKeyId: "AKIDEBSCSI", secretAccessKey: "ebs-secret-key" } });
        assert.deepEqual(valuesOf(run, "aws-ebs-csi-driver").awsAccessSecret, { name: "aws-secret", keyId: "key_id", accessKey: "access_key" });
        const secret = run.ofType("kubernetes:core/v1:Secret").find((s) => s.inputs.metadata?.name === "aws-secret")!;
        assert.equal(secret.inputs.metadata.namespace, "kube-system");
        assert.ok(isSecretValue(secret.inputs.stringData), "stringData is a Pulumi secret");
        assert.deepEqual(unwrapSecrets(secret.inputs.stringData), { key_id: "AKIDEBSCSI", access_key: "ebs-secret-key" });
        assert.ok(run.dependsOn(run.release("aws-ebs-csi-driver")!, secret), "the release waits for its credentials");
    });
});

describe("EksdAddons under mocks: metrics-server", () => {
    test("on by default: the chart renders the v1beta1.metrics.k8s.io APIService, InternalIP, no insecure kubelet TLS", async () => {
        const run = await runAddons({ eksdVersion: "1.35" });
        const release = releaseOf(run, "metrics-server");
        assert.equal(release.inputs.chart, "metrics-server");
        assert.equal(release.inputs.version, "3.13.1");
        assert.equal(release.inputs.namespace, "kube-system");
        const values = valuesOf(run, "metrics-server");
        assert.ok(values.defaultArgs.includes("--kubelet-preferred-address-types=InternalIP"));
        assert.ok(!JSON.stringify(values).includes("kubelet-insecure-tls"), "never --kubelet-insecure-tls");
        // The chart's APIService template renders when apiService.create (default true) is not overridden.
        assert.equal(values.apiService, undefined);
        assert.deepEqual(CHART_OBJECTS["metrics-server"]["3.13.1"].templated, ["APIService/v1beta1.metrics.k8s.io"]);
        assert.ok(run.dependsOn(release, releaseOf(run, "aws-cloud-controller-manager")), "after the CCM");
    });

    test("1.30 runs the 0.7 line (0.8 states 1.31+)", async () => {
        const run = await runAddons({ eksdVersion: "1.30" });
        assert.equal(releaseOf(run, "metrics-server").inputs.version, "3.12.2");
    });

    test("self-signed kubelet serving certificates: not awaited, not atomic, and the preview says why", async () => {
        const run = await runAddons({ eksdVersion: "1.35" });
        const release = releaseOf(run, "metrics-server");
        assert.equal(release.inputs.skipAwait, true);
        assert.equal(release.inputs.atomic, false);
        assert.ok(run.component.warnings.some((w) => /metrics-server is installed but stays unready.*--kubelet-insecure-tls is not used/.test(w)));
    });

    test("CA-signed kubelet serving certificates: an ordinary atomic, awaited release and no warning", async () => {
        const run = await runAddons({ eksdVersion: "1.35", kubeletServingCertificates: "cluster-ca" });
        const release = releaseOf(run, "metrics-server");
        assert.equal(release.inputs.atomic, true);
        assert.equal(release.inputs.skipAwait, undefined);
        assert.deepEqual(run.component.warnings, []);
    });

    test("metricsServer: false installs no metrics-server", async () => {
        const run = await runAddons({ metricsServer: false });
        assert.equal(run.release("metrics-server"), undefined);
    });
});

describe("EksdAddons under mocks: snapshots and support warnings", () => {
    test("EBS CSI renders the snapshotter sidecar and ebs-vsc whatever Helm discovers (forceEnable)", async () => {
        for (const eksdVersion of ["1.30", "1.31", "1.35"]) {
            const run = await runAddons({ eksdVersion });
            assert.deepEqual(valuesOf(run, "aws-ebs-csi-driver").sidecars.snapshotter, { forceEnable: true }, eksdVersion);
        }
    });

    test("an add-on outside its support statement is warned about at preview, with the reason", async () => {
        const cilium = await runAddons({ eksdVersion: "1.36", cni: "cilium" });
        assert.ok(
            cilium.component.warnings.some((w) =>
                /^cilium 1\.20\.0 on EKS-D 1\.36 is outside its upstream support statement: cilium 1\.19 is tested up to 1\.35/.test(w),
            ),
        );
        const kasten = await runAddons({ eksdVersion: "1.35", kasten: true, kubeletServingCertificates: "cluster-ca" });
        assert.deepEqual(kasten.component.warnings, [
            "kasten 7.0.10 on EKS-D 1.35 is outside its upstream support statement: the K10 7.0.10 chart states Kubernetes 1.23 - 1.26; no newer K10 chart has checked data here.",
        ]);
        const override = await runAddons({
            eksdVersion: "1.35",
            overrides: { cilium: { version: "1.16.5" } },
            cni: "cilium",
            kubeletServingCertificates: "cluster-ca",
        });
        assert.ok(
            override.component.warnings.some((w) => /^cilium 1\.16\.5 on EKS-D 1\.35 .*declared for 1\.27 - 1\.30/.test(w)),
            "an override is checked too",
        );
    });

    test("a supported set has no warning", async () => {
        const run = await runAddons({ eksdVersion: "1.33", cni: "calico", kubeletServingCertificates: "cluster-ca" });
        assert.deepEqual(run.component.warnings, []);
    });
});
