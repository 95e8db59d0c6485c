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
  ])('accepts %s', (url, expected) => {
    expect(parseStoreUrl(url)).toEqual(expected);
  });

  it.each([
    ['', /unsupported store URL/],
    ['postgres://localhost/db', /unsupported store URL .*expected one of sqlite:/],
    ['./data/relay.db', /unsupported store URL/],
    ['sqlite:', /expected sqlite:<file path>/],
    ['sqlite://data/relay.db', /expected sqlite:<file path>/],
    ['redis://localhost:6379/abc', /database must be a number/],
  ])('refuses %j', (url, message) => {
    expect(() => parseStoreUrl(url)).toThrow(message);
  });

  it('does not echo a Redis password in errors', () => {
    expect(() => parseStoreUrl('redis://user:hunter2@host:6379/x')).toThrow(/user:\*\*\*@host/);
    expect(() => parseStoreUrl('redis://user:hunter2@host:6379/x')).not.toThrow(/hunter2/);
  });
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
