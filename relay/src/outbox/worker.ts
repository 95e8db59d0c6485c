import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CompleteResult, LeaseRequest, OutboxJob, OutboxQueue } from '../store/types';
import { backoffDelayMs } from './backoff';
import { DeliveryError } from './deliveryError';

/** Default lease: a dead relay's lanes are taken over within this time (plus one poll). */
export const DEFAULT_LEASE_MS = 8_000;
/** On shutdown, a completion that cannot be written is retried this long, then left to the lease. */
const COMPLETION_RETRY_WHILE_STOPPING_MS = 3_000;

export type JobExecutor = (job: OutboxJob) => Promise<void>;

export interface OutboxWorkerOptions {
  /** The worker needs only the queue half of the store. */
  queue: OutboxQueue;
  execute: JobExecutor;
  /** Told when a job is abandoned (deadline passed or permanent error). */
  onGiveUp: (job: OutboxJob, reason: string) => Promise<void>;
  logger: Logger;
  clock?: () => number;
  /**
   * This relay's stable identity as lease owner. A relay restarted under the same id releases the
   * leases it held when it died, so its work runs again at once instead of after the lease expires.
   */
  owner?: string;
  /** Lease length; renewed every third of it while a job runs, so only a dead relay's leases expire. */
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
  readonly owner: string;
  readonly metrics: OutboxMetrics;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private kicked = false;
  private readonly clock: () => number;
  private readonly leaseMs: number;
  /** What a write (and a completion, for the lane's next due job) asks for while running: one object each, read only. */
  private readonly lease: LeaseRequest;
  private readonly leaseNext: { readonly leaseMs: number };
  /** Jobs started by `runLeased` and not finished yet; `stop` waits until none is left. */
  private inFlight = 0;
  private whenIdle: (() => void)[] = [];
  /** An early wake-up for a job that becomes due before the next poll (a delayed or retried head). */
  private dueTimer: NodeJS.Timeout | null = null;
  private dueTimerAt = Number.POSITIVE_INFINITY;
  /** Jobs this worker holds a lease on right now (one per lane), renewed until they are done. */
  private readonly held = new Map<string, OutboxJob>();
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.clock = options.clock ?? Date.now;
    this.owner = options.owner ?? `relay-${randomUUID()}`;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.lease = { owner: this.owner, leaseMs: this.leaseMs };
    this.leaseNext = { leaseMs: this.leaseMs };
    this.metrics = options.metrics ?? { delivered: 0, retried: 0, gaveUp: 0 };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.renewTimer = setInterval(() => void this.renewHeld(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
    this.loop = this.run();
  }

  /** Extends the lease of every job in hand; a store blip only delays it (the next tick tries again). */
  private async renewHeld(): Promise<void> {
    await Promise.all(
      [...this.held.values()].map((job) =>
        this.options.queue.renewLease(job, this.owner, this.leaseMs).then(
          (ok) => {
            if (!ok && this.held.get(job.lane) === job)
              this.options.logger.warn({ jobId: job.id, lane: job.lane }, 'outbox lease lost while the job ran');
          },
          () => undefined,
        ),
      ),
    );
  }

  /** New jobs were enqueued: look now instead of at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** The lease a write may take for this worker; null once stopping, so nothing new is leased to a relay on its way out. */
  leaseRequest(): LeaseRequest | null {
    return this.running ? this.lease : null;
  }

  /** Runs jobs a write has leased to this worker (see `ConversationStore.apply` with a lease). */
  runLeased(jobs: readonly OutboxJob[]): void {
    for (const job of jobs) {
      // Still in our hands (its lease ran out while, e.g., its completion waited for the store):
      // the claim just renewed our lease; running it again would send it twice.
      if (this.held.get(job.lane)?.id === job.id) continue;
      this.inFlight += 1;
      void this.runLeasedJob(job);
    }
  }

  /** `runJob` for a job nobody awaits: its failure is logged, and `stop` learns when it is done (no promise kept per job). */
  private async runLeasedJob(job: OutboxJob): Promise<void> {
    try {
      await this.runJob(job);
    } catch (err) {
      this.options.logger.error(
        { jobId: job.id, err: { message: (err as Error).message } },
        'outbox job bookkeeping failed; its lease will expire and it runs again',
      );
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0 && this.whenIdle.length > 0) {
        const waiting = this.whenIdle;
        this.whenIdle = [];
        for (const resolve of waiting) resolve();
      }
    }
  }

  /** Stops claiming; waits for the jobs in flight to finish (bounded by their HTTP timeouts). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    this.wake?.();
    await this.loop;
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.whenIdle.push(resolve));
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  private stopping = false;

  /** Processes everything due now, then returns (tests and graceful shutdown). */
  async drainOnce(): Promise<number> {
    const jobs = await this.options.queue.claimDueJobs({
      now: this.clock(),
      limit: this.options.batchSize ?? 32,
      owner: this.owner,
      leaseMs: this.leaseMs,
    });
    await Promise.all(jobs.map((job) => this.runJob(job)));
    return jobs.length;
  }

