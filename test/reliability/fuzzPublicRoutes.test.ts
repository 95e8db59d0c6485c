import http from 'node:http';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { RELAY_API_PREFIX, RELAY_ROUTES, type CognigySession } from '../../contract/relayApi';
import { RELAY_HEADERS } from '../../contract/requestSigning';
import { signSdkBody } from '../../relay/src/engage/sdkSignature';
import { threadIdFor } from '../../relay/src/handover/identity';
import { headerText, mutate, mutationArb, unicodeText, type Mutation } from '../helpers/fuzzMutations';
import { rawRequest, type RawResult } from '../helpers/rawHttp';
import { recordFigures } from '../helpers/reliabilityFigures';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, relayAuthHeaders } from '../helpers/signedRelayCall';

/**
 * Property-based fuzzing of the three public routes over real HTTP: at least 10 000 generated
 * and mutated requests each — authentic ones (valid signature or secret over whatever bytes we
 * send, so semantic checks are exercised) and forged ones (missing, wrong or misplaced
 * credentials, wrong content types). Properties:
 *  - no 5xx, no dropped connection, no unhandled error;
 *  - every rejection is a 4xx with a non-empty reason;
 *  - a rejected request changes nothing: store (conversations, dedup keys, outbox, dead
 *    letters) and the Engage/Cognigy simulators' logs are compared around every authentic
 *    request, and around the whole forged stream;
 *  - no prototype pollution.
 * FUZZ_SEED=<n> replays a run; fast-check prints the seed and the shrunk case on failure.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_125);
const AUTHENTIC_CASES = 4_000;
const FORGED_BATCHES = 375;
const BATCH = 16; // requests in flight at once in the forged streams
const FORGED_CASES = FORGED_BATCHES * BATCH;

type RouteName = 'sourceSdk' | 'webhook' | 'extensionApi' | 'handshake';
interface Tally {
  cases: number;
  status: Record<number, number>;
  fiveXX: number;
}
const tallies: Record<RouteName, Tally> = {
  sourceSdk: { cases: 0, status: {}, fiveXX: 0 },
  webhook: { cases: 0, status: {}, fiveXX: 0 },
  extensionApi: { cases: 0, status: {}, fiveXX: 0 },
  handshake: { cases: 0, status: {}, fiveXX: 0 },
};

let rig: RelayRig;
let db: Database.Database;
const agent = new http.Agent({ keepAlive: true, maxSockets: BATCH });
const knownThreads: string[] = [];
const knownEngageThreads: string[] = [];
const knownSessions: CognigySession[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  rig = await startRelayRig({ logLevel: 'warn', settings: { rateLimitPerMinute: 1_000_000_000, tenantRateLimitPerMinute: 1_000_000_000 } });
  // A few real conversations, so generated requests can hit known threads.
  for (let i = 0; i < 3; i++) {
    const session = { URLToken: 'fuzz', userId: `u-fuzz-${i}`, sessionId: `s-fuzz-${i}` };
    expect((await rig.call('startHandover', session, { firstMessage: 'help' })).status).toBe(200);
    const threadId = threadIdFor(rig.tenant.sourceId, session);
    await waitUntil(
      'engage thread known',
      async () => (await rig.store.getConversation(rig.tenant.sourceId, threadId))?.engageThreadId != null,
      { timeoutMs: 10_000 },
    );
    knownSessions.push(session);
    knownThreads.push(threadId);
    knownEngageThreads.push((await rig.store.getConversation(rig.tenant.sourceId, threadId))?.engageThreadId ?? '');
  }
  await waitUntil('outbox drained', async () => (await rig.store.outboxStats()).pending === 0, { timeoutMs: 10_000 });
  await rig.engage.idle();
  // From here on only requests change state: the outbox worker is paused.
  await rig.relay.worker.stop();
  db = new Database(rig.dbPath ?? '', { readonly: true, fileMustExist: true });
  simulatorsAtStart = simulatorSnapshot();
}, 30_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  agent.destroy();
  db?.close();
  await rig?.close();
  recordFigures('fuzz', {
    seed: SEED,
    sourceSdkCases: tallies.sourceSdk.cases,
    webhookCases: tallies.webhook.cases,
    extensionApiCases: tallies.extensionApi.cases,
    handshakeCases: tallies.handshake.cases,
    fiveXX: tallies.sourceSdk.fiveXX + tallies.webhook.fiveXX + tallies.extensionApi.fiveXX + tallies.handshake.fiveXX,
    statuses: JSON.stringify(Object.fromEntries(Object.entries(tallies).map(([k, t]) => [k, t.status]))),
  });
});

/** Everything a request could change in the store: conversations, dedup keys, outbox, dead letters. */
let storeQueries: Database.Statement[] = [];
function storeSnapshot(): string {
  if (storeQueries.length === 0) {
    storeQueries = [
      'SELECT count(*) AS n, coalesce(sum(version), 0) AS v FROM conversations',
      'SELECT count(*) AS n, coalesce(max(expires_at), 0) AS m FROM dedup',
      'SELECT count(*) AS n, coalesce(max(seq), 0) AS s FROM jobs',
      'SELECT count(*) AS n FROM dead_letters',
      'SELECT count(*) AS n FROM lanes',
    ].map((sql) => db.prepare(sql));
  }
  return storeQueries.map((q) => JSON.stringify(q.get())).join('|');
}

