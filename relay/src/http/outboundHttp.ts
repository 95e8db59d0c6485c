import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';

const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;

/** The answer of `postText`: status, lower-cased headers, body as text. Never throws on HTTP status. */
export interface TextResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  data: string;
}

/** A POST of an exact body (signatures need the exact bytes) answered with text. */
export type PostText = (url: string, body: string, headers: Record<string, string>) => Promise<TextResponse>;

/** Transport failure of `postText`: a code only (never the URL, headers or body). */
export class OutboundTransportError extends Error {
  override readonly name = 'OutboundTransportError';
  constructor(readonly code: string) {
    super(`outbound request failed: ${code}`);
  }
}

export interface OutboundHttp {
  client: AxiosInstance;
  /** Plain node:http(s) POST on the same keep-alive agents and timeout as `client` (hot path: no axios). */
  postText: PostText;
  close: () => void;
}

/**
 * Outbound calls: keep-alive agents (the relay talks to few hosts very often), a timeout, never
 * throwing on HTTP status (callers classify), no redirects. `client` (axios) for the Engage REST
 * calls; `postText` (plain node:http) for the per-message calls (Cognigy notify/inject, Send API).
 */
export function createOutboundHttp(options: { timeoutMs?: number } = {}): OutboundHttp {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  const client = axios.create({
    timeout: timeoutMs,
    httpAgent,
    httpsAgent,
    maxRedirects: 0,
    validateStatus: () => true,
    transitional: { clarifyTimeoutError: true },
    // Bodies are produced and parsed by the callers (signatures need the exact bytes).
    transformResponse: [(data: unknown) => data],
    responseType: 'text',
    maxContentLength: MAX_RESPONSE_BYTES,
  });
  const postText: PostText = (url, body, headers) =>
    new Promise<TextResponse>((resolve, reject) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        reject(new OutboundTransportError('ERR_INVALID_URL'));
        return;
      }
      const isHttps = target.protocol === 'https:';
      if (!isHttps && target.protocol !== 'http:') {
        reject(new OutboundTransportError('ERR_BAD_REQUEST'));
        return;
      }
      const payload = Buffer.from(body, 'utf8');
      let settled = false;
      const fail = (code: string) => {
        if (settled) return;
        settled = true;
        reject(new OutboundTransportError(code));
      };
      const request = (isHttps ? https : http).request(
        {
          method: 'POST',
          protocol: target.protocol,
          hostname: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
          port: target.port || undefined,
          path: `${target.pathname}${target.search}`,
          agent: isHttps ? httpsAgent : httpAgent,
          ...(target.username || target.password
            ? { auth: `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}` }
            : {}),
          headers: { Accept: 'application/json, text/plain, */*', ...headers, 'Content-Length': String(payload.length) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              fail('ERR_BAD_RESPONSE');
              response.destroy();
              request.destroy();
              return;
            }
            chunks.push(chunk);
          });
          response.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ERR_BAD_RESPONSE'));
          response.on('aborted', () => fail('ECONNRESET'));
          response.on('end', () => {
            if (settled) return;
            settled = true;
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              data: chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      // Same as axios' `timeout` on node: the socket idle for timeoutMs aborts the request.
      request.setTimeout(timeoutMs, () => {
        fail('ETIMEDOUT');
        request.destroy();
      });
      request.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ERR_NETWORK'));
      request.end(payload);
    });
  return {
    client,
    postText,
    close: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** A short, secret-free description of a transport failure (code only, never the URL's query). */
export function describeTransportError(err: unknown): string {
  if (axios.isAxiosError(err)) return `network error ${err.code ?? 'unknown'}`;
  if (err instanceof OutboundTransportError) return `network error ${err.code}`;
  return `network error ${(err as Error).name ?? 'unknown'}`;
}

/** A header value from a response's header map, when it is a single string. */
export function headerOf(headers: unknown, name: string): string | undefined {
  if (headers && typeof headers === 'object') {
    const value = (headers as Record<string, unknown>)[name];
    if (typeof value === 'string') return value;
  }
  return undefined;
}
