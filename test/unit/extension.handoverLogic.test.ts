import {
  ALL_SET_PAYLOAD,
  runsWhileWaiting,
  CANCEL_PAYLOAD,
  EVENT_ROUTES,
  LONG_WAIT_ROUTE,
  REASON_ROUTES,
  RELAY_STATUS_ROUTES,
  cancelPhrasesApply,
  isLongWait,
  nextInputStart,
  queueMessageFor,
  routeForEvent,
  spokenWait,
  wantsToCancel,
  applyEvent,
  attachmentsFrom,
  cancelQuickReplyData,
  classifyInput,
  decideEvent,
  fillQueueTemplate,
  handoverStatusInput,
  isCancelRequest,
  readHandoverState,
  type HandoverState,
} from '../../extension/src/handoverLogic';
import type { InjectedHandoverEvent } from '../../contract/relayApi';

const running: HandoverState = {
  active: true,
  threadId: 't-1',
  status: 'queued',
  startedAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
};
const event = (status: InjectedHandoverEvent['status'], extra: Partial<InjectedHandoverEvent> = {}): InjectedHandoverEvent => ({
  status,
  source: 'rce-handover',
  threadId: 't-1',
  ...extra,
});

describe('classifyInput', () => {
  it('treats plain messages as user input', () => {
    expect(classifyInput({})).toEqual({ kind: 'userInput' });
    expect(classifyInput({ data: { foo: 1 } })).toEqual({ kind: 'userInput' });
  });
  it("ignores other providers' handover data (not ours)", () => {
    expect(classifyInput({ data: { handover: { status: 'queue' } } })).toEqual({ kind: 'userInput' });
  });
  it('recognises a relay event', () => {
    expect(classifyInput({ data: { handover: event('queue', { position: 2, estimatedWaitTime: 60000 }) } })).toEqual({
      kind: 'event',
      event: event('queue', { position: 2, estimatedWaitTime: 60000 }),
    });
  });
  it('flags a malformed relay event so it is never forwarded as text', () => {
    expect(classifyInput({ data: { handover: { source: 'rce-handover', status: 'bogus', threadId: 't-1' } } })).toEqual({
      kind: 'malformedEvent',
    });
    expect(classifyInput({ data: { handover: { source: 'rce-handover', status: 'queue', threadId: 't-1', position: -1 } } })).toEqual({
      kind: 'malformedEvent',
    });
  });
});

describe('event routing table', () => {
  it.each([
    ['queue', 'onQueueUpdate', true, 'queued'],
    ['active', 'onAgentJoined', true, 'active'],
    ['completed', 'onReturnToBot', false, 'completed'],
    ['cancelled', 'onCancel', false, 'cancelled'],
    ['error', 'onError', false, 'error'],
  ] as const)('routes %s to %s (stays active: %s)', (status, child, staysActive, stored) => {
    expect(EVENT_ROUTES[status]).toEqual({ child, staysActive, status: stored });
    expect(decideEvent(event(status), running)).toEqual({ action: 'route', route: EVENT_ROUTES[status], state: running });
  });

  it('ignores events without a handover, for another thread, or after the end', () => {
    expect(decideEvent(event('completed'), null)).toEqual({ action: 'ignore', reason: 'no_handover' });
    expect(decideEvent(event('completed', { threadId: 't-2' }), running)).toEqual({ action: 'ignore', reason: 'other_thread' });
    expect(decideEvent(event('queue'), { ...running, active: false })).toEqual({ action: 'ignore', reason: 'already_ended' });
  });

  it('routes a relay status that says the handover is over, and stays for one that says it runs', () => {
    expect(RELAY_STATUS_ROUTES.queued).toBeNull();
    expect(RELAY_STATUS_ROUTES.active).toBeNull();
    expect(RELAY_STATUS_ROUTES.completed).toMatchObject({ child: 'onReturnToBot', staysActive: false, status: 'completed' });
    expect(RELAY_STATUS_ROUTES.idle).toMatchObject({ child: 'onReturnToBot', staysActive: false, status: 'idle' });
    expect(RELAY_STATUS_ROUTES.cancelled).toMatchObject({ child: 'onCancel', staysActive: false });
    expect(RELAY_STATUS_ROUTES.error).toMatchObject({ child: 'onError', staysActive: false });
  });
});

