import type { HandoverState } from '../../extension/src/handoverLogic';
import extension from '../../extension/src/module';
import { CALLBACK_REPLY, demoFlow } from '../../sandbox/cognigy/demoFlow';
import { FlowRunner, type SessionKey, type TurnResult } from '../../sandbox/cognigy/flowRunner';
import { DEFAULT_AGENT_ID } from '../../sandbox/engage';
import { handOverInFlow, startRelayRig, WarpClock, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';

/**
 * The sandbox demo Flow (our real nodes in the Flow runner) against the real relay, the Engage
 * simulator and the Cognigy simulator: availability from Engage's `GET /status`, the handover,
 * queue messages said on change, the long-wait callback closed from the Flow (the thread back in
 * the Bot category), and "stop" during a live chat reaching the agent.
 * Injects the relay makes into the Cognigy simulator are fed to the runner as Cognigy would.
 */

const texts = (turn: TurnResult): string[] => turn.outputs.map((o) => o.text);

describe('the demo Flow against the relay and the simulators', () => {
  let journey: RelayRig;
  let runner: FlowRunner;
  let connections: Record<string, Record<string, string>>;
  /** The relay's clock: moving it ahead expires the availability cache. */
  const clock = new WarpClock();
  let n = 0;
  const delivered = new Map<string, number>();

  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite', clock });
    connections = { sandbox: journey.connection };
    runner = new FlowRunner({ flow: demoFlow(), extension, connections });
  });
  afterAll(async () => {
    await journey?.close();
  });

  const newSession = (): SessionKey => ({
    URLToken: 'demo-token',
    userId: `demo-user-${++n}`,
    sessionId: `demo-session-${n}-${Date.now()}`,
  });
  const state = (session: SessionKey) => runner.session(session).context.rceHandover as HandoverState;
  /** Feed the next inject for this session to the Flow, as Cognigy runs an injected input. */
  async function nextInject(session: SessionKey, what: string): Promise<TurnResult> {
    const seen = delivered.get(session.sessionId) ?? 0;
    const injects = () => journey.cognigy.calls.filter((c) => c.kind === 'inject' && c.sessionId === session.sessionId);
    await waitUntil(what, () => injects().length > seen);
    delivered.set(session.sessionId, seen + 1);
    const call = injects()[seen];
    return runner.send(session, { text: call?.text ?? '', data: call?.data ?? {} });
  }
  const handedOver = (session: SessionKey): Promise<string> => handOverInFlow(journey, runner, session);

  it('offers a callback on a long wait and closes the handover from the Flow; the thread goes back to Bot', async () => {
    const session = newSession();
    const threadId = await handedOver(session);
    await journey.engage.queuingUpdate({ threadId, position: 1, estimatedWaitTimeSeconds: 30 });
    expect(texts(await nextInject(session, 'first queue update'))).toEqual([
      'You are number 1 in the queue. Estimated wait: less than a minute.',
    ]);
    await journey.engage.queuingUpdate({ threadId, position: 1, estimatedWaitTimeSeconds: 25 });
    expect(texts(await nextInject(session, 'same queue update'))).toEqual([]);
    await journey.engage.queuingUpdate({ threadId, position: 2, estimatedWaitTimeSeconds: 90 });
    expect(texts(await nextInject(session, 'long wait'))).toEqual([
      'You are number 2 in the queue. Estimated wait: about 2 minutes.',
      'It is busy right now. You can keep waiting, or we call you back.',
    ]);

    const callback = await runner.send(session, { text: CALLBACK_REPLY });
    expect(texts(callback)).toEqual(['Done: an agent will call you back at the number in your profile. Anything else I can do?']);
    expect(state(session)).toMatchObject({ active: false, closeOutcome: 'cancelled' });
    await waitUntil(
      'thread back in the Bot category',
      () => journey.engage.thread(threadId)?.categoryIds.includes(journey.tenant.botCategoryId) === true,
    );
    expect(journey.engage.thread(threadId)?.messages.map((m) => m.body)).not.toContain(CALLBACK_REPLY);
  });

  it('when Engage cannot be reached on the callback close, the handover still ends for the bot (the relay keeps closing in Engage)', async () => {
    const session = newSession();
    const threadId = await handedOver(session);
    await journey.engage.queuingUpdate({ threadId, position: 3, estimatedWaitTimeSeconds: 135 });
    expect(texts(await nextInject(session, 'long wait'))).toContain('It is busy right now. You can keep waiting, or we call you back.');
    // An agent opens the conversation just as the user answers the offer (the agent-joined inject not yet run).
    journey.engage.openIntervention(threadId);
    journey.engage.failNext({ api: 'rest', status: 500, count: 20, pathIncludes: '/interventions' });
    try {
      const callback = await runner.send(session, { text: CALLBACK_REPLY });
      expect(texts(callback)).toEqual(['Sorry, something went wrong while arranging the callback. Please try again in a moment.']);
      expect(callback.input.rceClose).toMatchObject({ error: { code: 'engage_unavailable' }, handoverEnded: true });
      expect(state(session)).toMatchObject({ active: false, status: 'completed' });
      await waitUntil(
        'thread back in the Bot category',
        () => journey.engage.thread(threadId)?.categoryIds.includes(journey.tenant.botCategoryId) === true,
      );
    } finally {
      journey.engage.clearFaults();
    }
  });

  it('forwards "stop" during a live chat to the agent, and the handover goes on', async () => {
    const session = newSession();
    const threadId = await handedOver(session);
    journey.engage.openIntervention(threadId);
    expect(texts(await nextInject(session, 'agent joined'))).toEqual(['An agent has joined the conversation.']);
    expect(state(session)).toMatchObject({ active: true, status: 'active', agentId: DEFAULT_AGENT_ID });
    const stop = await runner.send(session, { text: 'stop' });
    expect(stop.outputs).toEqual([]);
    await waitUntil(
      '"stop" on the agent desk',
      () => journey.engage.thread(threadId)?.messages.some((m) => m.side === 'customer' && m.body === 'stop') === true,
    );
    expect(state(session)).toMatchObject({ active: true });
  });

  it('with cancel phrases allowed in the live chat, "stop" ends it and the agent is told the customer left', async () => {
    const flow = demoFlow();
    const handover = flow.nodes.find((node) => node.id === 'handover');
    if (!handover?.config) throw new Error('demo Flow has no handover node');
    handover.config.cancelDuringLiveChat = true;
    handover.config.userLeftNotice = 'Customer gone (demo).';
    const leaving = new FlowRunner({ flow, extension, connections });
    const session = newSession();
    const threadId = await handOverInFlow(journey, leaving, session, 'agent');
    journey.engage.openIntervention(threadId);
    await waitUntil('agent joined', () => journey.cognigy.calls.some((c) => c.kind === 'inject' && c.sessionId === session.sessionId));
    const joined = journey.cognigy.calls.find((c) => c.kind === 'inject' && c.sessionId === session.sessionId);
    await leaving.send(session, { text: joined?.text ?? '', data: joined?.data ?? {} });
    const stop = await leaving.send(session, { text: 'stop' });
    expect(texts(stop)).toEqual(['Okay, I cancelled the request. I am here if you need me.']);
    await waitUntil(
      'the agent told the customer left',
      () => journey.engage.thread(threadId)?.messages.some((m) => m.body === 'Customer gone (demo).') === true,
    );
    expect(journey.engage.thread(threadId)?.messages.map((m) => m.body)).not.toContain('stop');
  });

  it('says the offline message when every agent is away, without starting a handover', async () => {
    journey.engage.setAgentStatus(DEFAULT_AGENT_ID, 'away');
    for (const agent of journey.engage.agents()) if (agent.id !== DEFAULT_AGENT_ID) journey.engage.setAgentStatus(agent.id, null);
    clock.advance(6_000); // past the relay's availability cache
    try {
      const session = newSession();
      const turn = await runner.send(session, { text: 'agent please' });
      expect(texts(turn)).toEqual([
        'Sorry, no agent is available right now (no_agents_available). Please try again during our opening hours.',
      ]);
      expect(runner.session(session).context.rceHandover).toBeUndefined();
    } finally {
      journey.engage.setAgentStatus(DEFAULT_AGENT_ID, 'available');
      clock.advance(6_000);
    }
  });
});
