// Node identity: no pod becomes a node. The CSR approver (csr-approver.sh) against real
// certificate requests made by openssl, with kubectl and the cloud API stubbed: a worker token
// asking for another node's name is refused. The metadata guard (metadata-guard.sh) with nft
// and iptables stubbed, and, where this machine lets us (root, ip, nft), in real network
// namespaces: a pod namespace cannot reach 169.254.169.254, the host can.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { buildClusters, optionsOf, resource, resourcesOf } from "./helpers/cluster-fixture";
import { hostToolPath, removeRunRoot, runStubbedBash, StubbedRun } from "./helpers/stubbed-bash";
import { policyDocumentsFor } from "../cluster/iam";

const SCRIPTS_DIR = path.join(__dirname, "..", "cluster", "scripts");
const OPENSSL = hostToolPath("openssl");

const CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet";
const SERVING_SIGNER = "kubernetes.io/kubelet-serving";
const WORKER_TOKEN_USER = "system:bootstrap:abc123";

/** Instances of the cluster as `describe-instances --output text` prints them. */
const INSTANCES = [
    ["i-0cp1", "192.168.2.11", "ip-192-168-2-11.symphony.local", "dev-master-sa-1"], // control plane, joined
    ["i-0cp2", "192.168.2.12", "None", "dev-master-sa-2"], // control plane, joining (named by its Name tag)
    ["i-0wk1", "192.168.2.21", "ip-192-168-2-21.symphony.local", "dev-workers"], // worker, joined
    ["i-0wk2", "192.168.2.22", "ip-192-168-2-22.symphony.local", "dev-workers"], // worker, booting (not joined)
];
const JOINED_NODES = ["ip-192-168-2-11", "ip-192-168-2-21"];

/** A PEM certificate request made by the real openssl, base64 as in CSR.spec.request. */
function certificateRequest(subject: string, altNames?: string): string {
    const args = ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "/dev/null", "-subj", subject, "-out", "-"];
    if (altNames) {
        args.push("-addext", `subjectAltName=${altNames}`);
    }
    const result = spawnSync(OPENSSL ?? "openssl", args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin", RANDFILE: "/dev/null" } });
    assert.equal(result.status, 0, result.stderr);
    return Buffer.from(result.stdout).toString("base64");
}

interface Csr {
    name: string;
    signer: string;
    user: string;
    request: string;
    conditions?: string;
}

const KUBECTL_STUB = `
case "$*" in
    *"get clusterrolebinding "*) if [ -f "$TEST_ROOT/.binding" ]; then echo clusterrolebinding/x; else exit 1; fi ;;
    *"delete clusterrolebinding "*) rm -f "$TEST_ROOT/.binding" ;;
    *"get csr "*) cat "$TEST_ROOT/csrs.txt" ;;
    *"get node "*)
        for arg in "$@"; do name=$arg; case $arg in get | node | -o | name | --* ) ;; *) node=$arg ;; esac; done
        for joined in $STUB_NODES; do
            if [ "$joined" = "$node" ]; then echo "node/$node"; exit 0; fi
        done
        echo "Error from server (NotFound): nodes \\"$node\\" not found" >&2; exit 1 ;;
    *"certificate "*) exit 0 ;;
esac
`;

const CURL_STUB = `
case "$*" in
    *openstack/latest/meta_data.json*) printf '{"cluster_url": "https://cloud.example.com/"}' ;;
    *) exit 22 ;;
esac
`;

function runApprover(csrs: Csr[], options: { binding?: boolean; awsFails?: boolean } = {}): StubbedRun {
    const listing = csrs.map((c) => `${c.name}|${c.signer}|${c.user}|${c.conditions ?? ""}|${c.request}`).join("\n") + "\n";
    const instances = INSTANCES.map((fields) => fields.join("\t")).join("\n");
    const files: Record<string, string> = {
        "etc/kubernetes/zadara/node.env": [
            "ROLE='control-plane'",
            "CLUSTER_NAME='dev'",
            "NODE_NAME='dev-master-sa-1'",
            "API_HOST='192.168.2.250'",
            "KUBERNETES_MINOR='1.33'",
            "",
        ].join("\n"),
        "var/lib/zadara-eksd/boot-complete": "done\n",
        "csrs.txt": listing,
    };
    if (options.binding) {
        files[".binding"] = "";
    }
    return runStubbedBash(path.join(SCRIPTS_DIR, "csr-approver.sh"), {
        rootEnv: { ZADARA_ETC: "etc/kubernetes/zadara", KUBERNETES_ETC: "etc/kubernetes", STATE_DIR: "var/lib/zadara-eksd", LOG_FILE: "approver.log" },
        stubs: {
            kubectl: KUBECTL_STUB,
            curl: CURL_STUB,
            aws: options.awsFails ? "echo 'Could not connect to the endpoint URL' >&2; exit 255" : `printf '%s\\n' '${instances}'`,
        },
        hostTools: ["openssl"],
        env: { STUB_NODES: JOINED_NODES.join(" ") },
        files,
    });
}

