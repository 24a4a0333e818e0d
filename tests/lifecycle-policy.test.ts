// The change table (every config key: in place, rolling or refused), the preview refusals it
// drives through the previous state, the short-lived admin credential, and node-leave.sh.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { buildClusters, optionsOf, recorded, resource, resourcesOf, stdinFiles, valueOf } from "./helpers/cluster-fixture";
import { runPlan } from "./helpers/plan-cli";
import { runStubbedBash } from "./helpers/stubbed-bash";
import { CONFIG_KEYS } from "../config/schema";
import { CHANGE_POLICY, refusedChanges, renderChangeTable, TRACKED_KEYS } from "../cluster/change-policy";
import { ADMIN_GROUP, ADMIN_USER, adminClusterRoleBinding, earlyRenewalHours, validateAdminValidityHours } from "../cluster/admin-credential";
import { LifecycleState, parseLifecycleState, previousStateProblem, withListedNodes } from "../cluster/lifecycle-state";
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
        const lines = renderChangeTable().split("\n");
        assert.match(lines[0], /^Worst case a replaced node can hold `pulumi up`.* per control-plane node, .* per worker/);
        const table = lines.filter((line) => line.startsWith("|"));
        assert.equal(table.length, Object.keys(CHANGE_POLICY).length + 2);
        assert.match(table[0], /^\| key \| change on a running cluster \| nodes replaced \|/);
        assert.ok(table.some((line) => line.startsWith("| `apiPublic` | refused | — | refused at preview:") && line.includes("Safe path:")));
        assert.ok(table.some((line) => line.startsWith("| `controlPlaneAmiId` | rolling | every control-plane node |")));
    });

    it("is the table in docs/reference.md (run `npm run docs` when this fails)", () => {
        const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "reference.md"), "utf8");
        assert.equal(replaceSection(doc, "change-table", renderChangeTable()), doc, "docs/reference.md's change table is stale: run `npm run docs`");
    });
});

