import extension from '../../extension/src/module';
import { getQueueStatusNode } from '../../extension/src/nodes/getQueueStatus';
import { handoverToRceNode } from '../../extension/src/nodes/handoverToRce';
import { sendProfileNode } from '../../extension/src/nodes/sendProfile';
import { FlowRunner, placeNode, type Flow, type SessionKey } from '../../sandbox/cognigy/flowRunner';
import { tenantSecrets, useFrontedRig } from '../helpers/relayRig';

/** Get Queue Status and Send Profile, run by the Flow runner against a relay on 127.0.0.1. */

const profile = { firstname: 'Ada', lastname: 'Lovelace', email: 'ada@example.com', phone: '+4930123' };
let counter = 0;
const newSession = (): SessionKey => {
  counter += 1;
  return { URLToken: 'endpoint-url-token', userId: `nodes-user-${counter}`, sessionId: `nodes-session-${counter}-${Date.now()}` };
};

function queueFlow(config: Record<string, unknown> = {}): Flow {
  return {
    nodes: placeNode(getQueueStatusNode, {
      id: 'queue',
      config: { connection: 'rce', ...config },
      branches: {
        getQueueStatusOnSuccess: [
          { type: 'say', config: { text: 'known={{context.rceQueue.known}} position={{context.rceQueue.position}}' } },
        ],
        getQueueStatusOnError: [{ type: 'say', config: { text: 'queue error {{context.rceQueue.error.code}}' } }],
      },
    }),
  };
}

function profileFlow(config: Record<string, unknown> = {}): Flow {
  return {
    nodes: placeNode(sendProfileNode, {
      id: 'profile',
      config: { connection: 'rce', ...config },
      branches: {
        sendProfileOnSuccess: [{ type: 'say', config: { text: 'profile sent' } }],
        sendProfileOnError: [{ type: 'say', config: { text: 'profile error {{context.rceProfile.error.code}}' } }],
      },
    }),
  };
}

