import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Request, type Response, type NextFunction } from 'express';
import type { Logger } from 'pino';
import { RELAY_API_PREFIX } from '../../contract/relayApi';
import type { ExtensionApiHandler, ExtensionHeaders } from './api/extensionApiHandler';
import type { TrustProxy } from './config';
import type { SourceSdkHandler } from './engage/sourceSdkHandler';
import type { WebhookHandler } from './engage/webhookHandler';
import { AddressRateLimit } from './http/addressRateLimit';
import { readBoundedBody } from './http/boundedBody';
import { BytesInFlight } from './http/bytesInFlight';
import { clientAddressResolver } from './http/clientAddress';
import { createEngageEndpoint, matchEngagePost } from './http/engageEndpoint';
import { isJsonContentType } from './http/jsonBody';
import { CONTENT_TYPE_HEADER, textResponse, jsonError, type PlainResponse } from './http/plainResponse';
import { createRequestLog, elapsedMs, type RequestLog } from './http/requestLog';
import { helmetHeaders } from './http/securityHeaders';
import { countExpressRequest } from './metrics/httpRequests';

/** HTTP wiring only: adapts node:http and Express to the transport-agnostic handlers. */
export interface AppDeps {
  sourceSdk: SourceSdkHandler;
  webhooks: WebhookHandler;
  extensionApi: ExtensionApiHandler;
  logger: Logger;
  /** Body limit of extension calls (/api/v1/…). */
  maxBodyBytes: number;
  /** Body limit of Engage's POSTs to /handover/rce. */
  engageMaxBodyBytes: number;
  maxBytesInFlightPerAddress: number;
  maxBytesInFlight: number;
  trustProxy: TrustProxy;
  rateLimitPerMinute: number;
  /** Every tenant's source id (several: Engage must name the tenant in the path). */
  sourceIds: readonly string[];
  clock?: () => number;
}

/** What the admin listener serves. */
export interface AdminDeps {
  logger: Logger;
  health: () => Promise<{ ready: boolean; checks: Record<string, string> }>;
  metrics: () => Promise<string>;
}

function send(res: Response, response: PlainResponse): void {
  res.status(response.status);
  res.setHeader('Content-Type', CONTENT_TYPE_HEADER[response.contentType]);
  for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v);
  // A body we did not read stays unread: close rather than let node drain it for keep-alive.
  if (!res.req.complete) res.setHeader('Connection', 'close');
  res.send(response.body);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The relay's public request listener: `POST /handover/rce[/<sourceId>]` (Engage's hot path) on
 * plain node:http (see http/engageEndpoint.ts), every other route on Express. Both share the
 * security headers, the per-address limit, the bytes-in-flight budget and the request log.
 */
export function createRequestListener(deps: AppDeps): RequestListener {
  const securityHeaders = helmetHeaders();
  const shared: PublicShared = {
    securityHeaders,
    addressLimit: new AddressRateLimit(deps.rateLimitPerMinute, 60_000, deps.clock),
    bytesInFlight: new BytesInFlight(deps.maxBytesInFlightPerAddress, deps.maxBytesInFlight),
    clientAddress: clientAddressResolver(deps.trustProxy),
    requestLog: createRequestLog(deps.logger, deps.clock),
  };
  const engage = createEngageEndpoint({ ...deps, ...shared, maxBodyBytes: deps.engageMaxBodyBytes });
  const app = createExpressApp(deps, shared);
  return (req: IncomingMessage, res: ServerResponse) => {
    const route = matchEngagePost(req);
    if (route) engage(req, res, route);
    else app(req, res);
  };
}

interface PublicShared {
  securityHeaders: ReturnType<typeof helmetHeaders>;
  addressLimit: AddressRateLimit;
  bytesInFlight: BytesInFlight;
  clientAddress: ReturnType<typeof clientAddressResolver>;
  requestLog: RequestLog;
}

function withRequestLog(app: express.Express, requestLog: RequestLog): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const rejection = res.locals.rejection as string | undefined;
      countExpressRequest(req.method, req.path, res.statusCode);
      requestLog({
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: elapsedMs(started),
        ...(rejection ? { reason: rejection } : {}),
      });
    });
    next();
  });
}