/** What the simulators saw. The outbox worker is paused, so no request may make the relay call them. */
function simulatorSnapshot(): string {
  return [rig.cognigy.attempts.length, rig.engage.sendApiLog.length, rig.engage.sourceCalls.length].join('|');
}
const snapshot = () => `${storeSnapshot()}#${simulatorSnapshot()}`;
/** Conversations, outbox and lanes: what a request may change only when it is accepted. */
const businessSnapshot = () =>
  storeSnapshot()
    .split('|')
    .filter((_part, i) => i !== 1)
    .join('|');
const dedupCount = () => (db.prepare('SELECT count(*) AS n FROM dedup').get() as { n: number }).n;
/** Changes whenever another connection (the relay's) commits a change to the database file: any write at all. */
const commitCounter = () => Number(db.pragma('data_version', { simple: true }));
let simulatorsAtStart = '';

/** Why a response breaks the properties, or null. */
function problemWith(route: RouteName, r: RawResult, mustReject: boolean): string | null {
  const t = tallies[route];
  t.cases += 1;
  t.status[r.status] = (t.status[r.status] ?? 0) + 1;
  if (r.status >= 500) {
    t.fiveXX += 1;
    return `${route}: HTTP ${r.status} ${r.body.slice(0, 200)}`;
  }
  if (mustReject && (r.status < 400 || r.status >= 500)) return `${route}: forged request answered ${r.status}`;
  if (r.status >= 400) {
    const reason = r.headers['content-type']?.startsWith('application/json')
      ? (JSON.parse(r.body) as { error?: { message?: string } }).error?.message
      : r.body;
    if (!reason || reason.trim().length === 0) return `${route}: ${r.status} without a reason`;
  }
  return null;
}

const send = (path: string, body: Buffer | string, headers: Record<string, string>) =>
  rawRequest(`${rig.relayUrl}${path}`, { body, headers, agent });
const nowIso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

// ---- generators --------------------------------------------------------------------------------

const idArb = fc.oneof(fc.string({ minLength: 1, maxLength: 24 }), fc.integer(), fc.constant(''));
const threadArb = () => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...knownThreads) }, idArb);
type TimeSpec = { kind: 'now'; offsetMs: number } | { kind: 'raw'; value: unknown } | { kind: 'omit' };
const timeArb: fc.Arbitrary<TimeSpec> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<TimeSpec>({ kind: 'now', offsetMs: 0 }) },
  { weight: 2, arbitrary: fc.integer({ min: -20 * 60_000, max: 20 * 60_000 }).map((offsetMs): TimeSpec => ({ kind: 'now', offsetMs })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }).map((value): TimeSpec => ({ kind: 'raw', value })) },
  { weight: 1, arbitrary: fc.constant<TimeSpec>({ kind: 'omit' }) },
);
const withTime = (base: Record<string, unknown>, time: TimeSpec) =>
  time.kind === 'omit' ? base : { ...base, time: time.kind === 'now' ? nowIso(time.offsetMs) : time.value };

