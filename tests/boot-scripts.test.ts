// Tests of the node scripts in cluster/scripts: shellcheck, no fixed sleeps, and every boot,
// kubeconfig and maintenance path run end to end against stub commands.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
    BOOT_PATHS,
    EXPORT_CREDENTIALS,
    INSTANCE_ID,
    LOCAL_IP,
    ROOT_PATHS,
    FOURTH_MEMBER,
    MEMBER_LIST,
    ourExportSecret,
    REFERENCE_EXPORT_KEYS,
    CONTROL_PLANE_STDIN,
    EXPORT_KEY,
    runApiNeverUp,
    runBootPaths,
    runControlPlanePrepare,
    runControlPlaneUp,
    runEtcdBackup,
    runEtcdWatchdog,
    runJoinFailsTwiceThenSucceeds,
    runJoinNeverSucceeds,
    runNvmeMount,
    runRenewCerts,
    runWorkerJoin,
    runWorkerTerminated,
    stdinOf,
    sampleKubeconfig,
    SCRIPTS_DIR,
    STATIC_PODS,
} from "./helpers/boot-paths";
import { openExport } from "./helpers/etcd-export";
import { removeRunRoot, StubbedRun } from "./helpers/stubbed-bash";

const UNSAFE_FLAG = "--discovery-token-unsafe-skip-ca-verification";

function shellScripts(): string[] {
    return fs
        .readdirSync(SCRIPTS_DIR)
        .filter((name) => name.endsWith(".sh"))
        .sort();
}

/** Runs a scenario, hands it to the assertions, and always removes its temporary root. */
function check(result: StubbedRun, assertions: (run: StubbedRun) => void): void {
    try {
        assertions(result);
    } catch (error) {
        console.error(`--- stderr of the failed run ---\n${result.stderr}\n--- calls ---\n${result.calls.join("\n")}`);
        throw error;
    } finally {
        removeRunRoot(result);
    }
}

function inRoot(run: StubbedRun, ...parts: string[]): string {
    return path.join(run.root, ...parts);
}

function zadaraFile(run: StubbedRun, name: string): string {
    return inRoot(run, ROOT_PATHS.zadaraEtc, name);
}

function callsOf(run: StubbedRun, command: string): string[] {
    return run.calls.filter((call) => call === command || call.startsWith(`${command} `));
}

function assertNoUnsafeJoin(run: StubbedRun): void {
    for (const call of run.calls) {
        assert.ok(!call.includes("unsafe-skip-ca-verification"), `unsafe call: ${call}`);
    }
}

function assertBootFailed(run: StubbedRun, reasonPart: string): void {
    assert.notEqual(run.code, 0);
    const marker = fs.readFileSync(zadaraFile(run, "BOOT_FAILED"), "utf8");
    assert.match(marker, /(bootstrap|control-plane-up) FAILED/);
    assert.ok(marker.includes(reasonPart), `BOOT_FAILED should mention "${reasonPart}":\n${marker}`);
    assert.match(marker, /look at: .*zadara-eksd.*\.log and \/var\/log\/cloud-init-output\.log/);
    assert.match(marker, /^phase: .+$/m);
    assert.match(marker, /---- last 40 lines of .*\.log ----/);
    assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "boot-complete")), false);
}

function allFiles(directory: string): string[] {
    const found: string[] = [];
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
        const full = path.join(directory, entry.name);
        if (entry.isDirectory()) {
            found.push(...allFiles(full));
        } else if (entry.isFile()) {
            found.push(full);
        }
    }
    return found;
}

