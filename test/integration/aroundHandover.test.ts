import type { CognigySession, InjectedHandoverEvent } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { DEFAULT_AGENT_ID } from '../../sandbox/engage';
import { startRelayRig, WarpClock, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/**
 * Issue 16 (relay half) and issue 12's agent name, against the Engage simulator: the agent's name
 * from the users resource, transfers, closing from the Flow, agent availability (`GET /status`),
 * the inactivity timeout, user left/back notices and a second handover without repeated lines.
 */

type Body = Record<string, unknown>;

describe('Around the handover (sqlite store)', () => {
  let journey: RelayRig;
  /** The relay's clock: tests move it ahead of real time to make timers due. */
  const clock = new WarpClock();
  let n = 0;
  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite', clock });
  });
  afterAll(async () => {
    await journey?.close();
  });

  const call = (session: CognigySession, route: Parameters<typeof signedRelayCall>[2], extra: Body = {}) =>
    signedRelayCall(journey.relayUrl, journey.tenant, route, { ...envelopeFor(journey.tenant, session, `around-${++n}`), ...extra });
  const injectedTo = (session: CognigySession): InjectedHandoverEvent[] =>
    journey.cognigy.calls
      .filter((c) => c.kind === 'inject' && c.sessionId === session.sessionId)
      .map((c) => (c.data as { handover: InjectedHandoverEvent }).handover);
  const sessionNamed = (name: string): CognigySession => ({ URLToken: 'tok', userId: `${name}-user`, sessionId: `${name}-session` });
  const threadOf = (session: CognigySession) => threadIdFor(journey.tenant.sourceId, session);
  const bodiesOf = (session: CognigySession) =>
    journey.engage.thread(threadOf(session))?.messages.map((m) => `${m.side}:${m.body ?? ''}`) ?? [];

  /** A handover that an agent has taken (intervention.opened delivered, Flow told). */
  async function withAgent(session: CognigySession, options: Body = {}, agentId?: string): Promise<string> {
    const started = await call(session, 'startHandover', { firstMessage: 'I need a human', options });
    expect(started.status).toBe(200);
    const threadId = threadOf(session);
    await journey.waitForAgentCategory(threadId);
    journey.engage.openIntervention(threadId, agentId);
    await waitUntil('agent-joined event', () => injectedTo(session).some((e) => e.status === 'active'));
    return threadId;
  }

  it('names the agent on the agent-joined event, from Engage users (cached)', async () => {
    const first = sessionNamed('name-1');
    await withAgent(first);
    expect(injectedTo(first).find((e) => e.status === 'active')).toMatchObject({ agentName: 'Alice Agent', agentId: DEFAULT_AGENT_ID });

    // A second join by the same agent is answered from the cache: a failing users call stays unused.
    journey.engage.failNext({ api: 'rest', status: 500, pathIncludes: `/users/${DEFAULT_AGENT_ID}` });
    const second = sessionNamed('name-2');
    await withAgent(second);
    expect(injectedTo(second).find((e) => e.status === 'active')).toMatchObject({ agentName: 'Alice Agent' });
    journey.engage.clearFaults();
  });

  it('sends the agent-joined event without a name when the lookup fails, and logs a warning', async () => {
    const carol = journey.engage.addAgent({ firstname: 'Carol', lastname: 'Lookup' });
    journey.engage.failNext({ api: 'rest', status: 500, pathIncludes: `/users/${carol.id}` });
    const session = sessionNamed('name-fail');
    await withAgent(session, {}, carol.id);
    const joined = injectedTo(session).find((e) => e.status === 'active');
    expect(joined).toMatchObject({ status: 'active', agentId: carol.id });
    expect(joined?.agentName).toBeUndefined();
    expect(journey.logLines.some((line) => line.includes('agent name lookup failed') && line.includes(carol.id))).toBe(true);
  });

  it('tells the Flow once about a transfer (task.transferred and intervention.user_updated), with the new agent', async () => {
    const session = sessionNamed('transfer');
    const threadId = await withAgent(session);
    const bob = journey.engage.addAgent({ firstname: 'Bob', lastname: 'Builder' });
    journey.engage.transferIntervention(threadId, bob.id);
    await waitUntil('transfer event', () => injectedTo(session).some((e) => e.reason === 'transferred'));
    await journey.engage.flush();
    expect(injectedTo(session).find((e) => e.reason === 'transferred')).toMatchObject({
      status: 'active',
      reason: 'transferred',
      agentName: 'Bob Builder',
      agentId: bob.id,
    });
    // Both events of the one transfer arrived; only the first changed the agent (the outbox may still repeat a delivery).
    const applied = journey.logLines.filter(
      (line) =>
        line.includes('handover event applied') && line.includes(threadId) && /task\.transferred|intervention\.user_updated/.test(line),
    );
    expect(applied).toHaveLength(1);
    expect(journey.engage.issuedEvents.map((e) => e.type)).toEqual(
      expect.arrayContaining(['task.transferred', 'intervention.user_updated']),
    );
  });

  it('closes from the Flow: closed with agent replies, cancelled where Engage refuses, thread back to Bot, no event into the Flow', async () => {
    const { botCategoryId } = journey.tenant;
    const replied = sessionNamed('close-replied');
    const repliedThread = await withAgent(replied);
    await journey.engage.agentReply({ threadId: repliedThread, body: 'Solved?' });
    const closed = await call(replied, 'closeHandover', { reason: 'solved' });
    expect(closed).toMatchObject({ status: 200, body: { closed: true, outcome: 'closed', status: 'completed' } });
    await waitUntil(
      'thread back in the Bot category',
      () => journey.engage.thread(repliedThread)?.categoryIds.includes(botCategoryId) === true,
    );
    expect(journey.engage.thread(repliedThread)?.interventions.map((i) => i.status)).toEqual(['closed']);

    // interventions.md: no agent reply → close answers 403 → the relay cancels it.
    const silent = sessionNamed('close-silent');
    const silentThread = await withAgent(silent);
    const cancelled = await call(silent, 'closeHandover', {});
    expect(cancelled).toMatchObject({ status: 200, body: { closed: true, outcome: 'cancelled' } });
    await waitUntil(
      'thread back in the Bot category',
      () => journey.engage.thread(silentThread)?.categoryIds.includes(botCategoryId) === true,
    );
    expect(journey.engage.thread(silentThread)?.interventions.map((i) => i.status)).toEqual(['canceled']);

    await journey.engage.flush();
    for (const session of [replied, silent]) expect(injectedTo(session).filter((e) => e.status !== 'active')).toEqual([]);
    expect(await call(silent, 'closeHandover', {})).toMatchObject({ status: 200, body: { closed: false, outcome: 'not_running' } });
  });

  it('closes a handover still waiting (no intervention) as cancelled', async () => {
    const session = sessionNamed('close-queued');
    await call(session, 'startHandover', { firstMessage: 'anyone?' });
    const threadId = threadOf(session);
    await journey.waitForAgentCategory(threadId);
    // The thread id is learnt by the categorisation: the relay then asks Engage for open interventions.
    expect(await call(session, 'closeHandover', {})).toMatchObject({ status: 200, body: { closed: true, outcome: 'cancelled' } });
    await waitUntil(
      'thread back in the Bot category',
      () => journey.engage.thread(threadId)?.categoryIds.includes(journey.tenant.botCategoryId) === true,
    );
  });

  it('answers agent availability from GET /status, cached a few seconds per tenant', async () => {
    const session = sessionNamed('availability');
    const first = await call(session, 'agentAvailability');
    expect(first).toMatchObject({ status: 200, body: { available: true } });
    const before = (first.body as { availableAgents: number }).availableAgents;
    expect(before).toBeGreaterThanOrEqual(1);

    journey.engage.setAgentStatus(DEFAULT_AGENT_ID, 'away');
    for (const agent of journey.engage.agents()) if (agent.id !== DEFAULT_AGENT_ID) journey.engage.setAgentStatus(agent.id, null);
    // Within the cache time the same answer comes back without asking Engage.
    expect((await call(session, 'agentAvailability')).body).toEqual(first.body);
    clock.advance(6_000);
    expect(await call(session, 'agentAvailability')).toMatchObject({ status: 200, body: { available: false, availableAgents: 0 } });
    // A category nobody serves is its own question.
    journey.engage.setAgentStatus(DEFAULT_AGENT_ID, 'available');
    clock.advance(6_000);
    expect(await call(session, 'agentAvailability', { categoryIds: ['5f1c00000000000000000fff'] })).toMatchObject({
      status: 200,
      body: { available: false, availableAgents: 0 },
    });
    expect(await call(session, 'agentAvailability', { categoryIds: [journey.tenant.agentCategoryId] })).toMatchObject({
      status: 200,
      body: { available: true, availableAgents: 1 },
    });
  });

  it('tells the agent when the user leaves, and when the user is back with a new handover', async () => {
    const session = sessionNamed('left-back');
    const threadId = await withAgent(session);
    const cancelled = await call(session, 'cancelHandover', { reason: 'user_left' });
    expect(cancelled).toMatchObject({ status: 200, body: { cancelled: true } });
    await waitUntil('left notice on the thread', () => bodiesOf(session).includes('bot:The customer left the conversation.'));
    await waitUntil(
      'intervention ended',
      () => journey.engage.thread(threadId)?.interventions.every((i) => i.status !== 'opened') === true,
    );

    await call(session, 'startHandover', { firstMessage: 'Me again' });
    await waitUntil('back notice and message on the thread', () => bodiesOf(session).includes('customer:Me again'));
    const bodies = bodiesOf(session);
    expect(bodies.indexOf('bot:The customer is back in the conversation.')).toBeLessThan(bodies.indexOf('customer:Me again'));
    expect(bodies.filter((b) => b === 'bot:The customer is back in the conversation.')).toHaveLength(1);
  });

  it('tells the agent the user is back when a mirrored message arrives on the thread the user left', async () => {
    const session = sessionNamed('back-mirror');
    await withAgent(session);
    await call(session, 'cancelHandover', {});
    await waitUntil('left notice on the thread', () => bodiesOf(session).includes('bot:The customer left the conversation.'));
    expect(await call(session, 'userMessage', { text: 'one more thing', mirror: true })).toMatchObject({
      status: 200,
      body: { forwarded: true },
    });
    await waitUntil('message on the thread', () => bodiesOf(session).includes('customer:one more thing'));
    const bodies = bodiesOf(session);
    expect(bodies.slice(-2)).toEqual(['bot:The customer is back in the conversation.', 'customer:one more thing']);
  });

  it('answers 502 when Engage fails during a close, and the outbox still ends the intervention', async () => {
    const session = sessionNamed('close-fails');
    const threadId = await withAgent(session);
    journey.engage.failNext({ api: 'rest', status: 503, pathIncludes: '/interventions' });
    const failed = await call(session, 'closeHandover', {});
    expect(failed).toMatchObject({ status: 502, body: { error: { code: 'engage_unavailable' } } });
    await waitUntil(
      'intervention ended by the outbox',
      () => journey.engage.thread(threadId)?.interventions.every((i) => i.status !== 'opened') === true,
    );
    await waitUntil(
      'thread back in the Bot category',
      () => journey.engage.thread(threadId)?.categoryIds.includes(journey.tenant.botCategoryId) === true,
    );
    expect((await call(session, 'queueStatus')).body).toMatchObject({ status: 'completed' });
  });

  it('does not send transcript lines of the first handover again on the second', async () => {
    const session = sessionNamed('second');
    const t = (secondsAgo: number) => new Date(clock.now() - secondsAgo * 1000).toISOString();
    const early = [
      { role: 'user', text: 'hi there', at: t(60) },
      { role: 'bot', text: 'hello, how can I help?', at: t(59) },
    ];
    await call(session, 'startHandover', { firstMessage: 'agent please', transcript: early });
    await waitUntil('first handover on the thread', () => bodiesOf(session).includes('customer:agent please'));
    await call(session, 'cancelHandover', {});
    const later = [...early, { role: 'user', text: 'agent please', at: t(58) }, { role: 'bot', text: 'Anything else?', at: t(-1) }];
    await call(session, 'startHandover', { firstMessage: 'agent again', transcript: later });
    await waitUntil('second handover on the thread', () => bodiesOf(session).includes('customer:agent again'));
    const bodies = bodiesOf(session);
    expect(bodies.filter((b) => b === 'customer:hi there')).toHaveLength(1);
    expect(bodies.filter((b) => b === 'bot:hello, how can I help?')).toHaveLength(1);
    expect(bodies.filter((b) => b === 'customer:agent please')).toHaveLength(1);
    expect(bodies.filter((b) => b === 'bot:Anything else?')).toHaveLength(1);
  });

  it('tells the agent after the inactivity timeout, and re-arms on each user message', async () => {
    const session = sessionNamed('inactive-notice');
    await withAgent(session, { inactivityTimeoutMinutes: 1, inactivityNotice: 'Customer silent for a minute.' });
    clock.advance(40_000);
    await call(session, 'userMessage', { text: 'still here' });
    clock.advance(30_000); // 70 s after the join, 30 s after the message: not due
    await new Promise((r) => setTimeout(r, 300));
    expect(bodiesOf(session)).not.toContain('bot:Customer silent for a minute.');
    clock.advance(35_000);
    await waitUntil('inactivity notice on the thread', () => bodiesOf(session).includes('bot:Customer silent for a minute.'));
    expect(injectedTo(session).filter((e) => e.status !== 'active')).toEqual([]);
    expect((await call(session, 'queueStatus')).body).toMatchObject({ status: 'active' });
  });

  it('closes the handover on inactivity when configured, and tells the Flow why', async () => {
    const session = sessionNamed('inactive-close');
    const threadId = await withAgent(session, { inactivityTimeoutMinutes: 1, inactivityCloses: true });
    await journey.engage.agentReply({ threadId, body: 'Are you there?' });
    clock.advance(61_000);
    await waitUntil('completed event with reason inactivity', () =>
      injectedTo(session).some((e) => e.status === 'completed' && e.reason === 'inactivity'),
    );
    expect(bodiesOf(session)).toContain('bot:The customer has not written for a while.');
    await waitUntil('intervention closed and thread back to Bot', () => {
      const thread = journey.engage.thread(threadId);
      return (
        thread?.interventions.every((i) => i.status === 'closed') === true && thread.categoryIds.includes(journey.tenant.botCategoryId)
      );
    });
    await journey.engage.flush();
    // The intervention.closed our own close causes finds the handover over: no second, reason-less "completed".
    // (Counted by the reason, not the calls: the outbox delivers at least once, a slow Cognigy may get a retry.)
    expect(injectedTo(session).filter((e) => e.status === 'completed' && e.reason !== 'inactivity')).toEqual([]);
    expect(journey.logLines.filter((line) => line.includes('user inactive while with an agent') && line.includes(threadId))).toHaveLength(
      1,
    );
  });
});

