import type { InjectedHandoverEvent } from '../../contract/relayApi';
import { CANCEL_PAYLOAD, type HandoverState } from '../../extension/src/handoverLogic';
import extension from '../../extension/src/module';
import { DEFAULT_ACCEPTED_MESSAGE, handoverToRceNode } from '../../extension/src/nodes/handoverToRce';
import {
  FlowRunner,
  placeNode,
  type Flow,
  type FlowNode,
  type NextNodeModel,
  type SessionKey,
  type TurnResult,
} from '../../sandbox/cognigy/flowRunner';
import { tenantSecrets, useFrontedRig, type FrontedRig } from '../helpers/relayRig';

/**
 * The Handover to RCE node run by the Flow runner against a relay on 127.0.0.1.
 * The journey block runs against both fronts of the relay rig (the recording stand-in
 * and the real relay behind the front); fault scripts need the stand-in.
 */

const profile = { firstname: 'Ada', lastname: 'Lovelace', email: 'ada@example.com', gender: 'female', goals: ['billing'] };

/**
 * How a branch chain ends: "say" = a Say only (the Flow-start guard brings the next input back);
 * "goToWait" = a Say, then Go To → Handover to RCE with "wait for input" (the README's two ways).
 */
type BranchStyle = 'say' | 'goToWait' | 'goToContinue';

/** The Flow the README tells bot builders to build: the guard first, the Handover node marked Set Entrypoint. */
function handoverFlow(config: Record<string, unknown> = {}, style: BranchStyle = 'say', guard = true): Flow {
  const backToHandover = (): Omit<FlowNode, 'id' | 'next'>[] =>
    style === 'say' ? [] : [{ type: 'goTo', config: { target: 'handover', mode: style === 'goToWait' ? 'wait' : 'continue' } }];
  return {
    nodes: [
      ...(guard
        ? [{ id: 'guard', type: 'goToIf', config: { value: '{{context.rceHandover.active}}', target: 'handover' }, next: 'welcome' }]
        : []),
      { id: 'welcome', type: 'say', config: { text: 'Welcome!' }, next: 'handover' },
      ...placeNode(handoverToRceNode, {
        id: 'handover',
        entrypoint: true,
        config: { connection: 'rce', transcript: '{{context.transcript}}', contextData: { intent: '{{context.intent}}' }, ...config },
        branches: {
          onQueueUpdate: backToHandover(),
          onAgentJoined: [{ type: 'say', config: { text: 'Agent {{context.rceHandover.agentName}} joined.' } }, ...backToHandover()],
          onReturnToBot: [{ type: 'say', config: { text: 'Welcome back to the bot.' } }],
          onCancel: [{ type: 'say', config: { text: 'Handover cancelled.' } }],
          onError: [{ type: 'say', config: { text: 'Sorry: {{context.rceHandover.error.code}}' } }, ...backToHandover()],
        },
      }),
    ],
  };
}

let sessionCounter = 0;
function newSession(): SessionKey {
  sessionCounter += 1;
  return { URLToken: 'endpoint-url-token', userId: `user-${sessionCounter}`, sessionId: `session-${sessionCounter}-${Date.now()}` };
}

/** How the Flow is built and which reading of setNextNode the runner applies (see flowRunner.ts). */
interface FlowShape {
  style?: BranchStyle;
  guard?: boolean;
  model?: NextNodeModel;
}

function runnerFor(
  relay: FrontedRig,
  config: Record<string, unknown> = {},
  connection: Record<string, string> = relay.connection,
  shape: FlowShape = {},
): FlowRunner {
  return new FlowRunner({
    flow: handoverFlow(config, shape.style ?? 'say', shape.guard ?? true),
    extension,
    connections: { rce: connection },
    defaultProfile: profile,
    nextNodeModel: shape.model ?? 'lastWins',
  });
}

function state(runner: FlowRunner, session: SessionKey): HandoverState {
  return runner.session(session).context.rceHandover as HandoverState;
}

function texts(turn: TurnResult): string[] {
  return turn.outputs.map((o) => o.text);
}

/** Cognigy's limit is 10; our nodes promise one. */
function expectAtMostOneCallPerExecution(turn: TurnResult): void {
  for (const execution of turn.executions) expect(execution.httpCalls).toBeLessThanOrEqual(1);
}

function handoverEvent(
  runner: FlowRunner,
  session: SessionKey,
  status: InjectedHandoverEvent['status'],
  extra: Partial<InjectedHandoverEvent> = {},
) {
  return { text: '', data: { handover: { source: 'rce-handover', threadId: state(runner, session).threadId, status, ...extra } } };
}

