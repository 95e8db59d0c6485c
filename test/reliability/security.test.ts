import crypto from 'node:crypto';
import { RELAY_API_PREFIX, RELAY_ROUTES } from '../../contract/relayApi';
import { RELAY_HEADERS, signRelayRequestV1 } from '../../contract/requestSigning';
import { signSdkBody } from '../../relay/src/engage/sdkSignature';
import { threadIdFor } from '../../relay/src/handover/identity';
import { rawRequest, type RawResult } from '../helpers/rawHttp';
import { describeCognigyCall, startRelayRig, WarpClock, type RelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';
import { envelopeFor, relayAuthHeaders } from '../helpers/signedRelayCall';

/** Authentication, replay protection and the hardening of the three public routes. */

const sdkBody = (action: string, params: Record<string, unknown> | undefined, time: string) =>
  JSON.stringify(params ? { action, params, time } : { action, time });
const isoAt = (ms: number) => new Date(ms).toISOString();

/** The URL Engage calls: `/handover/rce`, or with several tenants `/handover/rce/<source id>` (the documented multi-tenant URL). */
function engageUrl(rig: RelayRig, tenantIndex = 0): string {
  return rig.tenants.length > 1
    ? `${rig.relayUrl}/handover/rce/${rig.tenants[tenantIndex]?.tenant.sourceId ?? 'missing'}`
    : `${rig.relayUrl}/handover/rce`;
}
function sdkPost(
  rig: RelayRig,
  body: string | Buffer,
  signature: string | null,
  headers: Record<string, string> = {},
  tenantIndex = 0,
): Promise<RawResult> {
  return rawRequest(engageUrl(rig, tenantIndex), {
    body,
    headers: { 'Content-Type': 'application/json', ...(signature === null ? {} : { 'X-SMCCSDK-SIGNATURE': signature }), ...headers },
  });
}
function webhookPost(
  rig: RelayRig,
  body: string | Buffer,
  secret: string,
  headers: Record<string, string> = {},
  tenantIndex = 0,
): Promise<RawResult> {
  return rawRequest(engageUrl(rig, tenantIndex), {
    body,
    headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': secret, ...headers },
  });
}
function apiPost(
  rig: RelayRig,
  route: keyof typeof RELAY_ROUTES,
  body: string | Buffer,
  options: { key?: string; sourceId?: string; timestamp?: number; headers?: Record<string, string> } = {},
): Promise<RawResult> {
  const ts = options.timestamp ?? Math.floor((rig.clock?.now() ?? Date.now()) / 1000);
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  return rawRequest(`${rig.relayUrl}${RELAY_API_PREFIX}${RELAY_ROUTES[route]}`, {
    body,
    headers: {
      'Content-Type': 'application/json',
      ...relayAuthHeaders(options.key ?? rig.tenant.relayApiKey, options.sourceId ?? rig.tenant.sourceId, route, text, {
        timestampSeconds: ts,
      }),
      ...options.headers,
    },
  });
}

describe('signatures and secrets', () => {
  let rig: RelayRig;
  const previousRealtime = 'realtime-token-PREVIOUS-T1-0badc0de';
  const previousWebhook = 'webhook-secret-PREVIOUS-T0-0badc0de';
  let timingSafeEqual: jest.SpyInstance;
  beforeAll(async () => {
    rig = await startRelayRig({
      tenants: 2,
      skipEngageSetup: true,
      tenantValues: (i) => (i === 1 ? { previousRealtimeAccessToken: previousRealtime } : { previousWebhookSecret: previousWebhook }),
    });
    timingSafeEqual = jest.spyOn(crypto, 'timingSafeEqual');
  });
  afterAll(async () => {
    timingSafeEqual?.mockRestore();
    await rig?.close();
  });

  /** Calls of crypto.timingSafeEqual made while `run` executes: [length of a, length of b] each. */
  async function comparisonsDuring(run: () => Promise<unknown>): Promise<number[][]> {
    timingSafeEqual.mockClear();
    await run();
    return timingSafeEqual.mock.calls.map((args: unknown[]) => [(args[0] as Buffer).length, (args[1] as Buffer).length]);
  }

  it('verifies Source SDK signatures over the raw bytes, not a re-serialisation', async () => {
    const raw = `{ "time" : "${new Date().toISOString()}",\n  "action":"messages.list",  "params": {"since_id": "caf\\u00e9"} }`;
    const overRaw = await sdkPost(rig, raw, signSdkBody(rig.tenant.realtimeAccessToken, raw));
    expect([overRaw.status, overRaw.body]).toEqual([200, '[]']);
    const reserialised = JSON.stringify(JSON.parse(raw));
    const overParsed = await sdkPost(rig, raw, signSdkBody(rig.tenant.realtimeAccessToken, reserialised));
    expect([overParsed.status, overParsed.body]).toEqual([401, 'Invalid signature']);
  });

  it('compares Source SDK signatures in constant time: every token of the tenant the path names, full length, wherever the mismatch is', async () => {
    const body = sdkBody('messages.list', {}, new Date().toISOString());
    const good = signSdkBody(rig.tenant.realtimeAccessToken, body);
    const flip = (hex: string, at: number) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
    const cases: Record<string, string> = {
      'valid, tenant 0': good,
      'valid for tenant 1 (previous token), sent to tenant 0': signSdkBody(previousRealtime, body),
      'first char wrong': flip(good, 0),
      'last char wrong': flip(good, 127),
      'all wrong': 'f'.repeat(128),
    };
    // The path names the tenant: only its token is tried (one HMAC, not one per tenant), over all 64 bytes, every time.
    for (const signature of Object.values(cases)) expect(await comparisonsDuring(() => sdkPost(rig, body, signature))).toEqual([[64, 64]]);
    // Tenant 1 has a current and a previous token: both compared, whichever matches.
    for (const signature of [signSdkBody(previousRealtime, body), 'f'.repeat(128)])
      expect(await comparisonsDuring(() => sdkPost(rig, body, signature, {}, 1))).toEqual([
        [64, 64],
        [64, 64],
      ]);
    expect((await sdkPost(rig, body, signSdkBody(previousRealtime, body), {}, 1)).status).toBe(200);
    expect((await sdkPost(rig, body, signSdkBody(previousRealtime, body))).status).toBe(401);
  });

  it('compares webhook secrets in constant time, whatever the length or correctness of the presented one', async () => {
    const body = JSON.stringify({ id: 'd1', events: [] });
    const presented = [rig.tenant.webhookSecret, previousWebhook, `${rig.tenant.webhookSecret.slice(0, -1)}x`, 'x', 'y'.repeat(500)];
    for (const secret of presented) {
      const comparisons = await comparisonsDuring(() => webhookPost(rig, body, secret));
      // Hash-then-compare: fixed 32-byte digests, one per accepted secret of the tenant in the path (current + previous).
      expect(comparisons).toEqual([
        [32, 32],
        [32, 32],
      ]);
    }
    expect((await webhookPost(rig, body, previousWebhook)).status).toBe(200);
    expect((await webhookPost(rig, body, 'x')).status).toBe(401);
  });

  it('rejects extension calls that are stale, replayed, tampered with or signed with another key', async () => {
    const session = { URLToken: 'sec', userId: 'u-sec', sessionId: 's-sec' };
    const body = JSON.stringify(envelopeFor(rig.tenant, session, 'sec-1'));
    const now = Math.floor(Date.now() / 1000);
    const code = (r: RawResult) => [r.status, (JSON.parse(r.body) as { error?: { code: string } }).error?.code ?? 'ok'];
    // Read the clock at each call: on a loaded machine a second can pass between two calls, and a
    // timestamp taken earlier would drift back inside the 300 s window.
    const secondsNow = () => Math.floor(Date.now() / 1000);
    expect(code(await apiPost(rig, 'queueStatus', body, { timestamp: secondsNow() - 302 }))).toEqual([401, 'stale_timestamp']);
    expect(code(await apiPost(rig, 'queueStatus', body, { timestamp: secondsNow() + 302 }))).toEqual([401, 'stale_timestamp']);
    expect(code(await apiPost(rig, 'queueStatus', body, { key: 'relay-api-key-of-someone-else' }))).toEqual([401, 'bad_signature']);
    // Signed for one timestamp, sent with another; signed for one body, sent with another.
    const ts = now;
    const signed = relayAuthHeaders(rig.tenant.relayApiKey, rig.tenant.sourceId, 'queueStatus', body, { timestampSeconds: ts });
    const tampered = (headers: Record<string, string>, sent = body) =>
      rawRequest(`${rig.relayUrl}${RELAY_API_PREFIX}${RELAY_ROUTES.queueStatus}`, {
        body: sent,
        headers: { 'Content-Type': 'application/json', ...signed, ...headers },
      });
    expect(code(await tampered({ [RELAY_HEADERS.timestamp]: String(ts + 1) }))).toEqual([401, 'bad_signature']);
    expect(code(await tampered({}, body.replace('u-sec', 'u-se2')))).toEqual([401, 'bad_signature']);
    expect(code(await tampered({ [RELAY_HEADERS.signatureV2]: '' }))).toEqual([401, 'missing_headers']);
    // The genuine request once, then the same bytes again.
    expect(code(await tampered({}))).toEqual([200, 'ok']);
    expect(code(await tampered({}))).toEqual([409, 'replayed_request']);
  });
});

describe('Source SDK replay window', () => {
  it('rejects a `time` outside the default 5 minutes, either way', async () => {
    const rig = await startRelayRig({ skipEngageSetup: true });
    try {
      const at = async (offsetMs: number) => {
        const body = sdkBody('messages.list', {}, isoAt(Date.now() + offsetMs));
        return (await sdkPost(rig, body, signSdkBody(rig.tenant.realtimeAccessToken, body))).status;
      };
      expect(await at(-4 * 60_000 - 50_000)).toBe(200);
      expect(await at(4 * 60_000 + 50_000)).toBe(200);
      expect(await at(-5 * 60_000 - 10_000)).toBe(400);
      expect(await at(5 * 60_000 + 10_000)).toBe(400);
      const noTime = JSON.stringify({ action: 'messages.list', params: {} });
      const r = await sdkPost(rig, noTime, signSdkBody(rig.tenant.realtimeAccessToken, noTime));
      expect([r.status, r.body]).toEqual([400, 'Invalid request format: time is required']);
    } finally {
      await rig.close();
    }
  });

  it('uses the configured window', async () => {
    const rig = await startRelayRig({ skipEngageSetup: true, settings: { replayWindowMs: 60_000 } });
    try {
      const at = async (offsetMs: number) => {
        const body = sdkBody('messages.list', {}, isoAt(Date.now() + offsetMs));
        return (await sdkPost(rig, body, signSdkBody(rig.tenant.realtimeAccessToken, body))).status;
      };
      expect(await at(-50_000)).toBe(200);
      expect(await at(-70_000)).toBe(400);
    } finally {
      await rig.close();
    }
  });

  it('remembers a signed body for as long as its `time` is accepted, so a replay inside the window changes nothing', async () => {
    const clock = new WarpClock();
    const rig = await startRelayRig({ clock });
    try {
      const session = { URLToken: 'tok', userId: 'u-replay', sessionId: 's-replay' };
      expect((await rig.call('startHandover', session, { firstMessage: 'help' })).status).toBe(200);
      const threadId = threadIdFor(rig.tenant.sourceId, session);
      await waitUntil('in Agent folder', () => rig.engage.thread(threadId)?.inAgentFolder === true);
      const t0 = clock.now();
      const signed = (body: string) => signSdkBody(rig.tenant.realtimeAccessToken, body);
      const queueUpdate = (position: number, time: number) =>
        sdkBody('messaging.queuing_update', { thread_id: threadId, position, estimated_wait_time: 60 }, isoAt(time));
      const injects = () => rig.cognigy.calls.filter((c) => c.sessionId === session.sessionId).map(describeCognigyCall);
      const current = queueUpdate(3, t0);
      // Dated 4 minutes ahead (clock skew): accepted until t0 + 9 min.
      const ahead = queueUpdate(2, t0 + 4 * 60_000);
      expect(JSON.parse((await sdkPost(rig, current, signed(current))).body)).toEqual({ status: 'applied' });
      expect(JSON.parse((await sdkPost(rig, ahead, signed(ahead))).body)).toEqual({ status: 'applied' });
      await waitUntil('two queue injections', () => injects().length === 2);

      const replayAt = async (offsetMs: number, body: string) => {
        clock.advance(t0 + offsetMs - clock.now());
        return sdkPost(rig, body, signed(body));
      };
      // Replays while the time is still accepted are remembered …
      expect(JSON.parse((await replayAt(4 * 60_000 + 59_000, current)).body)).toEqual({ status: 'ignored' });
      expect(JSON.parse((await replayAt(8 * 60_000 + 59_000, ahead)).body)).toEqual({ status: 'ignored' });
      // … and after that the time check refuses them.
      expect((await replayAt(9 * 60_000 + 1_000, ahead)).status).toBe(400);
      expect((await replayAt(9 * 60_000 + 2_000, current)).status).toBe(400);
      await sleep(100);
      expect(injects()).toEqual(['queue:3', 'queue:2']);
    } finally {
      await rig.close();
    }
  });
});

describe('public route hardening', () => {
  let rig: RelayRig;
  beforeAll(async () => {
    rig = await startRelayRig({ skipEngageSetup: true });
  });
  afterAll(async () => {
    await rig?.close();
  });

  type Route = { name: string; send: (body: string | Buffer, headers?: Record<string, string>) => Promise<RawResult> };
  const routes = (): Route[] => [
    { name: 'Source SDK', send: (b, h) => sdkPost(rig, b, signSdkBody(rig.tenant.realtimeAccessToken, b), h) },
    { name: 'webhook', send: (b, h) => webhookPost(rig, b, rig.tenant.webhookSecret, h) },
    { name: 'extension API', send: (b, h) => apiPost(rig, 'queueStatus', b, { headers: h ?? {} }) },
  ];
  const helmetHeaders = (r: RawResult) => ({
    nosniff: r.headers['x-content-type-options'],
    frame: r.headers['x-frame-options'],
    hsts: typeof r.headers['strict-transport-security'],
    csp: /default-src 'self'/.test(String(r.headers['content-security-policy'])),
    referrer: r.headers['referrer-policy'],
    poweredBy: r.headers['x-powered-by'],
  });
  const expectedHelmet = {
    nosniff: 'nosniff',
    frame: 'SAMEORIGIN',
    hsts: 'string',
    csp: true,
    referrer: 'no-referrer',
    poweredBy: undefined,
  };

  it('refuses bodies over the size limit with 413', async () => {
    const huge = JSON.stringify({ action: 'messages.list', params: { pad: 'x'.repeat(1_100_000) }, time: new Date().toISOString() });
    for (const route of routes()) {
      const r = await route.send(huge);
      expect({ route: route.name, status: r.status, reason: r.body.length > 0 }).toEqual({ route: route.name, status: 413, reason: true });
      expect(helmetHeaders(r)).toEqual(expectedHelmet);
    }
  });

  it('refuses JSON nested deeper than 32 levels with 400, before building it', async () => {
    const deep = `{"action":"messages.list","time":"${new Date().toISOString()}","params":{"x":${'['.repeat(40)}${']'.repeat(40)}}}`;
    for (const route of routes()) {
      const r = await route.send(deep);
      expect({ route: route.name, status: r.status, reason: /nested deeper than 32/.test(r.body) }).toEqual({
        route: route.name,
        status: 400,
        reason: true,
      });
    }
    // A body nested 100 000 deep does not crash anything either.
    const abyss = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const route of routes()) expect((await route.send(abyss)).status).toBe(400);
  });

  it('accepts only application/json (415 otherwise)', async () => {
    const body = sdkBody('messages.list', {}, new Date().toISOString());
    const refused = [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      'application/json-patch+json',
      'text/json',
      '',
    ];
    for (const route of routes()) {
      for (const type of refused) {
        const r = await route.send(body, { 'Content-Type': type });
        expect({ route: route.name, type, status: r.status }).toEqual({ route: route.name, type, status: 415 });
      }
      for (const type of ['application/json; charset=utf-8', 'Application/JSON']) {
        expect((await route.send(body, { 'Content-Type': type })).status).not.toBe(415);
      }
    }
  });

  it('sends the security headers on successes, rejections and unknown routes', async () => {
    const responses = [
      await rawRequest(`${rig.relayUrl}/healthz`),
      await rawRequest(`${rig.relayUrl}/readyz`),
      await rawRequest(`${rig.relayUrl}/metrics`),
      await rawRequest(`${rig.relayUrl}/nope`),
      await sdkPost(rig, '{}', 'ab'),
      await rawRequest(
        `${rig.relayUrl}/handover/rce?hub.mode=subscribe&hub.challenge=c&hub.verify_token=${encodeURIComponent(rig.tenant.verifyToken)}`,
      ),
    ];
    // /readyz and /metrics live on the admin listener only.
    expect(responses.map((r) => r.status)).toEqual([200, 404, 404, 404, 401, 200]);
    for (const r of responses) expect(helmetHeaders(r)).toEqual(expectedHelmet);
  });
});

