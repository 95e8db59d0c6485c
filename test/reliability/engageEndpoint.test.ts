import http from 'node:http';
import net from 'node:net';
import { gzipSync, deflateSync } from 'node:zlib';
import { RELAY_API_PREFIX, RELAY_ROUTES } from '../../contract/relayApi';
import { signSdkBody } from '../../relay/src/engage/sdkSignature';
import { helmetHeaders } from '../../relay/src/http/securityHeaders';
import { rawRequest, type RawResult } from '../helpers/rawHttp';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { envelopeFor, relayAuthHeaders } from '../helpers/signedRelayCall';

/**
 * `POST /handover/rce[/<sourceId>]` is served on plain node:http (http/engageEndpoint.ts), every
 * other route by Express. From outside nothing may tell them apart: Express' path matching, the
 * same checks in the same order, helmet's headers, the per-address limit shared with the other
 * public routes.
 */

const listBody = (): string => JSON.stringify({ action: 'messages.list', params: {}, time: new Date().toISOString() });

function sdkPost(
  rig: RelayRig,
  path: string,
  body: string | Buffer,
  signature: string | null,
  headers: Record<string, string> = {},
): Promise<RawResult> {
  return rawRequest(`${rig.relayUrl}${path}`, {
    body,
    headers: { 'Content-Type': 'application/json', ...(signature === null ? {} : { 'X-SMCCSDK-SIGNATURE': signature }), ...headers },
  });
}
function webhookPost(rig: RelayRig, path: string, secret: string, headers: Record<string, string> = {}): Promise<RawResult> {
  return rawRequest(`${rig.relayUrl}${path}`, {
    body: JSON.stringify({ id: 'd1', events: [] }),
    headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': secret, ...headers },
  });
}
function apiPost(rig: RelayRig, body: string | Buffer, headers: Record<string, string> = {}): Promise<RawResult> {
  const ts = Math.floor(Date.now() / 1000);
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  return rawRequest(`${rig.relayUrl}${RELAY_API_PREFIX}${RELAY_ROUTES.queueStatus}`, {
    body,
    headers: {
      'Content-Type': 'application/json',
      ...relayAuthHeaders(rig.tenant.relayApiKey, rig.tenant.sourceId, 'queueStatus', text, { timestampSeconds: ts }),
      ...headers,
    },
  });
}
let requestCounter = 0;
const queueStatusBody = (rig: RelayRig): string =>
  JSON.stringify(envelopeFor(rig.tenant, { URLToken: 'tok', userId: 'u-ee', sessionId: 's-ee' }, `ee-${++requestCounter}`));

/** A POST whose body goes out in chunks (no Content-Length); resolves as soon as the answer is complete. */
function chunkedPost(
  url: string,
  chunks: readonly (string | Buffer)[],
  headers: Record<string, string>,
  finish: boolean,
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(url, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked', ...headers } }, (res) => {
      answered = true;
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => body.push(c));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(body).toString('utf8') });
      });
    });
    // The server may close while the body is still being sent: only an error before the answer counts.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    for (const chunk of chunks) req.write(chunk);
    if (finish) req.end();
  });
}

/** One request written byte for byte on a socket (for request targets node's client will not send); resolves with status line and body. */
function socketRequest(url: string, head: string, body: string): Promise<{ statusLine: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () =>
      socket.end(`${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`),
    );
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('request timed out')));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve({ statusLine: text.slice(0, text.indexOf('\r\n')), body: split === -1 ? '' : text.slice(split + 4) });
    });
  });
}

/** Response headers that are neither helmet's nor per-response bookkeeping. */
const PER_RESPONSE = new Set([
  'content-type',
  'content-length',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'ratelimit',
  'ratelimit-policy',
  'retry-after',
  'x-smccsdk-signature',
]);
function securityPart(r: RawResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.headers))
    if (!PER_RESPONSE.has(name)) out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  return out;
}
const helmetSet = (): Record<string, string> => Object.fromEntries(helmetHeaders().map(([n, v]) => [n.toLowerCase(), v]));

/** Shaped like a Source SDK signature (128 hex), so only the MAC can refuse it. */
const WELL_FORMED_FORGERY = 'ab'.repeat(64);

