import type { CognigySession, QueueStatusResponse, StartHandoverResponse, UserMessageResponse } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { startRelayRig, type RelayRig, type RigStore } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

const session: CognigySession = { URLToken: 'endpoint-token-1', userId: 'user-42', sessionId: 'session-7' };

describe.each<RigStore>(['sqlite', 'redis'])('the whole handover journey (%s store)', (storeKind) => {
  let journey: RelayRig;
  let threadId: string;
  let requestCounter = 0;
  const nextRequestId = () => `req-${storeKind}-${++requestCounter}`;

  beforeAll(async () => {
    journey = await startRelayRig({ store: storeKind });
    threadId = threadIdFor(journey.tenant.sourceId, session);
  });
  afterAll(async () => {
    await journey?.close();
  });

  const call = (route: Parameters<typeof signedRelayCall>[2], extra: Record<string, unknown>) =>
    signedRelayCall(journey.relayUrl, journey.tenant, route, { ...envelopeFor(journey.tenant, session, nextRequestId()), ...extra });

  it('moves the thread to the Agent category with profile, context data and transcript in order', async () => {
    const response = await call('startHandover', {
      profile: { firstname: 'Jane', lastname: 'Doe', email: 'jane@example.com', tier_level: 'gold' },
      transcript: [
        { role: 'user', text: 'Where is my parcel?' },
        { role: 'bot', text: 'Let me check that for you.' },
      ],
      firstMessage: 'The customer asked for a human agent.',
      contextData: { intent: 'parcel_status' },
      options: { forwardOnlyHandoverConversations: true, getQueueUpdates: true },
    });
    expect(response.status).toBe(200);
    expect(response.body).toEqual<StartHandoverResponse>({ threadId, status: 'queued', started: true });

    await journey.waitForAgentCategory(threadId);
    const thread = journey.engage.thread(threadId);
    expect(thread?.categoryIds).toEqual([journey.tenant.agentCategoryId]);
    expect(thread?.messages.map((m) => m.body)).toEqual([
      'Where is my parcel?',
      'Let me check that for you.',
      'The customer asked for a human agent.',
    ]);
    const [first, botLine, handoverMessage] = thread?.messages ?? [];
    expect(first?.author).toMatchObject({ firstname: 'Jane', lastname: 'Doe', email: 'jane@example.com', screenname: 'Jane Doe' });
    expect(first?.author.context_data).toMatchObject({ 'tier-level': 'gold' });
    expect(botLine?.author).toMatchObject({ puppetizable: true });
    expect(handoverMessage?.context_data).toMatchObject({ intent: 'parcel_status' });
    expect(journey.engage.droppedItems).toEqual([]);
  });

  it('a second start while the handover runs changes nothing', async () => {
    const before = journey.engage.thread(threadId)?.messages.length;
    const response = await call('startHandover', { firstMessage: 'again' });
    expect(response.body).toEqual<StartHandoverResponse>({ threadId, status: 'queued', started: false });
    await new Promise((r) => setTimeout(r, 100));
    expect(journey.engage.thread(threadId)?.messages.length).toBe(before);
  });

  it('forwards user messages to the agent in order', async () => {
    for (const text of ['It was due Monday.', 'Order 1234.']) {
      const response = await call('userMessage', { text });
      expect(response.body).toEqual<UserMessageResponse>({ forwarded: true, status: 'queued' });
    }
    await waitUntil('user messages in Engage', () => (journey.engage.thread(threadId)?.messages.length ?? 0) >= 5);
    expect(
      journey.engage
        .thread(threadId)
        ?.messages.slice(-2)
        .map((m) => m.body),
    ).toEqual(['It was due Monday.', 'Order 1234.']);
  });

  it('turns an Engage queue update in seconds into input.data.handover in milliseconds', async () => {
    const status0 = await call('queueStatus', {});
    expect(status0.body).toEqual<QueueStatusResponse>({
      status: 'queued',
      known: false,
      position: null,
      estimatedWaitTime: null,
      updatedAt: null,
    });

    await journey.engage.queuingUpdate({ threadId, position: 3, estimatedWaitTimeSeconds: 120 });
    await journey.cognigy.waitFor((calls) => calls.some((c) => c.kind === 'inject'));
    const inject = journey.cognigy.injections()[0];
    expect(inject).toMatchObject({ URLToken: session.URLToken, userId: session.userId, sessionId: session.sessionId });
    expect(inject?.data).toEqual({
      handover: { status: 'queue', source: 'rce-handover', threadId, position: 3, estimatedWaitTime: 120_000 },
    });

    const status = await call('queueStatus', {});
    expect(status.body).toMatchObject({ status: 'queued', known: true, position: 3, estimatedWaitTime: 120_000 });
  });

  it('delivers an agent reply to the user with notify, once even when Engage retries it', async () => {
    const reply = await journey.engage.agentReply({ threadId, body: 'Hi Jane, I am Anna. Let me look.', agentName: 'Anna' });
    expect(reply.outcome).toBe('delivered');
    await journey.cognigy.waitFor((calls) => calls.some((c) => c.kind === 'notify'));
    const notify = journey.cognigy.notifications()[0];
    expect(notify).toMatchObject({
      URLToken: session.URLToken,
      userId: session.userId,
      sessionId: session.sessionId,
      text: 'Hi Jane, I am Anna. Let me look.',
    });

    const again = await journey.engage.agentReply({
      threadId,
      body: 'Hi Jane, I am Anna. Let me look.',
      agentName: 'Anna',
      contentId: reply.contentId,
      forceRetry: true,
    });
    expect(again.relayMessageId).toBe(reply.relayMessageId);
    await new Promise((r) => setTimeout(r, 150));
    expect(journey.cognigy.notifications()).toHaveLength(1);
  });

  it("sends agent attachments as notify's top-level attachments, with the links kept in the text, and the sender_name in data", async () => {
    const reply = await journey.engage.agentReply({
      threadId,
      body: 'Here is your invoice.',
      agentName: 'Anna',
      attachments: [
        { url: 'https://cdn.example.com/files/invoice-1234.pdf', filename: 'Invoice 1234.pdf' },
        { url: 'https://cdn.example.com/img/parcel.png', type: 'image' },
      ],
    });
    expect(reply.outcome).toBe('delivered');
    await journey.cognigy.waitFor((calls) => calls.filter((c) => c.kind === 'notify').length === 2);
    const notify = journey.cognigy.notifications()[1];
    expect(notify?.attachments).toEqual([
      { name: 'Invoice 1234.pdf', url: 'https://cdn.example.com/files/invoice-1234.pdf', type: 'file' },
      { name: 'parcel.png', url: 'https://cdn.example.com/img/parcel.png', type: 'image' },
    ]);
    expect(notify?.text).toBe(
      'Here is your invoice.\nInvoice 1234.pdf: https://cdn.example.com/files/invoice-1234.pdf\nparcel.png: https://cdn.example.com/img/parcel.png',
    );
    expect(notify?.data).toEqual({
      rceHandover: { type: 'agentMessage', contentId: reply.contentId, agentName: 'Anna', sender_name: 'Anna' },
    });
  });

  it('tells the Flow that an agent joined, once', async () => {
    await journey.cognigy.waitFor((calls) =>
      calls.some((c) => c.kind === 'inject' && (c.data.handover as { status?: string } | undefined)?.status === 'active'),
    );
    const active = journey.cognigy.injections().filter((c) => (c.data.handover as { status?: string }).status === 'active');
    expect(active).toHaveLength(1);
    const status = await call('queueStatus', {});
    expect(status.body).toMatchObject({ status: 'active', known: false });
  });

  it('gives the conversation back to the bot when the agent closes the intervention', async () => {
    journey.engage.closeIntervention(threadId);
    await journey.cognigy.waitFor((calls) =>
      calls.some((c) => (c.data.handover as { status?: string } | undefined)?.status === 'completed'),
    );
    await waitUntil(
      'thread back in the Bot category',
      () => journey.engage.thread(threadId)?.categoryIds.join() === journey.tenant.botCategoryId,
    );
    const kinds = journey.cognigy.calls.map((c) => (c.kind === 'notify' ? 'notify' : (c.data.handover as { status: string }).status));
    expect(kinds).toEqual(['queue', 'active', 'notify', 'notify', 'completed']);

    const after = await call('userMessage', { text: 'thanks!' });
    expect(after.body).toEqual<UserMessageResponse>({ forwarded: false, status: 'completed' });
  });

  it('starts a fresh handover later in the same session', async () => {
    const response = await call('startHandover', { firstMessage: 'Back again' });
    expect(response.body).toEqual<StartHandoverResponse>({ threadId, status: 'queued', started: true });
    const conversation = await journey.relay.store.getConversation(journey.tenant.sourceId, threadId);
    expect(conversation?.handoverCount).toBe(2);
    await waitUntil('thread back in Agent', () => journey.engage.thread(threadId)?.categoryIds.join() === journey.tenant.agentCategoryId);
  });
});
