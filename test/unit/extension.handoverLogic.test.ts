import {
  CANCEL_PAYLOAD,
  EVENT_ROUTES,
  RELAY_STATUS_ROUTES,
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

const running: HandoverState = { active: true, threadId: 't-1', status: 'queued', startedAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:00:00.000Z' };
const event = (status: InjectedHandoverEvent['status'], extra: Partial<InjectedHandoverEvent> = {}): InjectedHandoverEvent => ({ status, source: 'rce-handover', threadId: 't-1', ...extra });

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
    expect(classifyInput({ data: { handover: { source: 'rce-handover', status: 'bogus', threadId: 't-1' } } })).toEqual({ kind: 'malformedEvent' });
    expect(classifyInput({ data: { handover: { source: 'rce-handover', status: 'queue', threadId: 't-1', position: -1 } } })).toEqual({ kind: 'malformedEvent' });
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
    expect(applyEvent(queued, event('active', { agentName: 'Ada' }), EVENT_ROUTES.active, now)).toMatchObject({ active: true, status: 'active', agentName: 'Ada', position: null, estimatedWaitTime: null });
  });
  it('ends the handover on completed, cancelled and error', () => {
    expect(applyEvent(running, event('completed'), EVENT_ROUTES.completed, now)).toMatchObject({ active: false, status: 'completed', endedAt: now });
    expect(applyEvent(running, event('cancelled'), EVENT_ROUTES.cancelled, now)).toMatchObject({ active: false, status: 'cancelled' });
    expect(applyEvent(running, event('error', { error: { reason: 'engage_unavailable', message: 'Engage did not answer' } }), EVENT_ROUTES.error, now)).toMatchObject({
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
  it('fills position and minutes (rounded up)', () => {
    expect(fillQueueTemplate('You are number {position} in the queue. Estimated wait: {minutes} min.', 3, 90000)).toBe('You are number 3 in the queue. Estimated wait: 2 min.');
  });
  it('also fills double-brace placeholders when CognigyScript left them alone', () => {
    expect(fillQueueTemplate('#{{position}} – {{ minutes }} min', 1, 60000)).toBe('#1 – 1 min');
  });
  it('shows "?" for unknown values', () => {
    expect(fillQueueTemplate('{position}/{minutes}', null, undefined)).toBe('?/?');
  });
});

describe('attachmentsFrom', () => {
  it('takes http(s) urls from objects or strings, with names', () => {
    expect(
      attachmentsFrom({
        attachments: [{ url: 'https://cdn.example.com/a.png', name: 'a.png' }, 'https://cdn.example.com/b.pdf', { url: 'javascript:alert(1)' }, { nope: true }, 7],
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
      _cognigy: { _default: { _quickReplies: { type: 'quick_replies', text: 'Wait', quickReplies: [{ contentType: 'postback', payload: CANCEL_PAYLOAD, title: 'Cancel' }] } } },
    });
  });
});

describe('handoverStatusInput (input.handover, as Cognigy\'s built-in handovers set it)', () => {
  it('uses Cognigy\'s statuses and its queueUpdate event with the queue data in ms', () => {
    expect(handoverStatusInput(event('queue', { position: 2, estimatedWaitTime: 30_000 }))).toEqual({
      status: 'queue',
      eventType: 'queueUpdate',
      data: { threadId: 't-1', position: 2, estimatedWaitTime: 30_000 },
    });
  });
  it('carries the agent\'s sender_name when an agent joined', () => {
    expect(handoverStatusInput(event('active', { agentName: 'Grace' }))).toEqual({ status: 'active', eventType: 'agentJoined', data: { threadId: 't-1', agentName: 'Grace', sender_name: 'Grace' } });
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
