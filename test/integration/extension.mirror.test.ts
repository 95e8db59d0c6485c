import extension from '../../extension/src/module';
import { handoverToRceNode } from '../../extension/src/nodes/handoverToRce';
import { mirrorToRceNode } from '../../extension/src/nodes/mirrorToRce';
import { FlowRunner, placeNode, type Flow, type SessionKey, type TurnResult } from '../../sandbox/cognigy/flowRunner';
import { tenantSecrets, useFrontedRig } from '../helpers/relayRig';

/**
 * Mirror to RCE ("Forward Only Handover Conversations" off), run by the Flow runner against a
 * relay on 127.0.0.1: the real relay and the recording stand-in; scripted faults need the latter.
 *
 * The Flow: Mirror (user input) at the start → guard "If context.rceHandover.active → Handover"
 * → "agent|human" → Handover, else a Say followed by a second Mirror that mirrors the bot text.
 */

function mirrorFlow(mirrorConfig: Record<string, unknown> = {}): Flow {
  return {
    nodes: [
      ...placeNode(mirrorToRceNode, { id: 'mirrorUser', config: { connection: 'rce', ...mirrorConfig }, next: 'guard' }),
      { id: 'guard', type: 'goToIf', config: { value: '{{context.rceHandover.active}}', target: 'handover' }, next: 'route' },
      { id: 'route', type: 'ifTextMatches', config: { pattern: '^(agent|human)$', target: 'handover' }, next: 'answer' },
      { id: 'answer', type: 'say', config: { text: 'You said: {{input.text}}' }, next: 'mirrorBot' },
      ...placeNode(mirrorToRceNode, {
        id: 'mirrorBot',
        config: { connection: 'rce', mirrorUserInput: false, botText: 'You said: {{input.text}}' },
      }),
      ...placeNode(handoverToRceNode, {
        id: 'handover',
        entrypoint: true,
        config: { connection: 'rce', acceptedMessage: '', forwardOnlyHandoverConversations: false },
      }),
    ],
  };
}

function singleMirrorFlow(config: Record<string, unknown>): Flow {
  return {
    nodes: [
      ...placeNode(mirrorToRceNode, { id: 'mirror', config: { connection: 'rce', ...config }, next: 'after' }),
      { id: 'after', type: 'say', config: { text: 'after the mirror' } },
    ],
  };
}

let counter = 0;
const newSession = (): SessionKey => {
  counter += 1;
  return { URLToken: 'endpoint-url-token', userId: `mirror-user-${counter}`, sessionId: `mirror-session-${counter}-${Date.now()}` };
};

const texts = (turn: TurnResult): string[] => turn.outputs.map((o) => o.text);
const callsOf = (turn: TurnResult, nodeId: string): number[] => turn.executions.filter((e) => e.nodeId === nodeId).map((e) => e.httpCalls);
const problems = (turn: TurnResult) => turn.logs.filter((l) => l.level === 'error' || l.level === 'warn');

function expectNoSecretsAnywhere(runner: FlowRunner, session: SessionKey): void {
  const everything = JSON.stringify(runner.session(session));
  for (const secret of Object.values(tenantSecrets(0))) expect(everything).not.toContain(secret);
}

