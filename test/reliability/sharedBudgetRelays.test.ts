import { randomUUID } from 'node:crypto';
import { startRoundRobin } from '../helpers/httpFronts';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startRelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';

/**
 * Three relays on one Redis Cluster store share the Engage REST budget. Scaled down: Engage allows
 * 30 REST calls a minute here and the relays 27 (as 450 of 500 in production). Handovers need more
 * REST calls than that; Engage must never answer 429, however the work is spread.
 */
describe('3 relays, one Engage REST budget', () => {
  it('Engage answers no 429 while the relays together hold back to the budget', async () => {
    const clusterUrl = process.env.TEST_REDIS_CLUSTER_URL ?? '';
    const rig = await startRelayRig({
      store: { redisUrl: clusterUrl },
      logLevel: 'info',
      proxyEngage: true,
      settings: { engageRestPerMinute: 27 },
      engageOptions: { restRateLimitPerMinute: 30 },
    });
    const urls = [rig.relayUrl];
    const front = await startRoundRobin(() => urls);
    try {
      for (let i = 0; i < 2; i++) {
        urls.push((await rig.startExtraRelay({ silent: true })).url);
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
      await rig.close();
    }
  }, 60_000);
});
