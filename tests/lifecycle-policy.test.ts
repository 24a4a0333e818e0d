// The change table (every config key: in place, rolling or refused), the preview refusals it
// drives through the previous state, the short-lived admin credential, and node-leave.sh.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { buildClusters, recorded, resource, valueOf } from "./helpers/cluster-fixture";
import { runPlan } from "./helpers/plan-cli";
import { runStubbedBash } from "./helpers/stubbed-bash";
import { CONFIG_KEYS } from "../config/schema";
import { CHANGE_POLICY, refusedChanges, renderChangeTable, TRACKED_KEYS } from "../cluster/change-policy";
import { ADMIN_GROUP, ADMIN_USER, earlyRenewalHours, validateAdminValidityDays } from "../cluster/admin-credential";
import { parseLifecycleState } from "../cluster/lifecycle-state";
import { scriptForStdin } from "../cluster/stdin-scripts";
import { replaceSection } from "../tools/config-docs";

const state = (settings: Record<string, string | number | boolean>) => ({ initialized: true as const, settings });

/** A file in a fresh directory, removed when the test process exits. */
function tmpFile(name: string, content: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-lifecycle-"));
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
}

describe("change table", () => {
    it("has an entry for every config key, and every entry is a config key", () => {
        const keys: string[] = CONFIG_KEYS.map((k) => k.key);
        for (const key of keys) {
            assert.ok(CHANGE_POLICY[key], `config key ${key} has no change-table entry`);
        }
        for (const key of Object.keys(CHANGE_POLICY)) {
            assert.ok(keys.includes(key), `change-table entry ${key} is not a config key`);
        }
    });

    it("gives every refused key a safe path and tracks it in the lifecycle output", () => {
        for (const [key, policy] of Object.entries(CHANGE_POLICY)) {
            if (policy.kind === "refused") {
                assert.ok(policy.safePath && policy.safePath.length > 10, `${key} has no safe path`);
                assert.ok(TRACKED_KEYS.includes(key), `${key} is refused but never compared`);
            }
        }
    });

    it("renders one Markdown row per key", () => {
        const table = renderChangeTable().split("\n");
        assert.equal(table.length, Object.keys(CHANGE_POLICY).length + 2);
        assert.match(table[0], /^\| key \| change on a running cluster \|/);
        assert.ok(table.some((line) => line.startsWith("| `apiPublic` | refused | refused at preview:") && line.includes("Safe path:")));
        assert.ok(table.some((line) => line.startsWith("| `controlPlaneAmiId` | rolling |")));
    });

    it("is the table in the README (run `npm run docs` when this fails)", () => {
        const doc = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        assert.equal(replaceSection(doc, "change-table", renderChangeTable()), doc, "README.md's change table is stale: run `npm run docs`");
    });
});

