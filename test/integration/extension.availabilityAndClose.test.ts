import type { InjectedHandoverEvent } from '../../contract/relayApi';
import type { HandoverState } from '../../extension/src/handoverLogic';
import extension from '../../extension/src/module';
import { checkAgentAvailabilityNode } from '../../extension/src/nodes/checkAgentAvailability';
import { closeRceHandoverNode } from '../../extension/src/nodes/closeHandover';
import { handoverToRceNode } from '../../extension/src/nodes/handoverToRce';
import { CALLBACK_REPLY, demoFlow } from '../../sandbox/cognigy/demoFlow';
import { FlowRunner, placeNode, type Flow, type NextNodeModel, type SessionKey, type TurnResult } from '../../sandbox/cognigy/flowRunner';
import { useFrontedRig } from '../helpers/relayRig';

/**
 * Check RCE Agent Availability and Close RCE Handover run by the Flow runner against the
 * recording relay on 127.0.0.1 (contract answers; scripted where a test needs another answer),
 * and the sandbox demo Flow's availability → handover → long wait → callback journey.
 */

let counter = 0;
function newSession(): SessionKey {
  counter += 1;
  return { URLToken: 'endpoint-url-token', userId: `avail-user-${counter}`, sessionId: `avail-session-${counter}-${Date.now()}` };
}
const texts = (turn: TurnResult): string[] => turn.outputs.map((o) => o.text);
const ALWAYS_OPEN = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, '00:00-24:00']));
/** Yesterday to tomorrow (UTC): "today" is closed whatever the clock says during the test. */
function closedAroundToday(): string {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  return `${day(-1)}..${day(1)}`;
}

function availabilityFlow(config: Record<string, unknown>): Flow {
  return {
    nodes: placeNode(checkAgentAvailabilityNode, {
      id: 'availability',
      config: { connection: 'rce', ...config },
      branches: {
        checkAgentAvailabilityOnAvailable: [{ type: 'say', config: { text: 'available: {{input.rceAvailability.availableAgents}}' } }],
        checkAgentAvailabilityOnUnavailable: [{ type: 'say', config: { text: 'unavailable: {{input.rceAvailability.reason}}' } }],
        checkAgentAvailabilityOnError: [{ type: 'say', config: { text: 'error: {{input.rceAvailability.error.code}}' } }],
      },
    }),
  };
}

describe('Check RCE Agent Availability (recording relay)', () => {
  const relay = useFrontedRig('standIn');

  const run = (config: Record<string, unknown>) =>
    new FlowRunner({ flow: availabilityFlow(config), extension, connections: { rce: relay.connection } }).send(newSession(), {
      text: 'agent',
    });

  it('asks the relay once and takes On Available, storing the answer in input.rceAvailability', async () => {
    const turn = await run({});
    expect(texts(turn)).toEqual(['available: 1']);
    expect(turn.input.rceAvailability).toEqual({
      available: true,
      reason: 'agents_available',
      availableAgents: 1,
      checkedAt: expect.any(String),
    });
    expect(turn.executions[0]).toMatchObject({ httpCalls: 1 });
    expect(turn.executions[0]?.actions).toBeLessThanOrEqual(10);
    const [request] = relay.requestsFor('agentAvailability');
    expect(request?.status).toBe(200);
    expect(request?.signature).toMatchObject({ ok: true });
    expect(request?.body.categoryIds).toBeUndefined();
  });

  it("sends the node's category ids", async () => {
    await run({ categoryIds: ['cat-vip', ' cat-vip ', 'cat-billing'] });
    expect(relay.requestsFor('agentAvailability')[0]?.body.categoryIds).toEqual(['cat-vip', 'cat-billing']);
  });

  it('takes On Unavailable when Engage has no agent available', async () => {
    relay.respondWith('agentAvailability', () => ({ body: { available: false, availableAgents: 0, checkedAt: new Date().toISOString() } }));
    const turn = await run({});
    expect(texts(turn)).toEqual(['unavailable: no_agents_available']);
    expect(turn.input.rceAvailability).toMatchObject({ available: false, availableAgents: 0 });
  });

  it('within business hours asks Engage and records the local clock', async () => {
    const turn = await run({ useBusinessHours: true, timeZone: 'America/New_York', weeklyHours: ALWAYS_OPEN });
    expect(texts(turn)).toEqual(['available: 1']);
    expect(turn.input.rceAvailability).toMatchObject({
      businessHours: { open: true, timeZone: 'America/New_York', localTime: expect.stringMatching(/^\d\d:\d\d$/) },
    });
    expect(relay.requestsFor('agentAvailability')).toHaveLength(1);
  });

  it('on a closed date takes On Unavailable without calling the relay (nor Engage)', async () => {
    const turn = await run({ useBusinessHours: true, timeZone: 'UTC', weeklyHours: ALWAYS_OPEN, closedDates: [closedAroundToday()] });
    expect(texts(turn)).toEqual(['unavailable: closed_date']);
    expect(turn.input.rceAvailability).toMatchObject({ available: false, availableAgents: null, businessHours: { open: false } });
    expect(turn.executions[0]?.httpCalls).toBe(0);
    expect(relay.requests).toEqual([]);
  });

  it('outside the weekly hours takes On Unavailable without calling the relay', async () => {
    const turn = await run({ useBusinessHours: true, timeZone: 'UTC', weeklyHours: { mon: null } });
    expect(texts(turn)).toEqual(['unavailable: outside_business_hours']);
    expect(relay.requests).toEqual([]);
  });

  it('takes On Error, with a log line naming the field, for a malformed schedule', async () => {
    const turn = await run({ useBusinessHours: true, timeZone: 'Mars/Olympus', weeklyHours: ALWAYS_OPEN });
    expect(texts(turn)).toEqual(['error: invalid_business_hours']);
    expect(turn.logs.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      expect.stringContaining(
        'checkAgentAvailability: could not check agent availability: invalid_business_hours: Time zone "Mars/Olympus"',
      ),
    ]);
    expect(relay.requests).toEqual([]);
  });

  it('takes On Error when the relay refuses', async () => {
    relay.respondWith('agentAvailability', () => ({
      status: 501,
      body: { error: { code: 'not_implemented', message: 'The relay does not serve agentAvailability yet' } },
    }));
    const turn = await run({});
    expect(texts(turn)).toEqual(['error: not_implemented']);
  });
});