describe('applyEvent', () => {
  const now = '2025-01-01T00:05:00.000Z';
  it('keeps the latest queue position and wait (ms)', () => {
    const next = applyEvent(running, event('queue', { position: 3, estimatedWaitTime: 90000 }), EVENT_ROUTES.queue, now);
    expect(next).toMatchObject({ active: true, status: 'queued', position: 3, estimatedWaitTime: 90000, updatedAt: now });
  });
  it('records the agent and clears the queue when an agent joins', () => {
    const queued = { ...running, position: 2, estimatedWaitTime: 1000 };
    expect(applyEvent(queued, event('active', { agentName: 'Ada' }), EVENT_ROUTES.active, now)).toMatchObject({
      active: true,
      status: 'active',
      agentName: 'Ada',
      position: null,
      estimatedWaitTime: null,
    });
  });
  it('ends the handover on completed, cancelled and error', () => {
    expect(applyEvent(running, event('completed'), EVENT_ROUTES.completed, now)).toMatchObject({
      active: false,
      status: 'completed',
      endedAt: now,
    });
    expect(applyEvent(running, event('cancelled'), EVENT_ROUTES.cancelled, now)).toMatchObject({ active: false, status: 'cancelled' });
    expect(
      applyEvent(
        running,
        event('error', { error: { reason: 'engage_unavailable', message: 'Engage did not answer' } }),
        EVENT_ROUTES.error,
        now,
      ),
    ).toMatchObject({
      active: false,
      status: 'error',
      error: { code: 'engage_unavailable', message: 'Engage did not answer' },
    });
  });
});

describe('isCancelRequest', () => {
  const phrases = ['cancel', 'stop', 'Back to the bot'];
  it.each(['cancel', 'Cancel', '  STOP  ', 'stop!', 'back to the  bot.', CANCEL_PAYLOAD])('matches %p', (text) => {
    expect(isCancelRequest(text, phrases)).toBe(true);
  });
  it.each(['cancel my order', "don't stop", '', '   ', 'cancellation'])('does not match %p', (text) => {
    expect(isCancelRequest(text, phrases)).toBe(false);
  });
  it('ignores empty phrases and missing text', () => {
    expect(isCancelRequest('', ['', ' '])).toBe(false);
    expect(isCancelRequest(undefined, phrases)).toBe(false);
  });
});

describe('fillQueueTemplate', () => {
  it('fills position and minutes (rounded)', () => {
    expect(fillQueueTemplate('You are number {position} in the queue. Estimated wait: {minutes} min.', 3, 90000)).toBe(
      'You are number 3 in the queue. Estimated wait: 2 min.',
    );
  });
  it('fills {wait} with the rounded words', () => {
    expect(fillQueueTemplate('You are number {position} in the queue. Estimated wait: {wait}.', 3, 90000)).toBe(
      'You are number 3 in the queue. Estimated wait: about 2 minutes.',
    );
  });
  it('also fills double-brace placeholders when CognigyScript left them alone', () => {
    expect(fillQueueTemplate('#{{position}} – {{ minutes }} min', 1, 60000)).toBe('#1 – 1 min');
  });
  // Was "?/?" before issue 16: "You are number ? in the queue" is what users saw after an agent released the chat.
  it('leaves out the sentences whose value Engage did not report', () => {
    expect(fillQueueTemplate('You are number {position} in the queue. Estimated wait: {wait}.', 4, undefined)).toBe(
      'You are number 4 in the queue.',
    );
    expect(fillQueueTemplate('You are number {position} in the queue. Estimated wait: {wait}.', null, 300000)).toBe(
      'Estimated wait: about 5 minutes.',
    );
    expect(fillQueueTemplate('{position}/{minutes}', null, undefined)).toBe('');
  });
});