describe("previous-state checks", () => {
    it("allows anything on the first run and unchanged settings later", () => {
        assert.deepEqual(refusedChanges(undefined, { apiPublic: true, eksdVersion: "1.30" }), []);
        assert.deepEqual(refusedChanges(state({ apiPublic: true }), { apiPublic: true }), []);
        assert.equal(parseLifecycleState(undefined), undefined);
        assert.equal(parseLifecycleState({ settings: {} }), undefined, "not initialized");
        assert.deepEqual(parseLifecycleState({ initialized: true, settings: { a: 1, b: { x: 1 } } }), state({ a: 1 }));
    });

    it("refuses every refused key with its name, old and new value and the safe path", () => {
        for (const [key, policy] of Object.entries(CHANGE_POLICY).filter(([, p]) => p.kind === "refused")) {
            const [change] = refusedChanges(state({ [key]: "old-value" }), { [key]: "new-value" });
            assert.ok(change, `${key} change not refused`);
            assert.match(change.message, new RegExp(`^zadara-eksd:${key}: change from "old-value" to "new-value" is refused`));
            assert.ok(change.message.includes(`Safe path: ${policy.safePath}`));
        }
    });

    it("allows eksdVersion one minor up or the same minor, refuses skipping or going down", () => {
        assert.deepEqual(refusedChanges(state({ eksdVersion: "1.30" }), { eksdVersion: "1.31" }), []);
        const skip = refusedChanges(state({ eksdVersion: "1.30" }), { eksdVersion: "1.32" });
        assert.equal(skip.length, 1);
        assert.match(
            skip[0].message,
            /eksdVersion: change from "1.30" to "1.32" is refused.*one minor per `pulumi up`.*eksdVersion 1\.31.*then.*eksdVersion 1\.32/,
        );
        const down = refusedChanges(state({ eksdVersion: "1.31" }), { eksdVersion: "1.30" });
        assert.match(down[0].message, /going down a minor is not supported.*keep eksdVersion 1\.31/);
        assert.deepEqual(refusedChanges(state({ kubernetesVersion: "v1.30.13-eks-1-30-40" }), { kubernetesVersion: "v1.30.14-eks-1-30-44" }), []);
    });

    it("fails the plan with every refused change's message when the previous state says so, and registers no node", () => {
        const refusedKeys = Object.entries(CHANGE_POLICY)
            .filter(([, p]) => p.kind === "refused")
            .map(([key]) => key);
        const previous = { lifecycle: state({ ...Object.fromEntries(refusedKeys.map((key) => [key, `old-${key}`])), eksdVersion: "1.28" }) };
        const run = runPlan(["--stack", "dev", "--previous", tmpFile("previous.json", JSON.stringify(previous))]);
        assert.equal(run.code, 1, run.stderr);
        assert.equal(run.plan, undefined, "no plan is written");
        for (const key of refusedKeys) {
            assert.match(run.stderr, new RegExp(`zadara-eksd:${key}: change from "old-${key}" to .* is refused on a running cluster: .* Safe path: `), key);
        }
        assert.match(run.stderr, /zadara-eksd:eksdVersion: change from "1.28" to "1.30" is refused/);
        assert.doesNotMatch(run.stdout, /master-sa-1/);
    });

    it("plans an allowed upgrade from the previous minor and exports the new lifecycle state", () => {
        const previous = { lifecycle: state({ eksdVersion: "1.29", kubernetesVersion: "v1.29.15-eks-1-29-60", controlPlaneCount: 1, environment: "dev" }) };
        const run = runPlan(["--stack", "dev", "--previous", tmpFile("previous.json", JSON.stringify(previous))]);
        assert.equal(run.code, 0, run.stderr);
        const lifecycle = run.plan!.outputs.lifecycle as { initialized: boolean; settings: Record<string, unknown> };
        assert.equal(lifecycle.initialized, true);
        assert.equal(lifecycle.settings.eksdVersion, "1.30");
        assert.equal(lifecycle.settings.environment, "dev");
        assert.ok(run.plan!.resources.some((r) => r.name === "dev-upgrade-addons"));
    });
});

