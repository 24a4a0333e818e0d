// addons/scripts/etcd-restore.sh with stubbed crictl / etcdutl / kubectl and a fake node
// filesystem under $TEST_ROOT.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { runStubbedBash, StubbedRun } from "./helpers/stubbed-bash";

const SCRIPT = path.resolve(__dirname, "../addons/scripts/etcd-restore.sh");
const MANIFESTS = "etc/kubernetes/manifests";

function etcdManifest(initialCluster = "dev-master-sa-1=https://192.168.2.10:2380"): string {
    return [
        "apiVersion: v1",
        "kind: Pod",
        "metadata: {name: etcd, namespace: kube-system}",
        "spec:",
        "  containers:",
        "  - command:",
        "    - etcd",
        "    - --advertise-client-urls=https://192.168.2.10:2379",
        "    - --data-dir=/var/lib/etcd",
        "    - --initial-advertise-peer-urls=https://192.168.2.10:2380",
        `    - --initial-cluster=${initialCluster}`,
        "    - --name=dev-master-sa-1",
        "",
    ].join("\n");
}

/** crictl: containers run while their manifest is in place, and for `stopPolls` calls after. */
const CRICTL_STUB = `
name=""
while (($#)); do
    if [[ $1 == --name ]]; then name=\${2//[\\^\\$]/}; shift; fi
    shift
done
if [[ -f "$TEST_ROOT/${MANIFESTS}/\${name}.yaml" ]]; then echo "c0ffee-\${name}"; exit 0; fi
count_file="$TEST_ROOT/crictl-\${name}.count"
n=$(cat "$count_file" 2>/dev/null || echo 0)
echo $((n + 1)) > "$count_file"
if ((n < \${STOP_POLLS:-1})); then echo "c0ffee-\${name}"; fi
exit 0`;

/** etcdutl: `snapshot status` prints a table; `snapshot restore` creates <data-dir>/member. */
const ETCDUTL_STUB = `
if [[ $1 == snapshot && $2 == status ]]; then
    printf '+------+---------+\\n| HASH | VERSION |\\n| 1234 | 3.5.0   |\\n'; exit 0
fi
if [[ $1 == snapshot && $2 == restore ]]; then
    [[ \${RESTORE_FAILS:-false} == true ]] && { echo "Error: snapshot file has wrong hash" >&2; exit 1; }
    dir=""
    while (($#)); do [[ $1 == --data-dir ]] && dir=$2; shift; done
    mkdir -p "$dir/member/snap" && echo restored > "$dir/member/snap/db"; exit 0
fi
exit 3`;

/** kubectl get --raw=/readyz: fails API_DOWN_POLLS times, then answers. */
const KUBECTL_STUB = `
n=$(cat "$TEST_ROOT/kubectl.count" 2>/dev/null || echo 0)
echo $((n + 1)) > "$TEST_ROOT/kubectl.count"
if ((n < \${API_DOWN_POLLS:-2})); then echo "connection refused" >&2; exit 1; fi
echo ok`;

/** runStubbedBash fixes the arguments before the root exists: a wrapper passes $SNAPSHOT_PATH as $1. */
const WRAPPER = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "etcd-restore-wrapper-")), "run.sh");
fs.writeFileSync(WRAPPER, `#!/usr/bin/env bash\nexec bash "${SCRIPT}" "$SNAPSHOT_PATH"\n`);