async function startedSession(
  relay: FrontedRig,
  config: Record<string, unknown> = {},
  shape: FlowShape = {},
): Promise<{ runner: FlowRunner; session: SessionKey; start: TurnResult }> {
  const runner = runnerFor(relay, config, relay.connection, shape);
  const session = newSession();
  runner.session(session).context.transcript = [
    { role: 'user', text: 'My invoice is wrong' },
    { role: 'bot', text: 'I can connect you with an agent.' },
  ];
  runner.session(session).context.intent = 'billing';
  const start = await runner.send(session, { text: 'I want a human' });
  return { runner, session, start };
}

/** The proof that the handover survived: the next user message goes to the agent and the bot says nothing. */
async function nextMessageGoesToTheAgent(relay: FrontedRig, runner: FlowRunner, session: SessionKey): Promise<void> {
  relay.reset();
  const next = await runner.send(session, { text: 'Still there?' });
  expect(next.outputs).toEqual([]);
  expect(relay.requestsFor('userMessage').map((r) => r.body.text)).toEqual(['Still there?']);
  expect(next.nextEntry).toBe('handover');
}

const STYLE_NAMES: Record<BranchStyle, string> = {
  say: 'branch chains that end in a Say (the Flow-start guard brings the next input back)',
  goToWait: 'branch chains that end in Go To → Handover (wait for input)',
  goToContinue: 'branch chains that end in Go To → Handover (continue): the node runs twice on one input',
};
/** Every way the README allows to end a branch, under both readings of setNextNode. */
const BRANCH_STYLES: [string, FlowShape][] = (['lastWins', 'stack'] as const).flatMap((model) =>
  (['say', 'goToWait', 'goToContinue'] as const).map((style): [string, FlowShape] => [
    `${STYLE_NAMES[style]}, setNextNode model "${model}"`,
    { style, model },
  ]),
);

function expectNoSecretsAnywhere(runner: FlowRunner, session: SessionKey): void {
  const s = runner.session(session);
  const everything = JSON.stringify({ context: s.context, logs: s.logs, outputs: s.outputs });
  for (const secret of Object.values(tenantSecrets(0))) expect(everything).not.toContain(secret);
}