describe('Inactivity with two relays sharing Redis', () => {
  let journey: RelayRig;
  const clock = new WarpClock();
  beforeAll(async () => {
    journey = await startRelayRig({ store: 'redis', clock });
  });
  afterAll(async () => {
    await journey?.close();
  });

  it('a check written by one relay fires on the other after the first stopped', async () => {
    const session: CognigySession = { URLToken: 'tok', userId: 'ha-user', sessionId: 'ha-session' };
    const call = (route: Parameters<typeof signedRelayCall>[2], relayUrl: string, extra: Body = {}) =>
      signedRelayCall(relayUrl, journey.tenant, route, { ...envelopeFor(journey.tenant, session, `ha-${route}-${Date.now()}`), ...extra });
    await call('startHandover', journey.relayUrl, {
      firstMessage: 'help',
      options: { inactivityTimeoutMinutes: 2, inactivityCloses: true },
    });
    const threadId = threadIdFor(journey.tenant.sourceId, session);
    await journey.waitForAgentCategory(threadId);
    journey.engage.openIntervention(threadId);
    await waitUntil('agent joined', () =>
      journey.cognigy.calls.some(
        (c) => c.sessionId === session.sessionId && (c.data as { handover?: { status?: string } }).handover?.status === 'active',
      ),
    );

    await journey.startExtraRelay();
    await journey.relay.stop({ closeStore: true });

    clock.advance(121_000);
    await waitUntil('completed with reason inactivity', () =>
      journey.cognigy.calls.some(
        (c) => c.sessionId === session.sessionId && (c.data as { handover?: { reason?: string } }).handover?.reason === 'inactivity',
      ),
    );
    await waitUntil(
      'intervention ended',
      () => journey.engage.thread(threadId)?.interventions.every((i) => i.status !== 'opened') === true,
    );
    expect(journey.engage.thread(threadId)?.messages.map((m) => m.body)).toContain('The customer has not written for a while.');
    expect(journey.logLines.filter((line) => line.includes('user inactive while with an agent') && line.includes(threadId))).toHaveLength(
      1,
    );
  });
});
