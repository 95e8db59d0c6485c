import path from 'node:path';
import pino from 'pino';
import type { CompleteResult, OutboxJob, OutboxQueue } from '../relay/src/store/types';
import { alternatingRounds, printAlternating } from './lib/alternatingRounds';

/**
 * `npx tsx bench/outboxWorkerMicro.ts [tree]`: CPU per job of the outbox worker's own bookkeeping
 * around a delivery — `runLeased`, the run/complete promise chain and the metrics wrapper
 * (`RelayMetrics.timeDeliveries`) — with a store and an executor that answer at once, so only
 * the relay's JavaScript between "a write leased a job" and "its completion is recorded" is
 * measured. With `tree` (another checkout's root) both trees' worker code alternate in short
 * rounds in this one process. Knobs: N (jobs per round and side, 20000), IN_FLIGHT (32), ROUNDS (30). No assertions.
 */

type WorkerModule = typeof import('../relay/src/outbox/worker');
type MetricsModule = typeof import('../relay/src/metrics/relayMetrics');

const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 32);

interface Side {
  name: string;
  runRound(jobs: OutboxJob[]): Promise<void>;
}

async function load(name: string, tree: string): Promise<Side> {
  const { OutboxWorker } = (await import(path.join(tree, 'relay/src/outbox/worker.ts'))) as WorkerModule;
  const { RelayMetrics } = (await import(path.join(tree, 'relay/src/metrics/relayMetrics.ts'))) as MetricsModule;
  let done = 0;
  const completed: CompleteResult = { completed: true, next: null, nextDueAt: null };
  const queue = {
    complete: () => {
      done += 1;
      return Promise.resolve(completed);
    },
  } as unknown as OutboxQueue;
  const counts = { delivered: 0, retried: 0, gaveUp: 0 };
  const metrics = new RelayMetrics({
    outboxCounts: () => counts,
    outboxStats: () => Promise.resolve(null),
    tenantIds: ['t'],
    engageRestPerMinute: 500,
  });
  const worker = new OutboxWorker({
    queue,
    logger: pino({ level: 'silent' }),
    onGiveUp: () => Promise.resolve(),
    // The executor the relay wires in, minus the HTTP call: the metrics wrapper around an async executor.
    execute: metrics.timeDeliveries(async () => undefined),
    metrics: counts,
  });
  return {
    name,
    runRound: (jobs) =>
      new Promise<void>((resolve) => {
        done = 0;
        let fed = 0;
        // As writes hand them over: once per turn of the event loop, up to IN_FLIGHT jobs in the worker's hands.
        const feed = (): void => {
          const room = IN_FLIGHT - (fed - done);
          if (room > 0 && fed < jobs.length) {
            const batch = jobs.slice(fed, fed + room);
            fed += batch.length;
            worker.runLeased(batch);
          }
          if (done === jobs.length) resolve();
          else setImmediate(feed);
        };
        feed();
      }),
  };
}

function jobsFor(n: number, round: number): OutboxJob[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    id: `j${round}-${i}`,
    seq: i,
    tenantId: 't',
    threadId: `th${i}`,
    lane: `t/th${i}/cognigy`,
    kind: 'cognigy.notify',
    payload: {},
    deadlineAt: now + 60_000,
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
    lastError: null,
  }));
}

async function main(): Promise<void> {
  const n = Number(process.env.N ?? 20_000);
  const rounds = Number(process.env.ROUNDS ?? 30);
  const here = path.join(__dirname, '..');
  const other = process.argv[2] ? path.resolve(process.argv[2]) : null;
  const sides = [await load('this tree', here), ...(other ? [await load(`other (${other})`, other)] : [])];
  const perJob = async (side: Side, round: number): Promise<number> => {
    const jobs = jobsFor(n, round);
    const t = process.cpuUsage();
    await side.runRound(jobs);
    const u = process.cpuUsage(t);
    return (u.user + u.system) / n;
  };
  for (const side of sides) await perJob(side, -1); // warm-up
  const result = await alternatingRounds(sides, rounds, perJob);
  printAlternating(result, `${rounds} rounds of ${n} jobs per side`, 'µs per job', 2);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
