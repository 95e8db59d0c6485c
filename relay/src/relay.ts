import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ExtensionApiHandler } from './api/extensionApiHandler';
import { createRequestListener } from './app';
import type { RelayConfig } from './config';
import { SourceSdkHandler } from './engage/sourceSdkHandler';
import { TenantIdentities } from './engage/tenantIdentities';
import { WebhookHandler } from './engage/webhookHandler';
import { HandoverEngine } from './handover/engine';
import { createOutboundHttp } from './http/outboundHttp';
import { createJobExecutor } from './outbox/executors';
import { SlidingWindowLimiter, SlidingWindowRestGate } from './outbox/rateGate';
import { OutboxWorker } from './outbox/worker';
import type { Store } from './store/types';

/** How long request ids and Engage ids are remembered; agent replies are accepted for as long (see SourceSdkHandler.checkTime). */
const DEDUP_TTL_MS = 7 * 24 * 3600_000;

export interface RelayOptions {
  config: RelayConfig;
  store: Store;
  logger: Logger;
  clock?: () => number;
  /** Outbox tuning, mostly for tests (short backoff, fast polling). */
  outbox?: { backoff?: { baseMs: number; capMs: number }; idlePollMs?: number; leaseMs?: number };
  /** Timeout of calls to Engage and Cognigy. */
  outboundTimeoutMs?: number;
}

export interface Relay {
  readonly engine: HandoverEngine;
  readonly worker: OutboxWorker;
  /** Bot and Agent identity creation per tenant (background, retried). */
  readonly identities: TenantIdentities;
  readonly store: Store;
  /** Starts HTTP and the outbox worker; resolves with the base URL. */
  start(port?: number, host?: string): Promise<{ url: string; port: number }>;
  /**
   * Graceful: stop accepting, finish in-flight requests, let outbox calls in flight finish and try
   * once more what is due, close the store. Each phase waits at most `graceMs` (default 3 s).
   */
  stop(options?: { closeStore?: boolean; graceMs?: number }): Promise<void>;
}

