import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { BENCH_SECRETS } from './lib/common';
import { sdkHandlerOfTree } from './lib/sdkHandlerOfTree';
import { agentReplyBody } from './lib/load';
import { alternatingRounds, printAlternating } from './lib/alternatingRounds';

/**
 * `npx tsx bench/inboundMicro.ts [treeA] [treeB]`: server CPU per agent reply of the relay's
 * inbound path alone — node:http, the Engage endpoint (limits, checks, body read, answer headers),
 * the Source SDK handler (HMAC verify, JSON parse, validation, the "agent reply received" log line
 * at `info` into /dev/null, the signed answer) — with an engine stub that answers `{id}` at once
 * (no store, no outbox). Each tree (another checkout's root; default this one, once) gets its own
 * request listener built from its own `relay/src`; rounds alternate the trees in ONE server process,
 * so a shared machine's drift hits both alike. The load comes from a child process (closed loop,
 * keep-alive, signed `messages.create` bodies as bench/lib/load.ts sends them); only the server
 * process's CPU (user + system) is counted.
 *
 * A tree may also be a compiled output (`.bench-build` after `npm run bench`): modules are imported
 * without an extension, so `node` runs the script compiled and the listeners without tsx's helpers.
 *
 * Knobs: N (requests per round, default 10000), ROUNDS (per tree, default 10), CONNECTIONS (8).
 * Prints per-round figures (µs of server CPU per request), each tree's median and the median paired
 * difference of the first two (first − second, round by round); no assertions.
 */

const N = Number(process.env.N ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 8);

interface Job {
  url: string;
  count: number;
}

/** The load child: `count` signed agent replies over CONNECTIONS keep-alive connections, then reports. */
async function client(): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const time = new Date().toISOString();
  const { signSdkBody } = await import('../relay/src/engage/sdkSignature');
  const bodies = Array.from({ length: 1000 }, (_, i) => {
    const body = agentReplyBody(`thread-${i}`, `micro-${i}`, time);
    return { body, signature: signSdkBody(BENCH_SECRETS.realtimeAccessToken, body) };
  });
  const post = (url: URL, i: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const { body, signature } = bodies[i % bodies.length]!;
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: '/handover/rce',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-smccsdk-signature': signature },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  process.on('message', (job: Job) => {
    const url = new URL(job.url);
    let next = 0;
    let bad = 0;
    const lane = async (): Promise<void> => {
      while (next < job.count) {
        const status = await post(url, next++);
        if (status !== 200) bad++;
      }
    };
    void Promise.all(Array.from({ length: CONNECTIONS }, lane)).then(() => process.send?.({ bad }));
  });
}

type Listener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** The public request listener of `tree`, wired as relay.ts wires it, around an engine stub. */
async function listenerOf(tree: string): Promise<Listener> {
  const src = path.resolve(tree, 'relay/src');
  const { createRequestListener } = (await import(path.join(src, 'app'))) as typeof import('../relay/src/app');
  const { handler: sourceSdk, logger, tenant } = await sdkHandlerOfTree(tree);
  const unused = {} as never;
  return createRequestListener({
    sourceSdk,
    webhooks: unused,
    extensionApi: unused,
    logger,
    maxBodyBytes: 1_000_000,
    engageMaxBodyBytes: 1_000_000,
    maxBytesInFlightPerAddress: 64 * 1024 * 1024,
    maxBytesInFlight: 256 * 1024 * 1024,
    trustProxy: { kind: 'none' },
    rateLimitPerMinute: 1_000_000_000,
    sourceIds: [tenant.sourceId],
  });
}

async function main(): Promise<void> {
  const trees = process.argv.slice(2);
  if (trees.length === 0) trees.push(path.resolve(__dirname, '..'));
  const listeners = await Promise.all(trees.map(listenerOf));
  let current: Listener = listeners[0]!;
  const server = http.createServer((req, res) => current(req, res));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const child = fork(__filename, ['--client'], { execArgv: process.execArgv });
  const run = (count: number): Promise<number> =>
    new Promise((resolve) => {
      child.once('message', (m: { bad: number }) => resolve(m.bad));
      child.send({ url, count } satisfies Job);
    });

  for (const l of listeners) {
    current = l;
    await run(Math.min(N, 5000)); // warm-up
  }
  const sides = trees.map((name, t) => ({ name, listener: listeners[t]! }));
  const result = await alternatingRounds(sides, ROUNDS, async (side, r) => {
    current = side.listener;
    const start = process.cpuUsage();
    const bad = await run(N);
    const used = process.cpuUsage(start);
    if (bad > 0) console.log(`${side.name}: ${bad} answers were not 200!`);
    const us = (used.user + used.system) / N;
    console.log(`round ${r + 1}, ${side.name}: ${us.toFixed(1)} µs server CPU per request`);
    return us;
  });
  printAlternating(result, `${ROUNDS} rounds of ${N} requests per tree`, 'µs', 1);
  child.kill();
  server.close();
  server.closeAllConnections();
}

if (process.argv.includes('--client')) void client();
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
