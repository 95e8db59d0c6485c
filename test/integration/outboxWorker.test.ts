import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../relay/src/log';
import { DeliveryError } from '../../relay/src/outbox/deliveryError';
import { OutboxWorker, type JobExecutor, type OutboxWorkerOptions } from '../../relay/src/outbox/worker';
import type { CompleteResult, LeaseRequest, NewOutboxJob, OutboxJob, Store } from '../../relay/src/store/types';
import { sleep, waitUntil } from '../helpers/waitUntil';
import { openTestStore, testRedisUrl } from '../helpers/relayParts';

/**
 * The outbox worker with a real store: jobs a write leases to it (`runLeased`), the lane's next
 * job leased on completion (`complete` with leaseNext), and a stop that waits for what is in flight.
 * The executor is the test's: it records what ran and can hold a job until the test lets it go.
 */

const tempDirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Workers first (they use the stores), then the stores.
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openSqlite(): Promise<Store> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-worker-'));
  tempDirs.push(dir);
  const store = await openTestStore({ sqliteFile: path.join(dir, 'relay.db') });
  cleanups.push(() => store.close());
  return store;
}

async function openRedis(): Promise<Store> {
  const store = await openTestStore({ redisUrl: testRedisUrl(), keyPrefix: `test:worker:${randomUUID()}:` });
  cleanups.push(() => store.close());
  return store;
}