describe.each(['relay', 'standIn'] as const)('Mirror to RCE against the %s', (front) => {
  const relay = useFrontedRig(front);

  const runnerFor = (flow: Flow = mirrorFlow(), connection: Record<string, string> = relay.connection) =>
    new FlowRunner({ flow, extension, connections: { rce: connection } });

  it('mirrors the user message (with attachments) before any handover, and the relay forwards it', async () => {
    const runner = runnerFor();
    const session = newSession();
    const turn = await runner.send(session, {
      text: 'Where is my parcel?',
      data: { attachments: [{ url: 'https://cdn.example.com/receipt.png', name: 'receipt.png' }, 'not a url'] },
    });
    expect(texts(turn)).toEqual(['You said: Where is my parcel?']);
    expect(callsOf(turn, 'mirrorUser')).toEqual([1]);
    expect(problems(turn)).toEqual([]);
    expect(turn.nextEntry).toBeNull();

    const [user] = relay.requestsFor('userMessage');
    expect(user?.signature.ok).toBe(true);
    expect(user?.schemaError).toBeNull();
    expect(user?.body).toMatchObject({
      session,
      role: 'user',
      mirror: true,
      text: 'Where is my parcel?',
      attachments: [{ url: 'https://cdn.example.com/receipt.png', filename: 'receipt.png' }],
    });
    expect(user?.status).toBe(200);
    expect(user?.response).toEqual({ forwarded: true, status: 'idle' });
    // The node keeps nothing in the context.
    expect(runner.session(session).context).toEqual({});
  });

  it('mirrors a bot text as the bot from a second node, not taken for a retry of the first', async () => {
    const runner = runnerFor();
    const session = newSession();
    const turn = await runner.send(session, { text: 'Hello' });
    expect(callsOf(turn, 'mirrorUser')).toEqual([1]);
    expect(callsOf(turn, 'mirrorBot')).toEqual([1]);
    const [user, bot] = relay.requestsFor('userMessage');
    expect(user?.body).toMatchObject({ role: 'user', mirror: true, text: 'Hello' });
    expect(bot?.body).toMatchObject({ session, role: 'bot', mirror: true, text: 'You said: Hello', attachments: [] });
    expect(bot?.response).toEqual({ forwarded: true, status: 'idle' });
    expect(bot?.body.requestId).not.toBe(user?.body.requestId);
    expect(relay.requests).toHaveLength(2);
  });

  it('makes exactly one call per execution: the user input if there is one, else the bot text', async () => {
    const runner = runnerFor(singleMirrorFlow({ botText: 'Bot says hi' }));
    const session = newSession();
    const withText = await runner.send(session, { text: 'I type something' });
    const withoutText = await runner.send(session, { text: '' });
    for (const turn of [withText, withoutText]) {
      expect(callsOf(turn, 'mirror')).toEqual([1]);
      expect(texts(turn)).toEqual(['after the mirror']);
      expect(problems(turn)).toEqual([]);
    }
    expect(relay.requestsFor('userMessage').map((r) => [r.body.role, r.body.text])).toEqual([
      ['user', 'I type something'],
      ['bot', 'Bot says hi'],
    ]);
    expect(relay.requestsFor('userMessage').every((r) => r.status === 200)).toBe(true);
  });

  it('sends nothing when there is nothing to mirror', async () => {
    for (const [config, text] of [
      [{}, '   '],
      [{ mirrorUserInput: false }, 'not mirrored'],
      [{ mirrorUserInput: false, botText: '  ' }, 'x'],
    ] as const) {
      const turn = await runnerFor(singleMirrorFlow(config)).send(newSession(), { text });
      expect(callsOf(turn, 'mirror')).toEqual([0]);
      expect(texts(turn)).toEqual(['after the mirror']);
      expect(turn.logs).toEqual([]);
    }
    expect(relay.requests).toHaveLength(0);
  });

  it('stays silent while a handover runs (the Handover node forwards) and mirrors again after it', async () => {
    const runner = runnerFor();
    const session = newSession();
    const start = await runner.send(session, { text: 'agent' });
    expect(callsOf(start, 'mirrorUser')).toEqual([1]);
    expect(callsOf(start, 'handover')).toEqual([1]);
    expect(relay.requests.map((r) => r.route)).toEqual(['userMessage', 'startHandover']);
    expect(relay.requestsFor('startHandover')[0]?.body.options.forwardOnlyHandoverConversations).toBe(false);
    expect(runner.session(session).context.rceHandover).toMatchObject({ active: true, status: 'queued' });

    // Cognigy re-enters at the Flow start (e.g. after a Flow switch): the Mirror node runs but skips.
    relay.reset();
    runner.session(session).entry = null;
    const during = await runner.send(session, { text: 'Are you there?' });
    expect(callsOf(during, 'mirrorUser')).toEqual([0]);
    expect(callsOf(during, 'handover')).toEqual([1]);
    expect(relay.requests).toHaveLength(1);
    const [forwarded] = relay.requestsFor('userMessage');
    expect(forwarded?.body).toMatchObject({ role: 'user', mirror: false, text: 'Are you there?' });
    expect(forwarded?.response).toEqual({ forwarded: true, status: 'queued' });

    // The user cancels; afterwards the conversation is mirrored again.
    await runner.send(session, { text: 'cancel' });
    expect(runner.session(session).context.rceHandover).toMatchObject({ active: false, status: 'cancelled' });
    relay.reset();
    const after = await runner.send(session, { text: 'Thanks anyway' });
    expect(callsOf(after, 'mirrorUser')).toEqual([1]);
    expect(callsOf(after, 'mirrorBot')).toEqual([1]);
    expect(relay.requestsFor('userMessage').map((r) => r.response)).toEqual([
      { forwarded: true, status: 'cancelled' },
      { forwarded: true, status: 'cancelled' },
    ]);
  });

  it('reads the handover state under a custom context key', async () => {
    const runner = runnerFor(singleMirrorFlow({ contextKey: 'myHandover' }));
    const session = newSession();
    runner.session(session).context.myHandover = { active: true, threadId: 'cg-1', status: 'active', startedAt: null, updatedAt: '' };
    const turn = await runner.send(session, { text: 'to the agent' });
    expect(callsOf(turn, 'mirror')).toEqual([0]);
    expect(texts(turn)).toEqual(['after the mirror']);
    expect(relay.requests).toHaveLength(0);
  });

  it('skips events injected by the relay, valid or malformed', async () => {
    const runner = runnerFor();
    const session = newSession();
    for (const handover of [
      { source: 'rce-handover', status: 'queue', threadId: 'cg-late', position: 2, estimatedWaitTime: 60000 },
      { source: 'rce-handover', status: 'bogus' },
    ]) {
      const turn = await runner.send(session, { text: '', data: { handover } });
      expect(callsOf(turn, 'mirrorUser')).toEqual([0]);
      expect(callsOf(turn, 'mirrorBot')).toEqual([0]);
    }
    expect(relay.requests).toHaveLength(0);
  });

  it('logs a failure and continues with the next node', async () => {
    for (const [connection, code] of [
      [{ ...relay.connection, relayUrl: 'http://127.0.0.1:9' }, 'relay_unreachable'],
      [{ ...relay.connection, botCategoryId: 'another-category' }, 'connection_mismatch'],
      [{ ...relay.connection, relayApiKey: 'a-different-relay-key-000' }, 'bad_signature'],
    ] as const) {
      const runner = runnerFor(mirrorFlow(), connection);
      const session = newSession();
      const turn = await runner.send(session, { text: 'hi' });
      expect(texts(turn)).toEqual(['You said: hi']);
      expect(turn.executions.every((e) => e.failure === undefined)).toBe(true);
      expect(callsOf(turn, 'mirrorUser')).toEqual([1]);
      expect(callsOf(turn, 'mirrorBot')).toEqual([1]);
      const errors = turn.logs.filter((l) => l.level === 'error');
      expect(errors.map((l) => l.nodeId)).toEqual(['mirrorUser', 'mirrorBot']);
      for (const e of errors)
        expect(e.message).toMatch(new RegExp(`^\\[rce-handover\\] mirrorToRce: could not mirror the message: ${code}: `));
      expect(turn.nextEntry).toBeNull();
      expect(runner.session(session).context).toEqual({});
      expectNoSecretsAnywhere(runner, session);
    }
  });

  it('logs a missing session triple or connection without calling', async () => {
    const turn = await runnerFor().send(newSession(), { text: 'hi' }, { URLToken: '' });
    expect(texts(turn)).toEqual(['You said: hi']);
    expect(turn.logs.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      expect.stringContaining('mirrorToRce: could not mirror the message: missing_session: input.URLToken is missing'),
      expect.stringContaining('mirrorToRce: could not mirror the message: missing_session: input.URLToken is missing'),
    ]);
    const noConnection = await runnerFor(singleMirrorFlow({ connection: undefined })).send(newSession(), { text: 'hi' });
    expect(texts(noConnection)).toEqual(['after the mirror']);
    expect(noConnection.logs.filter((l) => l.level === 'error')[0]?.message).toContain(
      'mirrorToRce: could not mirror the message: invalid_connection',
    );
    expect(relay.requests).toHaveLength(0);
  });

  it('sends the same request id when Cognigy re-runs the same input', async () => {
    const runner = runnerFor(singleMirrorFlow({}));
    const session = newSession();
    await runner.send(session, { text: 'once' }, { inputId: 'input-retried' });
    // A byte-identical request signed in the same second is refused by the relay as a replay;
    // Cognigy's re-run comes later, so sign it in the next second.
    await new Promise((resolve) => setTimeout(resolve, 1020 - (Date.now() % 1000)));
    const retry = await runner.send(session, { text: 'once' }, { inputId: 'input-retried' });
    expect(problems(retry)).toEqual([]);
    const [first, second] = relay.requestsFor('userMessage');
    expect(first?.body.requestId).toBe(second?.body.requestId);
    expect(second?.response).toEqual({ forwarded: true, status: 'idle' });
  });
});