describe.each(['standIn', 'relay'] as const)('Get Queue Status and Send Profile against the %s', (front) => {
  const relay = useFrontedRig(front);

  it('stores known=false and nulls while Engage has reported no queue position', async () => {
    const runner = new FlowRunner({ flow: queueFlow(), extension, connections: { rce: relay.connection } });
    const session = newSession();
    const turn = await runner.send(session, { text: 'where am I?' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['known=false position=']);
    expect(runner.session(session).context.rceQueue).toEqual({
      known: false,
      position: null,
      estimatedWaitTime: null,
      status: 'idle',
      updatedAt: null,
    });
    expect(turn.executions[0]?.httpCalls).toBe(1);
    expect(relay.requestsFor('queueStatus')[0]?.body.session).toEqual(session);
  });

  it('can store the result in the input instead', async () => {
    const flow: Flow = {
      nodes: [
        ...placeNode(getQueueStatusNode, {
          id: 'queue',
          config: { connection: 'rce', storeLocation: 'input', inputKey: 'queueNow' },
          next: 'say',
        }),
        { id: 'say', type: 'say', config: { text: 'status={{input.queueNow.status}}' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension, connections: { rce: relay.connection } });
    const session = newSession();
    const turn = await runner.send(session, { text: 'x' });
    expect(turn.input.queueNow).toMatchObject({ known: false, status: 'idle' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['status=idle']);
    expect(runner.session(session).context.rceQueue).toBeUndefined();
  });

  it('reads the status of a running handover in the same session', async () => {
    const flow: Flow = {
      nodes: [
        { id: 'guard', type: 'goToIf', config: { value: '{{input.data.ask}}', target: 'queue' }, next: 'handover' },
        ...placeNode(handoverToRceNode, { id: 'handover', config: { connection: 'rce', acceptedMessage: '' } }),
        ...placeNode(getQueueStatusNode, { id: 'queue', entrypoint: true, config: { connection: 'rce' } }),
      ],
    };
    const runner = new FlowRunner({ flow, extension, connections: { rce: relay.connection } });
    const session = newSession();
    await runner.send(session, { text: 'agent' });
    // The guard would not run while the handover node is the entry; clear it to ask.
    runner.session(session).entry = null;
    await runner.send(session, { text: '', data: { ask: true } });
    expect(runner.session(session).context.rceQueue).toMatchObject({ known: false, status: 'queued' });
  });

  it('sends the Cognigy profile with the extra mappings', async () => {
    const runner = new FlowRunner({
      flow: profileFlow({ profileMapping: { phone: 'mobile_phone' } }),
      extension,
      connections: { rce: relay.connection },
      defaultProfile: profile,
    });
    const session = newSession();
    const turn = await runner.send(session, { text: 'x' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['profile sent']);
    expect(turn.executions[0]?.httpCalls).toBe(1);
    expect(relay.requestsFor('sendProfile')[0]?.body).toMatchObject({ profile, profileMapping: { phone: 'mobile_phone' }, session });
    expect(runner.session(session).context.rceProfile).toEqual({ queued: true, authorId: expect.any(String) });
  });

  it('sends a custom profile when the Cognigy profile is switched off', async () => {
    const runner = new FlowRunner({
      flow: profileFlow({ useCognigyProfile: false, customProfile: { firstname: '{{context.first}}', email: 'x@example.com' } }),
      extension,
      connections: { rce: relay.connection },
      defaultProfile: profile,
    });
    const session = newSession();
    runner.session(session).context.first = 'Grace';
    await runner.send(session, { text: 'x' });
    expect(relay.requestsFor('sendProfile')[0]?.body.profile).toEqual({ firstname: 'Grace', email: 'x@example.com' });
  });

  it('rejects unknown Engage keys before calling', async () => {
    const runner = new FlowRunner({
      flow: profileFlow({ profileMapping: { phone: 'telephone' } }),
      extension,
      connections: { rce: relay.connection },
      defaultProfile: profile,
    });
    const session = newSession();
    const turn = await runner.send(session, { text: 'x' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['profile error invalid_profile_mapping']);
    expect(relay.requests).toHaveLength(0);
    expect(turn.logs.find((l) => l.level === 'error')?.message).toMatch(
      /^\[rce-handover\] sendProfile: could not send the profile: invalid_profile_mapping: .*"phone" maps to "telephone"/,
    );
  });

  it('does not send the profile of a contact who opted out of data collection', async () => {
    const runner = new FlowRunner({
      flow: profileFlow(),
      extension,
      connections: { rce: relay.connection },
      defaultProfile: { ...profile, prevent_data_collection: true },
    });
    const session = newSession();
    const turn = await runner.send(session, { text: 'x' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['profile sent']);
    expect(relay.requests).toHaveLength(0);
    expect(runner.session(session).context.rceProfile).toEqual({ queued: false, authorId: null, withheld: true });
  });
});

describe('Get Queue Status and Send Profile when things go wrong (recording relay)', () => {
  const relay = useFrontedRig('standIn');

  it('reports a known queue position', async () => {
    const runner = new FlowRunner({ flow: queueFlow(), extension, connections: { rce: relay.connection } });
    const session = newSession();
    relay.respondWith('queueStatus', () => ({
      body: { status: 'queued', known: true, position: 4, estimatedWaitTime: 120000, updatedAt: '2025-01-01T10:00:00.000Z' },
    }));
    const turn = await runner.send(session, { text: 'x' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['known=true position=4']);
    expect(runner.session(session).context.rceQueue).toEqual({
      known: true,
      position: 4,
      estimatedWaitTime: 120000,
      status: 'queued',
      updatedAt: '2025-01-01T10:00:00.000Z',
    });
  });

  it('takes the error branches with a clear log line when the relay is down', async () => {
    const down = { ...relay.connection, relayUrl: 'http://127.0.0.1:9' };
    for (const [flow, key, text] of [
      [queueFlow(), 'rceQueue', 'queue error relay_unreachable'],
      [profileFlow(), 'rceProfile', 'profile error relay_unreachable'],
    ] as const) {
      const runner = new FlowRunner({ flow, extension, connections: { rce: down }, defaultProfile: profile });
      const session = newSession();
      const turn = await runner.send(session, { text: 'x' });
      expect(turn.outputs.map((o) => o.text)).toEqual([text]);
      expect(runner.session(session).context[key]).toMatchObject({ error: { code: 'relay_unreachable' } });
      const errors = turn.logs.filter((l) => l.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]?.message).toContain('relay_unreachable: The relay at http://127.0.0.1:9 is unreachable');
      const everything = JSON.stringify(runner.session(session));
      for (const secret of Object.values(tenantSecrets(0))) expect(everything).not.toContain(secret);
    }
  });

  it('reports a missing session triple by field', async () => {
    const runner = new FlowRunner({ flow: queueFlow(), extension, connections: { rce: relay.connection } });
    const session = newSession();
    const turn = await runner.send(session, { text: 'x' }, { URLToken: '' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['queue error missing_session']);
    expect(runner.session(session).context.rceQueue).toMatchObject({
      error: { message: expect.stringContaining('input.URLToken is missing') },
    });
    expect(relay.requests).toHaveLength(0);
  });
});
