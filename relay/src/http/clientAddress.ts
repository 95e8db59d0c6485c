import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import type { TrustProxy } from '../config';

/** Who a request counts against for per-address limits and budgets. */
export type ClientAddressOf = (req: IncomingMessage) => string;

/**
 * X-Forwarded-For is believed only from the hops the operator named (TRUST_PROXY, evaluated by
 * Express' own proxy-addr). Whatever comes out must be an IP address: a forged entry that is not
 * one ("x", 14 KB of junk) would otherwise be a fresh limiter key per request. IPv6 clients count
 * per /64, the block one subscriber gets: one host can pick any address in it.
 */
export function clientAddressResolver(trust: TrustProxy): ClientAddressOf {
  const socketAddress = (req: IncomingMessage): string => limitKey(req.socket.remoteAddress ?? 'unknown');
  if (trust.kind === 'none') return socketAddress;
  const trusted = trust.kind === 'hops' ? (_addr: string, hop: number) => hop < trust.hops : proxyaddr.compile(trust.entries);
  return (req) => {
    const address = proxyaddr(req, trusted);
    return isIP(address) !== 0 ? limitKey(address) : socketAddress(req);
  };
}

/** IPv4 as is (also when IPv4-mapped), IPv6 reduced to its /64 prefix. */
export function limitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  const groups = expandIpv6(address.split('%')[0] ?? address);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, lower-case, without leading zeros. */
function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const toGroups = (part: string): string[] =>
    (part === '' ? [] : part.split(':')).flatMap((g) => (g.includes('.') ? ipv4ToGroups(g) : [g]));
  const left = toGroups(head);
  const right = tail === undefined ? [] : toGroups(tail);
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}

function ipv4ToGroups(dotted: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
