import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, parseStoreUrl } from '../../relay/src/store/openStore';

describe('parseStoreUrl', () => {
  it.each([
    ['sqlite:./data/relay.db', { kind: 'sqlite', filePath: './data/relay.db' }],
    ['sqlite:/var/lib/relay/relay.db', { kind: 'sqlite', filePath: '/var/lib/relay/relay.db' }],
    ['redis://localhost:6379', { kind: 'redis', url: 'redis://localhost:6379' }],
    ['redis://:secret@redis.internal:6379/2', { kind: 'redis', url: 'redis://:secret@redis.internal:6379/2' }],
    ['rediss://cache.example.com:6380/0', { kind: 'redis', url: 'rediss://cache.example.com:6380/0' }],
    ['redis-sentinel://s1:26379,s2:26379/mymaster', { kind: 'redis', url: 'redis-sentinel://s1:26379,s2:26379/mymaster' }],
    ['redis-sentinel://app:pw@10.0.0.1:26379/main?db=2', { kind: 'redis', url: 'redis-sentinel://app:pw@10.0.0.1:26379/main?db=2' }],
    ['redis-cluster://n1:7000,n2:7001,n3:7002', { kind: 'redis', url: 'redis-cluster://n1:7000,n2:7001,n3:7002' }],
  ])('accepts %s', (url, expected) => {
    expect(parseStoreUrl(url)).toEqual(expected);
  });

  it.each([
    ['', /unsupported STORE_URL/],
    ['postgres://localhost/db', /unsupported STORE_URL .*expected one of sqlite:.*redis-sentinel:.*redis-cluster:/],
    ['./data/relay.db', /unsupported STORE_URL/],
    ['redis+sentinel://s1:26379/mymaster', /unsupported STORE_URL/],
    ['redis-sentinel://s1:26379', /must end with \/<masterName>/],
    ['redis-sentinel://s1:26379,s2/mymaster', /host:port/],
    ['redis-sentinel://s1:26379/mymaster?db=x', /database must be a number/],
    ['redis-sentinel://s1:26379/mymaster?timeout=1', /unknown query parameter "timeout"/],
    ['redis-cluster://', /missing host list/],
    ['redis-cluster://n1:7000/3', /no path/],
    ['redis-cluster://n1:99999', /port must be 1-65535/],
    ['sqlite:', /expected sqlite:<file path>/],
    ['sqlite://data/relay.db', /expected sqlite:<file path>/],
    ['redis://localhost:6379/abc', /database must be a number/],
  ])('refuses %j', (url, message) => {
    expect(() => parseStoreUrl(url)).toThrow(message);
  });

  it.each(['redis://user:hunter2@host:6379/x', 'redis-sentinel://user:hunter2@s1:26379', 'redis-cluster://user:hunter2@n1:7000/0'])(
    'names STORE_URL but never the password in the error for %s',
    (url) => {
      expect(() => parseStoreUrl(url)).toThrow(/STORE_URL .*user:\*\*\*@/);
      expect(() => parseStoreUrl(url)).not.toThrow(/hunter2/);
    },
  );
});

describe('openStore', () => {
  it('opens a SQLite store, creating its directory', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-open-'));
    try {
      const store = await openStore(`sqlite:${path.join(dir, 'nested', 'relay.db')}`);
      expect(store.kind).toBe('sqlite');
      await store.ping();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens a Redis store', async () => {
    const url = process.env.TEST_REDIS_URL;
    if (!url) throw new Error('TEST_REDIS_URL is not set');
    const store = await openStore(url);
    expect(store.kind).toBe('redis');
    await store.ping();
    await store.close();
  });
});
