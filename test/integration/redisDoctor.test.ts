import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { redisDoctorLines } from '../../relay/src/doctor/redisDoctor';
import { RedisStore } from '../../relay/src/store/redisStore';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import { startRedisServer, type RedisServerHandle } from '../helpers/redisServer';

describe('doctor: Redis persistence and eviction', () => {
  let persistent: RedisServerHandle;
  beforeAll(async () => {
    persistent = await startRedisServer({ persistent: true });
  });
  afterAll(async () => persistent?.stop());

  async function linesFor(url: string) {
    const store = await RedisStore.connect(url, { keyPrefix: `doctor:${randomUUID()}:` });
    try {
      return await redisDoctorLines(store);
    } finally {
      await store.close();
    }
  }

  it('passes a Redis with appendonly yes and noeviction', async () => {
    const lines = await linesFor(persistent.url);
    expect(lines.map((l) => [l.ok, l.detail])).toEqual([
      [true, 'appendonly yes'],
      [true, 'maxmemory-policy noeviction'],
    ]);
  });

  it('warns about a Redis without the append-only file and with an evicting policy', async () => {
    spawnSync('redis-cli', ['-p', String(persistent.port), 'config', 'set', 'maxmemory-policy', 'allkeys-lru']);
    try {
      const lines = await linesFor(persistent.url);
      expect(lines.filter((l) => !l.ok).map((l) => l.detail)).toEqual([expect.stringMatching(/maxmemory-policy is allkeys-lru: .*set noeviction/)]);
    } finally {
      spawnSync('redis-cli', ['-p', String(persistent.port), 'config', 'set', 'maxmemory-policy', 'noeviction']);
    }
    const shared = await linesFor(process.env.TEST_REDIS_URL ?? '');
    expect(shared.filter((l) => !l.ok).map((l) => l.detail)).toEqual([expect.stringMatching(/appendonly is no: a Redis restart loses every conversation/)]);
  });

  it('checks every primary of a Cluster', async () => {
    const lines = await linesFor(process.env.TEST_REDIS_CLUSTER_URL ?? '');
    expect(lines.filter((l) => l.check.endsWith('persistence'))).toHaveLength(3);
  });

  it('says nothing for SQLite', async () => {
    const store = SqliteStore.open(':memory:');
    try {
      expect(await redisDoctorLines(store)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
