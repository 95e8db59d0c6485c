import { signSdkBody } from '../../relay/src/engage/sdkSignature';
import { threadIdFor } from '../../relay/src/handover/identity';
import { rawRequest } from '../helpers/rawHttp';
import { describeCognigyCall, startRelayRig, type RelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/** Tenant A, holding only its own credentials, can neither read nor change tenant B's conversations. */
describe.each<'sqlite' | 'redis'>(['sqlite', 'redis'])('tenant isolation (%s store)', (storeKind) => {
  let rig: RelayRig;
  beforeAll(async () => {
    rig = await startRelayRig({ tenants: 2, store: storeKind });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('keeps B’s conversation out of reach of A’s signed calls, Source SDK requests and webhooks', async () => {
    const [a, b] = rig.tenants;
    if (!a || !b) throw new Error('two tenants expected');
    // The very same Cognigy session exists under both tenants' endpoints.
    const session = { URLToken: 'shared-url-token', userId: 'same-user', sessionId: 'same-session' };
    const threadOfB = threadIdFor(b.tenant.sourceId, session);
    expect(threadIdFor(a.tenant.sourceId, session)).not.toBe(threadOfB);

    expect((await rig.call('startHandover', session, { firstMessage: 'B needs help' }, 1)).status).toBe(200);
    await waitUntil('B in its Agent folder', () => b.engage.thread(threadOfB)?.inAgentFolder === true);
    await waitUntil(
      'B engage thread known',
      async () => (await rig.store.getConversation(b.tenant.sourceId, threadOfB))?.engageThreadId != null,
    );
    await b.engage.queuingUpdate({ threadId: threadOfB, position: 4, estimatedWaitTimeSeconds: 240 });
    await waitUntil('B queue injected', () => rig.cognigy.calls.length === 1);
    const before = await rig.store.getConversation(b.tenant.sourceId, threadOfB);
    const engageThreadOfB = before?.engageThreadId ?? '';
    const bMessages = b.engage.thread(threadOfB)?.messages.length;

    // Extension API: A's key reads only A's (non-existent) conversation for that session.
    const status = await rig.call('queueStatus', session, {}, 0);
    expect(status.body).toEqual({ status: 'idle', known: false, position: null, estimatedWaitTime: null, updatedAt: null });
    // A's key presented as B: refused.
    const asB = await signedRelayCall(
      rig.relayUrl,
      { ...b.tenant, relayApiKey: a.tenant.relayApiKey },
      'queueStatus',
      envelopeFor(b.tenant, session, 'iso-1'),
    );
    expect(asB.body).toMatchObject({ error: { code: 'bad_signature' } });
    // A's key with B's connection details: refused as drift.
    const drift = await signedRelayCall(rig.relayUrl, a.tenant, 'queueStatus', { ...envelopeFor(b.tenant, session, 'iso-2') });
    expect(drift.status).toBe(409);
    // Even with everything else of A's connection, naming B's source in the body is refused.
    const envelopeA = envelopeFor(a.tenant, session, 'iso-3') as { connection: Record<string, string> };
    const namesB = await signedRelayCall(rig.relayUrl, a.tenant, 'cancelHandover', {
      ...envelopeA,
      connection: { ...envelopeA.connection, sourceId: b.tenant.sourceId },
    });
    expect([namesB.status, namesB.body]).toMatchObject([409, { error: { code: 'connection_mismatch', field: 'realtimeEndpointUrl' } }]);
    // A's writes for that session land in A's own namespace.
    expect((await rig.call('userMessage', session, { text: 'from A' }, 0)).body).toEqual({ forwarded: false, status: 'idle' });
    expect((await rig.call('cancelHandover', session, {}, 0)).body).toEqual({ status: 'idle', cancelled: false });

    // Source SDK: A's realtime token for B's thread.
    const post = (path: string, body: string, token: string) =>
      rawRequest(`${rig.relayUrl}${path}`, {
        body,
        headers: { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': signSdkBody(token, body) },
      });
    const reply = JSON.stringify({
      action: 'messages.create',
      params: { content_id: 'iso-c1', thread_id: threadOfB, body: 'A pretending to be B’s agent' },
      time: new Date().toISOString(),
    });
    // With several tenants the URL names the tenant; the bare URL is refused before the body is read.
    expect((await post('/handover/rce', reply, a.tenant.realtimeAccessToken)).status).toBe(404);
    const replied = await post(`/handover/rce/${a.tenant.sourceId}`, reply, a.tenant.realtimeAccessToken);
    expect([replied.status, JSON.parse(replied.body)]).toEqual([200, { error: { fatal: true, message: 'Unknown conversation' } }]);
    expect((await post(`/handover/rce/${b.tenant.sourceId}`, reply, a.tenant.realtimeAccessToken)).status).toBe(401);
    const queue = JSON.stringify({
      action: 'messaging.queuing_update',
      params: { thread_id: threadOfB, position: 1, estimated_wait_time: 1 },
      time: new Date().toISOString(),
    });
    expect(JSON.parse((await post(`/handover/rce/${a.tenant.sourceId}`, queue, a.tenant.realtimeAccessToken)).body)).toEqual({
      status: 'ignored',
    });

    // Webhooks: A's secret closing B's intervention, with and without B's source id, on both paths.
    const hook = (path: string, metadata: Record<string, unknown>, id: string) =>
      rawRequest(`${rig.relayUrl}${path}`, {
        body: JSON.stringify({
          id: `d-${id}`,
          events: [
            {
              type: 'intervention.closed',
              id,
              issued_at: new Date().toISOString(),
              resource: { type: 'intervention', id: 'int-x', metadata },
            },
          ],
        }),
        headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': a.tenant.webhookSecret },
      });
    expect(
      (
        await hook(
          `/handover/rce/${a.tenant.sourceId}`,
          { source_id: b.tenant.sourceId, thread_id: engageThreadOfB },
          `iso-e1-${storeKind}`,
        )
      ).status,
    ).toBe(200);
    expect((await hook(`/handover/rce/${a.tenant.sourceId}`, { thread_id: engageThreadOfB }, `iso-e2-${storeKind}`)).status).toBe(200);
    expect((await hook('/handover/rce', { thread_id: engageThreadOfB }, `iso-e4-${storeKind}`)).status).toBe(404);
    expect((await hook(`/handover/rce/${b.tenant.sourceId}`, { thread_id: engageThreadOfB }, `iso-e3-${storeKind}`)).status).toBe(401);

    await sleep(200);
    const after = await rig.store.getConversation(b.tenant.sourceId, threadOfB);
    expect(after).toEqual(before);
    expect(b.engage.thread(threadOfB)?.messages.length).toBe(bMessages);
    expect(rig.cognigy.calls.map(describeCognigyCall)).toEqual(['queue:4']);
    expect(await rig.store.getConversation(a.tenant.sourceId, threadOfB)).toBeNull();

    // B itself still sees and controls its conversation.
    const own = await rig.call('queueStatus', session, {}, 1);
    expect(own.body).toMatchObject({ status: 'queued', known: true, position: 4, estimatedWaitTime: 240_000 });
  });
});