describe("admin credential", () => {
    it("signs a short-lived client certificate in kubeadm:cluster-admins with the cluster CA", async () => {
        await buildClusters();
        const csr = resource("tls:index/certRequest:CertRequest", "dev-admin-csr").inputs;
        assert.deepEqual(csr.subject, { commonName: ADMIN_USER, organization: ADMIN_GROUP });
        assert.equal(ADMIN_GROUP, "kubeadm:cluster-admins");
        const cert = resource("tls:index/locallySignedCert:LocallySignedCert", "dev-admin-cert").inputs;
        assert.equal(cert.validityPeriodHours, 7 * 24);
        assert.equal(cert.earlyRenewalHours, earlyRenewalHours(7));
        assert.ok(Number(cert.earlyRenewalHours) < Number(cert.validityPeriodHours));
        assert.deepEqual(cert.allowedUses, ["digital_signature", "key_encipherment", "client_auth"]);
        assert.equal(resource("tls:index/privateKey:PrivateKey", "dev-admin-key").inputs.algorithm, "ECDSA");
        assert.equal(recorded.filter((r) => r.name.includes("super-admin")).length, 0);
    });

    it("builds the kubeconfig from the CA and the client certificate, pointing at the public or private endpoint", async () => {
        const { dev, intl } = await buildClusters();
        const config = parse(await valueOf(dev.kubeconfig));
        assert.equal(config.kind, "Config");
        assert.equal(config.clusters[0].cluster.server, await valueOf(dev.apiEndpointPublic));
        assert.match(Buffer.from(config.users[0].user["client-certificate-data"], "base64").toString(), /BEGIN CERTIFICATE/);
        assert.match(Buffer.from(config.users[0].user["client-key-data"], "base64").toString(), /PRIVATE KEY/);
        assert.match(Buffer.from(config.clusters[0].cluster["certificate-authority-data"], "base64").toString(), /BEGIN CERTIFICATE/);
        assert.equal(config["current-context"], `${ADMIN_USER}@dev`);
        const internal = parse(await valueOf(intl.kubeconfig));
        assert.equal(internal.clusters[0].cluster.server, await valueOf(intl.apiEndpointPrivate));
    });

    it("accepts a validity of 1 to 30 days and renews inside the last half (at least a day)", () => {
        assert.doesNotThrow(() => validateAdminValidityDays(1));
        assert.doesNotThrow(() => validateAdminValidityDays(30));
        assert.throws(() => validateAdminValidityDays(31), /adminCredentialValidityDays must be a whole number of days from 1 to 30, got 31/);
        assert.throws(() => validateAdminValidityDays(0), /got 0/);
        assert.equal(earlyRenewalHours(7), 84);
        assert.equal(earlyRenewalHours(1), 24);
    });
});

