import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Request, type Response, type NextFunction } from 'express';
import type { Logger } from 'pino';
import { RELAY_API_PREFIX } from '../../contract/relayApi';
import type { ExtensionApiHandler } from './api/extensionApiHandler';
import type { SourceSdkHandler } from './engage/sourceSdkHandler';
import type { WebhookHandler } from './engage/webhookHandler';
import { AddressRateLimit } from './http/addressRateLimit';
import { clientAddress } from './http/clientAddress';
import { createEngageEndpoint, matchEngagePost } from './http/engageEndpoint';
import { isJsonContentType } from './http/jsonBody';
import { CONTENT_TYPE_HEADER, textResponse, jsonError, type PlainResponse } from './http/plainResponse';
import { elapsedMs, logRequest } from './http/requestLog';
import { helmetHeaders } from './http/securityHeaders';
import { countExpressRequest } from './metrics/httpRequests';

/** HTTP wiring only: adapts node:http and Express to the transport-agnostic handlers. */
export interface AppDeps {
  sourceSdk: SourceSdkHandler;
  webhooks: WebhookHandler;
  extensionApi: ExtensionApiHandler;
  logger: Logger;
  maxBodyBytes: number;
  rateLimitPerMinute: number;
  health: () => Promise<{ ready: boolean; checks: Record<string, string> }>;
  metrics: () => Promise<string>;
  clock?: () => number;
}

function send(res: Response, response: PlainResponse): void {
  res.status(response.status);
  res.setHeader('Content-Type', CONTENT_TYPE_HEADER[response.contentType]);
  for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v);
  res.send(response.body);
}

function headerValue(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The relay's request listener: `POST /handover/rce[/<sourceId>]` (Engage's hot path) on plain
 * node:http (see http/engageEndpoint.ts), every other route on Express. Both share the security
 * headers, the per-address limit and the request log.
 */
export function createRequestListener(deps: AppDeps): RequestListener {
  const securityHeaders = helmetHeaders();
  const addressLimit = new AddressRateLimit(deps.rateLimitPerMinute, 60_000, deps.clock);
  const engage = createEngageEndpoint({ ...deps, addressLimit, securityHeaders });
  const app = createExpressApp(deps, securityHeaders, addressLimit);
  return (req: IncomingMessage, res: ServerResponse) => {
    const route = matchEngagePost(req);
    if (route) engage(req, res, route);
    else app(req, res);
  };
}

function createExpressApp(deps: AppDeps, securityHeaders: ReturnType<typeof helmetHeaders>, addressLimit: AddressRateLimit): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((_req: Request, res: Response, next: NextFunction) => {
    for (const [k, v] of securityHeaders) res.setHeader(k, v);
    next();
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const rejection = res.locals.rejection as string | undefined;
      countExpressRequest(req.method, req.path, res.statusCode);
      logRequest(deps.logger, { method: req.method, path: req.path, status: res.statusCode, ms: elapsedMs(started), ...(rejection ? { reason: rejection } : {}) });
    });
    next();
  });

  const reply = (res: Response, response: PlainResponse) => {
    if (response.rejection) res.locals.rejection = response.rejection;
    send(res, response);
  };

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

  const publicLimiter = (req: Request, res: Response, next: NextFunction) => {
    const admission = addressLimit.take(clientAddress(req));
    for (const [k, v] of admission.headers) res.setHeader(k, v);
    if (!admission.allowed) return reply(res, textResponse(429, 'Too many requests'));
    next();
  };
  const rawJson = express.raw({ type: () => true, limit: deps.maxBodyBytes, inflate: false });
  const requireJson = (req: Request, res: Response, next: NextFunction) => {
    if (!isJsonContentType(headerValue(req, 'content-type'))) return reply(res, textResponse(415, 'Content-Type must be application/json'));
    next();
  };
  const bodyBuffer = (req: Request): Buffer => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

  // Webhook verification handshake (the POSTs to this URL never reach Express: see createRequestListener).
  app.get(['/handover/rce', '/handover/rce/:sourceId'], publicLimiter, (req, res) => {
    reply(res, deps.webhooks.verify(req.query as Record<string, unknown>));
  });

  app.post(`${RELAY_API_PREFIX}/*path`, publicLimiter, requireJson, rawJson, async (req, res) => {
    const headers: Record<string, string | undefined> = {};
    for (const name of Object.keys(req.headers)) headers[name] = headerValue(req, name);
    reply(res, await deps.extensionApi.handle({ path: req.path.slice(RELAY_API_PREFIX.length), rawBody: bodyBuffer(req), headers }));
  });

  app.use((_req: Request, res: Response) => reply(res, jsonError(404, 'not_found', 'No such route')));

  // Body-parser errors (size, aborted, encoding) and anything unexpected: a reason, never a stack or a secret.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    void _next;
    if (err.type === 'entity.too.large') return reply(res, textResponse(413, `Body larger than ${deps.maxBodyBytes} bytes`));
    if (err.type === 'encoding.unsupported') return reply(res, textResponse(415, 'Unsupported Content-Encoding (send identity)'));
    if (err.status && err.status >= 400 && err.status < 500) return reply(res, textResponse(err.status, 'Bad request body'));
    // Nearly always the store being unreachable: nothing was acknowledged, so tell the caller to
    // come back (Engage and the extension both retry) instead of a bare 500.
    deps.logger.error({ err: { name: err.name, message: err.message } }, 'request failed before it was stored');
    reply(res, { ...textResponse(503, 'Temporarily unavailable, retry later'), headers: { 'Retry-After': '5' } });
  });
  return app;
}
