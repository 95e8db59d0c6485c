import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SourceSdkHandler } from '../engage/sourceSdkHandler';
import type { WebhookHandler } from '../engage/webhookHandler';
import type { AddressRateLimit } from './addressRateLimit';
import { readBoundedBody } from './boundedBody';
import { requestCounter } from '../metrics/httpRequests';
import type { BytesInFlight } from './bytesInFlight';
import type { ClientAddressOf } from './clientAddress';
import { isJsonContentType } from './jsonBody';
import { CONTENT_TYPE_HEADER, jsonError, type PlainResponse, textResponse } from './plainResponse';
import { elapsedMs, type RequestLog } from './requestLog';
import type { HeaderPairs } from './securityHeaders';

/**
 * `POST <relay>/handover/rce[/<sourceId>]`, the URL Engage calls for every agent reply, queue
 * update and webhook event, on plain node:http. It is the relay's hot path: in the benchmark the
 * Express pipeline (router, body parser, rate-limit and helmet middlewares, `res.send`) cost more
 * CPU per reply than the durable outbox behind it. Same checks, in the same order, as the Express
 * routes: per-address limit → tenant in the path → 415 → signature/secret header → encoding and
 * declared size (415/413) → bytes-in-flight budget → body (413 past the limit) → handler; helmet's
 * headers on every answer; errors as 503. Everything before the body read costs the relay nothing,
 * so an unauthenticated client cannot make it hold or hash its bytes.
 */
export interface EngageEndpointDeps {
  sourceSdk: SourceSdkHandler;
  webhooks: WebhookHandler;
  logger: Logger;
  requestLog: RequestLog;
  /** Body limit of this route (Engage's POSTs). */
  maxBodyBytes: number;
  addressLimit: AddressRateLimit;
  bytesInFlight: BytesInFlight;
  clientAddress: ClientAddressOf;
  /** Every tenant's source id; with more than one, the path must name the tenant. */
  sourceIds: readonly string[];
  securityHeaders: HeaderPairs;
  clock?: () => number;
}

const HEX_SHA512 = /^[0-9a-fA-F]{128}$/;
/** Engage's webhook secret is an admin-chosen string; anything longer is not one of ours. */
const MAX_SECRET_CHARS = 512;

export interface EngageRoute {
  /** The request path (for the log). */
  path: string;
  /** Raw query string (without `?`), or '' */
  query: string;
  /** `/handover/rce/<sourceId>` names the tenant; decoded like an Express route parameter. */
  sourceId?: string;
  /** The source id segment is not valid percent-encoding: answered 400. */
  badPath?: true;
}

// Express' matching of '/handover/rce' and '/handover/rce/:sourceId': case-insensitive, optional trailing slash.
const ENGAGE_PATH = /^\/handover\/rce(?:\/([^/]+))?\/?$/i;

const BASE_ROUTE: EngageRoute = Object.freeze({ path: '/handover/rce', query: '' });

/** The Engage route this request is for, or null (then Express serves it). */
export function matchEngagePost(req: IncomingMessage): EngageRoute | null {
  if (req.method !== 'POST' || !req.url) return null;
  if (req.url === '/handover/rce') return BASE_ROUTE; // the URL of every single-tenant relay

  const target = originForm(req.url);
  if (target === null) return null;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const m = ENGAGE_PATH.exec(path);
  if (!m) return null;
  const query = q === -1 ? '' : target.slice(q + 1);
  if (m[1] === undefined) return { path, query };
  try {
    return { path, query, sourceId: decodeURIComponent(m[1]) };
  } catch {
    return { path, query, badPath: true };
  }
}

/** The path and query of a request target; an absolute-form target (RFC 9112 §3.2.2) is reduced to them. */
function originForm(url: string): string | null {
  if (url.startsWith('/')) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return null;
  }
}

