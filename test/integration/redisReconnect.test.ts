import { randomUUID } from 'node:crypto';
import net from 'node:net';
import pino from 'pino';
import { RedisStore } from '../../relay/src/store/redisStore';
import type { NewOutboxJob, Store } from '../../relay/src/store/types';
import { waitUntil } from '../helpers/waitUntil';
import { startRedisServer, type RedisServerHandle } from '../helpers/redisServer';

// Restarting Redis would disturb the other test files, so this file runs its own server.

const succeeds = (p: Promise<unknown>): Promise<boolean> =>
  p.then(
    () => true,
    () => false,
  );

function job(payload: string): NewOutboxJob {
  return { tenantId: 't', threadId: 'c', lane: 't/c/L', kind: 'cognigy.notify', payload, deadlineAt: Date.now() + 60_000 };
}

describe('RedisStore reconnect', () => {
  let server: RedisServerHandle;
  let store: Store | undefined;
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  let consoleError: jest.SpyInstance;

  beforeAll(async () => {
    server = await startRedisServer();
    process.on('unhandledRejection', onUnhandled);
    // ioredis prints "[ioredis] Unhandled error event" through console.error when nobody listens.
    consoleError = jest.spyOn(console, 'error');
  });

  afterAll(async () => {
    await store?.close();
    await server.stop();
    process.off('unhandledRejection', onUnhandled);
    consoleError.mockRestore();
  });

  it('fails fast while Redis is down and recovers after it restarts', async () => {
    const s = await RedisStore.connect(server.url, { keyPrefix: `test:reconnect:${randomUUID()}:`, logger });
    store = s;
    await s.ping();
    expect((await s.apply({ jobs: [job('before')] })).outcome).toBe('applied');

    await server.restart(async () => {
      await waitUntil('ping to fail', async () => !(await succeeds(s.ping())), { timeoutMs: 8_000, intervalMs: 25 });
      // ping does not wait for reconnects at all.
      let t = Date.now();
      await expect(s.ping()).rejects.toThrow(/not connected/);
      expect(Date.now() - t).toBeLessThan(100);
      // Other calls give up after a couple of reconnect attempts instead of hanging.
      t = Date.now();
      await expect(s.apply({ jobs: [job('while down')] })).rejects.toThrow();
      await expect(s.outboxStats()).rejects.toThrow();
      expect(Date.now() - t).toBeLessThan(5_000);
    });

    await waitUntil('ping to succeed after restart', () => succeeds(s.ping()), { timeoutMs: 8_000, intervalMs: 25 });
    // The restarted server lost the data (no persistence) and the cached Lua scripts; both must not matter.
    expect((await s.apply({ dedup: { key: 'after', ttlMs: 60_000 }, jobs: [job('after')] })).outcome).toBe('applied');
    expect((await s.apply({ scope: { tenantId: 't', threadId: 'c' }, dedup: { key: 'after', ttlMs: 60_000 } })).outcome).toBe('duplicate');
    const claimed = await s.claimDueJobs({ now: Date.now(), limit: 10, owner: 'r1', leaseMs: 10_000 });
    expect(claimed.map((j) => j.payload)).toEqual(['after']);
    expect((await s.complete(claimed[0]!, 'r1')).completed).toBe(true);
    expect(await s.outboxStats()).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });

    await s.close();
    store = undefined;
    await expect(s.ping()).rejects.toThrow();

    expect(unhandled).toEqual([]);
    expect(consoleError).not.toHaveBeenCalled();
    const messages = logLines.map((l) => (JSON.parse(l) as { msg?: string }).msg);
    expect(messages).toContain('redis store: connection lost; reconnecting');
    expect(messages).toContain('redis store: reconnected');
  });

  it('rejects quickly with a clear error when nothing listens, leaving no reconnect loop behind', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    const t = Date.now();
    await expect(RedisStore.connect(`redis://127.0.0.1:${port}`, { keyPrefix: 'x:' })).rejects.toThrow(
      new RegExp(`cannot connect to Redis store at redis://127.0.0.1:${port}`),
    );
    expect(Date.now() - t).toBeLessThan(3_000);
  });
});