function check(run: StubbedRun, assertions: (run: StubbedRun) => void): void {
    try {
        assertions(run);
    } catch (error) {
        console.error(`--- stderr ---\n${run.stderr}\n--- calls ---\n${run.calls.join("\n")}`);
        throw error;
    } finally {
        removeRunRoot(run);
    }
}

/** The decisions the approver took: name -> approve | deny. */
function decisions(run: StubbedRun): Record<string, string> {
    const found: Record<string, string> = {};
    for (const call of run.calls) {
        const match = /^kubectl .* certificate (approve|deny) (\S+)$/.exec(call);
        if (match) {
            found[match[2]] = match[1];
        }
    }
    return found;
}

describe(
    "csr-approver.sh: node client certificates only for a running, not yet joined instance",
    { skip: OPENSSL ? false : "openssl is not installed" },
    () => {
        it("refuses a worker token asking for another node's name (a control-plane node, a joined worker, an unknown name); approves the booting instance's own", () => {
            const node = (name: string) => certificateRequest(`/O=system:nodes/CN=system:node:${name}`);
            const csrs: Csr[] = [
                { name: "csr-own", signer: CLIENT_SIGNER, user: WORKER_TOKEN_USER, request: node("ip-192-168-2-22") },
                { name: "csr-joining-master", signer: CLIENT_SIGNER, user: "system:bootstrap:cpj001", request: node("dev-master-sa-2") },
                // A Name tag several instances share names none of them.
                { name: "csr-group-name", signer: CLIENT_SIGNER, user: WORKER_TOKEN_USER, request: node("dev-workers") },
                { name: "csr-control-plane", signer: CLIENT_SIGNER, user: WORKER_TOKEN_USER, request: node("ip-192-168-2-11") },
                { name: "csr-joined-worker", signer: CLIENT_SIGNER, user: WORKER_TOKEN_USER, request: node("ip-192-168-2-21") },
                { name: "csr-unknown", signer: CLIENT_SIGNER, user: WORKER_TOKEN_USER, request: node("attacker-node") },
                {
                    name: "csr-masters",
                    signer: CLIENT_SIGNER,
                    user: WORKER_TOKEN_USER,
                    request: certificateRequest("/O=system:masters/CN=system:node:ip-192-168-2-22"),
                },
                {
                    name: "csr-two-groups",
                    signer: CLIENT_SIGNER,
                    user: WORKER_TOKEN_USER,
                    request: certificateRequest("/O=system:nodes/O=system:masters/CN=system:node:ip-192-168-2-22"),
                },
            ];
            check(runApprover(csrs, { binding: true }), (run) => {
                assert.equal(run.code, 0, run.stderr);
                assert.deepEqual(decisions(run), {
                    "csr-own": "approve",
                    "csr-joining-master": "approve",
                    "csr-group-name": "deny",
                    "csr-control-plane": "deny",
                    "csr-joined-worker": "deny",
                    "csr-unknown": "deny",
                    "csr-masters": "deny",
                    "csr-two-groups": "deny",
                });
                assert.match(run.stderr, /DENIED csr-control-plane: system:bootstrap:abc123 asks for node ip-192-168-2-11, which has already joined/);
                assert.match(run.stderr, /DENIED csr-unknown: .*attacker-node, which is no running instance of cluster dev/);
                assert.match(run.stderr, /approved csr-own: node ip-192-168-2-22 is instance i-0wk2, running, not joined yet/);
                // The cloud lookup is this cluster's running instances only.
                const lookup = run.calls.find((call) => call.startsWith("aws "))!;
                assert.ok(
                    lookup.includes("Name=tag:kubernetes.io/cluster/dev,Values=owned") && lookup.includes("Name=instance-state-name,Values=running"),
                    lookup,
                );
                // kubeadm's blanket auto-approval came back (an upgrade): removed again.
                assert.ok(run.calls.some((call) => call.endsWith("delete clusterrolebinding kubeadm:node-autoapprove-bootstrap --ignore-not-found")));
            });
        });

        it("two pending join requests for one booting instance's name: both refused (one of them is not the instance)", () => {
            const request = () => certificateRequest("/O=system:nodes/CN=system:node:ip-192-168-2-22");
            const csrs: Csr[] = [
                { name: "csr-first", signer: CLIENT_SIGNER, user: WORKER_TOKEN_USER, request: request() },
                { name: "csr-second", signer: CLIENT_SIGNER, user: "system:bootstrap:def456", request: request() },
            ];
            check(runApprover(csrs), (run) => {
                assert.equal(run.code, 0, run.stderr);
                assert.deepEqual(decisions(run), { "csr-first": "deny", "csr-second": "deny" });
                assert.match(run.stderr, /2 pending requests ask for node ip-192-168-2-22/);
            });
        });

        it("serving certificates: only the node itself, only its own names and addresses", () => {
            const serving = (name: string, alt: string) => certificateRequest(`/O=system:nodes/CN=system:node:${name}`, alt);
            const csrs: Csr[] = [
                {
                    name: "serve-own",
                    signer: SERVING_SIGNER,
                    user: "system:node:ip-192-168-2-21",
                    request: serving("ip-192-168-2-21", "DNS:ip-192-168-2-21,IP:192.168.2.21"),
                },
                {
                    name: "serve-foreign-ip",
                    signer: SERVING_SIGNER,
                    user: "system:node:ip-192-168-2-21",
                    request: serving("ip-192-168-2-21", "DNS:ip-192-168-2-21,IP:192.168.2.11"),
                },
                {
                    name: "serve-foreign-dns",
                    signer: SERVING_SIGNER,
                    user: "system:node:ip-192-168-2-21",
                    request: serving("ip-192-168-2-21", "DNS:kubernetes.default.svc"),
                },
                {
                    name: "serve-other-node",
                    signer: SERVING_SIGNER,
                    user: "system:node:ip-192-168-2-21",
                    request: serving("ip-192-168-2-11", "IP:192.168.2.11"),
                },
                {
                    name: "serve-not-joined",
                    signer: SERVING_SIGNER,
                    user: "system:node:ip-192-168-2-22",
                    request: serving("ip-192-168-2-22", "IP:192.168.2.22"),
                },
                // Not ours to decide: another signer, a node client renewal, a request already decided.
                { name: "other-signer", signer: "kubernetes.io/kube-apiserver-client", user: "alice", request: serving("x", "DNS:x") },
                {
                    name: "renewal",
                    signer: CLIENT_SIGNER,
                    user: "system:node:ip-192-168-2-21",
                    request: certificateRequest("/O=system:nodes/CN=system:node:ip-192-168-2-21"),
                },
                { name: "decided", signer: CLIENT_SIGNER, user: WORKER_TOKEN_USER, request: "", conditions: "Approved" },
            ];
            check(runApprover(csrs), (run) => {
                assert.equal(run.code, 0, run.stderr);
                assert.deepEqual(decisions(run), {
                    "serve-own": "approve",
                    "serve-foreign-ip": "deny",
                    "serve-foreign-dns": "deny",
                    "serve-other-node": "deny",
                });
                assert.match(run.stderr, /serve-foreign-ip: node ip-192-168-2-21 \(instance i-0wk1, 192\.168\.2\.21\) asks for IP Address:192\.168\.2\.11/);
                assert.match(run.stderr, /Node ip-192-168-2-22 is not registered \(yet\); serve-not-joined stays pending/);
            });
        });

        it("without the cloud lookup, decides nothing (requests stay pending) and says why", () => {
            const csrs: Csr[] = [
                {
                    name: "csr-own",
                    signer: CLIENT_SIGNER,
                    user: WORKER_TOKEN_USER,
                    request: certificateRequest("/O=system:nodes/CN=system:node:ip-192-168-2-22"),
                },
            ];
            check(runApprover(csrs, { awsFails: true }), (run) => {
                assert.notEqual(run.code, 0);
                assert.deepEqual(decisions(run), {});
                assert.match(run.stderr, /could not list the instances of cluster dev; 1 requests stay pending/);
            });
        });

        it("with nothing pending, calls no cloud API", () => {
            check(runApprover([]), (run) => {
                assert.equal(run.code, 0, run.stderr);
                assert.ok(!run.calls.some((call) => call.startsWith("aws ")));
            });
        });
    },
);

