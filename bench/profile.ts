import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startRedisServer, type RedisServerHandle } from '../test/helpers/redisServer';
import { BENCH_SECRETS, fmt, fmtInt, startChild, type BenchChild } from './lib/common';
import { formatProfileSummary, summarizeProfile } from './lib/cpuProfile';
import { runAgentReplyLoad, type LoadMode } from './lib/load';

/**
 * `npx tsx bench/profile.ts [sqlite|redis|baseline] [max|paced]`: CPU profile of the relay (or of the
 * bare baseline, to compare category by category) on the agent-reply path. Starts the stub and the relay child as the bench does, warms up, then runs
 * one load while the relay's inspector Profiler samples (every 200 µs). Writes
 * bench/profiles/relay-<store>-<mode>-<time>.cpuprofile (open in Chrome DevTools or VS Code) and
 * prints the top frames by self and total time and the self time per package/area.
 */

const store = process.argv[2] === 'redis' || process.argv[2] === 'baseline' ? process.argv[2] : 'sqlite';
const modeKind = process.argv[3] === 'paced' ? 'paced' : 'max';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

async function main(): Promise<void> {
  const repoRoot = path.resolve(__dirname, '..');
  const outDir = path.join(repoRoot, 'bench', 'profiles');
  mkdirSync(outDir, { recursive: true });
  let redis: RedisServerHandle | null = null;
  let stub: BenchChild | null = null;
  let relay: BenchChild | null = null;
  try {
    if (store === 'redis') redis = await startRedisServer();
    stub = await startChild('bench/targets/cognigyStub.ts');
    const stubUrl = (stub.ready as { url: string }).url;
    relay =
      store === 'baseline'
        ? await startChild('bench/targets/baselineServer.ts', { env: { STUB_URL: stubUrl } })
        : await startChild('bench/targets/relayServer.ts', { env: { STORE: store, STUB_URL: stubUrl, REDIS_URL: redis?.url ?? '' } });
    // The baseline keeps no conversations: any thread id will do.
    const ready = relay.ready as { url: string; threadIds?: string[] };
    const threadIds = ready.threadIds ?? Array.from({ length: 1000 }, (_, i) => `bench-thread-${i}`);
    const target = { url: ready.url, threadIds, realtimeToken: BENCH_SECRETS.realtimeAccessToken };
    await runAgentReplyLoad({ ...target, runTag: 'warm' }, { kind: 'max', connections: 32, seconds: 3, maxRequests: 200_000 });
    const mode: LoadMode =
      modeKind === 'max'
        ? { kind: 'max', connections: 32, seconds, maxRequests: 100_000 * seconds }
        : { kind: 'paced', rate: 1000, connections: 16, seconds };
    await relay.call('profileStart');
    const load = await runAgentReplyLoad({ ...target, runTag: 'prof' }, mode);
    const file = path.join(outDir, `relay-${store}-${modeKind}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    await relay.call('profileStop', { file });
    console.log(
      `load: ${fmtInt(load.rps)} req/s, p50 ${fmt(load.p50Ms, 3)} ms, p99 ${fmt(load.p99Ms, 3)} ms (${load.accepted} accepted, under the profiler)`,
    );
    console.log(`profile: ${path.relative(repoRoot, file)}`);
    console.log(formatProfileSummary(summarizeProfile(file, Number(process.env.TOP ?? 25))));
  } finally {
    await relay?.stop();
    await stub?.stop();
    await redis?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
