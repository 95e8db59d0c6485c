import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import type { TrustProxy } from '../config';

/** The client's address of a request (for per-address limits and budgets). */
export type ClientAddressOf = (req: IncomingMessage) => string;

/**
 * X-Forwarded-For is believed only from the hops the operator named (TRUST_PROXY, evaluated by
 * Express' own proxy-addr). Whatever comes out must be an IP address: a forged entry that is not
 * one ("x", 14 KB of junk) would otherwise be a fresh limiter key per request.
 */
export function clientAddressResolver(trust: TrustProxy): ClientAddressOf {
  const socketAddress = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';
  if (trust.kind === 'none') return socketAddress;
  const trusted = trust.kind === 'hops' ? (_addr: string, hop: number) => hop < trust.hops : proxyaddr.compile(trust.entries);
  return (req) => {
    const address = proxyaddr(req, trusted);
    return isIP(address) !== 0 ? address : socketAddress(req);
  };
}