describe('Engage endpoint: routing like Express', () => {
  let rig: RelayRig;
  beforeAll(async () => {
    rig = await startRelayRig({ tenants: 2, skipEngageSetup: true });
  });
  afterAll(async () => {
    await rig?.close();
  });

  const tenantAt = (i: number) => {
    const t = rig.tenants[i]?.tenant;
    if (!t) throw new Error(`no tenant ${i}`);
    return t;
  };
  const signedBy = (i: number, body: string) => signSdkBody(tenantAt(i).realtimeAccessToken, body);

  it('matches /handover/rce/<source id> case-insensitively, with an optional trailing slash and query', async () => {
    const s0 = tenantAt(0).sourceId;
    const paths = [`/handover/rce/${s0}`, `/handover/rce/${s0}/`, `/HANDOVER/RCE/${s0}?x=1`, `/Handover/Rce/${s0}/`];
    for (const path of paths) {
      const body = listBody();
      const r = await sdkPost(rig, path, body, signedBy(0, body));
      expect({ path, status: r.status, body: r.body }).toEqual({ path, status: 200, body: '[]' });
    }
  });

  it('with several tenants, refuses the URL without a source id before reading the body (it would cost one HMAC per tenant)', async () => {
    for (const path of ['/handover/rce', '/handover/rce/', '/HANDOVER/RCE', '/handover/rce?x=1']) {
      const body = listBody();
      const r = await sdkPost(rig, path, body, signedBy(0, body));
      expect({ path, status: r.status, body: r.body }).toEqual({
        path,
        status: 404,
        body: 'This relay serves several sources: use <relay-url>/handover/rce/<source id>',
      });
      expect(r.headers.connection).toBe('close');
    }
  });

  it('decodes the source id like a route parameter and tries only that tenant', async () => {
    const s0 = tenantAt(0).sourceId;
    const s1 = tenantAt(1).sourceId;
    expect(s0.startsWith('s')).toBe(true);
    const cases: [string, number, number][] = [
      // [path, signing tenant, expected status]
      [`/handover/rce/%73${s0.slice(1)}`, 0, 200], // %73 = 's'
      [`/handover/rce/${s1}`, 1, 200],
      [`/handover/rce/${s1}`, 0, 401], // tenant 0's signature on tenant 1's URL
      [`/handover/rce/${s0}`, 1, 401],
      ['/handover/rce/no-such-source', 0, 404], // refused before the body is read
      [`/handover/rce/${s0.toUpperCase()}`, 0, 404], // the id itself is case-sensitive
    ];
    for (const [path, signer, status] of cases) {
      const body = listBody();
      const r = await sdkPost(rig, path, body, signedBy(signer, body));
      expect({ path, signer, status: r.status }).toEqual({ path, signer, status });
    }
    // Webhooks likewise.
    expect((await webhookPost(rig, `/handover/rce/${s0}`, tenantAt(0).webhookSecret)).status).toBe(200);
    expect((await webhookPost(rig, `/handover/rce/${s1}`, tenantAt(0).webhookSecret)).status).toBe(401);
    expect((await webhookPost(rig, '/handover/rce/no-such-source', tenantAt(0).webhookSecret)).status).toBe(404);
  });

  it('leaves other paths to Express (404)', async () => {
    for (const path of ['/handover/rce/a/b', '/handover/rcex', '/handover/rce//', '/handover', '/x/handover/rce']) {
      const body = listBody();
      const r = await sdkPost(rig, path, body, signedBy(0, body));
      expect({ path, status: r.status, body: r.body }).toEqual({
        path,
        status: 404,
        body: JSON.stringify({ error: { code: 'not_found', message: 'No such route' } }),
      });
      expect(securityPart(r)).toEqual(helmetSet());
    }
  });

  // RFC 9112 §3.2.2: a server MUST accept the absolute-form request target. Express routes on the
  // URL's pathname (the GET handshake on the same URL works); matchEngagePost matches the raw
  // req.url against /^\/handover\/rce.../ and hands the request to Express, which has no POST route.
  it('serves an absolute-form request target, as Express does for the GET on the same URL', async () => {
    const { host } = new URL(rig.relayUrl);
    const verifyQuery = `hub.mode=subscribe&hub.challenge=c&hub.verify_token=${encodeURIComponent(tenantAt(0).verifyToken)}`;
    const get = await socketRequest(rig.relayUrl, `GET ${rig.relayUrl}/handover/rce?${verifyQuery} HTTP/1.1\r\nHost: ${host}`, '');
    expect([get.statusLine, get.body]).toEqual(['HTTP/1.1 200 OK', 'c']);
    const body = listBody();
    const s0 = tenantAt(0).sourceId;
    const originForm = await socketRequest(
      rig.relayUrl,
      `POST /handover/rce/${s0} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nX-SMCCSDK-SIGNATURE: ${signedBy(0, body)}`,
      body,
    );
    expect([originForm.statusLine, originForm.body]).toEqual(['HTTP/1.1 200 OK', '[]']);
    const body2 = listBody();
    const absolute = await socketRequest(
      rig.relayUrl,
      `POST ${rig.relayUrl}/handover/rce/${s0} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nX-SMCCSDK-SIGNATURE: ${signedBy(0, body2)}`,
      body2,
    );
    expect([absolute.statusLine, absolute.body]).toEqual(['HTTP/1.1 200 OK', '[]']);
  });

  it('answers a malformed percent-encoding in the source id with 400 and the security headers', async () => {
    const body = listBody();
    const r = await sdkPost(rig, '/handover/rce/%E0%A4%A', body, signedBy(0, body));
    expect([r.status, r.body]).toEqual([400, 'Bad request path']);
    expect(securityPart(r)).toEqual(helmetSet());
    expect(r.headers['ratelimit']).toMatch(/^limit=\d+, remaining=\d+, reset=\d+$/);
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
  });

  it("sends exactly helmet's headers, as the Express routes do", async () => {
    const body = listBody();
    const engage = await sdkPost(rig, `/handover/rce/${tenantAt(0).sourceId}`, body, signedBy(0, body));
    const refused = await sdkPost(rig, `/handover/rce/${tenantAt(0).sourceId}`, body, 'ab');
    const viaExpress = await rawRequest(
      `${rig.relayUrl}/handover/rce?hub.mode=subscribe&hub.challenge=c&hub.verify_token=${encodeURIComponent(tenantAt(0).verifyToken)}`,
    );
    const api = await apiPost(rig, queueStatusBody(rig));
    expect([engage.status, refused.status, viaExpress.status, api.status]).toEqual([200, 401, 200, 200]);
    for (const r of [engage, refused, viaExpress, api]) expect(securityPart(r)).toEqual(helmetSet());
    expect(engage.headers['x-powered-by']).toBeUndefined();
  });
});

