import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { EndpointCache, type PostEndpoint } from './postEndpoint';

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
  const endpoints = new EndpointCache(httpAgent, httpsAgent, timeoutMs);
  const postText: PostText = (url, body, headers) =>
    new Promise<TextResponse>((resolve, reject) => {
      const endpoint = endpoints.get(url);
      if (typeof endpoint === 'string') reject(new OutboundTransportError(endpoint));
      else sendPost(endpoint, body, headers, resolve, reject);
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

const DEFAULT_ACCEPT = 'application/json, text/plain, */*';

/**
 * The request's headers as node's flat [name, value, …] list, which node writes as it is (no header
 * object per call): the caller's headers, Host and Authorization from the URL unless the caller
 * sets them, Accept unless the caller sets it, and Content-Length (always ours).
 */
function headerList(endpoint: PostEndpoint, headers: Record<string, string>, contentLength: number): string[] {
  let ownHost = false;
  let ownAccept = false;
  let ownAuthorization = false;
  const list: string[] = [];
  for (const name in headers) {
    // Only names of these lengths can be one of ours: most calls lower-case nothing.
    const n = name.length;
    const lower = n === 4 || n === 6 || n === 13 || n === 14 ? name.toLowerCase() : '';
    if (lower === 'content-length') continue;
    if (lower === 'host') ownHost = true;
    else if (lower === 'accept') ownAccept = true;
    else if (lower === 'authorization') ownAuthorization = true;
    list.push(name, headers[name] as string);
  }
  if (!ownHost) list.push('Host', endpoint.host);
  if (endpoint.authorization !== null && !ownAuthorization) list.push('Authorization', endpoint.authorization);
  if (!ownAccept) list.push('Accept', DEFAULT_ACCEPT);
  list.push('Content-Length', String(contentLength));
  return list;
}

/**
 * One POST: the body goes out as a string (node then writes header and body in one piece), the
 * socket's idle timeout (request option) ends it with ETIMEDOUT, answers over MAX_RESPONSE_BYTES
 * end it with ERR_BAD_RESPONSE, a connection lost mid-answer with ECONNRESET. Errors carry a code only.
 */
function sendPost(
  endpoint: PostEndpoint,
  body: string,
  headers: Record<string, string>,
  resolve: (response: TextResponse) => void,
  reject: (err: OutboundTransportError) => void,
): void {
  let settled = false;
  const fail = (code: string): void => {
    if (settled) return;
    settled = true;
    reject(new OutboundTransportError(code));
  };
  const request = (endpoint.isHttps ? https : http).request(
    { ...endpoint.options, headers: headerList(endpoint, headers, Buffer.byteLength(body, 'utf8')) },
    (response) => {
      let first: Buffer | null = null;
      let more: Buffer[] | null = null;
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          fail('ERR_BAD_RESPONSE');
          response.destroy();
          request.destroy();
          return;
        }
        if (first === null) first = chunk;
        else (more ??= [first]).push(chunk);
      });
      // The connection went away before the whole answer arrived. (Node emits the response's 'error'
      // only after 'aborted', and only with a listener: 'aborted' alone is the first and sure sign.)
      response.on('aborted', () => fail('ECONNRESET'));
      response.on('end', () => {
        if (settled) return;
        settled = true;
        const data = more ? Buffer.concat(more).toString('utf8') : first ? first.toString('utf8') : '';
        resolve({ status: response.statusCode ?? 0, headers: response.headers, data });
      });
    },
  );
  request.on('timeout', () => {
    fail('ETIMEDOUT');
    request.destroy();
  });
  request.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ERR_NETWORK'));
  request.end(body);
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
