import axios from 'axios';
import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { recordFigures } from '../helpers/reliabilityFigures';
import { describeCognigyCall, startRelayRig, type RelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';

/** Engage webhooks are at-least-once, unordered and batched (engage-rest-webhooks.md §1.5). */
describe.each<'sqlite' | 'redis'>(['sqlite', 'redis'])('webhook deliveries at least once (%s store)', (storeKind) => {
  let rig: RelayRig;
  let seq = 0;
  beforeAll(async () => {
    rig = await startRelayRig({ store: storeKind });
  });
  afterAll(async () => {
    await rig?.close();
  });

  /** A conversation handed over, imported, with a known Engage thread id. */
  async function handedOver(name: string): Promise<{ session: CognigySession; threadId: string; engageThreadId: string }> {
    const session = { URLToken: 'tok', userId: `u-wh-${name}`, sessionId: `s-wh-${name}` };
    expect((await rig.call('startHandover', session, { firstMessage: 'help' })).status).toBe(200);
    const threadId = threadIdFor(rig.tenant.sourceId, session);
    await waitUntil('thread in Agent folder', () => rig.engage.thread(threadId)?.inAgentFolder === true);
    await waitUntil(
      'engage thread id known',
      async () => (await rig.store.getConversation(rig.tenant.sourceId, threadId))?.engageThreadId != null,
    );
    const engageThreadId = (await rig.store.getConversation(rig.tenant.sourceId, threadId))?.engageThreadId ?? '';
    return { session, threadId, engageThreadId };
  }

  const event = (type: string, id: string, engageThreadId: string, issuedAt: string) => ({
    type,
    id,
    issued_at: issuedAt,
    resource: {
      type: 'intervention',
      id: `int-${engageThreadId}`,
      metadata: { source_id: rig.tenant.sourceId, thread_id: engageThreadId },
    },
  });
  const post = (events: unknown[], deliveryId = `d-${++seq}`) =>
    axios.post<string>(`${rig.relayUrl}/handover/rce`, JSON.stringify({ id: deliveryId, domain_id: 'dom', events }), {
      headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': rig.tenant.webhookSecret },
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
    });
  const linesOf = (session: CognigySession) => rig.cognigy.calls.filter((c) => c.sessionId === session.sessionId).map(describeCognigyCall);
  const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

  it('applies an event id once however often it arrives, in one POST or several', async () => {
    const c = await handedOver('dup');
    const opened = event('intervention.opened', `ev-open-${storeKind}`, c.engageThreadId, iso(-2000));
    const closed = event('intervention.closed', `ev-close-${storeKind}`, c.engageThreadId, iso(-1000));
    // The same delivery three times, and the same events twice inside one POST.
    for (let i = 0; i < 3; i++) expect((await post([opened, opened], 'd-same')).status).toBe(200);
    expect((await post([closed, opened, closed])).status).toBe(200);
    expect((await post([closed])).status).toBe(200);
    await waitUntil('completed injected', () => linesOf(c.session).includes('inject:completed'));
    await waitUntil('thread back in Bot', () => rig.engage.thread(c.threadId)?.categoryIds.join() === rig.tenant.botCategoryId);
    await sleep(150);
    expect(linesOf(c.session)).toEqual(['inject:active', 'inject:completed']);
  });

  it('orders a batch by issued_at and never lets an older event undo a newer one', async () => {
    const c = await handedOver('order');
    // Listed newest first in one POST: applied oldest first.
    const res = await post([
      event('intervention.closed', `ev-o2-${storeKind}`, c.engageThreadId, iso(-1000)),
      event('intervention.opened', `ev-o1-${storeKind}`, c.engageThreadId, iso(-3000)),
    ]);
    expect(res.status).toBe(200);
    await waitUntil('completed', () => linesOf(c.session).includes('inject:completed'));
    // Arriving late in its own POST: an "opened" older than the close changes nothing.
    expect((await post([event('intervention.opened', `ev-o0-${storeKind}`, c.engageThreadId, iso(-2000))])).status).toBe(200);
    await sleep(150);
    expect(linesOf(c.session)).toEqual(['inject:active', 'inject:completed']);
    expect((await rig.store.getConversation(rig.tenant.sourceId, c.threadId))?.status).toBe('completed');
  });

  it('handles several conversations, unknown types and malformed events in one POST', async () => {
    const convs = await Promise.all(['m1', 'm2', 'm3'].map((n) => handedOver(n)));
    const events: unknown[] = convs.map((c, i) =>
      event('intervention.closed', `ev-multi-${storeKind}-${i}`, c.engageThreadId, iso(-100 * i)),
    );
    events.push(event('content.imported', `ev-noise-${storeKind}`, 'whatever', iso(0)), { type: 'intervention.closed', id: 42 }, null);
    const res = await post(events);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.data)).toEqual({ received: 4, ignoredMalformed: 2 });
    for (const c of convs) await waitUntil('completed', () => linesOf(c.session).includes('inject:completed'));
    await sleep(100);
    for (const c of convs) expect(linesOf(c.session)).toEqual(['inject:completed']);
  });

  it('survives Engage’s own duplicated and shuffled batches during real closes', async () => {
    const convs = await Promise.all(['e1', 'e2'].map((n) => handedOver(n)));
    for (const c of convs)
      expect((await rig.engage.agentReply({ threadId: c.threadId, body: `hello ${c.session.userId}` })).outcome).toBe('delivered');
    rig.engage.duplicateNextDelivery();
    rig.engage.shuffleNextBatch();
    // Both closes fall into one batch window; the batch is sent twice.
    for (const c of convs) rig.engage.closeIntervention(c.threadId);
    await rig.engage.flush();
    for (const c of convs) await waitUntil('completed', () => linesOf(c.session).includes('inject:completed'));
    await sleep(150);
    const duplicateDeliveries = rig.engage.deliveryLog.filter((d) => d.duplicate).length;
    expect(duplicateDeliveries).toBeGreaterThanOrEqual(1);
    for (const c of convs) expect(linesOf(c.session)).toEqual(['inject:active', `notify:hello ${c.session.userId}`, 'inject:completed']);
    recordFigures(`webhooks-${storeKind}`, { duplicateDeliveriesSent: duplicateDeliveries + 3 + 2, eventsAppliedTwice: 0 });
  });
});
