import path from 'node:path';
import { readFileSync } from 'node:fs';
import { BENCH_SECRETS, startChild } from './lib/common';

/**
 * `npx tsx bench/outboundMicro.ts [tree]`: CPU of this process per Cognigy notify sent with
 * `callCognigy` over `postText` (JSON body, headers, keep-alive agent, answer read), against the
 * bench Cognigy stub in a child process (its CPU is not counted). With `tree` (another checkout's
 * root) the two trees' outbound code alternate round by round in this one process, so a busy
 * machine hits both alike. Knobs: N (calls per round and side, 2000), C (calls in flight, 8), ROUNDS (40).
 * Prints per-round figures; no assertions.
 */

type OutboundModule = typeof import('../relay/src/http/outboundHttp');
type CognigyModule = typeof import('../relay/src/cognigy/cognigyClient');

interface Side {
  name: string;
  outbound: ReturnType<OutboundModule['createOutboundHttp']>;
  callCognigy: CognigyModule['callCognigy'];
}

async function load(name: string, tree: string): Promise<Side> {
  const outbound = (await import(path.join(tree, 'relay/src/http/outboundHttp.ts'))) as OutboundModule;
  const cognigy = (await import(path.join(tree, 'relay/src/cognigy/cognigyClient.ts'))) as CognigyModule;
  return { name, outbound: outbound.createOutboundHttp(), callCognigy: cognigy.callCognigy };
}

async function main(): Promise<void> {
  const n = Number(process.env.N ?? 2_000);
  const concurrency = Number(process.env.C ?? 8);
  const rounds = Number(process.env.ROUNDS ?? 40);
  const here = path.join(__dirname, '..');
  const other = process.argv[2] ? path.resolve(process.argv[2]) : null;
  const sides = [await load('this tree', here), ...(other ? [await load(`other (${other})`, other)] : [])];
  // The stub's own CPU is not measured: under tsx it needs no compile step (startChild reads this process's env).
  process.env.BENCH_TSX ??= '1';
  const stub = await startChild('bench/targets/cognigyStub.ts');
  const base = (stub.ready as { url: string }).url;
  const tenant = { cognigyApiBaseUrl: base, cognigyApiKey: BENCH_SECRETS.cognigyApiKey } as Parameters<Side['callCognigy']>[1];
  const payload = (i: number) => ({
    URLToken: 'bench-endpoint-token',
    userId: `user-${i % 1000}`,
    sessionId: `session-${i % 1000}`,
    text: 'Hello from agent Anna, how can I help?',
    data: { rceHandover: { type: 'agentMessage', contentId: `c${i}`, agentName: 'Anna', sender_name: 'Anna' } },
  });
  const run = async (side: Side, count: number): Promise<number> => {
    let next = 0;
    const t = process.cpuUsage();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const i = next++;
          if (i >= count) return;
          await side.callCognigy(side.outbound.postText, tenant, 'notify', payload(i));
        }
      }),
    );
    const u = process.cpuUsage(t);
    return (u.user + u.system) / count;
  };
  for (const side of sides) await run(side, 2_000); // warm-up (JIT, sockets)
  // Many short rounds, sides alternating (and which goes first): load from other processes drifts over
  // seconds, so pairs taken close together compare far better than one long run per side.
  const seen = new Map<string, number[]>(sides.map((s) => [s.name, []]));
  const diffs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    const round = new Map<string, number>();
    for (const side of order) round.set(side.name, await run(side, n));
    for (const [name, us] of round) seen.get(name)?.push(us);
    if (sides.length === 2) diffs.push((round.get(sides[0]!.name) ?? 0) - (round.get(sides[1]!.name) ?? 0));
  }
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  };
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  console.log(`${rounds} rounds of ${n} notifies per side, ${concurrency} in flight (load average now ${load1})`);
  for (const [name, values] of seen) {
    const sorted = [...values].sort((a, b) => a - b);
    console.log(
      `  ${name}: median ${median(values).toFixed(1)} µs per notify (min ${sorted[0]?.toFixed(1)}, max ${sorted.at(-1)?.toFixed(1)})`,
    );
  }
  if (diffs.length > 0) {
    const sorted = [...diffs].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]?.toFixed(1);
    console.log(`  this tree − other, paired by round: median ${median(diffs).toFixed(1)} µs (quartiles ${q(0.25)} … ${q(0.75)})`);
  }
  for (const side of sides) side.outbound.close();
  await stub.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
