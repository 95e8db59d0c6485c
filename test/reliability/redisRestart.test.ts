import axios from 'axios';
import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { startRedisServer, type RedisServerHandle } from '../helpers/redisServer';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';

/**
 * Redis (run with the append-only file, as production must) restarts mid-conversation while
 * replies wait in the outbox. The relay reconnects, /readyz says so, and nothing acknowledged is lost.
 */
describe('a Redis restart mid-conversation', () => {
  let redis: RedisServerHandle;
  let rig: RelayRig;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startRedisServer({ persistent: true });
    rig = await startRelayRig({ store: { redisUrl: redis.url } });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await rig?.close();
    await redis?.stop();
  });

  const readiness = () =>
    axios.get<{ ready: boolean; checks: { store: string } }>(`${rig.adminUrl}/readyz`, { validateStatus: () => true });
  const notified = (s: CognigySession) =>
    rig.cognigy
      .notifications()
      .filter((c) => c.sessionId === s.sessionId)
      .map((c) => c.text);

  it('reconnects, reports readiness truthfully and loses nothing', async () => {
    const { engage, cognigy, tenant } = rig;
    const conversations = ['x', 'y'].map((n) => {
      const session = { URLToken: 'tok', userId: `u-redis-${n}`, sessionId: `s-redis-${n}` };
      return { name: n, session, threadId: threadIdFor(tenant.sourceId, session), expected: [] as string[], userMessages: [] as string[] };
    });
    for (const c of conversations) {
      expect((await rig.call('startHandover', c.session, { firstMessage: `${c.name} help` })).status).toBe(200);
      c.userMessages.push(`${c.name} help`);
    }
    for (const c of conversations) await waitUntil('in Agent folder', () => engage.thread(c.threadId)?.inAgentFolder === true);
    const reply = async (c: (typeof conversations)[number], text: string) => {
      expect((await engage.agentReply({ threadId: c.threadId, body: text })).outcome).toBe('delivered');
      c.expected.push(text);
    };
    for (const c of conversations) await reply(c, `${c.name} r1`);
    for (const c of conversations) await waitUntil('r1 delivered', () => notified(c.session).length === 1);

    // Replies acknowledged while Cognigy is failing wait in Redis across the restart.
    await cognigy.setFault('http503');
    for (const c of conversations) {
      await reply(c, `${c.name} r2`);
      await reply(c, `${c.name} r3`);
    }
    expect((await rig.store.outboxStats()).pending).toBeGreaterThanOrEqual(4);

    const [x] = conversations;
    if (!x) throw new Error('conversations expected');
    let refusedReply = '';
    let statusWhileDown = 0;
    let readyWhileDown = true;
    await redis.restart(async () => {
      await waitUntil('readiness to drop', async () => (await readiness()).status === 503, { timeoutMs: 10_000 });
      const r = await readiness();
      readyWhileDown = r.data.ready;
      expect(r.data.checks.store).toMatch(/^unavailable/);
      // Engage's reply meets a relay without its store: no 2xx, so Engage keeps it and retries later.
      const attempt = await engage.agentReply({ threadId: x.threadId, body: 'x r4' });
      expect(attempt.outcome).not.toBe('delivered');
      refusedReply = attempt.contentId;
      const userMessage = await rig.call('userMessage', x.session, { text: 'x during the restart' });
      statusWhileDown = userMessage.status;
      expect(userMessage.status).toBeGreaterThanOrEqual(500);
    });
    await waitUntil('readiness back', async () => (await readiness()).status === 200, { timeoutMs: 15_000 });

    // Engage retries the reply it never got a 2xx for; the Flow retries its message.
    expect((await engage.agentReply({ threadId: x.threadId, body: '', contentId: refusedReply })).outcome).toBe('delivered');
    x.expected.push('x r4');
    expect((await rig.call('userMessage', x.session, { text: 'x during the restart' })).body).toMatchObject({ forwarded: true });
    x.userMessages.push('x during the restart');
    await cognigy.setFault('none');
    for (const c of conversations) await reply(c, `${c.name} r5`);
    engage.closeIntervention(x.threadId);

    for (const c of conversations)
      await waitUntil(`replies of ${c.name}`, () => notified(c.session).length >= c.expected.length, { timeoutMs: 15_000 });
    await waitUntil('x completed', async () => (await rig.store.getConversation(tenant.sourceId, x.threadId))?.status === 'completed', {
      timeoutMs: 10_000,
    });
    await waitUntil('x back in the Bot category', () => engage.thread(x.threadId)?.categoryIds.join() === tenant.botCategoryId, {
      timeoutMs: 10_000,
    });
    await sleep(200);
    let delivered = 0;
    for (const c of conversations) {
      expect(notified(c.session)).toEqual(c.expected);
      delivered += notified(c.session).length;
      expect(
        engage
          .thread(c.threadId)
          ?.messages.filter((m) => m.side !== 'agent')
          .map((m) => m.body),
      ).toEqual(c.userMessages);
    }
    expect(await rig.store.outboxStats()).toMatchObject({ pending: 0, deadLettered: 0 });
    const messages = rig.logLines.map((l) => (JSON.parse(l) as { msg?: string }).msg);
    expect(messages).toContain('redis store: connection lost; reconnecting');
    expect(messages).toContain('redis store: reconnected');
    expect(unhandled).toEqual([]);
    recordFigures('redis-restart', {
      readyWhileDown,
      statusOfRequestsWhileDown: statusWhileDown,
      repliesAcked: conversations.reduce((n, c) => n + c.expected.length, 0),
      repliesDelivered: delivered,
      duplicates: 0,
    });
  }, 45_000);
});
