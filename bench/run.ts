import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startRedisServer, type RedisServerHandle } from '../test/helpers/redisServer';
import {
  BENCH_SECRETS,
  fmt,
  fmtInt,
  machineInfo,
  percentileSorted,
  sleep,
  sortedCopy,
  spread,
  startChild,
  type BenchChild,
  type LoopDiagnostics,
  type MachineInfo,
  type Spread,
} from './lib/common';
import { runAgentReplyLoad, type LoadMode, type LoadResult } from './lib/load';
import type { HandoverStartResult } from './sections/handoverStart';
import type { ScaleResult } from './sections/scale';

/**
 * `npm run bench`: starts everything on 127.0.0.1, measures, writes bench/results.md and prints
 * a summary. Not part of `npm test`; nothing asserts a timing. See bench/README.md.
 *
 * Knobs (environment): BENCH_SECONDS (per load run, default 10), BENCH_REPS (default 3),
 * BENCH_RATE (paced rate, default 1000), BENCH_CONNECTIONS (max-throughput connections, default 32),
 * BENCH_SECTIONS (comma list of reply,redis,scale,handover,tarball; default all),
 * BENCH_SCALE_COUNT (default 100000), BENCH_OUT (default bench/results.md).
 */

const repoRoot = path.resolve(__dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const MAX_CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PACED_CONNECTIONS = Number(process.env.BENCH_PACED_CONNECTIONS ?? 16);
const SCALE_COUNT = Number(process.env.BENCH_SCALE_COUNT ?? 100_000);
const SCALE_LOOKUPS = Number(process.env.BENCH_SCALE_LOOKUPS ?? 20_000);
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 1000);
const OUT = path.resolve(repoRoot, process.env.BENCH_OUT ?? 'bench/results.md');
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'reply,noreceipts,redis,scale,handover,tarball').split(',').map((s) => s.trim()));
/** A run whose min–max spread exceeds this share of its median is flagged as noisy. */
const NOISY = 0.15;

/** BENCH_BASELINE_CLIENT=undici: the baseline forwards with undici (as the relay does) instead of node:http's client. */
const BASELINE_UNDICI = process.env.BENCH_BASELINE_CLIENT === 'undici';

const GOALS = { throughputRatio: 0.8, addedP99Ms: 2, rssMb: 250, lookupP99Ms: 1, callsPerExecution: 1 };

type TargetName = 'baseline' | 'relay-sqlite' | 'relay-sqlite-no-receipts' | 'relay-redis';
const TARGET_LABEL: Record<TargetName, string> = {
  baseline: BASELINE_UNDICI ? 'baseline (bare node:http, undici forward)' : 'baseline (bare node:http)',
  'relay-sqlite': 'relay, SQLite store',
  'relay-sqlite-no-receipts': 'relay, SQLite store, READ_RECEIPTS=false',
  'relay-redis': 'relay, Redis store',
};

interface Delivery {
  sent: number;
  delivered: number;
  duplicates: number;
  /** From the end of the load until the last notify reached the stub (0 if it was already there). */
  drainMs: number;
  complete: boolean;
  stubConnections: number;
}
interface RunRecord {
  load: LoadResult;
  /** The target's event-loop delay and GC pauses during the run. */
  loop: LoopDiagnostics;
  delivery: Delivery;
  /** CPU time (user + system) the target process spent per accepted reply, including its outbox work. */
  cpuUsPerReq: number;
  /** From sending the agent reply to its notify arriving at the Cognigy stub (ms), over every delivered reply. */
  endToEnd: { p50Ms: number; p99Ms: number };
}
interface Endpoint {
  name: TargetName;
  url: string;
  threadIds: string[];
  child: BenchChild;
}
interface StubStats {
  total: number;
  unique: number;
  duplicates: number;
  withoutContentId: number;
  connections: number;
  firstAt: number;
  lastAt: number;
}

const log = (line: string) => console.log(`[bench] ${line}`);

async function waitForDelivery(stub: BenchChild, sent: number, endedAt: number, timeoutMs = 60_000): Promise<Delivery> {
  const deadline = Date.now() + timeoutMs;
  let stats = await stub.call<StubStats>('stats');
  let lastProgress = Date.now();
  let lastUnique = stats.unique;
  while (stats.unique < sent && Date.now() < deadline && Date.now() - lastProgress < 15_000) {
    await sleep(50);
    stats = await stub.call<StubStats>('stats');
    if (stats.unique !== lastUnique) {
      lastUnique = stats.unique;
      lastProgress = Date.now();
    }
  }
  // Late duplicates would show up right after the last delivery: look once more.
  await sleep(200);
  stats = await stub.call<StubStats>('stats');
  return {
    sent,
    delivered: stats.unique,
    duplicates: stats.duplicates,
    drainMs: stats.unique >= sent && stats.lastAt > endedAt ? stats.lastAt - endedAt : 0,
    complete: stats.unique >= sent,
    stubConnections: stats.connections,
  };
}