/** `?signature=` when given exactly once (as Express' query parser would yield a single string). */
function signatureFromQuery(query: string): string | undefined {
  if (query === '') return undefined;
  const values = new URLSearchParams(query).getAll('signature');
  return values.length === 1 ? values[0] : undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function createEngageEndpoint(deps: EngageEndpointDeps): (req: IncomingMessage, res: ServerResponse, route: EngageRoute) => void {
  const now = deps.clock ?? Date.now;
  const countRequest = requestCounter('engage');

  // helmet's headers never change: flattened once, copied per answer (node validates them either way).
  const constantHeaders: string[] = [];
  for (const [k, v] of deps.securityHeaders) constantHeaders.push(k, v);

  const write = (res: ServerResponse, started: bigint, route: EngageRoute, response: PlainResponse, extra: HeaderPairs, close = false) => {
    const headers = constantHeaders.slice();
    for (const pair of extra) headers.push(pair[0], pair[1]);
    const own = response.headers;
    if (own) for (const k of Object.keys(own)) headers.push(k, own[k] as string);
    headers.push('Content-Type', CONTENT_TYPE_HEADER[response.contentType], 'Content-Length', String(Buffer.byteLength(response.body)));
    if (close) headers.push('Connection', 'close');
    res.writeHead(response.status, headers);
    // A string body: node appends it to the header block (one chunk); a Buffer is a chunk of its own.
    res.end(response.body);
    countRequest(response.status);
    if (!deps.requestLog.writes(response.status)) return; // a success below debug: no line to build
    deps.requestLog({
      method: 'POST',
      path: route.path,
      status: response.status,
      ms: elapsedMs(started),
      reason: response.rejection || undefined,
    });
  };

  /** Nearly always the store being unreachable: nothing was acknowledged, so tell Engage to come back. */
  const fail = (res: ServerResponse, started: bigint, route: EngageRoute, err: unknown): void => {
    const e = err instanceof Error ? err : new Error('non-error thrown');
    deps.logger.error({ err: { name: e.name, message: e.message } }, 'request failed before it was stored');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    write(res, started, route, { ...textResponse(503, 'Temporarily unavailable, retry later'), headers: { 'Retry-After': '5' } }, []);
  };

  const knownSources = new Set(deps.sourceIds);
  const multiTenant = knownSources.size > 1;

  const serve = async (req: IncomingMessage, res: ServerResponse, route: EngageRoute, started: bigint): Promise<void> => {
    try {
      const address = deps.clientAddress(req);
      const admission = deps.addressLimit.take(address);
      if (!admission.allowed) return write(res, started, route, textResponse(429, 'Too many requests'), admission.headers, true);
      if (route.badPath) return write(res, started, route, textResponse(400, 'Bad request path'), admission.headers, true);
      // Only the named tenant's keys are tried; with several tenants the path must name one.
      if (route.sourceId !== undefined && !knownSources.has(route.sourceId))
        return write(res, started, route, textResponse(404, 'Unknown source'), admission.headers, true);
      if (route.sourceId === undefined && multiTenant)
        return write(
          res,
          started,
          route,
          textResponse(404, 'This relay serves several sources: use <relay-url>/handover/rce/<source id>'),
          admission.headers,
          true,
        );
      if (!isJsonContentType(single(req.headers['content-type']))) {
        return write(res, started, route, textResponse(415, 'Content-Type must be application/json'), admission.headers, true);
      }
      // Engage calls this one URL for two things: Source SDK actions (signed) and webhooks (secret header).
      const sdkSignature = single(req.headers['x-smccsdk-signature']) ?? signatureFromQuery(route.query);
      const dimeloSecret = single(req.headers['x-dimelo-secret']);
      const isSdk = sdkSignature !== undefined || dimeloSecret === undefined;
      if (isSdk && (sdkSignature === undefined || !HEX_SHA512.test(sdkSignature))) {
        const reason =
          sdkSignature === undefined ? 'Missing X-SMCCSDK-SIGNATURE (Source SDK) or X-Dimelo-Secret (webhook) header' : 'Invalid signature';
        return write(res, started, route, textResponse(401, reason), admission.headers, true);
      }
      if (!isSdk && (dimeloSecret === undefined || dimeloSecret.length === 0 || dimeloSecret.length > MAX_SECRET_CHARS)) {
        return write(res, started, route, jsonError(401, 'invalid_secret', 'X-Dimelo-Secret does not match'), admission.headers, true);
      }
      const read = await readBoundedBody(req, deps.maxBodyBytes, { bytesInFlight: deps.bytesInFlight, address });
      if (!read.ok)
        return write(
          res,
          started,
          route,
          { ...textResponse(read.status, read.reason), ...(read.headers ? { headers: read.headers } : {}) },
          admission.headers,
          read.closeConnection,
        );

      const response = isSdk
        ? await deps.sourceSdk.handle({ rawBody: read.body, signature: sdkSignature, now: now(), sourceId: route.sourceId })
        : await deps.webhooks.deliver({ rawBody: read.body, secret: dimeloSecret, sourceId: route.sourceId });
      write(res, started, route, response, admission.headers);
    } catch (err) {
      fail(res, started, route, err);
    }
  };

  // Inside serve's try rather than a .catch() per request: no extra promise and closure per answer.
  return (req, res, route) => void serve(req, res, route, process.hrtime.bigint());
}
