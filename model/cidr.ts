// CIDR checks on top of ipaddr.js (pure functions, no code of ours): the validation rules
// and the API endpoint need "is it a CIDR", "is it inside" and "do they overlap".
import * as ipaddr from "ipaddr.js";

export interface Ipv4Cidr {
    text: string;
    address: ipaddr.IPv4;
    prefix: number;
}

/** Parses `a.b.c.d/n` (IPv4 only, host bits must be zero); undefined when invalid. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
    if (typeof text !== "string" || !ipaddr.IPv4.isValidCIDR(text)) {
        return undefined;
    }
    const [address, prefix] = ipaddr.IPv4.parseCIDR(text);
    const network = ipaddr.IPv4.networkAddressFromCIDR(text);
    if (network.toString() !== address.toString()) {
        return undefined;
    }
    return { text, address, prefix };
}

/** The network address a CIDR should have been written with (for the error message). */
export function networkOf(text: string): string | undefined {
    if (!ipaddr.IPv4.isValidCIDR(text)) {
        return undefined;
    }
    const [, prefix] = ipaddr.IPv4.parseCIDR(text);
    return `${ipaddr.IPv4.networkAddressFromCIDR(text).toString()}/${prefix}`;
}

export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
    return inner.prefix >= outer.prefix && inner.address.match(outer.address, outer.prefix);
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
    return cidrContains(a, b) || cidrContains(b, a);
}

export function isIpv4Address(text: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(text);
}
