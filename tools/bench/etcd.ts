// Benchmark (not a test): rolling a real 3-member etcd with TLS (replace all three, one at a
// time) the way the control-plane nodes do it, beside the bare sequence, with the longest write
// outage a writer loop sees during each roll.
//
// - "project": each node holds the control-plane share of the program's boot bundle (the
//   node-file manifest). The new node runs control-plane-up.sh join with stdin files as the
//   bootstrap Command sends them; its kubeadm stub does kubeadm's etcd steps (member add
//   --learner, the static-pod manifest, promote once caught up) and this benchmark plays the
//   kubelet that starts the member from the manifest. Then the old node runs the retire step's
//   script (lib.sh + drain-node.sh + node-leave.sh, as nodeLeaveCommand sends it) with the
//   node's own etcd-membership.sh, and its member stops (the instance is deleted). The scripts'
//   poll intervals are the ones the nodes use.
// - "bare": etcdctl only: member add --learner, start, promote (retried), member remove, stop.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { bundleFiles, roleBundleFiles } from "../../cluster/node-bootstrap";
import { scriptForStdin } from "../../cluster/stdin-scripts";
import { CONTROL_PLANE_STDIN, nodeEnv, sampleKubeconfig, stdinOf } from "../../tests/helpers/boot-paths";
import { EtcdCluster, etcdMissing } from "../../tests/helpers/etcd-cluster";
import { hostToolPath, removeRunRoot, runStubbedBash, runStubbedBashAsync, StubbedRun } from "../../tests/helpers/stubbed-bash";

const MAX_WRITES = 20_000;
const NODE_SCRIPTS = "usr/local/lib/zadara-eksd";
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A writer process: one put after the other (bounded count) through the endpoints in `file`. */
class Writer {
    private readonly stopFile: string;
    private readonly done: Promise<string>;

