// The encrypted etcd export format of cluster/scripts/lib.sh (export_seal / export_open),
// implemented a second time with node:crypto: a test that opens what the scripts wrote, or
// writes what they must read, checks the format itself rather than the scripts against
// themselves.
import * as crypto from "node:crypto";

export const EXPORT_MAGIC = "zadara-eksd etcd export v2";
const KEY_CHECK_LABEL = "zadara-eksd etcd export key check";
const KDF_ITERATIONS = 200_000;

export interface ExportKeys {
    aesKey: Buffer;
    iv: Buffer;
    macKey: Buffer;
}

/** openssl enc's PBKDF2-SHA256 key and IV for this salt, and the HMAC key derived from them. */
export function exportKeys(password: string, salt: Buffer): ExportKeys {
    const derived = crypto.pbkdf2Sync(password, salt, KDF_ITERATIONS, 48, "sha256");
    const aesKey = derived.subarray(0, 32);
    const macKey = crypto
        .createHash("sha256")
        .update(`zadara-eksd etcd export hmac ${aesKey.toString("hex")}`)
        .digest();
    return { aesKey, iv: derived.subarray(32, 48), macKey };
}

/** `Salted__` + salt + AES-256-CBC: what `openssl enc -salt -pbkdf2` writes (and older backups exported bare). */
export function opensslEncrypt(plain: Buffer, password: string, salt = crypto.randomBytes(8)): Buffer {
    const { aesKey, iv } = exportKeys(password, salt);
    const cipher = crypto.createCipheriv("aes-256-cbc", aesKey, iv);
    return Buffer.concat([Buffer.from("Salted__"), salt, cipher.update(plain), cipher.final()]);
}

export interface OpenedExport {
    header: string[];
    snapshot: Buffer;
    salt: Buffer;
}

/** Checks and decrypts a v2 export; throws saying which check failed. */
export function openExport(data: Buffer, password: string): OpenedExport {
    const header: string[] = [];
    let offset = 0;
    for (let line = 0; line < 4; line++) {
        const end = data.indexOf(0x0a, offset);
        if (end < 0) {
            throw new Error("no export header");
        }
        header.push(data.subarray(offset, end).toString("latin1"));
        offset = end + 1;
    }
    const [magic, keyCheck, sum, mac] = header;
    if (magic !== EXPORT_MAGIC || !/^key-check [0-9a-f]{64}$/.test(keyCheck) || !/^sha256 [0-9a-f]{64}$/.test(sum) || !/^hmac-sha256 [0-9a-f]{64}$/.test(mac)) {
        throw new Error(`not a v2 export header: ${JSON.stringify(header)}`);
    }
    const body = data.subarray(offset);
    if (body.subarray(0, 8).toString("latin1") !== "Salted__") {
        throw new Error("no Salted__ after the header");
    }
    const salt = body.subarray(8, 16);
    const keys = exportKeys(password, salt);
    const hmac = (...parts: Buffer[]) => parts.reduce((h, part) => h.update(part), crypto.createHmac("sha256", keys.macKey)).digest("hex");
    if (hmac(Buffer.from(KEY_CHECK_LABEL)) !== keyCheck.slice("key-check ".length)) {
        throw new Error("key check mismatch");
    }
    if (hmac(data.subarray(0, data.indexOf("hmac-sha256 ")), body) !== mac.slice("hmac-sha256 ".length)) {
        throw new Error("HMAC mismatch");
    }
    const decipher = crypto.createDecipheriv("aes-256-cbc", keys.aesKey, keys.iv);
    const snapshot = Buffer.concat([decipher.update(body.subarray(16)), decipher.final()]);
    if (crypto.createHash("sha256").update(snapshot).digest("hex") !== sum.slice("sha256 ".length)) {
        throw new Error("sha256 mismatch");
    }
    return { header, snapshot, salt };
}
