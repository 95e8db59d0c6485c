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
  app.use(helmet());

  // One log line per request; the path only (queries may carry signatures or verify tokens).
  app.use((req: Request, res: Response, next: NextFunction) => {
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
  app.post(['/handover/rce', '/handover/rce/:sourceId'], publicLimiter, requireJson, rawJson, async (req, res) => {
    const sourceId = typeof req.params.sourceId === 'string' ? req.params.sourceId : undefined;
    const sdkSignature = headerValue(req, 'x-smccsdk-signature') ?? (typeof req.query.signature === 'string' ? req.query.signature : undefined);
    const dimeloSecret = headerValue(req, 'x-dimelo-secret');
    if (sdkSignature !== undefined || dimeloSecret === undefined) {
      const now = (deps.clock ?? Date.now)();
      return reply(res, await deps.sourceSdk.handle({ rawBody: bodyBuffer(req), signature: sdkSignature, now, ...(sourceId ? { sourceId } : {}) }));
    }
    reply(res, await deps.webhooks.deliver({ rawBody: bodyBuffer(req), secret: dimeloSecret, ...(sourceId ? { sourceId } : {}) }));
  });

  app.post(`${RELAY_API_PREFIX}/*path`, publicLimiter, requireJson, rawJson, async (req, res) => {
    const headers: Record<string, string | undefined> = {};
    for (const name of Object.keys(req.headers)) headers[name] = headerValue(req, name);
    reply(res, await deps.extensionApi.handle({ path: req.path.slice(RELAY_API_PREFIX.length), rawBody: bodyBuffer(req), headers }));
  });

  app.use((_req: Request, res: Response) => reply(res, jsonError(404, 'not_found', 'No such route')));

  // Body-parser errors (size, aborted) and anything unexpected: a reason, never a stack or a secret.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    void _next;
    if (err.type === 'entity.too.large') return reply(res, textResponse(413, `Body larger than ${deps.maxBodyBytes} bytes`));
    if (err.status && err.status >= 400 && err.status < 500) return reply(res, textResponse(err.status, 'Bad request body'));
    // Nearly always the store being unreachable: nothing was acknowledged, so tell the caller to
    // come back (Engage and the extension both retry) instead of a bare 500.
    deps.logger.error({ err: { name: err.name, message: err.message } }, 'request failed before it was stored');
    reply(res, { ...textResponse(503, 'Temporarily unavailable, retry later'), headers: { 'Retry-After': '5' } });
  });
  return app;
}
