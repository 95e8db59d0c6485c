/**
 * Where a POST goes, worked out once per URL string: the relay posts to a handful of URLs (each
 * tenant's Cognigy notify/inject and Source SDK endpoint) thousands of times a second, and a
 * `new URL` per call was a measurable part of each call (issue 20).
 */
export interface PostEndpoint {
  /** `http(s)://host[:port]`: the connection pool the call goes to. */
  readonly origin: string;
  /** Path and query, as sent on the request line. */
  readonly path: string;
  /** The Host header a browser would send: brackets around IPv6, the port only when not the default. */
  readonly host: string;
  /** Basic credentials of a URL with user info (as node sends `auth`), else null. */
  readonly authorization: string | null;
}

/** Few distinct URLs are expected; past this many the cache starts over (a bound, not an eviction policy). */
const MAX_ENDPOINTS = 256;

/** Parsed endpoints per URL string; a URL that cannot be used maps to the transport error code it gets. */
export class EndpointCache {
  private readonly byUrl = new Map<string, PostEndpoint | string>();

  get(url: string): PostEndpoint | string {
    let endpoint = this.byUrl.get(url);
    if (endpoint === undefined) {
      endpoint = parseEndpoint(url);
      if (this.byUrl.size >= MAX_ENDPOINTS) this.byUrl.clear();
      this.byUrl.set(url, endpoint);
    }
    return endpoint;
  }
}

function parseEndpoint(url: string): PostEndpoint | string {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return 'ERR_INVALID_URL';
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return 'ERR_BAD_REQUEST';
  const credentials =
    target.username || target.password ? `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}` : null;
  return {
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    host: target.host,
    authorization: credentials === null ? null : `Basic ${Buffer.from(credentials).toString('base64')}`,
  };
}
