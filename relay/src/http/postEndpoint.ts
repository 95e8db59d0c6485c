import type http from 'node:http';

/**
 * Where a POST goes, worked out once per URL string: the relay posts to a handful of URLs (each
 * tenant's Cognigy notify/inject and Source SDK endpoint) thousands of times a second, and a
 * `new URL` per call was a measurable part of each call (issue 20).
 */
export interface PostEndpoint {
  readonly isHttps: boolean;
  readonly agent: http.Agent;
  /** Request options without headers; the same object for every call to the URL (node copies it). */
  readonly options: Readonly<http.RequestOptions>;
  /** The Host header node would derive: brackets around IPv6, the port only when not the default. */
  readonly host: string;
  /** Basic credentials of a URL with user info (as node sends `auth`), else null. */
  readonly authorization: string | null;
}

/** Few distinct URLs are expected; past this many the cache starts over (a bound, not an eviction policy). */
const MAX_ENDPOINTS = 256;

/** Parsed endpoints per URL string; a URL that cannot be used maps to the transport error code it gets. */
export class EndpointCache {
  private readonly byUrl = new Map<string, PostEndpoint | string>();

  constructor(
    private readonly httpAgent: http.Agent,
    private readonly httpsAgent: http.Agent,
    private readonly timeoutMs: number,
  ) {}

  get(url: string): PostEndpoint | string {
    let endpoint = this.byUrl.get(url);
    if (endpoint === undefined) {
      endpoint = this.parse(url);
      if (this.byUrl.size >= MAX_ENDPOINTS) this.byUrl.clear();
      this.byUrl.set(url, endpoint);
    }
    return endpoint;
  }

  private parse(url: string): PostEndpoint | string {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return 'ERR_INVALID_URL';
    }
    const isHttps = target.protocol === 'https:';
    if (!isHttps && target.protocol !== 'http:') return 'ERR_BAD_REQUEST';
    const agent = isHttps ? this.httpsAgent : this.httpAgent;
    const credentials =
      target.username || target.password ? `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}` : null;
    const options: http.RequestOptions = {
      method: 'POST',
      hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
      path: `${target.pathname}${target.search}`,
      agent,
      // The socket idle this long aborts the call (node arms it on the socket it gets; no timer of our own).
      timeout: this.timeoutMs,
    };
    if (target.port) options.port = target.port;
    return {
      isHttps,
      agent,
      options,
      host: target.host,
      authorization: credentials === null ? null : `Basic ${Buffer.from(credentials).toString('base64')}`,
    };
  }
}
