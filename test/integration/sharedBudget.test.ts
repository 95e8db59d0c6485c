import { randomUUID } from 'node:crypto';
import { DeliveryError } from '../../relay/src/outbox/deliveryError';
import { SharedBudget, SharedRestGate } from '../../relay/src/outbox/sharedBudget';
import { RedisStore } from '../../relay/src/store/redisStore';

/** Three relays' budgets on one Redis Cluster store: the limit holds for all of them together. */
describe('budgets shared by every relay on a Redis store', () => {
  const stores: RedisStore[] = [];
  afterAll(async () => Promise.all(stores.map((s) => s.close())));

  async function relays(n: number): Promise<RedisStore[]> {
    const keyPrefix = `budget:${randomUUID()}:`;
    const out: RedisStore[] = [];
    for (let i = 0; i < n; i++) out.push(await RedisStore.connect(process.env.TEST_REDIS_CLUSTER_URL ?? '', { keyPrefix }));
    stores.push(...out);
    return out;
  }

  it('the Engage REST budget (30/min here) holds across 3 relays hammering it', async () => {
    const gates = (await relays(3)).map((s) => new SharedRestGate(s, 30));
    let allowed = 0;
    let refused = 0;
    await Promise.all(
      gates.map(async (gate) => {
        for (let i = 0; i < 40; i++) {
          try {
            await gate.take('tenant-1');
            allowed += 1;
          } catch (err) {
            expect(err).toBeInstanceOf(DeliveryError);
            expect((err as DeliveryError).retryAfterMs).toBeGreaterThan(0);
            refused += 1;
          }
        }
      }),
    );
    expect(allowed).toBeLessThanOrEqual(30);
    // Tokens a relay took but did not spend are lost for the window: at most one batch per relay.
    expect(allowed).toBeGreaterThanOrEqual(30 - 3 * 1);
    expect(refused).toBe(120 - allowed);
    // Another tenant has its own budget.
    await expect(gates[0]!.take('tenant-2')).resolves.toBeUndefined();
  });

  it('request admission (tryTake) stays within the limit plus one batch per relay', async () => {
    const budgets = (await relays(3)).map((s) => new SharedBudget(s, { limit: 60, windowMs: 60_000, batch: 5 }));
    let allowed = 0;
    for (let round = 0; round < 60; round++) {
      for (const b of budgets) if (b.tryTake('tenant-1') === 0) allowed += 1;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(allowed).toBeLessThanOrEqual(60 + 3 * 5);
    expect(allowed).toBeGreaterThanOrEqual(45);
  });
});
