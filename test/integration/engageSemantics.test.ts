import type { CognigySession, QueueStatusResponse } from '../../contract/relayApi';
import { tenantIdentityUsers } from '../../relay/src/engage/tenantIdentities';
import { threadIdFor } from '../../relay/src/handover/identity';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/**
 * Engage as its docs describe it, where it differs from the happy path: replies without content_id
 * (quick-start.md), integer webhook resource ids (events.md), update_categories replacing the set while
 * rules add their own categories (openapi categorizeThread), agents releasing a chat
 * (intervention.canceled), and a Base API URL typed without /1.0.
 */
const RULE_CATEGORY = '5f1c00000000000000000e01';
const EXTRA_CATEGORY = '5f1c00000000000000000e02';

type HandoverData = { status?: string; reason?: string };
const handoverOf = (call: { data: Record<string, unknown> }): HandoverData => (call.data.handover as HandoverData | undefined) ?? {};

describe('Engage semantics the relay must follow (sqlite store)', () => {
  let journey: RelayRig;
  let n = 0;
  beforeAll(async () => {
    journey = await startRelayRig({
      store: 'sqlite',
      engageOptions: { agentRepliesWithoutContentId: true, numericWebhookResourceIds: true, ruleCategoryIds: [RULE_CATEGORY] },
      // The form an admin gets from the seed without the version suffix: https://host, no /1.0.
      tenantValues: (_index, engage) => ({ baseApiUrl: engage.url }),
    });
    journey.engage.addCategory(EXTRA_CATEGORY, 'Billing');
  });
  afterAll(async () => {
    await journey?.close();
  });

  const call = (session: CognigySession, route: Parameters<typeof signedRelayCall>[2], extra: Record<string, unknown>) =>
    signedRelayCall(journey.relayUrl, journey.tenant, route, { ...envelopeFor(journey.tenant, session, `sem-${++n}`), ...extra });
  const callsOf = (session: CognigySession) => journey.cognigy.calls.filter((c) => c.sessionId === session.sessionId);

  it('normalises a Base API URL without /1.0 and reaches Engage REST with it', async () => {
    expect(journey.tenant.baseApiUrl).toBe(`${journey.engage.url}/1.0`);
    const session = { URLToken: 'url', userId: 'url-user', sessionId: 'url-session' };
    await call(session, 'startHandover', { firstMessage: 'help' });
    const threadId = threadIdFor(journey.tenant.sourceId, session);
    await journey.waitForAgentCategory(threadId);
  });

  it('creates the Bot and Agent identities once per tenant, outside the handover lanes', async () => {
    const users = tenantIdentityUsers(journey.tenant.sourceId);
    await waitUntil('both identities in Engage', () =>
      [users.bot.id, users.agent.id].every((id) => journey.engage.users().some((u) => u.foreign_id === id)),
    );
    for (const id of [users.bot.id, users.agent.id])
      expect(journey.engage.users().find((u) => u.foreign_id === id)).toMatchObject({ puppetizable: true });
    const userCreates = () => journey.engage.sendApiLog.filter((e) => e.action === 'users.create').length;
    const before = userCreates();
    const session = { URLToken: 'ids', userId: 'ids-user', sessionId: 'ids-session' };
    await call(session, 'startHandover', { firstMessage: 'help' });
    const threadId = threadIdFor(journey.tenant.sourceId, session);
    await waitUntil(
      'handover categorised',
      () => journey.engage.thread(threadId)?.categoryIds.includes(journey.tenant.agentCategoryId) === true,
    );
    expect(userCreates()).toBe(before);
  });

  it('keeps rule-set categories, adds Additional Category IDs on handover and swaps only Bot and Agent', async () => {
    const { botCategoryId, agentCategoryId } = journey.tenant;
    const session = { URLToken: 'cat', userId: 'cat-user', sessionId: 'cat-session' };
    const threadId = threadIdFor(journey.tenant.sourceId, session);
    await call(session, 'startHandover', { firstMessage: 'billing question', additionalCategoryIds: [EXTRA_CATEGORY] });
    await journey.waitForAgentCategory(threadId);
    expect(new Set(journey.engage.thread(threadId)?.categoryIds)).toEqual(new Set([RULE_CATEGORY, agentCategoryId, EXTRA_CATEGORY]));

    await journey.engage.agentReply({ threadId, body: 'Done, anything else?' });
    journey.engage.closeIntervention(threadId);
    await waitUntil('thread back in the Bot category', () => journey.engage.thread(threadId)?.categoryIds.includes(botCategoryId) === true);
    expect(new Set(journey.engage.thread(threadId)?.categoryIds)).toEqual(new Set([RULE_CATEGORY, EXTRA_CATEGORY, botCategoryId]));
  });

  it('delivers an agent reply without content_id once although Engage retries it', async () => {
    const session = { URLToken: 'nocid', userId: 'nocid-user', sessionId: 'nocid-session' };
    const threadId = threadIdFor(journey.tenant.sourceId, session);
    await call(session, 'startHandover', { firstMessage: 'help' });
    await waitUntil('in the Agent folder', () => journey.engage.agentFolder().some((t) => t.foreign_id === threadId));
    const reply = await journey.engage.agentReply({ threadId, body: 'Hello, I am Bob.', forceRetry: true });
    expect(reply.outcome).toBe('delivered');
    const sent = journey.engage.sourceCalls
      .filter((c) => c.action === 'messages.create')
      .map((c) => JSON.parse(c.requestBody) as { params: Record<string, unknown> });
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent.filter((body) => 'content_id' in body.params)).toEqual([]);
    // The retry (retry: true, same reply) is answered with the same id and notifies nobody again.
    expect(reply.relayMessageIds).toHaveLength(2);
    expect(reply.relayMessageIds[1]).toBe(reply.relayMessageIds[0]);
    const second = await journey.engage.agentReply({ threadId, body: 'Let me check your order.' });
    expect(second.relayMessageId).not.toBe(reply.relayMessageId);
    await waitUntil('two notifications', () => callsOf(session).filter((c) => c.kind === 'notify').length === 2);
    await new Promise((r) => setTimeout(r, 150));
    expect(
      callsOf(session)
        .filter((c) => c.kind === 'notify')
        .map((c) => c.text),
    ).toEqual(['Hello, I am Bob.', 'Let me check your order.']);
  });

  it('puts the user back in the queue when an agent releases the chat; only closing ends the handover', async () => {
    const session = { URLToken: 'rel', userId: 'rel-user', sessionId: 'rel-session' };
    const threadId = threadIdFor(journey.tenant.sourceId, session);
    await call(session, 'startHandover', { firstMessage: 'help' });
    await waitUntil('in the Agent folder', () => journey.engage.agentFolder().some((t) => t.foreign_id === threadId));

    // Webhook resource ids are integers here: the relay must still read these events.
    journey.engage.openIntervention(threadId);
    await waitUntil('agent joined', () => callsOf(session).some((c) => handoverOf(c).status === 'active'));
    expect(
      journey.engage.issuedEvents.filter((e) => e.type === 'intervention.opened').every((e) => typeof e.resource.id === 'number'),
    ).toBe(true);

    journey.engage.cancelIntervention(threadId);
    await waitUntil('back in the queue', () => callsOf(session).some((c) => handoverOf(c).reason === 'agent_released'));
    const released = callsOf(session).find((c) => handoverOf(c).reason === 'agent_released');
    expect(released?.kind).toBe('inject');
    expect(handoverOf(released ?? { data: {} })).toMatchObject({ status: 'queue', reason: 'agent_released' });
    const status = await call(session, 'queueStatus', {});
    expect(status.body).toMatchObject<Partial<QueueStatusResponse>>({ status: 'queued' });
    expect(journey.engage.thread(threadId)?.categoryIds).toContain(journey.tenant.agentCategoryId);
    expect((await call(session, 'userMessage', { text: 'anyone there?' })).body).toEqual({ forwarded: true, status: 'queued' });

    // Another agent takes it and closes it: that, and only that, ends the handover.
    journey.engage.openIntervention(threadId);
    await journey.engage.agentReply({ threadId, body: 'I am here now.' });
    journey.engage.closeIntervention(threadId);
    await waitUntil('completed', () => callsOf(session).some((c) => handoverOf(c).status === 'completed'));
    const statuses = callsOf(session)
      .filter((c) => c.kind === 'inject')
      .map((c) => handoverOf(c).status);
    expect(statuses).toEqual(['active', 'queue', 'active', 'completed']);
  });
});
