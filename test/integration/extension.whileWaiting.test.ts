import { ALL_SET_PAYLOAD, type HandoverState } from '../../extension/src/handoverLogic';
import extension from '../../extension/src/module';
import { WAITING_TIP, demoFlow } from '../../sandbox/cognigy/demoFlow';
import { FlowRunner, type NextNodeModel, type SessionKey, type TurnResult } from '../../sandbox/cognigy/flowRunner';
import { handOverInFlow, startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';

/**
 * "The bot keeps helping while the user waits" (issue 16): the demo Flow's Handover node with the
 * option on, run by the Flow runner against the real relay and the Engage simulator, under both
 * readings of Cognigy's `setNextNode` (last call wins / stacked). While queued, a user message
 * reaches the agent desk and also runs "While Waiting"; the next input comes back to the node;
 * "I'm all set" withdraws the request and Engage puts the thread back in the Bot category.
 */

const texts = (turn: TurnResult): string[] => turn.outputs.map((o) => o.text);

describe.each(['lastWins', 'stack'] as const)('While Waiting in the demo Flow (%s)', (model: NextNodeModel) => {
  let journey: RelayRig;
  let runner: FlowRunner;
  let n = 0;

  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite' });
    const connections = { sandbox: journey.connection };
    runner = new FlowRunner({ flow: demoFlow(), extension, connections, nextNodeModel: model });
  });
  afterAll(async () => {
    await journey?.close();
  });

  const newSession = (): SessionKey => ({
    URLToken: 'demo-token',
    userId: `waiting-user-${model}-${++n}`,
    sessionId: `waiting-session-${model}-${n}-${Date.now()}`,
  });
  const state = (session: SessionKey) => runner.session(session).context.rceHandover as HandoverState;
  const onDesk = (threadId: string, body: string) =>
    journey.engage.thread(threadId)?.messages.some((m) => m.side === 'customer' && m.body === body) === true;

  const waiting = (session: SessionKey): Promise<string> => handOverInFlow(journey, runner, session);

  it('answers what it can while the user waits, the agent sees the message too, and the next input comes back to the node', async () => {
    const session = newSession();
    const threadId = await waiting(session);

    const asked = await runner.send(session, { text: 'I forgot my password' });
    expect(texts(asked)).toEqual([WAITING_TIP]);
    expect(asked.input.handover).toMatchObject({ eventType: 'userInputWhileWaiting', data: { threadId, forwarded: true } });
    expect(asked.outputs[0]?.data).toMatchObject({
      _cognigy: {
        _default: { _quickReplies: { quickReplies: [{ title: "I'm all set", payload: ALL_SET_PAYLOAD }, { title: 'Keep waiting' }] } },
      },
    });
    await waitUntil('the question on the agent desk', () => onDesk(threadId, 'I forgot my password'));
    // Stack reading: the node runs again after the branch on the same input and must stay within Cognigy's action quota.
    expect(asked.executions.filter((e) => e.type === 'handoverToRce').every((e) => e.actions <= 10)).toBe(true);

    // Something the bot does not know: forwarded, the branch stays quiet, the handover goes on.
    const other = await runner.send(session, { text: 'my order is late' });
    expect(texts(other)).toEqual([]);
    await waitUntil('the second message on the agent desk', () => onDesk(threadId, 'my order is late'));
    expect(state(session)).toMatchObject({ active: true, status: 'queued' });
    // Under both readings the node handled the question once: it reached the agent once.
    expect(journey.engage.thread(threadId)?.messages.filter((m) => m.body === 'I forgot my password')).toHaveLength(1);
  });

  it('"I\'m all set" withdraws the request in one click: On Cancel, and the thread goes back to Bot in Engage', async () => {
    const session = newSession();
    const threadId = await waiting(session);
    await runner.send(session, { text: 'password reset?' });
    const allSet = await runner.send(session, { text: ALL_SET_PAYLOAD, data: {} });
    expect(texts(allSet)).toEqual(['Okay, I cancelled the request. I am here if you need me.']);
    expect(allSet.input.handover).toMatchObject({ status: 'cancelled', data: { threadId, reason: 'resolved_by_bot' } });
    expect(state(session)).toMatchObject({ active: false, status: 'cancelled' });
    await waitUntil(
      'thread back in the Bot category',
      () => journey.engage.thread(threadId)?.categoryIds.includes(journey.tenant.botCategoryId) === true,
    );
    expect(journey.engage.thread(threadId)?.messages.map((m) => m.body)).not.toContain(ALL_SET_PAYLOAD);
    // Back with the bot: the next input starts at the Flow start and reaches nobody in Engage.
    expect(texts(await runner.send(session, { text: 'thanks' }))).toEqual([
      'I am only a demo bot. Type "agent" and I will hand you over to a human.',
    ]);
  });

  it('once an agent joined, messages only go to the agent (no While Waiting)', async () => {
    const session = newSession();
    const threadId = await waiting(session);
    journey.engage.openIntervention(threadId);
    await waitUntil('agent joined inject', () =>
      journey.cognigy.calls.some((c) => c.kind === 'inject' && c.sessionId === session.sessionId),
    );
    const joined = journey.cognigy.calls.find((c) => c.kind === 'inject' && c.sessionId === session.sessionId);
    expect(texts(await runner.send(session, { text: joined?.text ?? '', data: joined?.data ?? {} }))).toEqual([
      'An agent has joined the conversation.',
    ]);
    expect(texts(await runner.send(session, { text: 'my password is broken' }))).toEqual([]);
    await waitUntil('the message on the agent desk', () => onDesk(threadId, 'my password is broken'));
  });
});
