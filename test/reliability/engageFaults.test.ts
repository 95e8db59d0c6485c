import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { SlidingWindowRestGate } from '../../relay/src/outbox/rateGate';
import type { ProxiedCall } from '../helpers/recordingProxy';
import { recordFigures } from '../helpers/reliabilityFigures';
import { describeCognigyCall, startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';

/**
 * Engage misbehaving: the Send API and REST answer 5xx, 429 with Retry-After, 409 while a
 * categorisation runs, or answer too late. User messages and category changes must still reach
 * Engage once and in order, and REST must stay under Engage's 500 requests/minute per tenant.
 */

const isCategoryUpdate = (c: ProxiedCall) => c.method === 'PUT' && c.path.includes('/update_categories');
const categoryOf = (c: ProxiedCall) => decodeURIComponent(c.body).replace('thread_category_ids[]=', '');

describe('Engage Send API and REST failing', () => {
  let rig: RelayRig;
  afterEach(async () => {
    await rig?.close();
  });

  it('delivers user messages and category changes once and in order through 5xx, 429, 409 and slow answers', async () => {
    // Calls slower than 300 ms time out on our side, then Engage processes them anyway.
    rig = await startRelayRig({ proxyEngage: true, outboundTimeoutMs: 300 });
    const { engage, tenant } = rig;
    const proxy = rig.tenants[0]?.proxy;
    if (!proxy) throw new Error('proxy expected');
    engage.failNext({ api: 'send', status: 503, count: 3 });
    engage.failNext({ api: 'send', status: 500, count: 2 });
    engage.failNext({ api: 'send', delayMs: 700, count: 2 });
    engage.failNext({ api: 'send', status: 502, count: 2 });
    engage.failNext({ api: 'rest', status: 409, count: 3, pathIncludes: 'update_categories' });
    engage.failNext({ api: 'rest', status: 429, count: 1, retryAfterSeconds: 1, pathIncludes: 'update_categories' });
    engage.failNext({ api: 'rest', status: 503, count: 2 });
    engage.failNext({ api: 'rest', delayMs: 600, count: 1, pathIncludes: 'content_threads?' });

    const conversations = Array.from({ length: 4 }, (_, i) => {
      const session: CognigySession = { URLToken: 'tok', userId: `u-ef-${i}`, sessionId: `s-ef-${i}` };
      return { session, threadId: threadIdFor(tenant.sourceId, session), expected: [] as string[], closes: i < 2 };
    });

    await Promise.all(
      conversations.map(async (c, i) => {
        const transcript = [
          { role: 'user', text: `c${i} transcript user` },
          { role: 'bot', text: `c${i} transcript bot` },
        ];
        const start = await rig.call('startHandover', c.session, { transcript, firstMessage: `c${i} wants an agent` });
        expect(start.status).toBe(200);
        c.expected.push(...transcript.map((t) => t.text), `c${i} wants an agent`);
        for (let m = 1; m <= 5; m++) {
          const r = await rig.call('userMessage', c.session, { text: `c${i} message ${m}` });
          expect(r.body).toMatchObject({ forwarded: true });
          c.expected.push(`c${i} message ${m}`);
        }
      }),
    );

    // A 429 with Retry-After on a Send API call whose body is unique (so its retry can be recognised).
    const late = conversations[3];
    if (!late) throw new Error('four conversations expected');
    // Once every message so far is in Engage, this is the only Send API call in flight.
    await waitUntil(
      'first messages in Engage',
      () => conversations.every((c) => (engage.thread(c.threadId)?.messages.length ?? 0) >= c.expected.length),
      { timeoutMs: 15_000 },
    );
    engage.failNext({ api: 'send', status: 429, count: 1, retryAfterSeconds: 1 });
    expect((await rig.call('userMessage', late.session, { text: 'c3 after a 429' })).status).toBe(200);
    late.expected.push('c3 after a 429');

    // Two conversations end: an agent answers, then closes the intervention (→ back to the Bot category).
    await Promise.all(
      conversations
        .filter((c) => c.closes)
        .map(async (c) => {
          await waitUntil('thread in Agent folder', () => engage.thread(c.threadId)?.inAgentFolder === true, { timeoutMs: 15_000 });
          await waitUntil('all messages in Engage', () => (engage.thread(c.threadId)?.messages.length ?? 0) >= c.expected.length, {
            timeoutMs: 15_000,
          });
          const reply = await engage.agentReply({ threadId: c.threadId, body: `answer for ${c.session.userId}` });
          expect(reply.outcome).toBe('delivered');
          engage.closeIntervention(c.threadId);
        }),
    );

    for (const c of conversations) {
      const finalCategory = c.closes ? tenant.botCategoryId : tenant.agentCategoryId;
      await waitUntil(`categories of ${c.session.userId}`, () => engage.thread(c.threadId)?.categoryIds.join() === finalCategory, {
        timeoutMs: 20_000,
      });
    }
    await waitUntil('outbox empty', async () => (await rig.store.outboxStats()).pending === 0, { timeoutMs: 20_000 });
    await engage.idle();

    let delivered = 0;
    for (const c of conversations) {
      const thread = engage.thread(c.threadId);
      const received = (thread?.messages ?? []).filter((m) => m.side !== 'agent').map((m) => m.body);
      // Once each, in the order the Flow sent them.
      expect(received).toEqual(c.expected);
      delivered += received.length;
      const engageThreadId = thread?.id ?? '';
      const categoryChanges = proxy.calls
        .filter((call) => isCategoryUpdate(call) && call.path.includes(engageThreadId) && call.status === 200)
        .map(categoryOf);
      expect(categoryChanges).toEqual(c.closes ? [tenant.agentCategoryId, tenant.botCategoryId] : [tenant.agentCategoryId]);
      const cognigyLines = rig.cognigy.calls.filter((call) => call.sessionId === c.session.sessionId).map(describeCognigyCall);
      expect(cognigyLines).toEqual(c.closes ? ['inject:active', `notify:answer for ${c.session.userId}`, 'inject:completed'] : []);
    }
    expect((await rig.store.outboxStats()).deadLettered).toBe(0);
    expect(engage.droppedItems).toEqual([]);

    // Retry-After was honoured: the retry of a 429'd call came at least a second later.
    const answered429 = proxy.calls.filter((call) => call.status === 429);
    expect(answered429.length).toBe(2);
    for (const limited of answered429) {
      const retry = proxy.calls.find(
        (call) => call.at > limited.at && call.method === limited.method && call.path === limited.path && call.body === limited.body,
      );
      expect({
        limited: `${limited.method} ${limited.path}`,
        retryAfterMs: (retry?.at ?? 0) - limited.at >= 950 ? 'respected' : (retry?.at ?? 0) - limited.at,
      }).toEqual({ limited: `${limited.method} ${limited.path}`, retryAfterMs: 'respected' });
    }

    const sent = conversations.reduce((n, c) => n + c.expected.length, 0);
    const sendLog = engage.sendApiLog.filter((e) => e.action === 'messages.create');
    recordFigures('engage-faults', {
      faultsInjected: 3 + 1 + 2 + 2 + 2 + 3 + 1 + 2 + 1,
      userMessagesSent: sent,
      userMessagesDelivered: delivered,
      userMessagesDuplicatedInThread: 0,
      sendApiRepeatsAbsorbedByMessageId: sendLog.filter((e) => e.duplicate).length,
      categoryChangesExpected: conversations.reduce((n, c) => n + (c.closes ? 2 : 1), 0),
      non2xxFromEngage: proxy.calls.filter((call) => call.status >= 300).length,
    });
  }, 40_000);

  it('keeps each tenant under its REST limit, and one tenant’s backlog does not hold up another', async () => {
    // Scaled down: 20 REST calls per minute per tenant on our side, Engage refusing beyond 25.
    rig = await startRelayRig({
      tenants: 2,
      proxyEngage: true,
      settings: { engageRestPerMinute: 20 },
      engageOptions: { restRateLimitPerMinute: 25 },
    });
    const [a, b] = rig.tenants;
    if (!a?.proxy || !b?.proxy) throw new Error('two proxied tenants expected');
    const sessions = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ URLToken: 'tok', userId: `${prefix}-${i}`, sessionId: `${prefix}-s${i}` }));
    const busy = sessions('busy', 15);
    const quiet = sessions('quiet', 3);
    for (const s of busy) expect((await rig.call('startHandover', s, { firstMessage: 'help' }, 0)).status).toBe(200);
    for (const s of quiet) expect((await rig.call('startHandover', s, { firstMessage: 'help' }, 1)).status).toBe(200);

    // The quiet tenant gets all its conversations to agents although the busy one is throttled.
    for (const s of quiet) {
      await waitUntil('quiet tenant categorised', () => b.engage.thread(threadIdFor(b.tenant.sourceId, s))?.inAgentFolder === true, {
        timeoutMs: 10_000,
      });
    }
    await waitUntil('busy tenant used its budget', () => (a.proxy?.calls.filter((c) => c.path.startsWith('/1.0')).length ?? 0) >= 20, {
      timeoutMs: 10_000,
    });
    await new Promise((r) => setTimeout(r, 700));
    const busyRest = a.proxy.calls.filter((c) => c.path.startsWith('/1.0'));
    expect(busyRest.length).toBe(20);
    expect([...a.proxy.calls, ...b.proxy.calls].filter((c) => c.status === 429)).toEqual([]);
    // Throttled work waits in the outbox; nothing is given up.
    const stats = await rig.store.outboxStats();
    expect(stats.pending).toBeGreaterThan(0);
    expect(stats.deadLettered).toBe(0);
    const categorised = busy.filter((s) => a.engage.thread(threadIdFor(a.tenant.sourceId, s))?.inAgentFolder === true).length;
    expect(categorised).toBeGreaterThan(0);
    expect(categorised).toBeLessThan(busy.length);
    recordFigures('rest-limit-integration', {
      busyTenantRestCalls: busyRest.length,
      limit: 20,
      engage429: 0,
      busyCategorised: categorised,
      quietCategorised: quiet.length,
    });
  }, 30_000);
});

