import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { relaySettingsSchema, secretsOf, type RelayConfig } from '../../relay/src/config';
import { createLogger } from '../../relay/src/log';
import { createRelay } from '../../relay/src/relay';
import { RedisStore } from '../../relay/src/store/redisStore';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import type { Store } from '../../relay/src/store/types';
import { failStartup, serveParent } from '../lib/common';
import { benchConversation, benchTenant } from '../lib/fixtures';

/**
 * The real relay (child process) for the agent-reply benchmark: createRelay with a SQLite file
 * or a Redis store, Cognigy pointing at the bench stub, logs at `info` into /dev/null (the
 * formatting and scrubbing cost is real, the disk is not). Engage is never called on this path.
 *
 * Before it reports ready it seeds CONVERSATIONS conversations whose handover is `active`
 * (an agent already took them), through the store API, so every agent reply takes the hot path:
 * verify → dedup → outbox (one notify job) → notify.
 *
 * RPC: stats, stop, and the profiler methods every bench child has (bench/lib/profilerRpc.ts).
 */

const storeKind = process.env.STORE === 'redis' ? 'redis' : 'sqlite';
const stubUrl = process.env.STUB_URL ?? '';
const conversations = Number(process.env.CONVERSATIONS ?? 1000);
const logLevel = process.env.RELAY_LOG_LEVEL ?? 'info';

async function main(): Promise<void> {
  const config: RelayConfig = {
    // The per-address (default 1200/min) and per-tenant (default 3000/min) limits would turn a
    // load test into a 429 test: raised far above the load.
    settings: relaySettingsSchema.parse({
      port: 0,
      host: '127.0.0.1',
      logLevel,
      rateLimitPerMinute: 1_000_000_000,
      tenantRateLimitPerMinute: 1_000_000_000,
      // BENCH_READ_RECEIPTS=false: the relay without the read receipt (a second outbound call per reply).
      readReceipts: process.env.BENCH_READ_RECEIPTS ?? 'true',
    }),
    tenants: [benchTenant(stubUrl)],
  };
  const logger = createLogger({
    level: logLevel,
    secrets: secretsOf(config),
    destination: pino.destination({ dest: '/dev/null', sync: false }),
  });

  const dir = mkdtempSync(path.join(tmpdir(), 'rce-bench-relay-'));
  let store: Store;
  if (storeKind === 'redis') {
    const url = process.env.REDIS_URL;
    if (!url) throw new Error('REDIS_URL is required for STORE=redis');
    store = await RedisStore.connect(url, { keyPrefix: `bench:${process.pid}:` });
  } else {
    store = SqliteStore.open(path.join(dir, 'relay.db'));
  }

  const threadIds: string[] = [];
  for (let i = 0; i < conversations; i++) {
    const value = benchConversation(i);
    threadIds.push(value.threadId);
    const { outcome } = await store.apply({ conversation: { value, expectedVersion: null } });
    if (outcome !== 'applied') throw new Error(`seeding conversation ${i}: ${outcome}`);
  }

  const relay = createRelay({ config, store, logger });
  const { url } = await relay.start(0, '127.0.0.1');

  serveParent(
    { url, threadIds, store: storeKind },
    {
      stats: async () => ({
        rssBytes: process.memoryUsage().rss,
        heapUsedBytes: process.memoryUsage().heapUsed,
        cpuMicros: process.cpuUsage().user + process.cpuUsage().system,
        outbox: { ...relay.worker.metrics },
        pending: (await store.outboxStats()).pending,
      }),
    },
    async () => {
      await relay.stop({ closeStore: true });
      logger.flush?.();
      rmSync(dir, { recursive: true, force: true });
    },
  );
}

main().catch(failStartup);