describe("node scripts: static checks", () => {
    it("every script passes shellcheck -x with no findings", () => {
        const scripts = shellScripts();
        assert.ok(scripts.length >= 8, `expected the node scripts, found ${scripts.join(", ")}`);
        for (const script of scripts) {
            const result = spawnSync("shellcheck", ["-x", script], { cwd: SCRIPTS_DIR, encoding: "utf8" });
            assert.equal(result.error, undefined, "shellcheck must be installed");
            assert.equal(result.stdout + result.stderr, "", `shellcheck findings in ${script}`);
            assert.equal(result.status, 0, `shellcheck status for ${script}`);
        }
    });

    it("every entry-point script is strict (set -euo pipefail) and executable", () => {
        for (const script of shellScripts().filter((name) => name !== "lib.sh")) {
            const full = path.join(SCRIPTS_DIR, script);
            const text = fs.readFileSync(full, "utf8");
            assert.ok(text.startsWith("#!/usr/bin/env bash\n"), `${script}: shebang`);
            assert.match(text, /^set -E?euo pipefail$/m, `${script}: strict mode`);
            assert.ok((fs.statSync(full).mode & 0o111) !== 0, `${script} is not executable`);
        }
    });

    it("no script has a fixed sleep: every wait polls a condition", () => {
        const findings: string[] = [];
        for (const script of shellScripts()) {
            const lines = fs.readFileSync(path.join(SCRIPTS_DIR, script), "utf8").split("\n");
            lines.forEach((line, index) => {
                const code = line.replace(/^\s*#.*$/, "");
                const pattern = /\bsleep\s+["']?(\d+(?:\.\d+)?)/g;
                let match: RegExpExecArray | null;
                while ((match = pattern.exec(code)) !== null) {
                    if (parseFloat(match[1]) >= 1) {
                        findings.push(`${script}:${index + 1}: ${line.trim()}`);
                    }
                }
                // The only sleeps allowed are poll intervals: lib.sh's pause (the fake clock in
                // tests) and the loader's pause between bundle downloads (it has no lib.sh yet).
                if (/\bsleep\b/.test(code) && !/sleep "\$(POLL_INTERVAL|LOADER_PAUSE|1)"/.test(code)) {
                    findings.push(`${script}:${index + 1}: sleep without POLL_INTERVAL: ${line.trim()}`);
                }
            });
        }
        assert.deepEqual(findings, []);
    });

    it("no script skips CA verification when joining", () => {
        for (const script of shellScripts()) {
            const text = fs.readFileSync(path.join(SCRIPTS_DIR, script), "utf8");
            assert.ok(!text.includes(UNSAFE_FLAG), `${script} mentions ${UNSAFE_FLAG}`);
        }
    });

    it("the NVMe unit runs the installed script once per boot", () => {
        const unit = fs.readFileSync(path.join(SCRIPTS_DIR, "zadara-nvme-mount.service"), "utf8");
        assert.match(unit, /^ExecStart=\/usr\/local\/lib\/zadara-eksd\/nvme-mount\.sh$/m);
        assert.match(unit, /^Type=oneshot$/m);
        assert.match(unit, /^RemainAfterExit=yes$/m);
        assert.match(unit, /^Before=kubelet\.service/m);
        assert.match(unit, /^WantedBy=multi-user\.target$/m);
    });
});

describe("bootstrap.sh", () => {
    it("a control-plane node only prepares: root CA trusted, NVMe unit, kubelet defaults, cron, boot-prepared; no kubeadm", () => {
        check(runControlPlanePrepare(), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.equal(callsOf(run, "kubeadm").length, 0);
            assert.equal(callsOf(run, "update-ca-certificates").length, 1);
            assert.equal(fs.readFileSync(inRoot(run, ROOT_PATHS.caTrustDir, "zadara-eksd-root-ca.crt"), "utf8"), "FAKE ROOT CA\n");
            assert.ok(callsOf(run, "systemctl").includes("systemctl enable --now zadara-nvme-mount.service"));
            assert.ok(fs.existsSync(inRoot(run, ROOT_PATHS.systemdDir, "zadara-nvme-mount.service")));
            // The metadata guard is on before kubeadm could start a kubelet, and on every boot.
            assert.ok(callsOf(run, "systemctl").includes("systemctl enable --now zadara-metadata-guard.service"));
            assert.ok(fs.existsSync(inRoot(run, ROOT_PATHS.systemdDir, "zadara-metadata-guard.service")));
            // protectKernelDefaults: the kubelet's own values, loaded now and at every boot.
            const sysctl = fs.readFileSync(inRoot(run, ROOT_PATHS.sysctlDir, "90-zadara-eksd-kubelet.conf"), "utf8");
            for (const setting of ["vm.overcommit_memory = 1", "vm.panic_on_oom = 0", "kernel.panic = 10", "kernel.panic_on_oops = 1"]) {
                assert.ok(sysctl.includes(`${setting}\n`), setting);
            }
            assert.ok(callsOf(run, "sysctl").some((call) => call.endsWith("90-zadara-eksd-kubelet.conf")));
            assert.equal(fs.readFileSync(inRoot(run, ROOT_PATHS.cronFile), "utf8"), "# cron\n");
            assert.ok(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "boot-prepared")));
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "boot-complete")), false);
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.kubernetesEtc, "pki", "ca.key")), false, "no secret at boot");
            const kubelet = fs.readFileSync(inRoot(run, ROOT_PATHS.kubeletDefaults), "utf8");
            assert.equal(kubelet, `KUBELET_EXTRA_ARGS="--node-ip=${LOCAL_IP} --cloud-provider=external --provider-id=aws:///symphony/${INSTANCE_ID}"\n`);
        });
    });

    it("reads the instance metadata with a session token where the instance requires one (requireMetadataTokens)", () => {
        const run = runControlPlanePrepare(true, { STUB_IMDS_TOKEN: "imds-session-token" });
        assert.equal(run.code, 0, run.stderr);
        const kubelet = fs.readFileSync(inRoot(run, ROOT_PATHS.kubeletDefaults), "utf8");
        assert.match(kubelet, new RegExp(`--node-ip=${LOCAL_IP} .*--provider-id=aws:///symphony/${INSTANCE_ID}`));
        assert.ok(
            callsOf(run, "curl").some((c) => c.includes("-X PUT") && c.includes("/latest/api/token")),
            "asks for a token first",
        );
    });

    it("without a root CA in the bundle, trusts nothing extra", () => {
        check(runControlPlanePrepare(false), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.equal(callsOf(run, "update-ca-certificates").length, 0);
        });
    });

    it("a worker waits for the API, joins, and deletes its join file (it holds the token)", () => {
        check(runWorkerJoin(), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(callsOf(run, "kubeadm"), [`kubeadm join --config ${zadaraFile(run, "kubeadm-join-worker.yaml")}`]);
            const kubelet = fs.readFileSync(inRoot(run, ROOT_PATHS.kubeletDefaults), "utf8");
            assert.equal(
                kubelet,
                `KUBELET_EXTRA_ARGS="--node-ip=${LOCAL_IP} --cloud-provider=external --provider-id=aws:///symphony/${INSTANCE_ID}` +
                    ` --node-labels=node.kubernetes.io/pool=general,tier=web --register-with-taints=dedicated=web:NoSchedule"\n`,
            );
            assert.equal(fs.existsSync(zadaraFile(run, "kubeadm-join-worker.yaml")), false, "the join file holds the token: deleted after the join");
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.kubernetesEtc, "pki", "ca.key")), false);
            assert.ok(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "boot-complete")));
            assertNoUnsafeJoin(run);
        });
    });

    it("gives up after API_WAIT_TIMEOUT when the API never answers: BOOT_FAILED with phase and log tail", () => {
        check(runApiNeverUp(), (run) => {
            assertBootFailed(run, "did not answer within 0.4s");
            const marker = fs.readFileSync(zadaraFile(run, "BOOT_FAILED"), "utf8");
            assert.match(marker, /^phase: wait for the Kubernetes API$/m);
            assert.match(marker, /waiting up to 0\.4s for the Kubernetes API/, "the log tail is in the marker");
            assert.equal(callsOf(run, "kubeadm").length, 0);
            const pings = run.calls.filter((call) => call.includes("/ping"));
            assert.ok(pings.length >= 3, `the API should be polled repeatedly, got ${pings.length}`);
        });
    });

    it("retries a failing join with kubeadm reset -f in between", () => {
        check(runJoinFailsTwiceThenSucceeds(), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const config = zadaraFile(run, "kubeadm-join-worker.yaml");
            assert.deepEqual(callsOf(run, "kubeadm"), [
                `kubeadm join --config ${config}`,
                "kubeadm reset -f",
                `kubeadm join --config ${config}`,
                "kubeadm reset -f",
                `kubeadm join --config ${config}`,
            ]);
            assert.ok(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "boot-complete")));
            assertNoUnsafeJoin(run);
        });
    });

    it("fails with BOOT_FAILED when the join never succeeds within JOIN_TIMEOUT", () => {
        check(runJoinNeverSucceeds(), (run) => {
            assertBootFailed(run, "kubeadm join as worker did not succeed within 0.4s");
            const joins = callsOf(run, "kubeadm").filter((call) => call.startsWith("kubeadm join"));
            const resets = callsOf(run, "kubeadm").filter((call) => call === "kubeadm reset -f");
            assert.ok(joins.length >= 2, `expected several attempts, got ${joins.length}`);
            assert.equal(resets.length, joins.length);
            assertNoUnsafeJoin(run);
        });
    });

    it("a signal fails the bootstrap: BOOT_FAILED says so", () => {
        check(runWorkerTerminated(), (run) => {
            assertBootFailed(run, "terminated by signal");
        });
    });
});

