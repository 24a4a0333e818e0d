// A real self-signed certificate made by openssl (hermetic PATH, no host openssl.cnf), as a
// user's root CA or, with `ca: false`, a server certificate that is not a CA.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export function opensslCertificate(options: { commonName?: string; ca?: boolean } = {}): { certPem: string; keyPem: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-ca-"));
    try {
        const constraints = options.ca === undefined ? [] : ["-addext", `basicConstraints=critical,CA:${options.ca ? "TRUE" : "FALSE"}`];
        const run = spawnSync(
            "openssl",
            [
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                `/CN=${options.commonName ?? "test-root-ca"}`,
                ...constraints,
                "-keyout",
                path.join(dir, "ca.key"),
                "-out",
                path.join(dir, "ca.crt"),
            ],
            { encoding: "utf8", env: { PATH: "/usr/bin:/bin", OPENSSL_CONF: "/dev/null" } },
        );
        if (run.status !== 0) {
            throw new Error(`openssl failed: ${run.stderr}`);
        }
        return { certPem: fs.readFileSync(path.join(dir, "ca.crt"), "utf8"), keyPem: fs.readFileSync(path.join(dir, "ca.key"), "utf8") };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
