import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

// The relay sits behind a TLS-terminating proxy on the same host or network: X-Forwarded-For is
// believed from those hops only (Express' `trust proxy` rules, evaluated by Express' own library).
const trustedProxies = proxyaddr.compile(['loopback', 'linklocal', 'uniquelocal']);

/** The client's address for per-address rate limiting. */
export function clientAddress(req: IncomingMessage): string {
  return proxyaddr(req, trustedProxies);
}