describe("control-plane-up.sh", () => {
    const pki = (run: StubbedRun, name: string) => inRoot(run, ROOT_PATHS.kubernetesEtc, name);

    it("init: places the stdin files (keys 0600), runs kubeadm init, publishes the kubeconfig, applies the RBAC, removes the blanket auto-approval and super-admin.conf, passes the gate", () => {
        check(runControlPlaneUp({ mode: "init" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            for (const [name, content] of Object.entries(CONTROL_PLANE_STDIN)) {
                if (name.startsWith("zadara/")) {
                    continue;
                }
                assert.equal(fs.readFileSync(pki(run, name), "utf8"), content, name);
                const mode = fs.statSync(pki(run, name)).mode & 0o777;
                assert.equal(mode, /\.(crt|pub)$/.test(name) ? 0o644 : 0o600, name);
            }
            const config = pki(run, "zadara/kubeadm.yaml");
            assert.deepEqual(callsOf(run, "kubeadm"), [`kubeadm init --config ${config} --skip-token-print`]);
            assert.equal(fs.existsSync(config), false, "the kubeadm config (with the token) is removed");
            assert.ok(callsOf(run, "kubectl").some((call) => call.includes(" apply -f ") && call.endsWith("cluster-rbac.yaml")));
            assert.ok(callsOf(run, "kubectl").some((call) => call.endsWith("delete clusterrolebinding kubeadm:node-autoapprove-bootstrap --ignore-not-found")));
            assert.equal(fs.existsSync(pki(run, "super-admin.conf")), false, "super-admin.conf is not kept on node 1");
            assert.equal(fs.readFileSync(zadaraFile(run, "kubeconfig"), "utf8"), sampleKubeconfig("kubernetes-admin"));
            assert.ok(callsOf(run, "etcdctl").some((call) => call.includes("endpoint health")));
            assert.ok(fs.existsSync(zadaraFile(run, "kubeconfig.ready")));
            assert.ok(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "boot-complete")));
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.secretsRunDir)), false, "the stdin copy is removed");
            assert.match(run.stderr, /received 12 files/);
            assert.match(run.stderr, /control plane node dev-master-sa-1 is up \(init\)/);
        });
    });

    it("turns on its instance's termination protection once it passed its gate, once; a cloud that refuses it is a warning", () => {
        check(runControlPlaneUp({ mode: "init", aws: "exit 0" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const calls = callsOf(run, "aws");
            assert.equal(calls.length, 1, calls.join("\n"));
            assert.match(calls[0], /ec2 modify-instance-attribute --instance-id \S+ --disable-api-termination$/);
            assert.ok(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "termination-protected")), "node-leave.sh lifts what this marker names");
            assert.ok(run.stderr.indexOf("termination protection on") > run.stderr.indexOf("health gate"), "after the gate");
        });
        check(runControlPlaneUp({ mode: "init", aws: "echo 'InvalidParameterValue' >&2; exit 255" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stderr, /WARNING: could not turn on termination protection/);
            assert.ok(!fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "termination-protected")));
        });
    });

    it("join: waits for the API (progress with elapsed and budget), joins with the placed certificates", () => {
        check(runControlPlaneUp({ mode: "join", env: { STUB_API_UP_AFTER: "8", PROGRESS_INTERVAL: "0.1" }, nodeEnv: { API_WAIT_TIMEOUT: "10" } }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const config = pki(run, "zadara/kubeadm.yaml");
            assert.deepEqual(callsOf(run, "kubeadm"), [`kubeadm join --config ${config}`]);
            assert.match(run.stderr, /still waiting for the Kubernetes API at \S+ \(\d+s of 10s\)/);
            const firstJoin = run.calls.findIndex((call) => call.startsWith("kubeadm join"));
            assert.equal(run.calls.slice(0, firstJoin).filter((call) => call.includes("/ping")).length, 9, "counted polls: up on the 9th");
            assert.equal(fs.readFileSync(pki(run, "pki/etcd/ca.key"), "utf8"), "FAKE ETCD KEY\n");
        });
    });

    it("join: mints its own short join token with the received CA and puts it in place of the placeholder; no token on a command line", () => {
        const stdin = stdinOf({
            ...CONTROL_PLANE_STDIN,
            "zadara/kubeadm.yaml": "kind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    token: cpjoin.placeholder000000\n",
        });
        check(runControlPlaneUp({ mode: "join", stdin, env: { STUB_API_UP_AFTER: "0", STUB_KEEP_JOIN_CONFIG: "1" } }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const kubeadm = callsOf(run, "kubeadm");
            assert.match(
                kubeadm[0],
                /^kubeadm token create --kubeconfig \S+\/kubeconfig --ttl 30m --description zadara-eksd control-plane join of dev-master-sa-1$/,
            );
            assert.match(kubeadm[1], /^kubeadm join --config /);
            const signing = callsOf(run, "openssl").find((call) => call.startsWith("openssl x509"))!;
            assert.ok(signing.includes(`-CAkey ${pki(run, "pki/ca.key")}`) && signing.includes("-days 1"), signing);
            assert.ok(callsOf(run, "openssl").some((call) => call.includes("/O=kubeadm:cluster-admins/CN=zadara-eksd-join:dev-master-sa-1")));
            assert.equal(
                fs.readFileSync(inRoot(run, ".join-config-seen"), "utf8").includes("token: abc123.0123456789abcdef"),
                true,
                "kubeadm join saw the minted token",
            );
            assert.ok(!run.calls.some((call) => call.includes("0123456789abcdef")), "the token is on no command line");
            assert.match(run.stderr, /minted a join token valid for 30m/);
        });
    });

    it("join: refuses to go on when no token could be minted", () => {
        const stdin = stdinOf({ ...CONTROL_PLANE_STDIN, "zadara/kubeadm.yaml": "kind: JoinConfiguration\ntoken: cpjoin.placeholder000000\n" });
        check(runControlPlaneUp({ mode: "join", stdin, env: { STUB_API_UP_AFTER: "0", STUB_MINTED_TOKEN: "" } }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /kubeadm token create printed no token/);
            assert.equal(callsOf(run, "kubeadm").filter((call) => call.startsWith("kubeadm join")).length, 0);
        });
    });

    it("a node joining a running cluster uploads the current ClusterConfiguration before kubeadm join", () => {
        const stdin = stdinOf({
            ...CONTROL_PLANE_STDIN,
            "zadara/kubeadm-cluster.yaml": "kind: ClusterConfiguration\nkubernetesVersion: v1.31.14-eks-1-31-50\n",
        });
        check(runControlPlaneUp({ mode: "join", stdin, env: { STUB_API_UP_AFTER: "0" } }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const kubeadm = callsOf(run, "kubeadm");
            const clusterConfig = pki(run, "zadara/kubeadm-cluster.yaml");
            assert.equal(kubeadm.length, 3, kubeadm.join("\n"));
            assert.match(kubeadm[0], new RegExp(`^kubeadm init phase kubeconfig admin --config ${clusterConfig} --kubeconfig-dir \\S+$`));
            assert.match(kubeadm[1], new RegExp(`^kubeadm init phase upload-config all --config ${clusterConfig} --kubeconfig \\S+/admin\\.conf$`));
            assert.match(kubeadm[2], /^kubeadm join --config /);
            assert.equal(fs.existsSync(clusterConfig), false, "the cluster configuration file is removed after the upload");
            assert.match(run.stderr, /uploaded the current cluster configuration/);
        });
    });

    it("leaves no token-holding kubeadm file behind: re-run on a joined node, or a join that needed a retry", () => {
        const stdin = stdinOf({ ...CONTROL_PLANE_STDIN, "zadara/kubeadm-cluster.yaml": "kind: ClusterConfiguration\n" });
        for (const run of [
            runControlPlaneUp({ mode: "join", stdin, alreadyInCluster: true, env: { STUB_API_UP_AFTER: "0" } }),
            runControlPlaneUp({ mode: "join", stdin, env: { STUB_API_UP_AFTER: "0", STUB_JOIN_FAILS: "1" } }),
        ]) {
            check(run, (r) => {
                assert.equal(r.code, 0, r.stderr);
                assert.equal(fs.existsSync(pki(r, "zadara/kubeadm.yaml")), false, "kubeadm.yaml removed");
                assert.equal(fs.existsSync(pki(r, "zadara/kubeadm-cluster.yaml")), false, "kubeadm-cluster.yaml removed");
            });
        }
    });

    it("a node already in the cluster only refreshes its files and passes the gate (token rotation, key rotation)", () => {
        check(runControlPlaneUp({ mode: "join", alreadyInCluster: true, env: { STUB_API_UP_AFTER: "0" } }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.equal(callsOf(run, "kubeadm").length, 0);
            assert.equal(fs.readFileSync(pki(run, "encryption/encryption-config.yaml"), "utf8"), CONTROL_PLANE_STDIN["encryption/encryption-config.yaml"]);
            assert.match(run.stderr, /already in the cluster: files refreshed/);
        });
    });

    it("refuses a stdin file name outside its fixed list, before touching anything", () => {
        const stdin = stdinOf({ ...CONTROL_PLANE_STDIN, "../../root/.ssh/authorized_keys": "ssh-rsa x" });
        check(runControlPlaneUp({ stdin }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /stdin names '\.\.\/\.\.\/root\/\.ssh\/authorized_keys', which is not a file this script accepts/);
            assert.equal(callsOf(run, "kubeadm").length, 0);
            assert.equal(fs.existsSync(pki(run, "pki/ca.key")), false);
        });
    });

    it("refuses init when an API already answers (a second cluster would be made)", () => {
        check(runControlPlaneUp({ mode: "init", env: { STUB_API_UP_AFTER: "0" } }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /phase: make sure no cluster answers yet/);
            assert.equal(callsOf(run, "kubeadm").length, 0);
        });
    });

    it("boot failure: exits 1 with the failed phase and the last 40 lines of its log on stderr", () => {
        check(runControlPlaneUp({ mode: "init", etcdHealthy: false, env: { PROGRESS_INTERVAL: "0.05" } }), (run) => {
            assert.equal(run.code, 1);
            assert.match(run.stderr, /zadara-eksd control-plane-up FAILED on dev-master-sa-1/);
            assert.match(run.stderr, /^phase: health gate: local etcd member healthy$/m);
            assert.match(
                run.stderr,
                /^reason: the etcd member on this node is not healthy after 2s\. If etcd lost its quorum .* the surviving one, on its node: sudo \S+\/etcd-membership\.sh recover <its member name> --confirm \(docs\/etcd\.md, 'Quorum lost'\); then run pulumi up again$/m,
            );
            const tail = run.stderr.slice(run.stderr.indexOf("---- last 40 lines of"));
            const lines = tail.trim().split("\n").slice(1);
            assert.equal(lines.length, 40, tail);
            assert.match(tail, /still waiting for the local etcd member to report healthy \(\d+s of 2s\)/);
            // Counted polls on the fake clock: 2 s budget / 0.05 s poll interval.
            const polls = callsOf(run, "etcdctl").length;
            assert.ok(polls >= 40 && polls <= 42, `expected ~41 polls, got ${polls}`);
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "boot-complete")), false);
            assert.match(fs.readFileSync(zadaraFile(run, "BOOT_FAILED"), "utf8"), /phase: health gate: local etcd member healthy/);
        });
    });

    it("fails at once with the node's own boot failure when the loader or bootstrap.sh failed", () => {
        const bootFailed = "zadara-eksd loader FAILED\nphase: fetch and check the boot bundle\nreason: bundle has sha256 abc, expected def\n";
        check(runControlPlaneUp({ prepared: false, bootFailed }), (run) => {
            assert.equal(run.code, 1);
            assert.match(run.stderr, /the node's own boot failed: reason: bundle has sha256 abc, expected def/);
            assert.equal(callsOf(run, "kubeadm").length, 0);
        });
    });

    it("times out waiting for boot-prepared with the budget named", () => {
        check(runControlPlaneUp({ prepared: false }), (run) => {
            assert.equal(run.code, 1);
            assert.match(run.stderr, /phase: wait for the node to be prepared/);
            assert.match(run.stderr, /not prepared within 2s/);
        });
    });

    it("refuses a mode other than init or join", () => {
        check(runControlPlaneUp({ mode: "upgrade" }), (run) => {
            assert.equal(run.code, 1);
            assert.match(run.stderr, /usage: control-plane-up\.sh init\|join/);
        });
    });
});