const sdkBaseArb = () =>
  fc.oneof(
    fc.record({ action: fc.constant('implementation.info') }),
    fc.record(
      { action: fc.constantFrom('messages.list', 'threads.list'), params: fc.record({ since_id: idArb }, { requiredKeys: [] }) },
      { requiredKeys: ['action'] },
    ),
    fc.record({ action: fc.constantFrom('messages.show', 'threads.show'), params: fc.record({ id: idArb }) }),
    fc.record({
      action: fc.constant('messages.create'),
      params: fc.record(
        {
          content_id: idArb,
          thread_id: threadArb(),
          body: fc.option(unicodeText(120)),
          sender_name: fc.option(fc.string({ maxLength: 30 })),
          retry: fc.boolean(),
          format: fc.constantFrom('text', 'html', 'markdown'),
          attachments: fc.array(
            fc.record({
              url: fc.oneof(fc.webUrl(), fc.string()),
              type: fc.option(fc.string({ maxLength: 10 })),
              filename: fc.option(fc.string({ maxLength: 20 })),
            }),
            { maxLength: 3 },
          ),
        },
        { requiredKeys: ['content_id', 'thread_id'] },
      ),
    }),
    fc.record({
      action: fc.constant('messaging.queuing_update'),
      params: fc.record(
        {
          thread_id: threadArb(),
          position: fc.oneof(fc.nat(50), fc.integer(), fc.double(), fc.string({ maxLength: 4 })),
          estimated_wait_time: fc.oneof(fc.nat(5000), fc.double(), fc.string({ maxLength: 4 })),
          in_reply_to_id: fc.option(idArb),
        },
        { requiredKeys: ['thread_id', 'position'] },
      ),
    }),
    fc.record(
      {
        action: fc.oneof(fc.constantFrom('messages.delete', 'messages.end_chat', 'users.create', 'foo.bar'), fc.string({ maxLength: 30 })),
        params: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
      },
      { requiredKeys: ['action'] },
    ),
  );

const eventArb = () =>
  fc.record(
    {
      type: fc.oneof(
        fc.constantFrom('intervention.opened', 'intervention.closed', 'intervention.canceled', 'task.taken', 'content.imported'),
        fc.string({ maxLength: 30 }),
      ),
      id: fc.string({ minLength: 1, maxLength: 30 }),
      issued_at: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2031, 0, 1) }).map((ms) => new Date(ms).toISOString()),
      user_id: fc.option(fc.string({ maxLength: 24 })),
      resource: fc.record({
        type: fc.constantFrom('intervention', 'task', 'content'),
        id: fc.string({ maxLength: 24 }),
        metadata: fc.record(
          {
            source_id: fc.oneof(fc.constant('__tenant__'), fc.string({ maxLength: 12 })),
            thread_id: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...knownEngageThreads) }, fc.string({ maxLength: 24 })),
          },
          { requiredKeys: [] },
        ),
      }),
    },
    { requiredKeys: ['type', 'id', 'issued_at', 'resource'] },
  );
const webhookBaseArb = () =>
  fc.record(
    {
      id: fc.string({ minLength: 1, maxLength: 30 }),
      domain_id: fc.string({ maxLength: 24 }),
      events: fc.array(fc.oneof({ weight: 4, arbitrary: eventArb() }, fc.jsonValue({ maxDepth: 2 })), { maxLength: 5 }),
    },
    { requiredKeys: ['id', 'events'] },
  );
const withTenant = (body: unknown) =>
  JSON.parse(JSON.stringify(body).split('"__tenant__"').join(JSON.stringify(rig.tenant.sourceId))) as unknown;

type ApiRoute = keyof typeof RELAY_ROUTES | 'unknown';
const sessionArb = () =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...knownSessions) },
    fc.record({
      URLToken: fc.string({ minLength: 1, maxLength: 12 }),
      userId: fc.string({ minLength: 1, maxLength: 12 }),
      sessionId: fc.string({ minLength: 1, maxLength: 12 }),
    }),
  );
