import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { callCognigy } from '../../relay/src/cognigy/cognigyClient';
import type { TenantConfig } from '../../relay/src/config';
import { createOutboundHttp } from '../../relay/src/http/outboundHttp';
import { DeliveryError } from '../../relay/src/outbox/deliveryError';

/** The POST (undici) used for Cognigy and the Send API: same classification as with axios. */
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

  it("sends Host and Basic credentials from the URL, and lets the caller set Accept; Content-Length is always the body's", async () => {
    const outbound = createOutboundHttp();
    const seen: http.IncomingHttpHeaders[] = [];
    handler = (req, res) => {
      seen.push(req.headers);
      res.writeHead(200).end('ok');
    };
    const withUser = base.replace('http://', 'http://us%40er:p%3Ass@');
    await outbound.postText(`${withUser}/x`, 'abc', { 'Content-Type': 'text/plain', 'content-length': '999' });
    await outbound.postText(`${base}/x`, 'abcd', { accept: 'text/csv', 'X-One': '1' });
    // The same URL again: served from the parsed-URL cache, same headers.
    await outbound.postText(`${withUser}/x`, 'abc', { 'Content-Type': 'text/plain' });
    const host = base.replace('http://', '');
    expect(seen[0]).toMatchObject({
      host,
      authorization: `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`,
      accept: 'application/json, text/plain, */*',
      'content-type': 'text/plain',
      'content-length': '3',
    });
    expect(seen[1]).toMatchObject({ host, accept: 'text/csv', 'x-one': '1', 'content-length': '4' });
    expect(seen[1]?.authorization).toBeUndefined();
    expect(seen[2]).toEqual(seen[0]);
    outbound.close();
  });

  it('refuses URLs it cannot post to with a code only, every time', async () => {
    const outbound = createOutboundHttp();
    for (let i = 0; i < 2; i++) {
      await expect(outbound.postText('not a url?secret=1', '', {})).rejects.toMatchObject({ code: 'ERR_INVALID_URL' });
      await expect(outbound.postText('ftp://127.0.0.1/x?secret=1', '', {})).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
    }
    const err = (await outbound.postText('ftp://127.0.0.1/x?secret=1', '', {}).catch((e: unknown) => e)) as Error;
    expect(err.message).not.toContain('secret');
    // A header value that would split the request is refused before anything is sent, also with a code only.
    const split = (await outbound.postText(`${base}/x`, '{}', { 'X-Note': 'a\r\nX-Secret: s3cret' }).catch((e: unknown) => e)) as Error;
    expect(split).toMatchObject({ name: 'OutboundTransportError', code: 'UND_ERR_INVALID_ARG' });
    expect(split.message).not.toContain('s3cret');
    outbound.close();
  });

  it('cuts an answer over 5 MB with ERR_BAD_RESPONSE', async () => {
    const outbound = createOutboundHttp();
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      const chunk = Buffer.alloc(256 * 1024, 'a');
      let sent = 0;
      const more = (): void => {
        while (sent < 6 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => undefined);
      more();
    };
    await expect(outbound.postText(`${base}/big`, '{}', {})).rejects.toMatchObject({ code: 'ERR_BAD_RESPONSE' });
    // Exactly 5 MB is still an answer.
    handler = (_req, res) => res.writeHead(200).end(Buffer.alloc(5 * 1024 * 1024, 'b'));
    const ok = await outbound.postText(`${base}/edge`, '{}', {});
    expect(ok.data.length).toBe(5 * 1024 * 1024);
    outbound.close();
  });

  it('reads an answer that arrives in many pieces', async () => {
    const outbound = createOutboundHttp();
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('é'.repeat(10));
      setTimeout(() => res.end('ü'.repeat(10)), 20);
    };
    const response = await outbound.postText(`${base}/pieces`, '{}', {});
    expect(response.data).toBe(`${'é'.repeat(10)}${'ü'.repeat(10)}`);
    outbound.close();
  });

  it('times out an answer whose body stalls (ETIMEDOUT), and tells a connection lost mid-answer (ECONNRESET)', async () => {
    const outbound = createOutboundHttp({ timeoutMs: 300 });
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('partial');
    };
    await expect(outbound.postText(`${base}/stall`, '{}', {})).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    handler = (req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('partial', () => setTimeout(() => req.socket.destroy(), 20));
    };
    await expect(outbound.postText(`${base}/cut`, '{}', {})).rejects.toMatchObject({ code: 'ECONNRESET' });
    // The agent still works after both.
    handler = (_req, res) => res.writeHead(204).end();
    await expect(outbound.postText(`${base}/after`, '{}', {})).resolves.toMatchObject({ status: 204, data: '' });
    outbound.close();
  });

  it('keeps the timeout on a reused keep-alive connection', async () => {
    const outbound = createOutboundHttp({ timeoutMs: 300 });
    handler = (_req, res) => res.writeHead(200).end('fast');
    await expect(outbound.postText(`${base}/one`, '{}', {})).resolves.toMatchObject({ data: 'fast' });
    handler = () => undefined; // never answers
    await expect(outbound.postText(`${base}/two`, '{}', {})).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    outbound.close();
  });
});