describe("etcd-backup.sh", () => {
    it("saves a snapshot and takes no disk snapshot (a control-plane disk holds every CA key)", () => {
        check(runEtcdBackup({ rotation: "3" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const snapshot = inRoot(run, ROOT_PATHS.etcdBackupDir, `etcd_backup_dev-master-sa-1_${INSTANCE_ID}.db`);
            assert.equal(fs.readFileSync(snapshot, "utf8"), "etcd snapshot data");
            assert.equal(fs.statSync(snapshot).mode & 0o777, 0o600);
            assert.ok(!run.calls.some((call) => call.includes("ec2 ")), "no EC2 call at all: no volume, no snapshot");
            assert.ok(!run.calls.some((call) => call.includes("s3 cp")));
        });
    });

    it("exports to object storage when the secret exists, encrypted with the program's key, credentials only in the aws environment", () => {
        check(runEtcdBackup({ secret: ourExportSecret(), rotation: "0" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const copies = run.calls.filter((call) => call.startsWith("aws s3 cp"));
            assert.equal(copies.length, 1);
            assert.match(copies[0], /s3:\/\/etcd-backups\/dev\/etcd_backup_dev-master-sa-1_i-0123abcd_\d{8}T\d{6}Z\.db\.enc/);
            // What left the node is not the snapshot; it carries the key check, HMAC and sha256
            // of lib.sh's format, which a second implementation of the format opens.
            const exported = fs.readFileSync(inRoot(run, ".exported"));
            assert.ok(!exported.toString("latin1").includes("etcd snapshot data"), "the export is encrypted");
            const opened = openExport(exported, EXPORT_KEY);
            assert.equal(opened.snapshot.toString("utf8"), "etcd snapshot data");
            assert.equal(opened.header[0], "zadara-eksd etcd export v2");
            assert.throws(() => openExport(exported, "another key"), /key check mismatch/);
            assert.equal(
                fs.existsSync(`${inRoot(run, ROOT_PATHS.etcdBackupDir, `etcd_backup_dev-master-sa-1_${INSTANCE_ID}.db`)}.enc`),
                false,
                "no encrypted copy left behind",
            );
            assert.match(copies[0], /--endpoint-url https:\/\/ngos\.example\.com:1061/);
            assert.equal(fs.readFileSync(inRoot(run, ".s3-credentials"), "utf8"), "credentials-ok\n");
            assert.ok(!run.calls.some((call) => call.includes("s3api")), "no export rotation when ETCD_BACKUP_ROTATION is 0");
            for (const file of allFiles(run.root)) {
                const content = fs.readFileSync(file, "utf8");
                assert.ok(!content.includes(EXPORT_CREDENTIALS.accessKeyId), `access key found in ${file}`);
                assert.ok(!content.includes(EXPORT_CREDENTIALS.secretAccessKey), `secret key found in ${file}`);
            }
            assert.ok(!run.stderr.includes(EXPORT_CREDENTIALS.secretAccessKey));
            assert.ok(!run.stdout.includes(EXPORT_CREDENTIALS.secretAccessKey));
        });
    });

    it("reads the reference's backup_* keys, trusts the cloud CA bundle and keeps the newest N exports of this host", () => {
        const caBundle = "/etc/ssl/certs/ca-certificates.crt";
        check(runEtcdBackup({ secret: REFERENCE_EXPORT_KEYS, rotation: "3", nodeEnv: { CLOUD_API_CA_BUNDLE: caBundle } }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const copy = run.calls.find((call) => call.startsWith("aws s3 cp"));
            assert.ok(copy, run.calls.join("\n"));
            assert.match(copy, /s3:\/\/etcd-backups\/dev\/etcd_backup_dev-master-sa-1_i-0123abcd_/);
            assert.ok(copy.includes(`--ca-bundle ${caBundle}`), copy);
            assert.equal(fs.readFileSync(inRoot(run, ".s3-credentials"), "utf8"), "credentials-ok\n");
            const list = run.calls.find((call) => call.startsWith("aws s3api list-objects-v2"));
            assert.ok(list?.includes("--bucket etcd-backups --prefix dev/etcd_backup_dev-master-sa-1_ "), list);
            const deleted = run.calls.filter((call) => call.startsWith("aws s3api delete-object"));
            assert.deepEqual(deleted.map((call) => call.match(/--key (\S+)/)?.[1]).sort(), [
                "dev/etcd_backup_dev-master-sa-1_i-0123abcd_20240101T100000Z.db",
                "dev/etcd_backup_dev-master-sa-1_i-0123abcd_20240102T100000Z.db",
            ]);
            assert.ok(deleted.every((call) => call.includes(`--ca-bundle ${caBundle}`)));
        });
    });

    it("without the program's key, exports nothing rather than an unencrypted snapshot", () => {
        check(runEtcdBackup({ secret: ourExportSecret(), noExportKey: true }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /backup-export\.key is missing: refusing to export an unencrypted etcd snapshot/);
            assert.ok(!run.calls.some((call) => call.includes("s3 cp")));
        });
    });

    it("a failed local snapshot is a problem: nothing new to export, the run exits non-zero", () => {
        check(runEtcdBackup({ snapshotFails: true, secret: ourExportSecret() }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /ERROR: etcdctl snapshot save failed/);
            assert.ok(!run.calls.some((call) => call.includes("s3 cp")), "nothing new to export");
            assert.match(run.stderr, /backup finished with 1 problem/);
        });
    });

    it("without etcdctl on the node, saves the snapshot with the etcd container's etcdctl under the etcd data dir, then moves it", () => {
        check(runEtcdBackup({ etcdctlInContainerOnly: true }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const exec = run.calls.find((call) => call.includes(" exec c0ffee-etcd etcdctl "));
            assert.ok(exec, run.calls.join("\n"));
            assert.ok(exec.includes("--cacert=") && exec.includes("--endpoints=https://127.0.0.1:2379"), exec);
            assert.ok(exec.endsWith(`snapshot save ${inRoot(run, ROOT_PATHS.etcdDataDir, "zadara-snapshot.db")}`), exec);
            const snapshot = inRoot(run, ROOT_PATHS.etcdBackupDir, `etcd_backup_dev-master-sa-1_${INSTANCE_ID}.db`);
            assert.equal(fs.readFileSync(snapshot, "utf8"), "etcd snapshot data");
            assert.equal(fs.statSync(snapshot).mode & 0o777, 0o600);
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.etcdDataDir, "zadara-snapshot.db")), false);
        });
    });
});