const reply = (res: Response, response: PlainResponse) => {
  if (response.rejection) res.locals.rejection = response.rejection;
  send(res, response);
};

function createExpressApp(deps: AppDeps, shared: PublicShared): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((_req: Request, res: Response, next: NextFunction) => {
    for (const [k, v] of shared.securityHeaders) res.setHeader(k, v);
    next();
  });
  withRequestLog(app, shared.requestLog);

  // Every public route, 404s included, spends the caller's per-address budget.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const admission = shared.addressLimit.take(shared.clientAddress(req));
    for (const [k, v] of admission.headers) res.setHeader(k, v);
    if (!admission.allowed) return reply(res, textResponse(429, 'Too many requests'));
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Webhook verification handshake (the POSTs to this URL never reach Express: see createRequestListener).
  app.get(['/handover/rce', '/handover/rce/:sourceId'], (req, res) => {
    reply(res, deps.webhooks.verify(req.query as Record<string, unknown>));
  });

  app.post(`${RELAY_API_PREFIX}/*path`, (req, res, next) => {
    if (!isJsonContentType(headerValue(req, 'content-type'))) return reply(res, textResponse(415, 'Content-Type must be application/json'));
    const headers: ExtensionHeaders = {};
    for (const name of Object.keys(req.headers)) headers[name] = headerValue(req, name);
    // Route, tenant, signature headers and timestamp first: a caller without them costs no body read.
    const admitted = deps.extensionApi.admit({ method: req.method, path: req.path.slice(RELAY_API_PREFIX.length), headers });
    if ('rejection' in admitted) return reply(res, admitted.rejection);
    readBoundedBody(req, deps.maxBodyBytes, { bytesInFlight: shared.bytesInFlight, address: shared.clientAddress(req) })
      .then(async (read) => {
        if (!read.ok) return reply(res, { ...textResponse(read.status, read.reason), ...(read.headers ? { headers: read.headers } : {}) });
        reply(res, await deps.extensionApi.handleAdmitted(admitted, read.body));
      })
      .catch(next);
  });

  app.use((_req: Request, res: Response) => reply(res, jsonError(404, 'not_found', 'No such route')));
  app.use(errorHandler(deps.logger));
  return app;
}

/** Anything unexpected: a reason, never a stack or a secret. */
function errorHandler(logger: Logger) {
  return (err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    void _next;
    if (err.status && err.status >= 400 && err.status < 500) return reply(res, textResponse(err.status, 'Bad request'));
    // Nearly always the store being unreachable: nothing was acknowledged, so tell the caller to
    // come back (Engage and the extension both retry) instead of a bare 500.
    logger.error({ err: { name: err.name, message: err.message } }, 'request failed before it was stored');
    reply(res, { ...textResponse(503, 'Temporarily unavailable, retry later'), headers: { 'Retry-After': '5' } });
  };
}

/**
 * Operator routes, on their own listener (ADMIN_PORT, loopback by default): /readyz reveals the
 * store's state and /metrics queries the store, so neither belongs on the internet-facing port.
 */
export function registerAdminRoutes(app: express.Express, deps: AdminDeps): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const health = await deps.health();
    res.status(health.ready ? 200 : 503).json(health);
  });
  app.get('/metrics', async (_req, res) => {
    res.type('text/plain; version=0.0.4').send(await deps.metrics());
  });
}

export function createAdminListener(deps: AdminDeps): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Counted like the public routes (probes and scrapes show in rce_http_requests_total), not logged: they come every few seconds.
  app.use((req: Request, res: Response, next: () => void) => {
    res.on('finish', () => countExpressRequest(req.method, req.path, res.statusCode));
    next();
  });
  registerAdminRoutes(app, deps);
  app.use((_req: Request, res: Response) => reply(res, jsonError(404, 'not_found', 'No such route')));
  app.use(errorHandler(deps.logger));
  return app;
}