describe('Mirror to RCE when the relay misbehaves (recording relay)', () => {
  const relay = useFrontedRig('standIn');

  it('logs an HTTP error and a non-contract answer, and the Flow goes on', async () => {
    for (const [reply, code] of [
      [{ status: 502, body: '<html>Bad gateway</html>' }, 'relay_http_502'],
      [{ body: { forwarded: 'yes' } }, 'relay_bad_response'],
    ] as const) {
      relay.respondWith('userMessage', () => reply);
      const turn = await new FlowRunner({ flow: singleMirrorFlow({}), extension, connections: { rce: relay.connection } }).send(
        newSession(),
        { text: 'hi' },
      );
      expect(texts(turn)).toEqual(['after the mirror']);
      expect(turn.logs.map((l) => [l.level, l.message])).toEqual([
        ['error', expect.stringContaining(`mirrorToRce: could not mirror the message: ${code}`)],
      ]);
    }
  });

  it('warns when the relay says it did not forward the message', async () => {
    relay.respondWith('userMessage', () => ({ body: { forwarded: false, status: 'idle' } }));
    const turn = await new FlowRunner({ flow: singleMirrorFlow({}), extension, connections: { rce: relay.connection } }).send(
      newSession(),
      { text: 'hi' },
    );
    expect(texts(turn)).toEqual(['after the mirror']);
    expect(turn.logs.map((l) => [l.level, l.message])).toEqual([
      ['warn', '[rce-handover] mirrorToRce: the relay did not mirror the user message (status idle).'],
    ]);
  });
});
