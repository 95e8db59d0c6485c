import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EngageSimulator, MAX_SEND_API_BYTES, type EngageSimulatorOptions, type WebhookPayload } from '../../sandbox/engage';
import { sleep, waitUntil } from '../helpers/waitUntil';

/**
 * Proves the Engage Digital simulator speaks the documented protocols, against a tiny source and
 * webhook receiver written here from the protocol notes (not from the relay), all on 127.0.0.1.
 */

// The documented test vector key (request-response.md) doubles as the source's API access token.
const REALTIME_TOKEN = '3YJZzqMJ5Ec7i2JGvnt8TgvleD7dtpwpmag4S6MuRA2GQdfvV4STIsxDRJ4fEjO8';
const VECTOR_BODY = '{"action":"implementation.info","time":"2012-10-01T17:18:40Z"}';
const VECTOR_SIGNATURE =
  '826b61e7939505b2e773ef43a2aad53ec0385dd9d783fbd1c8fea00d0e2a3e2fb0ae0a5b2eb342356b61c41b5f19baec4c1f7e7e37a5b486fe9b593942017ff9';
const API_TOKEN = 'rest-token-for-the-simulator-test';
const WEBHOOK_SECRET = 'webhook-secret-42';
const VERIFY_TOKEN = 'cognigy123';
const SOURCE_ID = 'src-1';