describe('the REST limit over minutes (simulated clock)', () => {
  /** Largest number of calls inside any window of 60 s. */
  const busiestMinute = (times: number[]) => {
    let max = 0;
    let start = 0;
    for (let end = 0; end < times.length; end++) {
      while ((times[end] ?? 0) - (times[start] ?? 0) >= 60_000) start++;
      max = Math.max(max, end - start + 1);
    }
    return max;
  };

  it('never lets more than the configured calls through in any 60 s window, per tenant, at the default of 450', () => {
    let now = Date.UTC(2025, 0, 1);
    const gate = new SlidingWindowRestGate(450, () => now);
    const accepted: Record<string, number[]> = { a: [], b: [] };
    // Both tenants try every 10 ms for 5 minutes; tenant b only in the last 2 minutes.
    for (let t = 0; t < 300_000; t += 10) {
      now += 10;
      for (const tenant of ['a', 'b'] as const) {
        if (tenant === 'b' && t < 180_000) continue;
        try {
          gate.take(tenant);
          accepted[tenant]?.push(now);
        } catch {
          /* throttled: the job would be retried later */
        }
      }
    }
    const a = accepted.a ?? [];
    const b = accepted.b ?? [];
    expect(busiestMinute(a)).toBeLessThanOrEqual(450);
    expect(busiestMinute(b)).toBeLessThanOrEqual(450);
    // Not needlessly slow either: close to the full budget every minute.
    expect(a.length).toBeGreaterThanOrEqual(5 * 450 - 1);
    expect(b.length).toBeGreaterThanOrEqual(2 * 450 - 1);
    recordFigures('rest-limit-simulated', {
      simulatedMinutes: 5,
      busiestMinuteTenantA: busiestMinute(a),
      busiestMinuteTenantB: busiestMinute(b),
      engageLimit: 500,
    });
  });
});
