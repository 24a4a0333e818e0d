// Every key path we put into a chart's values exists in that chart at the version we install:
// checked on the values that actually reach each Helm release under mocks, for every EKS-D
// minor and every CNI, against the repository's derived chart facts (addons/chart-facts/).
// When the upstream chart defaults are present (../shared/charts, see its SOURCES.md), the same
// values are also checked against them, charts with a values.schema.json are validated with
// ajv, and the committed facts must equal what tools/chart-facts.ts derives from them.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import Ajv07 from "ajv";
import Ajv2019 from "ajv/dist/2019";
import Ajv2020 from "ajv/dist/2020";

import { calicoNeedsCrdChart } from "../addons/values";
import { SUPPORTED_EKSD_VERSIONS, pinsFor } from "../addons/versions";
import { chartVersionsIn, deriveChartFacts, readCommittedFacts, serializeFacts } from "../tools/chart-facts";
import { AddonsRun, runAddons, unwrapSecrets } from "./helpers/addons-harness";
import {
    CHARTS_DIR,
    UPSTREAM_CHARTS_PRESENT,
    chartDir,
    defaultTolerations,
    findUnknownKeys,
    loadChartKeySource,
    loadUpstreamChartKeySource,
} from "./helpers/chart-keys";

const CNIS = ["flannel", "calico", "cilium"] as const;
const ROOT_CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const NO_UPSTREAM = UPSTREAM_CHARTS_PRESENT ? false : "../shared/charts is absent";

/**
 * The ajv class for a schema's declared draft: charts ship draft-07 (cilium), 2019-09 (K10,
 * EBS CSI) and may ship 2020-12. A schema without `$schema` is read as draft-07, as Helm does.
 */
export function ajvForSchema(schema: { $schema?: unknown }): Ajv07 {
    const declared = typeof schema.$schema === "string" ? schema.$schema : "";
    // strict: false because the chart schemas use annotation keywords ajv does not know.
    const options = { strict: false, allErrors: true };
    if (declared.includes("2019-09")) {
        return new Ajv2019(options);
    }
    if (declared.includes("2020-12")) {
        return new Ajv2020(options);
    }
    if (declared === "" || /draft-0[67]/.test(declared)) {
        return new Ajv07(options);
    }
    throw new Error(`values.schema.json declares ${declared}, a JSON Schema draft this test does not know`);
}