function closeFlow(model: NextNodeModel): { flow: Flow; model: NextNodeModel } {
  return {
    model,
    flow: {
      nodes: [
        { id: 'close-if', type: 'ifTextMatches', config: { pattern: '^close it$', target: 'close' }, next: 'guard' },
        {
          id: 'guard',
          type: 'goToIf',
          config: { value: '{{context.rceHandover.active}}', target: 'handover', mode: 'continue' },
          next: 'wants',
        },
        { id: 'wants', type: 'ifTextMatches', config: { pattern: 'agent', target: 'handover' }, next: 'bot' },
        { id: 'bot', type: 'say', config: { text: 'Bot here.' } },
        ...placeNode(handoverToRceNode, {
          id: 'handover',
          entrypoint: true,
          config: { connection: 'rce', acceptedMessage: '', queueMessageTemplate: '', longWaitPosition: 1 },
          branches: { onLongWait: [{ type: 'say', config: { text: 'Busy: say "close it" for a callback.' } }] },
        }),
        ...placeNode(closeRceHandoverNode, {
          id: 'close',
          config: { connection: 'rce', reason: 'user_chose_callback' },
          branches: {
            closeRceHandoverOnClosed: [{ type: 'say', config: { text: 'Closed ({{input.rceClose.outcome}}).' } }],
            closeRceHandoverOnNotRunning: [{ type: 'say', config: { text: 'Nothing to close.' } }],
            closeRceHandoverOnError: [{ type: 'say', config: { text: 'Close failed: {{input.rceClose.error.code}}' } }],
          },
        }),
      ],
    },
  };
}

