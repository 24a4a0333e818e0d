// Scripts that a remote Command sends to a node in one piece: lib.sh followed by the named
// scripts, with one shebang, so they run with `bash -s` and need nothing installed on the node.
import { readScriptSource } from "./cloud-init";

const SHEBANG = "#!/usr/bin/env bash";

/** lib.sh + the scripts, concatenated; each script's own shebang and `source lib.sh` line are dropped. */
export function scriptForStdin(names: string[]): string {
    const parts = ["lib.sh", ...names].map((name) => readScriptSource(name)
        .split("\n")
        .filter((line) => line !== SHEBANG && !/^\s*(source|\.)\s+.*lib\.sh"?\s*$/.test(line))
        .join("\n"));
    return [SHEBANG, ...parts].join("\n");
}
