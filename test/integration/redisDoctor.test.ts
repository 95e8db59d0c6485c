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
      [true, 'appendonly yes (no RDB snapshots)'],
      [true, 'maxmemory-policy noeviction'],
    ]);
  });

  it('warns about a Redis without the append-only file and with an evicting policy', async () => {
    spawnSync('redis-cli', ['-p', String(persistent.port), 'config', 'set', 'maxmemory-policy', 'allkeys-lru']);
    try {
      const lines = await linesFor(persistent.url);
      expect(lines.filter((l) => !l.ok).map((l) => l.detail)).toEqual([
        expect.stringMatching(/maxmemory-policy is allkeys-lru: .*set noeviction/),
      ]);
    } finally {
      spawnSync('redis-cli', ['-p', String(persistent.port), 'config', 'set', 'maxmemory-policy', 'noeviction']);
    }
    const shared = await linesFor(process.env.TEST_REDIS_URL ?? '');
    expect(shared.filter((l) => !l.ok).map((l) => l.detail)).toEqual([
      expect.stringMatching(/^appendonly is no and save is empty: Redis keeps nothing on disk, a restart loses every conversation/),
    ]);
  });

  it('tells RDB snapshots alone from no persistence at all', async () => {
    const snapshotsOnly = await startRedisServer();
    try {
      spawnSync('redis-cli', ['-p', String(snapshotsOnly.port), 'config', 'set', 'save', '900 1']);
      const lines = await linesFor(snapshotsOnly.url);
      expect(lines.filter((l) => !l.ok).map((l) => l.detail)).toEqual([
        expect.stringMatching(
          /^appendonly is no \(RDB snapshots "900 1" only\): a Redis restart loses every conversation and queued reply written since the last snapshot/,
        ),
      ]);
    } finally {
      await snapshotsOnly.stop();
    }
  });

  it('a Redis that refuses CONFIG (as managed services do): cannot check, not a failure', async () => {
    const managed = await startRedisServer();
    try {
      // The default user loses the CONFIG command, as on services that rename or forbid it.
      const acl = spawnSync('redis-cli', ['-p', String(managed.port), 'acl', 'setuser', 'default', '-config'], { encoding: 'utf8' });
      expect(acl.stdout.trim()).toBe('OK');
      const lines = await linesFor(managed.url);
      expect(lines).toEqual([
        {
          ok: true,
          advisory: true,
          check: expect.stringMatching(/^Redis 127\.0\.0\.1:\d+ settings$/),
          detail: expect.stringMatching(/^cannot check: CONFIG GET is refused .*appendonly yes.*noeviction/),
        },
      ]);
    } finally {
      await managed.stop();
    }
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
