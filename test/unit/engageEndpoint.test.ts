import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { SourceSdkHandler } from '../../relay/src/engage/sourceSdkHandler';
import type { WebhookHandler } from '../../relay/src/engage/webhookHandler';
import { AddressRateLimit } from '../../relay/src/http/addressRateLimit';
import { BytesInFlight } from '../../relay/src/http/bytesInFlight';
import { clientAddressResolver } from '../../relay/src/http/clientAddress';
import { createEngageEndpoint, matchEngagePost } from '../../relay/src/http/engageEndpoint';
import type { PlainResponse } from '../../relay/src/http/plainResponse';
import { createRequestLog } from '../../relay/src/http/requestLog';
import { helmetHeaders } from '../../relay/src/http/securityHeaders';
import { rawRequest } from '../helpers/rawHttp';

/**
 * The Engage endpoint on its own, around a handler stub: how an answer is written (helmet's
 * headers, the limit headers, the handler's own, a Content-Length that counts bytes) and what a
 * handler that fails becomes (503 + Retry-After, logged, never an unanswered request).
 */

type Handle = SourceSdkHandler['handle'];

async function endpointWith(handle: Handle) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const endpoint = createEngageEndpoint({
    sourceSdk: { handle } as unknown as SourceSdkHandler,
    webhooks: {} as WebhookHandler,
    logger,
    requestLog: createRequestLog(logger),
    maxBodyBytes: 100_000,
    addressLimit: new AddressRateLimit(1000),
    bytesInFlight: new BytesInFlight(1_000_000, 10_000_000),
    clientAddress: clientAddressResolver({ kind: 'none' }),
    sourceIds: ['src-1'],
    securityHeaders: helmetHeaders(),
  });
  const server = http.createServer((req, res) => {
    const route = matchEngagePost(req);
    if (route) endpoint(req, res, route);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/handover/rce`;
  const post = () =>
    rawRequest(url, {
      body: '{"action":"messages.create"}',
      headers: { 'Content-Type': 'application/json', 'X-SMCCSDK-SIGNATURE': 'ab'.repeat(64) },
    });
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { post, close, lines };
}

const helmetNames = helmetHeaders().map(([name]) => name.toLowerCase());

describe('Engage endpoint answers', () => {
  it("writes the handler's answer with helmet's, the limit's and its own headers, and the length in bytes", async () => {
    const answer: PlainResponse = {
      status: 200,
      contentType: 'application/json',
      body: '{"id":"agent-é✓"}',
      headers: { 'X-SMCCSDK-SIGNATURE': 'cd'.repeat(64) },
    };
    const { post, close } = await endpointWith(() => Promise.resolve(answer));
    try {
      const r = await post();
      expect(r.status).toBe(200);
      expect(r.body).toBe(answer.body);
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(r.headers['x-smccsdk-signature']).toBe('cd'.repeat(64));
      expect(r.headers['ratelimit']).toMatch(/^limit=1000, remaining=999, reset=\d+$/);
      for (const name of helmetNames) expect({ name, present: r.headers[name] !== undefined }).toEqual({ name, present: true });
      // The second answer on the same list of constant headers carries them once each.
      const again = await post();
      expect(again.headers['ratelimit']).toMatch(/remaining=998/);
      expect(again.headers['x-smccsdk-signature']).toBe('cd'.repeat(64));
    } finally {
      await close();
    }
  });

  it.each([
    ['rejects', () => Promise.reject(new Error('store unreachable'))],
    [
      'throws before it returns a promise',
      () => {
        throw new Error('store unreachable');
      },
    ],
  ] as [string, Handle][])(
    'answers 503 + Retry-After with the security headers when the handler %s, and logs it',
    async (_name, handle) => {
      const { post, close, lines } = await endpointWith(handle);
      try {
        const r = await post();
        expect(r.status).toBe(503);
        expect(r.headers['retry-after']).toBe('5');
        expect(r.body).toBe('Temporarily unavailable, retry later');
        for (const name of helmetNames) expect({ name, present: r.headers[name] !== undefined }).toEqual({ name, present: true });
        expect(lines.map((l) => l.msg)).toEqual(['request failed before it was stored', 'request failed']);
        expect(lines[0]).toMatchObject({ level: 50, err: { name: 'Error', message: 'store unreachable' } });
        expect(lines[1]).toMatchObject({ status: 503, path: '/handover/rce' });
      } finally {
        await close();
      }
    },
  );
});