const profileArb = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 16 }),
  fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  ),
  { maxKeys: 5 },
);
const apiCaseArb = () =>
  fc
    .record({
      route: fc.constantFrom<ApiRoute>('startHandover', 'userMessage', 'cancelHandover', 'queueStatus', 'sendProfile', 'unknown'),
      session: sessionArb(),
      requestId: fc.string({ minLength: 1, maxLength: 30 }),
      connectionOk: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, fc.constant(false)),
      extra: fc.record(
        {
          firstMessage: fc.string({ maxLength: 60 }),
          transcript: fc.array(fc.record({ role: fc.constantFrom('user', 'bot', 'agent'), text: fc.string({ maxLength: 30 }) }), {
            maxLength: 3,
          }),
          profile: profileArb,
          profileMapping: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ minLength: 1, maxLength: 10 }), {
            maxKeys: 3,
          }),
          contextData: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
          options: fc.record({ forwardOnlyHandoverConversations: fc.boolean(), getQueueUpdates: fc.boolean() }),
          text: unicodeText(60),
          role: fc.constantFrom('user', 'bot'),
          mirror: fc.boolean(),
          reason: fc.string({ maxLength: 30 }),
          attachments: fc.array(fc.record({ url: fc.oneof(fc.webUrl(), fc.string()), filename: fc.string({ maxLength: 10 }) }), {
            maxLength: 2,
          }),
        },
        { requiredKeys: [] },
      ),
    })
    .map(({ route, session, requestId, connectionOk, extra }) => {
      const envelope = envelopeFor(rig.tenant, session, requestId) as { connection: Record<string, string> };
      const connection = connectionOk ? envelope.connection : { ...envelope.connection, agentCategoryId: 'drifted' };
      return { route, body: { ...envelope, connection, ...extra } };
    });
const apiPath = (route: ApiRoute) => `${RELAY_API_PREFIX}${route === 'unknown' ? '/handover/unknown' : RELAY_ROUTES[route]}`;

const wrongTypeArb = fc.constantFrom(
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/xml',
  'multipart/form-data; boundary=z',
  'application/json-seq',
  'text/json',
);

/** The bytes a mutation produces; forged cases must differ from the signed original. */
function mutatedDifferent(value: unknown, mutation: Mutation): { original: string; sent: Buffer } {
  const original = JSON.stringify(value);
  let sent = mutate(value, mutation);
  if (sent.toString('utf8') === original) sent = Buffer.concat([sent, Buffer.from(' ')]);
  return { original, sent };
}

async function forgedStream<T>(caseArb: fc.Arbitrary<T>, run: (c: T) => Promise<string | null>): Promise<void> {
  const before = snapshot();
  const commitsBefore = commitCounter();
  await fc.assert(
    fc.asyncProperty(fc.array(caseArb, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
      const problems = (await Promise.all(cases.map(run))).filter((p): p is string => p !== null);
      if (problems.length > 0) throw new Error(problems.join('\n'));
    }),
    { numRuns: FORGED_BATCHES, seed: SEED, endOnFailure: true },
  );
  expect(snapshot()).toBe(before);
  expect(commitCounter()).toBe(commitsBefore);
}

async function authenticStream<T>(
  caseArb: fc.Arbitrary<T>,
  run: (c: T) => Promise<{ route: RouteName; result: RawResult }>,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(caseArb, async (c) => {
      const before = commitCounter();
      const businessBefore = businessSnapshot();
      const dedupBefore = dedupCount();
      const { route, result } = await run(c);
      const problem = problemWith(route, result, false);
      if (problem) throw new Error(problem);
      if (result.status >= 400 && commitCounter() !== before) {
        // A proven extension signature is remembered before its body is judged (issue 13: a
        // refused body must not leave its signature reusable): that one dedup row, nothing else.
        const onlySignatureRemembered =
          route === 'extensionApi' && businessSnapshot() === businessBefore && dedupCount() === dedupBefore + 1;
        if (!onlySignatureRemembered) throw new Error(`${route}: rejected with ${result.status} but the relay wrote to its store`);
      }
    }),
    { numRuns: AUTHENTIC_CASES, seed: SEED + 1, endOnFailure: true },
  );
}

// ---- the streams ------------------------------------------------------------------------------

