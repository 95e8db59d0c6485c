import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { LeaseRequest, OutboxJob, Store } from '../store/types';
import { backoffDelayMs } from './backoff';
import { DeliveryError } from './deliveryError';

export type JobExecutor = (job: OutboxJob) => Promise<void>;

export interface OutboxWorkerOptions {
  store: Store;
  execute: JobExecutor;
  /** Told when a job is abandoned (deadline passed or permanent error). */
  onGiveUp: (job: OutboxJob, reason: string) => Promise<void>;
  logger: Logger;
  clock?: () => number;
  leaseMs?: number;
  batchSize?: number;
  idlePollMs?: number;
  backoff?: { baseMs: number; capMs: number };
  metrics?: OutboxMetrics;
}

export interface OutboxMetrics {
  delivered: number;
  retried: number;
  gaveUp: number;
}

/**
 * Runs due outbox jobs: the head of each lane, one at a time per lane, many lanes in parallel.
 * Leases make several relays on one store safe; a relay that dies leaves leases that expire.
 *
 * Jobs reach it three ways: a write that opens an empty lane leases its job to this worker
 * (`runLeased`, no claim round trip — the common case: one reply, one notify); completing a job
 * leases the lane's next job if it is due (a burst in one lane runs back to back); everything
 * else (retries, lanes busy when the job was written, other relays' leftovers) is claimed by the
 * polling loop.
 */
export class OutboxWorker {
  readonly owner = `relay-${randomUUID()}`;
  readonly metrics: OutboxMetrics;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private kicked = false;
  private readonly clock: () => number;
  private readonly leaseMs: number;
  /** Jobs started by `runLeased`, awaited by `stop`. */
  private readonly inFlight = new Set<Promise<void>>();
  /** An early wake-up for a job that becomes due before the next poll (a delayed or retried head). */
  private dueTimer: NodeJS.Timeout | null = null;
  private dueTimerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.clock = options.clock ?? Date.now;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.metrics = options.metrics ?? { delivered: 0, retried: 0, gaveUp: 0 };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New jobs were enqueued: look now instead of at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** The lease a write may take for this worker; null once stopping, so nothing new is leased to a relay on its way out. */
  leaseRequest(): LeaseRequest | null {
    return this.running ? { owner: this.owner, leaseMs: this.leaseMs } : null;
  }

  /** Runs jobs a write has leased to this worker (see `Store.applyLeasing`). */
  runLeased(jobs: readonly OutboxJob[]): void {
    for (const job of jobs) {
      const run = this.runJob(job).catch((err: Error) => this.options.logger.error({ jobId: job.id, err: { message: err.message } }, 'outbox job bookkeeping failed; its lease will expire and it runs again'));
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }
  }

  /** Stops claiming; waits for the jobs in flight to finish (bounded by their HTTP timeouts). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    this.wake?.();
    await this.loop;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Processes everything due now, then returns (tests and graceful shutdown). */
  async drainOnce(): Promise<number> {
    const jobs = await this.options.store.claimDueJobs({ now: this.clock(), limit: this.options.batchSize ?? 32, owner: this.owner, leaseMs: this.leaseMs });
    await Promise.all(jobs.map((job) => this.runJob(job)));
    return jobs.length;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let processed = 0;
      try {
        this.kicked = false;
        processed = await this.drainOnce();
      } catch (err) {
        this.options.logger.error({ err: { message: (err as Error).message } }, 'outbox claim failed (store unavailable?)');
      }
      if (processed === 0 && !this.kicked && this.running) await this.sleep(this.options.idlePollMs ?? 200);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async runJob(job: OutboxJob): Promise<void> {
    const { store, logger } = this.options;
    const log = { jobId: job.id, kind: job.kind, lane: job.lane, attempt: job.attempts + 1 };
    try {
      await this.options.execute(job);
    } catch (err) {
      await this.recordFailure(job, err, log);
      return;
    }
    // While running, the lane's next due job is leased to us in the same write and runs right away.
    const { completed, next, nextDueAt } = this.running ? await store.completeLeasingNext(job, this.owner, this.leaseMs) : { completed: await store.completeJob(job, this.owner), next: null, nextDueAt: null };
    if (completed) this.metrics.delivered += 1;
    else logger.warn(log, 'outbox lease lost before completion; another relay owns the lane now');
    if (nextDueAt !== null) this.wakeAt(nextDueAt);
    if (next) await this.runJob(next);
  }

  /** Claims again at `at` if that is before the next poll (never later: the poll still runs). */
  private wakeAt(at: number): void {
    if (!this.running || at >= this.dueTimerAt) return;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimerAt = at;
    // +1: libuv's timer clock can run up to a millisecond behind Date.now(), and a claim a hair early finds nothing.
    const delay = Math.min(Math.max(0, at - this.clock()) + 1, this.options.idlePollMs ?? 200);
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null;
      this.dueTimerAt = Number.POSITIVE_INFINITY;
      if (at > this.clock()) this.wakeAt(at);
      else this.kick();
    }, delay);
    this.dueTimer.unref();
  }

  /** A failed attempt: rescheduled with backoff, or dead-lettered once permanent or past the deadline. */
  private async recordFailure(job: OutboxJob, err: unknown, log: Record<string, unknown>): Promise<void> {
    const { store, logger } = this.options;
    const failure = err instanceof DeliveryError ? err : new DeliveryError(`unexpected: ${(err as Error).message}`, true);
    const now = this.clock();
    const delay = Math.max(failure.retryAfterMs ?? 0, backoffDelayMs(job.attempts, this.options.backoff ?? { baseMs: 250, capMs: 30_000 }));
    if (!failure.retryable || now + delay > job.deadlineAt) {
      const reason = failure.retryable ? `gave up after ${job.attempts + 1} attempts: ${failure.message}` : failure.message;
      if (await store.deadLetterJob(job, this.owner, reason)) {
        this.metrics.gaveUp += 1;
        logger.error({ ...log, reason }, 'outbox job abandoned');
        await this.options.onGiveUp(job, reason).catch((e: Error) => logger.error({ ...log, err: { message: e.message } }, 'give-up handling failed'));
      }
      return;
    }
    if (await store.retryJob(job, this.owner, { nextAttemptAt: now + delay, error: failure.message })) {
      this.metrics.retried += 1;
      this.wakeAt(now + delay);
      logger.warn({ ...log, error: failure.message, retryInMs: delay }, 'outbox job failed; will retry');
    }
  }
}
