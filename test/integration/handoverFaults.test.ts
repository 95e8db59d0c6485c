import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { startRelayRig, type RelayRig, type RigStore } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

async function startHandover(journey: RelayRig, session: CognigySession): Promise<string> {
  const response = await signedRelayCall(journey.relayUrl, journey.tenant, 'startHandover', {
    ...envelopeFor(journey.tenant, session, `start-${session.sessionId}`),
    firstMessage: 'help please',
  });
  expect(response.status).toBe(200);
  const threadId = threadIdFor(journey.tenant.sourceId, session);
  await journey.waitForAgentCategory(threadId);
  return threadId;
}

const notifiedTexts = (journey: RelayRig, sessionId: string) =>
  journey.cognigy
    .notifications()
    .filter((c) => c.sessionId === sessionId)
    .map((c) => c.text);

describe.each<RigStore>(['sqlite', 'redis'])('delivery guarantees under faults (%s store)', (storeKind) => {
  let journey: RelayRig;
  beforeEach(async () => {
    journey = await startRelayRig({ store: storeKind });
  });
  afterEach(async () => {
    await journey?.close();
  });

  it('delivers every agent reply once and in order after Cognigy was down', async () => {
    const session = { URLToken: 'tok', userId: 'u-down', sessionId: 's-down' };
    const threadId = await startHandover(journey, session);
    await journey.cognigy.setFault('refuse');
    const texts = Array.from({ length: 8 }, (_, i) => `reply ${i + 1}`);
    for (const [i, text] of texts.entries()) {
      // Alternate outage modes: refused connections, then 503s.
      if (i === 4) await journey.cognigy.setFault('http503');
      const reply = await journey.engage.agentReply({ threadId, body: text, agentName: 'Anna' });
      expect(reply.outcome).toBe('delivered');
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(notifiedTexts(journey, 'sessionId' in session ? session.sessionId : '')).toEqual([]);
    await journey.cognigy.setFault('none');
    await waitUntil('all replies delivered', () => notifiedTexts(journey, session.sessionId).length >= texts.length, { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(notifiedTexts(journey, session.sessionId)).toEqual(texts);
  });

  it('loses nothing when the relay restarts between acknowledging and delivering', async () => {
    const session = { URLToken: 'tok', userId: 'u-restart', sessionId: 's-restart' };
    const threadId = await startHandover(journey, session);
    await journey.cognigy.setFault('http500');
    const texts = ['before restart 1', 'before restart 2', 'before restart 3'];
    for (const text of texts) expect((await journey.engage.agentReply({ threadId, body: text })).outcome).toBe('delivered');
    await journey.restartRelay();
    const after = await journey.engage.agentReply({ threadId, body: 'after restart' });
    expect(after.outcome).toBe('delivered');
    await journey.cognigy.setFault('none');
    await waitUntil('replies delivered after restart', () => notifiedTexts(journey, session.sessionId).length >= 4, { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(notifiedTexts(journey, session.sessionId)).toEqual([...texts, 'after restart']);
  });

  it('retries categorisation while Engage answers 409 and 5xx, and user messages arrive once, in order', async () => {
    const session = { URLToken: 'tok', userId: 'u-409', sessionId: 's-409' };
    journey.engage.failNext({ api: 'rest', status: 409, count: 2, pathIncludes: 'update_categories' });
    journey.engage.failNext({ api: 'send', status: 502, count: 2 });
    const threadId = await startHandover(journey, session);
    for (const text of ['one', 'two', 'three']) {
      const r = await signedRelayCall(journey.relayUrl, journey.tenant, 'userMessage', {
        ...envelopeFor(journey.tenant, session, `m-${text}`),
        text,
      });
      expect(r.body).toMatchObject({ forwarded: true });
      // The same request id again (a Cognigy retry) is absorbed.
      await signedRelayCall(journey.relayUrl, journey.tenant, 'userMessage', {
        ...envelopeFor(journey.tenant, session, `m-${text}`),
        text,
      });
    }
    await waitUntil('user messages in Engage', () => (journey.engage.thread(threadId)?.messages.length ?? 0) >= 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(journey.engage.thread(threadId)?.messages.map((m) => m.body)).toEqual(['help please', 'one', 'two', 'three']);
  });
});

describe('giving up', () => {
  it('moves the conversation to error and tells the Flow when Engage stays unreachable past the deadline', async () => {
    const journey = await startRelayRig({ store: 'sqlite', settings: { outboxDeadlineMs: 800 } });
    try {
      journey.engage.failNext({ api: 'send', status: 503, count: 1000 });
      const session = { URLToken: 'tok', userId: 'u-err', sessionId: 's-err' };
      const response = await signedRelayCall(journey.relayUrl, journey.tenant, 'startHandover', {
        ...envelopeFor(journey.tenant, session, 'start-err'),
        firstMessage: 'help',
      });
      expect(response.status).toBe(200);
      await journey.cognigy.waitFor(
        (calls) => calls.some((c) => (c.data.handover as { status?: string } | undefined)?.status === 'error'),
        10_000,
      );
      const errorEvent = journey.cognigy.injections().find((c) => (c.data.handover as { status?: string }).status === 'error');
      expect(errorEvent?.data.handover).toMatchObject({ status: 'error', error: { reason: 'engage_unavailable' } });
      const threadId = threadIdFor(journey.tenant.sourceId, session);
      expect((await journey.relay.store.getConversation(journey.tenant.sourceId, threadId))?.status).toBe('error');
      expect((await journey.relay.store.listDeadLetters(10)).length).toBeGreaterThan(0);
    } finally {
      await journey.close();
    }
  });
});