const runRoots: string[] = [path.dirname(WRAPPER)];
after(() => runRoots.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function run(env: Record<string, string> = {}, options: { manifest?: string } = {}): StubbedRun {
    const result = runStubbedBash(WRAPPER, {
        stubs: { crictl: CRICTL_STUB, etcdutl: ETCDUTL_STUB, kubectl: KUBECTL_STUB },
        files: {
            [`${MANIFESTS}/etcd.yaml`]: options.manifest ?? etcdManifest(),
            [`${MANIFESTS}/kube-apiserver.yaml`]: "kind: Pod\n",
            [`${MANIFESTS}/kube-controller-manager.yaml`]: "kind: Pod\n",
            [`${MANIFESTS}/kube-scheduler.yaml`]: "kind: Pod\n",
            "var/lib/etcd/member/snap/db": "old data\n",
            "backup/etcd_backup_dev-master-sa-1_i-0abc.db": "snapshot bytes\n",
        },
        rootEnv: { MANIFESTS_DIR: MANIFESTS, ETCD_DATA_DIR: "var/lib/etcd", SNAPSHOT_PATH: "backup/etcd_backup_dev-master-sa-1_i-0abc.db" },
        env: { TIMEOUT: "10", POLL_INTERVAL: "0.05", KUBECONFIG_PATH: "/nonexistent/admin.conf", ...env },
        timeoutMs: 30_000,
    });
    runRoots.push(result.root);
    return result;
}

const read = (r: StubbedRun, relative: string) => fs.readFileSync(path.join(r.root, relative), "utf8");
const exists = (r: StubbedRun, relative: string) => fs.existsSync(path.join(r.root, relative));
const siblings = (r: StubbedRun, dir: string, prefix: string) =>
    fs.readdirSync(path.join(r.root, dir)).filter((name) => name.startsWith(prefix));
const manifests = (r: StubbedRun) => fs.readdirSync(path.join(r.root, MANIFESTS)).sort();
const explain = (r: StubbedRun) => `exit ${r.code}\n${r.stderr}\n--- calls ---\n${r.calls.join("\n")}`;

const ALL_MANIFESTS = ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"];

describe("etcd-restore.sh", () => {
    it("is shellcheck clean", () => {
        const result = spawnSync("shellcheck", [SCRIPT], { encoding: "utf8" });
        assert.equal(result.status, 0, result.stdout + result.stderr);
    });

    it("stops the static pods, restores into a new data dir, swaps it in and waits for the API", () => {
        const r = run();
        assert.equal(r.code, 0, explain(r));
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "restored\n");
        const old = siblings(r, "var/lib", "etcd.before-restore-");
        assert.equal(old.length, 1, "the previous data is kept");
        assert.equal(read(r, `var/lib/${old[0]}/member/snap/db`), "old data\n");
        assert.deepEqual(siblings(r, "var/lib", "etcd.restore-"), [], "no half-restored dir left");
        assert.deepEqual(manifests(r), ALL_MANIFESTS, "the static pods are back");
        assert.deepEqual(siblings(r, "etc/kubernetes", "manifests-stopped-"), []);

        const restore = r.calls.find((c) => c.startsWith("etcdutl snapshot restore"));
        assert.ok(restore, explain(r));
        assert.match(restore, /--name dev-master-sa-1 /);
        assert.match(restore, /--initial-cluster dev-master-sa-1=https:\/\/192\.168\.2\.10:2380 /);
        assert.match(restore, /--initial-advertise-peer-urls https:\/\/192\.168\.2\.10:2380/);
        const order = ["etcdutl snapshot status", "crictl", "etcdutl snapshot restore", "kubectl"].map((p) => r.calls.findIndex((c) => c.startsWith(p)));
        assert.deepEqual([...order].sort((a, b) => a - b), order, `order: ${r.calls.join(" | ")}`);
        assert.ok(r.calls.filter((c) => c.startsWith("kubectl")).length >= 3, "it waited for the API");
        assert.match(r.stderr, /etcd restored from/);
    });

    it("refuses a missing snapshot without touching anything", () => {
        const r = run({ SNAPSHOT_PATH: "/nonexistent/snapshot.db" });
        assert.equal(r.code, 2, explain(r));
        assert.match(r.stderr, /snapshot file \/nonexistent\/snapshot.db not found/);
        assert.deepEqual(manifests(r), ALL_MANIFESTS);
        assert.deepEqual(r.calls, []);
    });

    it("puts the static pods back and leaves the data alone when the restore fails", () => {
        const r = run({ RESTORE_FAILS: "true" });
        assert.equal(r.code, 1, explain(r));
        assert.match(r.stderr, /snapshot restore failed/);
        assert.match(r.stderr, /putting the static pods back/);
        assert.deepEqual(manifests(r), ALL_MANIFESTS);
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "old data\n");
        assert.deepEqual(siblings(r, "var/lib", "etcd."), []);
        assert.deepEqual(siblings(r, "etc/kubernetes", "manifests-stopped-"), []);
    });

    it("rolls back when the static pods do not stop in time", () => {
        const r = run({ STOP_POLLS: "1000000", TIMEOUT: "1", POLL_INTERVAL: "0.1" });
        assert.equal(r.code, 1, explain(r));
        assert.match(r.stderr, /timed out after 1s waiting for etcd and kube-apiserver to stop/);
        assert.ok(!r.calls.some((c) => c.startsWith("etcdutl snapshot restore")));
        assert.deepEqual(manifests(r), ALL_MANIFESTS);
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "old data\n");
    });

    it("exits non-zero with roll-back commands when the API does not come back", () => {
        const r = run({ API_DOWN_POLLS: "1000000", TIMEOUT: "1", POLL_INTERVAL: "0.1" });
        assert.equal(r.code, 1, explain(r));
        assert.match(r.stderr, /waiting for the API server to answer \/readyz/);
        const old = siblings(r, "var/lib", "etcd.before-restore-");
        assert.equal(old.length, 1);
        assert.match(r.stderr, new RegExp(`mv \\S+/var/lib/etcd\\.before-restore-\\d+ \\S+/var/lib/etcd`));
        assert.deepEqual(manifests(r), ALL_MANIFESTS, "the restored control plane keeps running");
        assert.ok(exists(r, "var/lib/etcd/member/snap/db"));
    });

    it("refuses a multi-member etcd unless FORCE=true", () => {
        const manifest = etcdManifest("dev-master-sa-1=https://192.168.2.10:2380,dev-master-sa-2=https://192.168.2.11:2380");
        const refused = run({}, { manifest });
        assert.equal(refused.code, 2, explain(refused));
        assert.match(refused.stderr, /lists 2 etcd members .*FORCE=true/);
        assert.deepEqual(manifests(refused), ALL_MANIFESTS);
        const forced = run({ FORCE: "true" }, { manifest });
        assert.equal(forced.code, 0, explain(forced));
        assert.match(forced.calls.find((c) => c.startsWith("etcdutl snapshot restore")) ?? "", /--initial-cluster dev-master-sa-1=https:\/\/192\.168\.2\.10:2380 /);
    });
});

