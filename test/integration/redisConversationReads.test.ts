import { randomUUID } from 'node:crypto';
import { benchConversation } from '../../bench/lib/fixtures';
import { RedisStore } from '../../relay/src/store/redisStore';

const redisUrl = (): string => {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: test/helpers/globalSetup.ts should have started redis-server');
  return url;
};

describe('Redis store: conversation reads parse each stored text once', () => {
  it('a relay sees at once what another relay wrote, however often it read the conversation before', async () => {
    const keyPrefix = `test:reads:${randomUUID()}:`;
    const [a, b] = await Promise.all([RedisStore.connect(redisUrl(), { keyPrefix }), RedisStore.connect(redisUrl(), { keyPrefix })]);
    try {
      const c = benchConversation(7);
      await a.apply({ conversation: { value: c, expectedVersion: null } });
      const first = await a.getConversation(c.tenantId, c.threadId);
      expect(await a.getConversation(c.tenantId, c.threadId)).toBe(first);
      expect(first).toMatchObject({ status: 'active', version: 1 });

      await b.apply({ conversation: { value: { ...c, status: 'queued' }, expectedVersion: 1 } });
      expect(await a.getConversation(c.tenantId, c.threadId)).toMatchObject({ status: 'queued', version: 2 });
      // Its own write too, and a conversation gone is gone.
      await a.apply({ conversation: { value: { ...c, status: 'completed' }, expectedVersion: 2 } });
      expect(await a.getConversation(c.tenantId, c.threadId)).toMatchObject({ status: 'completed', version: 3 });
      expect(await b.purgeIdleConversations(Date.now() + 1, 10)).toBe(1);
      expect(await a.getConversation(c.tenantId, c.threadId)).toBeNull();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