describe('rate limiting on public routes', () => {
  it('limits each client address separately', async () => {
    const rig = await startRelayRig({ skipEngageSetup: true, settings: { rateLimitPerMinute: 10 } });
    try {
      const from = (address: string) => sdkPost(rig, '{}', null, { 'X-Forwarded-For': address });
      const first = [];
      for (let i = 0; i < 10; i++) first.push((await from('198.51.100.7')).status);
      expect(first.every((s) => s === 401)).toBe(true);
      const limited = await from('198.51.100.7');
      expect([limited.status, limited.body]).toEqual([429, 'Too many requests']);
      expect(limited.headers['ratelimit-policy']).toBeDefined();
      // Another address is unaffected.
      expect((await from('203.0.113.9')).status).toBe(401);
    } finally {
      await rig.close();
    }
  });

  it('limits each tenant once it is authenticated, across routes, without letting forged calls spend its budget', async () => {
    const rig = await startRelayRig({
      tenants: 2,
      skipEngageSetup: true,
      settings: { tenantRateLimitPerMinute: 5, rateLimitPerMinute: 10_000 },
    });
    try {
      const session = { URLToken: 'tok', userId: 'u-rl', sessionId: 's-rl' };
      let n = 0;
      const callAs = (tenantIndex: number) => {
        const t = rig.tenants[tenantIndex]?.tenant;
        if (!t) throw new Error('tenant');
        return apiPost(rig, 'queueStatus', JSON.stringify(envelopeFor(t, session, `rl-${++n}`)), {
          key: t.relayApiKey,
          sourceId: t.sourceId,
          headers: { 'X-Forwarded-For': `192.0.2.${n % 250}` },
        });
      };
      // Forged calls naming tenant 0 are refused and cost it nothing.
      for (let i = 0; i < 20; i++) expect((await apiPost(rig, 'queueStatus', '{}', { key: 'forged-key-0000000' })).status).toBe(401);
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await callAs(0)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      const limited = await callAs(0);
      expect(limited.status).toBe(429);
      expect(JSON.parse(limited.body)).toEqual({ error: { code: 'rate_limited', message: 'Too many requests for this source' } });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // The same tenant on its other routes is limited too …
      const sdk = sdkBody('messages.list', {}, new Date().toISOString());
      expect((await sdkPost(rig, sdk, signSdkBody(rig.tenant.realtimeAccessToken, sdk))).status).toBe(429);
      expect((await webhookPost(rig, JSON.stringify({ id: 'd', events: [] }), rig.tenant.webhookSecret)).status).toBe(429);
      // … while the other tenant is not.
      expect((await callAs(1)).status).toBe(200);
    } finally {
      await rig.close();
    }
  });
});