describe.each(['lastWins', 'stack'] as const)('Close RCE Handover (recording relay, setNextNode model %s)', (model) => {
  const relay = useFrontedRig('standIn');

  /** A handover whose "On Long Wait" branch (a Say) was taken: the next input starts at the Flow start. */
  async function started() {
    const { flow } = closeFlow(model);
    const runner = new FlowRunner({ flow, extension, connections: { rce: relay.connection }, nextNodeModel: model });
    const session = newSession();
    await runner.send(session, { text: 'agent' });
    const state = () => runner.session(session).context.rceHandover as HandoverState;
    const longWait = await runner.send(session, {
      text: '',
      data: {
        handover: {
          source: 'rce-handover',
          threadId: state().threadId ?? '',
          status: 'queue',
          position: 2,
        } satisfies InjectedHandoverEvent,
      },
    });
    expect(texts(longWait)).toEqual(['Busy: say "close it" for a callback.']);
    expect(longWait.nextEntry).toBeNull();
    return { runner, session, state };
  }

  it("closes a waiting handover (Engage cancels it), ends the node's state, and the bot answers the next input", async () => {
    const { runner, session, state } = await started();
    relay.reset();
    const turn = await runner.send(session, { text: 'close it' });
    expect(texts(turn)).toEqual(['Closed (cancelled).']);
    expect(relay.requestsFor('closeHandover').map((r) => r.body.reason)).toEqual(['user_chose_callback']);
    expect(state()).toMatchObject({ active: false, status: 'completed', closeOutcome: 'cancelled', endedAt: expect.any(String) });
    const next = await runner.send(session, { text: 'hello' });
    expect(texts(next)).toEqual(['Bot here.']);
    expect(relay.requestsFor('userMessage')).toEqual([]);
  });

  it('takes On Closed when the relay closed the intervention (outcome closed)', async () => {
    const { runner, session, state } = await started();
    relay.respondWith('closeHandover', () => ({ body: { status: 'completed', closed: true, outcome: 'closed' } }));
    expect(texts(await runner.send(session, { text: 'close it' }))).toEqual(['Closed (closed).']);
    expect(state()).toMatchObject({ active: false, closeOutcome: 'closed' });
  });

  it('takes On Not Running without a handover', async () => {
    const runner = new FlowRunner({ flow: closeFlow(model).flow, extension, connections: { rce: relay.connection }, nextNodeModel: model });
    const session = newSession();
    const turn = await runner.send(session, { text: 'close it' });
    expect(texts(turn)).toEqual(['Nothing to close.']);
    expect(runner.session(session).context.rceHandover).toBeUndefined();
  });

  it('takes On Error and leaves the handover running when the relay fails', async () => {
    const { runner, session, state } = await started();
    relay.respondWith('closeHandover', () => ({ status: 503, body: { error: { code: 'store_unavailable', message: 'try again' } } }));
    const turn = await runner.send(session, { text: 'close it' });
    expect(texts(turn)).toEqual(['Close failed: store_unavailable']);
    expect(turn.input.rceClose).toEqual({ error: { code: 'store_unavailable', message: 'try again' }, handoverEnded: false });
    expect(
      turn.logs.some((l) => l.level === 'error' && l.message.includes('closeRceHandover: could not close the handover: store_unavailable')),
    ).toBe(true);
    expect(state()).toMatchObject({ active: true });
    // Still in the handover: the guard brings the next input to the node, which forwards it.
    relay.reset();
    expect(texts(await runner.send(session, { text: 'still there?' }))).toEqual([]);
    expect(relay.requestsFor('userMessage').map((r) => r.body.text)).toEqual(['still there?']);
  });

  it('after any other branch the node waits in itself: "close it" goes to the agent', async () => {
    const runner = new FlowRunner({ flow: closeFlow(model).flow, extension, connections: { rce: relay.connection }, nextNodeModel: model });
    const session = newSession();
    await runner.send(session, { text: 'agent' });
    relay.reset();
    expect(texts(await runner.send(session, { text: 'close it' }))).toEqual([]);
    expect(relay.requests.map((r) => r.route)).toEqual(['userMessage']);
  });
});

