import type { InjectedHandoverEvent } from '../../contract/relayApi';
import type { HandoverState } from '../../extension/src/handoverLogic';
import extension from '../../extension/src/module';
import { DEFAULT_AGENT_RELEASED_MESSAGE, handoverToRceNode } from '../../extension/src/nodes/handoverToRce';
import { FlowRunner, placeNode, type Flow, type NextNodeModel, type SessionKey, type TurnResult } from '../../sandbox/cognigy/flowRunner';
import { useFrontedRig } from '../helpers/relayRig';

/**
 * Issue 16 on the Handover node, run by the Flow runner against a relay on 127.0.0.1: queue
 * messages said only on change, the agent-release message, "On Long Wait" once per handover,
 * and cancel phrases only while waiting unless the node allows them in the live chat.
 */

function flow(config: Record<string, unknown>): Flow {
  return {
    nodes: [
      {
        id: 'guard',
        type: 'goToIf',
        config: { value: '{{context.rceHandover.active}}', target: 'handover', mode: 'continue' },
        next: 'welcome',
      },
      { id: 'welcome', type: 'say', config: { text: 'Welcome!' }, next: 'handover' },
      ...placeNode(handoverToRceNode, {
        id: 'handover',
        entrypoint: true,
        config: { connection: 'rce', ...config },
        branches: {
          onAgentJoined: [{ type: 'say', config: { text: 'Agent joined.' } }],
          onQueueUpdate: [{ type: 'say', config: { text: 'queue branch ({{input.handover.data.reason}})' } }],
          onLongWait: [{ type: 'say', config: { text: 'It is busy: shall we call you back?' } }],
          onTransfer: [{ type: 'say', config: { text: 'Now with {{context.rceHandover.agentName}}.' } }],
          onCancel: [{ type: 'say', config: { text: 'Handover cancelled.' } }],
          onReturnToBot: [{ type: 'say', config: { text: 'Back with the bot ({{input.handover.data.reason}}).' } }],
          onError: [{ type: 'say', config: { text: 'Sorry: {{context.rceHandover.error.code}}' } }],
        },
      }),
    ],
  };
}

let counter = 0;
function newSession(): SessionKey {
  counter += 1;
  return { URLToken: 'endpoint-url-token', userId: `around-user-${counter}`, sessionId: `around-session-${counter}-${Date.now()}` };
}

const texts = (turn: TurnResult): string[] => turn.outputs.map((o) => o.text);