let runCounter = 0;
async function measure(stub: BenchChild, target: Endpoint, mode: LoadMode): Promise<RunRecord> {
  const runTag = `b${process.pid}r${++runCounter}${target.name.replace(/[^a-z]/g, '')}-`;
  await stub.call('reset', { prefix: runTag });
  const cpuBefore = (await target.child.call<{ cpuMicros: number }>('stats')).cpuMicros;
  await target.child.call('diagStart');
  const load = await runAgentReplyLoad(
    { url: target.url, threadIds: target.threadIds, realtimeToken: BENCH_SECRETS.realtimeAccessToken, runTag },
    mode,
  );
  const loop = await target.child.call<LoopDiagnostics>('diagStop');
  const delivery = await waitForDelivery(stub, load.accepted, load.endedAt);
  const cpuUsPerReq = ((await target.child.call<{ cpuMicros: number }>('stats')).cpuMicros - cpuBefore) / Math.max(1, load.accepted);
  const endToEnd = endToEndLatency(await stub.call<[number, number][]>('arrivals'), load.sentAtMs);
  log(
    `${target.name.padEnd(12)} ${mode.kind === 'max' ? `max ${mode.connections}c` : `paced ${mode.rate}/s`}: ${fmtInt(load.rps)} req/s, p50 ${fmt(load.p50Ms)} ms, p99 ${fmt(load.p99Ms)} ms, ` +
      `accepted ${load.accepted}/${load.answered} (non2xx ${load.non2xx}, errors ${load.errors}), delivered ${delivery.delivered}, dups ${delivery.duplicates}, drain ${fmtInt(delivery.drainMs)} ms, CPU ${fmtInt(cpuUsPerReq)} µs/req, ` +
      `loop delay p99 ${fmt(loop.loopDelayP99Ms)} ms, GC ${loop.gcCount}× max ${fmt(loop.gcMaxMs)} ms, ` +
      `sent → at the stub p50 ${fmt(endToEnd.p50Ms, 3)} / p99 ${fmt(endToEnd.p99Ms, 3)} ms`,
  );
  if (Object.keys(load.sampleErrors).length)
    log(`  unexpected answers: ${JSON.stringify(load.statuses)} ${JSON.stringify(load.sampleErrors)}`);
  return { load, loop, delivery, cpuUsPerReq, endToEnd };
}

/** Percentiles of (arrival at the stub − send) over the replies that arrived; both clocks are epoch ms of this machine. */
function endToEndLatency(arrivals: readonly [number, number][], sentAtMs: readonly number[]): { p50Ms: number; p99Ms: number } {
  const spans = sortedCopy(arrivals.flatMap(([i, at]) => (sentAtMs[i] === undefined ? [] : [at - (sentAtMs[i] as number)])));
  return { p50Ms: percentileSorted(spans, 50), p99Ms: percentileSorted(spans, 99) };
}

// ---- sections -----------------------------------------------------------------------------

interface ReplyResults {
  targets: TargetName[];
  paced: Record<string, RunRecord[]>;
  max: Record<string, RunRecord[]>;
  rssAfterBytes: Record<string, number>;
}

