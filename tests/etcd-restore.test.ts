// cluster/scripts/etcd-restore.sh (with the lib.sh next to it) with stubbed crictl / etcdctl /
// etcdutl / kubectl and a fake node filesystem under $TEST_ROOT.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { allNodeFileNames } from "../cluster/node-files";
import { runStubbedBash, StubbedRun } from "./helpers/stubbed-bash";

const SCRIPT = path.resolve(__dirname, "../cluster/scripts/etcd-restore.sh");
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

const ONE_MEMBER = "8e9e05c52164694d, started, dev-master-sa-1, https://192.168.2.10:2380, https://192.168.2.10:2379, false";
const TWO_MEMBERS = `${ONE_MEMBER}\n91bc3c398fb3c146, started, dev-master-sa-2, https://192.168.2.11:2380, https://192.168.2.11:2379, false`;

/** etcdctl (on the node, or in the etcd container): `member list` prints STUB_MEMBERS or fails. */
const ETCDCTL_STUB = `
[[ \${MEMBER_LIST_FAILS:-false} == true ]] && { echo "context deadline exceeded" >&2; exit 1; }
printf '%s\\n' "$STUB_MEMBERS"`;

/**
 * crictl: containers run while their manifest is in place, and for STOP_POLLS calls after;
 * the first CRICTL_DOWN_POLLS calls made once the manifests are gone fail (the runtime is down).
 * `exec <id> etcdctl` runs the etcdctl of the etcd container.
 */
