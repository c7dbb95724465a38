import ipaddr from 'ipaddr.js';

/**
 * Which addresses a server-side fetch may reach (SSRF protection for client metadata documents): public unicast
 * addresses only — never loopback, private, link-local, carrier-grade NAT, multicast, documentation, 6to4 or
 * Teredo (which embed IPv4 addresses) or any other special range — unless the operator allows a range.
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
export class AddressPolicy {
  private readonly allowed: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

  constructor(allowedRanges: readonly string[]) {
    this.allowed = allowedRanges.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  /** Why `address` may not be reached, or undefined when it may. */
  problem(address: string): string | undefined {
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.process(address);
    } catch {
      return `${address} is not an IP address`;
    }
    if (this.allowed.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits))) return undefined;
    const range = ip.range();
    return range === 'unicast' ? undefined : `${ip.toString()} is a ${range} address`;
  }
}
