import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createApp, type AppDeps } from '../../relay/src/app';
import { jsonResponse } from '../../relay/src/http/plainResponse';
import { rawRequest, type RawResult } from '../helpers/rawHttp';

/**
 * POST /handover/rce[/:id] is served by a pre-router that skips Express' router. It must answer
 * exactly like the Express route: '/handover/rce/' (trailing slash) still goes through Express,
 * so each request is sent both ways and the answers (status, every header, body) compared.
 */
describe('hot Engage route = Express route', () => {
  let server: http.Server;
  let base: string;
  const seen: Array<{ path: string; rawBody: string; signature: string | undefined; sourceId: string | undefined; secret?: string }> = [];
  let fail = false;
  const logLines: unknown[] = [];

  beforeAll(async () => {
    const deps: AppDeps = {
      sourceSdk: {
        handle: async (input: { rawBody: Buffer; signature: string | undefined; sourceId?: string }) => {
          if (fail) throw new Error('store down');
          seen.push({ path: 'sdk', rawBody: input.rawBody.toString('utf8'), signature: input.signature, sourceId: input.sourceId });
          return jsonResponse(200, { id: 'x1' });
        },
      } as unknown as AppDeps['sourceSdk'],
      webhooks: {
        deliver: async (input: { rawBody: Buffer; secret: string; sourceId?: string }) => {
          seen.push({ path: 'webhook', rawBody: input.rawBody.toString('utf8'), signature: undefined, sourceId: input.sourceId, secret: input.secret });
          return jsonResponse(200, { ok: true });
        },
        verify: () => jsonResponse(200, {}),
      } as unknown as AppDeps['webhooks'],
      extensionApi: {} as AppDeps['extensionApi'],
      logger: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line)) }),
      maxBodyBytes: 1000,
      rateLimitPerMinute: 40,
      health: async () => ({ ready: true, checks: {} }),
      metrics: async () => '',
    };
    server = http.createServer(createApp(deps));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const comparable = (r: RawResult) => {
    const headers = { ...r.headers };
    delete headers.date;
    // The shared per-address counter moves between the two requests.
    if (typeof headers.ratelimit === 'string') headers.ratelimit = headers.ratelimit.replace(/remaining=\d+/, 'remaining=N').replace(/reset=\d+/, 'reset=N');
    return { status: r.status, headers, body: r.body };
  };
  const both = async (path: string, options: Parameters<typeof rawRequest>[1]) => {
    const hot = await rawRequest(`${base}${path}`, options);
    const viaExpress = await rawRequest(`${base}${path.replace(/(\?|$)/, '/$1')}`, options);
    expect(comparable(hot)).toEqual(comparable(viaExpress));
    return hot;
  };
  const json = { 'Content-Type': 'application/json' };

  it('signed Source SDK call (header and query signature, with and without source id)', async () => {
    seen.length = 0;
    const r = await both('/handover/rce', { body: '{"a":1}', headers: { ...json, 'X-SMCCSDK-SIGNATURE': 'sig' } });
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toBeDefined();
    expect(r.headers['strict-transport-security']).toBeDefined();
    expect(r.headers['ratelimit-policy']).toBeDefined();
    await both('/handover/rce/src-1.a_b~c?signature=qsig', { body: '{"b":2}', headers: json });
    expect(seen).toEqual([
      { path: 'sdk', rawBody: '{"a":1}', signature: 'sig', sourceId: undefined },
      { path: 'sdk', rawBody: '{"a":1}', signature: 'sig', sourceId: undefined },
      { path: 'sdk', rawBody: '{"b":2}', signature: 'qsig', sourceId: 'src-1.a_b~c' },
      { path: 'sdk', rawBody: '{"b":2}', signature: 'qsig', sourceId: 'src-1.a_b~c' },
    ]);
  });

  it('webhook, 415, 413, empty body, unsupported encoding, handler failure', async () => {
    seen.length = 0;
    await both('/handover/rce/s1', { body: '{"w":1}', headers: { ...json, 'X-Dimelo-Secret': 'ws' } });
    expect(seen.map((s) => s.path)).toEqual(['webhook', 'webhook']);
    expect((await both('/handover/rce', { body: '{}', headers: { 'Content-Type': 'text/plain' } })).status).toBe(415);
    expect((await both('/handover/rce', { body: '{}' })).status).toBe(415);
    expect((await both('/handover/rce', { body: 'x'.repeat(1001), headers: json })).status).toBe(413);
    expect((await both('/handover/rce', { body: '', headers: json })).status).toBe(200);
    expect((await both('/handover/rce', { method: 'POST', headers: json })).status).toBe(200);
    expect((await both('/handover/rce', { body: '{}', headers: { ...json, 'Content-Encoding': 'bogus' } })).status).toBe(415);
    fail = true;
    const r = await both('/handover/rce', { body: '{}', headers: { ...json, 'X-SMCCSDK-SIGNATURE': 's' } });
    fail = false;
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
  });

  it('logs the same line both ways', async () => {
    logLines.length = 0;
    await both('/handover/rce', { body: '{}', headers: { 'Content-Type': 'text/plain' } });
    const lines = logLines.map((l) => {
      const { time, ms, pid, hostname, ...rest } = l as Record<string, unknown>;
      void time, void ms, void pid, void hostname;
      return rest;
    });
    expect(lines).toHaveLength(2);
    expect({ ...lines[0], path: '/handover/rce/' }).toEqual(lines[1]);
  });

  it('shares the per-address limit with the Express routes and answers 429 the same way', async () => {
    let last: RawResult | null = null;
    for (let i = 0; i < 60 && (!last || last.status !== 429); i++) last = await rawRequest(`${base}/handover/rce${i % 2 ? '' : '/'}`, { body: '{}', headers: json });
    const hot = await rawRequest(`${base}/handover/rce`, { body: '{}', headers: json });
    const viaExpress = await rawRequest(`${base}/handover/rce/`, { body: '{}', headers: json });
    expect(hot.status).toBe(429);
    expect(comparable(hot)).toEqual(comparable(viaExpress));
    expect(hot.body).toBe('Too many requests');
  });
});
