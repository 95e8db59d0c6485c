import { randomUUID } from 'node:crypto';
import { createRelay, type Relay } from '../../relay/src/relay';
import { startRoundRobin } from '../helpers/httpFronts';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startRig } from '../helpers/reliabilityRig';
import { sleep, waitUntil } from '../helpers/waitUntil';
import { capturingLogger, FAST_OUTBOX, openTestStore } from '../helpers/relayParts';

/**
 * Three relays on one Redis Cluster store share the Engage REST budget. Scaled down: Engage allows
 * 30 REST calls a minute here and the relays 27 (as 450 of 500 in production). Handovers need more
 * REST calls than that; Engage must never answer 429, however the work is spread.
 */
describe('3 relays, one Engage REST budget', () => {
  it('Engage answers no 429 while the relays together hold back to the budget', async () => {
    const keyPrefix = `budget-relays:${randomUUID()}:`;
    const clusterUrl = process.env.TEST_REDIS_CLUSTER_URL ?? '';
    const rig = await startRig({
      store: { redisUrl: clusterUrl },
      keyPrefix,
      logLevel: 'info',
      proxyEngage: true,
      settings: { engageRestPerMinute: 27 },
      engageOptions: { restRateLimitPerMinute: 30 },
    });
    const extra: Relay[] = [];
    const urls = [rig.relayUrl];
    const front = await startRoundRobin(() => urls);
    try {
      for (let i = 0; i < 2; i++) {
        const relay = createRelay({
          config: rig.config,
          store: await openTestStore({ redisUrl: clusterUrl, keyPrefix }),
          logger: capturingLogger(rig.config, 'silent').logger,
          outbox: FAST_OUTBOX,
          outboundTimeoutMs: 2_000,
        });
        urls.push((await relay.start(0, '127.0.0.1')).url);
        extra.push(relay);
      }
      rig.engage.setSourceBaseUri(`${front.url}/handover/rce`);
      await rig.engage.saveSource();
      const restBefore = rig.tenants[0]!.proxy!.calls.filter((c) => c.path.startsWith('/1.0/')).length;
      // 24 handovers, spread over the three relays (each does a thread lookup and a categorisation).
      for (let i = 0; i < 24; i++) {
        const session = { URLToken: 'tok', userId: `u-budget-${i}`, sessionId: `s-budget-${i}-${randomUUID().slice(0, 4)}` };
        expect((await rig.call('startHandover', session, { firstMessage: 'help' })).status).toBe(200);
      }
      const rest = () => rig.tenants[0]!.proxy!.calls.filter((c) => c.path.startsWith('/1.0/')).slice(restBefore);
      await waitUntil('REST calls at Engage', () => rest().length >= 20, { timeoutMs: 15_000 });
      await sleep(3_000);
      const calls = rest();
      const tooMany = calls.filter((c) => c.status === 429).length;
      expect(tooMany).toBe(0);
      expect(calls.length).toBeLessThanOrEqual(27);
      recordFigures('shared-engage-budget', {
        relays: 3,
        handovers: 24,
        engageLimitPerMinute: 30,
        relayBudgetPerMinute: 27,
        restCallsInWindow: calls.length,
        engage429: tooMany,
      });
    } finally {
      await front.close();
      for (const r of extra) await r.stop({ closeStore: true });
      await rig.close();
    }
  }, 60_000);
});