describe("the EBS CSI controller's own credentials", () => {
    it("an IAM user holding exactly the EBS CSI upstream policy, its access key a secret; none without the add-on", async () => {
        const { intl } = await buildClusters();
        const user = resource("aws:iam/user:User", "intl-ebs-csi").inputs;
        assert.equal(user.path, "/zadara-eksd/");
        assert.equal(user.tags, undefined, "zCompute does not support IAM resource tags");
        const policy = JSON.parse(String(resource("aws:iam/userPolicy:UserPolicy", "intl-ebs-csi").inputs.policy));
        // The fixture's chart versions: the same document the node role carries for EBS CSI.
        const charts = { ccm: "0.0.11", ebsCsi: "2.33.0", loadBalancerController: "1.7.2", autoscaler: "9.37.0" };
        assert.deepEqual(policy, JSON.parse(JSON.stringify(policyDocumentsFor("control-plane", charts, "intl")["ebs-csi"])));
        assert.ok(optionsOf("aws:iam/accessKey:AccessKey", "intl-ebs-csi-key").additionalSecretOutputs?.includes("secret"));
        assert.ok(intl.ebsCsiCredentials, "the key pair is handed to the add-ons");
        assert.equal(resourcesOf("aws:iam/user:User", "dev-").length, 0, "no user when the add-on is off");
    });
});

