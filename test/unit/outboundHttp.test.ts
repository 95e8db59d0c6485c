import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { callCognigy } from '../../relay/src/cognigy/cognigyClient';
import type { TenantConfig } from '../../relay/src/config';
import { createOutboundHttp } from '../../relay/src/http/outboundHttp';
import { DeliveryError } from '../../relay/src/outbox/deliveryError';

/** The plain node:http POST used for Cognigy and the Send API: same classification as with axios. */
describe('outbound postText', () => {
  let server: http.Server;
  let base: string;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const tenant = (url: string) => ({ cognigyApiBaseUrl: url, cognigyApiKey: 'secret-key-123' }) as unknown as TenantConfig;

  it('sends the exact body and headers and reads status, headers and text', async () => {
    const outbound = createOutboundHttp();
    let seen: { body: string; headers: http.IncomingHttpHeaders; url?: string } | null = null;
    handler = (req, res, body) => {
      seen = { body, headers: req.headers, ...(req.url ? { url: req.url } : {}) };
      res.writeHead(201, { 'Retry-After': '3', 'Content-Type': 'text/plain' }).end('créé');
    };
    const response = await outbound.postText(`${base}/a/b?x=1`, '{"é":1}', { 'Content-Type': 'application/json', 'X-API-Key': 'k' });
    expect(response).toMatchObject({ status: 201, data: 'créé' });
    expect(response.headers['retry-after']).toBe('3');
    expect(seen).toMatchObject({ body: '{"é":1}', url: '/a/b?x=1' });
    expect(seen!.headers['content-length']).toBe(String(Buffer.byteLength('{"é":1}')));
    expect(seen!.headers['x-api-key']).toBe('k');
    outbound.close();
  });

  it('classifies HTTP failures like before (retryable 5xx/429 with Retry-After, permanent 4xx)', async () => {
    const outbound = createOutboundHttp();
    handler = (_req, res) => res.writeHead(429, { 'Retry-After': '7' }).end('slow down');
    const err = await callCognigy(outbound.postText, tenant(base), 'notify', {
      userId: 'u',
      sessionId: 's',
      URLToken: 't',
      data: {},
    } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ message: 'Cognigy notify: HTTP 429', retryable: true, retryAfterMs: 7000 });
    handler = (_req, res) => res.writeHead(403).end();
    await expect(callCognigy(outbound.postText, tenant(base), 'inject', {} as never)).rejects.toMatchObject({
      message: 'Cognigy inject: HTTP 403',
      retryable: false,
    });
    outbound.close();
  });

  it('turns transport failures into a retryable DeliveryError with a code only', async () => {
    const outbound = createOutboundHttp({ timeoutMs: 200 });
    handler = () => undefined; // never answers
    await expect(callCognigy(outbound.postText, tenant(`${base}/?token=secret-q`), 'notify', {} as never)).rejects.toMatchObject({
      message: 'Cognigy notify: network error ETIMEDOUT',
      retryable: true,
    });
    const refused = await callCognigy(outbound.postText, tenant('http://127.0.0.1:9'), 'notify', {} as never).catch(
      (e: unknown) => e as Error,
    );
    expect(refused).toMatchObject({ message: 'Cognigy notify: network error ECONNREFUSED', retryable: true });
    expect(String((refused as Error).message)).not.toContain('secret');
    outbound.close();
  });
});