describe.each(['lastWins', 'stack'] as const)('the sandbox demo Flow (recording relay, setNextNode model %s)', (model) => {
  const relay = useFrontedRig('standIn');

  it('checks availability, hands over, offers a callback on a long wait, and closes on "Call me back"', async () => {
    const runner = new FlowRunner({ flow: demoFlow(), extension, connections: { sandbox: relay.connection }, nextNodeModel: model });
    const session = newSession();
    const start = await runner.send(session, { text: 'I want an agent' });
    expect(relay.requests.map((r) => r.route)).toEqual(['agentAvailability', 'startHandover']);
    expect(texts(start)).toEqual(["Please wait a moment, I'm connecting you with an agent."]);
    const state = () => runner.session(session).context.rceHandover as HandoverState;
    const queue = (position: number, estimatedWaitTime: number) =>
      runner.send(session, {
        text: '',
        data: { handover: { source: 'rce-handover', threadId: state().threadId, status: 'queue', position, estimatedWaitTime } },
      });

    expect(texts(await queue(2, 90_000))).toEqual([
      'You are number 2 in the queue. Estimated wait: about 2 minutes.',
      'It is busy right now. You can keep waiting, or we call you back.',
    ]);
    expect(texts(await queue(2, 100_000))).toEqual([]);
    relay.reset();
    const callback = await runner.send(session, { text: CALLBACK_REPLY });
    expect(texts(callback)).toEqual(['Done: an agent will call you back at the number in your profile. Anything else I can do?']);
    expect(relay.requests.map((r) => r.route)).toEqual(['closeHandover']);
    expect(relay.requestsFor('closeHandover')[0]?.body.reason).toBe('callback_requested');
    expect(state()).toMatchObject({ active: false });
    const after = await runner.send(session, { text: 'thanks' });
    expect(texts(after)).toEqual(['I am only a demo bot. Type "agent" and I will hand you over to a human.']);
  });

  it('after a long wait, sends "Keep waiting" to the agent; the offer is then answered and the node waits in itself again', async () => {
    // The node's own waiting, without the demo's While Waiting branch (that one is checked below).
    const flow = demoFlow();
    const handover = flow.nodes.find((node) => node.id === 'handover');
    if (!handover?.config) throw new Error('demo Flow has no handover node');
    handover.config.helpWhileWaiting = false;
    const runner = new FlowRunner({ flow, extension, connections: { sandbox: relay.connection }, nextNodeModel: model });
    const session = newSession();
    await runner.send(session, { text: 'agent' });
    const threadId = (runner.session(session).context.rceHandover as HandoverState).threadId ?? '';
    await runner.send(session, {
      text: '',
      data: { handover: { source: 'rce-handover', threadId, status: 'queue', position: 4, estimatedWaitTime: 200_000 } },
    });
    relay.reset();
    const keep = await runner.send(session, { text: 'Keep waiting' });
    expect(keep.outputs).toEqual([]);
    expect(keep.nextEntry).toBe('handover');
    expect(relay.requestsFor('userMessage').map((r) => r.body.text)).toEqual(['Keep waiting']);
    expect(runner.session(session).context.rceHandover).toMatchObject({ active: true, longWaitTaken: true, longWaitOfferOpen: false });
  });

  it('with the demo\'s While Waiting on, "Keep waiting" after a long wait also runs the branch, and the next input still reaches the agent', async () => {
    const runner = new FlowRunner({ flow: demoFlow(), extension, connections: { sandbox: relay.connection }, nextNodeModel: model });
    const session = newSession();
    await runner.send(session, { text: 'agent' });
    const threadId = (runner.session(session).context.rceHandover as HandoverState).threadId ?? '';
    await runner.send(session, {
      text: '',
      data: { handover: { source: 'rce-handover', threadId, status: 'queue', position: 4, estimatedWaitTime: 200_000 } },
    });
    relay.reset();
    const keep = await runner.send(session, { text: 'Keep waiting' });
    expect(keep.outputs).toEqual([]);
    expect(keep.input.handover).toMatchObject({ eventType: 'userInputWhileWaiting' });
    // Last call wins: the branch was the next node and ended, so the next input starts at the Flow start (the guard);
    // stacked: the node ran again after the branch and waits in itself.
    expect(keep.nextEntry).toBe(model === 'lastWins' ? null : 'handover');
    expect(runner.session(session).context.rceHandover).toMatchObject({ active: true, longWaitTaken: true, longWaitOfferOpen: false });
    expect(texts(await runner.send(session, { text: 'still there?' }))).toEqual([]);
    expect(relay.requestsFor('userMessage').map((r) => r.body.text)).toEqual(['Keep waiting', 'still there?']);
  });

  it('sends "Keep waiting" to the agent like any message', async () => {
    const runner = new FlowRunner({ flow: demoFlow(), extension, connections: { sandbox: relay.connection }, nextNodeModel: model });
    const session = newSession();
    await runner.send(session, { text: 'agent' });
    relay.reset();
    const turn = await runner.send(session, { text: 'Keep waiting' });
    expect(turn.outputs).toEqual([]);
    expect(relay.requestsFor('userMessage').map((r) => r.body.text)).toEqual(['Keep waiting']);
  });

  it('says the offline message when no agent is available, and starts no handover', async () => {
    relay.respondWith('agentAvailability', () => ({ body: { available: false, availableAgents: 0, checkedAt: new Date().toISOString() } }));
    const runner = new FlowRunner({ flow: demoFlow(), extension, connections: { sandbox: relay.connection }, nextNodeModel: model });
    const turn = await runner.send(newSession(), { text: 'agent' });
    expect(texts(turn)).toEqual([
      'Sorry, no agent is available right now (no_agents_available). Please try again during our opening hours.',
    ]);
    expect(relay.requests.map((r) => r.route)).toEqual(['agentAvailability']);
  });

  it('tries the handover anyway when availability cannot be checked', async () => {
    relay.respondWith('agentAvailability', () => ({ status: 501, body: { error: { code: 'not_implemented', message: 'not yet' } } }));
    const runner = new FlowRunner({ flow: demoFlow(), extension, connections: { sandbox: relay.connection }, nextNodeModel: model });
    const turn = await runner.send(newSession(), { text: 'agent' });
    expect(relay.requests.map((r) => r.route)).toEqual(['agentAvailability', 'startHandover']);
    expect(turn.nextEntry).toBe('handover');
  });
});
