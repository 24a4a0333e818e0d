// "Is this list of CIDRs the whole internet?" answered by arithmetic, not by looking for the
// string 0.0.0.0/0: 0.0.0.0/1 + 128.0.0.0/1 (or 256 /8s) opens a port to the world just the
// same. Used by the production rules of the stack config and by the policy pack.
import * as ipaddr from "ipaddr.js";

export type AddressFamily = "ipv4" | "ipv6";

const FAMILY_BITS: Record<AddressFamily, number> = { ipv4: 32, ipv6: 128 };

interface Range {
    first: bigint;
    last: bigint;
}

/** A CIDR as an address range and its family; undefined when the text is not a CIDR. */
function rangeOf(text: string): { family: AddressFamily; range: Range } | undefined {
    if (!ipaddr.isValidCIDR(text)) {
        return undefined;
    }
    const [address, prefix] = ipaddr.parseCIDR(text);
    const family: AddressFamily = address.kind() === "ipv4" ? "ipv4" : "ipv6";
    const bits = FAMILY_BITS[family];
    let value = 0n;
    for (const byte of address.toByteArray()) {
        value = (value << 8n) | BigInt(byte);
    }
    // The host bits are ignored, as the cloud's own masking does (10.0.0.1/0 is still /0).
    const hostBits = BigInt(bits - prefix);
    const first = (value >> hostBits) << hostBits;
    return { family, range: { first, last: first + (1n << hostBits) - 1n } };
}

/** Whether the CIDRs together cover every address of the family. Invalid entries are ignored. */
export function coversAddressSpace(cidrs: readonly string[], family: AddressFamily): boolean {
    const ranges = cidrs
        .map(rangeOf)
        .filter((parsed) => parsed !== undefined && parsed.family === family)
        .map((parsed) => (parsed as { range: Range }).range)
        .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const end = (1n << BigInt(FAMILY_BITS[family])) - 1n;
    let next = 0n;
    for (const range of ranges) {
        if (range.first > next) {
            return false;
        }
        if (range.last + 1n > next) {
            next = range.last + 1n;
        }
        if (next > end) {
            return true;
        }
    }
    return false;
}

/** The families the CIDRs open completely (empty when none): ["ipv4"], ["ipv6"] or both. */
export function openFamilies(cidrs: readonly string[]): AddressFamily[] {
    return (["ipv4", "ipv6"] as const).filter((family) => coversAddressSpace(cidrs, family));
}