describe('spokenWait', () => {
  it.each([
    [0, 'less than a minute', 1],
    [59_000, 'less than a minute', 1],
    [60_000, 'about 1 minute', 1],
    [89_000, 'about 1 minute', 1],
    [90_000, 'about 2 minutes', 2],
    [9 * 60_000, 'about 9 minutes', 9],
    [9.6 * 60_000, 'about 10 minutes', 10],
    [12 * 60_000, 'about 10 minutes', 10],
    [13 * 60_000, 'about 15 minutes', 15],
    [57 * 60_000, 'about 55 minutes', 55],
    [58 * 60_000, 'about 1 hour', 60],
    [80 * 60_000, 'about 1 hour 15 minutes', 75],
    [150 * 60_000, 'about 2 hours 30 minutes', 150],
  ])('says %i ms as "%s"', (ms, words, minutes) => {
    expect(spokenWait(ms)).toEqual({ words, minutes });
  });
  it('knows nothing without a usable estimate', () => {
    expect(spokenWait(undefined)).toBeNull();
    expect(spokenWait(null)).toBeNull();
    expect(spokenWait(-1)).toBeNull();
  });
});

describe('queueMessageFor (said only when something the user hears changes)', () => {
  const messages = {
    template: 'You are number {position} in the queue. Estimated wait: {wait}.',
    agentReleased: 'The agent left; you are back in the queue.',
  };
  it('says the first report, then only changes of position or of the rounded wait', () => {
    const first = queueMessageFor(event('queue', { position: 3, estimatedWaitTime: 300_000 }), running, messages);
    expect(first).toBe('You are number 3 in the queue. Estimated wait: about 5 minutes.');
    const said = { ...running, lastQueueMessage: first };
    expect(queueMessageFor(event('queue', { position: 3, estimatedWaitTime: 290_000 }), said, messages)).toBe('');
    expect(queueMessageFor(event('queue', { position: 2, estimatedWaitTime: 290_000 }), said, messages)).toBe(
      'You are number 2 in the queue. Estimated wait: about 5 minutes.',
    );
    expect(queueMessageFor(event('queue', { position: 3, estimatedWaitTime: 180_000 }), said, messages)).toBe(
      'You are number 3 in the queue. Estimated wait: about 3 minutes.',
    );
  });
  it('says the release message when an agent released the chat, never "number ?"', () => {
    expect(queueMessageFor(event('queue', { reason: 'agent_released' }), running, messages)).toBe(
      'The agent left; you are back in the queue.',
    );
    expect(queueMessageFor(event('queue', { reason: 'agent_released' }), running, { ...messages, agentReleased: ' ' })).toBe('');
  });
  it('says nothing with an empty template or for other events', () => {
    expect(queueMessageFor(event('queue', { position: 1 }), running, { ...messages, template: '' })).toBe('');
    expect(queueMessageFor(event('active'), running, messages)).toBe('');
  });
  it('after a release, the next report is said even if it repeats the one before', () => {
    const said = { ...running, lastQueueMessage: 'You are number 1 in the queue.' };
    const released = applyEvent(said, event('queue', { reason: 'agent_released' }), EVENT_ROUTES.queue, '2025-01-01T00:06:00.000Z');
    expect(released.lastQueueMessage).toBeNull();
    expect(queueMessageFor(event('queue', { position: 1 }), released, messages)).toBe('You are number 1 in the queue.');
  });
});

