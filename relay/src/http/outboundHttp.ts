import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { Agent, type Dispatcher, errors as undiciErrors } from 'undici';
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
  /** POST on undici's keep-alive pools with the same timeout as `client` (hot path: no axios, no node:http client). */
  postText: PostText;
  close: () => void;
}

/**
 * Outbound calls: keep-alive connections (the relay talks to few hosts very often), a timeout, never
 * throwing on HTTP status (callers classify), no redirects. `client` (axios) for the Engage REST
 * calls; `postText` for the per-message calls (Cognigy notify/inject, Send API) on undici: a notify
 * cost 107 instead of 173 µs of CPU with undici's request(), and its dispatch API saves ~25 µs more
 * (bench/outboundMicro.ts, issue 20).
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
  const endpoints = new EndpointCache();
  // Each timeout is one of silence (as node's socket timeout was): no connection within it, no
  // answer head within it, or a pause of the answer's body longer than it.
  const pool = new Agent({
    connections: 64,
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    maxResponseSize: MAX_RESPONSE_BYTES,
  });
  const postText: PostText = (url, body, headers) => {
    const endpoint = endpoints.get(url);
    if (typeof endpoint === 'string') return Promise.reject(new OutboundTransportError(endpoint));
    return sendPost(pool, endpoint, body, headers);
  };
  return {
    client,
    postText,
    close: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
      void pool.destroy().catch(() => undefined);
    },
  };
}

const DEFAULT_ACCEPT = 'application/json, text/plain, */*';

/**
 * The request's headers as a flat [name, value, …] list: the caller's headers, Host and Authorization
 * from the URL unless the caller sets them, Accept unless the caller sets it. Content-Length is
 * always the body's (undici sets it).
 */
function headerList(endpoint: PostEndpoint, headers: Record<string, string>): string[] {
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
  return list;
}

/**
 * One POST on undici's dispatch API: no response stream or body mixin per call, the answer's chunks
 * are collected here. Failures carry a code only, in node's words (what callers and logs knew
 * before undici): any of the timeouts is ETIMEDOUT, an answer over MAX_RESPONSE_BYTES is
 * ERR_BAD_RESPONSE, a connection lost before the whole answer arrived is ECONNRESET, socket errors
 * keep their own code.
 */
function sendPost(pool: Agent, endpoint: PostEndpoint, body: string, headers: Record<string, string>): Promise<TextResponse> {
  return new Promise<TextResponse>((resolve, reject) => {
    try {
      pool.dispatch(
        { origin: endpoint.origin, path: endpoint.path, method: 'POST', headers: headerList(endpoint, headers), body },
        new TextAnswer(resolve, reject),
      );
    } catch (err) {
      // Refused before it was sent (a header value undici will not write, a closed pool): a code only.
      reject(new OutboundTransportError(transportCode(err)));
    }
  });
}

/** Collects one answer as text (a single chunk, the usual case, is decoded without a copy). */
class TextAnswer implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: http.IncomingHttpHeaders = {};
  private first: Buffer | null = null;
  private more: Buffer[] | null = null;

  constructor(
    private readonly resolve: (response: TextResponse) => void,
    private readonly reject: (err: OutboundTransportError) => void,
  ) {}

  // Present so undici takes this for its current handler API (it tells the two APIs apart by this method).
  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: http.IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.first === null) this.first = chunk;
    else (this.more ??= [this.first]).push(chunk);
  }

  onResponseEnd(): void {
    const data = this.more ? Buffer.concat(this.more).toString('utf8') : this.first ? this.first.toString('utf8') : '';
    this.resolve({ status: this.status, headers: this.headers, data });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.reject(new OutboundTransportError(transportCode(err)));
  }
}

function transportCode(err: unknown): string {
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  )
    return 'ETIMEDOUT';
  if (err instanceof undiciErrors.ResponseExceededMaxSizeError) return 'ERR_BAD_RESPONSE';
  if (err instanceof undiciErrors.SocketError) return 'ECONNRESET';
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : 'ERR_NETWORK';
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
