import { startChild, BENCH_SECRETS, fmt } from './lib/common';
import { runAgentReplyLoad } from './lib/load';
(async () => {
  const stub = await startChild('bench/targets/cognigyStub.ts');
  const child = await startChild('bench/targets/relayServer.ts', { env: { STORE: 'sqlite', STUB_URL: (stub.ready as { url: string }).url } });
  const { url, threadIds } = child.ready as { url: string; threadIds: string[] };
  await runAgentReplyLoad({ url, threadIds, realtimeToken: BENCH_SECRETS.realtimeAccessToken, runTag: 'w-' }, { kind: 'max', connections: 32, seconds: 3, maxRequests: 1e7 });
  for (let r = 0; r < 3; r++) {
    const c0 = (await child.call<{ cpuMicros: number }>('stats')).cpuMicros;
    const res = await runAgentReplyLoad({ url, threadIds, realtimeToken: BENCH_SECRETS.realtimeAccessToken, runTag: `r${r}-` }, { kind: 'max', connections: 32, seconds: 6, maxRequests: 1e7 });
    await new Promise((r) => setTimeout(r, 2500));
    const c1 = (await child.call<{ cpuMicros: number }>('stats')).cpuMicros;
    console.log(`${fmt(res.rps, 0)} req/s, cpu ${fmt((c1 - c0) / res.accepted, 0)} µs/req`);
  }
  await child.stop(); await stub.stop();
})();