describe("previous-state checks", () => {
    it("allows anything on the first run and unchanged settings later", () => {
        assert.deepEqual(refusedChanges(undefined, { apiPublic: true, eksdVersion: "1.30" }), []);
        assert.deepEqual(refusedChanges(state({ apiPublic: true }), { apiPublic: true }), []);
        assert.equal(parseLifecycleState(undefined), undefined);
        assert.equal(parseLifecycleState({ settings: {} }), undefined, "not initialized");
        assert.deepEqual(parseLifecycleState({ initialized: true, settings: { a: 1, b: { x: 1 } } }), state({ a: 1 }));
        // A state of an earlier version: the nodes come from the instance outputs, in node order.
        const listed = withListedNodes(state({}), ["i-1", "i-2"], ["10.0.0.1", "10.0.0.2"], (i) => `dev-master-sa-${i + 1}`);
        assert.deepEqual(listed?.controlPlaneNodes, {
            "dev-master-sa-1": { instanceId: "i-1", privateIp: "10.0.0.1" },
            "dev-master-sa-2": { instanceId: "i-2", privateIp: "10.0.0.2" },
        });
        const recorded = { ...state({}), controlPlaneNodes: {} };
        assert.equal(withListedNodes(recorded, ["i-1"], ["10.0.0.1"], String), recorded, "a recorded list wins");
        assert.equal(withListedNodes(undefined, ["i-1"], ["10.0.0.1"], String), undefined, "no state: a new cluster");
        assert.deepEqual(withListedNodes(state({}), undefined, undefined, String), state({}), "nothing listed");
        assert.deepEqual(
            parseLifecycleState({
                initialized: true,
                settings: {},
                controlPlaneNodes: { "dev-master-sa-1": { instanceId: "i-1", privateIp: "10.0.0.1" }, "dev-master-sa-2": { instanceId: 2 } },
            }),
            { ...state({}), controlPlaneNodes: { "dev-master-sa-1": { instanceId: "i-1", privateIp: "10.0.0.1" } } },
            "only well-formed node records",
        );
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
        assert.deepEqual(refusedChanges(state({ kubernetesVersion: "v1.30.14-eks-1-30-40" }), { kubernetesVersion: "v1.30.14-eks-1-30-44" }), []);
    });

    it("refuses a patch or EKS-D release downgrade within a minor, naming the key and the release to keep", () => {
        for (const [from, to] of [
            ["v1.30.14-eks-1-30-44", "v1.30.13-eks-1-30-50"],
            ["v1.30.14-eks-1-30-44", "v1.30.14-eks-1-30-40"],
        ]) {
            const refused = refusedChanges(state({ kubernetesVersion: from }), { kubernetesVersion: to });
            assert.equal(refused.length, 1, `${from} -> ${to}`);
            assert.match(
                refused[0].message,
                new RegExp(`kubernetesVersion: change from "${from}" to "${to}" is refused.*kubeadm does not downgrade.*keep kubernetesVersion ${from}`),
            );
        }
    });

    it("refuses an upgrade that also removes control-plane nodes (their old API servers would outlive the worker roll)", () => {
        const both = refusedChanges(state({ eksdVersion: "1.30", controlPlaneCount: 5 }), { eksdVersion: "1.31", controlPlaneCount: 3 });
        assert.equal(both.length, 1);
        assert.equal(both[0].key, "eksdVersion");
        assert.match(
            both[0].message,
            /eksdVersion: change from "1.30" to "1.31" is refused on a running cluster: it comes with controlPlaneCount 5 → 3: .* Safe path: pulumi config set eksdVersion 1\.30 .*&& pulumi up \(removes the nodes\); then pulumi config set eksdVersion 1\.31/,
        );
        assert.deepEqual(
            refusedChanges(state({ eksdVersion: "1.30", controlPlaneCount: 3 }), { eksdVersion: "1.31", controlPlaneCount: 5 }),
            [],
            "adding nodes is fine",
        );
        assert.deepEqual(
            refusedChanges(state({ eksdVersion: "1.31", controlPlaneCount: 5 }), { eksdVersion: "1.31", controlPlaneCount: 3 }),
            [],
            "removing alone is fine",
        );
    });

    it("fails the plan with every refused change's message when the previous state says so, and registers no node", () => {
        const refusedKeys = Object.entries(CHANGE_POLICY)
            .filter(([, p]) => p.kind === "refused")
            .map(([key]) => key);
        const previous = { lifecycle: state({ ...Object.fromEntries(refusedKeys.map((key) => [key, `old-${key}`])), eksdVersion: "1.28" }) };
        const run = runPlan(["--stack", "dev", "--config", "eksdVersion=1.30", "--previous", tmpFile("previous.json", JSON.stringify(previous))]);
        assert.equal(run.code, 1, run.stderr);
        assert.equal(run.plan, undefined, "no plan is written");
        for (const key of refusedKeys) {
            assert.match(run.stderr, new RegExp(`zadara-eksd:${key}: change from "old-${key}" to .* is refused on a running cluster: .* Safe path: `), key);
        }
        assert.match(run.stderr, /zadara-eksd:eksdVersion: change from "1.28" to "1.30" is refused/);
        assert.doesNotMatch(run.stdout, /master-sa-1/);
    });

    /** A 1.29 cluster (one node) upgraded to 1.30 (the dev stack's minor set back); extra: the previous outputs' rest. */
    function upgradePlan(file: string, nodes: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) {
        const upgradeFrom = state({ eksdVersion: "1.29", kubernetesVersion: "v1.29.15-eks-1-29-60", controlPlaneCount: 1, environment: "dev" });
        const previous = { lifecycle: nodes ? { ...upgradeFrom, controlPlaneNodes: nodes } : upgradeFrom, ...extra };
        const run = runPlan(["--stack", "dev", "--config", "eksdVersion=1.30", "--show-secrets", "--previous", tmpFile(file, JSON.stringify(previous))]);
        assert.equal(run.code, 0, run.stderr);
        const retire = run.plan!.resources.find((r) => r.name === "dev-master-sa-1-retire-replaced");
        assert.ok(retire, "no retire step");
        return { plan: run.plan!, retire: retire.inputs as { create: string; connection: { host: string } } };
    }

    it("a running cluster's new slots boot at once; only their joins wait in the chain (the 1 -> 3 window holds no boot)", () => {
        const from = state({ eksdVersion: "1.30", controlPlaneCount: 1, environment: "dev" });
        const one = { "dev-master-sa-1": { instanceId: "i-0one", privateIp: "192.168.2.5" } };
        /** dev at 3 nodes on 1.30 after a state that recorded `nodes`: each resource's dependencies by name. */
        const grow = (file: string, nodes: Record<string, unknown>) => {
            const lifecycle = { ...from, controlPlaneNodes: nodes };
            const run = runPlan([
                "--stack",
                "dev",
                "--config",
                "eksdVersion=1.30",
                "--config",
                "controlPlaneCount=3",
                "--previous",
                tmpFile(file, JSON.stringify({ lifecycle })),
            ]);
            assert.equal(run.code, 0, run.stderr);
            const byName = (name: string) => run.plan!.resources.find((r) => r.name === name)!;
            return { urnOf: (name: string) => byName(name).urn, dependsOn: (name: string) => byName(name).dependencies };
        };
        const { urnOf, dependsOn } = grow("previous-grow.json", one);
        for (const slot of ["dev-master-sa-2", "dev-master-sa-3"]) {
            assert.ok(
                !dependsOn(slot).some((urn) => urn.endsWith("-retire-replaced")),
                `${slot}'s instance waits for no earlier node: ${dependsOn(slot).join(", ")}`,
            );
        }
        assert.ok(dependsOn("dev-master-sa-2-bootstrap").includes(urnOf("dev-master-sa-1-retire-replaced")), "node 2 joins after node 1");
        assert.ok(dependsOn("dev-master-sa-3-bootstrap").includes(urnOf("dev-master-sa-2-retire-replaced")), "node 3 joins after node 2's gate");
        // A slot the state recorded is replaced in the chain as before.
        const recorded = grow("previous-grow-2.json", { ...one, "dev-master-sa-2": { instanceId: "i-0two", privateIp: "192.168.2.6" } });
        assert.ok(
            recorded.dependsOn("dev-master-sa-2").includes(recorded.urnOf("dev-master-sa-1-retire-replaced")),
            "a recorded slot's instance still waits for node 1",
        );
    });

    it("retires nothing when the recorded instance no longer exists (the query also names the running new node)", () => {
        const { retire } = upgradePlan("previous-gone.json", { "dev-master-sa-1": { instanceId: "i-0gone1", privateIp: "192.168.2.5" } });
        assert.match(retire.create, /dev-master-sa-1: the replaced instance i-0gone1 is gone already/);
        assert.notEqual(retire.connection.host, "192.168.2.5", "runs on the new node, not the old address");
    });

    it("retires the instances a state of an earlier version listed in its instance outputs", () => {
        const { retire } = upgradePlan("previous-legacy.json", undefined, { controlPlaneInstanceIds: ["i-0legacy1"], controlPlanePrivateIps: ["192.168.2.7"] });
        assert.match(retire.create, /EXPECTED_INSTANCE_ID='i-0legacy1' bash -s$/);
        assert.equal(retire.connection.host, "192.168.2.7");
    });

    it("reaches a replaced node that accepts only the previous login with that login and its recorded key", () => {
        const previousLogin = "admin@old-keypair";
        const nodes = { "dev-master-sa-1": { instanceId: "i-0old1", privateIp: "192.168.2.5", sshAccess: previousLogin } };
        const { plan, retire } = upgradePlan("previous-login.json", nodes, { nodeLoginKeys: { [previousLogin]: "OLD-NODE-KEY-PEM" } });
        const connection = retire.connection as { host: string; user: string; privateKey: string };
        assert.equal(connection.host, "192.168.2.5");
        assert.equal(connection.user, "admin");
        assert.equal(connection.privateKey, "OLD-NODE-KEY-PEM");
        assert.match(retire.create, /EXPECTED_INSTANCE_ID='i-0old1' bash -s$/);
        // The new record: the current login and its key (a secret output).
        const keys = plan.outputs.nodeLoginKeys as Record<string, string>;
        const current = (plan.outputs.lifecycle as LifecycleState).controlPlaneNodes?.["dev-master-sa-1"]?.sshAccess ?? "";
        assert.deepEqual(Object.keys(keys), [current]);
        assert.notEqual(current, previousLogin);
    });

    it("refuses a login change at preview when the previous state holds no key for the previous login", () => {
        const upgradeFrom = state({ eksdVersion: "1.30", controlPlaneCount: 1, environment: "dev" });
        const lifecycle = {
            ...upgradeFrom,
            controlPlaneNodes: { "dev-master-sa-1": { instanceId: "i-0old1", privateIp: "192.168.2.5", sshAccess: "admin@old-keypair" } },
        };
        const run = runPlan(["--stack", "dev", "--config", "eksdVersion=1.30", "--previous", tmpFile("previous-nokey.json", JSON.stringify({ lifecycle }))]);
        assert.equal(run.code, 1, run.stderr);
        assert.match(
            run.stderr,
            /nodeKeyName \/ nodeSshUser: change from admin@old-keypair to .* is refused on a running cluster: .*nodeLoginKeys.* Safe path: /,
        );
        assert.doesNotMatch(run.stdout, /master-sa-1/);
    });

    it("stops the preview when a stack with outputs has no readable lifecycle record (not read as a new cluster)", () => {
        for (const [file, previous] of [
            ["previous-unreadable.json", { lifecycle: { initialized: "yes" }, controlPlaneInstanceIds: ["i-0old1"] }],
            ["previous-null.json", { lifecycle: null }],
        ] as const) {
            const run = runPlan(["--stack", "dev", "--previous", tmpFile(file, JSON.stringify(previous))]);
            assert.equal(run.code, 1, `${file}: ${run.stderr}`);
            assert.match(
                run.stderr,
                /the stack's previous state has (no|an unreadable) `lifecycle` output.* planned as a new one .*Safe path: restore the stack's last good state/,
                file,
            );
            assert.doesNotMatch(run.stdout, /master-sa-1/, file);
        }
        // Outputs without any lifecycle record: the plan CLI refuses the file before the program runs.
        const missing = runPlan(["--stack", "dev", "--previous", tmpFile("previous-missing.json", JSON.stringify({ controlPlaneInstanceIds: ["i-0old1"] }))]);
        assert.equal(missing.code, 2, missing.stderr);
        assert.match(missing.stderr, /has no "lifecycle" output.*would skip the day-2 change rules/);
        assert.match(previousStateProblem(["controlPlaneInstanceIds"], undefined) ?? "", /no `lifecycle` output/, "the program's own check");
        assert.equal(previousStateProblem([], undefined), undefined, "no outputs: a new stack");
        assert.equal(previousStateProblem(["lifecycle"], state({ environment: "dev" })), undefined);
    });

    it("plans an allowed upgrade from the previous minor, retires the recorded instance, and exports the new lifecycle state", () => {
        const { plan, retire } = upgradePlan("previous.json", { "dev-master-sa-1": { instanceId: "i-0old1", privateIp: "192.168.2.5" } });
        const lifecycle = plan.outputs.lifecycle as LifecycleState;
        assert.equal(lifecycle.initialized, true);
        assert.equal(lifecycle.settings.eksdVersion, "1.30");
        assert.equal(lifecycle.settings.environment, "dev");
        const current = lifecycle.controlPlaneNodes?.["dev-master-sa-1"];
        assert.ok(current && /^i-/.test(current.instanceId) && current.instanceId !== "i-0old1", JSON.stringify(lifecycle.controlPlaneNodes));
        assert.match(current.sshAccess ?? "", /^[a-z][a-z0-9_-]*@.+$/, "the login the instance accepts is recorded");
        assert.ok(plan.resources.some((r) => r.name === "dev-upgrade-addons"));
        // The old 1.29 instance leaves right after the new one passed its gate, before the add-ons.
        assert.match(retire.create, /EXPECTED_INSTANCE_ID='i-0old1' bash -s$/);
        assert.equal(retire.connection.host, "192.168.2.5");
    });
});