describe("etcd-watchdog.sh", () => {
    const removals = (run: StubbedRun) => run.calls.filter((call) => call.includes("member remove"));
    const absentFile = (run: StubbedRun) => fs.readFileSync(inRoot(run, ROOT_PATHS.stateDir, "etcd-watchdog.absent"), "utf8");

    it("removes a member absent on 3 runs in a row, unhealthy, while the local member sees a leader; never itself", () => {
        check(runEtcdWatchdog({ absent: "fd422379fda50e48 2\n" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.equal(removals(run).length, 1);
            assert.ok(removals(run)[0].endsWith("member remove fd422379fda50e48"));
            const health = run.calls.find((call) => call.includes("endpoint health"));
            assert.ok(health?.includes("https://192.168.2.12:2379"), health);
            assert.equal(absentFile(run), "fd422379fda50e48 3\n");
        });
    });

    it("only counts the first and second absent runs", () => {
        check(runEtcdWatchdog(), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(removals(run), []);
            assert.equal(absentFile(run), "fd422379fda50e48 1\n");
            assert.ok(!run.calls.some((call) => / endpoint (health|status)/.test(call)), "no health check before the third run");
        });
        check(runEtcdWatchdog({ absent: "fd422379fda50e48 1\n91bc3c398fb3c146 2\n" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(removals(run), []);
            assert.equal(absentFile(run), "fd422379fda50e48 2\n", "a listed member's count is reset");
        });
    });

    it("keeps a member that answers its health check", () => {
        check(runEtcdWatchdog({ absent: "fd422379fda50e48 5\n", memberHealthy: true }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(removals(run), []);
            assert.match(run.stderr, /fd422379fda50e48 answers at https:\/\/192\.168\.2\.12:2379: not removing it/);
        });
    });

    it("removes nothing when the local member sees no leader", () => {
        check(runEtcdWatchdog({ absent: "fd422379fda50e48 5\n", leader: false }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(removals(run), []);
            assert.match(run.stderr, /sees no leader/);
        });
    });

    it("removes at most one member per run", () => {
        const members = `${MEMBER_LIST}\n${FOURTH_MEMBER}`;
        check(runEtcdWatchdog({ members, absent: "fd422379fda50e48 2\n0a1b2c3d4e5f6789 2\n" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.equal(removals(run).length, 1);
            assert.equal(absentFile(run), "fd422379fda50e48 3\n0a1b2c3d4e5f6789 3\n");
        });
    });

    it("refuses to act when the instance list is empty or lacks this node, and resets the counts", () => {
        for (const instanceIps of ["", "192.168.2.11\t192.168.2.12\n"]) {
            check(runEtcdWatchdog({ instanceIps, absent: "fd422379fda50e48 2\n" }), (run) => {
                assert.notEqual(run.code, 0);
                assert.deepEqual(removals(run), []);
                assert.match(run.stderr, /instance list is empty or does not contain this node.*refusing/);
                assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "etcd-watchdog.absent")), false);
            });
        }
    });

    it("never removes a listed member, even among ~2000 instance IPs (no SIGPIPE in the lookup)", () => {
        // Listed first, so a `printf | grep -q` lookup would stop reading early and fail on SIGPIPE.
        const ips = ["192.168.2.10", "192.168.2.11", "192.168.2.12"];
        for (let i = 0; ips.length < 2000; i++) {
            ips.push(`10.${Math.floor(i / 250)}.${i % 250}.1`);
        }
        for (let attempt = 0; attempt < 5; attempt++) {
            check(runEtcdWatchdog({ instanceIps: ips.join("\t") + "\n", absent: "91bc3c398fb3c146 9\nfd422379fda50e48 9\n" }), (run) => {
                assert.equal(run.code, 0, run.stderr);
                assert.deepEqual(removals(run), []);
                assert.equal(absentFile(run), "");
            });
        }
    });
});

