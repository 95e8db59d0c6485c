import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { failStartup, serveParent } from '../lib/common';

/**
 * A minimal keep-alive Cognigy REST stub (child process): accepts POST …/endpoint/notify and
 * …/inject, answers 200 at once, and counts deliveries per agent-reply content id so the bench
 * can check end to end that every accepted reply reached "Cognigy" exactly once.
 */

let total = 0;
/** Only content ids of the current run count (`reset({prefix})`); late deliveries of an earlier run are `stray`. */
let prefix = '';
let stray = 0;
let duplicates = 0;
let withoutContentId = 0;
let connections = 0;
let seen = new Set<string>();
/** First arrival of each content id of the run, epoch ms with sub-ms resolution (the load generator's clock). */
let arrivedAt = new Map<string, number>();
let firstAt = 0;
let lastAt = 0;

function contentIdOf(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { data?: { rceHandover?: { contentId?: unknown } } };
    const id = parsed.data?.rceHandover?.contentId;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    if (total === 0) firstAt = now;
    total += 1;
    const id = contentIdOf(Buffer.concat(chunks).toString('utf8'));
    if (id?.startsWith(prefix)) lastAt = now;
    if (id === null) withoutContentId += 1;
    else if (!id.startsWith(prefix)) stray += 1;
    else if (seen.has(id)) duplicates += 1;
    else {
      seen.add(id);
      arrivedAt.set(id, performance.timeOrigin + performance.now());
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
    res.end('{}');
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.on('connection', () => {
  connections += 1;
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  serveParent(
    { url: `http://127.0.0.1:${port}` },
    {
      stats: () => ({ total, unique: seen.size, duplicates, stray, withoutContentId, connections, firstAt, lastAt }),
      // The run's content ids without their prefix (the request index) and when each arrived.
      arrivals: () => [...arrivedAt].map(([id, at]) => [Number(id.slice(prefix.length)), at]),
      reset: (args) => {
        prefix = (args as { prefix?: string } | undefined)?.prefix ?? '';
        stray = 0;
        total = 0;
        duplicates = 0;
        withoutContentId = 0;
        connections = 0;
        seen = new Set();
        arrivedAt = new Map();
        firstAt = 0;
        lastAt = 0;
        return null;
      },
    },
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
});
server.on('error', failStartup);