describe.each(['standIn', 'relay'] as const)('Handover to RCE against the %s', (front) => {
  const relay = useFrontedRig(front);

  it('starts a handover with one signed call, tells the user and waits in the node', async () => {
    const { runner, session, start } = await startedSession(relay);
    expect(texts(start)).toEqual(['Welcome!', DEFAULT_ACCEPTED_MESSAGE]);
    expect(start.outputs[1]?.data).toMatchObject({
      _cognigy: { _default: { _quickReplies: { quickReplies: [{ payload: CANCEL_PAYLOAD, title: 'Cancel' }] } } },
    });
    expect(start.executions.find((e) => e.nodeId === 'handover')?.httpCalls).toBe(1);
    expect(start.nextEntry).toBe('handover');

    const [request] = relay.requestsFor('startHandover');
    expect(request?.status).toBe(200);
    expect(request?.signature.ok).toBe(true);
    expect(request?.body).toMatchObject({
      session,
      firstMessage: 'The customer asked for a human agent.',
      profile: { firstname: 'Ada', lastname: 'Lovelace', email: 'ada@example.com', goals: ['billing'] },
      transcript: [
        { role: 'user', text: 'My invoice is wrong' },
        { role: 'bot', text: 'I can connect you with an agent.' },
      ],
      contextData: { intent: 'billing' },
      options: { forwardOnlyHandoverConversations: true, getQueueUpdates: true },
    });
    expect(state(runner, session)).toMatchObject({
      active: true,
      status: 'queued',
      threadId: expect.any(String),
      startedAt: expect.any(String),
      error: null,
    });
  });

  it("takes the Get Transcript node's result as it comes (Get Transcript → Handover)", async () => {
    const runner = runnerFor(relay);
    const session = newSession();
    runner.session(session).context.transcript = [
      { role: 'user', type: 'input', payload: { text: 'My invoice is wrong', data: {} } },
      { role: 'assistant', type: 'output', payload: { text: 'I can connect you with an agent.', data: null } },
      { role: 'tool', type: 'toolCall', payload: { name: 'lookupInvoice' } },
    ];
    const start = await runner.send(session, { text: 'agent' });
    expect(start.logs.filter((l) => l.level === 'warn')).toEqual([]);
    expect(relay.requestsFor('startHandover')[0]?.body.transcript).toEqual([
      { role: 'user', text: 'My invoice is wrong' },
      { role: 'bot', text: 'I can connect you with an agent.' },
    ]);
  });

  it('forwards user messages to the agent and keeps the bot silent', async () => {
    const { runner, session } = await startedSession(relay);
    relay.reset();
    const turn = await runner.send(session, {
      text: 'Here is a photo',
      data: { attachments: [{ url: 'https://cdn.example.com/invoice.png', name: 'invoice.png' }] },
    });
    expect(turn.outputs).toEqual([]);
    expect(turn.nextEntry).toBe('handover');
    expect(turn.executions).toHaveLength(1);
    expect(turn.executions[0]?.httpCalls).toBe(1);
    const [request] = relay.requestsFor('userMessage');
    expect(request?.body).toMatchObject({
      role: 'user',
      text: 'Here is a photo',
      attachments: [{ url: 'https://cdn.example.com/invoice.png', filename: 'invoice.png' }],
      session,
    });
    expect(request?.status).toBe(200);
  });

  const expectNextMessageGoesToTheAgent = (runner: FlowRunner, session: SessionKey) => nextMessageGoesToTheAgent(relay, runner, session);

  describe.each(BRANCH_STYLES)('with %s', (_name, shape) => {
    it('says the queue position on a queue event without calling the relay, and stays in the handover', async () => {
      const { runner, session } = await startedSession(relay, {}, shape);
      relay.reset();
      const turn = await runner.send(session, handoverEvent(runner, session, 'queue', { position: 3, estimatedWaitTime: 90_000 }));
      expect(texts(turn)).toEqual(['You are number 3 in the queue. Estimated wait: about 2 minutes.']);
      expect(turn.executions.every((e) => e.httpCalls === 0)).toBe(true);
      expect(relay.requests).toHaveLength(0);
      expect(turn.input.handover).toEqual({
        status: 'queue',
        eventType: 'queueUpdate',
        data: { threadId: expect.any(String), position: 3, estimatedWaitTime: 90_000 },
      });
      expect(state(runner, session)).toMatchObject({ active: true, status: 'queued', position: 3, estimatedWaitTime: 90_000 });
      await expectNextMessageGoesToTheAgent(runner, session);
    });

    it('takes "On Agent Joined" with the agent\'s sender_name and stays in the handover', async () => {
      const { runner, session } = await startedSession(relay, {}, shape);
      const turn = await runner.send(session, handoverEvent(runner, session, 'active', { agentName: 'Grace' }));
      expect(texts(turn)).toEqual(['Agent Grace joined.']);
      expect(turn.input.handover).toMatchObject({
        status: 'active',
        eventType: 'agentJoined',
        data: { sender_name: 'Grace', agentName: 'Grace' },
      });
      expect(state(runner, session)).toMatchObject({ active: true, status: 'active', agentName: 'Grace' });
      await expectNextMessageGoesToTheAgent(runner, session);
    });
  });

  it('without the Flow-start guard and with the last setNextNode winning, a branch that ends in a Say loses the handover (why the guard is mandatory)', async () => {
    const { runner, session } = await startedSession(relay, {}, { style: 'say', guard: false, model: 'lastWins' });
    await runner.send(session, handoverEvent(runner, session, 'queue', { position: 1 }));
    relay.reset();
    const next = await runner.send(session, { text: 'Hello?' });
    // Real Cognigy starts the next input at the Flow start: the bot speaks again during the handover
    // (in this Flow the start leads back into the node; in most Flows the agent would never see the message).
    expect(texts(next)[0]).toBe('Welcome!');
  });

  it('with stacked next nodes, the node runs again on the event after its branch, says nothing more, and waits', async () => {
    const { runner, session } = await startedSession(relay, {}, { style: 'say', guard: false, model: 'stack' });
    const turn = await runner.send(session, handoverEvent(runner, session, 'active', { agentName: 'Grace' }));
    expect(texts(turn)).toEqual(['Agent Grace joined.']);
    expect(turn.executions.map((e) => e.nodeId)).toEqual(['handover', 'handover']);
    expect(turn.nextEntry).toBe('handover');
    await expectNextMessageGoesToTheAgent(runner, session);
  });

  it('is idempotent per input: run twice on one input, it neither resends nor repeats', async () => {
    const { runner, session } = await startedSession(relay);
    relay.reset();
    const first = await runner.send(session, { text: 'Once' }, { inputId: 'input-42' });
    const again = await runner.send(session, { text: 'Once' }, { inputId: 'input-42' });
    expect(first.outputs).toEqual([]);
    expect(again.outputs).toEqual([]);
    expect(relay.requestsFor('userMessage')).toHaveLength(1);
    expect(again.nextEntry).toBe('handover');
    const queue = handoverEvent(runner, session, 'queue', { position: 2 });
    expect(texts(await runner.send(session, queue, { inputId: 'event-7' }))).toHaveLength(1);
    expect(texts(await runner.send(session, queue, { inputId: 'event-7' }))).toEqual([]);
  });

  it("stays within Cognigy's 10 extension actions per execution on every path", async () => {
    const { runner, session, start } = await startedSession(relay, {}, { style: 'goToContinue' });
    const turns = [
      start,
      await runner.send(session, { text: 'hi' }),
      await runner.send(session, handoverEvent(runner, session, 'queue', { position: 1, estimatedWaitTime: 1000 })),
      await runner.send(session, handoverEvent(runner, session, 'active', { agentName: 'Grace' })),
      await runner.send(session, handoverEvent(runner, session, 'completed')),
    ];
    // The busiest start: three warnings logged (opted-out profile, a bad transcript line, a bad context value).
    const noisy = new FlowRunner({
      flow: handoverFlow({ transcript: [{ role: 'robot' }], contextData: { nested: { a: 1 } } }),
      extension,
      connections: { rce: relay.connection },
      defaultProfile: { ...profile, prevent_data_collection: true },
    });
    turns.push(await noisy.send(newSession(), { text: 'agent' }));
    expect(turns.at(-1)?.logs.filter((l) => l.nodeId === 'handover')).toHaveLength(3);
    for (const turn of turns) for (const execution of turn.executions) expect(execution.actions).toBeLessThanOrEqual(7);
    expect(turns[4]?.input.handover).toMatchObject({ status: 'completed', eventType: 'conversationClosed' });
  });

  it('returns to the bot when the agent closes, and the next input starts the Flow again', async () => {
    const { runner, session } = await startedSession(relay);
    const done = await runner.send(session, handoverEvent(runner, session, 'completed'));
    expect(texts(done)).toEqual(['Welcome back to the bot.']);
    expect(done.nextEntry).toBeNull();
    expect(state(runner, session)).toMatchObject({ active: false, status: 'completed', endedAt: expect.any(String) });
    relay.reset();
    const next = await runner.send(session, { text: 'Hello again' });
    expect(texts(next)[0]).toBe('Welcome!');
    expect(relay.requestsFor('startHandover')).toHaveLength(1);
  });

  it.each(['Cancel', '  stop ', CANCEL_PAYLOAD])('cancels on %p', async (text) => {
    const { runner, session } = await startedSession(relay);
    relay.reset();
    const turn = await runner.send(session, { text });
    expect(texts(turn)).toEqual(['Handover cancelled.']);
    expect(turn.nextEntry).toBeNull();
    expect(relay.requests.map((r) => r.route)).toEqual(['cancelHandover']);
    expect(relay.requests[0]?.status).toBe(200);
    expect(state(runner, session)).toMatchObject({ active: false, status: 'cancelled' });
    // A late event (here: an echo of our own cancel) enters at the Flow start, like any inject
    // after the end; the Handover node ignores it: no branch, no call, no new handover.
    relay.reset();
    const echo = await runner.send(session, handoverEvent(runner, session, 'cancelled'));
    expect(echo.outputs.map((o) => o.nodeId)).toEqual(['welcome']);
    expect(echo.nextEntry).toBeNull();
    expect(relay.requests).toHaveLength(0);
    expect(echo.logs.some((l) => l.nodeId === 'handover' && l.message.includes('already_ended'))).toBe(true);
  });

  it('ignores events for another thread and events after the end', async () => {
    const { runner, session } = await startedSession(relay);
    relay.reset();
    const foreign = await runner.send(session, {
      data: { handover: { source: 'rce-handover', threadId: 'someone-else', status: 'completed' } },
    });
    expect(foreign.outputs).toEqual([]);
    expect(foreign.nextEntry).toBe('handover');
    expect(state(runner, session).active).toBe(true);
    const malformed = await runner.send(session, { data: { handover: { source: 'rce-handover', status: 'teleported' } } });
    expect(malformed.outputs).toEqual([]);
    expect(malformed.nextEntry).toBe('handover');
    expect(relay.requests).toHaveLength(0);
  });

  it('sends the same requestId when Cognigy retries the same input', async () => {
    const runner = runnerFor(relay);
    const session = newSession();
    await runner.send(session, { text: 'agent please' }, { inputId: 'retried-input-1' });
    // Cognigy re-runs the input as if the first run never finished.
    runner.session(session).context = {};
    runner.session(session).entry = null;
    await runner.send(session, { text: 'agent please' }, { inputId: 'retried-input-1' });
    const [first, second] = relay.requestsFor('startHandover');
    expect(first?.body.requestId).toBe(second?.body.requestId);
  });

  it('never puts a secret into context, logs or outputs', async () => {
    const { runner, session } = await startedSession(relay);
    await runner.send(session, { text: 'hi' });
    await runner.send(session, handoverEvent(runner, session, 'queue', { position: 1, estimatedWaitTime: 1000 }));
    await runner.send(session, { text: 'cancel' });
    expectNoSecretsAnywhere(runner, session);
  });
});