export function createRelay(options: RelayOptions): Relay {
  const { config, store, logger } = options;
  const tenants = config.tenants;
  const tenantMap = new Map(tenants.map((t) => [t.sourceId, t]));
  const outbound = createOutboundHttp(options.outboundTimeoutMs ? { timeoutMs: options.outboundTimeoutMs } : {});
  let worker: OutboxWorker | null = null;

  const engine = new HandoverEngine({
    store,
    logger,
    settings: { outboxDeadlineMs: config.settings.outboxDeadlineMs, dedupTtlMs: DEDUP_TTL_MS, replayWindowMs: config.settings.replayWindowMs },
    ...(options.clock ? { clock: options.clock } : {}),
    // The worker is built below (it needs the engine); until then nothing is leased.
    outbox: {
      leaseRequest: () => worker?.leaseRequest() ?? null,
      runLeased: (jobs) => worker?.runLeased(jobs),
      kick: () => worker?.kick(),
    },
  });
  worker = new OutboxWorker({
    store,
    logger,
    execute: createJobExecutor({ http: outbound.client, postText: outbound.postText, tenants: tenantMap, restGate: new SlidingWindowRestGate(config.settings.engageRestPerMinute, options.clock), threads: engine }),
    onGiveUp: (job, reason) => engine.jobGaveUp(job, reason),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.outbox?.backoff ? { backoff: options.outbox.backoff } : {}),
    ...(options.outbox?.idlePollMs ? { idlePollMs: options.outbox.idlePollMs } : {}),
    ...(options.outbox?.leaseMs ? { leaseMs: options.outbox.leaseMs } : {}),
  });
  const activeWorker = worker;
  // Bot and Agent identities, once per tenant, beside the handovers (never in a conversation's lane).
  const identities = new TenantIdentities({ tenants, postText: outbound.postText, logger, ...(options.outbox?.backoff ? { retry: options.outbox.backoff } : {}) });

  // Public routes: per client address in app.ts, per tenant here (once the caller proved which tenant it is).
  const tenantRequests = new SlidingWindowLimiter(config.settings.tenantRateLimitPerMinute, 60_000, options.clock);
  const tenantLimit = (tenantId: string) => tenantRequests.tryTake(tenantId);
  const listener = createRequestListener({
    sourceSdk: new SourceSdkHandler({ tenants, engine, logger, replayWindowMs: config.settings.replayWindowMs, replyRetryWindowMs: DEDUP_TTL_MS, tenantLimit, onImplementationInfo: (sourceId) => identities.sourceSaved(sourceId) }),
    webhooks: new WebhookHandler({ tenants, engine, logger, tenantLimit }),
    extensionApi: new ExtensionApiHandler({ tenants, engine, store, logger, tenantLimit, ...(options.clock ? { clock: options.clock } : {}) }),
    logger,
    maxBodyBytes: config.settings.maxBodyBytes,
    rateLimitPerMinute: config.settings.rateLimitPerMinute,
    ...(options.clock ? { clock: options.clock } : {}),
    health: async () => {
      try {
        await store.ping();
        return { ready: true, checks: { store: 'ok' } };
      } catch (err) {
        return { ready: false, checks: { store: `unavailable: ${(err as Error).message.slice(0, 80)}` } };
      }
    },
    metrics: async () => {
      const stats = await store.outboxStats().catch(() => null);
      const m = activeWorker.metrics;
      return [
        '# HELP rce_outbox_delivered_total Outbox jobs delivered by this relay.',
        '# TYPE rce_outbox_delivered_total counter',
        `rce_outbox_delivered_total ${m.delivered}`,
        '# HELP rce_outbox_retries_total Failed attempts that were rescheduled.',
        '# TYPE rce_outbox_retries_total counter',
        `rce_outbox_retries_total ${m.retried}`,
        '# HELP rce_outbox_abandoned_total Jobs given up (deadline or permanent error).',
        '# TYPE rce_outbox_abandoned_total counter',
        `rce_outbox_abandoned_total ${m.gaveUp}`,
        '# HELP rce_outbox_pending Jobs waiting in the shared store.',
        '# TYPE rce_outbox_pending gauge',
        `rce_outbox_pending ${stats?.pending ?? -1}`,
        '# HELP rce_outbox_dead_letters Jobs in the dead-letter list.',
        '# TYPE rce_outbox_dead_letters gauge',
        `rce_outbox_dead_letters ${stats?.deadLettered ?? -1}`,
        '',
      ].join('\n');
    },
  });

  let server: Server | null = null;
  return {
    engine,
    worker: activeWorker,
    identities,
    store,
    async start(port = config.settings.port, host = config.settings.host) {
      server = await new Promise<Server>((resolve, reject) => {
        const s = createServer(listener);
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          resolve(s);
        });
      });
      server.keepAliveTimeout = 65_000;
      activeWorker.start();
      identities.start();
      const address = server.address() as AddressInfo;
      const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host;
      logger.info({ port: address.port, tenants: tenants.map((t) => t.sourceId), store: store.kind }, 'relay listening');
      return { url: `http://${shownHost}:${address.port}`, port: address.port };
    },
    async stop({ closeStore = true, graceMs = 3_000 } = {}) {
      identities.stop();
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => {
          // A keep-alive connection busy at close() stays open after its response until keepAliveTimeout:
          // close connections as they go idle, and cut what is still open (slow or stuck clients) after the grace.
          const sweep = setInterval(() => s.closeIdleConnections(), 25);
          const cut = setTimeout(() => s.closeAllConnections(), graceMs);
          s.close(() => {
            clearInterval(sweep);
            clearTimeout(cut);
            resolve();
          });
          s.closeIdleConnections();
        });
        server = null;
      }
      // Calls still waiting on Engage or Cognigy after the grace are cut: the jobs stay in the outbox
      // (recorded as a failed attempt, lease released) and run again after the restart.
      let graceOver = false;
      const cutOutbound = setTimeout(() => {
        graceOver = true;
        outbound.close();
      }, graceMs);
      await activeWorker.stop();
      // Flush: one more pass over what is due now (e.g. jobs enqueued by the last requests), within the same grace.
      if (!graceOver) await activeWorker.drainOnce().catch((err: Error) => logger.warn({ err: { message: err.message } }, 'final outbox pass failed'));
      clearTimeout(cutOutbound);
      outbound.close();
      if (closeStore) await store.close();
      logger.info('relay stopped');
    },
  };
}