describe.each(['standIn', 'relay'] as const)('Handover to RCE around the handover (%s)', (front) => {
  const relay = useFrontedRig(front);

  async function started(config: Record<string, unknown> = {}, model: NextNodeModel = 'lastWins') {
    const runner = new FlowRunner({ flow: flow(config), extension, connections: { rce: relay.connection }, nextNodeModel: model });
    const session = newSession();
    await runner.send(session, { text: 'agent' });
    const state = (): HandoverState => runner.session(session).context.rceHandover as HandoverState;
    const event = (status: InjectedHandoverEvent['status'], extra: Partial<InjectedHandoverEvent> = {}) =>
      runner.send(session, { text: '', data: { handover: { source: 'rce-handover', threadId: state().threadId, status, ...extra } } });
    return { runner, session, state, event };
  }

  it('says the queue message only when the position or the rounded wait changes', async () => {
    const { event } = await started();
    const said: string[] = [];
    // What Engage sends while the user waits: the estimate drifts second by second.
    for (const [position, wait] of [
      [3, 300_000],
      [3, 295_000],
      [3, 290_000],
      [2, 280_000],
      [2, 275_000],
      [2, 170_000],
      [1, 40_000],
      [1, 20_000],
    ] as const) {
      said.push(...texts(await event('queue', { position, estimatedWaitTime: wait })).filter((t) => !t.startsWith('queue branch')));
    }
    expect(said).toEqual([
      'You are number 3 in the queue. Estimated wait: about 5 minutes.',
      'You are number 2 in the queue. Estimated wait: about 5 minutes.',
      'You are number 2 in the queue. Estimated wait: about 3 minutes.',
      'You are number 1 in the queue. Estimated wait: less than a minute.',
    ]);
    expect(relay.requests.filter((r) => r.route !== 'startHandover')).toEqual([]);
  });

  it('on an agent release says the release message, not "number ?", and gives the Flow the reason', async () => {
    const { event, state } = await started();
    await event('queue', { position: 1, estimatedWaitTime: 30_000 });
    await event('active', { agentName: 'Grace' });
    const released = await event('queue', { reason: 'agent_released' });
    expect(texts(released)).toEqual([DEFAULT_AGENT_RELEASED_MESSAGE, 'queue branch (agent_released)']);
    expect(released.input.handover).toMatchObject({ status: 'queue', eventType: 'queueUpdate', data: { reason: 'agent_released' } });
    expect(state()).toMatchObject({ active: true, status: 'queued', agentName: null });
    // The same position as before the agent joined is news again.
    expect(texts(await event('queue', { position: 1, estimatedWaitTime: 30_000 }))[0]).toBe(
      'You are number 1 in the queue. Estimated wait: less than a minute.',
    );
  });

  it.each(['lastWins', 'stack'] as const)('takes "On Long Wait" once per handover, and the handover goes on (%s)', async (model) => {
    const { event, state, runner, session } = await started({ longWaitMinutes: 10, longWaitPosition: 0 }, model);
    expect(texts(await event('queue', { position: 4, estimatedWaitTime: 8 * 60_000 }))).toEqual([
      'You are number 4 in the queue. Estimated wait: about 8 minutes.',
      'queue branch ()',
    ]);
    const long = await event('queue', { position: 4, estimatedWaitTime: 15 * 60_000 });
    expect(texts(long)).toEqual([
      'You are number 4 in the queue. Estimated wait: about 15 minutes.',
      'It is busy: shall we call you back?',
    ]);
    expect(state()).toMatchObject({ active: true, status: 'queued', longWaitTaken: true, longWaitOfferOpen: true });
    // The offer is open: the next input starts at the Flow start (the guard brings it back to the node).
    expect(long.nextEntry).toBeNull();
    for (const execution of long.executions) expect(execution.actions).toBeLessThanOrEqual(10);
    const again = await event('queue', { position: 5, estimatedWaitTime: 20 * 60_000 });
    expect(texts(again)).toEqual(['You are number 5 in the queue. Estimated wait: about 20 minutes.', 'queue branch ()']);
    // Still in the handover: the next message goes to the agent.
    relay.reset();
    const next = await runner.send(session, { text: 'ok I wait' });
    expect(next.outputs).toEqual([]);
    expect(relay.requestsFor('userMessage').map((r) => r.body.text)).toEqual(['ok I wait']);
  });

  it('takes "On Long Wait" on the position threshold too', async () => {
    const { event } = await started({ longWaitPosition: 10 });
    expect(texts(await event('queue', { position: 11 }))).toEqual([
      'You are number 11 in the queue.',
      'It is busy: shall we call you back?',
    ]);
  });

  it('treats "stop" during the live chat as a message for the agent by default', async () => {
    const { event, runner, session, state } = await started();
    await event('active', { agentName: 'Grace' });
    relay.reset();
    const turn = await runner.send(session, { text: 'stop' });
    expect(turn.outputs).toEqual([]);
    expect(relay.requests.map((r) => r.route)).toEqual(['userMessage']);
    expect(relay.requestsFor('userMessage')[0]?.body.text).toBe('stop');
    // (The stored status is now what the relay answered; here it never heard of the agent.)
    expect(state()).toMatchObject({ active: true });
  });

  it('sends the live-chat options (inactivity, notices) with the start, leaving empty notices to the relay', async () => {
    await started({ inactivityTimeoutMinutes: '15', inactivityCloses: true, inactivityNotice: '', userLeftNotice: 'Der Kunde ist weg.' });
    const options = relay.requestsFor('startHandover')[0]?.body.options;
    expect(options).toMatchObject({
      inactivityTimeoutMinutes: 15,
      inactivityCloses: true,
      inactivityNotice: 'The customer has not written for a while.',
      userLeftNotice: 'Der Kunde ist weg.',
      userBackNotice: 'The customer is back in the conversation.',
    });
    expect(relay.requestsFor('startHandover')[0]?.status).toBe(200);
  });

  it('takes "On Transfer" on a reassignment when the node asks for it, else "On Agent Joined"; the handover goes on', async () => {
    const withBranch = await started({ transferBranch: true });
    await withBranch.event('active', { agentName: 'Grace', agentId: 'agent-1' });
    const moved = await withBranch.event('active', { reason: 'transferred', agentName: 'Linus', agentId: 'agent-2' });
    expect(texts(moved)).toEqual(['Now with Linus.']);
    expect(moved.input.handover).toMatchObject({
      status: 'active',
      data: { reason: 'transferred', agentName: 'Linus', agentId: 'agent-2' },
    });
    expect(withBranch.state()).toMatchObject({ active: true, status: 'active', agentName: 'Linus', agentId: 'agent-2' });
    relay.reset();
    expect(texts(await withBranch.runner.send(withBranch.session, { text: 'hi Linus' }))).toEqual([]);
    expect(relay.requestsFor('userMessage').map((r) => r.body.text)).toEqual(['hi Linus']);

    const without = await started();
    expect(texts(await without.event('active', { reason: 'transferred', agentName: 'Linus' }))).toEqual(['Agent joined.']);
  });

  it('returns to the bot when the relay closes the handover for inactivity, with the reason for the Flow', async () => {
    const { event, state } = await started({ inactivityTimeoutMinutes: 10, inactivityCloses: true });
    await event('active', { agentName: 'Grace' });
    const closed = await event('completed', { reason: 'inactivity' });
    expect(texts(closed)).toEqual(['Back with the bot (inactivity).']);
    expect(closed.nextEntry).toBeNull();
    expect(state()).toMatchObject({ active: false, status: 'completed' });
  });

  it('cancels on "stop" while the user waits', async () => {
    const { runner, session, state } = await started();
    relay.reset();
    expect(texts(await runner.send(session, { text: 'stop' }))).toEqual(['Handover cancelled.']);
    expect(relay.requests.map((r) => r.route)).toEqual(['cancelHandover']);
    expect(state()).toMatchObject({ active: false });
  });

  it('cancels on "stop" during the live chat when the option is on', async () => {
    const { event, runner, session, state } = await started({ cancelDuringLiveChat: true });
    await event('active', { agentName: 'Grace' });
    relay.reset();
    expect(texts(await runner.send(session, { text: 'stop' }))).toEqual(['Handover cancelled.']);
    expect(relay.requests.map((r) => r.route)).toEqual(['cancelHandover']);
    expect(state()).toMatchObject({ active: false });
  });
});