const CRICTL_STUB = `
if [[ " $* " == *" exec "* ]]; then
    [[ $* == *" member list"* ]] || exit 3
    [[ \${MEMBER_LIST_FAILS:-false} == true ]] && exit 1
    printf '%s\\n' "$STUB_MEMBERS"; exit 0
fi
name=""
while (($#)); do
    if [[ $1 == --name ]]; then name=\${2//[\\^\\$]/}; shift; fi
    shift
done
if [[ ! -f "$TEST_ROOT/${MANIFESTS}/kube-apiserver.yaml" ]]; then
    down=$(cat "$TEST_ROOT/crictl-down.count" 2>/dev/null || echo 0)
    if ((down < \${CRICTL_DOWN_POLLS:-0})); then
        echo $((down + 1)) > "$TEST_ROOT/crictl-down.count"
        echo "connect: connection refused" >&2; exit 1
    fi
fi
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

function run(env: Record<string, string> = {}, options: { manifest?: string; noEtcdctl?: boolean } = {}): StubbedRun {
    const stubs: Record<string, string> = { crictl: CRICTL_STUB, etcdutl: ETCDUTL_STUB, kubectl: KUBECTL_STUB };
    if (!options.noEtcdctl) {
        stubs.etcdctl = ETCDCTL_STUB;
    }
    const result = runStubbedBash(WRAPPER, {
        stubs,
        files: {
            [`${MANIFESTS}/etcd.yaml`]: options.manifest ?? etcdManifest(),
            [`${MANIFESTS}/kube-apiserver.yaml`]: "kind: Pod\n",
            [`${MANIFESTS}/kube-controller-manager.yaml`]: "kind: Pod\n",
            [`${MANIFESTS}/kube-scheduler.yaml`]: "kind: Pod\n",
            "var/lib/etcd/member/snap/db": "old data\n",
            "backup/etcd_backup_dev-master-sa-1_i-0abc.db": "snapshot bytes\n",
        },
        rootEnv: {
            MANIFESTS_DIR: MANIFESTS,
            ETCD_DATA_DIR: "var/lib/etcd",
            KUBERNETES_ETC: "etc/kubernetes",
            LOG_FILE: "var/log/etcd-restore.log",
            SNAPSHOT_PATH: "backup/etcd_backup_dev-master-sa-1_i-0abc.db",
        },
        // Waits that succeed end on a poll count of the stubs, so their budget is generous: a
        // loaded machine only makes them slower. Tests of a timeout set a short TIMEOUT.
        env: { TIMEOUT: "120", POLL_INTERVAL: "0.05", STUB_MEMBERS: ONE_MEMBER, ...env },
        timeoutMs: 180_000,
    });
    runRoots.push(result.root);
    return result;
}

const read = (r: StubbedRun, relative: string) => fs.readFileSync(path.join(r.root, relative), "utf8");
const exists = (r: StubbedRun, relative: string) => fs.existsSync(path.join(r.root, relative));
const siblings = (r: StubbedRun, dir: string, prefix: string) => fs.readdirSync(path.join(r.root, dir)).filter((name) => name.startsWith(prefix));
const manifests = (r: StubbedRun) => fs.readdirSync(path.join(r.root, MANIFESTS)).sort();
const explain = (r: StubbedRun) => `exit ${r.code}\n${r.stderr}\n--- calls ---\n${r.calls.join("\n")}`;

const ALL_MANIFESTS = ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"];

describe("etcd-restore.sh", () => {
    it("is shellcheck clean, sources lib.sh and is not shipped in user data", () => {
        const result = spawnSync("shellcheck", ["-x", path.basename(SCRIPT)], { cwd: path.dirname(SCRIPT), encoding: "utf8" });
        assert.equal(result.status, 0, result.stdout + result.stderr);
        assert.match(fs.readFileSync(SCRIPT, "utf8"), /^source "\$LIB"$/m);
        assert.ok(!allNodeFileNames().includes("etcd-restore.sh"));
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
        const order = ["etcdctl", "etcdutl snapshot status", "crictl", "etcdutl snapshot restore", "kubectl"].map((p) =>
            r.calls.findIndex((c) => c.startsWith(p)),
        );
        assert.match(r.calls[0], /^etcdctl --endpoints=https:\/\/127\.0\.0\.1:2379 .*member list$/);
        assert.deepEqual(
            [...order].sort((a, b) => a - b),
            order,
            `order: ${r.calls.join(" | ")}`,
        );
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
        assert.match(r.stderr, /gave up waiting for etcd and kube-apiserver to stop after 1s/);
        assert.ok(!r.calls.some((c) => c.startsWith("etcdutl snapshot restore")));
        assert.deepEqual(manifests(r), ALL_MANIFESTS);
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "old data\n");
    });

    it("exits non-zero with roll-back commands when the API does not come back", () => {
        // TIMEOUT is per wait: the pods stop at the first poll (a wait that succeeds at once
        // ignores its budget), so only the API wait can run out, however slow the machine.
        const r = run({ STOP_POLLS: "0", API_DOWN_POLLS: "1000000", TIMEOUT: "1", POLL_INTERVAL: "0.1" });
        assert.equal(r.code, 1, explain(r));
        assert.match(r.stderr, /waiting for the API server to answer \/readyz/);
        const old = siblings(r, "var/lib", "etcd.before-restore-");
        assert.equal(old.length, 1);
        assert.match(r.stderr, new RegExp(`mv \\S+/var/lib/etcd\\.before-restore-\\d+ \\S+/var/lib/etcd`));
        assert.deepEqual(manifests(r), ALL_MANIFESTS, "the restored control plane keeps running");
        assert.ok(exists(r, "var/lib/etcd/member/snap/db"));
    });

    it("counts the live members with etcdctl member list and refuses more than one unless FORCE=true", () => {
        // The manifest's --initial-cluster names one member: it is not what counts.
        const refused = run({ STUB_MEMBERS: TWO_MEMBERS });
        assert.equal(refused.code, 2, explain(refused));
        assert.match(refused.stderr, /etcd has 2 members\. .*FORCE=true/);
        assert.deepEqual(manifests(refused), ALL_MANIFESTS);
        assert.ok(!refused.calls.some((c) => c.startsWith("crictl")));
        const forced = run({ STUB_MEMBERS: TWO_MEMBERS, FORCE: "true" });
        assert.equal(forced.code, 0, explain(forced));
        assert.match(
            forced.calls.find((c) => c.startsWith("etcdutl snapshot restore")) ?? "",
            /--initial-cluster dev-master-sa-1=https:\/\/192\.168\.2\.10:2380 /,
        );
    });

    it("refuses when the members cannot be listed (etcd down) unless FORCE=true", () => {
        const refused = run({ MEMBER_LIST_FAILS: "true" });
        assert.equal(refused.code, 2, explain(refused));
        assert.match(refused.stderr, /etcd has an unknown number of members\. .*FORCE=true/);
        assert.deepEqual(manifests(refused), ALL_MANIFESTS);
        const forced = run({ MEMBER_LIST_FAILS: "true", FORCE: "true" });
        assert.equal(forced.code, 0, explain(forced));
    });

    it("without etcdctl on the node, lists the members with the etcd container's etcdctl", () => {
        const refused = run({ STUB_MEMBERS: TWO_MEMBERS }, { noEtcdctl: true });
        assert.equal(refused.code, 2, explain(refused));
        assert.match(refused.stderr, /etcd has 2 members/);
        assert.ok(
            refused.calls.some((c) => /^crictl .* exec c0ffee-etcd etcdctl .*member list$/.test(c)),
            explain(refused),
        );
        const single = run({}, { noEtcdctl: true });
        assert.equal(single.code, 0, explain(single));
    });

    it("keeps waiting while crictl fails: a failure is not 'stopped'", () => {
        // crictl fails 5 times, then answers: the restore starts only after it answered "stopped".
        const r = run({ CRICTL_DOWN_POLLS: "5" });
        assert.equal(r.code, 0, explain(r));
        const polls = r.calls.map((c, i) => ({ c, i })).filter(({ c }) => c.startsWith("crictl") && c.includes("ps --name"));
        assert.ok(polls.length > 5, `it kept polling crictl: ${explain(r)}`);
        const restore = r.calls.findIndex((c) => c.startsWith("etcdutl snapshot restore"));
        assert.ok(restore > polls[5].i, `restored only after crictl answered: ${explain(r)}`);
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "restored\n");
    });
});
