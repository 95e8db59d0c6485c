import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ExtensionApiHandler } from './api/extensionApiHandler';
import { createAdminListener, createRequestListener } from './app';
import type { RelayConfig } from './config';
import { SourceSdkHandler } from './engage/sourceSdkHandler';
import { TenantIdentities } from './engage/tenantIdentities';
import { WebhookHandler } from './engage/webhookHandler';
import { HandoverEngine } from './handover/engine';
import { createOutboundHttp } from './http/outboundHttp';
import { RelayMetrics } from './metrics/relayMetrics';
import { createJobExecutor } from './outbox/executors';
import { EngageLookups } from './engage/engageLookups';
import { SlidingWindowLimiter, SlidingWindowRestGate } from './outbox/rateGate';
import { leaseOwnerOf } from './outbox/leaseOwner';
import { SharedBudget, SharedRestGate } from './outbox/sharedBudget';
import { startRetention } from './store/retention';
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
  /**
   * Starts the public and admin listeners and the outbox worker; resolves with their base URLs.
   * Port 0 asks for a free port (tests, tools): the admin listener then takes a free port too.
   */
  start(port?: number, host?: string): Promise<{ url: string; port: number; adminUrl: string }>;
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
  let retention: ReturnType<typeof startRetention> | null = null;

  const metrics: RelayMetrics = new RelayMetrics({
    outboxCounts: () => activeWorker.metrics,
    outboxStats: () => store.outboxStats(),
    tenantIds: tenants.map((t) => t.sourceId),
    engageRestPerMinute: config.settings.engageRestPerMinute,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  // One REST budget per tenant for the outbox's calls and the synchronous lookups alike, counted per tenant.
  const restGate = metrics.countRestCalls(
    store.kind === 'redis'
      ? new SharedRestGate(store, config.settings.engageRestPerMinute, options.clock)
      : new SlidingWindowRestGate(config.settings.engageRestPerMinute, options.clock),
  );
  const engage = new EngageLookups({ http: outbound.client, restGate, logger, ...(options.clock ? { clock: options.clock } : {}) });
  const engine = new HandoverEngine({
    store,
    logger,
    engage,
    settings: {
      outboxDeadlineMs: config.settings.outboxDeadlineMs,
      dedupTtlMs: DEDUP_TTL_MS,
      replayWindowMs: config.settings.replayWindowMs,
      readReceipts: config.settings.readReceipts,
      ...(config.settings.userFilesByContent ? { userFilesByContent: config.settings.allowHttpAttachments ? 'http' : 'https' } : {}),
    },
    clock: options.clock,
    // The worker is built below (it needs the engine); until then nothing is leased.
    outbox: {
      leaseRequest: () => worker?.leaseRequest() ?? null,
      runLeased: (jobs) => worker?.runLeased(jobs),
      kick: () => worker?.kick(),
    },
  });
  worker = new OutboxWorker({
    queue: store,
    logger,
    execute: metrics.timeDeliveries(
      createJobExecutor({ http: outbound.client, postText: outbound.postText, tenants: tenantMap, restGate, threads: engine, logger }),
    ),
    onGiveUp: (job, reason) => engine.jobGaveUp(job, reason),
    ...(options.clock ? { clock: options.clock } : {}),
    backoff: options.outbox?.backoff,
    ...(options.outbox?.idlePollMs ? { idlePollMs: options.outbox.idlePollMs } : {}),
    leaseMs: options.outbox?.leaseMs ?? config.settings.outboxLeaseMs,
    ...(leaseOwnerOf(config.settings) ? { owner: leaseOwnerOf(config.settings) } : {}),
  });
  const activeWorker = worker;
  // Bot and Agent identities, once per tenant, beside the handovers (never in a conversation's lane).
  const identities = new TenantIdentities({ tenants, postText: outbound.postText, logger, retry: options.outbox?.backoff });

  // Public routes: per client address in app.ts, per tenant here (once the caller proved which tenant it is).
  // On Redis the per-tenant budget is shared by every relay (SQLite serves one process).
  const tenantRequests =
    store.kind === 'redis'
      ? new SharedBudget(store, {
          limit: config.settings.tenantRateLimitPerMinute,
          windowMs: 60_000,
          batch: Math.max(1, Math.min(50, Math.floor(config.settings.tenantRateLimitPerMinute / 100))),
          clock: options.clock,
        })
      : new SlidingWindowLimiter(config.settings.tenantRateLimitPerMinute, 60_000, options.clock);
  const tenantLimit = (tenantId: string) => tenantRequests.tryTake(`tenant-requests/${tenantId}`);
  const listener = createRequestListener({
    sourceSdk: new SourceSdkHandler({
      tenants,
      engine,
      logger,
      replayWindowMs: config.settings.replayWindowMs,
      replyRetryWindowMs: DEDUP_TTL_MS,
      tenantLimit,
      allowHttpAttachments: config.settings.allowHttpAttachments,
      onImplementationInfo: (sourceId) => identities.sourceSaved(sourceId),
    }),
    webhooks: new WebhookHandler({ tenants, engine, logger, tenantLimit }),
    extensionApi: new ExtensionApiHandler({ tenants, engine, store, logger, tenantLimit, clock: options.clock }),
    logger,
    maxBodyBytes: config.settings.maxBodyBytes,
    engageMaxBodyBytes: config.settings.engageMaxBodyBytes,
    maxBytesInFlightPerAddress: config.settings.maxBytesInFlightPerAddress,
    maxBytesInFlight: config.settings.maxBytesInFlight,
    trustProxy: config.settings.trustProxy,
    rateLimitPerMinute: config.settings.rateLimitPerMinute,
    sourceIds: tenants.map((t) => t.sourceId),
    clock: options.clock,
  });
  const adminListener = createAdminListener({
    logger,
    health: async () => {
      try {
        await store.ping();
        return { ready: true, checks: { store: 'ok' } };
      } catch (err) {
        return { ready: false, checks: { store: `unavailable: ${(err as Error).message.slice(0, 80)}` } };
      }
    },
    metrics: () => metrics.render(),
  });

  let server: Server | null = null;
  let adminServer: Server | null = null;
  return {
    engine,
    worker: activeWorker,
    identities,
    store,
    async start(port = config.settings.port, host = config.settings.host) {
      // Headers and body must arrive within the configured times (a stalled upload is cut with
      // 408); node checks every half second so the cut comes close to the limit.
      const timeouts = {
        headersTimeout: config.settings.headersTimeoutMs,
        requestTimeout: config.settings.requestTimeoutMs,
        connectionsCheckingInterval: 500,
      };
      server = await listen(createServer(timeouts, listener), port, host);
      server.keepAliveTimeout = 65_000;
      adminServer = await listen(
        createServer(timeouts, adminListener),
        port === 0 ? 0 : config.settings.adminPort,
        config.settings.adminHost,
      ).catch(async (err: Error) => {
        await new Promise<void>((resolve) => server?.close(() => resolve()));
        throw err;
      });
      activeWorker.start();
      retention ??= startRetention({ store, logger, retentionMs: config.settings.retentionDays * 86_400_000, clock: options.clock });
      identities.start();
      const address = server.address() as AddressInfo;
      const adminAddress = adminServer.address() as AddressInfo;
      const shown = (h: string) => (h === '0.0.0.0' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h);
      logger.info(
        { port: address.port, adminPort: adminAddress.port, tenants: tenants.map((t) => t.sourceId), store: store.kind },
        'relay listening',
      );
      return {
        url: `http://${shown(host)}:${address.port}`,
        port: address.port,
        adminUrl: `http://${shown(config.settings.adminHost)}:${adminAddress.port}`,
      };
    },
    async stop({ closeStore = true, graceMs = 3_000 } = {}) {
      retention?.stop();
      retention = null;
      if (adminServer) {
        const a = adminServer;
        a.closeAllConnections();
        await new Promise<void>((resolve) => a.close(() => resolve()));
        adminServer = null;
      }
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
      if (!graceOver)
        await activeWorker.drainOnce().catch((err: Error) => logger.warn({ err: { message: err.message } }, 'final outbox pass failed'));
      clearTimeout(cutOutbound);
      outbound.close();
      if (closeStore) await store.close();
      logger.info('relay stopped');
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