describe('On Long Wait', () => {
  const limits = { minutes: 10, position: 5 };
  it('is a long wait over N minutes or behind position P; 0 turns a threshold off', () => {
    expect(isLongWait(1, 10 * 60_000, limits)).toBe(false);
    expect(isLongWait(1, 10 * 60_000 + 1, limits)).toBe(true);
    expect(isLongWait(5, undefined, limits)).toBe(false);
    expect(isLongWait(6, undefined, limits)).toBe(true);
    expect(isLongWait(600, 10 * 3_600_000, { minutes: 0, position: 0 })).toBe(false);
  });
  it('routes the first long-wait report to On Long Wait, once per handover', () => {
    const long = event('queue', { position: 9, estimatedWaitTime: 60_000 });
    const decision = decideEvent(long, running, { longWait: limits });
    expect(decision).toEqual({ action: 'route', route: LONG_WAIT_ROUTE, state: running });
    const after = applyEvent(running, long, LONG_WAIT_ROUTE, '2025-01-01T00:06:00.000Z');
    expect(after).toMatchObject({ active: true, status: 'queued', longWaitTaken: true });
    expect(decideEvent(long, after, { longWait: limits })).toEqual({ action: 'route', route: EVENT_ROUTES.queue, state: after });
    expect(decideEvent(long, running, {})).toEqual({ action: 'route', route: EVENT_ROUTES.queue, state: running });
  });
  it('lets the next input start at the Flow start while the long-wait offer is open, so an If before the guard sees the answer', () => {
    const after = applyEvent(running, event('queue', { position: 9 }), LONG_WAIT_ROUTE, '2025-01-01T00:06:00.000Z');
    expect(nextInputStart(LONG_WAIT_ROUTE, after)).toBe('flowStart');
    // Further queue updates before the user answers keep it so.
    expect(nextInputStart(EVENT_ROUTES.queue, after)).toBe('flowStart');
    expect(nextInputStart(EVENT_ROUTES.queue, { ...after, longWaitOfferOpen: false })).toBe('node');
    const joined = applyEvent(after, event('active', { agentName: 'Ada' }), EVENT_ROUTES.active, '2025-01-01T00:07:00.000Z');
    expect(joined.longWaitOfferOpen).toBe(false);
    expect(nextInputStart(EVENT_ROUTES.active, joined)).toBe('node');
  });
  it('an agent release is never a long wait', () => {
    expect(routeForEvent(event('queue', { reason: 'agent_released' }), running, { longWait: { minutes: 1, position: 1 } })).toBe(
      REASON_ROUTES.agent_released,
    );
  });
});

describe('transfer and inactivity', () => {
  it('routes a reassignment to On Transfer when the node asks for it, else to On Agent Joined', () => {
    const transfer = event('active', { reason: 'transferred', agentName: 'Linus', agentId: 'agent-9' });
    expect(routeForEvent(transfer, running, { transferBranch: true })).toEqual({
      child: 'onTransfer',
      staysActive: true,
      status: 'active',
    });
    expect(routeForEvent(transfer, running, {})).toBe(EVENT_ROUTES.active);
    expect(applyEvent(running, transfer, REASON_ROUTES.transferred, '2025-01-01T00:07:00.000Z')).toMatchObject({
      active: true,
      status: 'active',
      agentName: 'Linus',
      agentId: 'agent-9',
    });
    expect(handoverStatusInput(transfer)).toMatchObject({
      status: 'active',
      data: { reason: 'transferred', agentName: 'Linus', agentId: 'agent-9' },
    });
  });
  it('returns to the bot after an inactivity close, with the reason for the Flow', () => {
    const closed = event('completed', { reason: 'inactivity' });
    expect(routeForEvent(closed)).toBe(EVENT_ROUTES.completed);
    expect(handoverStatusInput(closed)).toEqual({
      status: 'completed',
      eventType: 'conversationClosed',
      data: { threadId: 't-1', reason: 'inactivity' },
    });
  });
});

describe('cancel phrases', () => {
  it('apply while waiting, and during the live chat only with the option', () => {
    expect(cancelPhrasesApply({ status: 'queued' }, false)).toBe(true);
    expect(cancelPhrasesApply({ status: 'active' }, false)).toBe(false);
    expect(cancelPhrasesApply({ status: 'active' }, true)).toBe(true);
  });
  it('a click on the Cancel quick reply always cancels; a typed phrase only when phrases apply', () => {
    expect(wantsToCancel(CANCEL_PAYLOAD, { status: 'active' }, ['stop'], false)).toBe(true);
    expect(wantsToCancel('stop', { status: 'active' }, ['stop'], false)).toBe(false);
    expect(wantsToCancel('stop', { status: 'queued' }, ['stop'], false)).toBe(true);
    expect(wantsToCancel('stop', { status: 'active' }, ['stop'], true)).toBe(true);
    expect(wantsToCancel('stop please', { status: 'queued' }, ['stop'], false)).toBe(false);
  });
});

