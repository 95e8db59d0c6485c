import path from 'node:path';
import { BENCH_SECRETS } from './lib/common';
import { sdkHandlerOfTree } from './lib/sdkHandlerOfTree';
import { agentReplyBody } from './lib/load';
import { alternatingRounds, printAlternating } from './lib/alternatingRounds';

/**
 * `npx tsx bench/sdkHandlerMicro.ts [treeA] [treeB]`: CPU per agent reply of the Source SDK handler
 * alone, without HTTP — HMAC verify, JSON parse, envelope and params validation, the "agent reply
 * received" log line (the tree's own `createLogger`, `info`, into /dev/null as the relay target of
 * the bench writes it), the signed answer — with an engine stub that answers `{id}` at once. Each
 * tree (another checkout's root; default this one) gets its own handler built from its own
 * `relay/src`; rounds alternate the trees (ABBA) in one process. K replies run per event-loop turn
 * (the log destination's asynchronous writes complete between turns, as they do in the relay).
 *
 * A tree may also be a compiled output (`.bench-build` after `npm run bench`): modules are imported
 * without an extension, so `node` runs the script compiled and the listeners without tsx's helpers.
 *
 * Knobs: N (replies per round, default 20000), ROUNDS (per tree, default 10), K (per turn, default 4).
 * Prints per-round figures (µs of process CPU per reply, user + system, all threads), each tree's
 * median and the median paired difference of the first two (first − second, round by round); no assertions.
 */

const N = Number(process.env.N ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const K = Number(process.env.K ?? 4);

type Handle = (rawBody: Buffer, signature: string) => Promise<number>;

async function handlerOf(tree: string): Promise<Handle> {
  const { handler } = await sdkHandlerOfTree(tree);
  return async (rawBody, signature) => (await handler.handle({ rawBody, signature, now: Date.now() })).status;
}

async function main(): Promise<void> {
  const trees = process.argv.slice(2);
  if (trees.length === 0) trees.push(path.resolve(__dirname, '..'));
  const handles = await Promise.all(trees.map(handlerOf));
  const { signSdkBody } = await import('../relay/src/engage/sdkSignature');
  const time = new Date().toISOString();
  const bodies = Array.from({ length: 1000 }, (_, i) => {
    const body = agentReplyBody(`thread-${i}`, `micro-${i}`, time);
    return { raw: Buffer.from(body), signature: signSdkBody(BENCH_SECRETS.realtimeAccessToken, body) };
  });
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const run = async (handle: Handle, count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      const { raw, signature } = bodies[i % bodies.length]!;
      const status = await handle(raw, signature);
      if (status !== 200) throw new Error(`answer ${status}`);
      if (i % K === K - 1) await turn();
    }
    await new Promise((resolve) => setTimeout(resolve, 5)); // let the last log writes complete
  };

  for (const h of handles) await run(h, 5000); // warm-up
  const sides = trees.map((name, t) => ({ name, handle: handles[t]! }));
  const result = await alternatingRounds(sides, ROUNDS, async (side, r) => {
    const start = process.cpuUsage();
    await run(side.handle, N);
    const used = process.cpuUsage(start);
    const us = (used.user + used.system) / N;
    console.log(`round ${r + 1}, ${side.name}: ${us.toFixed(2)} µs CPU per reply`);
    return us;
  });
  printAlternating(result, `${ROUNDS} rounds of ${N} replies per tree`, 'µs', 2);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
