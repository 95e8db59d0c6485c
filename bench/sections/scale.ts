import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import pino from 'pino';
import { relaySettingsSchema, secretsOf, type RelayConfig } from '../../relay/src/config';
import { createLogger } from '../../relay/src/log';
import { createRelay } from '../../relay/src/relay';
import { RedisStore } from '../../relay/src/store/redisStore';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import type { Store } from '../../relay/src/store/types';
import { BENCH_SOURCE_ID, failStartup, percentileSorted, serveParent, sortedCopy } from '../lib/common';
import { benchConversation, benchTenant, NOWHERE } from '../lib/fixtures';

/**
 * Scale of state (child process, so RSS is this relay's alone): a running relay (createRelay,
 * HTTP listening, outbox worker idle) whose store holds COUNT open handovers, inserted through
 * the store API. Then LOOKUPS random lookups by thread id and by Engage thread id, one at a
 * time, each timed; repeated ROUNDS times.
 */

const storeKind = process.env.STORE === 'redis' ? 'redis' : 'sqlite';
const count = Number(process.env.COUNT ?? 100_000);
const lookups = Number(process.env.LOOKUPS ?? 20_000);
const rounds = Number(process.env.ROUNDS ?? 3);

export interface ScaleRound {
  getP50Ms: number;
  getP99Ms: number;
  getMaxMs: number;
  findP50Ms: number;
  findP99Ms: number;
  findMaxMs: number;
}

export interface ScaleResult {
  store: 'sqlite' | 'redis';
  count: number;
  lookups: number;
  insertSeconds: number;
  rssBeforeBytes: number;
  rssAfterInsertBytes: number;
  rssAfterLookupsBytes: number;
  heapUsedBytes: number;
  rounds: ScaleRound[];
  /** Redis only: memory of redis-server itself (INFO memory). */
  redisUsedMemoryBytes?: number;
  redisRssBytes?: number;
  sqliteFileBytes?: number;
}

async function timeLookups(indices: Uint32Array, fn: (i: number) => Promise<unknown>): Promise<Float64Array> {
  const out = new Float64Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const t = process.hrtime.bigint();
    const found = await fn(indices[k] as number);
    out[k] = Number(process.hrtime.bigint() - t) / 1e6;
    if (!found) throw new Error(`lookup ${indices[k]} found nothing`);
  }
  return out;
}

async function main(): Promise<void> {
  const config: RelayConfig = {
    settings: relaySettingsSchema.parse({ port: 0, host: '127.0.0.1', logLevel: 'info' }),
    tenants: [benchTenant(NOWHERE)],
  };
  const logger = createLogger({
    level: 'info',
    secrets: secretsOf(config),
    destination: pino.destination({ dest: '/dev/null', sync: false }),
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'rce-bench-scale-'));
  const dbFile = path.join(dir, 'relay.db');
  const prefix = `benchscale:${process.pid}:`;
  let store: Store;
  let redisAdmin: Redis | null = null;
  if (storeKind === 'redis') {
    const url = process.env.REDIS_URL;
    if (!url) throw new Error('REDIS_URL is required for STORE=redis');
    store = await RedisStore.connect(url, { keyPrefix: prefix });
    redisAdmin = new Redis(url);
  } else {
    store = SqliteStore.open(dbFile);
  }
  const relay = createRelay({ config, store, logger });
  await relay.start(0, '127.0.0.1');
  global.gc?.();
  const rssBeforeBytes = process.memoryUsage().rss;

  const threadIds: string[] = new Array<string>(count);
  const engageIds: string[] = new Array<string>(count);
  const insertStarted = process.hrtime.bigint();
  const concurrency = 64;
  let nextIndex = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = nextIndex++;
        if (i >= count) return;
        const value = benchConversation(i, i % 2 === 0 ? 'queued' : 'active');
        threadIds[i] = value.threadId;
        engageIds[i] = value.engageThreadId as string;
        const { outcome } = await store.apply({
          conversation: { value, expectedVersion: null },
          dedup: { key: `api:${BENCH_SOURCE_ID}:scale-${i}`, ttlMs: 7 * 24 * 3600_000 },
        });
        if (outcome !== 'applied') throw new Error(`insert ${i}: ${outcome}`);
      }
    }),
  );
  const insertSeconds = Number(process.hrtime.bigint() - insertStarted) / 1e9;
  const rssAfterInsertBytes = process.memoryUsage().rss;

  const result: ScaleResult = {
    store: storeKind,
    count,
    lookups,
    insertSeconds,
    rssBeforeBytes,
    rssAfterInsertBytes,
    rssAfterLookupsBytes: 0,
    heapUsedBytes: 0,
    rounds: [],
  };
  for (let r = 0; r < rounds; r++) {
    const indices = new Uint32Array(lookups);
    for (let k = 0; k < lookups; k++) indices[k] = Math.floor(Math.random() * count);
    const get = sortedCopy(await timeLookups(indices, (i) => store.getConversation(BENCH_SOURCE_ID, threadIds[i] as string)));
    const find = sortedCopy(
      await timeLookups(indices, (i) => store.findConversationByEngageThread(BENCH_SOURCE_ID, engageIds[i] as string)),
    );
    result.rounds.push({
      getP50Ms: percentileSorted(get, 50),
      getP99Ms: percentileSorted(get, 99),
      getMaxMs: percentileSorted(get, 100),
      findP50Ms: percentileSorted(find, 50),
      findP99Ms: percentileSorted(find, 99),
      findMaxMs: percentileSorted(find, 100),
    });
  }
  result.rssAfterLookupsBytes = process.memoryUsage().rss;
  result.heapUsedBytes = process.memoryUsage().heapUsed;

  if (redisAdmin) {
    const info = await redisAdmin.info('memory');
    const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    result.redisUsedMemoryBytes = field('used_memory');
    result.redisRssBytes = field('used_memory_rss');
  } else {
    const { statSync } = await import('node:fs');
    const size = (f: string) => {
      try {
        return statSync(f).size;
      } catch {
        return 0;
      }
    };
    result.sqliteFileBytes = size(dbFile) + size(`${dbFile}-wal`);
  }

  serveParent(result, {}, async () => {
    await relay.stop({ closeStore: true });
    if (redisAdmin) {
      // Leave the shared redis-server as we found it.
      let cursor = '0';
      do {
        const [nextCursor, keys] = await redisAdmin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = nextCursor;
        if (keys.length) await redisAdmin.unlink(...keys);
      } while (cursor !== '0');
      await redisAdmin.quit();
    }
    rmSync(dir, { recursive: true, force: true });
  });
}

main().catch(failStartup);