// ---------------------------------------------------------------------------------------------
// metadata-guard.sh
// ---------------------------------------------------------------------------------------------

function runGuard(mode: string, stubs: Record<string, string>): StubbedRun {
    return runStubbedBash(path.join(SCRIPTS_DIR, "metadata-guard.sh"), { args: [mode], stubs, rootEnv: { LOG_FILE: "guard.log" } });
}

describe("metadata-guard.sh (nft and iptables stubbed)", () => {
    it("loads one table of its own that drops traffic to 169.254.169.254 in prerouting and forward, replaced whole on every run", () => {
        check(runGuard("apply", { nft: 'cat > "$TEST_ROOT/.ruleset"' }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(run.calls, ["nft -f -"]);
            const ruleset = fs.readFileSync(path.join(run.root, ".ruleset"), "utf8");
            // Declared, deleted, declared again: one transaction, never a doubled rule.
            assert.match(
                ruleset,
                /^table inet zadara_eksd_metadata_guard\ndelete table inet zadara_eksd_metadata_guard\ntable inet zadara_eksd_metadata_guard \{/,
            );
            for (const hook of ["prerouting", "forward"]) {
                assert.match(ruleset, new RegExp(`type filter hook ${hook} priority -400; policy accept;\\n\\s+ip daddr 169\\.254\\.169\\.254 counter drop`));
            }
            assert.doesNotMatch(ruleset, /hook output/, "the host's own processes (host-network pods) keep access");
        });
    });

    it("without nft, puts the drops first in iptables raw PREROUTING and filter FORWARD, once", () => {
        const iptables = `case "$*" in *" -C "*) [ -f "$TEST_ROOT/.once-$3-$5" ] && exit 1; touch "$TEST_ROOT/.once-$3-$5"; exit 0 ;; esac`;
        check(runGuard("apply", { iptables }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.deepEqual(
                run.calls.filter((call) => !call.includes(" -C ")),
                [
                    "iptables -w -t raw -D PREROUTING -d 169.254.169.254/32 -j DROP",
                    "iptables -w -t raw -I PREROUTING 1 -d 169.254.169.254/32 -j DROP",
                    "iptables -w -t filter -D FORWARD -d 169.254.169.254/32 -j DROP",
                    "iptables -w -t filter -I FORWARD 1 -d 169.254.169.254/32 -j DROP",
                ],
            );
        });
    });

    it("check fails, naming what is missing, when the table is gone", () => {
        check(runGuard("check", { nft: "exit 1" }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /table inet zadara_eksd_metadata_guard is missing/);
        });
    });

    it("refuses an unknown mode", () => {
        check(runGuard("remove", { nft: "exit 0" }), (run) => {
            assert.notEqual(run.code, 0);
            assert.match(run.stderr, /usage: metadata-guard.sh apply\|check/);
        });
    });
});

