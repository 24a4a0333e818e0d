// Identity of the control-plane resources: their URNs never change without an alias (a URN
// change is a create plus a delete, and a bootstrap Command's delete makes its node leave), and a
// bootstrap Command's delete only takes out the instance it was created for, and only while no
// other bootstrap Command claimed that node.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { group, makeCluster, optionsOf, recorded, valueOf } from "./helpers/cluster-fixture";
import { runStubbedBash } from "./helpers/stubbed-bash";
import { settle } from "../tools/mock-engine";
import { BOOTSTRAP_OWNER_FILE, bootstrapOwnerToken, claimNodeCommand, controlPlaneAliases, nodeLeaveCommand } from "../cluster/control-plane";

const FIXTURE = path.join(__dirname, "fixtures", "control-plane-urns.json");
const ENV = "urnrec";
const CONTROL_PLANE_NAME = new RegExp(`^${ENV}-(master-sa-\\d+(-api|-bootstrap|-membership|-retire-replaced)?|api|upgrade-addons)$`);

/** `{env}` for the environment: the fixture holds the URNs of a 5-node control plane. */
function neutral(urn: string): string {
    return urn.split(ENV).join("{env}");
}

describe("control-plane URNs are stable", () => {
    it("every recorded control-plane URN is still produced, or aliased by the resource that replaced it", async () => {
        const cluster = await makeCluster(ENV, {
            nodeGroups: { workers: group() },
            controlPlane: { count: 5, mode: "standalone", instanceType: "z4.large", volumeSize: 50, amiId: "ami-0master01" },
        });
        await valueOf(cluster.bootstrapped);
        await settle();
        const current = recorded.filter((r) => CONTROL_PLANE_NAME.test(r.name));
        const produced = new Set(current.map((r) => neutral(r.urn)));
        const aliased = new Set<string>();
        for (const resource of current) {
            for (const alias of optionsOf(resource.type, resource.name).aliases ?? []) {
                // The program's aliases name a former name under the same parent and type.
                if (typeof alias === "object" && "name" in alias && typeof alias.name === "string") {
                    aliased.add(neutral(`${resource.urn.slice(0, resource.urn.lastIndexOf("::") + 2)}${alias.name}`));
                }
            }
        }
        const recordedUrns = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as string[];
        const lost = recordedUrns.filter((urn) => !produced.has(urn) && !aliased.has(urn));
        assert.deepEqual(lost, [], "control-plane URNs changed without an alias (add the former name to CONTROL_PLANE_FORMER_NAMES)");
        const unrecorded = [...produced].filter((urn) => !recordedUrns.includes(urn));
        assert.deepEqual(unrecorded, [], `new control-plane URNs: add them to ${path.relative(process.cwd(), FIXTURE)}`);
    });

    it("turns a former name into an alias of the same node's resource", () => {
        const former = { "{env}-master-sa-{n}-bootstrap": ["{env}-master-{n}-join"] };
        assert.deepEqual(controlPlaneAliases("dev", "dev-master-sa-2-bootstrap", 2, former), [{ name: "dev-master-2-join" }]);
        assert.deepEqual(controlPlaneAliases("dev", "dev-master-sa-2-retire-replaced", 2, former), []);
        assert.deepEqual(controlPlaneAliases("dev", "dev-master-sa-2-bootstrap", 2), []);
    });
});

/**
 * Runs a bootstrap Command's claim or delete as the remote shell would, with `sudo` mapped to a
 * temporary root and the leave itself (bash -s) recorded instead of run.
 */