describe("node-leave.sh", () => {
    const script = tmpFile("node-leave.sh", scriptForStdin(["node-leave.sh"]));

    function leave(options: { cpNodes?: number; drain?: string; etcd?: string; registered?: boolean } = {}) {
        const cpNodes = options.cpNodes ?? 3;
        return runStubbedBash(script, {
            env: { NODE_NAME: "dev-master-sa-3", DRAIN_TIMEOUT: "300", POLL_INTERVAL: "0", ETCD_MEMBERSHIP: "etcd-membership.sh", DRAIN_NODE: "drain-node.sh" },
            rootEnv: {
                KUBERNETES_ETC: "etc/kubernetes",
                MANIFESTS_DIR: "etc/kubernetes/manifests",
                ZADARA_ETC: "etc/kubernetes/zadara",
                LOG_FILE: "var/log/leave.log",
                SCRIPTS_DIR: "lib",
            },
            files: { "etc/kubernetes/manifests/kube-apiserver.yaml": "kind: Pod\n", "etc/kubernetes/admin.conf": "x\n" },
            stubs: {
                kubectl: `case "$*" in
                    *"get node dev-master-sa-3"*) ${options.registered === false ? "exit 1" : "echo node/dev-master-sa-3"} ;;
                    *"get nodes -l"*) for i in $(seq 1 ${cpNodes}); do echo node/dev-master-sa-$i; done ;;
                    *) exit 0 ;;
                esac`,
                "drain-node.sh": options.drain ?? "exit 0",
                "etcd-membership.sh": options.etcd ?? 'echo "removed member $2" >&2',
                curl: "exit 7",
                systemctl: "exit 0",
                sleep: "exit 0",
            },
        });
    }

    it("drains, stops the API server, removes the etcd member, stops the kubelet and deletes the Node, in that order", () => {
        const run = leave();
        assert.equal(run.code, 0, run.stderr);
        const relevant = run.calls.filter((c) => /^(drain-node\.sh|etcd-membership\.sh|systemctl|kubectl .*delete)/.test(c));
        assert.deepEqual(
            relevant.map((c) => c.split(" ").slice(0, 2).join(" ")),
            ["drain-node.sh dev-master-sa-3", "etcd-membership.sh leave", "systemctl stop", "kubectl --kubeconfig"],
        );
        assert.match(
            run.calls.find((c) => c.startsWith("drain-node.sh"))!,
            /dev-master-sa-3 300$/,
        );
        assert.match(
            run.calls.find((c) => c.startsWith("kubectl") && c.includes("delete"))!,
            /delete node dev-master-sa-3 --ignore-not-found/,
        );
        assert.ok(!fs.existsSync(path.join(run.root, "etc/kubernetes/manifests/kube-apiserver.yaml")), "the API server manifest is parked");
        assert.match(run.stderr, /dev-master-sa-3 left the cluster/);
    });

    it("keeps the node serving and exits 3 when etcd refuses the removal", () => {
        const run = leave({ etcd: "echo 'refused: removing dev-master-sa-3 leaves 1 of 3 healthy voters' >&2; exit 3" });
        assert.equal(run.code, 3);
        assert.match(run.stderr, /refused: removing dev-master-sa-3/);
        assert.match(run.stderr, /etcd refused to remove dev-master-sa-3.*run pulumi up again/);
        assert.ok(fs.existsSync(path.join(run.root, "etc/kubernetes/manifests/kube-apiserver.yaml")), "the API server is back");
        assert.ok(run.calls.some((c) => c.startsWith("kubectl") && c.includes("uncordon dev-master-sa-3")));
        assert.ok(!run.calls.some((c) => c.startsWith("systemctl")), "the kubelet keeps running");
    });

    it("stops with exit 4 when the drain times out, leaving etcd untouched", () => {
        const run = leave({ drain: "echo 'drain of dev-master-sa-3 timed out; blocked by pod default/db-0' >&2; exit 4" });
        assert.equal(run.code, 4);
        assert.match(run.stderr, /blocked by pod default\/db-0/);
        assert.ok(!run.calls.some((c) => c.startsWith("etcd-membership.sh")));
    });

    it("leaves the last control-plane node alone (cluster destroy)", () => {
        const run = leave({ cpNodes: 1 });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /last control-plane node/);
        assert.ok(!run.calls.some((c) => c.startsWith("etcd-membership.sh") || c.startsWith("drain-node.sh")));
    });

    it("drains with drain-node.sh's drain_node when sent together (as the delete command does)", () => {
        const joined = tmpFile("node-leave-joined.sh", scriptForStdin(["drain-node.sh", "node-leave.sh"]));
        const run = runStubbedBash(joined, {
            env: { NODE_NAME: "dev-master-sa-2", POLL_INTERVAL: "0", ETCD_MEMBERSHIP: "etcd-membership.sh" },
            rootEnv: {
                KUBERNETES_ETC: "etc/kubernetes",
                MANIFESTS_DIR: "etc/kubernetes/manifests",
                ZADARA_ETC: "etc/kubernetes/zadara",
                LOG_FILE: "var/log/leave.log",
            },
            files: { "etc/kubernetes/manifests/kube-apiserver.yaml": "kind: Pod\n" },
            stubs: {
                kubectl: `case "$*" in
                    *"get nodes -l"*) printf 'node/a\\nnode/b\\nnode/c\\n' ;;
                    *"get node dev-master-sa-2 -o jsonpath"*) echo True ;;
                    *) exit 0 ;;
                esac`,
                "etcd-membership.sh": "exit 0",
                curl: "exit 7",
                systemctl: "exit 0",
                sleep: "exit 0",
            },
        });
        assert.equal(run.code, 0, run.stderr);
        assert.ok(
            run.calls.some((c) => /^kubectl .*drain dev-master-sa-2 --ignore-daemonsets --delete-emptydir-data --timeout=600s/.test(c)),
            run.calls.join("\n"),
        );
        assert.ok(run.calls.some((c) => c.startsWith("etcd-membership.sh leave dev-master-sa-2")));
    });

    it("still removes the etcd member of a node that never registered", () => {
        const run = leave({ registered: false });
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.calls.some((c) => c.startsWith("etcd-membership.sh leave dev-master-sa-3")));
    });
});
