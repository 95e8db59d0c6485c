import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { startRedisServer, type RedisServerHandle } from '../helpers/redisServer';
import { startAnswerDelayingProxy } from '../helpers/httpFronts';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';

/**
 * Redis (append-only file, fsync always) goes away for 3 s while Cognigy calls are in flight:
 * the calls succeed while the store is down, so their completions cannot be written. The relay
 * that holds them completes them once Redis is back instead of sending them again.
 */
describe('a 3 s Redis restart with deliveries in flight', () => {
  let redis: RedisServerHandle;
  let rig: RelayRig;
  let proxy: Awaited<ReturnType<typeof startAnswerDelayingProxy>>;
  beforeAll(async () => {
    redis = await startRedisServer({ persistent: true });
    proxy = await startAnswerDelayingProxy();
    // The production lease length: the blip is shorter than it.
    rig = await startRelayRig({
      store: { redisUrl: redis.url },
      outbox: { backoff: { baseMs: 20, capMs: 400 }, idlePollMs: 20, leaseMs: 8_000 },
      logLevel: 'info',
      tenantValues: () => ({ cognigyApiBaseUrl: proxy.url }),
    });
    proxy.target = rig.cognigy.url;
  });
  afterAll(async () => {
    await rig?.close();
    await proxy?.close();
    await redis?.stop();
  });

  const notified = (s: CognigySession) =>
    rig.cognigy
      .notifications()
      .filter((c) => c.sessionId === s.sessionId)
      .map((c) => c.text);

  it('sends no reply twice and loses none', async () => {
    const conversations = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const session = { URLToken: 'tok', userId: `u-blip-${i}`, sessionId: `s-blip-${i}` };
        expect((await rig.call('startHandover', session, { firstMessage: 'help' })).status).toBe(200);
        const threadId = threadIdFor(rig.tenant.sourceId, session);
        await waitUntil('in the Agent folder', () => rig.engage.thread(threadId)?.inAgentFolder === true, { timeoutMs: 15_000 });
        return { session, threadId, expected: [] as string[] };
      }),
    );
    // Cognigy acts on every call, but its answers wait: one notify per conversation is in flight when Redis goes away.
    proxy.holdAnswers = true;
    for (const [i, c] of conversations.entries()) {
      for (let n = 1; n <= 3; n++) {
        expect((await rig.engage.agentReply({ threadId: c.threadId, body: `c${i} r${n}` })).outcome).toBe('delivered');
        c.expected.push(`c${i} r${n}`);
      }
    }
    await waitUntil('a notify in flight per conversation', () => proxy.held >= conversations.length, { timeoutMs: 5_000 });

    const downAt = Date.now();
    await redis.restart(async () => {
      // The calls in flight now succeed; their completions meet a store that is down.
      proxy.holdAnswers = false;
      proxy.release();
      await waitUntil('the answers reached the relay', () => proxy.held === 0);
      await sleep(Math.max(0, 3_000 - (Date.now() - downAt)));
    });
    const downMs = Date.now() - downAt;
    // The agents go on.
    for (const [i, c] of conversations.entries()) {
      expect((await rig.engage.agentReply({ threadId: c.threadId, body: `c${i} after` })).outcome).toBe('delivered');
      c.expected.push(`c${i} after`);
    }
    for (const c of conversations)
      await waitUntil(`replies of ${c.session.sessionId}`, () => notified(c.session).length >= c.expected.length, { timeoutMs: 20_000 });
    await sleep(500);
    let duplicates = 0;
    let delivered = 0;
    for (const c of conversations) {
      const got = notified(c.session);
      delivered += got.length;
      // Every Cognigy call of the conversation (the 'active' inject in flight at the restart, and the notifies).
      const calls = [...rig.cognigy.notifications(), ...rig.cognigy.injections()]
        .filter((x) => x.sessionId === c.session.sessionId)
        .map((x) =>
          x.kind === 'notify' ? `notify:${x.text}` : `inject:${String((x.data.handover as { status?: string } | undefined)?.status)}`,
        );
      duplicates += calls.length - new Set(calls).size;
      expect(got).toEqual(c.expected);
    }
    expect(duplicates).toBe(0);
    const messages = rig.logLines.map((l) => (JSON.parse(l) as { msg?: string }).msg);
    expect(messages).toContain('outbox completion recorded after the store came back');
    expect(await rig.store.outboxStats()).toMatchObject({ pending: 0, deadLettered: 0 });
    recordFigures('redis-blip', {
      downMs,
      inFlightAtRestart: conversations.length,
      repliesAcked: conversations.reduce((n, c) => n + c.expected.length, 0),
      delivered,
      duplicates,
    });
  }, 60_000);
});