function runRemote(commandText: string, files: Record<string, string> = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cp-identity-"));
    const script = path.join(dir, "remote.sh");
    fs.writeFileSync(script, `${commandText}\n`);
    try {
        return runStubbedBash(script, {
            files,
            stubs: {
                // sudo -n <cmd...>: paths under /var/lib go to $TEST_ROOT; the leave is only recorded.
                sudo: [
                    'shift; args=(); for a in "$@"; do args+=("${a//\\/var\\/lib\\//$TEST_ROOT/var/lib/}"); done',
                    'if [ "${args[0]}" = env ]; then cat >/dev/null; echo "LEAVE ${args[*]:1}"; exit 0; fi',
                    'exec "${args[@]}"',
                ].join("\n"),
            },
            hostTools: ["base64", "install", "tee"],
        });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("a bootstrap Command's delete leaves only for its own instance and Command", () => {
    const owner = bootstrapOwnerToken("urn:pulumi:prod::zadara-eksd::zadara:eksd:EksdCluster::prod-cluster", "prod-master-sa-2-bootstrap");
    const ownerFile = BOOTSTRAP_OWNER_FILE.replace(/^\//, "");
    const deleteCommand = nodeLeaveCommand("prod-master-sa-2", 600, { expectedInstanceId: "i-0002", ownerToken: owner });

    it("names the instance it was created for (node-leave.sh checks it against the metadata)", () => {
        assert.match(deleteCommand, /EXPECTED_INSTANCE_ID='i-0002' bash -s; fi$/);
    });

    it("leaves when the node is unclaimed (an older program bootstrapped it) or claimed by this Command", () => {
        const unclaimed = runRemote(deleteCommand);
        assert.equal(unclaimed.code, 0, unclaimed.stderr);
        assert.match(unclaimed.stdout, /^LEAVE SLOT_NAME=prod-master-sa-2 DRAIN_TIMEOUT=600 EXPECTED_INSTANCE_ID=i-0002 bash -s$/m);
        const claimed = runRemote(`${claimNodeCommand(owner)} && ${deleteCommand}`);
        assert.equal(claimed.code, 0, claimed.stderr);
        assert.match(claimed.stdout, /^LEAVE /m);
    });

    it("does not leave when another bootstrap Command (a renamed or re-parented one) claimed the node since", () => {
        const renamed = bootstrapOwnerToken("urn:pulumi:prod::zadara-eksd::zadara:eksd:EksdCluster::prod-cluster", "prod-master-sa-2-join");
        assert.notEqual(renamed, owner);
        const reparented = bootstrapOwnerToken("urn:pulumi:prod::zadara-eksd::zadara:eksd:Other::prod-cluster", "prod-master-sa-2-bootstrap");
        assert.notEqual(reparented, owner);
        const run = runRemote(`${claimNodeCommand(renamed)} && ${deleteCommand}`);
        assert.equal(run.code, 0, run.stderr);
        assert.doesNotMatch(run.stdout, /LEAVE/);
        assert.match(run.stderr, /prod-master-sa-2: another bootstrap step claimed this node since/);
        assert.equal(fs.readFileSync(path.join(run.root, ownerFile), "utf8").trim(), `${renamed} 1`, "the claim went to the node's owner file");
    });

    it("after a second create of the same Command (--replace, state taint), the first one's delete gives its claim back and does not leave", () => {
        const replaced = runRemote(`${claimNodeCommand(owner)} && ${claimNodeCommand(owner)} && ${deleteCommand}`);
        assert.equal(replaced.code, 0, replaced.stderr);
        assert.doesNotMatch(replaced.stdout, /LEAVE/);
        assert.match(replaced.stderr, /created again on this node since \(pulumi up --replace or state taint of it\)/);
        assert.equal(fs.readFileSync(path.join(replaced.root, ownerFile), "utf8").trim(), `${owner} 1`);
        // The one left in the state leaves when it is deleted.
        const later = runRemote(`${claimNodeCommand(owner)} && ${claimNodeCommand(owner)} && ${deleteCommand} && ${deleteCommand}`);
        assert.equal(later.code, 0, later.stderr);
        assert.match(later.stdout, /^LEAVE /m);
    });

    it("an update of the Command keeps one claim; an owner file of an older version (token only) counts as one", () => {
        const updated = runRemote(
            `${claimNodeCommand(owner)} && ${claimNodeCommand(owner, "update")} && ${claimNodeCommand(owner, "update")} && ${deleteCommand}`,
        );
        assert.equal(updated.code, 0, updated.stderr);
        assert.match(updated.stdout, /^LEAVE /m);
        const older = runRemote(deleteCommand, { [ownerFile]: `${owner}\n` });
        assert.equal(older.code, 0, older.stderr);
        assert.match(older.stdout, /^LEAVE /m);
        const olderUpdated = runRemote(`${claimNodeCommand(owner, "update")} && ${deleteCommand}`, { [ownerFile]: `${owner}\n` });
        assert.match(olderUpdated.stdout, /^LEAVE /m);
    });
});
