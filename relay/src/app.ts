import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response, type NextFunction } from 'express';
import helmet from 'helmet';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import { RELAY_API_PREFIX } from '../../contract/relayApi';
import type { ExtensionApiHandler } from './api/extensionApiHandler';
import type { SourceSdkHandler } from './engage/sourceSdkHandler';
import type { WebhookHandler } from './engage/webhookHandler';
import { isJsonContentType } from './http/jsonBody';
import { textResponse, jsonError, type PlainResponse } from './http/plainResponse';

/** HTTP wiring only: adapts Express to the transport-agnostic handlers. */
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
  res.type(response.contentType === 'application/json' ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
  for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v);
  res.send(response.body);
}

function headerValue(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  const securityHeaders = helmet();
  app.use(securityHeaders);

  // One log line per request; the path only (queries may carry signatures or verify tokens).
  const requestLog = (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const rejection = res.locals.rejection as string | undefined;
      const line = { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10, ...(rejection ? { reason: rejection } : {}) };
      if (res.statusCode >= 500) deps.logger.error(line, 'request failed');
      else if (res.statusCode >= 400) deps.logger.warn(line, 'request rejected');
      else deps.logger.debug(line, 'request');
    });
    next();
  };
  app.use(requestLog);

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

  const publicLimiter = rateLimit({
    windowMs: 60_000,
    limit: deps.rateLimitPerMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, res) => reply(res, textResponse(429, 'Too many requests')),
  });
  const rawJson = express.raw({ type: () => true, limit: deps.maxBodyBytes });
  const requireJson = (req: Request, res: Response, next: NextFunction) => {
    if (!isJsonContentType(headerValue(req, 'content-type'))) return reply(res, textResponse(415, 'Content-Type must be application/json'));
    next();
  };
  const bodyBuffer = (req: Request): Buffer => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

  // Webhook verification handshake.
  app.get(['/handover/rce', '/handover/rce/:sourceId'], publicLimiter, (req, res) => {
    reply(res, deps.webhooks.verify(req.query as Record<string, unknown>));
  });

  // Engage calls one URL for two things: Source SDK actions (signed) and webhooks (secret header).
  const engagePost = async (req: Request, res: Response) => {
    const sourceId = typeof req.params.sourceId === 'string' ? req.params.sourceId : undefined;
    const sdkSignature = headerValue(req, 'x-smccsdk-signature') ?? (typeof req.query.signature === 'string' ? req.query.signature : undefined);
    const dimeloSecret = headerValue(req, 'x-dimelo-secret');
    if (sdkSignature !== undefined || dimeloSecret === undefined) {
      const now = (deps.clock ?? Date.now)();
      return reply(res, await deps.sourceSdk.handle({ rawBody: bodyBuffer(req), signature: sdkSignature, now, ...(sourceId ? { sourceId } : {}) }));
    }
    reply(res, await deps.webhooks.deliver({ rawBody: bodyBuffer(req), secret: dimeloSecret, ...(sourceId ? { sourceId } : {}) }));
  };
  app.post(['/handover/rce', '/handover/rce/:sourceId'], publicLimiter, requireJson, rawJson, engagePost);

  app.post(`${RELAY_API_PREFIX}/*path`, publicLimiter, requireJson, rawJson, async (req, res) => {
    const headers: Record<string, string | undefined> = {};
    for (const name of Object.keys(req.headers)) headers[name] = headerValue(req, name);
    reply(res, await deps.extensionApi.handle({ path: req.path.slice(RELAY_API_PREFIX.length), rawBody: bodyBuffer(req), headers }));
  });

  app.use((_req: Request, res: Response) => reply(res, jsonError(404, 'not_found', 'No such route')));

  // Body-parser errors (size, aborted) and anything unexpected: a reason, never a stack or a secret.
  const errorHandler = (err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    void _next;
    if (err.type === 'entity.too.large') return reply(res, textResponse(413, `Body larger than ${deps.maxBodyBytes} bytes`));
    if (err.status && err.status >= 400 && err.status < 500) return reply(res, textResponse(err.status, 'Bad request body'));
    // Nearly always the store being unreachable: nothing was acknowledged, so tell the caller to
    // come back (Engage and the extension both retry) instead of a bare 500.
    deps.logger.error({ err: { name: err.name, message: err.message } }, 'request failed before it was stored');
    reply(res, { ...textResponse(503, 'Temporarily unavailable, retry later'), headers: { 'Retry-After': '5' } });
  };
  app.use(errorHandler);

  // Hot path: POST /handover/rce[/:sourceId] (every agent reply) skips Express' router and runs
  // the very same middleware functions in the same order as the route above (helmet, request
  // log, per-address limiter, 415 check, raw body with its 413 limit, handler; errors to the same
  // error handler). Only plain paths take this way; anything else (other methods and routes,
  // percent-encoded or differently cased paths, trailing slashes) goes through Express unchanged.
  const hotChain = [securityHeaders, requestLog, publicLimiter, requireJson, rawJson, engagePost] as ReadonlyArray<(req: Request, res: Response, next: NextFunction) => unknown>;
  const expressHandle = (app as unknown as { handle: (req: IncomingMessage, res: ServerResponse, done?: (err?: unknown) => void) => void }).handle.bind(app);
  const dispatchHot = (request: IncomingMessage, response: ServerResponse, sourceId: string | undefined): void => {
    // What app.handle and the router set up before a route runs.
    const req = Object.setPrototypeOf(request, app.request) as Request;
    const res = Object.setPrototypeOf(response, app.response) as Response;
    (req as { res: Response }).res = res;
    (res as { req: Request }).req = req;
    if (!res.locals) res.locals = Object.create(null) as Response['locals'];
    req.originalUrl = req.originalUrl || req.url;
    req.baseUrl = '';
    req.params = sourceId === undefined ? {} : { sourceId };
    let index = 0;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return finalFailure(res);
      failed = true;
      try {
        errorHandler(err as Error, req, res, (e?: unknown) => (e === undefined ? undefined : finalFailure(res)));
      } catch {
        finalFailure(res);
      }
    };
    const next: NextFunction = (err?: unknown) => {
      if (err !== undefined && err !== null && err !== 'route' && err !== 'router') return fail(err);
      const layer = hotChain[index++];
      if (!layer) return; // the handler always answers
      try {
        const result = layer(req, res, next);
        if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(undefined, (e: unknown) => next(e ?? new Error('Rejected promise')));
      } catch (e) {
        next(e);
      }
    };
    next();
  };
  (app as unknown as { handle: typeof expressHandle }).handle = (req, res, done) => {
    if (req.method === 'POST' && req.url !== undefined) {
      const match = HOT_ENGAGE_PATH.exec(req.url);
      if (match) return dispatchHot(req, res, match[1]);
    }
    expressHandle(req, res, done);
  };
  return app;
}

/** `/handover/rce` or `/handover/rce/<plain id>`, optional query; nothing that needs decoding. */
const HOT_ENGAGE_PATH = /^\/handover\/rce(?:\/([A-Za-z0-9_.~-]+))?(?:\?[^#]*)?$/;

/** Express' final handler for an error the error handler could not answer (never expected). */
function finalFailure(res: ServerResponse): void {
  if (res.headersSent) {
    res.req.socket.destroy();
    return;
  }
  res.statusCode = 500;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end('Internal Server Error');
}