describe("renew-certs.sh", () => {
    const manifestPath = (run: StubbedRun, pod: string) => inRoot(run, ROOT_PATHS.kubernetesEtc, "manifests", `${pod}.yaml`);
    const allManifestsInPlace = (run: StubbedRun) => STATIC_PODS.every((pod) => fs.existsSync(manifestPath(run, pod)));
    const lockCalls = (run: StubbedRun, verb: string) =>
        run.calls.filter((call) => call.startsWith("kubectl") && call.includes(` ${verb} `) && call.includes("zadara-renew-certs-lock"));

    it("renews under the lock with a healthy etcd, restarts the static pods, refreshes the kubeconfig and releases the lock", () => {
        check(runRenewCerts("20d"), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const index = (predicate: (call: string) => boolean) => run.calls.findIndex(predicate);
            const create = index((call) => call.includes("create configmap zadara-renew-certs-lock"));
            const health = index((call) => call.includes("endpoint health --cluster"));
            const renew = run.calls.indexOf("kubeadm certs renew all");
            const firstCrictl = index((call) => call.startsWith("crictl"));
            assert.ok(create >= 0 && create < health && health < renew && renew < firstCrictl, run.calls.join("\n"));
            assert.ok(
                callsOf(run, "kubectl").every((call) => call.includes("--request-timeout=")),
                "every kubectl call has a timeout",
            );
            for (const pod of STATIC_PODS) {
                assert.ok(fs.existsSync(manifestPath(run, pod)), `${pod} manifest back`);
                assert.ok(
                    run.calls.some((call) => call.includes(`--name ^${pod}$`)),
                    `${pod} restart waited on`,
                );
            }
            assert.ok(run.calls.filter((call) => call.includes("endpoint health --cluster")).length >= 2, "etcd health checked again after its restart");
            assert.equal(lockCalls(run, "delete").length, 1);
            assert.equal(fs.existsSync(inRoot(run, ".lock")), false, "lock released");
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "renew-certs.pending")), false);
            assert.equal(fs.readFileSync(zadaraFile(run, "kubeconfig"), "utf8"), sampleKubeconfig("kubernetes-admin"));
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.kubernetesEtc, "super-admin.conf")), false, "the renewed super-admin.conf is not kept");
        });
    });

    it("does nothing when every certificate is valid for more than 30 days", () => {
        check(runRenewCerts("300d"), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(callsOf(run, "kubeadm"), ["kubeadm certs check-expiration"]);
            assert.equal(callsOf(run, "crictl").length, 0);
            assert.equal(callsOf(run, "kubectl").length, 0);
        });
    });

    it("skips the run when etcd is not fully healthy, and releases the lock", () => {
        check(runRenewCerts("20d", { etcdHealthy: false }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stderr, /etcd is not fully healthy.*skipping this run/);
            assert.ok(!run.calls.includes("kubeadm certs renew all"));
            assert.equal(callsOf(run, "crictl").length, 0);
            assert.ok(allManifestsInPlace(run));
            assert.equal(fs.existsSync(inRoot(run, ".lock")), false);
        });
    });

    it("skips the run when another control-plane node holds the lock (bounded wait), and leaves its lock alone", () => {
        const future = Math.floor(Date.now() / 1000) + 3600;
        check(runRenewCerts("20d", { lock: `${future} dev-master-sa-2` }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stderr, /another control-plane node holds the lock .*skipping this run/);
            assert.ok(lockCalls(run, "create").length >= 2, "the lock was polled");
            assert.ok(!run.calls.includes("kubeadm certs renew all"));
            assert.equal(lockCalls(run, "delete").length, 0);
            assert.equal(fs.readFileSync(inRoot(run, ".lock"), "utf8"), `7 ${future} dev-master-sa-2\n`);
        });
    });

    it("takes over an expired lock at the resourceVersion it read", () => {
        check(runRenewCerts("20d", { lock: "1000 dev-master-sa-2" }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            const patch = lockCalls(run, "patch");
            assert.equal(patch.length, 1);
            assert.ok(patch[0].includes('"resourceVersion":"7"') && patch[0].includes('"holder":"dev-master-sa-1"'), patch[0]);
            assert.ok(run.calls.includes("kubeadm certs renew all"));
            assert.equal(fs.existsSync(inRoot(run, ".lock")), false);
        });
    });

    it("checks the timeouts before moving anything", () => {
        check(runRenewCerts("20d", { env: { RESTART_TIMEOUT: "soon" } }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /RESTART_TIMEOUT must be a number of seconds/);
            assert.deepEqual(callsOf(run, "kubeadm"), []);
            assert.equal(callsOf(run, "crictl").length, 0);
            assert.ok(allManifestsInPlace(run));
        });
    });

    it("puts back the manifests an interrupted run left parked, at the start of the next run", () => {
        check(runRenewCerts("300d", { parked: ["kube-scheduler"] }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.ok(allManifestsInPlace(run));
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "parked-manifests")), false);
            assert.match(run.stderr, /putting kube-scheduler\.yaml back/);
        });
    });

    it("on SIGTERM puts the parked manifest back and releases the lock; the next run restarts the pods", () => {
        check(runRenewCerts("20d", { neverStops: "etcd", env: { RESTART_TIMEOUT: "30" }, termAfterSeconds: 1 }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /terminated by signal/);
            assert.ok(allManifestsInPlace(run), "etcd.yaml is back");
            assert.equal(fs.existsSync(inRoot(run, ".lock")), false);
            assert.ok(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "renew-certs.pending")));
        });
        check(runRenewCerts("300d", { pending: true }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.ok(!run.calls.includes("kubeadm certs renew all"), "already renewed");
            for (const pod of STATIC_PODS) {
                assert.ok(
                    run.calls.some((call) => call.includes(`--name ^${pod}$`)),
                    `${pod} restarted`,
                );
            }
            assert.equal(fs.existsSync(inRoot(run, ROOT_PATHS.stateDir, "renew-certs.pending")), false);
            assert.equal(fs.readFileSync(zadaraFile(run, "kubeconfig"), "utf8"), "old admin.conf\n");
        });
    });
});