async function agentReplySections(stub: BenchChild, stubUrl: string, redisUrl: string | null): Promise<ReplyResults> {
  const targets: TargetName[] = ['baseline'];
  if (SECTIONS.has('reply')) targets.push('relay-sqlite');
  // The same relay without the read receipt: the work the baseline (and issue 20's prototype) does, one outbound call per reply.
  if (SECTIONS.has('noreceipts')) targets.push('relay-sqlite-no-receipts');
  if (SECTIONS.has('redis') && redisUrl) targets.push('relay-redis');
  const children: Partial<Record<TargetName, BenchChild>> = {};
  const endpoints: Endpoint[] = [];
  try {
    let threadIds: string[] = [];
    for (const name of targets) {
      if (name === 'baseline') continue;
      const child = await startChild('bench/targets/relayServer.ts', {
        env: {
          STORE: name === 'relay-redis' ? 'redis' : 'sqlite',
          STUB_URL: stubUrl,
          REDIS_URL: redisUrl ?? '',
          CONVERSATIONS: String(CONVERSATIONS),
          ...(name === 'relay-sqlite-no-receipts' ? { BENCH_READ_RECEIPTS: 'false' } : {}),
        },
      });
      children[name] = child;
      const ready = child.ready as { url: string; threadIds: string[] };
      threadIds = ready.threadIds;
      endpoints.push({ name, url: ready.url, threadIds, child });
    }
    const baseline = await startChild('bench/targets/baselineServer.ts', { env: { STUB_URL: stubUrl } });
    children.baseline = baseline;
    if (threadIds.length === 0) threadIds = Array.from({ length: CONVERSATIONS }, (_, i) => `bench-thread-${i}`);
    endpoints.unshift({ name: 'baseline', url: (baseline.ready as { url: string }).url, threadIds, child: baseline });

    log(`warming up ${endpoints.map((e) => e.name).join(', ')}`);
    for (const e of endpoints) {
      await measure(stub, e, { kind: 'max', connections: MAX_CONNECTIONS, seconds: 3, maxRequests: 200_000 });
    }

    const paced: Record<string, RunRecord[]> = {};
    const max: Record<string, RunRecord[]> = {};
    // Interleaved (A B C A B C …) so slow drift of the machine hits every target alike.
    for (let rep = 0; rep < REPS; rep++) {
      for (const e of endpoints) {
        (paced[e.name] ??= []).push(
          await measure(stub, e, { kind: 'paced', rate: RATE, connections: PACED_CONNECTIONS, seconds: SECONDS }),
        );
      }
      for (const e of endpoints) {
        (max[e.name] ??= []).push(
          await measure(stub, e, { kind: 'max', connections: MAX_CONNECTIONS, seconds: SECONDS, maxRequests: 100_000 * SECONDS }),
        );
      }
    }
    const rssAfterBytes: Record<string, number> = {};
    for (const e of endpoints) rssAfterBytes[e.name] = (await e.child.call<{ rssBytes: number }>('stats')).rssBytes;
    return { targets: endpoints.map((e) => e.name), paced, max, rssAfterBytes };
  } finally {
    for (const child of Object.values(children)) await child?.stop();
  }
}

async function scaleSection(redisUrl: string | null): Promise<ScaleResult[]> {
  const out: ScaleResult[] = [];
  const wanted = (process.env.BENCH_SCALE_STORES ?? 'sqlite,redis').split(',');
  for (const store of (redisUrl ? ['sqlite', 'redis'] : ['sqlite']).filter((s) => wanted.includes(s))) {
    log(`scale: inserting ${fmtInt(SCALE_COUNT)} open handovers into the ${store} store`);
    const child = await startChild('bench/sections/scale.ts', {
      env: { STORE: store, REDIS_URL: redisUrl ?? '', COUNT: String(SCALE_COUNT), LOOKUPS: String(SCALE_LOOKUPS), ROUNDS: String(REPS) },
      nodeArgs: ['--expose-gc'],
      readyTimeoutMs: 600_000,
    });
    const result = child.ready as ScaleResult;
    await child.stop(30_000);
    const p99 = spread(result.rounds.map((r) => r.getP99Ms));
    log(
      `scale ${store}: RSS ${fmt(result.rssAfterLookupsBytes / 2 ** 20, 0)} MB, getConversation p99 ${fmt(p99.median, 3)} ms, insert ${fmt(result.insertSeconds, 1)} s`,
    );
    out.push(result);
  }
  return out;
}

async function handoverSection(): Promise<HandoverStartResult> {
  log('handover start: real node → relay → Engage simulator');
  const child = await startChild('bench/sections/handoverStart.ts', {
    env: { STARTS: String(Math.max(20, REPS * 5)) },
    readyTimeoutMs: 300_000,
  });
  const result = child.ready as HandoverStartResult;
  await child.stop();
  return result;
}

interface TarballResult {
  available: boolean;
  bytes?: number;
  buildSeconds?: number;
  note: string;
}