    constructor(endpointsFile: string, tlsFlags: string[]) {
        this.stopFile = `${endpointsFile}.stop`;
        const loop = [
            `for ((i = 0; i < ${MAX_WRITES}; i++)); do`,
            `  [[ -f "${this.stopFile}" ]] && break`,
            `  if ETCDCTL_API=3 "${hostToolPath("etcdctl")}" --endpoints="$(cat "${endpointsFile}")" --dial-timeout=1s --command-timeout=1s ${tlsFlags.join(" ")} put /bench/w "$i" >/dev/null 2>&1;`,
            '  then echo "ok ${EPOCHREALTIME}"; else echo "fail ${EPOCHREALTIME}"; fi',
            "done",
        ].join("\n");
        const child = spawn("bash", ["-c", loop], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        child.stdout.on("data", (chunk) => {
            out += chunk;
        });
        this.done = new Promise((resolve) => child.on("exit", () => resolve(out)));
    }

    /** Stops the loop; returns writes ok/failed and the longest gap between two good writes. */
    async stop(): Promise<WriteStats> {
        fs.writeFileSync(this.stopFile, "");
        const lines = (await this.done).trim().split("\n").filter(Boolean);
        let ok = 0,
            failed = 0,
            last: number | undefined,
            longest = 0;
        for (const line of lines) {
            const [result, stamp] = line.split(" ");
            const ms = Number(stamp) * 1000;
            if (result === "ok") {
                ok++;
                if (last !== undefined) {
                    longest = Math.max(longest, ms - last);
                }
                last = ms;
            } else {
                failed++;
            }
        }
        return { ok, failed, longestOutageMs: Math.round(longest) };
    }
}

interface WriteStats {
    ok: number;
    failed: number;
    longestOutageMs: number;
}

function setEndpoints(file: string, cluster: EtcdCluster, except?: string): void {
    fs.writeFileSync(
        file,
        cluster
            .running()
            .filter((m) => m.name !== except)
            .map((m) => m.clientUrl)
            .join(","),
    );
}

/** Retries a raw etcdctl command (etcd answers "unhealthy cluster" for 5 s after a start). */
async function etcdctlRetry(cluster: EtcdCluster, args: string[], endpoints: string): Promise<string> {
    for (let attempt = 0; attempt < 300; attempt++) {
        const result = cluster.etcdctl(args, endpoints);
        if (result.status === 0) {
            return result.stdout;
        }
        await pause(200);
    }
    throw new Error(`etcdctl ${args.join(" ")} kept failing`);
}

function otherEndpoints(cluster: EtcdCluster, except: string): string {
    return cluster
        .running()
        .filter((m) => m.name !== except)
        .map((m) => m.clientUrl)
        .join(",");
}

// ---------------------------------------------------------------------------------------------
// The nodes
// ---------------------------------------------------------------------------------------------

/** Where a node's paths live: its own directory, like a node's root file system. */
function nodePaths(root: string): Record<string, string> {
    return {
        ZADARA_ETC: path.join(root, "etc/kubernetes/zadara"),
        KUBERNETES_ETC: path.join(root, "etc/kubernetes"),
        MANIFESTS_DIR: path.join(root, "etc/kubernetes/manifests"),
        STATE_DIR: path.join(root, "var/lib/zadara-eksd"),
        KUBELET_DEFAULTS: path.join(root, "etc/default/kubelet"),
        NODE_SCRIPTS_DIR: path.join(root, NODE_SCRIPTS),
        SCRIPTS_DIR: path.join(root, NODE_SCRIPTS),
        SYSTEMD_DIR: path.join(root, "etc/systemd/system"),
        CRON_FILE: path.join(root, "etc/cron.d/zadara-eksd"),
        CA_TRUST_DIR: path.join(root, "usr/local/share/ca-certificates"),
        SECRETS_RUN_DIR: path.join(root, "run/zadara-eksd/secrets"),
        LOG_FILE: path.join(root, "var/log/zadara-eksd.log"),
    };
}

/** A prepared control-plane node: the loader installed its bundle share, bootstrap.sh prepared it. */
function prepareNode(cluster: EtcdCluster, name: string): string {
    const root = path.join(cluster.root, `node-${name}`);
    const files = roleBundleFiles("control-plane", bundleFiles(undefined));
    fs.mkdirSync(path.join(root, NODE_SCRIPTS), { recursive: true });
    for (const [file, content] of Object.entries(files)) {
        fs.writeFileSync(path.join(root, NODE_SCRIPTS, file), content, { mode: 0o755 });
    }
    fs.mkdirSync(path.join(root, "etc/kubernetes/zadara"), { recursive: true });
    fs.writeFileSync(
        path.join(root, "etc/kubernetes/zadara/node.env"),
        nodeEnv({ NODE_NAME: name, POLL_INTERVAL: "2", API_WAIT_TIMEOUT: "60", JOIN_TIMEOUT: "120", BOOT_PREPARED_TIMEOUT: "10" }),
    );
    fs.mkdirSync(path.join(root, "var/lib/zadara-eksd"), { recursive: true });
    fs.writeFileSync(path.join(root, "var/lib/zadara-eksd/boot-prepared"), "done\n");
    return root;
}

/** An old node as kubeadm left it: its etcd certificates and its kube-apiserver manifest. */
function runningNode(cluster: EtcdCluster, name: string): string {
    const root = prepareNode(cluster, name);
    const member = cluster.member(name);
    const pki = path.join(root, "etc/kubernetes/pki/etcd");
    fs.mkdirSync(pki, { recursive: true });
    if (cluster.pki && member.cert && member.key) {
        fs.copyFileSync(cluster.pki.caCert, path.join(pki, "ca.crt"));
        for (const file of ["server", "healthcheck-client"]) {
            fs.copyFileSync(member.cert, path.join(pki, `${file}.crt`));
            fs.copyFileSync(member.key, path.join(pki, `${file}.key`));
        }
    }
    fs.mkdirSync(path.join(root, "etc/kubernetes/manifests"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc/kubernetes/manifests/kube-apiserver.yaml"), "kind: Pod\n");
    fs.writeFileSync(path.join(root, "etc/kubernetes/admin.conf"), sampleKubeconfig("kubernetes-admin"));
    return root;
}

/**
 * kubeadm join --control-plane, its etcd steps only: the member's certificates, `member add
 * --learner` (retried while etcd refuses), the etcd static-pod manifest, then promote once the
 * learner caught up (retried, as kubeadm does), and the admin kubeconfig.
 */
const KUBEADM_JOIN_STUB = `
case "$1" in
    join) ;;
    *) exit 0 ;;
esac
pki="$KUBERNETES_ETC/pki/etcd"
mkdir -p "$pki" "$MANIFESTS_DIR"
for file in server healthcheck-client; do
    cp "$STUB_MEMBER_CERT" "$pki/$file.crt"
    cp "$STUB_MEMBER_KEY" "$pki/$file.key"
done
e() {
    etcdctl --endpoints="$STUB_ETCD_PEERS" --cacert="$pki/ca.crt" --cert="$pki/server.crt" --key="$pki/server.key" \\
        --dial-timeout=2s --command-timeout=5s "$@"
}
for i in $(seq 1 300); do
    e member add "$STUB_ETCD_NAME" --peer-urls="$STUB_ETCD_PEER" --learner >/dev/null 2>&1 && break
    e member list 2>/dev/null | grep -q ", $STUB_ETCD_PEER, " && break
    sleep 0.2
done
initial=$(e member list | awk -F', ' -v self="$STUB_ETCD_PEER" '$3 != "" && $4 != self { printf "%s=%s,", $3, $4 }')
printf 'spec:\\n  containers:\\n  - command:\\n    - etcd\\n    - --name=%s\\n    - --initial-cluster=%s%s=%s\\n' \\
    "$STUB_ETCD_NAME" "$initial" "$STUB_ETCD_NAME" "$STUB_ETCD_PEER" > "$MANIFESTS_DIR/.etcd.yaml"
mv "$MANIFESTS_DIR/.etcd.yaml" "$MANIFESTS_DIR/etcd.yaml"
id=$(e member list | awk -F', ' -v self="$STUB_ETCD_PEER" '$4 == self { print $1 }')
for i in $(seq 1 600); do
    e member promote "$id" >/dev/null 2>&1 && break
    sleep 0.2
done
printf '%s' "$STUB_ADMIN_CONF" > "$KUBERNETES_ETC/admin.conf"
`;

const CONTROL_PLANE_STUBS = (name: string): Record<string, string> => ({
    kubeadm: KUBEADM_JOIN_STUB,
    // The API answers through the load balancer; the Node is registered and Ready.
    curl: `case "$*" in *"/ping"*) printf 403 ;; *) exit 7 ;; esac`,
    kubectl: `case "$*" in *" get node"*) printf True ;; *) exit 0 ;; esac`,
    systemctl: "exit 0",
    hostname: `echo ${name}`,
});

/** The new node joins through control-plane-up.sh while this function plays its kubelet. */
async function joinNode(cluster: EtcdCluster, name: string): Promise<StubbedRun> {
    const root = prepareNode(cluster, name);
    const member = await cluster.allocate(name);
    const paths = nodePaths(root);
    const manifest = path.join(paths.MANIFESTS_DIR, "etcd.yaml");
    let started = false;
    const kubelet = setInterval(() => {
        if (started || !fs.existsSync(manifest)) {
            return;
        }
        const initial = /--initial-cluster=(\S+)/.exec(fs.readFileSync(manifest, "utf8"));
        if (initial) {
            started = true;
            cluster.startMember(name, initial[1], "existing");
        }
    }, 50);
    try {
        const pki = cluster.pki;
        if (!pki || !member.cert || !member.key) {
            throw new Error("bench etcd: the roll runs on a TLS cluster");
        }
        const run = await runStubbedBashAsync(path.join(root, NODE_SCRIPTS, "control-plane-up.sh"), {
            args: ["join"],
            stdin: stdinOf({
                ...CONTROL_PLANE_STDIN,
                "pki/etcd/ca.crt": fs.readFileSync(pki.caCert, "utf8"),
                "pki/etcd/ca.key": fs.readFileSync(pki.caKey, "utf8"),
                "zadara/kubeadm.yaml": "apiVersion: kubeadm.k8s.io/v1beta3\nkind: JoinConfiguration\n",
            }),
            hostTools: ["etcdctl", "openssl"],
            stubs: CONTROL_PLANE_STUBS(name),
            env: {
                ...paths,
                ETCD_ENDPOINT: member.clientUrl,
                STUB_ETCD_NAME: name,
                STUB_ETCD_PEER: member.peerUrl,
                STUB_ETCD_PEERS: cluster.endpoints(),
                STUB_MEMBER_CERT: member.cert,
                STUB_MEMBER_KEY: member.key,
                STUB_ADMIN_CONF: sampleKubeconfig("kubernetes-admin"),
            },
            timeoutMs: 300_000,
        });
        if (run.code !== 0) {
            throw new Error(`control-plane-up.sh join on ${name} failed:\n${run.stderr}`);
        }
        removeRunRoot(run);
        return run;
    } finally {
        clearInterval(kubelet);
    }
}

/** The retire step of the old node: the script nodeLeaveCommand sends, run on that node. */
function leaveNode(cluster: EtcdCluster, name: string, root: string, leaveScript: string): void {
    const peers = otherEndpoints(cluster, name).split(",").join(" ");
    const run = runStubbedBash(leaveScript, {
        hostTools: ["etcdctl"],
        env: {
            ...nodePaths(root),
            SLOT_NAME: `bench-${name}`,
            DRAIN_TIMEOUT: "600",
            ETCD_LOCAL_ENDPOINT: cluster.member(name).clientUrl,
        },
        stubs: {
            hostname: `echo ${name}`,
            kubectl: `case "$*" in
                *"get nodes -l"*) printf 'node/a\\nnode/b\\nnode/c\\n' ;;
                *"get node ${name} -o jsonpath"*) echo True ;;
                *"get pods -n kube-system -l component=etcd"*) printf '%s,' ${peers} ;;
                *) exit 0 ;;
            esac`,
            systemctl: "exit 0",
            curl: "exit 7",
        },
        timeoutMs: 300_000,
    });
    removeRunRoot(run);
    if (run.code !== 0) {
        throw new Error(`node-leave.sh on ${name} failed:\n${run.stderr}`);
    }
}

// ---------------------------------------------------------------------------------------------
// The rolls
// ---------------------------------------------------------------------------------------------

async function roll(kind: "project" | "bare"): Promise<{ ms: number; writes: WriteStats }> {
    const cluster = new EtcdCluster({ tls: true });
    const endpointsFile = path.join(cluster.root, "endpoints");
    const leaveScript = path.join(cluster.root, "node-leave.sh");
    fs.writeFileSync(leaveScript, scriptForStdin(["drain-node.sh", "node-leave.sh"]));
    try {
        await cluster.startNew(["old-1", "old-2", "old-3"]);
        const roots = new Map(["old-1", "old-2", "old-3"].map((name) => [name, runningNode(cluster, name)]));
        setEndpoints(endpointsFile, cluster);
        const writer = new Writer(endpointsFile, cluster.tlsFlags());
        const started = process.hrtime.bigint();
        for (const index of [1, 2, 3]) {
            const old = `old-${index}`,
                fresh = `new-${index}`;
            if (kind === "project") {
                await joinNode(cluster, fresh);
                setEndpoints(endpointsFile, cluster, old);
                leaveNode(cluster, old, roots.get(old) ?? "", leaveScript);
            } else {
                const member = await cluster.allocate(fresh);
                const peers = cluster.endpoints();
                const added = await etcdctlRetry(cluster, ["member", "add", fresh, `--peer-urls=${member.peerUrl}`, "--learner"], peers);
                const initial = cluster
                    .running()
                    .map((m) => `${m.name}=${m.peerUrl}`)
                    .concat(`${fresh}=${member.peerUrl}`)
                    .join(",");
                cluster.startMember(fresh, initial, "existing");
                // etcdctl prints the id with %16x: an id with a leading zero nibble gets a second space.
                const id = /Member\s+([0-9a-f]+) added/.exec(added)?.[1];
                if (id === undefined) {
                    throw new Error(`bench etcd: etcdctl member add ${fresh} printed no member id: ${added}`);
                }
                await etcdctlRetry(cluster, ["member", "promote", id], peers);
                setEndpoints(endpointsFile, cluster, old);
                const oldId = cluster.memberList().find((m) => m.name === old)?.id;
                if (oldId === undefined) {
                    throw new Error(`bench etcd: ${old} is missing from etcdctl member list, so it cannot be removed (it was started above)`);
                }
                await etcdctlRetry(cluster, ["member", "remove", oldId], otherEndpoints(cluster, old));
            }
            await cluster.stop(old);
        }
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const writes = await writer.stop();
        await cluster.writeAndCheck(`after ${kind} roll`);
        return { ms, writes };
    } finally {
        await cluster.cleanup();
    }
}

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** `runs` pairs of rolls (project, then bare, in the same conditions): median times, worst outages. */
export async function benchEtcd(runs = 1): Promise<Record<string, number | string>> {
    const missing = etcdMissing();
    if (missing) {
        return { "etcd roll": `skipped: ${missing}` };
    }
    const project: Array<{ ms: number; writes: WriteStats }> = [];
    const bare: Array<{ ms: number; writes: WriteStats }> = [];
    for (let run = 0; run < runs; run++) {
        project.push(await roll("project"));
        bare.push(await roll("bare"));
    }
    const projectMs = median(project.map((r) => r.ms));
    const bareMs = median(bare.map((r) => r.ms));
    const worst = (rolls: typeof project) => Math.max(...rolls.map((r) => r.writes.longestOutageMs));
    const counts = (rolls: typeof project) => `${rolls.reduce((n, r) => n + r.writes.ok, 0)}/${rolls.reduce((n, r) => n + r.writes.failed, 0)}`;
    const of = runs > 1 ? `, median of ${runs}` : "";
    return {
        [`etcd roll of 3 members (TLS), control-plane-up.sh + node-leave.sh (s${of})`]: Number((projectMs / 1000).toFixed(1)),
        [`etcd roll of 3 members (TLS), bare etcdctl learner add/promote/remove (s${of})`]: Number((bareMs / 1000).toFixed(1)),
        "etcd roll ratio, project / bare (target <= 1.5 on a quiet machine)": Number((projectMs / bareMs).toFixed(2)),
        "longest write outage, project roll (ms, worst run)": worst(project),
        "longest write outage, bare roll (ms, worst run)": worst(bare),
        "writes ok/failed during project rolls": counts(project),
        "writes ok/failed during bare rolls": counts(bare),
    };
}

if (require.main === module) {
    benchEtcd().then(
        (result) => console.log(result),
        (error: unknown) => {
            console.error(error);
            process.exitCode = 1;
        },
    );
}