/** Chart validators from values.schema.json, whichever draft it declares. */
function schemaValidator(chart: string, version: string): ((values: unknown) => string[]) | undefined {
    if (!UPSTREAM_CHARTS_PRESENT) {
        return undefined;
    }
    const schemaFile = path.join(chartDir(chart, version), "values.schema.json");
    if (!fs.existsSync(schemaFile)) {
        return undefined;
    }
    const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
    const ajv = ajvForSchema(schema);
    const validate = ajv.compile(schema);
    return (values: unknown) => (validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
}

/** Checks every Helm release of a run; returns the list of (chart, version) pairs checked. */
function checkRun(run: AddonsRun): string[] {
    const checked: string[] = [];
    for (const release of run.ofType("kubernetes:helm.sh/v3:Release")) {
        const chart: string = release.inputs.chart;
        const version: string = release.inputs.version;
        const values = unwrapSecrets(release.inputs.values ?? {});
        const unknown = findUnknownKeys(values, loadChartKeySource(chart, version));
        assert.deepEqual(unknown, [], `unknown keys for ${chart} ${version}`);
        // Versions derived from their chart sources directly (tigera-operator v3.31.7,
        // metrics-server) have committed facts only: the check above covers them.
        if (UPSTREAM_CHARTS_PRESENT && fs.existsSync(chartDir(chart, version))) {
            assert.deepEqual(
                findUnknownKeys(values, loadUpstreamChartKeySource(chart, version)),
                [],
                `unknown keys for ${chart} ${version} (upstream values.yaml)`,
            );
        }
        const validate = schemaValidator(chart, version);
        if (validate) {
            assert.deepEqual(validate(values), [], `${chart} ${version} values.schema.json`);
        }
        checked.push(`${chart}@${version}`);
    }
    return checked;
}

describe("chart keys: every EKS-D minor and every CNI", () => {
    for (const eksdVersion of SUPPORTED_EKSD_VERSIONS) {
        for (const cni of CNIS) {
            test(`EKS-D ${eksdVersion}, ${cni}: every key path exists at the pinned chart versions`, async () => {
                const run = await runAddons({ eksdVersion, cni, kasten: true, rootCaCert: ROOT_CA });
                const checked = checkRun(run);
                const crdChart = cni === "calico" && calicoNeedsCrdChart(pinsFor(eksdVersion).versions.calico) ? 1 : 0;
                assert.equal(checked.length, 7 + crdChart, `all releases checked: ${checked.join(", ")}`);
                assert.ok(
                    checked.some((c) => c.startsWith("k10@")),
                    "k10 checked (schema too)",
                );
            });
        }
    }

    test("newer charts picked by overrides are checked too (LBC 3.5.0, calico v3.32.1, EBS CSI 2.64.0 with schema, ...)", async () => {
        const run = await runAddons({
            cni: "calico",
            kasten: true,
            overrides: {
                calico: { version: "v3.32.1" },
                loadBalancerController: { version: "3.5.0" },
                ebsCsi: { version: "2.64.0" },
                autoscaler: { version: "9.59.0" },
                ccm: { version: "0.0.11" },
            },
        });
        const checked = checkRun(run);
        assert.ok(checked.includes("crd.projectcalico.org.v1@v3.32.1"));
        assert.ok(checked.includes("aws-ebs-csi-driver@2.64.0"));
        assert.ok(checked.includes("aws-load-balancer-controller@3.5.0"));
    });

    test("flannel v0.28.9 keys as well", async () => {
        const run = await runAddons({ overrides: { flannel: { version: "v0.28.9" } } });
        assert.ok(checkRun(run).includes("flannel@v0.28.9"));
    });
});

describe("the key checker itself", () => {
    const ebs = loadChartKeySource("aws-ebs-csi-driver", "2.33.0");

    test("fails on a misspelt key, at any depth", () => {
        assert.deepEqual(findUnknownKeys({ controller: { regoin: "us-east-1" } }, ebs), ["controller.regoin"]);
        assert.deepEqual(findUnknownKeys({ sidecar: { provisioner: {} } }, ebs), ["sidecar"]);
        assert.deepEqual(findUnknownKeys({ sidecars: { provisioner: { additionalArg: [] } } }, ebs), ["sidecars.provisioner.additionalArg"]);
        assert.deepEqual(findUnknownKeys({ podCIDR: "10.244.0.0/16" }, loadChartKeySource("flannel", "v0.26.2")), ["podCIDR"]);
    });

    test("accepts keys only the templates read (commented out in values.yaml)", () => {
        const ccm = loadChartKeySource("aws-cloud-controller-manager", "0.0.8");
        assert.deepEqual(findUnknownKeys({ hostNetworking: true }, ccm), []);
        const flannel = loadChartKeySource("flannel", "v0.26.2");
        assert.deepEqual(findUnknownKeys({ flannel: { mtu: 1400, vni: 2 } }, flannel), []);
        assert.deepEqual(findUnknownKeys({ flannel: { mtuu: 1400 } }, flannel), ["flannel.mtuu"]);
    });

    test("accepts any sub-key of a pass-through section or an empty-map default", () => {
        const autoscaler = loadChartKeySource("cluster-autoscaler", "9.37.0");
        assert.deepEqual(findUnknownKeys({ extraArgs: { "any-flag": "1" }, nodeSelector: { "a/b": "" } }, autoscaler), []);
        const calico = loadChartKeySource("tigera-operator", "v3.29.1");
        assert.deepEqual(findUnknownKeys({ installation: { calicoNetwork: { anything: 1 } } }, calico), []);
        assert.deepEqual(findUnknownKeys({ instalation: { cni: {} } }, calico), ["instalation"]);
    });

    test("a misspelt override that reaches a release is caught", async () => {
        // `hostNetwork` is not a key of the CCM chart (it reads `hostNetworking`).
        const run = await runAddons({ overrides: { ccm: { values: { hostNetwork: true } } } });
        const ccm = run.release("aws-cloud-controller-manager")!;
        const unknown = findUnknownKeys(unwrapSecrets(ccm.inputs.values), loadChartKeySource("aws-cloud-controller-manager", "0.0.11"));
        assert.deepEqual(unknown, ["hostNetwork"]);
    });

    test("the cilium key facts catch a misspelt key (every pinned line)", () => {
        for (const version of ["1.16.5", "1.18.12", "1.19.6", "1.20.0"]) {
            const cilium = loadChartKeySource("cilium", version);
            assert.deepEqual(findUnknownKeys({ hubble: { relay: { enabled: true } } }, cilium), []);
            assert.deepEqual(findUnknownKeys({ hubble: { realy: { enabled: true } } }, cilium), ["hubble.realy"]);
            assert.deepEqual(findUnknownKeys({ ipam: { operator: { clusterPoolIPv4PodCIDR: "x" } } }, cilium), ["ipam.operator.clusterPoolIPv4PodCIDR"]);
        }
    });

    test("the K10 schema (draft 2019-09) really validates: a wrong type is rejected", { skip: NO_UPSTREAM }, () => {
        const validate = schemaValidator("k10", "7.0.10")!;
        assert.ok(validate, "k10 ships a values.schema.json");
        assert.deepEqual(validate({ clusterName: "demo" }), []);
        assert.notDeepEqual(validate({ clusterName: 42 }), []);
    });

    test("the cilium schemas (draft-07) compile and validate", { skip: NO_UPSTREAM }, () => {
        for (const version of ["1.16.5", "1.18.12", "1.19.6", "1.20.0"]) {
            const validate = schemaValidator("cilium", version);
            if (!validate) {
                continue;
            }
            assert.deepEqual(validate({ MTU: 1450 }), [], `cilium ${version}`);
            assert.notDeepEqual(validate({ MTU: "large" }), [], `cilium ${version} rejects a wrong type`);
        }
    });

    test("every JSON Schema draft a chart may declare gets a validator; an unknown one is refused", () => {
        for (const declared of [
            undefined,
            "http://json-schema.org/draft-07/schema#",
            "https://json-schema.org/draft/2019-09/schema",
            "https://json-schema.org/draft/2020-12/schema",
        ]) {
            const ajv = ajvForSchema(declared ? { $schema: declared } : {});
            const validate = ajv.compile({ type: "object", properties: { a: { type: "integer" } } });
            assert.equal(validate({ a: 1 }), true, String(declared));
            assert.equal(validate({ a: "x" }), false, String(declared));
        }
        assert.throws(() => ajvForSchema({ $schema: "http://json-schema.org/draft-03/schema#" }), /draft-03/);
    });

    test("the EBS CSI 2.64.0 schema ($refs, additionalProperties false) rejects unknown keys", { skip: NO_UPSTREAM }, () => {
        const validate = schemaValidator("aws-ebs-csi-driver", "2.64.0")!;
        assert.deepEqual(validate({ controller: { region: "us-east-1" } }), []);
        assert.notDeepEqual(validate({ controller: { regoin: "us-east-1" } }), []);
    });
});

// Kubernetes toleration matching: an empty key with `Exists` matches every key; an empty
// effect matches every effect.
interface Toleration {
    key?: string;
    operator?: string;
    value?: string;
    effect?: string;
}

function tolerates(tolerations: Toleration[], taint: { key: string; value: string; effect: string }): boolean {
    return tolerations.some((t) => {
        const effectOk = !t.effect || t.effect === taint.effect;
        const exists = t.operator === "Exists";
        const keyOk = exists ? !t.key || t.key === taint.key : t.key === taint.key && (t.value ?? "") === taint.value;
        return effectOk && keyOk;
    });
}

describe("CNI pods tolerate the uninitialized taint (they start before the CCM)", () => {
    const uninitialized = { key: "node.cloudprovider.kubernetes.io/uninitialized", value: "true", effect: "NoSchedule" };
    const tolerationsOf = (chart: string, version: string, key: string): Toleration[] => (defaultTolerations(chart, version)[key] ?? []) as Toleration[];

    test("flannel: chart default tolerations cover it (both pinned versions)", () => {
        for (const version of ["v0.26.2", "v0.28.9"]) {
            assert.ok(tolerates(tolerationsOf("flannel", version, "flannel.tolerations"), uninitialized), version);
        }
    });

    test("calico: the operator's chart default tolerations cover it (both pinned versions)", () => {
        for (const version of ["v3.29.1", "v3.32.1"]) {
            assert.ok(tolerates(tolerationsOf("tigera-operator", version, "tolerations"), uninitialized), version);
        }
    });

    test("cilium: agent and operator defaults cover it; Hubble gets it from us", async () => {
        for (const version of ["1.16.5", "1.18.12", "1.19.6", "1.20.0"]) {
            assert.ok(tolerates(tolerationsOf("cilium", version, "tolerations"), uninitialized), version);
            assert.ok(tolerates(tolerationsOf("cilium", version, "operator.tolerations"), uninitialized), version);
            assert.ok(!tolerates(tolerationsOf("cilium", version, "hubble.relay.tolerations"), uninitialized), "default does not");
        }
        for (const eksdVersion of ["1.30", "1.35"]) {
            const run = await runAddons({ cni: "cilium", eksdVersion });
            const values = unwrapSecrets(run.release("cilium")!.inputs.values);
            assert.ok(tolerates(values.hubble.relay.tolerations, uninitialized));
            assert.ok(tolerates(values.hubble.ui.tolerations, uninitialized));
        }
    });

    test("the CCM itself tolerates it (it removes the taint)", async () => {
        const run = await runAddons();
        const values = unwrapSecrets(run.release("aws-cloud-controller-manager")!.inputs.values);
        assert.ok(tolerates(values.tolerations, uninitialized));
        assert.ok(tolerates(values.tolerations, { key: "node-role.kubernetes.io/control-plane", value: "", effect: "NoSchedule" }));
    });
});

describe("derived chart facts", () => {
    test("every pinned chart version has committed facts", () => {
        for (const minor of SUPPORTED_EKSD_VERSIONS) {
            const versions = pinsFor(minor).versions;
            const pairs: [string, string][] = [
                ["flannel", versions.flannel],
                ["tigera-operator", versions.calico],
                ["cilium", versions.cilium],
                ["aws-cloud-controller-manager", versions.ccm],
                ["aws-ebs-csi-driver", versions.ebsCsi],
                ["aws-load-balancer-controller", versions.loadBalancerController],
                ["cluster-autoscaler", versions.autoscaler],
                ["k10", versions.kasten],
            ];
            if (calicoNeedsCrdChart(versions.calico)) {
                pairs.push(["crd.projectcalico.org.v1", versions.calico]);
            }
            for (const [chart, version] of pairs) {
                assert.ok(readCommittedFacts(chart, version), `${minor}: facts for ${chart} ${version}`);
            }
        }
    });

    test("the committed facts are what tools/chart-facts.ts derives from ../shared/charts", { skip: NO_UPSTREAM }, () => {
        const found = chartVersionsIn(CHARTS_DIR);
        assert.ok(found.length > 0);
        for (const { chart, version } of found) {
            const committed = path.join(__dirname, "..", "addons", "chart-facts", `${chart}-${version}.json`);
            assert.ok(fs.existsSync(committed), `committed facts for ${chart} ${version}`);
            assert.equal(
                fs.readFileSync(committed, "utf8"),
                serializeFacts(deriveChartFacts(CHARTS_DIR, chart, version)),
                `${chart} ${version}: run npm run chart-facts -- <charts dir>`,
            );
        }
    });

    test("the facts are derived data: key types and paths, never upstream default values", () => {
        const facts = readCommittedFacts("aws-ebs-csi-driver", "2.33.0")!;
        assert.equal((facts.keys.image as Record<string, unknown>).repository, "string");
        assert.equal((facts.keys.controller as Record<string, unknown>).region, "null");
        assert.equal(facts.kubeVersion, ">=1.17.0-0");
    });
});
