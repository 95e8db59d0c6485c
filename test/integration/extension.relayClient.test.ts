import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tokenFingerprint } from '../../contract/fingerprint';
import { RELAY_HEADERS, signRelayRequestV1, verifyRelayRequest } from '../../contract/requestSigning';
import { parseConnection, type RceConnection } from '../../extension/src/connection';
import {
  RelayCallError,
  callRelay,
  cancelHandover,
  queueStatus,
  relayHttp,
  relayRequestId,
  sendProfile,
  sendUserMessage,
  startHandover,
  type RelayCallContext,
} from '../../extension/src/relayClient';
import { tenantSecrets, useFrontedRig } from '../helpers/relayRig';

/**
 * The extension's relay client against the real relay (contract + signature checked on every call
 * by the recording front). Answers only a script can give (odd bodies, delays) use the recording
 * stand-in, in the last block.
 */

const session = { URLToken: 'url-token-1', userId: 'user-1', sessionId: 'session-1' };

async function callError(promise: Promise<unknown>): Promise<RelayCallError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RelayCallError) return error;
    throw error;
  }
  throw new Error('expected a RelayCallError');
}

function expectNoSecrets(text: string): void {
  for (const secret of Object.values(tenantSecrets(0))) expect(text).not.toContain(secret);
}

describe('relay client against the real relay', () => {
  const relay = useFrontedRig('relay');
  let connection: RceConnection;
  let context: RelayCallContext;

  beforeAll(() => {
    connection = parseConnection(relay.connection);
    context = { connection, session, inputId: 'input-1' };
  });

  it('sends one signed, contract-valid request per call with the connection fingerprint', async () => {
    const result = await startHandover(context, { firstMessage: 'Help', profile: { firstname: 'Ada' } });
    expect(result).toMatchObject({ status: 'queued', started: true });
    expect(relay.requests).toHaveLength(1);
    const [request] = relay.requestsFor('startHandover');
    expect(request?.signature).toEqual({ ok: true });
    expect(request?.schemaError).toBeNull();
    expect(request?.headers[RELAY_HEADERS.source]).toBe(relay.tenant.sourceId);
    // v2 (method, path, source, timestamp, nonce, body) for this relay, and v1 for relays released before v2.
    const headers = request?.headers ?? {};
    const text = (name: string) => String(headers[name] ?? '');
    const v2 = verifyRelayRequest({
      acceptedKeys: [relay.tenant.relayApiKey],
      method: 'POST',
      path: '/api/v1/handover/start',
      rawBody: Buffer.from(request?.rawBody ?? ''),
      nowSeconds: Math.floor(Date.now() / 1000),
      timestampHeader: text(RELAY_HEADERS.timestamp),
      signatureHeader: text(RELAY_HEADERS.signatureV2),
      nonceHeader: text(RELAY_HEADERS.nonce),
      sourceHeader: text(RELAY_HEADERS.source),
    });
    expect(v2).toEqual({ ok: true });
    expect(
      verifyRelayRequest({
        acceptedKeys: [relay.tenant.relayApiKey],
        method: 'POST',
        path: '/api/v1/handover/cancel',
        rawBody: Buffer.from(request?.rawBody ?? ''),
        nowSeconds: Math.floor(Date.now() / 1000),
        timestampHeader: text(RELAY_HEADERS.timestamp),
        signatureHeader: text(RELAY_HEADERS.signatureV2),
        nonceHeader: text(RELAY_HEADERS.nonce),
        sourceHeader: text(RELAY_HEADERS.source),
      }),
    ).toEqual({ ok: false, reason: 'bad_signature' });
    expect(text(RELAY_HEADERS.signature)).toBe(
      signRelayRequestV1(
        relay.tenant.relayApiKey,
        Number(text(RELAY_HEADERS.timestamp)),
        request?.rawBody ?? '',
        text(RELAY_HEADERS.nonce),
      ),
    );
    expect(request?.body).toMatchObject({
      session,
      connection: {
        sourceId: relay.tenant.sourceId,
        botCategoryId: relay.connection.botCategoryId,
        agentCategoryId: relay.connection.agentCategoryId,
        apiAccessTokenFingerprint: tokenFingerprint(tenantSecrets(0).apiAccessToken),
      },
      firstMessage: 'Help',
      profile: { firstname: 'Ada' },
      transcript: [],
      options: { forwardOnlyHandoverConversations: true, getQueueUpdates: true },
    });
    expectNoSecrets(request?.rawBody ?? '');
    expectNoSecrets(JSON.stringify(request?.headers));
  });

  it('has one function per route', async () => {
    await startHandover({ ...context, inputId: 'i-a' }, { firstMessage: 'x' });
    await expect(sendUserMessage({ ...context, inputId: 'i-b' }, { text: 'hello' })).resolves.toEqual({
      forwarded: true,
      status: 'queued',
    });
    await expect(queueStatus({ ...context, inputId: 'i-c' })).resolves.toMatchObject({ known: false, position: null });
    await expect(sendProfile({ ...context, inputId: 'i-d' }, { profile: { email: 'a@b.c' } })).resolves.toMatchObject({ queued: true });
    await expect(cancelHandover({ ...context, inputId: 'i-e' }, { reason: 'user_cancelled' })).resolves.toEqual({
      status: 'cancelled',
      cancelled: true,
    });
    expect(relay.requests.map((r) => r.route)).toEqual(['startHandover', 'userMessage', 'queueStatus', 'sendProfile', 'cancelHandover']);
    expect(relay.requests.every((r) => r.signature.ok && r.schemaError === null)).toBe(true);
  });

  it('mirrors a message without a handover only when asked to', async () => {
    const idle = { ...context, session: { ...session, sessionId: 'mirror-only' } };
    await expect(sendUserMessage({ ...idle, inputId: 'm-1' }, { text: 'not mirrored' })).resolves.toEqual({
      forwarded: false,
      status: 'idle',
    });
    await expect(sendUserMessage({ ...idle, inputId: 'm-2' }, { text: 'mirrored', mirror: true })).resolves.toEqual({
      forwarded: true,
      status: 'idle',
    });
    await expect(sendUserMessage({ ...idle, inputId: 'm-3' }, { role: 'bot', text: 'bot line', mirror: true })).resolves.toEqual({
      forwarded: true,
      status: 'idle',
    });
    expect(relay.requestsFor('userMessage').map((r) => [r.body.role, r.body.mirror])).toEqual([
      ['user', false],
      ['user', true],
      ['bot', true],
    ]);
  });

  it('derives the requestId from the input so a retried input is deduplicated', async () => {
    expect(relayRequestId('userMessage', session, 'in-9')).toBe(relayRequestId('userMessage', session, 'in-9'));
    expect(relayRequestId('userMessage', session, 'in-9')).not.toBe(relayRequestId('cancelHandover', session, 'in-9'));
    expect(relayRequestId('userMessage', session, 'in-9')).not.toBe(
      relayRequestId('userMessage', { ...session, sessionId: 'other' }, 'in-9'),
    );
    expect(relayRequestId('userMessage', session, undefined)).not.toBe(relayRequestId('userMessage', session, undefined));

    const ctx = { ...context, session: { ...session, sessionId: 'dedup' }, inputId: 'same-input' };
    const once = await sendProfile(ctx, { profile: {} });
    // The relay refuses a byte-identical request signed in the same second as a replay; a
    // re-run input comes later, so sign the repeat in the next second.
    await new Promise((resolve) => setTimeout(resolve, 1020 - (Date.now() % 1000)));
    await expect(sendProfile(ctx, { profile: {} })).resolves.toEqual(once);
    const [first, second] = relay.requestsFor('sendProfile');
    expect(first?.body.requestId).toBe(second?.body.requestId);
    expect(second?.status).toBe(200);
  });

  it('refuses to send a request that breaks the contract, without a call', async () => {
    const error = await callError(sendUserMessage(context, { text: '' }));
    expect(error.code).toBe('invalid_request');
    expect(relay.requests).toHaveLength(0);
  });

  it("maps the relay's error body, keeping code, field and status", async () => {
    const drifted = parseConnection({ ...relay.connection, botCategoryId: 'another-category' });
    const error = await callError(startHandover({ ...context, connection: drifted }, { firstMessage: 'x' }));
    expect(error).toMatchObject({ code: 'connection_mismatch', field: 'botCategoryId', httpStatus: 409 });
    expect(error.message).toContain('Bot Category ID');
  });

  it('reports a wrong Relay API Key as a signature problem naming the field', async () => {
    const wrongKey = parseConnection({ ...relay.connection, relayApiKey: 'a-different-relay-key-000' });
    const error = await callError(queueStatus({ ...context, connection: wrongKey }));
    expect(error).toMatchObject({ code: 'bad_signature', field: 'relayApiKey', httpStatus: 401 });
    expect(error.message).not.toContain('a-different-relay-key-000');
  });

  it('reports an unreachable relay by its origin only', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = parseConnection({ ...relay.connection, relayUrl: `http://127.0.0.1:${port}/base` });
    const error = await callError(callRelay('queueStatus', { ...context, connection: down }, {}));
    expect(error.code).toBe('relay_unreachable');
    expect(error.message).toBe(`The relay at http://127.0.0.1:${port} is unreachable (ECONNREFUSED).`);
    expectNoSecrets(error.message);
  });

  it('uses a request timeout of at most 8 s', () => {
    expect(relayHttp.defaults.timeout).toBeLessThanOrEqual(8000);
    expect(relayHttp.defaults.maxRedirects).toBe(0);
  });
});