describe("admin credential", () => {
    it("signs a short-lived client certificate in a group of its own (not kubeadm:cluster-admins), a new key per issue window, certificate secret", async () => {
        await buildClusters();
        const [csrResource] = resourcesOf("tls:index/certRequest:CertRequest", "dev-admin-csr-w");
        const window = /-w(\d+)$/.exec(csrResource.name)![1];
        const csr = csrResource.inputs;
        assert.deepEqual(csr.subject, { commonName: ADMIN_USER, organization: ADMIN_GROUP });
        assert.equal(ADMIN_GROUP, "zadara-eksd:cluster-admins");
        assert.deepEqual(adminClusterRoleBinding(), {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: "zadara-eksd:cluster-admins", labels: { "app.kubernetes.io/managed-by": "zadara-eksd" } },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "zadara-eksd:cluster-admins" }],
        });
        // The binding reaches the cluster with every control-plane bootstrap.
        assert.equal(parse(stdinFiles("dev-master-sa-1-bootstrap")["zadara/cluster-rbac.yaml"]).metadata.name, "zadara-eksd:cluster-admins");
        assert.ok(resource("tls:index/privateKey:PrivateKey", `dev-admin-key-w${window}`), "the key is named by the same issue window");
        assert.ok(optionsOf("tls:index/locallySignedCert:LocallySignedCert", `dev-admin-cert-w${window}`).additionalSecretOutputs?.includes("certPem"));
        const cert = resource("tls:index/locallySignedCert:LocallySignedCert", `dev-admin-cert-w${window}`).inputs;
        assert.equal(cert.validityPeriodHours, 8, "hours, not days, by default");
        assert.equal(cert.earlyRenewalHours, earlyRenewalHours(8));
        assert.ok(Number(cert.earlyRenewalHours) < Number(cert.validityPeriodHours));
        assert.deepEqual(cert.allowedUses, ["digital_signature", "key_encipherment", "client_auth"]);
        assert.equal(resource("tls:index/privateKey:PrivateKey", `dev-admin-key-w${window}`).inputs.algorithm, "ECDSA");
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
        assert.doesNotThrow(() => validateAdminValidityHours(2));
        assert.doesNotThrow(() => validateAdminValidityHours(720));
        assert.throws(() => validateAdminValidityHours(721), /adminCredentialValidityHours must be a whole number of hours from 2 to 720, got 721/);
        assert.throws(() => validateAdminValidityHours(1), /got 1/);
        assert.equal(earlyRenewalHours(8), 4);
        assert.equal(earlyRenewalHours(720), 360);
    });
});

