import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { Redis } from 'ioredis';
import { benchConversation } from '../../bench/lib/fixtures';
import { connectRedis } from '../../relay/src/store/redis/connect';
import { parseRedisUrl } from '../../relay/src/store/redis/redisUrl';
import { TurnWrites } from '../../relay/src/store/redis/turnWrites';
import { RedisStore } from '../../relay/src/store/redisStore';
import { waitUntil } from '../helpers/waitUntil';

const redisUrl = (): string => {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: test/helpers/globalSetup.ts should have started redis-server');
  return url;
};

/** Counts what the process hands to its TCP sockets: single writes and writev batches (with their chunk counts). */
function spySocketWrites(): { single: () => number; batches: () => number[]; restore: () => void } {
  const single = jest.spyOn(net.Socket.prototype as unknown as { _write: () => void }, '_write');
  const batch = jest.spyOn(net.Socket.prototype as unknown as { _writev: (chunks: unknown[]) => void }, '_writev');
  return {
    single: () => single.mock.calls.length,
    batches: () => batch.mock.calls.map(([chunks]) => chunks.length),
    restore: () => {
      single.mockRestore();
      batch.mockRestore();
    },
  };
}

describe('Redis store: the commands of one event-loop turn leave in one socket write', () => {
  let client: Redis;
  const prefix = `test:turn:${randomUUID()}:`;

  beforeAll(async () => {
    const c = await connectRedis(parseRedisUrl(redisUrl()), redisUrl(), { commandTimeoutMs: 500, maxReconnectDelayMs: 100 });
    if (!('stream' in c)) throw new Error('expected a single-node client');
    client = c;
  });
  afterAll(() => client.disconnect());

  it('holds a turn: eight commands in one writev, answered each in order; the next turn is held again', async () => {
    const turn = new TurnWrites(client);
    const spy = spySocketWrites();
    try {
      const replies = Array.from({ length: 8 }, (_, i) => {
        turn.hold();
        return client.incrby(`${prefix}n`, i + 1);
      });
      expect(await Promise.all(replies)).toEqual([1, 3, 6, 10, 15, 21, 28, 36]);
      expect(spy.single()).toBe(0);
      expect(spy.batches()).toEqual([8]);
      turn.hold();
      const a = client.get(`${prefix}n`);
      turn.hold();
      const b = client.del(`${prefix}n`);
      expect(await Promise.all([a, b])).toEqual(['36', 1]);
      expect(spy.batches()).toEqual([8, 2]);
    } finally {
      spy.restore();
    }
  });

  it('a turn lost with its connection fails as an unheld command does (by the command timeout), and the client goes on', async () => {
    // ioredis drops what was in flight on a lost connection (autoResendUnfulfilledCommands: false), held or not.
    const unheld = client.set(`${prefix}lost`, '1');
    client.stream.destroy();
    await expect(unheld).rejects.toThrow(/timed out/);
    await waitUntil('reconnected', () => client.status === 'ready', { timeoutMs: 5000, intervalMs: 20 });
    const turn = new TurnWrites(client);
    turn.hold();
    const held = [client.set(`${prefix}lost`, '1'), client.incr(`${prefix}lost-n`)];
    client.stream.destroy();
    for (const p of held) await expect(p).rejects.toThrow(/timed out/);
    await waitUntil('reconnected', () => client.status === 'ready', { timeoutMs: 5000, intervalMs: 20 });
    turn.hold();
    expect(await client.set(`${prefix}after`, '1')).toBe('OK');
    await client.del(`${prefix}after`);
  });

  it('RedisStore holds turns by default: eight conversation reads in one write, and one each with batchWrites false', async () => {
    const stores = await Promise.all(
      [true, false].map((batchWrites) => RedisStore.connect(redisUrl(), { keyPrefix: `${prefix}${String(batchWrites)}:`, batchWrites })),
    );
    const conversations = Array.from({ length: 8 }, (_, i) => benchConversation(i));
    try {
      const written: number[][] = [];
      for (const store of stores) {
        for (const c of conversations) await store.apply({ conversation: { value: c, expectedVersion: null } });
        const spy = spySocketWrites();
        try {
          const read = await Promise.all(conversations.map((c) => store.getConversation(c.tenantId, c.threadId)));
          expect(read.map((c) => c?.threadId)).toEqual(conversations.map((c) => c.threadId));
          written.push([spy.single(), ...spy.batches()]);
        } finally {
          spy.restore();
        }
      }
      expect(written[0]).toEqual([0, 8]);
      // Unheld, each read goes out on its own (at least not all eight in one write).
      expect(written[1]?.[0]).toBeGreaterThan(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
