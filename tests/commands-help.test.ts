// Every npm script answers `--help` (or -h) with exit 0 and a usage line, and does no work then:
// run exactly as `npm run <script> -- --help` would run it (the script's text plus the flag).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

const root = path.resolve(__dirname, "..");
const scripts = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

/** `tsc --help` is TypeScript's own; every other script is the project's and says "usage". */
const OWN_HELP_TEXT: Record<string, RegExp> = { build: /tsc|TypeScript/i };

describe("every npm script answers --help", () => {
    for (const [name, command] of Object.entries(scripts)) {
        it(`npm run ${name} -- --help`, () => {
            const result = spawnSync("bash", ["-c", `${command} --help`], {
                cwd: root,
                encoding: "utf8",
                timeout: 120_000,
                env: {
                    PATH: `${path.join(root, "node_modules", ".bin")}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
                    HOME: process.env.HOME ?? "/tmp",
                },
            });
            assert.equal(result.status, 0, `exit ${String(result.status)}\n${result.stderr}`);
            assert.match(result.stdout, OWN_HELP_TEXT[name] ?? /usage/i);
        });
    }
});