describe("node-leave.sh", () => {
    const script = tmpFile("node-leave.sh", scriptForStdin(["node-leave.sh"]));
    /** The node's directories, under the test root. */
    const LEAVE_ROOT_ENV = {
        KUBERNETES_ETC: "etc/kubernetes",
        MANIFESTS_DIR: "etc/kubernetes/manifests",
        ZADARA_ETC: "etc/kubernetes/zadara",
        STATE_DIR: "var/lib/zadara-eksd",
        CRON_FILE: "etc/cron.d/zadara-eksd",
        LOG_FILE: "var/log/leave.log",
    };

    interface LeaveOptions {
        cpNodes?: number;
        drain?: string;
        etcd?: string;
        registered?: boolean;
        apiDown?: boolean;
        curl?: string;
        env?: Record<string, string>;
        files?: Record<string, string>;
        stubs?: Record<string, string>;
    }

    function leave(options: LeaveOptions = {}) {
        const cpNodes = options.cpNodes ?? 3;
        return runStubbedBash(script, {
            env: {
                SLOT_NAME: "dev-master-sa-3",
                DRAIN_TIMEOUT: "300",
                POLL_INTERVAL: "0",
                ETCD_MEMBERSHIP: "etcd-membership.sh",
                DRAIN_NODE: "drain-node.sh",
                ...options.env,
            },
            rootEnv: { ...LEAVE_ROOT_ENV, SCRIPTS_DIR: "lib" },
            stubs: {
                kubectl: `case "$*" in
                    *"get node ip-10-0-1-13"*) ${
                        options.registered === false
                            ? `echo 'Error from server (NotFound): nodes "ip-10-0-1-13" not found' >&2; exit 1`
                            : options.apiDown
                              ? "echo 'Unable to connect to the server: dial tcp 192.168.2.250:6443: i/o timeout' >&2; exit 1"
                              : "echo node/ip-10-0-1-13"
                    } ;;
                    *"get nodes -l"*) for i in $(seq 1 ${cpNodes}); do echo node/dev-master-sa-$i; done ;;
                    *) exit 0 ;;
                esac`,
                "drain-node.sh": options.drain ?? "exit 0",
                "etcd-membership.sh": options.etcd ?? 'echo "removed member $2" >&2',
                curl: options.curl ?? "exit 7",
                hostname: "echo IP-10-0-1-13",
                systemctl: "exit 0",
                sleep: "exit 0",
                ...options.stubs,
            },
            files: {
                "etc/kubernetes/manifests/kube-apiserver.yaml": "kind: Pod\n",
                "etc/kubernetes/admin.conf": "x\n",
                "etc/cron.d/zadara-eksd": "# cron\n",
                "lib/etcd-membership.sh": "# the real one\n",
                ...options.files,
            },
        });
    }

    it("drains, stops the API server, removes the etcd member, stops the kubelet and deletes the Node, in that order", () => {
        const run = leave();
        assert.equal(run.code, 0, run.stderr);
        const relevant = run.calls.filter((c) => /^(drain-node\.sh|etcd-membership\.sh|systemctl|kubectl .*delete)/.test(c));
        assert.deepEqual(
            relevant.map((c) => c.split(" ").slice(0, 2).join(" ")),
            ["drain-node.sh ip-10-0-1-13", "etcd-membership.sh leave", "systemctl stop", "kubectl --kubeconfig", "kubectl --kubeconfig"],
        );
        assert.ok(
            run.calls.some((c) => c.includes("delete pods --all-namespaces --field-selector spec.nodeName=ip-10-0-1-13 --force")),
            "the mirror pods of the stopped kubelet are deleted",
        );
        assert.ok(fs.existsSync(path.join(run.root, "var/lib/zadara-eksd/left-cluster")), "the left marker is written");
        assert.ok(!fs.existsSync(path.join(run.root, "etc/cron.d/zadara-eksd")), "the maintenance cron jobs are gone");
        assert.match(
            fs.readFileSync(path.join(run.root, "lib/etcd-membership.sh"), "utf8"),
            /this node left the cluster \(.*\): no etcd membership change from here/,
            "the node's membership tool is disabled",
        );
        assert.equal(fs.statSync(path.join(run.root, "lib/etcd-membership.sh")).mode & 0o111, 0o111, "and still runs when called by path");
        assert.match(
            run.calls.find((c) => c.startsWith("drain-node.sh"))!,
            /ip-10-0-1-13 300$/,
        );
        assert.match(
            run.calls.find((c) => c.startsWith("kubectl") && c.includes("delete"))!,
            /delete node ip-10-0-1-13 --ignore-not-found/,
        );
        assert.ok(!fs.existsSync(path.join(run.root, "etc/kubernetes/manifests/kube-apiserver.yaml")), "the API server manifest is parked");
        assert.match(run.stderr, /ip-10-0-1-13 left the cluster/);
    });

    it("keeps the node serving and exits 3 when etcd refuses the removal", () => {
        const run = leave({ etcd: "[[ $1 == is-member ]] && exit 0; echo 'refused: removing ip-10-0-1-13 leaves 1 of 3 healthy voters' >&2; exit 3" });
        assert.equal(run.code, 3);
        assert.match(run.stderr, /refused: removing ip-10-0-1-13/);
        assert.match(run.stderr, /etcd refused to remove ip-10-0-1-13.*run pulumi up again/);
        assert.ok(fs.existsSync(path.join(run.root, "etc/kubernetes/manifests/kube-apiserver.yaml")), "the API server is back");
        assert.ok(run.calls.some((c) => c.startsWith("kubectl") && c.includes("uncordon ip-10-0-1-13")));
        assert.ok(!run.calls.some((c) => c.startsWith("systemctl")), "the kubelet keeps running");
    });

    it("stops with exit 4 when the drain times out, leaving etcd untouched", () => {
        const run = leave({ drain: "echo 'drain of ip-10-0-1-13 timed out; blocked by pod default/db-0' >&2; exit 4" });
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

    describe("termination protection (the node turned it on after its gate: the marker)", () => {
        const protectedNode = (aws: string, cpNodes = 3) =>
            leave({
                cpNodes,
                curl: 'case "$*" in *meta-data/instance-id*) printf i-0003 ;; *) exit 7 ;; esac',
                files: {
                    "var/lib/zadara-eksd/termination-protected": "2026-12-06T00:00:00Z\n",
                    "etc/kubernetes/zadara/node.env":
                        "ROLE=control-plane\nCLUSTER_NAME=dev\nAPI_HOST=10.0.0.250\nKUBERNETES_MINOR=1.35\nCLOUD_API_URL=https://cloud.test\n",
                },
                stubs: { aws },
            });

        it("is lifted once the member left, before the instance can be deleted; also on the last node (destroy)", () => {
            for (const cpNodes of [3, 1]) {
                const run = protectedNode("exit 0", cpNodes);
                assert.equal(run.code, 0, run.stderr);
                const lift = run.calls.filter((c) => c.startsWith("aws "));
                assert.equal(lift.length, 1, `${cpNodes} nodes: ${run.calls.join("\n")}`);
                assert.match(lift[0], /ec2 modify-instance-attribute --instance-id i-0003 --no-disable-api-termination$/);
                assert.match(lift[0], /--endpoint-url https:\/\/cloud\.test\/api\/v2\/aws\/ec2 /);
                assert.ok(!fs.existsSync(path.join(run.root, "var/lib/zadara-eksd/termination-protected")), "the marker goes with it");
                if (cpNodes === 3) {
                    const order = run.calls.map((c) => c.split(" ")[0]);
                    assert.ok(order.indexOf("aws") > order.indexOf("etcd-membership.sh"), "after the member left");
                }
            }
        });

        it("stops with the manual command when the protection cannot be lifted; a re-run only finishes the leave", () => {
            const run = protectedNode("echo 'UnauthorizedOperation' >&2; exit 255");
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /termination protection of its instance could not be lifted.*--no-disable-api-termination/);
            assert.ok(fs.existsSync(path.join(run.root, "var/lib/zadara-eksd/left-etcd")), "the member left: a re-run starts after it");
        });

        it("changes nothing on a node that never turned it on", () => {
            const run = leave({ stubs: { aws: "exit 1" } });
            assert.equal(run.code, 0, run.stderr);
            assert.ok(!run.calls.some((c) => c.startsWith("aws ")));
        });
    });

    it("drains with drain-node.sh's drain_node when sent together (as the delete command does)", () => {
        const joined = tmpFile("node-leave-joined.sh", scriptForStdin(["drain-node.sh", "node-leave.sh"]));
        const run = runStubbedBash(joined, {
            env: { SLOT_NAME: "dev-master-sa-2", POLL_INTERVAL: "0", ETCD_MEMBERSHIP: "etcd-membership.sh" },
            rootEnv: LEAVE_ROOT_ENV,
            files: { "etc/kubernetes/manifests/kube-apiserver.yaml": "kind: Pod\n" },
            stubs: {
                kubectl: `case "$*" in
                    *"get nodes -l"*) printf 'node/a\\nnode/b\\nnode/c\\n' ;;
                    *"get node ip-10-0-1-12 -o jsonpath"*) echo True ;;
                    *) exit 0 ;;
                esac`,
                "etcd-membership.sh": "exit 0",
                hostname: "echo ip-10-0-1-12",
                curl: "exit 7",
                systemctl: "exit 0",
                sleep: "exit 0",
            },
        });
        assert.equal(run.code, 0, run.stderr);
        assert.ok(
            run.calls.some((c) => /^kubectl .*drain ip-10-0-1-12 --ignore-daemonsets --delete-emptydir-data --timeout=600s/.test(c)),
            run.calls.join("\n"),
        );
        assert.ok(run.calls.some((c) => c.startsWith("etcd-membership.sh leave ip-10-0-1-12")));
    });

    it("stops before changing anything when the API cannot say whether the Node exists", () => {
        const run = leave({ apiDown: true });
        assert.equal(run.code, 1);
        assert.match(
            run.stderr,
            /cannot look up Node ip-10-0-1-13 through the API \(Unable to connect to the server.*\); nothing changed, the node keeps serving/,
        );
        assert.ok(!run.calls.some((c) => /^(drain-node\.sh|etcd-membership\.sh|systemctl)/.test(c)));
        assert.ok(fs.existsSync(path.join(run.root, "etc/kubernetes/manifests/kube-apiserver.yaml")));
        assert.ok(!fs.existsSync(path.join(run.root, "var/lib/zadara-eksd/left-etcd")));
    });

    it("still removes the etcd member of a node that never registered", () => {
        const run = leave({ registered: false });
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.calls.some((c) => c.startsWith("etcd-membership.sh leave ip-10-0-1-13")));
    });
    it("names the Node and etcd member by the host name, never by the instance's Name tag", () => {
        const run = leave();
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /leaving node: dev-master-sa-3 = Node and etcd member ip-10-0-1-13/);
        assert.ok(run.calls.some((c) => c === "etcd-membership.sh leave ip-10-0-1-13"));
        assert.ok(!run.calls.some((c) => c.includes("dev-master-sa")), run.calls.join("\n"));
    });

    it("only finishes step 4 once the etcd member is gone (a re-run after a later failure): no drain, no restore", () => {
        const run = leave({ files: { "var/lib/zadara-eksd/left-etcd": "2026-12-04T10:00:00Z\n" } });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /ip-10-0-1-13 left etcd already \(2026-12-04T10:00:00Z\): finishing the leave/);
        assert.ok(!run.calls.some((c) => /^(drain-node\.sh|etcd-membership\.sh)/.test(c) || c.includes("uncordon")));
        assert.ok(fs.existsSync(path.join(run.root, "etc/kubernetes/manifests/kube-apiserver.yaml")), "nothing moved back or away");
        assert.ok(run.calls.some((c) => c.includes("delete node ip-10-0-1-13")));
        assert.ok(fs.existsSync(path.join(run.root, "var/lib/zadara-eksd/left-cluster")));
    });

    it("does nothing on a node that already left (a retired node's later delete)", () => {
        const run = leave({ files: { "var/lib/zadara-eksd/left-cluster": "2026-12-04T10:00:00Z\n" } });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /ip-10-0-1-13 already left the cluster \(2026-12-04T10:00:00Z\): nothing to do/);
        assert.ok(!run.calls.some((c) => /^(drain-node\.sh|etcd-membership\.sh|systemctl)/.test(c)));
        assert.ok(fs.existsSync(path.join(run.root, "etc/kubernetes/manifests/kube-apiserver.yaml")));
    });

    // IMDSv2: a token first (the instance requires one), then the instance id with it.
    const metadataCurl = (instanceId: string) => `case "$*" in
        *"-X PUT"*"/latest/api/token"*) printf TOKEN ;;
        *"X-aws-ec2-metadata-token: TOKEN"*"/latest/meta-data/instance-id"*) printf '%s' '${instanceId}' ;;
        *) exit 22 ;;
    esac`;

    it("leaves when it runs on the expected instance (metadata read with a session token)", () => {
        const run = leave({ env: { EXPECTED_INSTANCE_ID: "i-0old" }, curl: metadataCurl("i-0old") });
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.calls.some((c) => c === "etcd-membership.sh leave ip-10-0-1-13"));
    });

    it("reads the metadata without a token where the service answers the token request with something else", () => {
        const pageThenPlain = `case "$*" in
            *"-X PUT"*) printf '<html><body>Not Found</body></html>' ;;
            *"X-aws-ec2-metadata-token"*) exit 22 ;;
            *"/latest/meta-data/instance-id"*) printf i-0old ;;
            *) exit 22 ;;
        esac`;
        const run = leave({ env: { EXPECTED_INSTANCE_ID: "i-0old" }, curl: pageThenPlain });
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.calls.some((c) => c === "etcd-membership.sh leave ip-10-0-1-13"));
    });

    it("touches nothing when its address now belongs to another instance", () => {
        const run = leave({ env: { EXPECTED_INSTANCE_ID: "i-0old" }, curl: metadataCurl("i-0new") });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /this address now belongs to instance i-0new, not i-0old: that node is gone, nothing to do here/);
        assert.ok(!run.calls.some((c) => /^(drain-node\.sh|etcd-membership\.sh|systemctl)/.test(c)));
        assert.ok(!run.calls.some((c) => c.startsWith("kubectl")));
    });

    it("fails without touching the node when the instance metadata does not answer", () => {
        const run = leave({ env: { EXPECTED_INSTANCE_ID: "i-0old" }, curl: "exit 7" });
        assert.equal(run.code, 1);
        assert.match(run.stderr, /cannot read this node's instance id/);
        assert.ok(!run.calls.some((c) => /^(drain-node\.sh|etcd-membership\.sh|systemctl|kubectl)/.test(c)));
    });
});