describe('extension signature v2 and the admin listener', () => {
  let rig: RelayRig;
  beforeAll(async () => {
    rig = await startRelayRig({ skipEngageSetup: true });
  });
  afterAll(async () => {
    await rig?.close();
  });
  const code = (r: RawResult) => [r.status, (JSON.parse(r.body) as { error?: { code: string } }).error?.code ?? 'ok'];
  const post = (route: keyof typeof RELAY_ROUTES, body: string, headers: Record<string, string>) =>
    rawRequest(`${rig.relayUrl}${RELAY_API_PREFIX}${RELAY_ROUTES[route]}`, {
      body,
      headers: { 'Content-Type': 'application/json', ...headers },
    });

  it('refuses a captured status call replayed on another route', async () => {
    const session = { URLToken: 'v2', userId: 'u-v2', sessionId: 's-v2' };
    expect((await rig.call('startHandover', session, { firstMessage: 'help' })).status).toBe(200);
    const body = JSON.stringify(envelopeFor(rig.tenant, session, 'v2-status'));
    const captured = relayAuthHeaders(rig.tenant.relayApiKey, rig.tenant.sourceId, 'queueStatus', body);
    expect(code(await post('cancelHandover', body, captured))).toEqual([401, 'bad_signature']);
    // Not cancelled (the handover itself may have failed: no Engage source in this rig).
    expect((await rig.call('queueStatus', session)).body).toMatchObject({ status: expect.stringMatching(/^(queued|error)$/) });
    expect(code(await post('queueStatus', body, captured))).toEqual([200, 'ok']);
  });

  it('remembers a signature even when the body is refused, so it cannot be presented again', async () => {
    const body = JSON.stringify({ requestId: 'no-envelope' });
    const headers = relayAuthHeaders(rig.tenant.relayApiKey, rig.tenant.sourceId, 'queueStatus', body);
    expect(code(await post('queueStatus', body, headers))).toEqual([400, 'invalid_request']);
    expect(code(await post('queueStatus', body, headers))).toEqual([409, 'replayed_request']);
  });

  it('refuses missing, malformed or stale signature headers and unknown sources before reading the body', async () => {
    // Over the 1 MiB limit: had the body been looked at, the answer would be 413.
    const big = 'x'.repeat(1_100_000);
    const headers = relayAuthHeaders(rig.tenant.relayApiKey, rig.tenant.sourceId, 'queueStatus', big);
    const cases: [Record<string, string>, string][] = [
      [{ ...headers, [RELAY_HEADERS.signatureV2]: '' }, 'missing_headers'],
      [{ ...headers, [RELAY_HEADERS.signatureV2]: 'v2=xyz' }, 'bad_signature'],
      [{ ...headers, [RELAY_HEADERS.timestamp]: '1000000000' }, 'stale_timestamp'],
      [{ ...headers, [RELAY_HEADERS.source]: 'no-such-source' }, 'unknown_source'],
    ];
    for (const [sent, expected] of cases) {
      const r = await post('queueStatus', big, sent);
      expect({ expected, answer: code(r), connection: r.headers.connection }).toEqual({
        expected,
        answer: [401, expected],
        connection: 'close',
      });
    }
  });

  it('tells an extension that signs only v1 to upgrade', async () => {
    const body = JSON.stringify(envelopeFor(rig.tenant, { URLToken: 'v1', userId: 'u', sessionId: 's' }, 'v1-call'));
    const ts = Math.floor(Date.now() / 1000);
    const r = await post('queueStatus', body, {
      [RELAY_HEADERS.timestamp]: String(ts),
      [RELAY_HEADERS.nonce]: 'nonce-v1-0001',
      [RELAY_HEADERS.signature]: signRelayRequestV1(rig.tenant.relayApiKey, ts, body, 'nonce-v1-0001'),
      [RELAY_HEADERS.source]: rig.tenant.sourceId,
    });
    expect([r.status, JSON.parse(r.body)]).toEqual([
      401,
      {
        error: {
          code: 'unsupported_signature',
          message: 'This extension signs requests the old way (v1): upload the current rce-handover extension',
          field: 'extension',
        },
      },
    ]);
  });

  it('takes built-in property names as profile keys as data (200), not as a server error', async () => {
    const session = { URLToken: 'proto', userId: 'u-proto', sessionId: 's-proto' };
    const profile = { constructor: 'c', toString: 't', hasOwnProperty: 'h', valueOf: 'v' };
    expect(
      (
        await rig.call('startHandover', session, {
          firstMessage: 'help',
          profile,
          profileMapping: { toString: 'email', valueOf: 'constructor' },
        })
      ).status,
    ).toBe(200);
    expect((await rig.call('sendProfile', session, { profile })).status).toBe(200);
  });

  it('serves /readyz and /metrics on the admin listener only', async () => {
    expect((await rawRequest(`${rig.adminUrl}/readyz`)).status).toBe(200);
    expect((await rawRequest(`${rig.adminUrl}/metrics`)).body).toContain('rce_outbox_pending');
    expect((await rawRequest(`${rig.relayUrl}/readyz`)).status).toBe(404);
    expect((await rawRequest(`${rig.relayUrl}/metrics`)).status).toBe(404);
    expect(new URL(rig.adminUrl).hostname).toBe('127.0.0.1');
  });
});