describe('fuzzing the public routes', () => {
  it(`Source SDK actions: ${AUTHENTIC_CASES} validly signed + ${FORGED_CASES} forged bodies`, async () => {
    const json = { 'Content-Type': 'application/json' };
    await authenticStream(fc.record({ base: sdkBaseArb(), time: timeArb, mutation: mutationArb }), async ({ base, time, mutation }) => {
      const bytes = mutate(withTime(base, time), mutation);
      const result = await send('/handover/rce', bytes, {
        ...json,
        'X-SMCCSDK-SIGNATURE': signSdkBody(rig.tenant.realtimeAccessToken, bytes),
      });
      if (result.status === 200 && result.headers['x-smccsdk-signature'] !== signSdkBody(rig.tenant.realtimeAccessToken, result.body))
        throw new Error('2xx without a valid response signature');
      return { route: 'sourceSdk', result };
    });
    const forgery = fc.oneof(
      fc.constant({ kind: 'missing' as const }),
      fc.stringMatching(/^[0-9a-f]{128}$/).map((hex) => ({ kind: 'randomHex' as const, hex })),
      headerText(40).map((key) => ({ kind: 'wrongKey' as const, key: `k${key}` })),
      fc.constant({ kind: 'signedOtherBytes' as const }),
      headerText(200).map((value) => ({ kind: 'malformed' as const, value })),
      fc.stringMatching(/^[0-9a-f]{128}$/).map((hex) => ({ kind: 'wrongQuery' as const, hex })),
      wrongTypeArb.map((type) => ({ kind: 'wrongContentType' as const, type })),
      headerText(30).map((source) => ({ kind: 'otherSourcePath' as const, source: `x${source}` })),
    );
    await forgedStream(
      fc.record({ base: sdkBaseArb(), time: timeArb, mutation: mutationArb, forgery }),
      async ({ base, time, mutation, forgery: f }) => {
        const { original, sent } = mutatedDifferent(withTime(base, time), mutation);
        const sign = (b: string | Buffer) => signSdkBody(rig.tenant.realtimeAccessToken, b);
        let path = '/handover/rce';
        let headers: Record<string, string> = { ...json };
        if (f.kind === 'randomHex') headers['X-SMCCSDK-SIGNATURE'] = f.hex;
        if (f.kind === 'wrongKey') headers['X-SMCCSDK-SIGNATURE'] = signSdkBody(f.key, sent);
        if (f.kind === 'signedOtherBytes') headers['X-SMCCSDK-SIGNATURE'] = sign(original);
        if (f.kind === 'malformed') headers['X-SMCCSDK-SIGNATURE'] = f.value;
        if (f.kind === 'wrongQuery') path += `?signature=${f.hex}`;
        if (f.kind === 'wrongContentType') headers = { 'Content-Type': f.type, 'X-SMCCSDK-SIGNATURE': sign(sent) };
        if (f.kind === 'otherSourcePath') {
          path += `/${encodeURIComponent(f.source)}`;
          headers['X-SMCCSDK-SIGNATURE'] = sign(sent);
        }
        return problemWith('sourceSdk', await send(path, sent, headers), true);
      },
    );
    expect(tallies.sourceSdk.cases).toBeGreaterThanOrEqual(10_000);
    expect(tallies.sourceSdk.fiveXX).toBe(0);
  }, 120_000);

  it(`webhooks: ${AUTHENTIC_CASES} with the right secret + ${FORGED_CASES} forged deliveries`, async () => {
    const secret = () => rig.tenant.webhookSecret;
    await authenticStream(fc.record({ base: webhookBaseArb(), mutation: mutationArb }), async ({ base, mutation }) => {
      const bytes = mutate(withTenant(base), mutation);
      return {
        route: 'webhook',
        result: await send('/handover/rce', bytes, { 'Content-Type': 'application/json', 'X-Dimelo-Secret': secret() }),
      };
    });
    const forgery = fc.oneof(
      headerText(60).map((value) => ({ kind: 'random' as const, value })),
      fc.constantFrom('empty', 'truncated', 'extended', 'uppercased', 'otherCase').map((kind) => ({ kind })),
      wrongTypeArb.map((type) => ({ kind: 'wrongContentType' as const, type })),
    );
    await forgedStream(fc.record({ base: webhookBaseArb(), mutation: mutationArb, forgery }), async ({ base, mutation, forgery: f }) => {
      const bytes = mutate(withTenant(base), mutation);
      const s = secret();
      const presented =
        f.kind === 'random'
          ? f.value === s
            ? `${s}!`
            : f.value
          : f.kind === 'empty'
            ? ''
            : f.kind === 'truncated'
              ? s.slice(0, -1)
              : f.kind === 'extended'
                ? `${s}0`
                : f.kind === 'uppercased'
                  ? s.toUpperCase()
                  : f.kind === 'otherCase'
                    ? s.replace(/[a-z]/, (c) => c.toUpperCase())
                    : s;
      const type = f.kind === 'wrongContentType' ? f.type : 'application/json';
      return problemWith('webhook', await send('/handover/rce', bytes, { 'Content-Type': type, 'X-Dimelo-Secret': presented }), true);
    });
    expect(tallies.webhook.cases).toBeGreaterThanOrEqual(10_000);
    expect(tallies.webhook.fiveXX).toBe(0);
  }, 120_000);

  it(`extension API: ${AUTHENTIC_CASES} validly signed + ${FORGED_CASES} forged calls`, async () => {
    const headersFor = (
      sent: Buffer | string,
      ts: number,
      key = rig.tenant.relayApiKey,
      nonce: string | undefined,
      route: ApiRoute,
    ): Record<string, string> => ({
      'Content-Type': 'application/json',
      ...relayAuthHeaders(key, rig.tenant.sourceId, 'queueStatus', Buffer.isBuffer(sent) ? sent.toString('utf8') : sent, {
        timestampSeconds: ts,
        path: apiPath(route),
        ...(nonce === undefined ? {} : { nonce }),
      }),
    });
    const nonceArb = fc.option(fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/), { nil: undefined });
    const nowSeconds = () => Math.floor(Date.now() / 1000);
    await authenticStream(fc.record({ call: apiCaseArb(), mutation: mutationArb, nonce: nonceArb }), async ({ call, mutation, nonce }) => {
      const bytes = mutate(call.body, mutation);
      // The signature covers the bytes as UTF-8 text, as the extension sends them.
      const sent = Buffer.from(bytes.toString('utf8'));
      return {
        route: 'extensionApi',
        result: await send(apiPath(call.route), sent, headersFor(sent, nowSeconds(), undefined, nonce, call.route)),
      };
    });
    const forgery = fc.oneof(
      headerText(40).map((key) => ({ kind: 'wrongKey' as const, key: `k${key}` })),
      fc
        .oneof(fc.integer({ min: 301, max: 10_000_000 }), fc.integer({ min: -10_000_000, max: -301 }))
        .map((skew) => ({ kind: 'staleTimestamp' as const, skew })),
      headerText(20).map((value) => ({ kind: 'malformedTimestamp' as const, value: /^\d{1,12}$/.test(value) ? `x${value}` : value })),
      fc
        .constantFrom(RELAY_HEADERS.timestamp, RELAY_HEADERS.signatureV2, RELAY_HEADERS.source, RELAY_HEADERS.nonce)
        .map((header) => ({ kind: 'missingHeader' as const, header })),
      headerText(30).map((source) => ({ kind: 'unknownSource' as const, source: `x${source}` })),
      fc.constant({ kind: 'signedOtherBytes' as const }),
      fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => ({ kind: 'badVersion' as const, hex })),
      fc.constant({ kind: 'signedForOtherRoute' as const }),
      wrongTypeArb.map((type) => ({ kind: 'wrongContentType' as const, type })),
      fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/).map((nonce) => ({ kind: 'unsignedNonce' as const, nonce })),
      headerText(80).map((nonce) => ({
        kind: 'malformedNonce' as const,
        nonce: /^[A-Za-z0-9_-]{8,64}$/.test(nonce) ? `${nonce}!` : nonce,
      })),
    );
    await forgedStream(fc.record({ call: apiCaseArb(), mutation: mutationArb, forgery }), async ({ call, mutation, forgery: f }) => {
      const { original, sent: bytes } = mutatedDifferent(call.body, mutation);
      const sent = Buffer.from(bytes.toString('utf8'));
      const ts = nowSeconds();
      let headers = headersFor(sent, ts, undefined, undefined, call.route);
      if (f.kind === 'wrongKey') headers = headersFor(sent, ts, f.key, undefined, call.route);
      if (f.kind === 'staleTimestamp') headers = headersFor(sent, ts + f.skew, undefined, undefined, call.route);
      // A genuine signature for another route (a captured status call replayed on cancel).
      if (f.kind === 'signedForOtherRoute')
        headers = headersFor(sent, ts, undefined, undefined, call.route === 'queueStatus' ? 'cancelHandover' : 'queueStatus');
      if (f.kind === 'malformedTimestamp') headers[RELAY_HEADERS.timestamp] = f.value;
      if (f.kind === 'missingHeader') delete headers[f.header];
      if (f.kind === 'unknownSource') headers[RELAY_HEADERS.source] = f.source;
      if (f.kind === 'signedOtherBytes')
        headers = { ...headersFor(original, ts, undefined, undefined, call.route), 'Content-Type': 'application/json' };
      if (f.kind === 'badVersion') headers[RELAY_HEADERS.signatureV2] = `v1=${f.hex}`;
      if (f.kind === 'wrongContentType') headers['Content-Type'] = f.type;
      // A nonce the signature does not cover, or one that is not a nonce at all.
      if (f.kind === 'unsignedNonce' || f.kind === 'malformedNonce') headers[RELAY_HEADERS.nonce] = f.nonce;
      return problemWith('extensionApi', await send(apiPath(call.route), sent, headers), true);
    });
    expect(tallies.extensionApi.cases).toBeGreaterThanOrEqual(10_000);
    expect(tallies.extensionApi.fiveXX).toBe(0);
  }, 120_000);

  it('webhook verification handshake: 2 000 generated queries', async () => {
    const token = () => rig.tenant.verifyToken;
    const valueArb = fc.oneof(fc.string({ maxLength: 40 }), unicodeText(20), fc.constant(''));
    const queryArb = fc.record({
      mode: fc.oneof({ weight: 3, arbitrary: fc.constant('subscribe') }, valueArb),
      challenge: fc.oneof(valueArb, fc.string({ minLength: 1000, maxLength: 1100 })),
      token: fc.oneof({ weight: 2, arbitrary: fc.constant('__token__') }, valueArb),
      repeat: fc.boolean(),
    });
    const before = snapshot();
    await fc.assert(
      fc.asyncProperty(fc.array(queryArb, { minLength: BATCH, maxLength: BATCH }), async (queries) => {
        const problems = await Promise.all(
          queries.map(async (q) => {
            const params = new URLSearchParams({
              'hub.mode': q.mode,
              'hub.challenge': q.challenge,
              'hub.verify_token': q.token === '__token__' ? token() : q.token,
            });
            if (q.repeat) params.append('hub.mode', 'subscribe');
            const result = await rawRequest(`${rig.relayUrl}/handover/rce?${params.toString()}`, { agent });
            const problem = problemWith('handshake', result, false);
            if (problem) return problem;
            const valid =
              !q.repeat && q.mode === 'subscribe' && q.token === '__token__' && q.challenge.length >= 1 && q.challenge.length <= 1024;
            if (valid !== (result.status === 200)) return `handshake ${JSON.stringify(q).slice(0, 120)} answered ${result.status}`;
            // Lone surrogates cannot travel as UTF-8; they arrive as U+FFFD.
            if (valid && result.body !== Buffer.from(q.challenge, 'utf8').toString('utf8'))
              return `handshake echoed something else than the challenge: ${JSON.stringify(q.challenge)} -> ${JSON.stringify(result.body)}`;
            return null;
          }),
        );
        const found = problems.filter((p): p is string => p !== null);
        if (found.length > 0) throw new Error(found.join('\n'));
      }),
      { numRuns: 125, seed: SEED + 2, endOnFailure: true },
    );
    expect(snapshot()).toBe(before);
  }, 60_000);

  it('left the relay healthy, unpolluted and free of unhandled errors', async () => {
    expect(simulatorSnapshot()).toBe(simulatorsAtStart);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect((await rawRequest(`${rig.relayUrl}/healthz`)).status).toBe(200);
    const status = await rig.call('queueStatus', knownSessions[0] ?? { URLToken: 'a', userId: 'b', sessionId: 'c' });
    expect(status.status).toBe(200);
    const errors = rig.logLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
    expect(errors).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
