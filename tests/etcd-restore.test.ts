// cluster/scripts/etcd-restore.sh (with the lib.sh next to it) with stubbed crictl / etcdctl /
// etcdutl / kubectl and a fake node filesystem under $TEST_ROOT.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { allNodeFileNames } from "../cluster/node-files";
import { EXPORT_KEY, ourExportSecret, runEtcdBackup } from "./helpers/boot-paths";
import { EtcdCluster } from "./helpers/etcd-cluster";
import { exportKeys, openExport, opensslEncrypt } from "./helpers/etcd-export";
import { hostToolPath, runStubbedBash, StubbedRun } from "./helpers/stubbed-bash";

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
    snapshot=$3 dir=""
    while (($#)); do [[ $1 == --data-dir ]] && dir=$2; shift; done
    mkdir -p "$dir/member/snap" || exit 1
    # STUB_RESTORE_COPIES=true: the "restored" data is the snapshot it was given.
    if [[ \${STUB_RESTORE_COPIES:-false} == true ]]; then cp "$snapshot" "$dir/member/snap/db"; else echo restored > "$dir/member/snap/db"; fi
    exit 0
fi
exit 3`;

/** kubectl get --raw=/readyz: fails API_DOWN_POLLS times, then answers. */
const KUBECTL_STUB = `
n=$(cat "$TEST_ROOT/kubectl.count" 2>/dev/null || echo 0)
echo $((n + 1)) > "$TEST_ROOT/kubectl.count"
if ((n < \${API_DOWN_POLLS:-2})); then echo "connection refused" >&2; exit 1; fi
echo ok`;

/**
 * runStubbedBash fixes the arguments before the root exists: a wrapper passes $SNAPSHOT_PATH as
 * the snapshot, after `--key-file $KEY_FILE_ARG` when that is set.
 */
const WRAPPER = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "etcd-restore-wrapper-")), "run.sh");
fs.writeFileSync(WRAPPER, `#!/usr/bin/env bash\nexec bash "${SCRIPT}" \${KEY_FILE_ARG:+--key-file "$KEY_FILE_ARG"} "$SNAPSHOT_PATH"\n`);

const runRoots: string[] = [path.dirname(WRAPPER)];
after(() => runRoots.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

interface RunOptions {
    manifest?: string;
    noEtcdctl?: boolean;
    /** More files under the root (an export, a key). */
    files?: Record<string, string | Buffer>;
    /** More stubs, or replacements (e.g. `etcdutl: undefined` with the real etcdctl). */
    stubs?: Record<string, string | undefined>;
    hostTools?: string[];
    stdin?: string;
    /** More environment variables set to paths under the root. */
    rootEnv?: Record<string, string>;
}

function run(env: Record<string, string> = {}, options: RunOptions = {}): StubbedRun {
    const all: Record<string, string | undefined> = { crictl: CRICTL_STUB, etcdutl: ETCDUTL_STUB, kubectl: KUBECTL_STUB, ...options.stubs };
    if (!options.noEtcdctl && !("etcdctl" in (options.stubs ?? {}))) {
        all.etcdctl = ETCDCTL_STUB;
    }
    const stubs = Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const result = runStubbedBash(WRAPPER, {
        stubs,
        hostTools: options.hostTools,
        stdin: options.stdin,
        files: {
            [`${MANIFESTS}/etcd.yaml`]: options.manifest ?? etcdManifest(),
            [`${MANIFESTS}/kube-apiserver.yaml`]: "kind: Pod\n",
            [`${MANIFESTS}/kube-controller-manager.yaml`]: "kind: Pod\n",
            [`${MANIFESTS}/kube-scheduler.yaml`]: "kind: Pod\n",
            "var/lib/etcd/member/snap/db": "old data\n",
            "backup/etcd_backup_dev-master-sa-1_i-0abc.db": "snapshot bytes\n",
            ...options.files,
        },
        rootEnv: {
            MANIFESTS_DIR: MANIFESTS,
            ETCD_DATA_DIR: "var/lib/etcd",
            KUBERNETES_ETC: "etc/kubernetes",
            LOG_FILE: "var/log/etcd-restore.log",
            SNAPSHOT_PATH: "backup/etcd_backup_dev-master-sa-1_i-0abc.db",
            ...options.rootEnv,
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

// ---------------------------------------------------------------------------------------------
// Encrypted exports: what etcd-backup.sh uploads, restored with the real openssl.
// ---------------------------------------------------------------------------------------------

const EXPORT_PATH = "backup/etcd_backup_dev-master-sa-1_i-0abc_20240105T100000Z.db.enc";
const NODE_KEY = "etc/kubernetes/zadara/backup-export.key";
const WRONG_KEY = "Wr0ngKeyWr0ngKeyWr0ngKeyWr0ngKeyWr0ngKeyWr0ngKey";

/** Stubs that log their arguments and run the real tool: the key must never be among them. */
function loggingHostTools(): Record<string, string> {
    const wrappers: Record<string, string> = {};
    for (const tool of ["openssl", "sha256sum"]) {
        const real = hostToolPath(tool);
        assert.ok(real, `${tool} is not installed`);
        wrappers[tool] = `exec "${real}" "$@"`;
    }
    return wrappers;
}

/** The export etcd-backup.sh uploads (real openssl), of `snapshotSource` or the stub's bytes. */
function backupExport(snapshotSource?: string): { exported: Buffer; backup: StubbedRun } {
    const backup = runEtcdBackup({ secret: ourExportSecret(), rotation: "0", snapshotSource, extraStubs: loggingHostTools() });
    runRoots.push(backup.root);
    assert.equal(backup.code, 0, explain(backup));
    return { exported: fs.readFileSync(path.join(backup.root, ".exported")), backup };
}

let stubExport: Buffer | undefined;
let stubBackup: StubbedRun | undefined;
function exportedSnapshot(): Buffer {
    if (!stubExport) {
        ({ exported: stubExport, backup: stubBackup } = backupExport());
    }
    return stubExport;
}

function runExport(env: Record<string, string> = {}, options: RunOptions & { key?: string | null; data?: Buffer } = {}): StubbedRun {
    const files: Record<string, string | Buffer> = { [EXPORT_PATH]: options.data ?? exportedSnapshot(), ...options.files };
    if (options.key !== null) {
        files[NODE_KEY] = `${options.key ?? EXPORT_KEY}\n`;
    }
    return run(
        { STUB_RESTORE_COPIES: "true", ...env },
        { ...options, files, stubs: { ...loggingHostTools(), ...options.stubs }, rootEnv: { SNAPSHOT_PATH: EXPORT_PATH, ...options.rootEnv } },
    );
}

function allFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? allFiles(full) : entry.isFile() ? [full] : [];
    });
}

/** The key, and the AES and HMAC keys derived from it, appear in no output, log, call or file (but `keep`). */
function assertKeyNeverShown(r: StubbedRun, exported: Buffer, keep: string[] = []): void {
    const keys = exportKeys(EXPORT_KEY, openExport(exported, EXPORT_KEY).salt);
    const secrets = [EXPORT_KEY, keys.aesKey.toString("hex"), keys.macKey.toString("hex")];
    const texts: Array<[string, string]> = [
        ["stdout", r.stdout],
        ["stderr", r.stderr],
        ["calls", r.calls.join("\n")],
    ];
    for (const file of allFiles(r.root)) {
        if (!keep.includes(path.relative(r.root, file))) {
            texts.push([path.relative(r.root, file), fs.readFileSync(file, "latin1")]);
        }
    }
    for (const [where, text] of texts) {
        for (const secret of secrets) {
            assert.ok(!text.toLowerCase().includes(secret.toLowerCase()), `key material in ${where}`);
        }
    }
}

const decryptDirs = (r: StubbedRun) => siblings(r, "var/lib", "etcd.decrypt-");

describe("etcd-restore.sh with an encrypted export", () => {
    it("decrypts with the node's key after checking key, HMAC and sha256, restores it and removes the decrypted copy", () => {
        const r = runExport();
        assert.equal(r.code, 0, explain(r));
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "etcd snapshot data", "the restored data is the decrypted snapshot");
        assert.match(r.stderr, /is an encrypted export: checking it with the key \S+\/etc\/kubernetes\/zadara\/backup-export\.key/);
        assert.match(r.stderr, /key, HMAC and sha256 verified; decrypted/);
        const status = r.calls.find((c) => c.startsWith("etcdutl snapshot status"));
        assert.match(status ?? "", /\/var\/lib\/etcd\.decrypt-\d+\/snapshot\.db -w table$/, explain(r));
        const restore = r.calls.findIndex((c) => c.startsWith("etcdutl snapshot restore"));
        const firstStop = r.calls.findIndex((c) => c.startsWith("crictl") && c.includes(" ps "));
        const lastOpenssl = r.calls.map((c) => c.startsWith("openssl")).lastIndexOf(true);
        assert.ok(lastOpenssl >= 0 && lastOpenssl < firstStop && firstStop < restore, `decrypted before anything stopped: ${explain(r)}`);
        assert.ok(
            r.calls.filter((c) => c.startsWith("openssl")).every((c) => /-pass file:\S+backup-export\.key( |$)/.test(c)),
            explain(r),
        );
        assert.deepEqual(decryptDirs(r), [], "no decrypted snapshot left behind");
        assert.match(r.stderr, new RegExp(`etcd restored from \\S+${EXPORT_PATH.replace(/\./g, "\\.")}`));
        assertKeyNeverShown(r, exportedSnapshot(), [NODE_KEY]);
        // The backup that wrote it: the key only in its key file.
        assertKeyNeverShown(stubBackup!, exportedSnapshot(), ["etc/kubernetes/zadara/backup-export.key"]);
    });

    it("--key-file - reads the key from stdin (a node without the key) and leaves no copy of it", () => {
        const r = runExport({ KEY_FILE_ARG: "-" }, { key: null, stdin: `${EXPORT_KEY}\n`, rootEnv: { KEY_TMPDIR: "run" }, files: { "run/.keep": "" } });
        assert.equal(r.code, 0, explain(r));
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "etcd snapshot data");
        assert.match(r.stderr, /checking it with the key \S+\/run\/etcd-restore-key\.\w+\/export\.key/);
        assert.deepEqual(fs.readdirSync(path.join(r.root, "run")), [".keep"], "the key file and its directory are gone");
        assertKeyNeverShown(r, exportedSnapshot());
    });

    it("--key-file <file> takes the key from that file instead of the node's", () => {
        const r = runExport({}, { key: WRONG_KEY, files: { "keys/stack.key": `${EXPORT_KEY}\n` }, rootEnv: { KEY_FILE_ARG: "keys/stack.key" } });
        assert.equal(r.code, 0, explain(r));
        assert.match(r.stderr, /checking it with the key \S+\/keys\/stack\.key/);
        assertKeyNeverShown(r, exportedSnapshot(), ["keys/stack.key"]);
    });

    it("refuses a wrong key before stopping anything", () => {
        const r = runExport({}, { key: WRONG_KEY });
        assert.equal(r.code, 2, explain(r));
        assert.match(r.stderr, /is not the key \S+ was encrypted with \(wrong key\)/);
        assert.match(r.stderr, /refusing \S+\.db\.enc \(see above\); nothing was changed/);
        assert.ok(!r.calls.some((c) => c.startsWith("crictl") || c.startsWith("etcdutl")), explain(r));
        assert.deepEqual(manifests(r), ALL_MANIFESTS);
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "old data\n");
        assert.deepEqual(decryptDirs(r), []);
    });

    it("refuses an altered export (one ciphertext byte, or the recorded sha256) before stopping anything", () => {
        const flipped = Buffer.from(exportedSnapshot());
        flipped[flipped.length - 20] ^= 0x01;
        const header = Buffer.from(exportedSnapshot());
        const sumAt = header.indexOf("sha256 ") + "sha256 ".length;
        header[sumAt] = header[sumAt] === 0x30 ? 0x31 : 0x30;
        for (const data of [flipped, header]) {
            const r = runExport({}, { data });
            assert.equal(r.code, 2, explain(r));
            assert.match(r.stderr, /was altered or damaged \(its HMAC does not match\): refusing to restore it/);
            assert.ok(!r.calls.some((c) => c.startsWith("crictl") || c.startsWith("etcdutl")), explain(r));
            assert.equal(read(r, "var/lib/etcd/member/snap/db"), "old data\n");
            assert.deepEqual(decryptDirs(r), []);
        }
    });

    it("refuses a truncated export and a .enc file without the export header", () => {
        const truncated = runExport({}, { data: exportedSnapshot().subarray(0, 120) });
        assert.equal(truncated.code, 2, explain(truncated));
        assert.match(truncated.stderr, /export header is damaged/);
        const noHeader = runExport({}, { data: Buffer.from("not an export\n") });
        assert.equal(noHeader.code, 2, explain(noHeader));
        assert.match(noHeader.stderr, /ends in \.enc but has no export header/);
        assert.ok(!noHeader.calls.some((c) => c.startsWith("crictl")));
    });

    it("says how to give the key when the node has none", () => {
        const r = runExport({}, { key: null });
        assert.equal(r.code, 2, explain(r));
        assert.match(
            r.stderr,
            /the export key \S+backup-export\.key is missing or empty: give the stack's etcdBackupKey with --key-file <file> or --key-file - \(stdin\)/,
        );
        assert.deepEqual(manifests(r), ALL_MANIFESTS);
    });

    it("reads an export of an older backup (bare openssl enc, no integrity check) with a warning", () => {
        const r = runExport({}, { data: opensslEncrypt(Buffer.from("old export bytes"), EXPORT_KEY) });
        assert.equal(r.code, 0, explain(r));
        assert.match(r.stderr, /WARNING: \S+ is an export of an older backup: encrypted, but WITHOUT an integrity check/);
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "old export bytes");
        const wrong = runExport({}, { data: opensslEncrypt(Buffer.from("old export bytes"), EXPORT_KEY), key: WRONG_KEY });
        assert.equal(wrong.code, 2, explain(wrong));
        assert.match(wrong.stderr, /could not decrypt \S+: wrong key/);
        assert.deepEqual(manifests(wrong), ALL_MANIFESTS);
    });

    it("still restores a plain snapshot as it is, without openssl or a key", () => {
        const r = run({ STUB_RESTORE_COPIES: "true" }, { stubs: loggingHostTools() });
        assert.equal(r.code, 0, explain(r));
        assert.equal(read(r, "var/lib/etcd/member/snap/db"), "snapshot bytes\n");
        assert.ok(!r.calls.some((c) => c.startsWith("openssl")), explain(r));
        assert.match(r.calls.find((c) => c.startsWith("etcdutl snapshot restore")) ?? "", /\/backup\/etcd_backup_dev-master-sa-1_i-0abc\.db /);
    });
});

