import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { OutboxJob, Store } from '../store/types';
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
 */
export class OutboxWorker {
  readonly owner = `relay-${randomUUID()}`;
  readonly metrics: OutboxMetrics;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private kicked = false;
  private readonly clock: () => number;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.clock = options.clock ?? Date.now;
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

  /** Stops claiming; waits for the jobs in flight to finish (bounded by their HTTP timeouts). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Processes everything due now, then returns (tests and graceful shutdown). */
  async drainOnce(): Promise<number> {
    const jobs = await this.options.store.claimDueJobs({ now: this.clock(), limit: this.options.batchSize ?? 32, owner: this.owner, leaseMs: this.options.leaseMs ?? 30_000 });
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
      if (await store.completeJob(job, this.owner)) this.metrics.delivered += 1;
      else logger.warn(log, 'outbox lease lost before completion; another relay owns the lane now');
      return;
    } catch (err) {
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
        logger.warn({ ...log, error: failure.message, retryInMs: delay }, 'outbox job failed; will retry');
      }
    }
  }
}