const hmac = (body: string | Buffer): string => createHmac('sha512', REALTIME_TOKEN).update(body).digest('hex');

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function request(method: string, url: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: { connection: 'close', ...(payload ? { 'content-length': String(payload.length) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface SourceCall {
  signature: string | undefined;
  rawBody: string;
  action: string;
  params?: Record<string, unknown>;
}
interface CannedAnswer {
  status: number;
  body: string;
  sign: boolean;
}

/** A minimal Source SDK implementation + webhook receiver, written from the protocol notes. */
class TinySource {
  readonly calls: SourceCall[] = [];
  readonly createAnswers: CannedAnswer[] = [];
  signImplementationInfo = true;
  info: unknown = {
    objects: { messages: ['create', 'show', 'list'], threads: ['show', 'list'], users: ['create'], typing: ['start', 'stop'] },
    options: ['view.messaging', 'messages.text', 'messaging.typing_indicator', 'messaging.queuing_update', 'messages.attachments'],
  };
  readonly webhookPosts: Array<{ headers: http.IncomingHttpHeaders; payload: WebhookPayload }> = [];
  readonly webhookStatuses: number[] = [];
  readonly handshakes: Array<{ query: URLSearchParams; headers: http.IncomingHttpHeaders }> = [];
  handshakeSuffix = '';
  private server: http.Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private answer(res: http.ServerResponse, answer: CannedAnswer): void {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (answer.sign) headers['x-smccsdk-signature'] = hmac(answer.body);
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): void {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname === '/webhook') {
      if (req.method === 'GET') {
        this.handshakes.push({ query: url.searchParams, headers: req.headers });
        const ok = url.searchParams.get('hub.mode') === 'subscribe' && url.searchParams.get('hub.verify_token') === VERIFY_TOKEN;
        res.writeHead(ok ? 200 : 403, { 'content-type': 'text/plain' });
        res.end(ok ? `${url.searchParams.get('hub.challenge') ?? ''}${this.handshakeSuffix}` : 'bad token');
        return;
      }
      this.webhookPosts.push({ headers: req.headers, payload: JSON.parse(raw.toString('utf8')) as WebhookPayload });
      res.writeHead(this.webhookStatuses.shift() ?? 200);
      res.end();
      return;
    }
    // Base URI: verify Engage's signature over the raw bytes, independently of the relay helper.
    const signature = req.headers['x-smccsdk-signature'];
    const json = JSON.parse(raw.toString('utf8')) as { action: string; params?: Record<string, unknown> };
    this.calls.push({ signature: typeof signature === 'string' ? signature : undefined, rawBody: raw.toString('utf8'), ...json });
    if (signature !== hmac(raw)) {
      res.writeHead(422);
      res.end('Invalid signature');
      return;
    }
    if (json.action === 'implementation.info') {
      this.answer(res, { status: 200, body: JSON.stringify(this.info), sign: this.signImplementationInfo });
      return;
    }
    if (json.action === 'messages.create') {
      const canned = this.createAnswers.shift();
      this.answer(res, canned ?? { status: 200, body: JSON.stringify({ id: `relay-${String(json.params?.['content_id'])}` }), sign: true });
      return;
    }
    this.answer(res, { status: 200, body: '{}', sign: true });
  }

  createCalls(): SourceCall[] {
    return this.calls.filter((call) => call.action === 'messages.create');
  }
}

const baseOptions = (baseUri: string): EngageSimulatorOptions => ({
  sourceId: SOURCE_ID,
  realtimeAccessToken: REALTIME_TOKEN,
  apiAccessToken: API_TOKEN,
  baseUri,
  // Long enough that "not imported yet" holds between two requests on a busy 2-core machine.
  importDelayMs: 400,
  categorizeDurationMs: 300,
  closeDurationMs: 100,
  agentReplyRetryDelayMs: 5,
  webhookRetryDelaysMs: [50, 100],
  webhookBatchWindowMs: 30,
});

const author = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  screenname: `User ${id}`,
  created_at: '2024-05-13T01:20:00Z',
  ...extra,
});
const botAuthor = { id: 'bot-1', screenname: 'Bot', puppetizable: true, created_at: '2020-01-01T00:00:00Z' };

describe('Engage Digital simulator', () => {
  const source = new TinySource();
  let sim: EngageSimulator;
  const simsToStop: EngageSimulator[] = [];

  const send = (body: string | Buffer, options: { signature?: string | null; query?: string; sourceId?: string } = {}) => {
    const signature = options.signature === undefined ? hmac(body) : options.signature;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signature !== null) headers['x-smccsdk-signature'] = signature;
    const path = `${sim.url}/realtime/sdk/${options.sourceId ?? SOURCE_ID}${options.query ?? ''}`;
    return request('POST', path, body, headers);
  };
  const sendAction = (action: string, params: unknown) => send(JSON.stringify({ action, params }));
  const rest = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    request(method, `${sim.baseApiUrl}${path}`, body, { authorization: `Bearer ${API_TOKEN}`, ...headers });
  const restJson = async <T>(method: string, path: string, body?: string, headers?: Record<string, string>) => {
    const response = await rest(method, path, body, headers);
    return { status: response.status, headers: response.headers, body: JSON.parse(response.text) as T };
  };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  /** A customer thread imported and moved into the Agent category, with the bot identity present. */
  async function threadInAgentFolder(threadId: string): Promise<string> {
    expect((await sendAction('users.create', botAuthor)).text).toBe('ok');
    expect(
      (
        await sendAction('messages.create', {
          id: `${threadId}-m1`,
          thread_id: threadId,
          body: 'I need a human',
          author: author(`${threadId}-customer`),
        })
      ).text,
    ).toBe('ok');
    await waitUntil('import', () => sim.thread(threadId)?.imported === true, { timeoutMs: 2_000, intervalMs: 5 });
    const engageId = sim.thread(threadId)?.id ?? '';
    const moved = await rest(
      'PUT',
      `/content_threads/${engageId}/update_categories`,
      `thread_category_ids[]=${sim.categories.agentId}`,
      form,
    );
    expect(moved.status).toBe(200);
    return engageId;
  }

  beforeAll(async () => {
    await source.start();
    sim = new EngageSimulator(baseOptions(`${source.url}/handover/rce`));
    simsToStop.push(sim);
    await sim.start();
    await sim.saveSource();
  });

  afterAll(async () => {
    for (const instance of simsToStop) await instance.stop();
    await source.stop();
  });

  describe('calls to the source Base URI', () => {
    it('signs implementation.info exactly as the documented test vector', async () => {
      const fixed = new EngageSimulator({ ...baseOptions(`${source.url}/handover/rce`), clock: () => new Date('2012-10-01T17:18:40Z') });
      simsToStop.push(fixed);
      await fixed.start();
      const before = source.calls.length;
      const capabilities = await fixed.saveSource();
      const call = source.calls[before];
      expect(call?.rawBody).toBe(VECTOR_BODY);
      expect(call?.signature).toBe(VECTOR_SIGNATURE);
      expect(call?.params).toBeUndefined();
      expect(capabilities.objects['messages']).toEqual(['create', 'show', 'list']);
      expect(fixed.sourceCalls[0]).toMatchObject({
        requestBody: VECTOR_BODY,
        requestSignature: VECTOR_SIGNATURE,
        status: 200,
        responseSignatureValid: true,
      });
    });

    it('refuses to save a source whose implementation.info answer is unsigned', async () => {
      const other = new EngageSimulator(baseOptions(`${source.url}/handover/rce`));
      simsToStop.push(other);
      await other.start();
      source.signImplementationInfo = false;
      try {
        await expect(other.saveSource()).rejects.toThrow(/signature/i);
      } finally {
        source.signImplementationInfo = true;
      }
      expect(other.capabilities).toBeNull();
    });
  });

  describe('Send API', () => {
    it('answers 422 Invalid action to every action before the source is saved', async () => {
      const unsaved = new EngageSimulator(baseOptions(`${source.url}/handover/rce`));
      simsToStop.push(unsaved);
      await unsaved.start();
      const body = JSON.stringify({ action: 'messages.create', params: { id: 'x', thread_id: 't', body: 'hi', author: author('u') } });
      const response = await request('POST', unsaved.realtimeEndpointUrl, body, { 'x-smccsdk-signature': hmac(body) });
      expect(response).toMatchObject({ status: 422, text: 'Invalid action' });
    });

    it('checks source, signature (header or ?signature=), size and format with the documented plain-text errors', async () => {
      const body = JSON.stringify({
        action: 'messages.create',
        params: { id: 'sig-1', thread_id: 'sig', body: 'hi', author: author('u-sig') },
      });
      expect(await send(body, { sourceId: 'unknown-source' })).toMatchObject({ status: 422, text: 'Source not found' });
      expect(await send(body, { signature: hmac(`${body} `) })).toMatchObject({ status: 422, text: 'Invalid signature' });
      expect(await send(body, { signature: null })).toMatchObject({ status: 422, text: 'Invalid signature' });
      expect(await send(body, { signature: null, query: `?signature=${hmac(body)}` })).toMatchObject({ status: 200, text: 'ok' });

      const huge = Buffer.alloc(MAX_SEND_API_BYTES + 1, 0x20);
      expect(await send(huge)).toMatchObject({ status: 413, text: 'Invalid request size (max: 20971520 bytes)' });
      expect(await send('{"action":')).toMatchObject({ status: 400, text: 'Bad request' });
      expect(await send(JSON.stringify({ action: 'messages.create' }))).toMatchObject({ status: 400, text: 'Invalid request format' });
      expect(await send(JSON.stringify({ params: {} }))).toMatchObject({ status: 400, text: 'Invalid request format' });
    });

    it('answers 422 Invalid action for actions the source did not declare, and 422 Invalid resource format for wrong types', async () => {
      expect(
        await sendAction('private_messages.create', { id: 'pm', body: 'x', author: author('u'), recipient: author('v') }),
      ).toMatchObject({ status: 422, text: 'Invalid action' });
      expect(await sendAction('status.mark_as_read', { id: 'x' })).toMatchObject({ status: 422, text: 'Invalid action' });
      expect(await sendAction('messages.delete', { id: 'x' })).toMatchObject({ status: 422, text: 'Invalid action' });
      expect(await sendAction('messages.create', { id: 42, thread_id: 't', body: 'hi', author: author('u') })).toMatchObject({
        status: 422,
        text: 'Invalid resource format',
      });
      expect(await sendAction('messages.create', ['not', 'an', 'object'])).toMatchObject({ status: 422, text: 'Invalid resource format' });
    });

    it('answers ok but silently drops a message whose author lacks created_at, and records why', async () => {
      const response = await sendAction('messages.create', {
        id: 'drop-1',
        thread_id: 'drop',
        body: 'hi',
        author: { id: 'u-drop', screenname: 'No Date' },
      });
      expect(response).toMatchObject({ status: 200, text: 'ok' });
      expect(sim.thread('drop')).toBeUndefined();
      expect(sim.droppedItems).toContainEqual(
        expect.objectContaining({
          action: 'messages.create',
          itemId: 'drop-1',
          scope: 'item',
          reason: expect.stringContaining('author.created_at'),
        }),
      );
      expect(sim.users().some((user) => user.foreign_id === 'u-drop')).toBe(false);
    });

    it('drops context_data keys outside [a-zA-Z-] and ignores non-User author keys, keeping the message', async () => {
      const response = await sendAction('messages.create', {
        id: 'ctx-1',
        thread_id: 'ctx',
        body: 'hello',
        context_data: { intent: 'billing', order_id: '7', 'cart-size': ['a', 'b'] },
        author: author('u-ctx', { company: 'ACME', gender: 'other', context_data: { tier: 'gold', tier2: 'x' } }),
      });
      expect(response.text).toBe('ok');
      const message = sim.thread('ctx')?.messages[0];
      expect(message?.context_data).toEqual({ intent: 'billing', 'cart-size': ['a', 'b'] });
      expect(message?.author.context_data).toEqual({ tier: 'gold' });
      expect(message?.author.gender).toBeNull();
      const fields = sim.droppedItems.filter((item) => item.itemId === 'ctx-1').map((item) => item.field);
      expect(fields).toEqual(
        expect.arrayContaining(['context_data.order_id', 'author.company', 'author.gender', 'author.context_data.tier2']),
      );
    });

    it('treats the same message id twice as one message', async () => {
      const params = { id: 'dup-1', thread_id: 'dup', body: 'once', author: author('u-dup') };
      expect((await sendAction('messages.create', params)).text).toBe('ok');
      expect((await sendAction('messages.create', { ...params, body: 'twice' })).text).toBe('ok');
      expect(sim.thread('dup')?.messages.map((message) => message.body)).toEqual(['once']);
      expect(sim.sendApiLog.filter((entry) => (entry.params as { id?: string }).id === 'dup-1').map((entry) => entry.duplicate)).toEqual([
        false,
        true,
      ]);
    });

    it('limits typing.start to one per thread every 2 s; typing.stop resets it', async () => {
      const start = { thread_id: 'typing', preview: 'Hel' };
      expect((await sendAction('typing.start', start)).status).toBe(200);
      expect(await sendAction('typing.start', start)).toMatchObject({
        status: 429,
        text: 'too many typing requests, please try again in a few seconds',
      });
      expect((await sendAction('typing.stop', { thread_id: 'typing' })).status).toBe(200);
      expect((await sendAction('typing.start', start)).status).toBe(200);
      expect(await sendAction('typing.start', { thread_id: 'typing' })).toMatchObject({ status: 422, text: 'Invalid resource format' });
    });

    it('imports a new thread asynchronously: not found right after ok, found after the import delay', async () => {
      expect((await sendAction('messages.create', { id: 'imp-1', thread_id: 'imp', body: 'hi', author: author('u-imp') })).text).toBe('ok');
      const search = `/content_threads?q=${encodeURIComponent(`foreign:imp source:${SOURCE_ID}`)}`;
      const before = await restJson<{ count: number; records: unknown[] }>('GET', search);
      expect(before.body).toMatchObject({ count: 0, offset: 0, limit: 30, records: [] });
      await waitUntil('import', () => sim.thread('imp')?.imported === true, { timeoutMs: 2_000, intervalMs: 5 });
      const after = await restJson<{
        count: number;
        records: Array<{ id: string; foreign_id: string; category_ids: string[]; source_id: string }>;
      }>('GET', search);
      expect(after.body.count).toBe(1);
      expect(after.body.records[0]).toMatchObject({ foreign_id: 'imp', source_id: SOURCE_ID, category_ids: [sim.categories.botId] });
      expect((after.body.records[0]?.id ?? '').length).toBe(24);
      const shown = await restJson<{ foreign_id: string; closed: boolean }>('GET', `/content_threads/${after.body.records[0]?.id ?? ''}`);
      expect(shown.body).toMatchObject({ foreign_id: 'imp', closed: false });
    });
  });

  describe('REST API', () => {
    it('answers 401 without a valid token and 404 for unknown objects, in the {error, message, status} shape', async () => {
      const anonymous = await request('GET', `${sim.baseApiUrl}/users/me`);
      expect(anonymous.status).toBe(401);
      expect(JSON.parse(anonymous.text)).toEqual({ error: 'invalid_access_token', message: expect.any(String), status: 401 });
      const wrong = await request('GET', `${sim.baseApiUrl}/users/me`, undefined, { authorization: 'Bearer nope' });
      expect(wrong.status).toBe(401);
      const missing = await restJson<unknown>('GET', '/categories/000000000000000000000000');
      expect(missing).toMatchObject({ status: 404, body: { error: 'not_found', message: expect.any(String), status: 404 } });
    });

    it('serves the token user and the Cognigy > Bot / Agent categories (token as access_token param too)', async () => {
      const me = await request('GET', `${sim.baseApiUrl}/users/me?access_token=${API_TOKEN}`);
      expect(JSON.parse(me.text)).toMatchObject({
        id: sim.botUserId,
        enabled: true,
        firstname: expect.any(String),
        category_ids: expect.any(Array),
      });
      const children = await restJson<{ count: number; records: Array<{ name: string; parent_id: string }> }>(
        'GET',
        `/categories?parent_id=${sim.categories.parentId}`,
      );
      expect(children.body.records.map((category) => category.name).sort()).toEqual(['Agent', 'Bot']);
      const agent = await restJson<Record<string, unknown>>('GET', `/categories/${sim.categories.agentId}`);
      expect(Object.keys(agent.body).sort()).toEqual([
        'id',
        'mandatory',
        'multiple',
        'name',
        'parent_id',
        'post_qualification',
        'source_ids',
        'unselectable',
      ]);
    });

    it('answers 409 to a second update_categories while the first categorization runs, 422 for unknown categories', async () => {
      expect((await sendAction('messages.create', { id: 'cat-1', thread_id: 'cat', body: 'hi', author: author('u-cat') })).text).toBe('ok');
      await waitUntil('import', () => sim.thread('cat')?.imported === true, { timeoutMs: 2_000, intervalMs: 5 });
      const id = sim.thread('cat')?.id ?? '';
      const body = `thread_category_ids[]=${sim.categories.agentId}`;
      const [first, second] = await Promise.all([
        rest('PUT', `/content_threads/${id}/update_categories`, body, form),
        rest('PUT', `/content_threads/${id}/update_categories`, body, form),
      ]);
      expect([first.status, second.status].sort()).toEqual([200, 409]);
      const conflict = first.status === 409 ? first : second;
      expect(JSON.parse(conflict.text)).toMatchObject({ error: 'conflict', status: 409 });
      expect(sim.thread('cat')?.categoryIds).toEqual([sim.categories.agentId]);
      expect(sim.agentFolder().map((thread) => thread.foreign_id)).toContain('cat');

      await sleep(350);
      const unknown = await rest('PUT', `/content_threads/${id}/update_categories`, JSON.stringify({ thread_category_ids: ['nope'] }), {
        'content-type': 'application/json',
      });
      expect(unknown.status).toBe(422);
      const back = await rest('PUT', `/content_threads/${id}/update_categories`, `thread_category_ids[]=${sim.categories.botId}`, form);
      expect(back.status).toBe(200);
      expect(sim.agentFolder().map((thread) => thread.foreign_id)).not.toContain('cat');
    });

    it('rate-limits per token with 429 rate_limit_exceeded and Retry-After', async () => {
      const limited = new EngageSimulator({ ...baseOptions(source.url), restRateLimitPerMinute: 2 });
      simsToStop.push(limited);
      await limited.start();
      const get = () => request('GET', `${limited.baseApiUrl}/users/me`, undefined, { authorization: `Bearer ${API_TOKEN}` });
      expect((await get()).status).toBe(200);
      expect((await get()).status).toBe(200);
      const third = await get();
      expect(third.status).toBe(429);
      expect(JSON.parse(third.text)).toMatchObject({ error: 'rate_limit_exceeded', status: 429 });
      expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('injects faults on the next matching requests', async () => {
      sim.failNext({ api: 'rest', status: 503, count: 1, pathIncludes: 'users/me', retryAfterSeconds: 7 });
      const failed = await rest('GET', '/users/me');
      expect(failed.status).toBe(503);
      expect(failed.headers['retry-after']).toBe('7');
      expect(JSON.parse(failed.text)).toMatchObject({ status: 503, error: expect.any(String), message: expect.any(String) });
      expect((await rest('GET', '/users/me')).status).toBe(200);
    });
  });

  describe('webhooks', () => {
    it('is enabled only when the handshake answers 200 with exactly the challenge', async () => {
      const ok = await sim.registerWebhook({
        url: `${source.url}/webhook`,
        secret: WEBHOOK_SECRET,
        verifyToken: VERIFY_TOKEN,
        events: ['intervention.closed'],
        sourceIds: ['another-source'],
      });
      expect(ok.enabled).toBe(true);
      const handshake = source.handshakes.at(-1);
      expect(handshake?.query.get('hub.mode')).toBe('subscribe');
      expect(handshake?.query.get('hub.verify_token')).toBe(VERIFY_TOKEN);
      expect(handshake?.headers['x-dimelo-secret']).toBe(WEBHOOK_SECRET);

      const wrongToken = await sim.registerWebhook({ url: `${source.url}/webhook`, verifyToken: 'other', events: ['intervention.closed'] });
      expect(wrongToken).toMatchObject({ enabled: false, reason: expect.stringContaining('403') });
      source.handshakeSuffix = '\n';
      try {
        const sloppy = await sim.registerWebhook({
          url: `${source.url}/webhook`,
          verifyToken: VERIFY_TOKEN,
          events: ['intervention.closed'],
        });
        expect(sloppy.enabled).toBe(false);
      } finally {
        source.handshakeSuffix = '';
      }
    });

    it('batches events of one moment into one POST with X-Dimelo-Secret and retries the same event ids after a 500', async () => {
      const registered = await sim.registerWebhook({
        url: `${source.url}/webhook?hook=batch`,
        secret: WEBHOOK_SECRET,
        verifyToken: VERIFY_TOKEN,
        events: ['task.taken', 'intervention.opened', 'intervention.closed'],
        sourceIds: [SOURCE_ID],
      });
      expect(registered.enabled).toBe(true);
      const engageThreadId = await threadInAgentFolder('hook');
      await sim.flush();
      const postsBefore = source.webhookPosts.length;
      source.webhookStatuses.push(500);
      sim.takeTask('hook');
      await sim.flush();

      const posts = source.webhookPosts.slice(postsBefore);
      expect(posts).toHaveLength(2);
      const [failed, retried] = posts;
      expect(failed?.headers['x-dimelo-secret']).toBe(WEBHOOK_SECRET);
      expect(failed?.headers['content-type']).toMatch(/application\/json/);
      expect(failed?.payload.events.map((event) => event.type)).toEqual(['task.taken', 'intervention.opened']);
      expect(retried?.payload.events.map((event) => event.id)).toEqual(failed?.payload.events.map((event) => event.id));
      const opened = failed?.payload.events[1];
      expect(opened).toMatchObject({
        user_id: expect.any(String),
        issued_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        resource: {
          type: 'intervention',
          metadata: { source_id: SOURCE_ID, thread_id: engageThreadId, closed_at: null, deferred_at: null, custom_field_values: {} },
        },
      });
      expect(sim.deliveryLog.slice(-2).map((entry) => [entry.status, entry.ok])).toEqual([
        [500, false],
        [200, true],
      ]);
      // The webhook filtered on another source received nothing.
      expect(
        source.webhookPosts.some((post) => post.payload.events.some((event) => event.resource.metadata['source_id'] !== SOURCE_ID)),
      ).toBe(false);
    });

    it('can deliver a batch twice (at-least-once) with identical event ids', async () => {
      await threadInAgentFolder('twice');
      await sim.flush();
      const before = source.webhookPosts.length;
      sim.duplicateNextDelivery();
      sim.openIntervention('twice');
      await sim.flush();
      const posts = source.webhookPosts
        .slice(before)
        .filter((post) => post.payload.events.some((event) => event.type === 'intervention.opened'));
      expect(posts).toHaveLength(2);
      expect(posts[0]?.payload.events.map((event) => event.id)).toEqual(posts[1]?.payload.events.map((event) => event.id));
    });

    it('can shuffle the events of a batch, and emits change events for live pages', async () => {
      await threadInAgentFolder('shuffle');
      await sim.flush();
      const changes: unknown[] = [];
      const onChange = (change: unknown) => changes.push(change);
      sim.events.on('change', onChange);
      const before = source.webhookPosts.length;
      sim.shuffleNextBatch();
      sim.takeTask('shuffle');
      await sim.flush();
      sim.events.off('change', onChange);
      const batch = source.webhookPosts.slice(before).find((post) => post.payload.events.length === 2);
      expect(batch?.payload.events.map((event) => event.type)).toEqual(['intervention.opened', 'task.taken']);
      expect(changes).toEqual(
        expect.arrayContaining([
          { kind: 'task', id: expect.any(String) },
          { kind: 'intervention', id: expect.any(String) },
        ]),
      );
    });
  });

  describe('agent replies and agent actions', () => {
    it('sends messages.create with the documented params and opens the intervention', async () => {
      await threadInAgentFolder('reply');
      const result = await sim.agentReply({ threadId: 'reply', body: 'Hello, I am Anna.', agentName: 'Anna' });
      expect(result).toMatchObject({ outcome: 'delivered', attempts: 1, relayMessageId: `relay-${result.contentId}` });
      const params = source.createCalls().at(-1)?.params;
      expect(params).toEqual({
        author_id: 'bot-1',
        body: 'Hello, I am Anna.',
        content_id: result.contentId,
        created_at: expect.stringMatching(/Z$/),
        updated_at: expect.stringMatching(/Z$/),
        format: 'text',
        in_reply_to_id: 'reply-m1',
        sender_name: 'Anna',
        thread_id: 'reply',
        title: null,
      });
      expect(result.contentId).toMatch(/^[0-9a-f]{24}$/);
      const intervention = sim.interventions().find((item) => item.id === result.interventionId);
      expect(intervention).toMatchObject({ status: 'opened', agentReplyCount: 1 });
      expect(sim.thread('reply')?.messages.at(-1)).toMatchObject({
        side: 'agent',
        foreign_id: result.relayMessageId,
        synchronization_status: 'success',
      });
    });

    it('retries with retry:true and the same content_id after a 500, then stops', async () => {
      await threadInAgentFolder('retry');
      const before = source.createCalls().length;
      source.createAnswers.push({ status: 500, body: 'boom', sign: false });
      const result = await sim.agentReply({ threadId: 'retry', body: 'second try works' });
      await sleep(30);
      const calls = source.createCalls().slice(before);
      expect(result).toMatchObject({ outcome: 'delivered', attempts: 2 });
      expect(calls).toHaveLength(2);
      expect(calls[0]?.params).not.toHaveProperty('retry');
      expect(calls[1]?.params).toMatchObject({ retry: true, content_id: result.contentId });
      expect(calls[0]?.params?.['content_id']).toBe(result.contentId);
    });

    it('stops at once on fatal:true and keeps retrying on fatal:false', async () => {
      await threadInAgentFolder('fatal');
      const before = source.createCalls().length;
      source.createAnswers.push(
        { status: 200, body: JSON.stringify({ error: { fatal: false, message: 'Unable to save message.' } }), sign: true },
        { status: 200, body: JSON.stringify({ error: { fatal: true, message: 'Session gone' } }), sign: true },
      );
      const result = await sim.agentReply({ threadId: 'fatal', body: 'nobody home' });
      await sleep(30);
      expect(result).toMatchObject({ outcome: 'fatal', attempts: 2, lastError: 'Session gone' });
      expect(source.createCalls().length - before).toBe(2);
      expect(sim.thread('fatal')?.messages.at(-1)?.synchronization_status).toBe('failed');
    });

    it('counts an unsigned (or wrongly signed) answer as a failure and gives up after the retries', async () => {
      await threadInAgentFolder('unsigned');
      const before = source.createCalls().length;
      const unsigned = { status: 200, body: JSON.stringify({ id: 'looks-fine' }), sign: false };
      source.createAnswers.push(unsigned, unsigned, unsigned, unsigned);
      const result = await sim.agentReply({ threadId: 'unsigned', body: 'are you there?' });
      expect(result).toMatchObject({ outcome: 'failed', attempts: 4, lastError: expect.stringMatching(/signature/i) });
      expect(result.relayMessageId).toBeUndefined();
      const calls = source.createCalls().slice(before);
      expect(new Set(calls.map((call) => call.params?.['content_id']))).toEqual(new Set([result.contentId]));
      expect(calls.map((call) => call.params?.['retry'] ?? false)).toEqual([false, true, true, true]);
    });

    it('re-sends an existing reply on demand (forceRetry) with the same content_id', async () => {
      const first = await sim.agentReply({ threadId: 'reply', body: 'dedupe me', forceRetry: true });
      expect(first.relayMessageIds).toEqual([`relay-${first.contentId}`, `relay-${first.contentId}`]);
      const again = await sim.agentReply({ threadId: 'reply', body: 'ignored', contentId: first.contentId });
      expect(again).toMatchObject({ contentId: first.contentId, outcome: 'delivered', attempts: 1 });
      expect(source.createCalls().at(-1)?.params).toMatchObject({ retry: true, content_id: first.contentId, body: 'dedupe me' });
      expect(sim.thread('reply')?.messages.filter((message) => message.body === 'dedupe me')).toHaveLength(1);
    });

    it('refuses to reply on a thread agents cannot see', async () => {
      await expect(sim.agentReply({ threadId: 'imp', body: 'x' })).rejects.toThrow(/Agent category/);
    });

    it('sends messaging.queuing_update with the documented params', async () => {
      const result = await sim.queuingUpdate({ threadId: 'reply', position: 2, estimatedWaitTimeSeconds: 90 });
      expect(result.delivered).toBe(true);
      const call = source.calls.at(-1);
      expect(call?.action).toBe('messaging.queuing_update');
      expect(call?.params).toEqual({ estimated_wait_time: 90, position: 2, thread_id: 'reply', in_reply_to_id: 'reply-m1' });
      expect(sim.thread('reply')?.queue).toMatchObject({ position: 2, estimatedWaitTimeSeconds: 90, delivered: true });
    });

    it('closes an intervention over REST: 403 without agent replies, 409 while closing, intervention.closed delivered', async () => {
      const engageId = await threadInAgentFolder('close');
      const opened = sim.openIntervention('close');
      const noReply = await restJson<{ error: string }>('PUT', `/interventions/${opened.id}/close`);
      expect(noReply).toMatchObject({ status: 403, body: { error: 'forbidden', status: 403 } });
      await sim.agentReply({ threadId: 'close', body: 'Done, bye.' });
      const [a, b] = await Promise.all([
        restJson<{ closed: boolean }>('PUT', `/interventions/${opened.id}/close`),
        restJson<{ closed: boolean }>('PUT', `/interventions/${opened.id}/close`),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      expect((a.status === 200 ? a : b).body.closed).toBe(true);
      const listed = await restJson<{ count: number; records: Array<{ status: string }> }>(
        'GET',
        `/interventions?thread_id=${engageId}&status=closed`,
      );
      expect(listed.body.records.map((record) => record.status)).toEqual(['closed']);
      await sim.flush();
      const closedEvent = source.webhookPosts
        .flatMap((post) => post.payload.events)
        .find((event) => event.type === 'intervention.closed' && event.resource.id === opened.id);
      expect(closedEvent).toMatchObject({
        user_id: sim.botUserId,
        resource: { metadata: { thread_id: engageId, closed_at: expect.any(String) } },
      });
      const again = await restJson<{ error: string }>('PUT', `/interventions/${opened.id}/close`);
      expect(again.status).toBe(403);
    });
  });

  describe('documented variations (engage-digital-api-docs)', () => {
    const RULE_CATEGORY = '5f1c00000000000000000e01';
    let variant: EngageSimulator;
    const variantSend = (action: string, params: unknown) => {
      const body = JSON.stringify({ action, params });
      return request('POST', `${variant.url}/realtime/sdk/${SOURCE_ID}`, body, {
        'content-type': 'application/json',
        'x-smccsdk-signature': hmac(body),
      });
    };
    const variantRest = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
      request(method, `${variant.baseApiUrl}${path}`, body, { authorization: `Bearer ${API_TOKEN}`, ...headers });

    beforeAll(async () => {
      variant = new EngageSimulator({
        ...baseOptions(`${source.url}/handover/rce`),
        importDelayMs: 30,
        categorizeDurationMs: 10,
        agentRepliesWithoutContentId: true,
        numericWebhookResourceIds: true,
        ruleCategoryIds: [RULE_CATEGORY],
      });
      simsToStop.push(variant);
      await variant.start();
      await variant.saveSource();
    });

    it('serves REST only under /1.0 (requests.md: all API paths are prefixed by /1.0)', async () => {
      const bare = await request('GET', `${variant.url}/users/me`, undefined, { authorization: `Bearer ${API_TOKEN}` });
      expect(bare.status).toBe(404);
      const versioned = await request('GET', `${variant.url}/1.0/users/me`, undefined, { authorization: `Bearer ${API_TOKEN}` });
      expect(versioned.status).toBe(200);
    });

    it('adds rule categories at import, and update_categories replaces the whole set', async () => {
      expect((await variantSend('messages.create', { id: 'rule-1', thread_id: 'rule', body: 'hi', author: author('u-rule') })).text).toBe(
        'ok',
      );
      await waitUntil('import', () => variant.thread('rule')?.imported === true, { timeoutMs: 2_000, intervalMs: 5 });
      expect(variant.thread('rule')?.categoryIds).toEqual([variant.categories.botId, RULE_CATEGORY]);
      const id = variant.thread('rule')?.id ?? '';
      const shown = JSON.parse((await variantRest('GET', `/content_threads/${id}`)).text) as { thread_category_ids: string[] };
      expect(shown.thread_category_ids).toEqual([variant.categories.botId, RULE_CATEGORY]);
      const replaced = await variantRest(
        'PUT',
        `/content_threads/${id}/update_categories`,
        `thread_category_ids[]=${variant.categories.agentId}`,
        form,
      );
      expect(replaced.status).toBe(200);
      expect(variant.thread('rule')?.categoryIds).toEqual([variant.categories.agentId]);
    });

    it('sends agent replies without content_id (quick-start.md sample) and integer webhook resource ids (events.md)', async () => {
      const hook = await variant.registerWebhook({
        url: `${source.url}/webhook?hook=variant`,
        secret: WEBHOOK_SECRET,
        verifyToken: VERIFY_TOKEN,
        events: ['intervention.opened'],
        sourceIds: [SOURCE_ID],
      });
      expect(hook.enabled).toBe(true);
      expect((await variantSend('users.create', botAuthor)).text).toBe('ok');
      const before = source.createCalls().length;
      const postsBefore = source.webhookPosts.length;
      await variant.agentReply({ threadId: 'rule', body: 'No id for me.' });
      const params = source.createCalls().slice(before).at(-1)?.params;
      expect(params).toMatchObject({ body: 'No id for me.', thread_id: 'rule', author_id: 'bot-1' });
      expect(params).not.toHaveProperty('content_id');
      await variant.flush();
      const opened = source.webhookPosts
        .slice(postsBefore)
        .flatMap((post) => post.payload.events)
        .find((event) => event.type === 'intervention.opened');
      expect(typeof opened?.resource.id).toBe('number');
    });
  });
});
