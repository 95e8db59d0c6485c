import * as contract from '../../contract/relayApi';
import { agentNameOf, countAvailableAgents } from '../../relay/src/engage/engageLookups';
import { TtlCache } from '../../relay/src/engage/ttlCache';
import { agentIdOf, HANDOVER_EVENT_TYPES, isHandoverEvent, webhookEventSchema } from '../../relay/src/engage/webhookProtocol';
import { alreadySent, rememberSent } from '../../relay/src/handover/transcriptMemory';

describe('TtlCache', () => {
  it('forgets entries after their TTL and evicts the least recently used beyond its size', () => {
    let now = 1_000;
    const cache = new TtlCache<string>({ maxEntries: 2, ttlMs: 100, clock: () => now });
    cache.set('a', 'A');
    cache.set('b', 'B');
    expect(cache.get('a')).toBe('A'); // a is now the most recently used
    cache.set('c', 'C');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.size).toBe(2);
    now += 100;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toBeUndefined();
  });
});

describe('agent names and availability (openapi User, transfers.md)', () => {
  it('names an agent by first and last name, else by nickname', () => {
    expect(agentNameOf({ id: '1', firstname: 'Alice', lastname: 'Agent', nickname: 'alice' })).toBe('Alice Agent');
    expect(agentNameOf({ id: '1', firstname: ' ', lastname: null, nickname: 'bob' })).toBe('bob');
    expect(agentNameOf({ id: '1' })).toBeNull();
  });

  it('counts agents available and not full on the source channel only', () => {
    const statuses = [
      { agent_id: 'a', channels: [{ id: 'rt', name: 'Realtime', status: 'available', busyness: 'busy' }] },
      { agent_id: 'b', channels: [{ id: 'rt', name: 'Realtime', status: 'available', busyness: 'full' }] },
      { agent_id: 'c', channels: [{ id: 'rt', name: 'Realtime', status: 'away', busyness: 'unoccupied' }] },
      {
        agent_id: 'd',
        channels: [
          { id: 'async', name: 'Async', status: 'available', busyness: 'ok' },
          { id: 'rt', name: 'Realtime', status: null },
        ],
      },
    ];
    expect(countAvailableAgents(statuses, new Set(['rt']))).toBe(1);
    expect(countAvailableAgents(statuses, null)).toBe(2);
  });
});

describe('webhook events that change a handover', () => {
  const event = (type: string, resourceType: string, metadata: Record<string, unknown>, userId?: string) =>
    webhookEventSchema.parse({
      type,
      id: 'e1',
      issued_at: '2026-01-01T00:00:00Z',
      ...(userId ? { user_id: userId } : {}),
      resource: { type: resourceType, id: 7, metadata },
    });

  it('names the agent from the intervention user, the task agents, else the acting user', () => {
    expect(agentIdOf(event('intervention.user_updated', 'intervention', { user_id: 'new' }, 'admin'))).toBe('new');
    expect(agentIdOf(event('task.transferred', 'task', { agent_ids: ['to'] }, 'from'))).toBe('to');
    expect(agentIdOf(event('intervention.opened', 'intervention', {}, 'actor'))).toBe('actor');
    expect(agentIdOf(event('intervention.opened', 'intervention', {}))).toBeNull();
  });

  it('handles exactly the listed types', () => {
    for (const type of HANDOVER_EVENT_TYPES) expect(isHandoverEvent(event(type, 'intervention', {}))).toBe(true);
    expect(isHandoverEvent(event('intervention.assigned', 'intervention', {}))).toBe(false);
  });
});

describe('transcript lines already sent', () => {
  it('skips lines up to the newest time sent, and untimed lines by role and text', () => {
    let sent = rememberSent({ until: null, hashes: [] }, { role: 'user', text: 'hi', at: '2026-01-01T10:00:00Z' }, '2026-01-01T10:05:00Z');
    sent = rememberSent(sent, { role: 'bot', text: 'hello' }, '2026-01-01T10:05:00Z');
    expect(alreadySent({ role: 'user', text: 'anything', at: '2026-01-01T10:00:00.000Z' }, sent)).toBe(true);
    expect(alreadySent({ role: 'user', text: 'later', at: '2026-01-01T10:00:01Z' }, sent)).toBe(false);
    expect(alreadySent({ role: 'bot', text: 'hello' }, sent)).toBe(true);
    expect(alreadySent({ role: 'user', text: 'hello' }, sent)).toBe(false);
    sent = rememberSent(sent, null, '2026-01-01T10:05:00Z');
    expect(alreadySent({ role: 'user', text: 'forwarded live', at: '2026-01-01T10:04:59Z' }, sent)).toBe(true);
  });

  it('keeps a bounded number of hashes', () => {
    let sent = { until: null as string | null, hashes: [] as string[] };
    for (let i = 0; i < 600; i++) sent = rememberSent(sent, { role: 'user', text: `line ${i}` }, '2026-01-01T10:00:00Z');
    expect(sent.hashes).toHaveLength(500);
    expect(alreadySent({ role: 'user', text: 'line 0' }, sent)).toBe(false);
    expect(alreadySent({ role: 'user', text: 'line 599' }, sent)).toBe(true);
  });
});

describe('contract for issue 16', () => {
  const envelope = {
    requestId: 'r1',
    connection: { sourceId: 's', botCategoryId: 'b', agentCategoryId: 'a', apiAccessTokenFingerprint: '0123456789abcdef' },
    session: { URLToken: 't', userId: 'u', sessionId: 's' },
  };

  it('keeps today behaviour by default: no inactivity timeout, English notices', () => {
    const options = contract.handoverOptionsSchema.parse({});
    expect(options).toMatchObject({
      inactivityTimeoutMinutes: 0,
      inactivityCloses: false,
      userLeftNotice: 'The customer left the conversation.',
      userBackNotice: 'The customer is back in the conversation.',
    });
    expect(contract.startHandoverRequestSchema.parse({ ...envelope, firstMessage: 'hi' }).options).toEqual(options);
    expect(contract.handoverOptionsSchema.safeParse({ inactivityTimeoutMinutes: 1441 }).success).toBe(false);
  });

  it('parses the close and availability routes', () => {
    expect(contract.closeHandoverRequestSchema.parse(envelope).reason).toBe('closed_by_flow');
    expect(
      contract.agentAvailabilityRequestSchema.safeParse({ ...envelope, categoryIds: Array.from({ length: 21 }, (_, i) => `c${i}`) })
        .success,
    ).toBe(false);
    expect(
      contract.agentAvailabilityResponseSchema.safeParse({ available: true, availableAgents: -1, checkedAt: new Date().toISOString() })
        .success,
    ).toBe(false);
    expect(
      contract.injectedHandoverEventSchema.parse({ status: 'completed', source: 'rce-handover', threadId: 't', reason: 'inactivity' })
        .reason,
    ).toBe('inactivity');
  });
});
