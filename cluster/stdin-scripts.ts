// Node scripts sent to a remote Command on stdin (`VAR='v' ... bash -s`): lib.sh and the named
// scripts joined into ONE script, because `bash -s` has no directory to `source lib.sh` from.
//
// Rules the joined scripts follow (checked here, so a script that breaks them fails at preview):
// - a script sources lib.sh with one `source "<dir>/lib.sh"` line (dropped here: lib.sh comes first);
// - its last command line is its entry call, e.g. `main "$@"`. Only the LAST script's entry runs;
//   the others contribute their functions (e.g. drain-node.sh's `drain_node` for the roll). The
//   last script's functions are defined last, so its `main` is the one called.
// - the entry reads no stdin: it gets </dev/null, or a command could swallow script text still
//   unread on the SSH channel.
import * as fs from "node:fs";
import * as path from "node:path";

export const STDIN_SCRIPTS_DIR = path.join(__dirname, "scripts");

const LIB = "lib.sh";
const SOURCE_LIB_LINE = /^\s*(?:source|\.)\s+.*\/lib\.sh"?\s*$/;
const SHELLCHECK_SOURCE_LINE = /^\s*#\s*shellcheck\s+source=lib\.sh\s*$/;
const ENTRY_LINE = /^([A-Za-z_][A-Za-z0-9_]*) "\$@"(?: <\/dev\/null)?\s*$/;

function readScript(name: string): string {
    const file = path.join(STDIN_SCRIPTS_DIR, name);
    if (!fs.existsSync(file)) {
        throw new Error(`scriptForStdin: ${file} is missing`);
    }
    return fs.readFileSync(file, "utf8");
}

/** The script's lines without shebang and lib.sh sourcing, and the index of its entry line. */
function scriptBody(name: string): { lines: string[]; entry: number; call: string } {
    const lines = readScript(name).replace(/\n+$/, "").split("\n");
    if (lines[0]?.startsWith("#!")) {
        lines.shift();
    }
    const kept = lines.filter((line) => !SOURCE_LIB_LINE.test(line) && !SHELLCHECK_SOURCE_LINE.test(line));
    let entry = kept.length - 1;
    while (entry >= 0 && (kept[entry].trim() === "" || kept[entry].trim().startsWith("#"))) {
        entry--;
    }
    const entryMatch = entry < 0 ? null : ENTRY_LINE.exec(kept[entry]);
    if (entryMatch === null) {
        throw new Error(`scriptForStdin: the last command of ${name} must be its entry call, e.g. main "$@" (found: ${kept[entry] ?? "nothing"})`);
    }
    if (/\blib\.sh"/.test(kept.join("\n").replace(/^\s*#.*$/gm, ""))) {
        throw new Error(`scriptForStdin: ${name} refers to lib.sh other than by one 'source "<dir>/lib.sh"' line`);
    }
    return { lines: kept, entry, call: entryMatch[1] };
}

/**
 * lib.sh + the scripts, one shebang, for `bash -s`. `names` are file names under cluster/scripts;
 * the last one is the entry point (its `SCRIPT_NAME` labels the log lines).
 */
export function scriptForStdin(names: string[]): string {
    if (names.length === 0) {
        throw new Error("scriptForStdin: name at least one script");
    }
    if (names.includes(LIB)) {
        throw new Error("scriptForStdin: lib.sh is always included; do not name it");
    }
    const last = names[names.length - 1];
    const parts: string[] = ["#!/usr/bin/env bash", `# ${LIB} + ${names.join(" + ")}, joined for bash -s`, readScript(LIB).replace(/\n+$/, "")];
    // lib.sh names the log lines after $0, which is "bash" here.
    parts.push(`SCRIPT_NAME='${path.basename(last, ".sh")}'`);
    for (const name of names) {
        const { lines, entry, call } = scriptBody(name);
        if (name === last) {
            lines[entry] = `${call} "$@" </dev/null`;
        } else {
            lines.splice(entry, 1);
        }
        parts.push(`# ---- ${name} ----`, lines.join("\n"));
    }
    return `${parts.join("\n")}\n`;
}