describe('attachmentsFrom', () => {
  it('takes http(s) urls from objects or strings, with names', () => {
    expect(
      attachmentsFrom({
        attachments: [
          { url: 'https://cdn.example.com/a.png', name: 'a.png' },
          'https://cdn.example.com/b.pdf',
          { url: 'javascript:alert(1)' },
          { nope: true },
          7,
        ],
      }),
    ).toEqual([{ url: 'https://cdn.example.com/a.png', filename: 'a.png' }, { url: 'https://cdn.example.com/b.pdf' }]);
  });
  it('keeps at most 10', () => {
    expect(attachmentsFrom({ attachments: Array.from({ length: 12 }, (_, i) => `https://x.example.com/${i}`) })).toHaveLength(10);
  });
  it('returns nothing without attachments', () => {
    expect(attachmentsFrom(undefined)).toEqual([]);
    expect(attachmentsFrom({ attachments: 'x' })).toEqual([]);
  });
});

describe('readHandoverState', () => {
  it('reads our state and rejects anything else', () => {
    expect(readHandoverState({ rceHandover: running }, 'rceHandover')).toMatchObject(running);
    expect(readHandoverState({ rceHandover: 'yes' }, 'rceHandover')).toBeNull();
    expect(readHandoverState({}, 'rceHandover')).toBeNull();
    expect(readHandoverState({ rceHandover: { threadId: 't' } }, 'rceHandover')).toBeNull();
  });
});

describe('cancelQuickReplyData', () => {
  it("builds Cognigy's default quick-reply payload", () => {
    expect(cancelQuickReplyData('Wait', 'Cancel')).toEqual({
      _cognigy: {
        _default: {
          _quickReplies: {
            type: 'quick_replies',
            text: 'Wait',
            quickReplies: [{ contentType: 'postback', payload: CANCEL_PAYLOAD, title: 'Cancel' }],
          },
        },
      },
    });
  });
});

describe("handoverStatusInput (input.handover, as Cognigy's built-in handovers set it)", () => {
  it("uses Cognigy's statuses and its queueUpdate event with the queue data in ms", () => {
    expect(handoverStatusInput(event('queue', { position: 2, estimatedWaitTime: 30_000 }))).toEqual({
      status: 'queue',
      eventType: 'queueUpdate',
      data: { threadId: 't-1', position: 2, estimatedWaitTime: 30_000 },
    });
  });
  it("carries the agent's sender_name when an agent joined", () => {
    expect(handoverStatusInput(event('active', { agentName: 'Grace' }))).toEqual({
      status: 'active',
      eventType: 'agentJoined',
      data: { threadId: 't-1', agentName: 'Grace', sender_name: 'Grace' },
    });
  });
  it('puts an error into the documented error object', () => {
    expect(handoverStatusInput(event('error', { error: { reason: 'engage_unavailable', message: 'down' } }))).toEqual({
      status: 'error',
      eventType: 'conversationFailed',
      data: { threadId: 't-1', reason: 'engage_unavailable' },
      error: { reason: 'error', message: 'down' },
    });
  });
  it.each(['completed', 'cancelled'] as const)('keeps the status %s', (status) => {
    expect(handoverStatusInput(event(status)).status).toBe(status);
  });
});

describe('While Waiting (the bot keeps helping while the user waits)', () => {
  it("runs only with the option on, while nobody joined by the events seen and by the relay's answer", () => {
    expect(runsWhileWaiting(true, { status: 'queued' }, 'queued')).toBe(true);
    expect(runsWhileWaiting(false, { status: 'queued' }, 'queued')).toBe(false);
    expect(runsWhileWaiting(true, { status: 'active' }, 'queued')).toBe(false);
    // The agent joined, its event not yet run: the relay's answer already says so.
    expect(runsWhileWaiting(true, { status: 'queued' }, 'active')).toBe(false);
  });
  it('"I\'m all set" cancels whatever the phrases and the chat state', () => {
    expect(wantsToCancel(ALL_SET_PAYLOAD, { status: 'active' }, [], false)).toBe(true);
    expect(wantsToCancel("I'm all set", { status: 'queued' }, [], false)).toBe(false);
  });
});
