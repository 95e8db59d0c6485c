import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import helmet from 'helmet';
import { helmetHeaders } from '../../relay/src/http/securityHeaders';
import { rawRequest, type RawResult } from '../helpers/rawHttp';

/**
 * helmetHeaders() is helmet's header set worked out once; it must be exactly what helmet() itself
 * puts on a real Express response (names and values), for any route and method.
 */

/** What Express and node:http add on their own, not helmet. */
const NOT_HELMET = new Set([
  'content-type',
  'content-length',
  'etag',
  'date',
  'connection',
  'keep-alive',
  'x-powered-by',
  'transfer-encoding',
]);

/** The response's headers as [lower-case name, value] pairs, minus what Express and node:http add. */
function helmetPart(r: RawResult): [string, string][] {
  return Object.entries(r.headers)
    .filter(([name]) => !NOT_HELMET.has(name))
    .map(([name, value]): [string, string] => [name, Array.isArray(value) ? value.join(', ') : String(value)]);
}

describe('helmetHeaders', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const app = express();
    app.use(helmet());
    app.get('/', (_req, res) => {
      res.send('hello');
    });
    app.post('/handover/rce', (_req, res) => {
      res.status(401).type('text/plain').send('Invalid signature');
    });
    // The relay answers unknown routes itself (Express' finalhandler would set its own CSP).
    app.use((_req, res) => {
      res.status(404).json({ error: { code: 'not_found', message: 'No such route' } });
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  const expected = (): [string, string][] => helmetHeaders().map(([name, value]) => [name.toLowerCase(), value]);
  const sortByName = (pairs: [string, string][]): [string, string][] => [...pairs].sort(([a], [b]) => a.localeCompare(b));

  it.each([
    ['GET /', { method: 'GET', path: '/' }],
    ['POST /handover/rce (401)', { method: 'POST', path: '/handover/rce' }],
    ['GET /nope (404)', { method: 'GET', path: '/nope' }],
  ])('equals what helmet() sends on a real Express response: %s', async (_name, { method, path }) => {
    const r = await rawRequest(`${base}${path}`, {
      method,
      ...(method === 'POST' ? { body: '{}', headers: { 'Content-Type': 'application/json' } } : {}),
    });
    const fromHelmet = helmetPart(r);
    expect(fromHelmet.length).toBeGreaterThan(5);
    expect(sortByName(expected())).toEqual(sortByName(fromHelmet));
  });

  it('has no header twice, no X-Powered-By, only string values, and is the same every time', () => {
    const pairs = helmetHeaders();
    const names = pairs.map(([n]) => n.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
    expect(names).not.toContain('x-powered-by');
    for (const [, value] of pairs) expect(typeof value).toBe('string');
    expect(helmetHeaders()).toEqual(pairs);
    expect(Object.fromEntries(pairs.map(([n, v]) => [n.toLowerCase(), v]))).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
      'content-security-policy': expect.stringContaining("default-src 'self'"),
    });
  });
});
