import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor, authorIdFor } from '../../relay/src/handover/identity';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/** The paths beside the main journey: mirroring before a handover, user cancel, profile updates. */
describe('handover variants (sqlite store)', () => {
  let journey: RelayRig;
  let n = 0;
  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite' });
  });
  afterAll(async () => {
    await journey?.close();
  });
  const call = (session: CognigySession, route: Parameters<typeof signedRelayCall>[2], extra: Record<string, unknown>) =>
    signedRelayCall(journey.relayUrl, journey.tenant, route, { ...envelopeFor(journey.tenant, session, `variant-${++n}`), ...extra });

  it('mirrors the conversation under the Bot category before any handover when Forward Only is off', async () => {
    const session = { URLToken: 'mirror', userId: 'mirror-user', sessionId: 'mirror-session' };
    const threadId = threadIdFor(journey.tenant.sourceId, session);
    expect((await call(session, 'userMessage', { text: 'Hi bot', mirror: true })).body).toEqual({ forwarded: true, status: 'idle' });
    expect((await call(session, 'userMessage', { text: 'Hello! How can I help?', role: 'bot', mirror: true })).body).toEqual({
      forwarded: true,
      status: 'idle',
    });
    // Without mirror (Forward Only on) nothing goes to Engage before a handover.
    expect((await call(session, 'userMessage', { text: 'not mirrored' })).body).toEqual({ forwarded: false, status: 'idle' });
    await waitUntil('mirrored thread imported', () => journey.engage.thread(threadId)?.imported === true);
    const thread = journey.engage.thread(threadId);
    expect(thread?.categoryIds).toEqual([journey.tenant.botCategoryId]);
    expect(thread?.messages.map((m) => [m.side, m.body])).toEqual([
      ['customer', 'Hi bot'],
      ['bot', 'Hello! How can I help?'],
    ]);

    await call(session, 'startHandover', {
      firstMessage: 'Customer wants an agent',
      options: { forwardOnlyHandoverConversations: false, getQueueUpdates: true },
    });
    await waitUntil('moved to Agent', () => journey.engage.thread(threadId)?.categoryIds.join() === journey.tenant.agentCategoryId);
    expect(journey.engage.thread(threadId)?.messages.map((m) => m.body)).toEqual([
      'Hi bot',
      'Hello! How can I help?',
      'Customer wants an agent',
    ]);
  });

  it('cancels a waiting handover: thread back to Bot, intervention ended, later messages not forwarded', async () => {
    const session = { URLToken: 'cancel', userId: 'cancel-user', sessionId: 'cancel-session' };
    const threadId = threadIdFor(journey.tenant.sourceId, session);
    await call(session, 'startHandover', { firstMessage: 'help' });
    await waitUntil('in Agent', () => journey.engage.thread(threadId)?.categoryIds.join() === journey.tenant.agentCategoryId);
    journey.engage.takeTask(threadId);
    await journey.cognigy.waitFor((calls) =>
      calls.some((c) => c.sessionId === session.sessionId && (c.data.handover as { status?: string }).status === 'active'),
    );

    expect((await call(session, 'cancelHandover', { reason: 'user_cancelled' })).body).toEqual({ status: 'cancelled', cancelled: true });
    await waitUntil('back in Bot', () => journey.engage.thread(threadId)?.categoryIds.join() === journey.tenant.botCategoryId);
    // No agent reply yet, so Engage refuses "close" (403) and the relay cancels the intervention instead.
    await waitUntil('intervention cancelled', () => {
      const interventions = journey.engage.thread(threadId)?.interventions ?? [];
      return interventions.length === 1 && interventions[0]?.status === 'canceled';
    });
    expect((await call(session, 'cancelHandover', {})).body).toEqual({ status: 'cancelled', cancelled: false });
    expect((await call(session, 'userMessage', { text: 'still there?' })).body).toEqual({ forwarded: false, status: 'cancelled' });
  });

  it('sends an updated profile as the same Engage user, unknown keys in context_data', async () => {
    const session = { URLToken: 'profile', userId: 'profile-user', sessionId: 'profile-session' };
    const response = await call(session, 'sendProfile', {
      profile: { firstname: 'Ada', lastname: 'Lovelace', mobile: '+44 20 0000', favourite_colour: 'green' },
    });
    const authorId = authorIdFor(journey.tenant.sourceId, session);
    expect(response.body).toEqual({ queued: true, authorId });
    await waitUntil('identity updated', () => journey.engage.users().some((u) => u.foreign_id === authorId));
    const user = journey.engage.users().find((u) => u.foreign_id === authorId);
    expect(user).toMatchObject({ firstname: 'Ada', lastname: 'Lovelace', mobile_phone: '+44 20 0000', screenname: 'Ada Lovelace' });
    expect(user?.context_data).toMatchObject({ 'favourite-colour': 'green' });
    expect(journey.engage.droppedItems).toEqual([]);
  });
});