describe('relay client against scripted relay answers (recording relay)', () => {
  const relay = useFrontedRig('standIn');
  let context: RelayCallContext;

  beforeAll(() => {
    context = { connection: parseConnection(relay.connection), session, inputId: 'input-1' };
  });

  it('redacts secrets the relay might echo', async () => {
    relay.respondWith('queueStatus', () => ({
      status: 400,
      body: { error: { code: 'odd', message: `token ${tenantSecrets(0).apiAccessToken} rejected` } },
    }));
    const error = await callError(queueStatus(context));
    expect(error.message).toBe('token [redacted] rejected');
  });

  it('treats a non-contract success body as a bad response', async () => {
    relay.respondWith('queueStatus', () => ({ body: { position: 'first' } }));
    expect(await callError(queueStatus(context))).toMatchObject({ code: 'relay_bad_response', httpStatus: 200 });
  });

  it('reports an HTTP error without a contract body by its status', async () => {
    relay.respondWith('queueStatus', () => ({ status: 502, body: '<html>Bad gateway</html>' }));
    expect(await callError(queueStatus(context))).toMatchObject({ code: 'relay_http_502', httpStatus: 502 });
  });

  it('gives up after the timeout, once, with no retry', async () => {
    const saved = relayHttp.defaults.timeout;
    relayHttp.defaults.timeout = 150;
    try {
      relay.respondWith('queueStatus', () => ({ delayMs: 600, body: {} }));
      const error = await callError(queueStatus(context));
      expect(error.code).toBe('relay_timeout');
      expect(relay.requests).toHaveLength(1);
      // Let the late answer finish so no timer outlives the file.
      while (relay.requests[0]?.status === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      relayHttp.defaults.timeout = saved;
    }
  });
});