  /**
   * Claims while there is room and hands the jobs over without waiting for them: a lane with a
   * long backlog (run back to back by `complete` with leaseNext) never holds up claims of other lanes.
   */
  private async run(): Promise<void> {
    let reclaimed = false;
    const batch = this.options.batchSize ?? 32;
    while (this.running) {
      let claimed = 0;
      try {
        this.kicked = false;
        if (!reclaimed) {
          const n = await this.options.queue.releaseLeasesOf(this.owner);
          if (n > 0)
            this.options.logger.info({ owner: this.owner, lanes: n }, 'outbox: took back the leases this relay held before it restarted');
          reclaimed = true;
        }
        const room = batch - this.held.size;
        if (room > 0) {
          const jobs = await this.options.queue.claimDueJobs({ now: this.clock(), limit: room, owner: this.owner, leaseMs: this.leaseMs });
          claimed = jobs.length;
          this.runLeased(jobs);
        }
      } catch (err) {
        this.options.logger.error({ err: { message: (err as Error).message } }, 'outbox claim failed (store unavailable?)');
      }
      if (claimed === 0 && !this.kicked && this.running) await this.sleep(this.options.idlePollMs ?? 200);
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

  /** Runs a job this worker holds the lease on, then the lane's next jobs as long as each completion leases one to us. */
  private async runJob(first: OutboxJob): Promise<void> {
    let job: OutboxJob | null = first;
    while (job) {
      const current: OutboxJob = job;
      this.held.set(current.lane, current);
      try {
        job = await this.runHeldJob(current);
      } finally {
        if (this.held.get(current.lane) === current) this.held.delete(current.lane);
      }
    }
  }

  /**
   * Completes a delivered job, retrying while the store is unreachable: the lease is still ours
   * (renewed, and nobody can claim from a store that is down), so the job is not sent twice.
   * Once stopping, it retries for a bounded time only. (The common case, one write that succeeds,
   * costs no async frame of its own.)
   */
  private completeDelivered(job: OutboxJob): Promise<CompleteResult> {
    const startedAt = Date.now();
    return this.options.queue
      .complete(job, this.owner, this.leaseNextRequest())
      .then(undefined, (err: unknown) => this.completeAfterFailure(job, err, startedAt));
  }

  /** Once stopping, nothing new is leased to this relay: the lane's next job waits for the next claim. */
  private leaseNextRequest(): { leaseMs: number } | undefined {
    return this.running ? this.leaseNext : undefined;
  }

  private async completeAfterFailure(job: OutboxJob, firstError: unknown, startedAt: number): Promise<CompleteResult> {
    const { queue, logger } = this.options;
    const giveUpAt = startedAt + COMPLETION_RETRY_WHILE_STOPPING_MS;
    let err = firstError;
    let delay = 50;
    let warned = false;
    for (;;) {
      if (this.stopping && Date.now() > giveUpAt) throw err;
      if (!warned)
        logger.warn(
          { jobId: job.id, lane: job.lane, err: { message: (err as Error).message } },
          'outbox completion failed (store unavailable?); retrying while holding the lease',
        );
      warned = true;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1_000);
      try {
        const result = await queue.complete(job, this.owner, this.leaseNextRequest());
        logger.info({ jobId: job.id, lane: job.lane }, 'outbox completion recorded after the store came back');
        return result;
      } catch (next) {
        err = next;
      }
    }
  }

  private async runHeldJob(job: OutboxJob): Promise<OutboxJob | null> {
    try {
      await this.options.execute(job);
    } catch (err) {
      await this.recordFailure(job, err, logFieldsOf(job));
      return null;
    }
    // While running, the lane's next due job is leased to us in the same write and runs right away.
    const { completed, next, nextDueAt } = await this.completeDelivered(job);
    if (completed) this.metrics.delivered += 1;
    else this.options.logger.warn(logFieldsOf(job), 'outbox lease lost before completion; another relay owns the lane now');
    if (nextDueAt !== null) this.wakeAt(nextDueAt);
    return next;
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
    const { queue, logger } = this.options;
    const failure = err instanceof DeliveryError ? err : new DeliveryError(`unexpected: ${(err as Error).message}`, true);
    const now = this.clock();
    const delay = Math.max(failure.retryAfterMs ?? 0, backoffDelayMs(job.attempts, this.options.backoff ?? { baseMs: 250, capMs: 30_000 }));
    if (!failure.retryable || now + delay > job.deadlineAt) {
      const reason = failure.retryable ? `gave up after ${job.attempts + 1} attempts: ${failure.message}` : failure.message;
      if (await queue.deadLetterJob(job, this.owner, reason)) {
        this.metrics.gaveUp += 1;
        logger.error({ ...log, reason }, 'outbox job abandoned');
        await this.options
          .onGiveUp(job, reason)
          .catch((e: Error) => logger.error({ ...log, err: { message: e.message } }, 'give-up handling failed'));
      }
      return;
    }
    if (await queue.retryJob(job, this.owner, { nextAttemptAt: now + delay, error: failure.message })) {
      this.metrics.retried += 1;
      this.wakeAt(now + delay);
      logger.warn({ ...log, error: failure.message, retryInMs: delay }, 'outbox job failed; will retry');
    }
  }
}

/** What the worker's log lines say about a job (built only when one is written). */
function logFieldsOf(job: OutboxJob): Record<string, unknown> {
  return { jobId: job.id, kind: job.kind, lane: job.lane, attempt: job.attempts + 1 };
}