describe('Engage endpoint: signature in the query', () => {
  let rig: RelayRig;
  beforeAll(async () => {
    rig = await startRelayRig({ skipEngageSetup: true });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('accepts ?signature=<hex> instead of the header, only when given once', async () => {
    const at = async (query: (sig: string) => string, path = '/handover/rce', header?: (sig: string) => string) => {
      const body = listBody();
      const sig = signSdkBody(rig.tenant.realtimeAccessToken, body);
      const r = await sdkPost(rig, `${path}?${query(sig)}`, body, header ? header(sig) : null);
      return [r.status, r.body];
    };
    expect(await at((s) => `signature=${s}`)).toEqual([200, '[]']);
    expect(await at((s) => `other=1&signature=${s}`)).toEqual([200, '[]']);
    expect(await at((s) => `signature=${s}`, `/handover/rce/${rig.tenant.sourceId}`)).toEqual([200, '[]']);
    expect(await at((s) => `signature=${s.startsWith('0') ? '1' : '0'}${s.slice(1)}`)).toEqual([401, 'Invalid signature']);
    // Twice (even the same value) is ambiguous: as if none was given.
    expect((await at((s) => `signature=${s}&signature=${s}`))[0]).toBe(401);
    expect((await at((s) => `signature=${s}&signature=00`))[0]).toBe(401);
    // The header wins over the query.
    expect(
      await at(
        (s) => `signature=${s}`,
        '/handover/rce',
        () => 'ab',
      ),
    ).toEqual([401, 'Invalid signature']);
    expect(
      await at(
        () => 'signature=00',
        '/handover/rce',
        (s) => s,
      ),
    ).toEqual([200, '[]']);
  });

  it('never logs the query (it carries the signature)', async () => {
    const body = listBody();
    const sig = signSdkBody(rig.tenant.realtimeAccessToken, body);
    rig.logLines.length = 0;
    expect((await sdkPost(rig, `/handover/rce?signature=${sig}`, body, null)).status).toBe(200);
    expect((await sdkPost(rig, `/handover/rce?signature=${sig}`, body, null)).status).toBe(200); // replay → ignored, still 200
    expect(rig.logLines.length).toBeGreaterThan(0);
    expect(rig.logLines.filter((l) => l.includes(sig.slice(0, 16)))).toEqual([]);
    const lines = rig.logLines.map((l) => JSON.parse(l) as { path?: string; status?: number });
    expect(lines.filter((l) => l.path !== undefined).map((l) => [l.path, l.status])).toContainEqual(['/handover/rce', 200]);
  });
});

describe('Engage endpoint: body checks', () => {
  const LIMIT = 4_096;
  let rig: RelayRig;
  beforeAll(async () => {
    rig = await startRelayRig({ skipEngageSetup: true, settings: { maxBodyBytes: LIMIT, engageMaxBodyBytes: LIMIT } });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('refuses a compressed body with 415 (nothing is inflated), like the extension API route', async () => {
    const body = listBody();
    const sig = signSdkBody(rig.tenant.realtimeAccessToken, body);
    for (const [encoding, bytes] of [
      ['gzip', gzipSync(body)],
      ['GZIP', gzipSync(body)],
      ['deflate', deflateSync(body)],
      ['br', Buffer.from(body)],
    ] as const) {
      const r = await sdkPost(rig, '/handover/rce', bytes, sig, { 'Content-Encoding': encoding });
      expect({ encoding, status: r.status, body: r.body }).toEqual({
        encoding,
        status: 415,
        body: 'Unsupported Content-Encoding (send identity)',
      });
      expect(securityPart(r)).toEqual(helmetSet());
      expect(r.headers.connection).toBe('close');
    }
    const api = await apiPost(rig, gzipSync(queueStatusBody(rig)), { 'Content-Encoding': 'gzip' });
    expect(api.status).toBe(415);
    // identity is no encoding at all.
    expect((await sdkPost(rig, '/handover/rce', body, sig, { 'Content-Encoding': 'identity' })).status).toBe(200);
  });

  it('reads a chunked body (no Content-Length) under the limit', async () => {
    const body = listBody();
    const sig = signSdkBody(rig.tenant.realtimeAccessToken, body);
    const third = Math.ceil(body.length / 3);
    const r = await chunkedPost(
      `${rig.relayUrl}/handover/rce`,
      [body.slice(0, third), body.slice(third, 2 * third), body.slice(2 * third)],
      { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': sig },
      true,
    );
    expect([r.status, r.body]).toEqual([200, '[]']);
  });

  it('refuses a chunked body that grows past the limit with 413, without waiting for its end', async () => {
    const chunk = 'x'.repeat(1_500);
    // Never finished by the client: the answer must come once the limit is crossed.
    const r = await chunkedPost(
      `${rig.relayUrl}/handover/rce`,
      [chunk, chunk, chunk, chunk],
      { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': WELL_FORMED_FORGERY },
      false,
    );
    expect([r.status, r.body]).toEqual([413, `Body larger than ${LIMIT} bytes`]);
    expect(securityPart(r)).toEqual(helmetSet());
    expect(r.headers.connection).toBe('close');
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
    // Exactly at the limit is fine (then the signature decides).
    const exact = await chunkedPost(
      `${rig.relayUrl}/handover/rce`,
      ['y'.repeat(LIMIT - 1_000), 'y'.repeat(1_000)],
      { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': WELL_FORMED_FORGERY },
      true,
    );
    expect([exact.status, exact.body]).toEqual([401, 'Invalid signature']);
  });

  it('refuses a declared Content-Length over the limit with 413', async () => {
    const r = await sdkPost(rig, '/handover/rce', 'z'.repeat(LIMIT + 1), WELL_FORMED_FORGERY);
    expect([r.status, r.body]).toEqual([413, `Body larger than ${LIMIT} bytes`]);
  });

  it('refuses a missing or malformed signature or secret header before reading the body', async () => {
    // Declared far over the limit: had the body been looked at, the answer would be 413.
    const big = 'z'.repeat(LIMIT + 1);
    const noHeader = await sdkPost(rig, '/handover/rce', big, null);
    expect([noHeader.status, noHeader.body]).toEqual([401, 'Missing X-SMCCSDK-SIGNATURE (Source SDK) or X-Dimelo-Secret (webhook) header']);
    const shortSignature = await sdkPost(rig, '/handover/rce', big, 'ab');
    expect([shortSignature.status, shortSignature.body]).toEqual([401, 'Invalid signature']);
    const emptySecret = await rawRequest(`${rig.relayUrl}/handover/rce`, {
      body: big,
      headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': '' },
    });
    expect(emptySecret.status).toBe(401);
    const hugeSecret = await rawRequest(`${rig.relayUrl}/handover/rce`, {
      body: big,
      headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': 's'.repeat(600) },
    });
    expect(hugeSecret.status).toBe(401);
    for (const r of [noHeader, shortSignature, emptySecret, hugeSecret]) expect(r.headers.connection).toBe('close');
  });
});

describe('Engage endpoint: rate limit headers and the shared per-address budget', () => {
  it('every answer carries RateLimit-Policy, RateLimit and a Content-Length that matches the body', async () => {
    const rig = await startRelayRig({ skipEngageSetup: true, settings: { rateLimitPerMinute: 7 } });
    try {
      const from = { 'X-Forwarded-For': '198.51.100.30' };
      const body = listBody();
      const sig = signSdkBody(rig.tenant.realtimeAccessToken, body);
      const answers = [
        await sdkPost(rig, '/handover/rce', body, sig, from), // 200 (signed JSON)
        await sdkPost(rig, '/handover/rce', body, 'ab', from), // 401
        await sdkPost(rig, '/handover/rce/%E0%A4%A', body, sig, from), // 400
        await sdkPost(rig, '/handover/rce', body, sig, { ...from, 'Content-Type': 'text/plain' }), // 415
        await webhookPost(rig, '/handover/rce', rig.tenant.webhookSecret, from), // 200 (webhook)
        await sdkPost(
          rig,
          '/handover/rce',
          JSON.stringify({ action: 'messages.list', params: { q: 'é ü 漢字' }, time: 'not a time' }),
          null,
          from,
        ), // 401
        await sdkPost(rig, '/handover/rce', 'w'.repeat(2_000_000), WELL_FORMED_FORGERY, from), // 413
      ];
      const limited = await sdkPost(rig, '/handover/rce', body, sig, from); // 429
      expect([...answers, limited].map((r) => r.status)).toEqual([200, 401, 400, 415, 200, 401, 413, 429]);
      answers.forEach((r, i) => {
        expect({ i, policy: r.headers['ratelimit-policy'], limit: r.headers['ratelimit'], retryAfter: r.headers['retry-after'] }).toEqual({
          i,
          policy: '7;w=60',
          limit: expect.stringMatching(new RegExp(`^limit=7, remaining=${6 - i}, reset=\\d+$`)),
          retryAfter: undefined,
        });
      });
      for (const r of [...answers, limited]) expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
      expect(limited.body).toBe('Too many requests');
      expect(limited.headers['ratelimit']).toMatch(/^limit=7, remaining=0, reset=\d+$/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(securityPart(limited)).toEqual(helmetSet());
    } finally {
      await rig.close();
    }
  });

  it('shares one budget per address between the Engage POST and the Express routes', async () => {
    const rig = await startRelayRig({ skipEngageSetup: true, settings: { rateLimitPerMinute: 6 } });
    try {
      const as = (address: string) => ({ 'X-Forwarded-For': address });
      const engage = (address: string) => {
        const body = listBody();
        return sdkPost(rig, '/handover/rce', body, signSdkBody(rig.tenant.realtimeAccessToken, body), as(address));
      };
      const api = (address: string) => apiPost(rig, queueStatusBody(rig), as(address));
      const verify = (address: string) =>
        rawRequest(
          `${rig.relayUrl}/handover/rce?hub.mode=subscribe&hub.challenge=c&hub.verify_token=${encodeURIComponent(rig.tenant.verifyToken)}`,
          { headers: as(address) },
        );
      const remaining = (r: RawResult) => /remaining=(\d+)/.exec(String(r.headers['ratelimit']))?.[1];

      const a = '198.51.100.20';
      const sequence = [await engage(a), await api(a), await verify(a), await engage(a), await api(a), await engage(a)];
      expect(sequence.map((r) => [r.status, remaining(r)])).toEqual([
        [200, '5'],
        [200, '4'],
        [200, '3'],
        [200, '2'],
        [200, '1'],
        [200, '0'],
      ]);
      // Spent, whichever route it comes in by.
      const overApi = await api(a);
      const overEngage = await engage(a);
      const overVerify = await verify(a);
      expect([overApi.status, overEngage.status, overVerify.status]).toEqual([429, 429, 429]);
      expect([overApi.body, overEngage.body]).toEqual(['Too many requests', 'Too many requests']);
      // Another address has its own budget, on both.
      const b = '203.0.113.21';
      expect([(await api(b)).status, (await engage(b)).status]).toEqual([200, 200]);
      expect(remaining(await engage(b))).toBe('3');
    } finally {
      await rig.close();
    }
  });
});
