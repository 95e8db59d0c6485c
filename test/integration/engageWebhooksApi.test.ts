import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { EngageSimulator } from '../../sandbox/engage';

/**
 * The simulator's webhooks resource (GET /1.0/webhooks, GET /1.0/webhooks/{id}) against the Webhook
 * object of ringcentral/engage-digital-api-docs specs/engage-digital_openapi3.yaml, with a webhook
 * receiver written here from docs/webhooks/create.md (the verification GET).
 */

const API_TOKEN = 'rest-token-for-the-webhooks-test';
const SECRET = 'webhook-secret-never-rendered';

// The documented Webhook properties, and nothing else (the Secret is not one of them).
const webhookSchema = z.strictObject({
  id: z.string(),
  active: z.boolean(),
  url: z.string(),
  verify_token: z.string(),
  registered_events: z.array(z.string()),
  staging_use: z.boolean(),
  api_access_token: z.strictObject({ id: z.string() }),
});
const pageSchema = z.strictObject({ count: z.number(), offset: z.number(), limit: z.number(), records: z.array(webhookSchema) });

describe('Engage simulator: the webhooks REST resource', () => {
  let sim: EngageSimulator;
  let receiver: http.Server;
  let receiverUrl: string;

  beforeAll(async () => {
    // Answers the verification GET for the token "good" only.
    receiver = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      const ok = url.searchParams.get('hub.mode') === 'subscribe' && url.searchParams.get('hub.verify_token') === 'good';
      res.writeHead(ok ? 200 : 403, { 'content-type': 'text/plain' });
      res.end(ok ? (url.searchParams.get('hub.challenge') ?? '') : 'no');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    sim = new EngageSimulator({ sourceId: 'src-webhooks', realtimeAccessToken: 'realtime-token-for-webhooks', apiAccessToken: API_TOKEN });
    await sim.start();
  });
  afterAll(async () => {
    await sim?.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  const get = async (path: string, token = API_TOKEN) => {
    const response = await fetch(`${sim.url}/1.0${path}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: response.status, json: (await response.json()) as unknown };
  };

  it('lists saved webhooks as documented, active ones first, never with their Secret', async () => {
    const refused = await sim.registerWebhook({ url: `${receiverUrl}/refused`, verifyToken: 'bad', events: ['task.taken'] });
    const verified = await sim.registerWebhook({
      url: `${receiverUrl}/hook`,
      secret: SECRET,
      verifyToken: 'good',
      events: ['intervention.closed', 'intervention.opened'],
    });
    expect([refused.enabled, verified.enabled]).toEqual([false, true]);

    const list = await get('/webhooks');
    expect(list.status).toBe(200);
    const page = pageSchema.parse(list.json);
    expect(page).toMatchObject({ count: 2, offset: 0, limit: 30 });
    expect(page.records.map((w) => [w.id, w.active, w.url, w.verify_token, w.registered_events])).toEqual([
      [verified.id, true, `${receiverUrl}/hook`, 'good', ['intervention.closed', 'intervention.opened']],
      [refused.id, false, `${receiverUrl}/refused`, 'bad', ['task.taken']],
    ]);
    expect(JSON.stringify(list.json)).not.toContain(SECRET);
    expect(JSON.stringify(list.json)).not.toContain(API_TOKEN);

    expect(pageSchema.parse((await get('/webhooks?offset=1&limit=1')).json).records.map((w) => w.id)).toEqual([refused.id]);
    const one = await get(`/webhooks/${verified.id}`);
    expect(webhookSchema.parse(one.json)).toEqual(page.records[0]);
    expect((await get('/webhooks/no-such-webhook')).status).toBe(404);
    expect((await get('/webhooks', 'another-token')).status).toBe(401);
  });
});
