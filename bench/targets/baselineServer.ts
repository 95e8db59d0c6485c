import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent as UndiciAgent } from 'undici';
import { BENCH_SECRETS, BENCH_SESSION_URL_TOKEN, failStartup, serveParent } from '../lib/common';

/**
 * The baseline (child process): a bare node:http server doing only the irreducible work of an
 * agent reply — HMAC-SHA512 check of the raw body (timingSafeEqual), JSON parse, a signed
 * `{"id": ...}` answer, and one forward to Cognigy on a keep-alive agent. No store, no dedup, no
 * durability, no framework, no logging. Like the relay it answers Engage first and forwards
 * right after (the forward is not awaited before answering).
 *
 * BENCH_BASELINE_CLIENT=undici: the forward goes out on undici's dispatch API, as the relay's does,
 * so the relay can also be compared with a baseline that uses the same HTTP client.
 */

const token = BENCH_SECRETS.realtimeAccessToken;
const stubUrl = new URL(process.env.STUB_URL ?? '');
const notifyPath = '/new/v2.0/endpoint/notify';
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let forwarded = 0;
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
let forwardErrors = 0;

function reject(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(text);
}

const undiciAgent = process.env.BENCH_BASELINE_CLIENT === 'undici' ? new UndiciAgent({ connections: 64 }) : null;
const undiciHeaders = ['content-type', 'application/json', 'x-api-key', BENCH_SECRETS.cognigyApiKey];

function forwardWithUndici(agent: UndiciAgent, body: string): void {
  agent.dispatch(
    { origin: stubUrl.origin, path: notifyPath, method: 'POST', headers: undiciHeaders, body },
    {
      onRequestStart: () => undefined,
      onResponseEnd: () => {
        forwarded += 1;
      },
      onResponseError: () => {
        forwardErrors += 1;
      },
    },
  );
}

function forward(body: string): void {
  if (undiciAgent) return forwardWithUndici(undiciAgent, body);
  const req = http.request(
    {
      host: stubUrl.hostname,
      port: stubUrl.port,
      path: notifyPath,
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': BENCH_SECRETS.cognigyApiKey },
    },
    (res) => {
      res.resume();
      res.on('end', () => {
        forwarded += 1;
      });
    },
  );
  req.on('error', () => {
    forwardErrors += 1;
  });
  req.end(body);
}

interface Params {
  content_id?: unknown;
  thread_id?: unknown;
  body?: unknown;
  sender_name?: unknown;
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const presented = req.headers['x-smccsdk-signature'];
    if (typeof presented !== 'string' || presented.length !== 128) return reject(res, 401, 'Invalid signature');
    const expected = createHmac('sha512', token).update(raw).digest();
    if (!timingSafeEqual(expected, Buffer.from(presented, 'hex'))) return reject(res, 401, 'Invalid signature');
    let params: Params;
    try {
      params = (JSON.parse(raw.toString('utf8')) as { params?: Params }).params ?? {};
    } catch {
      return reject(res, 400, 'Invalid JSON');
    }
    const contentId = String(params.content_id ?? '');
    const threadId = String(params.thread_id ?? '');
    const id = `agent-${createHash('sha256').update(contentId).digest('hex').slice(0, 24)}`;
    const answer = JSON.stringify({ id });
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-smccsdk-signature': createHmac('sha512', token).update(answer).digest('hex'),
    });
    res.end(answer);
    forward(
      JSON.stringify({
        URLToken: BENCH_SESSION_URL_TOKEN,
        userId: `user-${threadId}`,
        sessionId: `session-${threadId}`,
        text: typeof params.body === 'string' ? params.body : '',
        data: { rceHandover: { type: 'agentMessage', contentId, agentName: params.sender_name ?? null } },
      }),
    );
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  serveParent(
    { url: `http://127.0.0.1:${port}` },
    { stats: () => ({ forwarded, forwardErrors, rssBytes: process.memoryUsage().rss, cpuMicros: cpuMicros() }) },
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
        void undiciAgent?.destroy();
      }),
  );
});
server.on('error', failStartup);
