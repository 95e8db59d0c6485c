import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import extension from '../../extension/src/module';
import { FlowRunner } from '../../sandbox/cognigy/flowRunner';
import { demoFlow } from '../../sandbox/startSandbox';
import { CSAT_RATINGS } from '../../sandbox/cognigy/demoFlow';

/** The sandbox's demo Flow is the Flow the README tells bot builders to build. */

const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
const builders = readme.slice(readme.indexOf('## For bot builders'), readme.indexOf('## For on-call engineers'));

describe('the sandbox demo Flow', () => {
  const flow = demoFlow();
  const byId = new Map(flow.nodes.map((n) => [n.id, n]));

  // Before issue 16 the guard was the very first node. The callback answer offered by "On Long Wait"
  // must be caught before it, or the guard forwards it to the agent; nothing else precedes the guard.
  it('starts with the callback answer, then the guard: If context.rceHandover.active → Go To Handover to RCE (continue)', () => {
    const callback = byId.get(flow.start ?? '');
    expect(callback).toMatchObject({
      type: 'ifTextMatches',
      config: { when: '{{context.rceHandover.longWaitTaken}}', target: 'close-for-callback' },
      next: 'guard',
    });
    expect(byId.get('close-for-callback')?.type).toBe('closeRceHandover');
    const guard = byId.get(callback?.next ?? '');
    expect(guard).toMatchObject({
      type: 'goToIf',
      config: { value: '{{context.rceHandover.active}}', target: 'handover', mode: 'continue' },
    });
    expect(builders).toContain('condition\n   `{{context.rceHandover.active}}`');
    expect(builders).toContain('**Execution Mode: Go to Node and continue**');
    expect(builders).toContain('catch it **before the guard**');
  });

  it('checks agent availability with business hours before the handover, and goes on in On Available', () => {
    const availability = byId.get('availability');
    expect(byId.get('wants-agent')).toMatchObject({ config: { target: 'availability' } });
    expect(availability).toMatchObject({ type: 'checkAgentAvailability', config: { useBusinessHours: true, timeZone: 'Europe/Berlin' } });
    expect(availability?.next).toBeUndefined();
    const onAvailable = availability?.children?.find((c) => c.type === 'checkAgentAvailabilityOnAvailable');
    expect(byId.get(onAvailable?.next ?? '')).toMatchObject({ type: 'goTo', config: { target: 'transcript', mode: 'continue' } });
    expect(byId.get('transcript')?.entrypoint).toBe(true);
    expect(builders).toContain('**Availability first**');
  });

  it('offers a callback on a long wait', () => {
    expect(byId.get('handover')?.config).toMatchObject({ longWaitMinutes: 1 });
    const onLongWait = byId.get('handover')?.children?.find((c) => c.type === 'onLongWait');
    expect(byId.get(onLongWait?.next ?? '')?.config).toMatchObject({
      data: { _cognigy: { _default: { _quickReplies: { quickReplies: [{ title: 'Call me back' }, { title: 'Keep waiting' }] } } } },
    });
  });

  it('marks the Handover node Set Entrypoint and feeds it Get Transcript → {{input.transcript}}', () => {
    expect(byId.get('handover')).toMatchObject({ type: 'handoverToRce', entrypoint: true, config: { transcript: '{{input.transcript}}' } });
    expect(byId.get('transcript')).toMatchObject({
      type: 'getTranscript',
      config: { storeLocation: 'input', key: 'transcript' },
      next: 'handover',
    });
    expect(builders).toContain('turn on **Set Entrypoint**');
    expect(builders).toContain('Get Transcript (input.transcript) ──▶ Handover to RCE  [Set Entrypoint]');
  });

  it('ends every branch chain in a Say (or nothing) and attaches nothing below the node', () => {
    const handover = byId.get('handover');
    expect(handover?.next).toBeUndefined();
    for (const child of handover?.children ?? []) {
      let id = child.next;
      let last: string | undefined;
      while (id) {
        const node = byId.get(id);
        last = node?.type;
        // An If whose then-branch is a single Say (While Waiting answers only what it knows) ends there too.
        if (node?.type === 'ifTextMatches' && !node.next) {
          const then = byId.get(String(node.config?.target));
          expect(then).toMatchObject({ type: 'say' });
          expect(then?.next).toBeUndefined();
          last = 'say';
        }
        id = node?.next;
      }
      expect([undefined, 'say']).toContain(last);
    }
  });

  it('asks its own satisfaction question on On Return to Bot with what the completed event carries, and thanks for the answer', async () => {
    const runner = new FlowRunner({ flow, extension });
    const session = { URLToken: 'demo-token', userId: 'csat-user', sessionId: 'csat-session' };
    // As the Handover node leaves it while an agent chats (no relay call is needed for an event).
    runner.session(session).context.rceHandover = {
      active: true,
      threadId: 'thread-1',
      status: 'active',
      startedAt: '2026-12-03T10:00:00.000Z',
      updatedAt: '2026-12-03T10:01:00.000Z',
      agentName: 'Grace',
      agentId: 'agent-7',
    };
    const closed = await runner.send(session, {
      text: '',
      data: {
        handover: {
          source: 'rce-handover',
          threadId: 'thread-1',
          status: 'completed',
          agentId: 'agent-7',
          interventionId: 'iv-9',
          engageThreadId: 'et-3',
          endedAt: '2026-12-03T10:07:00.000Z',
        },
      },
    });
    expect(closed.outputs.map((o) => o.text)).toEqual([
      'The agent closed the conversation. I am back: type "agent" any time to talk to a human again.',
      'How satisfied are you with the chat with our agent Grace? 1 = poor, 5 = great.',
    ]);
    expect(closed.outputs[1]?.data).toMatchObject({
      _cognigy: { _default: { _quickReplies: { quickReplies: CSAT_RATINGS.map((title) => ({ title, payload: title })) } } },
    });
    expect(runner.session(session).context.csat).toEqual({
      pending: true,
      agentId: 'agent-7',
      agentName: 'Grace',
      interventionId: 'iv-9',
      engageThreadId: 'et-3',
      startedAt: '2026-12-03T10:00:00.000Z',
      endedAt: '2026-12-03T10:07:00.000Z',
    });

    const answered = await runner.send(session, { text: '4' });
    expect(answered.outputs.map((o) => o.text)).toEqual(['Thank you for your rating (4 of 5). I passed it on.']);
    expect(runner.session(session).context.csat).toMatchObject({ pending: false, rating: '4', interventionId: 'iv-9', agentId: 'agent-7' });
    // Answered once: a later "5" is small talk, not a second rating.
    expect((await runner.send(session, { text: '5' })).outputs.map((o) => o.text)).toEqual([
      'I am only a demo bot. Type "agent" and I will hand you over to a human.',
    ]);
  });

  it('is a valid Flow for the runner (Go To targets are entrypoints)', () => {
    expect(() => new FlowRunner({ flow, extension })).not.toThrow();
  });
});
