// The SSH host keys an instance prints to its own serial console at boot. cloud-init's
// keys_to_console module writes each public host key between `-----BEGIN SSH HOST KEY KEYS-----`
// and `-----END SSH HOST KEY KEYS-----`; only the instance writes its console, so a key read
// there is the instance's own, with no secret in user data. Pure text handling: no I/O here.

export const HOST_KEYS_BEGIN = "-----BEGIN SSH HOST KEY KEYS-----";
export const HOST_KEYS_END = "-----END SSH HOST KEY KEYS-----";

/** Host key types in the order they are pinned: ed25519 first, then ecdsa, rsa last. */
export const HOST_KEY_PREFERENCE = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"] as const;
export type HostKeyType = (typeof HOST_KEY_PREFERENCE)[number];

/** One public host key: `<type> <base64 blob>`, the authorized_keys form pulumi-command parses. */
export interface HostKey {
    type: HostKeyType;
    /** Base64 of the SSH wire-format public key. */
    blob: string;
}

/** What the console shows so far. */
export type ConsoleHostKeys =
    /** No complete block yet (the instance is still booting, or prints none). */
    | { kind: "none"; partial: boolean }
    /** A complete block with at least one usable key. */
    | { kind: "keys"; keys: HostKey[] }
    /** Complete blocks that cannot be pinned: why. */
    | { kind: "unusable"; reason: string };

const KEY_IN_LINE = new RegExp(`(?:^|\\s)(${HOST_KEY_PREFERENCE.join("|")})\\s+([A-Za-z0-9+/]+={0,2})(?=\\s|$)`);

/**
 * Whether `blob` is an SSH public key of `type`: the wire format starts with the key type as
 * a length-prefixed string (RFC 4253 section 6.6), which is what an authorized_keys parser
 * checks first. Rejects truncated or garbled lines.
 */
export function blobMatchesType(type: string, blob: string): boolean {
    if (blob.length % 4 !== 0) {
        return false;
    }
    const bytes = Buffer.from(blob, "base64");
    if (bytes.length < 4 + type.length + 4) {
        return false;
    }
    const length = bytes.readUInt32BE(0);
    return length === type.length && bytes.subarray(4, 4 + length).toString("latin1") === type;
}

/** The key of one console line inside a block, or undefined (other console output interleaves). */
function keyOfLine(line: string): HostKey | undefined {
    const match = KEY_IN_LINE.exec(line);
    if (match === null) {
        return undefined;
    }
    const [, type, blob] = match;
    return blobMatchesType(type, blob) ? { type: type as HostKeyType, blob } : undefined;
}

const sameKeys = (a: HostKey[], b: HostKey[]) => a.length === b.length && a.every((key, i) => key.type === b[i].type && key.blob === b[i].blob);

/**
 * The host keys of every complete block in `text` (console output, any line endings). Lines
 * between the markers that hold no valid key (kernel messages, log prefixes, garbage) are
 * skipped; a BEGIN inside an open block restarts it (a block cut off by a reboot). A later
 * boot prints the block again: equal blocks are one answer; blocks with different keys are
 * refused, since the keys changed after the first boot and nothing tells which one to trust.
 */
export function parseConsoleHostKeys(text: string): ConsoleHostKeys {
    const blocks: HostKey[][] = [];
    let open: HostKey[] | undefined;
    for (const line of text.split(/\r\n|\r|\n/)) {
        if (line.includes(HOST_KEYS_BEGIN)) {
            open = [];
            continue;
        }
        if (open === undefined) {
            continue;
        }
        if (line.includes(HOST_KEYS_END)) {
            blocks.push(open);
            open = undefined;
            continue;
        }
        const key = keyOfLine(line);
        if (key !== undefined && !open.some((k) => k.type === key.type && k.blob === key.blob)) {
            open.push(key);
        }
    }
    if (blocks.length === 0) {
        return { kind: "none", partial: open !== undefined };
    }
    const sorted = blocks.map((keys) => [...keys].sort((a, b) => `${a.type} ${a.blob}`.localeCompare(`${b.type} ${b.blob}`)));
    if (sorted.some((keys) => !sameKeys(keys, sorted[0]))) {
        return {
            kind: "unusable",
            reason: `the console shows ${blocks.length} host-key blocks with different keys: the instance's host keys changed after its first boot`,
        };
    }
    if (blocks[0].length === 0) {
        return { kind: "unusable", reason: "the console's host-key block holds no ed25519, ecdsa or rsa key" };
    }
    return { kind: "keys", keys: blocks[0] };
}

/** The key to pin: ed25519, else ecdsa, else rsa. */
export function preferredHostKey(keys: HostKey[]): HostKey | undefined {
    for (const type of HOST_KEY_PREFERENCE) {
        const key = keys.find((k) => k.type === type);
        if (key !== undefined) {
            return key;
        }
    }
    return undefined;
}

/** `<type> <blob>`: the line `connection.hostKey` takes (no comment: it names the host only). */
export function hostKeyLine(key: HostKey): string {
    return `${key.type} ${key.blob}`;
}

/**
 * Joins successive console reads. A cloud that returns the whole buffer each time (EC2 does)
 * gives a text that starts with the previous one: it replaces it. One that returns only what is
 * new is appended. Bounded, so a chatty console cannot grow it without end.
 */
export function joinConsoleReads(previous: string, next: string, limit = 1 << 20): string {
    const joined = next.startsWith(previous) ? next : previous + next;
    return joined.length > limit ? joined.slice(joined.length - limit) : joined;
}