function tarballSection(): TarballResult {
  const script = path.join(repoRoot, 'build.sh');
  try {
    statSync(script);
  } catch {
    return { available: false, note: 'not available (no ./build.sh)' };
  }
  log('tarball: ./build.sh');
  const started = Date.now();
  const run = spawnSync(script, [], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  const buildSeconds = (Date.now() - started) / 1000;
  if (run.status !== 0) {
    const why = `${run.stderr ?? ''}${run.stdout ?? ''}`.trim().split('\n').slice(-3).join(' / ');
    return { available: false, buildSeconds, note: `./build.sh failed (exit ${run.status ?? run.signal}): ${why.slice(0, 300)}` };
  }
  const bytes = statSync(path.join(repoRoot, 'rce-handover.tar.gz')).size;
  return { available: true, bytes, buildSeconds, note: 'rce-handover.tar.gz from ./build.sh' };
}

// ---- report -------------------------------------------------------------------------------

const ms = (s: Spread, digits = 2) =>
  s.n === 0 ? 'n/a' : s.n === 1 ? `${fmt(s.median, digits)}` : `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
const num = (s: Spread) => (s.n === 0 ? 'n/a' : s.n === 1 ? fmtInt(s.median) : `${fmtInt(s.median)} (${fmtInt(s.min)}–${fmtInt(s.max)})`);
const met = (ok: boolean) => (ok ? '**met**' : '**not met**');
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20, 1)} MB`;

interface Report {
  machine: MachineInfo;
  reply: ReplyResults | null;
  scale: ScaleResult[];
  handover: HandoverStartResult | null;
  handoverError?: string;
  tarball: TarballResult | null;
  noisy: string[];
  summary: string[];
  elapsedS: number;
}

function agentReplyTable(r: ReplyResults, relay: TargetName, report: Report): string[] {
  const lines: string[] = [];
  const base = 'baseline';
  const pick = (t: string, m: 'paced' | 'max', f: (x: RunRecord) => number) => spread((r[m][t] ?? []).map(f));
  const note = (label: string, s: Spread) => {
    const line = `${label}: spread ${fmt(100 * s.relSpread, 0)}% of the median (${fmt(s.min, 1)}–${fmt(s.max, 1)})`;
    if (s.relSpread > NOISY && !report.noisy.includes(line)) report.noisy.push(line);
    return s;
  };
  const rpsBase = note(
    `${base} max req/s`,
    pick(base, 'max', (x) => x.load.rps),
  );
  const rpsRelay = note(
    `${relay} max req/s`,
    pick(relay, 'max', (x) => x.load.rps),
  );
  const ratios = spread((r.max[relay] ?? []).map((x, i) => x.load.rps / ((r.max[base] ?? [])[i]?.load.rps ?? Number.NaN)));
  const p50Base = pick(base, 'paced', (x) => x.load.p50Ms);
  const p50Relay = pick(relay, 'paced', (x) => x.load.p50Ms);
  const p99Base = note(
    `${base} p99 @${RATE}/s`,
    pick(base, 'paced', (x) => x.load.p99Ms),
  );
  const p99Relay = note(
    `${relay} p99 @${RATE}/s`,
    pick(relay, 'paced', (x) => x.load.p99Ms),
  );
  const added = spread((r.paced[relay] ?? []).map((x, i) => x.load.p99Ms - ((r.paced[base] ?? [])[i]?.load.p99Ms ?? Number.NaN)));
  const e2eP50 = (t: string) => pick(t, 'paced', (x) => x.endToEnd.p50Ms);
  const e2eP99 = (t: string) => pick(t, 'paced', (x) => x.endToEnd.p99Ms);
  const e2eAdded = spread(
    (r.paced[relay] ?? []).map((x, i) => x.endToEnd.p99Ms - ((r.paced[base] ?? [])[i]?.endToEnd.p99Ms ?? Number.NaN)),
  );
  const maxP50Base = pick(base, 'max', (x) => x.load.p50Ms);
  const maxP50Relay = pick(relay, 'max', (x) => x.load.p50Ms);
  const maxP99Base = pick(base, 'max', (x) => x.load.p99Ms);
  const maxP99Relay = pick(relay, 'max', (x) => x.load.p99Ms);
  const rateBase = pick(base, 'paced', (x) => x.load.rps);
  const rateRelay = pick(relay, 'paced', (x) => x.load.rps);

  const deliveries = (t: string) => [...(r.paced[t] ?? []), ...(r.max[t] ?? [])].map((x) => x.delivery);
  const deliverySummary = (t: string) => {
    const d = deliveries(t);
    const sent = d.reduce((a, x) => a + x.sent, 0);
    const delivered = d.reduce((a, x) => a + x.delivered, 0);
    const dups = d.reduce((a, x) => a + x.duplicates, 0);
    const complete = d.every((x) => x.complete);
    return {
      sent,
      delivered,
      dups,
      complete,
      text: `${fmtInt(delivered)} / ${fmtInt(sent)}, ${dups} duplicates${complete ? '' : ', INCOMPLETE'}`,
    };
  };
  const cpuMax = (t: string) => spread((r.max[t] ?? []).map((x) => x.cpuUsPerReq));
  const cpuPaced = (t: string) => spread((r.paced[t] ?? []).map((x) => x.cpuUsPerReq));
  const drain = (t: string) => spread((r.max[t] ?? []).map((x) => x.delivery.drainMs));
  const refused = (t: string) =>
    [...(r.paced[t] ?? []), ...(r.max[t] ?? [])].reduce((a, x) => a + x.load.refused + x.load.non2xx + x.load.errors, 0);

  const ratioOk = ratios.median >= GOALS.throughputRatio;
  const addedOk = added.median < GOALS.addedP99Ms;
  const e2eAddedOk = e2eAdded.median < GOALS.addedP99Ms;
  lines.push(`| | ${TARGET_LABEL.baseline} | ${TARGET_LABEL[relay]} | relay vs baseline | goal | |`);
  lines.push('|---|---|---|---|---|---|');
  lines.push(
    `| max throughput, ${MAX_CONNECTIONS} connections (req/s) | ${num(rpsBase)} | ${num(rpsRelay)} | ${fmt(ratios.median)}× (${fmt(ratios.min)}–${fmt(ratios.max)}) | ≥ ${GOALS.throughputRatio}× | ${met(ratioOk)} |`,
  );
  lines.push(
    `| latency p50 at ${RATE} msg/s (ms) | ${ms(p50Base, 3)} | ${ms(p50Relay, 3)} | +${fmt(p50Relay.median - p50Base.median, 3)} ms | | |`,
  );
  lines.push(
    `| latency p99 at ${RATE} msg/s (ms) | ${ms(p99Base, 3)} | ${ms(p99Relay, 3)} | +${fmt(added.median, 3)} ms (${fmt(added.min, 3)}–${fmt(added.max, 3)}) | added p99 < ${GOALS.addedP99Ms} ms | ${met(addedOk)} |`,
  );
  lines.push(
    `| reply sent → notify at the Cognigy stub, p50 at ${RATE} msg/s (ms) | ${ms(e2eP50(base), 3)} | ${ms(e2eP50(relay), 3)} | +${fmt(e2eP50(relay).median - e2eP50(base).median, 3)} ms | | |`,
  );
  lines.push(
    `| reply sent → notify at the Cognigy stub, p99 at ${RATE} msg/s (ms) | ${ms(e2eP99(base), 3)} | ${ms(e2eP99(relay), 3)} | +${fmt(e2eAdded.median, 3)} ms (${fmt(e2eAdded.min, 3)}–${fmt(e2eAdded.max, 3)}) | added p99 < ${GOALS.addedP99Ms} ms | ${met(e2eAddedOk)} |`,
  );
  lines.push(`| achieved rate in the paced runs (msg/s) | ${num(rateBase)} | ${num(rateRelay)} | | | |`);
  lines.push(
    `| latency p50 / p99 at max throughput (ms) | ${fmt(maxP50Base.median)} / ${fmt(maxP99Base.median)} | ${fmt(maxP50Relay.median)} / ${fmt(maxP99Relay.median)} | | | |`,
  );
  lines.push(
    `| CPU time of the server process per reply, max runs (µs) | ${num(cpuMax(base))} | ${num(cpuMax(relay))} | ${fmt(cpuMax(relay).median / cpuMax(base).median, 1)}× the CPU | | |`,
  );
  lines.push(
    `| CPU time of the server process per reply, paced runs (µs) | ${num(cpuPaced(base))} | ${num(cpuPaced(relay))} | ${fmt(cpuPaced(relay).median / cpuPaced(base).median, 1)}× the CPU | | |`,
  );
  const relayDelivery = deliverySummary(relay);
  lines.push(
    `| notifies at the Cognigy stub: delivered / accepted (all runs) | ${deliverySummary(base).text} | ${relayDelivery.text} | | every accepted reply, 0 duplicates | ${met(relayDelivery.complete && relayDelivery.dups === 0)} |`,
  );
  const loopP99 = (t: string) => spread((r.paced[t] ?? []).map((x) => x.loop.loopDelayP99Ms));
  const gcMax = (t: string) => spread((r.paced[t] ?? []).map((x) => x.loop.gcMaxMs));
  lines.push(`| event-loop delay p99 in the paced runs (ms, 1 ms sampling) | ${ms(loopP99(base))} | ${ms(loopP99(relay))} | | | |`);
  lines.push(`| longest GC pause in the paced runs (ms) | ${ms(gcMax(base))} | ${ms(gcMax(relay))} | | | |`);
  lines.push(`| outbox backlog drained after a max run (ms after the load ended) | ${ms(drain(base), 0)} | ${ms(drain(relay), 0)} | | | |`);
  lines.push(`| rejected / failed requests (all runs) | ${refused(base)} | ${refused(relay)} | | 0 | |`);
  if (r.rssAfterBytes[relay]) lines.push(`| relay RSS after all runs | | ${mb(r.rssAfterBytes[relay] ?? 0)} | | | |`);
  report.summary.push(
    `${TARGET_LABEL[relay]}: ${fmtInt(rpsRelay.median)} req/s vs baseline ${fmtInt(rpsBase.median)} → ${fmt(ratios.median)}× (goal ≥ ${GOALS.throughputRatio}×: ${ratioOk ? 'met' : 'NOT met'}); ` +
      `p99 at ${RATE}/s ${fmt(p99Relay.median, 3)} ms vs ${fmt(p99Base.median, 3)} ms → +${fmt(added.median, 3)} ms (goal < ${GOALS.addedP99Ms} ms: ${addedOk ? 'met' : 'NOT met'}); ` +
      `sent → at the Cognigy stub p99 +${fmt(e2eAdded.median, 3)} ms (goal < ${GOALS.addedP99Ms} ms: ${e2eAddedOk ? 'met' : 'NOT met'}); ` +
      `CPU ${fmtInt(cpuMax(relay).median)} vs ${fmtInt(cpuMax(base).median)} µs/reply; delivered ${relayDelivery.text}`,
  );
  return lines;
}

function writeReport(report: Report): string {
  const m = report.machine;
  const L: string[] = [];
  L.push('# rce-handover benchmark results');
  L.push('');
  L.push('Generated by `npm run bench` (bench/run.ts); method and profiling notes in [README.md](README.md).');
  L.push('');
  L.push(`- **Machine:** ${m.cpuModel}, ${m.cores} cores, ${m.totalMemGiB} GiB RAM, ${m.platform}`);
  L.push(`- **Node:** ${m.node}`);
  L.push(`- **Date:** ${m.date}`);
  L.push(
    `- **Runs:** ${REPS} repetitions of every load run (${SECONDS} s each, interleaved across targets, after a 3 s warm-up); tables show the **median (min–max)**. Total bench time ${fmt(report.elapsedS / 60, 1)} min.`,
  );
  L.push(
    `- Everything on 127.0.0.1: load generator (autocannon, in the bench process), target server, Cognigy stub and redis-server each in their own process, sharing the ${m.cores} cores.`,
  );
  L.push('');

  if (report.reply) {
    const r = report.reply;
    if (r.targets.includes('relay-sqlite')) {
      L.push('## 1. Agent-reply path (SQLite store)');
      L.push('');
      L.push(
        `Signed \`messages.create\` (unique \`content_id\`, HMAC-SHA512 with the realtime token) → verify → dedup → durable outbox → Cognigy notify on a keep-alive connection to a local stub; ${CONVERSATIONS} conversations with an active handover, replies round robin. ` +
          `Baseline: bare \`node:http\` doing HMAC-SHA512 verify (timingSafeEqual), JSON parse, signed \`{"id"}\` answer, one keep-alive forward to the same stub${BASELINE_UNDICI ? ' (with undici, BENCH_BASELINE_CLIENT=undici)' : ''}. ` +
          `"At ${RATE} msg/s" = ${RATE} requests/s paced evenly over ${PACED_CONNECTIONS} connections for ${SECONDS} s; max throughput = ${MAX_CONNECTIONS} closed-loop connections for ${SECONDS} s. ` +
          `"Delivered" counts distinct content ids at the stub; it can exceed "accepted" by up to the number of connections (requests in flight when a run stopped were processed, their answers not read). ` +
          `CPU time per reply is the server process's user+system time over the run (including its outbox work) divided by accepted replies — much less sensitive to a busy machine than req/s.`,
      );
      L.push('');
      L.push(...agentReplyTable(r, 'relay-sqlite', report));
      L.push('');
    }
    if (r.targets.includes('relay-sqlite-no-receipts')) {
      L.push('## 1b. The same without read receipts (`READ_RECEIPTS=false`)');
      L.push('');
      L.push(
        'Same load and baseline runs; the SQLite relay started with `READ_RECEIPTS=false`, so it makes one outbound call per reply (the notify), as the baseline does. ' +
          'With receipts on (the default, section 1) every reply also costs a signed `status.mark_as_read` to Engage once Cognigy accepted the notify.',
      );
      L.push('');
      L.push(...agentReplyTable(r, 'relay-sqlite-no-receipts', report));
      L.push('');
    }
    if (r.targets.includes('relay-redis')) {
      L.push('## 2. The same with the Redis store (real redis-server)');
      L.push('');
      L.push(
        'Same load, same baseline runs (interleaved in the same session); the relay uses `RedisStore` against a local `redis-server` (no persistence).',
      );
      L.push('');
      L.push(...agentReplyTable(r, 'relay-redis', report));
      L.push('');
    }
  }

  if (report.scale.length) {
    L.push(`## 3. Scale of state: ${fmtInt(SCALE_COUNT)} open handovers`);
    L.push('');
    L.push(
      `A running relay (\`createRelay\`, HTTP listening, outbox idle) whose store holds ${fmtInt(SCALE_COUNT)} conversations with a queued/active handover (plus one dedup key each), inserted through the store API. ` +
        `Then ${fmtInt(SCALE_LOOKUPS)} random lookups, one at a time, each timed; ${REPS} rounds (median (min–max) of the round p99s). RSS is the relay process (\`process.memoryUsage().rss\`).`,
    );
    L.push('');
    L.push(
      '| store | relay RSS after load + lookups | getConversation p50 / p99 (ms) | findConversationByEngageThread p50 / p99 (ms) | insert time | store size | goal | |',
    );
    L.push('|---|---|---|---|---|---|---|---|');
    for (const s of report.scale) {
      const getP99 = spread(s.rounds.map((x) => x.getP99Ms));
      const findP99 = spread(s.rounds.map((x) => x.findP99Ms));
      const getP50 = spread(s.rounds.map((x) => x.getP50Ms));
      const findP50 = spread(s.rounds.map((x) => x.findP50Ms));
      const rssMb = s.rssAfterLookupsBytes / 2 ** 20;
      const ok = rssMb < GOALS.rssMb && getP99.median < GOALS.lookupP99Ms && findP99.median < GOALS.lookupP99Ms;
      const size =
        s.store === 'redis'
          ? `redis-server used_memory ${mb(s.redisUsedMemoryBytes ?? 0)} (RSS ${mb(s.redisRssBytes ?? 0)})`
          : `SQLite file + WAL ${mb(s.sqliteFileBytes ?? 0)}`;
      L.push(
        `| ${s.store} | ${mb(s.rssAfterLookupsBytes)} (before insert ${mb(s.rssBeforeBytes)}) | ${fmt(getP50.median, 3)} / ${ms(getP99, 3)} | ${fmt(findP50.median, 3)} / ${ms(findP99, 3)} | ${fmt(s.insertSeconds, 1)} s | ${size} | RSS < ${GOALS.rssMb} MB, p99 < ${GOALS.lookupP99Ms} ms | ${met(ok)} |`,
      );
      report.summary.push(
        `scale (${s.store}, ${fmtInt(s.count)} handovers): RSS ${fmt(rssMb, 0)} MB, lookup p99 ${fmt(getP99.median, 3)} / ${fmt(findP99.median, 3)} ms (goal RSS < ${GOALS.rssMb} MB, p99 < ${GOALS.lookupP99Ms} ms: ${ok ? 'met' : 'NOT met'})`,
      );
    }
    L.push('');
  }

  if (report.handover || report.handoverError) {
    L.push('## 4. Handover start');
    L.push('');
    if (report.handover) {
      const h = report.handover;
      const calls = h.samples.map((s) => s.nodeHttpCalls);
      const relayCalls = h.samples.map((s) => s.relayApiRequests);
      const callsOk = calls.every((c) => c === GOALS.callsPerExecution) && relayCalls.every((c) => c === GOALS.callsPerExecution);
      const first = spread(h.samples.map((s) => s.firstMessageMs));
      const node = spread(h.samples.map((s) => s.nodeMs));
      const folder = spread(h.samples.map((s) => s.agentFolderMs));
      L.push(
        `Node execution → relay → Engage simulator, ${h.samples.length} handovers in fresh sessions (after one warm-up). Method: ${h.method}. ` +
          `The relay (SQLite) and both simulators run in one process; the Engage simulator imports threads after ${h.importDelayMs} ms and categorizes in ${h.categorizeDurationMs} ms (its defaults in the journey tests).`,
      );
      L.push('');
      L.push('| measure | median (min–max) | goal | |');
      L.push('|---|---|---|---|');
      L.push(
        `| outbound HTTP calls per node execution (socket level, Flow runner) | ${[...new Set(calls)].join(', ')} in all ${calls.length} executions | ${GOALS.callsPerExecution} | ${met(callsOk)} |`,
      );
      L.push(
        `| extension-API requests that reached the relay per execution | ${[...new Set(relayCalls)].join(', ')} in all ${relayCalls.length} executions | ${GOALS.callsPerExecution} | |`,
      );
      L.push(`| node execution time (ms) | ${ms(node, 1)} | | |`);
      L.push(`| time to first Engage message (ms, from the user input) | ${ms(first, 1)} | | |`);
      L.push(`| time until the thread is in the Agent category (ms) | ${ms(folder, 1)} | | |`);
      report.summary.push(
        `handover start: ${[...new Set(calls)].join('/')} call(s) per node execution (goal 1: ${callsOk ? 'met' : 'NOT met'}), first Engage message after ${fmt(first.median, 1)} ms (median)`,
      );
    } else {
      L.push(`Not measured: ${report.handoverError}`);
      report.summary.push(`handover start: not measured (${report.handoverError})`);
    }
    L.push('');
  }

  if (report.tarball) {
    const t = report.tarball;
    L.push('## 5. Extension tarball');
    L.push('');
    L.push('| artifact | size | build time | note |');
    L.push('|---|---|---|---|');
    L.push(
      `| rce-handover.tar.gz | ${t.bytes !== undefined ? `${fmtInt(t.bytes)} bytes (${fmt(t.bytes / 1024, 1)} KiB)` : 'not available'} | ${t.buildSeconds !== undefined ? `${fmt(t.buildSeconds, 1)} s` : ''} | ${t.note} |`,
    );
    L.push('');
    report.summary.push(`tarball: ${t.bytes !== undefined ? `${fmtInt(t.bytes)} bytes` : t.note}`);
  }

  L.push('## Noise');
  L.push('');
  if (report.noisy.length) {
    L.push(
      `Measures with a min–max spread above ${NOISY * 100}% of the median — the machine was noisy (shared cores, other load); read those medians with care, and prefer the CPU time per reply, which a busy machine disturbs much less:`,
    );
    L.push('');
    for (const n of report.noisy) L.push(`- ${n}`);
  } else {
    L.push(`Every repeated measure stayed within ${NOISY * 100}% of its median.`);
  }
  L.push('');
  writeFileSync(OUT, `${L.join('\n')}\n`);
  return OUT;
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = machineInfo();
  log(
    `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; ${REPS}× ${SECONDS} s runs; sections: ${[...SECTIONS].join(', ')}`,
  );
  const report: Report = { machine, reply: null, scale: [], handover: null, tarball: null, noisy: [], summary: [], elapsedS: 0 };

  let redis: RedisServerHandle | null = null;
  let stub: BenchChild | null = null;
  try {
    if (SECTIONS.has('redis') || SECTIONS.has('scale')) redis = await startRedisServer();
    if (SECTIONS.has('reply') || SECTIONS.has('redis')) {
      stub = await startChild('bench/targets/cognigyStub.ts');
      report.reply = await agentReplySections(stub, (stub.ready as { url: string }).url, redis?.url ?? null);
      await stub.stop();
      stub = null;
    }
    if (SECTIONS.has('scale')) report.scale = await scaleSection(redis?.url ?? null);
    if (SECTIONS.has('handover')) {
      try {
        report.handover = await handoverSection();
      } catch (err) {
        report.handoverError = (err as Error).message.split('\n')[0] ?? 'failed';
        log(`handover start failed: ${report.handoverError}`);
      }
    }
    if (SECTIONS.has('tarball')) report.tarball = tarballSection();
  } finally {
    await stub?.stop();
    await redis?.stop();
  }
  report.elapsedS = (Date.now() - started) / 1000;
  const file = writeReport(report);
  console.log('');
  console.log(`rce-handover bench — ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`);
  for (const line of report.summary) console.log(`  • ${line}`);
  if (report.noisy.length) console.log(`  ! noisy machine: ${report.noisy.length} measure(s) spread > ${NOISY * 100}% (see results)`);
  console.log(`  results: ${path.relative(repoRoot, file)} (${fmt(report.elapsedS / 60, 1)} min)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
