import { RELAY_API_PREFIX, RELAY_ROUTES } from '../../contract/relayApi';
import { signSdkBody } from '../../relay/src/engage/sdkSignature';
import { threadIdFor } from '../../relay/src/handover/identity';
import { rawRequest, type RawResult } from '../helpers/rawHttp';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { sleep, waitUntil } from '../helpers/waitUntil';
import { findLeaks, secretForms } from '../helpers/secretScan';
import { relayAuthHeaders } from '../helpers/signedRelayCall';

describe('no secret in any log line, error body or metric', () => {
  let rig: RelayRig;
  afterAll(async () => {
    await rig?.close();
  });

  it('a full journey plus failing requests and failing dependencies leave no secret anywhere', async () => {
    rig = await startRelayRig({ tenants: 2, logLevel: 'trace' });
    const { engage, cognigy, tenant } = rig;
    const responses: { where: string; result: RawResult }[] = [];
    const keep = (where: string, result: RawResult) => {
      responses.push({ where, result });
      return result;
    };

    // The journey, with Engage and Cognigy failing along the way.
    engage.failNext({ api: 'send', status: 503, count: 2 });
    engage.failNext({ api: 'rest', status: 429, count: 1, retryAfterSeconds: 1 });
    engage.failNext({ api: 'rest', status: 401, count: 1, pathIncludes: 'content_threads?' });
    const session = { URLToken: 'tok', userId: 'u-leak', sessionId: 's-leak' };
    const threadId = threadIdFor(tenant.sourceId, session);
    const start = await rig.call('startHandover', session, {
      profile: { firstname: 'Jane', lastname: 'Doe', email: 'jane@example.com', tier: 'gold' },
      transcript: [
        { role: 'user', text: 'hello' },
        { role: 'bot', text: 'hi' },
      ],
      firstMessage: 'an agent please',
      contextData: { intent: 'billing' },
    });
    expect(start.status).toBe(200);
    for (const text of ['one', 'two']) expect((await rig.call('userMessage', session, { text })).status).toBe(200);
    await waitUntil('in Agent folder', () => engage.thread(threadId)?.inAgentFolder === true, { timeoutMs: 15_000 });
    await engage.queuingUpdate({ threadId, position: 2, estimatedWaitTimeSeconds: 30 });
    await cognigy.setFault('http503');
    expect((await engage.agentReply({ threadId, body: 'Agent here' })).outcome).toBe('delivered');
    await sleep(150);
    await cognigy.setFault('none');
    await waitUntil('reply delivered', () => cognigy.notifications().length === 1);
    expect((await rig.call('queueStatus', session)).status).toBe(200);
    expect((await rig.call('sendProfile', session, { profile: { email: 'jane@example.org' } })).status).toBe(200);
    engage.closeIntervention(threadId);
    await waitUntil('completed', () => cognigy.injections().some((c) => (c.data.handover as { status?: string }).status === 'completed'), {
      timeoutMs: 15_000,
    });
    await waitUntil('outbox drained', async () => (await rig.store.outboxStats()).pending === 0, { timeoutMs: 15_000 });

    // Requests that fail authentication or validation, on every route.
    const url = `${rig.relayUrl}/handover/rce`;
    const sdk = JSON.stringify({
      action: 'messages.create',
      params: { content_id: 'c', thread_id: threadId, body: 'x' },
      time: new Date().toISOString(),
    });
    const other = rig.tenants[1]?.tenant;
    if (!other) throw new Error('second tenant expected');
    keep('sdk unsigned', await rawRequest(url, { body: sdk, headers: { 'Content-Type': 'application/json' } }));
    keep(
      'sdk wrong key',
      await rawRequest(url, {
        body: sdk,
        headers: { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': signSdkBody('not-the-token-123', sdk) },
      }),
    );
    keep(
      'sdk other tenant path',
      await rawRequest(`${url}/${other.sourceId}`, {
        body: sdk,
        headers: { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': signSdkBody(tenant.realtimeAccessToken, sdk) },
      }),
    );
    const stale = JSON.stringify({ action: 'messages.list', time: '2001-01-01T00:00:00Z' });
    keep(
      'sdk stale',
      await rawRequest(url, {
        body: stale,
        headers: { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': signSdkBody(tenant.realtimeAccessToken, stale) },
      }),
    );
    const bad = '{"action":"messages.create","params":{"thread_id":5},"time":"x"}';
    keep(
      'sdk invalid',
      await rawRequest(url, {
        body: bad,
        headers: { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': signSdkBody(tenant.realtimeAccessToken, bad) },
      }),
    );
    keep(
      'webhook wrong secret',
      await rawRequest(url, {
        body: '{"id":"d","events":[]}',
        headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': `${tenant.webhookSecret}x` },
      }),
    );
    keep(
      'webhook invalid',
      await rawRequest(url, { body: '{"id":1}', headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': tenant.webhookSecret } }),
    );
    keep(
      'handshake wrong token',
      await rawRequest(`${url}?hub.mode=subscribe&hub.challenge=abc&hub.verify_token=${encodeURIComponent(`${tenant.verifyToken}x`)}`),
    );
    const api = (route: keyof typeof RELAY_ROUTES, body: string, key: string, sourceId: string, ts = Math.floor(Date.now() / 1000)) =>
      rawRequest(`${rig.relayUrl}${RELAY_API_PREFIX}${RELAY_ROUTES[route]}`, {
        body,
        headers: { 'Content-Type': 'application/json', ...relayAuthHeaders(key, sourceId, route, body, { timestampSeconds: ts }) },
      });
    keep('api wrong key', await api('startHandover', '{}', 'wrong-relay-key-000', tenant.sourceId));
    keep('api stale', await api('startHandover', '{}', tenant.relayApiKey, tenant.sourceId, 1_000_000_000));
    keep('api unknown source', await api('startHandover', '{}', tenant.relayApiKey, 'no-such-source'));
    keep('api invalid', await api('startHandover', '{"requestId":"r"}', tenant.relayApiKey, tenant.sourceId));
    keep(
      'api drift',
      await api(
        'queueStatus',
        JSON.stringify({
          requestId: 'r2',
          session,
          connection: {
            sourceId: tenant.sourceId,
            botCategoryId: 'x',
            agentCategoryId: 'y',
            apiAccessTokenFingerprint: '0123456789abcdef',
          },
        }),
        tenant.relayApiKey,
        tenant.sourceId,
      ),
    );
    keep(
      'too large',
      await rawRequest(url, {
        body: 'x'.repeat(1_100_000),
        headers: { 'Content-Type': 'application/json', 'X-Dimelo-Secret': tenant.webhookSecret },
      }),
    );
    keep(
      'wrong type',
      await rawRequest(url, { body: '{}', headers: { 'Content-Type': 'text/plain', 'X-Dimelo-Secret': tenant.webhookSecret } }),
    );
    keep(
      'unknown route',
      await rawRequest(`${rig.relayUrl}/api/v1/nope?key=${tenant.relayApiKey}`, {
        body: '{}',
        headers: { 'Content-Type': 'application/json' },
      }),
    );
    for (const { where, result } of responses) expect({ where, status: result.status >= 400 }).toEqual({ where, status: true });

    const metrics = await rawRequest(`${rig.adminUrl}/metrics`);
    const readiness = await rawRequest(`${rig.adminUrl}/readyz`);
    await sleep(100);
    const haystacks = [
      ...rig.logLines.map((text, i) => ({ where: `log line ${i}`, text })),
      ...responses.map(({ where, result }) => ({ where: `${where} response`, text: `${JSON.stringify(result.headers)}\n${result.body}` })),
      { where: '/metrics', text: metrics.body },
      { where: '/readyz', text: readiness.body },
    ];
    expect(rig.logLines.length).toBeGreaterThan(30);
    expect(findLeaks(haystacks, rig.secrets)).toEqual([]);
    recordFigures('secret-scan', {
      logLinesScanned: rig.logLines.length,
      errorBodiesScanned: responses.length,
      secretsChecked: rig.secrets.length,
      formsPerSecret: 5,
      leaks: 0,
    });
  }, 40_000);

  it('the scan itself finds a secret in any of its forms (so a clean result means something)', () => {
    const secret = 'webhook-secret-T0-55aa77cc99ee';
    for (const form of secretForms(secret)) expect(findLeaks([{ where: 'x', text: `prefix ${form} suffix` }], [secret])).toHaveLength(1);
  });
});