describe("nvme-mount.sh", () => {
    it("formats only signature-free NVMe disks, remounts its own, leaves the root disk, foreign signatures and partition tables alone", () => {
        check(runNvmeMount(), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(callsOf(run, "mkfs.ext4"), ["mkfs.ext4 -q -F -m 0 -L zeksd-nvme /dev/nvme1n1"]);
            const mountBase = inRoot(run, ROOT_PATHS.nvmeMountBase);
            assert.deepEqual(callsOf(run, "mount"), [
                `mount -o defaults,noatime /dev/nvme1n1 ${mountBase}/nvme1n1`,
                `mount -o defaults,noatime /dev/nvme2n1 ${mountBase}/nvme2n1`,
            ]);
            assert.ok(!run.calls.some((call) => call.includes("/dev/nvme0n1 ") || call.endsWith("/dev/nvme0n1")));
            assert.ok(!run.calls.some((call) => call.includes("/dev/vdb")));
            // A partition table without partitions, or a signature only wipefs knows, is not blank.
            assert.match(run.stderr, /nvme4n1: signatures not ours \(type '', partition table 'gpt'/);
            assert.match(run.stderr, /nvme5n1: signatures not ours/);
        });
    });
});

describe("boot paths for the benchmark", () => {
    it("runBootPaths runs every path once and times each (timing limits belong to the benchmark)", () => {
        const timings = runBootPaths();
        assert.deepEqual(
            timings.map((timing) => timing.path),
            BOOT_PATHS.map((bootPath) => bootPath.name),
        );
        for (const timing of timings) {
            assert.ok(timing.elapsedMs > 0, `${timing.path}: ${timing.elapsedMs} ms`);
        }
    });
});
