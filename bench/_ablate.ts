import { startChild, BENCH_SECRETS, fmt } from './lib/common';
import { runAgentReplyLoad } from './lib/load';
(async () => {
  const rate = Number(process.env.RATE ?? 400); const seconds = Number(process.env.SECS ?? 8);
  const stub = await startChild('bench/targets/cognigyStub.ts');
  const which = (process.env.WHICH ?? 'baseline,relay').split(',');
  for (const w of which) {
    const child = w === 'baseline'
      ? await startChild('bench/targets/baselineServer.ts', { env: { STUB_URL: (stub.ready as any).url } })
      : await startChild('bench/targets/relayServer.ts', { env: { STORE: 'sqlite', STUB_URL: (stub.ready as any).url, ABLATE: w.split(':')[1] ?? '' } });
    const url = (child.ready as any).url; const threadIds = (child.ready as any).threadIds ?? Array.from({ length: 1000 }, (_, i) => `t${i}`);
    await runAgentReplyLoad({ url, threadIds, realtimeToken: BENCH_SECRETS.realtimeAccessToken, runTag: 'w' + w }, { kind: 'paced', rate, connections: 16, seconds: 2 });
    for (let r = 0; r < Number(process.env.REPS ?? 2); r++) {
      const c0 = (await child.call<any>('stats')).cpuMicros;
      const res = await runAgentReplyLoad({ url, threadIds, realtimeToken: BENCH_SECRETS.realtimeAccessToken, runTag: `r${r}${w}` }, { kind: 'paced', rate, connections: 16, seconds });
      await new Promise((r) => setTimeout(r, 500));
      const c1 = (await child.call<any>('stats')).cpuMicros;
      console.log(w, `rate ${fmt(res.rps, 0)}`, `cpu ${fmt((c1 - c0) / res.accepted, 0)} µs/req`, `p50 ${fmt(res.p50Ms, 3)} p99 ${fmt(res.p99Ms, 3)}`, `load ${require('fs').readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
    }
    await child.stop();
  }
  await stub.stop();
})();