describe("etcd-restore.sh: a real etcd 3.4 snapshot, exported and restored", () => {
    const clusters: EtcdCluster[] = [];
    after(async () => Promise.all(clusters.map((c) => c.cleanup())));

    it("backup (real snapshot, real openssl) -> encrypted export -> restore with etcdctl -> a new etcd serves the data", { timeout: 180_000 }, async () => {
        // Fails (does not skip) without etcd: EtcdCluster says what to install.
        const source = new EtcdCluster();
        clusters.push(source);
        await source.startNew(["source"]);
        const put = source.etcdctl(["put", "/restore-test/key", "before the backup"]);
        assert.equal(put.status, 0, put.stderr);
        const snapshot = path.join(source.root, "snapshot.db");
        const save = source.etcdctl(["snapshot", "save", snapshot]);
        assert.equal(save.status, 0, save.stderr);
        const { exported, backup } = backupExport(snapshot);
        assert.deepEqual(openExport(exported, EXPORT_KEY).snapshot, fs.readFileSync(snapshot));

        const target = new EtcdCluster();
        clusters.push(target);
        const member = await target.allocate("dev-master-sa-1");
        const manifest = etcdManifest(`dev-master-sa-1=${member.peerUrl}`).replace("https://192.168.2.10:2380", member.peerUrl);
        // The node's etcdctl is the real one (member list fails: no TLS files here, hence FORCE);
        // without etcdutl it checks and restores the snapshot with `etcdctl snapshot`.
        const r = runExport({ FORCE: "true" }, { data: exported, manifest, stubs: { etcdutl: undefined, etcdctl: undefined }, hostTools: ["etcdctl"] });
        assert.equal(r.code, 0, explain(r));
        assert.match(r.stderr, /key, HMAC and sha256 verified; decrypted/);
        assert.match(r.stderr, /etcdutl not found: using the older 'etcdctl snapshot restore'/);
        assert.deepEqual(decryptDirs(r), []);
        assertKeyNeverShown(r, exported, [NODE_KEY]);
        assertKeyNeverShown(backup, exported, ["etc/kubernetes/zadara/backup-export.key"]);

        fs.cpSync(path.join(r.root, "var/lib/etcd"), member.dataDir, { recursive: true });
        target.startMember(member.name, `${member.name}=${member.peerUrl}`, "new");
        let value = "";
        for (let attempt = 0; attempt < 100 && value !== "before the backup"; attempt++) {
            const get = target.etcdctl(["get", "/restore-test/key", "--print-value-only"]);
            value = get.status === 0 ? get.stdout.trim() : "";
            if (value !== "before the backup") {
                await new Promise((resolve) => setTimeout(resolve, 200));
            }
        }
        assert.equal(value, "before the backup", "the restored member serves the key written before the backup");
    });
});
