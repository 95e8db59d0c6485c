import path from 'node:path';
import { BENCH_SECRETS, startChild } from './lib/common';
import { alternatingRounds, printAlternating } from './lib/alternatingRounds';

/**
 * `npx tsx bench/outboundMicro.ts [tree]`: CPU of this process per Cognigy notify sent with
 * `callCognigy` over `postText` (JSON body, headers, keep-alive agent, answer read), against the
 * bench Cognigy stub in a child process (its CPU is not counted). With `tree` (another checkout's
 * root) the two trees' outbound code alternate round by round in this one process, so a busy
 * machine hits both alike. Knobs: N (calls per round and side, 2000), C (calls in flight, 8), ROUNDS (40),
 * RECEIPTS=1 (each notify followed by its signed `status.mark_as_read`, as the executor sends it).
 * Prints per-round figures; no assertions.
 */

type OutboundModule = typeof import('../relay/src/http/outboundHttp');
type CognigyModule = typeof import('../relay/src/cognigy/cognigyClient');
type SendApiModule = typeof import('../relay/src/engage/sendApiClient');

interface Side {
  name: string;
  outbound: ReturnType<OutboundModule['createOutboundHttp']>;
  callCognigy: CognigyModule['callCognigy'];
  callSendApi: SendApiModule['callSendApi'];
}

async function load(name: string, tree: string): Promise<Side> {
  const outbound = (await import(path.join(tree, 'relay/src/http/outboundHttp.ts'))) as OutboundModule;
  const cognigy = (await import(path.join(tree, 'relay/src/cognigy/cognigyClient.ts'))) as CognigyModule;
  const sendApi = (await import(path.join(tree, 'relay/src/engage/sendApiClient.ts'))) as SendApiModule;
  return { name, outbound: outbound.createOutboundHttp(), callCognigy: cognigy.callCognigy, callSendApi: sendApi.callSendApi };
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
  const receipts = process.env.RECEIPTS === '1';
  const tenant = {
    cognigyApiBaseUrl: base,
    cognigyApiKey: BENCH_SECRETS.cognigyApiKey,
    realtimeEndpointUrl: `${base}/realtime/sdk/bench`,
    realtimeAccessToken: BENCH_SECRETS.realtimeAccessToken,
  } as Parameters<Side['callCognigy']>[1];
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
          if (receipts) await side.callSendApi(side.outbound.postText, tenant, 'status.mark_as_read', { id: `agent-${i}` });
        }
      }),
    );
    const u = process.cpuUsage(t);
    return (u.user + u.system) / count;
  };
  for (const side of sides) await run(side, 2_000); // warm-up (JIT, sockets)
  const result = await alternatingRounds(sides, rounds, (side) => run(side, n));
  const unit = receipts ? 'µs per notify + read receipt' : 'µs per notify';
  printAlternating(result, `${rounds} rounds of ${n} notifies per side, ${concurrency} in flight`, unit, 1);
  for (const side of sides) side.outbound.close();
  await stub.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
