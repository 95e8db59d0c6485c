import axios from 'axios';
import { signSdkBody } from '../../relay/src/engage/sdkSignature';
import { threadIdFor } from '../../relay/src/handover/identity';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/** The relay's /handover/rce route as Engage sees it: Source SDK actions, webhook handshake, webhook deliveries. */
describe('relay protocol edge at /handover/rce', () => {
  let journey: RelayRig;
  let url: string;
  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite' });
    url = `${journey.relayUrl}/handover/rce`;
  });
  afterAll(async () => {
    await journey?.close();
  });

  const post = (body: string | Buffer, headers: Record<string, string>, query = '') =>
    axios.post<string>(`${url}${query}`, Buffer.from(body), {
      headers,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
    });
  const sdkBody = (action: string, params?: Record<string, unknown>, time = new Date().toISOString()) =>
    JSON.stringify(params ? { action, params, time } : { action, time });
  const signed = (body: string, token = journey.tenant.realtimeAccessToken) => ({
    'Content-Type': 'application/json',
    'X-SMCCSDK-SIGNATURE': signSdkBody(token, body),
  });

  describe('Source SDK requests', () => {
    it('answers implementation.info with what we support, signed over the exact response bytes', async () => {
      const body = sdkBody('implementation.info');
      const response = await post(body, signed(body));
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.headers['x-smccsdk-signature']).toBe(signSdkBody(journey.tenant.realtimeAccessToken, response.data));
      const info = JSON.parse(response.data) as { objects: Record<string, string[]>; options: string[] };
      expect(info.objects.messages).toEqual(['create', 'show', 'list']);
      expect(info.options).toEqual(expect.arrayContaining(['view.messaging', 'messages.text', 'messaging.queuing_update']));
    });

    it('accepts the signature in the ?signature= query parameter too', async () => {
      const body = sdkBody('messages.list', {});
      const response = await post(
        body,
        { 'Content-Type': 'application/json' },
        `?signature=${signSdkBody(journey.tenant.realtimeAccessToken, body)}`,
      );
      expect(response.status).toBe(200);
      expect(JSON.parse(response.data)).toEqual([]);
    });

    it('rejects a missing or wrong signature with 401 and changes nothing', async () => {
      const threadId = threadIdFor(journey.tenant.sourceId, { URLToken: 't', userId: 'u', sessionId: 's' });
      const body = sdkBody('messages.create', { content_id: 'c-unsigned', thread_id: threadId, body: 'hello' });
      const missing = await post(body, { 'Content-Type': 'application/json' });
      expect(missing.status).toBe(401);
      const wrong = await post(body, signed(body, 'not-the-realtime-token'));
      expect(wrong.status).toBe(401);
      expect(wrong.data).toBe('Invalid signature');
      expect(await journey.relay.store.hasDedupKey(`reply:${journey.tenant.sourceId}:c-unsigned`)).toBe(false);
      expect(journey.cognigy.calls).toHaveLength(0);
    });

    it('rejects a signature over a body that was altered after signing', async () => {
      const body = sdkBody('messages.list', {});
      const response = await post(body.replace('list', 'show'), signed(body));
      expect(response.status).toBe(401);
    });

    it('rejects unknown actions, bad params, invalid JSON and stale times with a one-line reason', async () => {
      const unknown = sdkBody('messages.delete', { id: 'x' });
      const r1 = await post(unknown, signed(unknown));
      expect([r1.status, r1.data]).toEqual([400, 'Unsupported action messages.delete']);

      const badParams = sdkBody('messaging.queuing_update', { thread_id: 'x', position: 'first' });
      const r2 = await post(badParams, signed(badParams));
      expect(r2.status).toBe(400);
      expect(r2.data).toMatch(/^Invalid params: /);

      const notJson = '{"action":';
      const r3 = await post(notJson, signed(notJson));
      expect([r3.status, r3.data]).toEqual([400, 'Invalid request format: invalid JSON']);

      const stale = sdkBody('implementation.info', undefined, new Date(Date.now() - 10 * 60_000).toISOString());
      const r4 = await post(stale, signed(stale));
      expect(r4.status).toBe(400);
      expect(r4.data).toMatch(/replay/);
    });

    it('never refuses an Engage retry of an agent reply for its age, and answers it with the first id', async () => {
      const session = { URLToken: 'age', userId: 'age-user', sessionId: 'age-session' };
      await signedRelayCall(journey.relayUrl, journey.tenant, 'startHandover', {
        ...envelopeFor(journey.tenant, session, 'age-start'),
        firstMessage: 'help',
      });
      const threadId = threadIdFor(journey.tenant.sourceId, session);
      const params = {
        content_id: 'c-late',
        thread_id: threadId,
        body: 'Sorry for the wait.',
        created_at: new Date(Date.now() - 3 * 3600_000).toISOString(),
      };
      // Engage's first try, then a retry that still carries the first try's time, hours later.
      const first = sdkBody('messages.create', params, new Date(Date.now() - 3 * 3600_000).toISOString());
      const retry = sdkBody('messages.create', { ...params, retry: true }, new Date(Date.now() - 3 * 3600_000).toISOString());
      const r1 = await post(first, signed(first));
      const r2 = await post(retry, signed(retry));
      expect([r1.status, r2.status]).toEqual([200, 200]);
      expect(JSON.parse(r2.data)).toEqual(JSON.parse(r1.data));
      expect(JSON.parse(r1.data)).toEqual({ id: expect.stringMatching(/^agent-/) });
      await journey.cognigy.waitFor((calls) => calls.some((c) => c.sessionId === 'age-session' && c.kind === 'notify'));
      await new Promise((r) => setTimeout(r, 100));
      expect(journey.cognigy.calls.filter((c) => c.sessionId === 'age-session' && c.kind === 'notify')).toHaveLength(1);
      // Beyond the de-duplication memory (7 days) a reply could be delivered twice: refused.
      const ancient = sdkBody(
        'messages.create',
        { ...params, content_id: 'c-ancient' },
        new Date(Date.now() - 8 * 24 * 3600_000).toISOString(),
      );
      const r3 = await post(ancient, signed(ancient));
      expect([r3.status, r3.data]).toEqual([400, 'Request time outside the accepted window (replay protection)']);
    });

    it('refuses a request whose time is missing or not a date (fail closed), with a log line', async () => {
      for (const time of ['not-a-date', '2021-02-30T25:61:00Z', '']) {
        const body = JSON.stringify({
          action: 'messaging.queuing_update',
          params: { thread_id: 'x', position: 1, estimated_wait_time: 10 },
          time,
        });
        const response = await post(body, signed(body));
        expect(response.status).toBe(400);
        expect(response.data).toMatch(/^Invalid request format: time /);
      }
      const noTime = JSON.stringify({ action: 'messages.create', params: { content_id: 'c-notime', thread_id: 'x', body: 'hi' } });
      const r = await post(noTime, signed(noTime));
      expect([r.status, r.data]).toEqual([400, 'Invalid request format: time is required']);
      // One log line per rejected request (two requests had a time that is not a date).
      expect(journey.logLines.filter((line) => line.includes('"reason":"Invalid request format: time is not a date"'))).toHaveLength(2);
    });

    it('answers an agent reply for an unknown conversation with a fatal item error', async () => {
      const body = sdkBody('messages.create', { content_id: 'c-orphan', thread_id: 'cog-t-unknown', body: 'hello?' });
      const response = await post(body, signed(body));
      expect(response.status).toBe(200);
      expect(JSON.parse(response.data)).toEqual({ error: { fatal: true, message: 'Unknown conversation' } });
    });

    it('refuses other content types (415) and oversized bodies (413)', async () => {
      const body = sdkBody('implementation.info');
      const r1 = await post(body, { ...signed(body), 'Content-Type': 'text/plain' });
      expect(r1.status).toBe(415);
      const huge = JSON.stringify({
        action: 'messages.list',
        params: { pad: 'x'.repeat(2 * 1024 * 1024) },
        time: new Date().toISOString(),
      });
      const r2 = await post(huge, signed(huge));
      expect(r2.status).toBe(413);
    });
  });

  describe('webhook verification handshake', () => {
    const get = (query: string) =>
      axios.get<string>(`${url}?${query}`, { validateStatus: () => true, responseType: 'text', transformResponse: [(d: unknown) => d] });
    it('echoes exactly the challenge when the verify token matches', async () => {
      const r = await get(`hub.mode=subscribe&hub.challenge=abc123XYZ&hub.verify_token=${journey.tenant.verifyToken}`);
      expect([r.status, r.data]).toEqual([200, 'abc123XYZ']);
    });
    it('refuses a wrong token or mode', async () => {
      expect((await get('hub.mode=subscribe&hub.challenge=abc&hub.verify_token=nope')).status).toBe(403);
      expect((await get(`hub.mode=unsubscribe&hub.challenge=abc&hub.verify_token=${journey.tenant.verifyToken}`)).status).toBe(400);
      expect((await get('')).status).toBe(400);
    });
  });

  describe('webhook deliveries', () => {
    const delivery = (events: unknown[]) => JSON.stringify({ id: `d-${Math.random()}`, domain_id: 'dom', events });
    const event = (type: string, id: string, threadId: string, issuedAt = new Date().toISOString()) => ({
      type,
      id,
      issued_at: issuedAt,
      resource: { type: 'intervention', id: `i-${id}`, metadata: { source_id: journey.tenant.sourceId, thread_id: threadId } },
    });

    it('refuses a missing or wrong X-Dimelo-Secret', async () => {
      const body = delivery([event('intervention.closed', 'e0', 'x')]);
      expect((await post(body, { 'Content-Type': 'application/json', 'X-Dimelo-Secret': 'wrong-secret-000' })).status).toBe(401);
    });

    it('acknowledges unknown event types, malformed events and several events per request', async () => {
      const body = delivery([event('content.imported', 'e1', 'x'), { type: 'broken' }, event('identity.merged', 'e2', 'y')]);
      const response = await post(body, { 'Content-Type': 'application/json', 'X-Dimelo-Secret': journey.tenant.webhookSecret });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.data)).toEqual({ received: 2, ignoredMalformed: 1 });
    });

    it('reads integer resource ids (events.md types resource.id as Integer)', async () => {
      const body = delivery([
        {
          ...event('intervention.opened', 'e-int', 'no-such-thread'),
          resource: { type: 'intervention', id: 5464, metadata: { source_id: journey.tenant.sourceId, thread_id: 'no-such-thread' } },
        },
      ]);
      const response = await post(body, { 'Content-Type': 'application/json', 'X-Dimelo-Secret': journey.tenant.webhookSecret });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.data)).toEqual({ received: 1, ignoredMalformed: 0 });
    });

    it('takes intervention.canceled of the current intervention as a release (back to the queue), and ignores another one', async () => {
      const session = { URLToken: 'cx', userId: 'cx-user', sessionId: 'cx-session' };
      await signedRelayCall(journey.relayUrl, journey.tenant, 'startHandover', {
        ...envelopeFor(journey.tenant, session, 'cx-start'),
        firstMessage: 'help',
      });
      const threadId = threadIdFor(journey.tenant.sourceId, session);
      const { waitUntil } = await import('../helpers/waitUntil');
      await waitUntil(
        'engage thread known',
        async () => (await journey.relay.store.getConversation(journey.tenant.sourceId, threadId))?.engageThreadId != null,
      );
      const engageThreadId = (await journey.relay.store.getConversation(journey.tenant.sourceId, threadId))?.engageThreadId ?? '';
      const headers = { 'Content-Type': 'application/json', 'X-Dimelo-Secret': journey.tenant.webhookSecret };
      const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
      await post(delivery([event('intervention.opened', 'cx-a', engageThreadId, at(0))]), headers);
      await post(delivery([event('intervention.canceled', 'cx-b', engageThreadId, at(10))]), headers);
      expect((await journey.relay.store.getConversation(journey.tenant.sourceId, threadId))?.status).toBe('active');
      // Same intervention (resource i-cx-a) as the opened event, in a new event.
      await post(
        delivery([
          {
            ...event('intervention.canceled', 'cx-c', engageThreadId, at(20)),
            resource: { type: 'intervention', id: 'i-cx-a', metadata: { source_id: journey.tenant.sourceId, thread_id: engageThreadId } },
          },
        ]),
        headers,
      );
      expect((await journey.relay.store.getConversation(journey.tenant.sourceId, threadId))?.status).toBe('queued');
      await journey.cognigy.waitFor((calls) => calls.filter((c) => c.sessionId === 'cx-session').length >= 2);
      await new Promise((r) => setTimeout(r, 100));
      const injected = journey.cognigy.calls
        .filter((c) => c.sessionId === 'cx-session')
        .map((c) => c.data.handover as { status: string; reason?: string });
      expect(injected).toEqual([
        expect.objectContaining({ status: 'active' }),
        expect.objectContaining({ status: 'queue', reason: 'agent_released' }),
      ]);
    });

    it('applies an intervention.closed once even when delivered twice, and ignores an older event arriving late', async () => {
      const session = { URLToken: 'wh', userId: 'wh-user', sessionId: 'wh-session' };
      const start = await signedRelayCall(journey.relayUrl, journey.tenant, 'startHandover', {
        ...envelopeFor(journey.tenant, session, 'wh-start'),
        firstMessage: 'help',
      });
      expect(start.status).toBe(200);
      const threadId = threadIdFor(journey.tenant.sourceId, session);
      const { waitUntil } = await import('../helpers/waitUntil');
      await waitUntil(
        'engage thread known',
        async () => (await journey.relay.store.getConversation(journey.tenant.sourceId, threadId))?.engageThreadId != null,
      );
      const engageThreadId = (await journey.relay.store.getConversation(journey.tenant.sourceId, threadId))?.engageThreadId ?? '';
      const closedAt = new Date().toISOString();
      const closed = delivery([event('intervention.closed', 'e-close', engageThreadId, closedAt)]);
      const headers = { 'Content-Type': 'application/json', 'X-Dimelo-Secret': journey.tenant.webhookSecret };
      expect((await post(closed, headers)).status).toBe(200);
      expect((await post(closed, headers)).status).toBe(200);
      const late = delivery([
        event('intervention.opened', 'e-open-late', engageThreadId, new Date(Date.parse(closedAt) - 5000).toISOString()),
      ]);
      expect((await post(late, headers)).status).toBe(200);
      await journey.cognigy.waitFor((calls) => calls.some((c) => c.sessionId === 'wh-session'));
      await new Promise((r) => setTimeout(r, 150));
      const statuses = journey.cognigy.calls
        .filter((c) => c.sessionId === 'wh-session')
        .map((c) => (c.data.handover as { status: string }).status);
      expect(statuses).toEqual(['completed']);
      expect((await journey.relay.store.getConversation(journey.tenant.sourceId, threadId))?.status).toBe('completed');
    });
  });

  describe('extension API', () => {
    const session = { URLToken: 'api', userId: 'api-user', sessionId: 'api-session' };
    it('rejects a stale timestamp, a wrong key and a verbatim replay', async () => {
      const body = { ...envelopeFor(journey.tenant, session, 'api-1'), firstMessage: 'x' };
      const stale = await signedRelayCall(journey.relayUrl, journey.tenant, 'queueStatus', body, {
        timestampSeconds: Math.floor(Date.now() / 1000) - 600,
      });
      expect([stale.status, (stale.body as { error: { code: string } }).error.code]).toEqual([401, 'stale_timestamp']);
      const wrongKey = await signedRelayCall(journey.relayUrl, journey.tenant, 'queueStatus', body, { key: 'some-other-relay-key' });
      expect(wrongKey.body).toMatchObject({ error: { code: 'bad_signature', field: 'relayApiKey' } });
      const ts = Math.floor(Date.now() / 1000);
      // Verbatim: same timestamp and nonce (v2 needs a nonce; the helper draws a fresh one otherwise).
      const first = await signedRelayCall(journey.relayUrl, journey.tenant, 'queueStatus', body, {
        timestampSeconds: ts,
        nonce: 'verbatim-0000001',
      });
      expect(first.status).toBe(200);
      const replay = await signedRelayCall(journey.relayUrl, journey.tenant, 'queueStatus', body, {
        timestampSeconds: ts,
        nonce: 'verbatim-0000001',
      });
      expect([replay.status, (replay.body as { error: { code: string } }).error.code]).toEqual([409, 'replayed_request']);
    });

    it('accepts a quick retry of the same body with a fresh nonce, and refuses that request replayed', async () => {
      const body = { ...envelopeFor(journey.tenant, session, 'api-retry'), text: 'hello' };
      const ts = Math.floor(Date.now() / 1000);
      const first = await signedRelayCall(journey.relayUrl, journey.tenant, 'userMessage', body, {
        timestampSeconds: ts,
        nonce: 'attempt-0000001',
      });
      const retry = await signedRelayCall(journey.relayUrl, journey.tenant, 'userMessage', body, {
        timestampSeconds: ts,
        nonce: 'attempt-0000002',
      });
      expect([first.status, retry.status]).toEqual([200, 200]);
      expect(retry.body).toEqual(first.body);
      const replay = await signedRelayCall(journey.relayUrl, journey.tenant, 'userMessage', body, {
        timestampSeconds: ts,
        nonce: 'attempt-0000002',
      });
      expect([replay.status, (replay.body as { error: { code: string } }).error.code]).toEqual([409, 'replayed_request']);
    });

    it('names the connection field that disagrees with the relay', async () => {
      const envelope = envelopeFor(journey.tenant, session, 'api-2') as { connection: Record<string, string> };
      const body = { ...envelope, connection: { ...envelope.connection, agentCategoryId: 'some-other-category' }, firstMessage: 'x' };
      const response = await signedRelayCall(journey.relayUrl, journey.tenant, 'startHandover', body);
      expect(response.status).toBe(409);
      expect(response.body).toEqual({
        error: {
          code: 'connection_mismatch',
          message: "The connection's Agent Category ID differs from the relay's configuration for this source",
          field: 'agentCategoryId',
        },
      });
    });

    it('rejects an invalid body with the first problem named', async () => {
      const response = await signedRelayCall(journey.relayUrl, journey.tenant, 'startHandover', {
        ...envelopeFor(journey.tenant, session, 'api-3'),
      });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: { code: 'invalid_request', message: expect.stringMatching(/^firstMessage: /) } });
    });
  });
});