// A real kernel: a "node" namespace routing between a "pod" namespace (a veth, as a CNI makes)
// and a "cloud" namespace that holds 169.254.169.254. Reached = the TCP connection is refused
// at once (nothing listens); blocked = no answer before the timeout (the packet was dropped).
const NETNS_SCRIPT = `
set -euo pipefail
S=$1
GUARD=$2
cleanup() { for ns in n p m; do ip netns del "$S$ns" 2>/dev/null || true; done; }
trap cleanup EXIT
for ns in n p m; do ip netns add "$S$ns"; ip -n "$S$ns" link set lo up; done
ip link add "$S"a netns "$S"n type veth peer name "$S"b netns "$S"p
ip link add "$S"c netns "$S"n type veth peer name "$S"d netns "$S"m
ip -n "$S"n addr add 10.244.0.1/24 dev "$S"a; ip -n "$S"n link set "$S"a up
ip -n "$S"p addr add 10.244.0.2/24 dev "$S"b; ip -n "$S"p link set "$S"b up
ip -n "$S"p route add default via 10.244.0.1
ip -n "$S"n addr add 169.254.0.1/16 dev "$S"c; ip -n "$S"n link set "$S"c up
ip -n "$S"m addr add 169.254.169.254/16 dev "$S"d; ip -n "$S"m link set "$S"d up
ip -n "$S"m route add 10.244.0.0/24 via 169.254.0.1
ip netns exec "$S"n sysctl -qw net.ipv4.ip_forward=1
probe() {
    local code=0
    ip netns exec "$1" timeout 5 bash -c "exec 3<>/dev/tcp/$2/80" 2>/dev/null || code=$?
    if [ "$code" = 124 ]; then echo blocked; else echo reached; fi
}
echo "before pod=$(probe "$S"p 169.254.169.254) node=$(probe "$S"n 169.254.169.254)"
ip netns exec "$S"n env LOG_FILE=/dev/null bash "$GUARD" apply >/dev/null 2>&1
ip netns exec "$S"n env LOG_FILE=/dev/null bash "$GUARD" apply >/dev/null 2>&1
# A CNI's own rules cannot undo the drop: an accept-everything table hooked earlier, and a
# NAT of a service address to the metadata address (as an EndpointSlice naming it would).
ip netns exec "$S"n nft -f - <<'RULES'
table ip fake_cni {
    chain early_prerouting { type filter hook prerouting priority -500; policy accept; accept; }
    chain early_forward { type filter hook forward priority -500; policy accept; accept; }
    chain service_nat { type nat hook prerouting priority -100; policy accept; ip daddr 10.96.0.10 tcp dport 80 dnat to 169.254.169.254:80; }
}
RULES
ip -n "$S"p route add 10.96.0.0/12 via 10.244.0.1 2>/dev/null || true
echo "after pod=$(probe "$S"p 169.254.169.254) service=$(probe "$S"p 10.96.0.10) node=$(probe "$S"n 169.254.169.254)"
ip netns exec "$S"n env LOG_FILE=/dev/null bash "$GUARD" check >/dev/null 2>&1 && echo "check=ok"
`;

function netnsSkipReason(): string | false {
    if (os.platform() !== "linux" || process.getuid?.() !== 0) {
        return "needs root on Linux";
    }
    for (const tool of ["ip", "nft", "timeout", "sysctl"]) {
        if (!hostToolPath(tool)) {
            return `${tool} is not installed`;
        }
    }
    const probe = spawnSync(hostToolPath("ip") ?? "ip", ["netns", "list"], { encoding: "utf8" });
    return probe.status === 0 ? false : "ip netns is not permitted here";
}

describe("metadata-guard.sh in real network namespaces", { skip: netnsSkipReason() }, () => {
    it("a pod namespace cannot reach 169.254.169.254 (directly or through a NAT, whatever a CNI accepts); the host still can", () => {
        const name = `zg${process.pid % 100000}`;
        const result = spawnSync(hostToolPath("bash") ?? "bash", ["-c", NETNS_SCRIPT, "netns", name, path.join(SCRIPTS_DIR, "metadata-guard.sh")], {
            encoding: "utf8",
            timeout: 120_000,
            env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: os.tmpdir() },
        });
        assert.equal(result.status, 0, result.stderr);
        const lines = result.stdout.trim().split("\n");
        assert.deepEqual(lines, ["before pod=reached node=reached", "after pod=blocked service=blocked node=reached", "check=ok"], result.stderr);
    });
});