interface Gate {
  promise: Promise<void>;
  open(): void;
}
function gate(): Gate {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Lanes of one conversation (`<tenant>/<thread>/<name>`): a write's jobs belong to one conversation. */
const laneOf = (name: string): string => `tenant-a/t1/${name}`;

function job(lane: string, payload: number | string): NewOutboxJob {
  return { tenantId: 'tenant-a', threadId: 't1', lane: laneOf(lane), kind: 'engage.send', payload, deadlineAt: Date.now() + 60_000 };
}

interface WorkerRig {
  worker: OutboxWorker;
  logLines: string[];
  gaveUp: string[];
}

function startWorker(store: Store, execute: JobExecutor, options: Partial<OutboxWorkerOptions> = {}, start = true): WorkerRig {
  const logLines: string[] = [];
  const gaveUp: string[] = [];
  const logger = createLogger({ level: 'debug', secrets: [], destination: { write: (line: string) => void logLines.push(line) } });
  const worker = new OutboxWorker({
    queue: store,
    execute,
    onGiveUp: async (j, reason) => {
      gaveUp.push(`${String(j.payload)}: ${reason}`);
    },
    logger,
    leaseMs: 30_000,
    idlePollMs: 10,
    backoff: { baseMs: 10, capMs: 40 },
    ...options,
  });
  if (start) worker.start();
  cleanups.push(() => worker.stop());
  return { worker, logLines, gaveUp };
}

function leaseOf(worker: OutboxWorker): LeaseRequest {
  const lease = worker.leaseRequest();
  if (!lease) throw new Error('the worker is not running: no lease request');
  return lease;
}

/** Records every job handed out by claimDueJobs and every completion that asked to lease the next job. */
function observe(store: Store): { claimed: OutboxJob[]; completions: CompleteResult[] } {
  const claimed: OutboxJob[] = [];
  const completions: CompleteResult[] = [];
  const claim = store.claimDueJobs.bind(store);
  const complete = store.complete.bind(store);
  jest.spyOn(store, 'claimDueJobs').mockImplementation(async (o) => {
    const jobs = await claim(o);
    claimed.push(...jobs);
    return jobs;
  });
  jest.spyOn(store, 'complete').mockImplementation(async (j, owner, leaseNext) => {
    const result = await complete(j, owner, leaseNext);
    if (leaseNext) completions.push(result);
    return result;
  });
  return { claimed, completions };
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe.each<[string, () => Promise<Store>]>([
  ['sqlite', openSqlite],
  ['redis', openRedis],
])('OutboxWorker on %s', (_kind, openStore) => {
  it('offers a lease request only while running', async () => {
    const store = await openStore();
    const { worker } = startWorker(store, async () => undefined, { leaseMs: 12_345 }, false);
    expect(worker.leaseRequest()).toBeNull();
    worker.start();
    expect(worker.leaseRequest()).toEqual({ owner: worker.owner, leaseMs: 12_345 });
    await worker.stop();
    expect(worker.leaseRequest()).toBeNull();
    // Started again, it offers leases again.
    worker.start();
    expect(worker.leaseRequest()).toEqual({ owner: worker.owner, leaseMs: 12_345 });
  });

  it('claims other lanes while one lane works through a long backlog', async () => {
    const store = await openStore();
    const held = gate();
    const done: unknown[] = [];
    // Lane A: a backlog whose first job hangs; lane B (another conversation) arrives afterwards.
    await store.apply({ jobs: [0, 1, 2].map((i) => ({ ...job('A', `a${i}`), threadId: 'long', lane: 'tenant-a/long/engage' })) });
    let started = false;
    const { worker } = startWorker(store, async (j) => {
      if (j.payload === 'a0') {
        started = true;
        await held.promise;
      }
      done.push(j.payload);
    });
    await waitUntil('a0 running', () => started);
    await store.apply({ jobs: [{ ...job('B', 'b0'), threadId: 'short', lane: 'tenant-a/short/engage' }] });
    worker.kick();
    await waitUntil('b0 done while a0 still hangs', () => done.includes('b0'), { timeoutMs: 3_000 });
    expect(done).toEqual(['b0']);
    held.open();
    await waitUntil('lane A drained', () => done.length === 4);
    expect(done).toEqual(['b0', 'a0', 'a1', 'a2']);
  });

  it('renews the lease of a job that runs longer than the lease', async () => {
    const store = await openStore();
    const held = gate();
    await store.apply({ jobs: [job('A', 'long')] });
    let running = false;
    const { worker } = startWorker(
      store,
      async () => {
        running = true;
        await held.promise;
      },
      { leaseMs: 300 },
    );
    await waitUntil('running', () => running);
    await new Promise((r) => setTimeout(r, 900)); // three lease lengths
    expect(await store.claimDueJobs({ now: Date.now(), limit: 5, owner: 'other', leaseMs: 1_000 })).toEqual([]);
    held.open();
    await waitUntil('completed', async () => (await store.outboxStats()).pending === 0);
    expect(worker.metrics.delivered).toBe(1);
  });

  it('runs the jobs a write leased to it, and stop() waits for them to finish', async () => {
    const store = await openStore();
    const slow = gate();
    const started: unknown[] = [];
    const finished: unknown[] = [];
    const { worker, logLines } = startWorker(store, async (j) => {
      started.push(j.payload);
      if (j.payload === 'slow') await slow.promise;
      finished.push(j.payload);
    });

    const { outcome, leased } = await store.apply({ jobs: [job('A', 'slow'), job('B', 'fast')] }, leaseOf(worker));
    expect(outcome).toBe('applied');
    expect(leased.map((j) => j.payload)).toEqual(['slow', 'fast']);
    worker.runLeased(leased);
    await waitUntil(
      'both leased jobs started and the fast one finished',
      async () => started.length === 2 && (await store.outboxStats()).pending === 1,
    );
    expect(finished).toEqual(['fast']);

    // Another job for A while 'slow' is in flight: it waits in the lane, not leased.
    expect(await store.apply({ jobs: [job('A', 'a2')] }, leaseOf(worker))).toEqual({ outcome: 'applied', leased: [] });

    let stopped = false;
    const stopping = worker.stop().then(() => {
      stopped = true;
    });
    // Stopping: nothing new may be leased to this worker any more.
    expect(worker.leaseRequest()).toBeNull();
    await sleep(50);
    expect(stopped).toBe(false);
    expect(finished).toEqual(['fast']);

    slow.open();
    await stopping;
    expect(finished).toEqual(['fast', 'slow']);
    expect(worker.metrics).toMatchObject({ delivered: 2, retried: 0, gaveUp: 0 });
    // Completed on the way out without leasing A's next job: another relay can claim it at once.
    expect(await store.outboxStats()).toMatchObject({ pending: 1 });
    const taken = await store.claimDueJobs({ now: Date.now(), limit: 10, owner: 'other-relay', leaseMs: 30_000 });
    expect(taken.map((j) => j.payload)).toEqual(['a2']);
    expect(started).not.toContain('a2');
    expect(logLines.filter((l) => /lease lost|bookkeeping failed/.test(l))).toEqual([]);
  });

  it('logs a leased job whose bookkeeping failed, and stop() waits only for the jobs still running', async () => {
    const store = await openStore();
    const slow = gate();
    const finished: unknown[] = [];
    const { worker, logLines } = startWorker(store, async (j) => {
      if (j.payload === 'fails') throw new DeliveryError('HTTP 503', true);
      await slow.promise;
      finished.push(j.payload);
    });
    // The failed attempt cannot be recorded: the store refuses the retry write.
    jest.spyOn(store, 'retryJob').mockRejectedValue(new Error('store unavailable'));
    const { leased } = await store.apply({ jobs: [job('A', 'fails'), job('B', 'slow')] }, leaseOf(worker));
    worker.runLeased(leased);
    await waitUntil('the failure was logged', () => logLines.some((l) => /bookkeeping failed/.test(l)));

    let stopped = false;
    const stopping = worker.stop().then(() => {
      stopped = true;
    });
    await sleep(50);
    expect(stopped).toBe(false);
    slow.open();
    await stopping;
    expect(finished).toEqual(['slow']);
    expect(logLines.filter((l) => /bookkeeping failed/.test(l))).toHaveLength(1);
    expect(worker.metrics).toMatchObject({ delivered: 1, retried: 0 });
  });

  it('runs a burst in one lane in order, back to back through complete with leaseNext, each job once', async () => {
    const store = await openStore();
    const { claimed, completions } = observe(store);
    const first = gate();
    const executed: unknown[] = [];
    const { worker, logLines } = startWorker(store, async (j) => {
      executed.push(j.payload);
      if (j.payload === 0) await first.promise;
    });
    // A second relay polling the same store must never get any of them.
    const otherExecuted: unknown[] = [];
    const other = startWorker(store, async (j) => {
      otherExecuted.push(j.payload);
    });

    const opened = await store.apply({ jobs: [job('L', 0)] }, leaseOf(worker));
    expect(opened.leased.map((j) => j.payload)).toEqual([0]);
    worker.runLeased(opened.leased);
    await waitUntil('the first job is in flight', () => executed.length === 1);

    // The burst: one job per write, then several in one write, as the engine would send them.
    for (let i = 1; i <= 10; i++) {
      expect(await store.apply({ jobs: [job('L', i)] }, leaseOf(worker))).toEqual({ outcome: 'applied', leased: [] });
      worker.kick();
    }
    const many = Array.from({ length: 10 }, (_, k) => job('L', 11 + k));
    expect(await store.apply({ jobs: many }, leaseOf(worker))).toEqual({ outcome: 'applied', leased: [] });
    worker.kick();
    expect(executed).toEqual([0]);

    first.open();
    await waitUntil('the whole burst ran', async () => executed.length >= 21 && (await store.outboxStats()).pending === 0);
    await worker.stop();
    await other.worker.stop();

    expect(executed).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(otherExecuted).toEqual([]);
    // None of them went through a claim: the first was leased by the write, each next one by the completion.
    expect(claimed.filter((j) => j.lane === laneOf('L'))).toEqual([]);
    expect(completions.map((c) => [c.completed, c.next?.payload ?? null])).toEqual(
      Array.from({ length: 21 }, (_, i) => [true, i < 20 ? i + 1 : null]),
    );
    expect(worker.metrics).toMatchObject({ delivered: 21, retried: 0, gaveUp: 0 });
    expect(await store.outboxStats()).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });
    expect(logLines.filter((l) => /lease lost|bookkeeping failed/.test(l))).toEqual([]);
  });

  it('a failure inside a burst stops the chain; the retry keeps lane order and the rest follows it', async () => {
    const store = await openStore();
    const first = gate();
    const executed: unknown[] = [];
    let failedOnce = false;
    const { worker } = startWorker(store, async (j) => {
      executed.push(j.payload);
      if (j.payload === 0) await first.promise;
      if (j.payload === 2 && !failedOnce) {
        failedOnce = true;
        throw new DeliveryError('HTTP 503', true);
      }
    });
    const opened = await store.apply({ jobs: [job('L', 0)] }, leaseOf(worker));
    worker.runLeased(opened.leased);
    await waitUntil('the first job is in flight', () => executed.length === 1);
    expect(await store.apply({ jobs: [1, 2, 3, 4].map((i) => job('L', i)) }, leaseOf(worker))).toEqual({ outcome: 'applied', leased: [] });
    first.open();

    await waitUntil('the lane drained', async () => (await store.outboxStats()).pending === 0 && executed.length >= 6);
    expect(executed).toEqual([0, 1, 2, 2, 3, 4]);
    expect(worker.metrics).toMatchObject({ delivered: 5, retried: 1, gaveUp: 0 });
  });

  it('wakes up for a lane job that becomes due, instead of waiting for the next poll', async () => {
    const store = await openStore();
    const executed: unknown[] = [];
    // A poll interval far beyond the test's patience: only the wake-up at the due time can run 'later'.
    const { worker } = startWorker(
      store,
      async (j) => {
        executed.push(j.payload);
      },
      { idlePollMs: 60_000 },
    );
    const opened = await store.apply({ jobs: [job('L', 'now'), { ...job('L', 'later'), notBefore: Date.now() + 150 }] }, leaseOf(worker));
    expect(opened.leased.map((j) => j.payload)).toEqual(['now']);
    worker.runLeased(opened.leased);
    await waitUntil('the delayed job ran', () => executed.length === 2, { timeoutMs: 5_000 });
    expect(executed).toEqual(['now', 'later']);
  });
});