describe('Handover to RCE when things go wrong (recording relay)', () => {
  const relay = useFrontedRig('standIn');

  it('takes "On Error" with a clear log line when the relay is down', async () => {
    const runner = new FlowRunner({
      flow: handoverFlow(),
      extension,
      connections: { rce: { ...relay.connection, relayUrl: 'http://127.0.0.1:9' } },
      defaultProfile: profile,
    });
    const session = newSession();
    const turn = await runner.send(session, { text: 'human' });
    expect(texts(turn)).toEqual(['Welcome!', 'Sorry: relay_unreachable']);
    expect(turn.nextEntry).toBeNull();
    expect(state(runner, session)).toMatchObject({ active: false, status: 'error', error: { code: 'relay_unreachable' } });
    const errors = turn.logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe(
      '[rce-handover] handoverToRce: could not start the handover: relay_unreachable: The relay at http://127.0.0.1:9 is unreachable (ECONNREFUSED).',
    );
    expectNoSecretsAnywhere(runner, session);
  });

  it('names the drifting connection field', async () => {
    const runner = runnerFor(relay, {}, { ...relay.connection, agentCategoryId: 'stale-category' });
    const session = newSession();
    const turn = await runner.send(session, { text: 'human' });
    expect(texts(turn)).toEqual(['Welcome!', 'Sorry: connection_mismatch']);
    expect(state(runner, session).error?.message).toContain('Agent Category ID');
  });

  it('routes a broken connection to "On Error" without any call', async () => {
    const runner = runnerFor(relay, {}, { ...relay.connection, relayApiKey: '' });
    const session = newSession();
    const turn = await runner.send(session, { text: 'human' });
    expect(texts(turn)).toEqual(['Welcome!', 'Sorry: invalid_connection']);
    expect(turn.executions[0]?.httpCalls).toBe(0);
    expect(state(runner, session).error?.message).toContain('"Relay API Key" (relayApiKey) is missing');
  });

  it('rejects an unknown Engage key in the profile mappings before calling', async () => {
    const runner = runnerFor(relay, { profileMapping: { shoeSize: 'shoe_size' } });
    const session = newSession();
    const turn = await runner.send(session, { text: 'human' });
    expect(texts(turn)).toEqual(['Welcome!', 'Sorry: invalid_profile_mapping']);
    expect(relay.requests).toHaveLength(0);
    expect(turn.logs.find((l) => l.level === 'error')?.message).toContain('"shoeSize" maps to "shoe_size"');
  });

  it('sends explicit mappings, and no profile when the toggle is off or the contact opted out', async () => {
    await runnerFor(relay, { profileMapping: { mobile: 'mobile_phone', customerNo: 'context_data.customer_no' } }).send(newSession(), {
      text: 'x',
    });
    expect(relay.requestsFor('startHandover')[0]?.body).toMatchObject({
      profileMapping: { mobile: 'mobile_phone', customerNo: 'context_data.customer_no' },
    });

    relay.reset();
    await runnerFor(relay, { useCognigyProfile: false }).send(newSession(), { text: 'x' });
    expect(relay.requestsFor('startHandover')[0]?.body.profile).toEqual({});

    relay.reset();
    const optedOut = new FlowRunner({
      flow: handoverFlow(),
      extension,
      connections: { rce: relay.connection },
      defaultProfile: { ...profile, prevent_data_collection: true },
    });
    const turn = await optedOut.send(newSession(), { text: 'x' });
    expect(relay.requestsFor('startHandover')[0]?.body.profile).toEqual({});
    expect(turn.logs.some((l) => l.level === 'info' && l.message.includes('opted out'))).toBe(true);
  });

  it('passes the option toggles and a custom first message', async () => {
    await runnerFor(relay, {
      forwardOnlyHandoverConversations: false,
      getQueueUpdates: false,
      firstMessage: 'VIP {{profile.firstname}} needs help',
    }).send(newSession(), { text: 'x' });
    expect(relay.requestsFor('startHandover')[0]?.body).toMatchObject({
      firstMessage: 'VIP Ada needs help',
      options: { forwardOnlyHandoverConversations: false, getQueueUpdates: false },
    });
  });

  it('says nothing on start or queue updates when those messages are empty, and no button without a label', async () => {
    const { runner, session, start } = await startedSession(relay, { acceptedMessage: '', queueMessageTemplate: '' });
    expect(texts(start)).toEqual(['Welcome!']);
    const queued = await runner.send(session, handoverEvent(runner, session, 'queue', { position: 2 }));
    expect(queued.outputs).toEqual([]);
    const plain = await startedSession(relay, { cancelButtonLabel: '' });
    expect(plain.start.outputs[1]?.data).toBeNull();
  });

  describe.each(BRANCH_STYLES)('with %s', (_name, shape) => {
    it('takes "On Error" when a message cannot be forwarded, and keeps the handover', async () => {
      const { runner, session } = await startedSession(relay, {}, shape);
      relay.respondWith('userMessage', () => ({ status: 503, body: { error: { code: 'unavailable', message: 'Relay is restarting' } } }));
      const turn = await runner.send(session, { text: 'Are you there?' });
      expect(texts(turn)).toEqual(['Sorry: unavailable']);
      expect(relay.requestsFor('userMessage')).toHaveLength(1);
      expect(state(runner, session)).toMatchObject({ active: true, error: { code: 'unavailable' } });
      await nextMessageGoesToTheAgent(relay, runner, session);
    });
  });

  it('leaves the handover when the relay says it is already over', async () => {
    const { runner, session } = await startedSession(relay);
    relay.respondWith('userMessage', () => ({ body: { forwarded: false, status: 'completed' } }));
    const turn = await runner.send(session, { text: 'hello?' });
    expect(texts(turn)).toEqual(['Welcome back to the bot.']);
    expect(turn.nextEntry).toBeNull();
    expect(state(runner, session).active).toBe(false);
  });

  it('ends the handover locally when a cancel cannot reach the relay', async () => {
    const { runner, session } = await startedSession(relay);
    relay.respondWith('cancelHandover', () => ({ status: 500, body: 'oops' }));
    const turn = await runner.send(session, { text: 'cancel' });
    expect(texts(turn)).toEqual(['Sorry: relay_http_500']);
    expect(turn.nextEntry).toBeNull();
    expect(state(runner, session)).toMatchObject({ active: false, status: 'error' });
  });

  it('continues a handover the relay already runs', async () => {
    relay.respondWith('startHandover', () => ({ body: { threadId: 'existing-thread', status: 'active', started: false } }));
    const runner = runnerFor(relay);
    const session = newSession();
    const turn = await runner.send(session, { text: 'agent' });
    expect(texts(turn)).toEqual(['Welcome!']);
    expect(turn.nextEntry).toBe('handover');
    expect(state(runner, session)).toMatchObject({ active: true, threadId: 'existing-thread', status: 'active' });
    expect(turn.logs.some((l) => l.message.includes('already running'))).toBe(true);
  });

  it('routes an Engage error event to "On Error" and ends the handover', async () => {
    const { runner, session } = await startedSession(relay);
    const turn = await runner.send(
      session,
      handoverEvent(runner, session, 'error', { error: { reason: 'engage_unavailable', message: 'Engage did not accept the thread' } }),
    );
    expect(texts(turn)).toEqual(['Sorry: engage_unavailable']);
    expect(turn.nextEntry).toBeNull();
    expect(turn.logs.find((l) => l.level === 'error')?.message).toContain('Engage did not accept the thread');
    expectAtMostOneCallPerExecution(turn);
  });

  it('does not forward empty inputs', async () => {
    const { runner, session } = await startedSession(relay);
    relay.reset();
    const turn = await runner.send(session, { text: '   ' });
    expect(turn.nextEntry).toBe('handover');
    expect(relay.requests).toHaveLength(0);
  });
});
