/**
 * Retention at scale: 100,000 conversations (each with an Engage index entry) written with a clock
 * RETENTION_DAYS in the past, then purged the way the relay does it (batches of 500). Reports the
 * time and memory of the purge for SQLite and for Redis (REDIS_URL, default a redis-server this
 * script starts on a free loopback port).
 *   npx tsx bench/retentionPurge.ts [count]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startRetention } from '../relay/src/store/retention';
import { RedisStore } from '../relay/src/store/redisStore';
import { SqliteStore } from '../relay/src/store/sqliteStore';
import type { Conversation, Store } from '../relay/src/store/types';
import { startRedisServer } from '../test/helpers/redisServer';

const COUNT = Number(process.argv[2] ?? 100_000);
const DAY = 86_400_000;

function conversation(i: number): Conversation {
  const at = new Date(0).toISOString();
  return {
    tenantId: 'bench-tenant',
    threadId: `thread-${i}`,
    session: { URLToken: 'token', userId: `user-${i}`, sessionId: `session-${i}` },
    authorId: `author-${i}`,
    authorScreenname: `User ${i}`,
    status: 'completed',
    handoverCount: 1,
    options: { forwardOnlyHandoverConversations: true, getQueueUpdates: true },
    engageThreadId: `engage-${i}`,
    interventionId: null,
    queue: null,
    lastEventAt: null,
    messageCount: 3,
    version: 1,
    createdAt: at,
    updatedAt: at,
  };
}

async function fill(store: Store): Promise<void> {
  for (let i = 0; i < COUNT; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, COUNT - i) }, (_, k) =>
        store.apply({ conversation: { value: conversation(i + k), expectedVersion: null } }),
      ),
    );
  }
}

async function measure(name: string, open: (clock: () => number) => Promise<Store>): Promise<void> {
  let now = Date.now() - 31 * DAY;
  const store = await open(() => now);
  const t0 = Date.now();
  await fill(store);
  const fillMs = Date.now() - t0;
  now = Date.now();
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const retention = startRetention({
    store,
    logger: pino({ level: 'silent' }),
    retentionMs: 30 * DAY,
    clock: () => now,
    intervalMs: 3_600_000,
  });
  const p0 = process.hrtime.bigint();
  const purged = await retention.runOnce();
  const purgeMs = Number(process.hrtime.bigint() - p0) / 1e6;
  clearInterval(sampler);
  retention.stop();
  const left = await store.getConversation('bench-tenant', 'thread-0');
  console.log(
    JSON.stringify({
      store: name,
      conversations: COUNT,
      fillMs,
      purged,
      purgeMs: Math.round(purgeMs),
      perBatchMs: +(purgeMs / Math.ceil(COUNT / 500)).toFixed(2),
      rssGrowthMiB: +((peakRss - rssBefore) / 2 ** 20).toFixed(1),
      leftAfter: left === null ? 0 : 1,
    }),
  );
  await store.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-retention-'));
  try {
    await measure('sqlite', async (clock) => SqliteStore.open(path.join(dir, 'relay.db'), { clock }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const server = process.env.REDIS_URL ? null : await startRedisServer();
  try {
    await measure('redis', (clock) => RedisStore.connect(process.env.REDIS_URL ?? server!.url, { keyPrefix: 'bench-retention:', clock }));
  } finally {
    await server?.stop();
  }
}

void main();
