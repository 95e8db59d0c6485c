import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { z } from 'zod';
import { batchTransaction, type BatchWrite } from './sqlite/batchTransaction';
import { GroupCommit } from './sqlite/groupCommit';
import { migrate } from './sqlite/migrations';
import {
  appendedRowSchema,
  countRowSchema,
  DEDUP_PURGE_EVERY,
  dataRowsSchema,
  historyRowsSchema,
  jobRowsSchema,
  deadRowSchema,
  laneRowsSchema,
  minRowSchema,
  optionalDataRow,
  optionalExpiryRow,
  optionalJobRow,
  optionalLeaseRow,
  optionalVersionRow,
  prepareStatements,
  rowToJob,
  type Statements,
} from './sqlite/statements';
import {
  assembleJob,
  attemptEntry,
  DEFAULT_HISTORY_CAP,
  historyEntrySchema,
  nextVersion,
  outboxJobSchema,
  parseConversation,
  timelineOfWrite,
  validateMutation,
} from './schemas';
import type {
  ApplyResult,
  ClaimOptions,
  CompleteResult,
  Conversation,
  DeadLetter,
  HistoryEntry,
  JsonValue,
  LeaseRequest,
  Mutation,
  OutboxJob,
  OutboxStats,
  Store,
} from './types';
import { startWalCheckpointer, type WalCheckpointer } from './walCheckpointer';
import { ParsedConversations } from './parsedConversations';

export interface SqliteStoreOptions {
  clock?: () => number;
  /** Dead letters kept (oldest dropped). Default 10,000. */
  deadLetterCap?: number;
  /** Timeline entries kept per conversation (oldest dropped). Default DEFAULT_HISTORY_CAP. */
  historyCap?: number;
  /** Rows kept in the delivery log of noted jobs (oldest dropped), all conversations together. Default HISTORY_LOG_CAP. */
  historyLogCap?: number;
  logger?: Logger;
  /**
   * WAL checkpoints in a background thread (see walCheckpointer.ts) instead of inside whichever
   * commit crosses the threshold. Default true for files; `:memory:` has no WAL.
   */
  backgroundCheckpoints?: boolean;
  /** How often the background thread checkpoints. Default 100 ms. */
  checkpointIntervalMs?: number;
  /** With background checkpoints: the WAL size (pages) at which the store's own connection checkpoints anyway. */
  walBackstopPages?: number;
  /** Tests: replaces the thread (e.g. to make it fail). */
  startCheckpointer?: typeof startWalCheckpointer;
  /** Tests and diagnostics: called with every SQL statement the store's connection runs (better-sqlite3's `verbose`). */
  traceSql?: (sql: string) => void;
}

/**
 * Background checkpoints alone cannot bound the WAL under sustained writes: SQLite starts the WAL
 * over only when a write begins after a checkpoint has copied all of it, and a checkpoint running
 * beside a steady stream of commits always trails the newest frames. So the store's own connection
 * keeps an automatic checkpoint, at 4,000 pages (16 MB) instead of SQLite's 1,000: the thread has
 * already copied nearly everything by then, this one catches the last frames and lets the next write
 * restart the WAL. One fsync on the event loop per 4,000 pages instead of one per 1,000.
 */
export const WAL_BACKSTOP_PAGES = 4000;

/**
 * Completions are committed with the next group commit, or after at most this long. Nobody waits
 * on a completion's commit to answer a request, and at a steady trickle of agent replies (one per
 * event-loop turn) a completion committed on its own doubles the commits per reply; riding along
 * with the next reply's commit halves them. The cost: a relay killed inside this window re-sends
 * the notify it had just delivered (the same gap that exists between Cognigy's answer and any commit).
 */
const COMPLETION_COMMIT_DELAY_MS = 2;

/**
 * Rows of the delivery log (history_log) kept, all conversations together: about 350 MB of file at
 * most, and every agent reply of the last 1,000,000 in `relay inspect` (at 10 replies/s, a day).
 */
export const HISTORY_LOG_CAP = 1_000_000;
/** The log is trimmed to its cap once every this many rows (one range delete at the table's start). */
const LOG_TRIM_EVERY = 1_000;

/** SQLite's default automatic checkpoint threshold (pages), restored if the background thread fails. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly clock: () => number;
  private readonly deadLetterCap: number;
  private readonly historyCap: number;
  private readonly historyLogCap: number;
  private readonly logTrimEvery: number;
  private readonly stmt: Statements;
  // The write bodies are plain functions, not transaction functions: they run inside a group
  // commit's transaction, directly or (after a write of its batch threw) each in a savepoint.
  private readonly applyBody;
  private readonly claimTx;
  private readonly completeBody;
  private readonly retryBody;
  private readonly deadLetterBody;
  private readonly groupCommit: GroupCommit<BatchWrite>;
  private readonly logger: Logger | undefined;
  /** Dedup keys written by this connection (rolled-back runs included): paces the expired-key purge. */
  private dedupWrites = 0;
  private checkpointer: WalCheckpointer | null = null;
  /** Reads of unchanged text reuse their parse (every reply of an active chat reads the same conversation). */
  private readonly parsed = new ParsedConversations();

  /** Opens (creating if needed) the database file and brings its schema up to date. */
  static open(filePath: string, opts: SqliteStoreOptions = {}): SqliteStore {
    if (filePath !== ':memory:') mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
    const trace = opts.traceSql;
    const db = new Database(filePath, trace ? { verbose: (sql?: unknown) => trace(String(sql)) } : {});
    try {
      db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: durable across process crashes, may lose the last commits on power loss.
      db.pragma('synchronous = NORMAL');
      // Two relays (or a relay and `doctor`) on one file wait for each other instead of failing.
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      migrate(db);
      const store = new SqliteStore(db, opts);
      if (filePath !== ':memory:' && opts.backgroundCheckpoints !== false) store.checkpointInBackground(filePath, opts);
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(
    private readonly db: Database.Database,
    opts: SqliteStoreOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.deadLetterCap = opts.deadLetterCap ?? 10_000;
    this.historyCap = Math.max(1, opts.historyCap ?? DEFAULT_HISTORY_CAP);
    this.historyLogCap = Math.max(1, opts.historyLogCap ?? HISTORY_LOG_CAP);
    this.logTrimEvery = Math.min(LOG_TRIM_EVERY, this.historyLogCap);
    this.logger = opts.logger;
    this.stmt = prepareStatements(db);

    // May run twice (see batchTransaction): its ids and leased jobs live in one run and leave only in its result.
    this.applyBody = (m: Mutation, now: number, lease: LeaseRequest | null): ApplyResult => {
      const leased: OutboxJob[] = [];
      // The version check reads only; the dedup key is checked and written in one statement after it,
      // so a conflict writes nothing. A live key wins over a conflict (the request was already applied).
      if (m.conversation) {
        const { value, expectedVersion } = m.conversation;
        const row = optionalVersionRow.parse(this.stmt.getConvVersion.get(value.tenantId, value.threadId));
        if (expectedVersion === null ? row !== undefined : row?.version !== expectedVersion) {
          if (m.dedup && this.isLiveDedupKey(m.dedup.key, now)) return { outcome: 'duplicate', leased };
          return { outcome: 'conflict', leased };
        }
      }
      if (m.dedup) {
        if (this.stmt.claimDedup.run(m.dedup.key, now + m.dedup.ttlMs, now).changes === 0) return { outcome: 'duplicate', leased };
        // All checks passed: from here on everything is written.
        if (++this.dedupWrites % DEDUP_PURGE_EVERY === 0) this.stmt.purgeDedup.run(now);
      }
      if (m.conversation) {
        const { value, expectedVersion } = m.conversation;
        const stored: Conversation = { ...value, version: nextVersion(expectedVersion) };
        this.stmt.upsertConv.run(value.tenantId, value.threadId, value.engageThreadId, stored.version, JSON.stringify(stored), now);
      }
      const jobs = m.jobs ?? [];
      const jobIds = jobs.map(() => randomUUID());
      const timeline = timelineOfWrite(m, now, jobIds);
      for (const [i, job] of jobs.entries()) {
        const id = jobIds[i] ?? randomUUID();
        const note = timeline.notes[i];
        const nextAttemptAt = job.notBefore ?? now;
        const payload = JSON.stringify(job.payload);
        const inserted = this.stmt.insertJob.run(
          id,
          job.tenantId,
          job.threadId,
          job.lane,
          job.kind,
          payload,
          job.deadlineAt,
          job.notBefore ?? null,
          now,
          nextAttemptAt,
          note ? JSON.stringify(note) : null,
        );
        if (lease && nextAttemptAt <= now) {
          const leaseUntil = now + lease.leaseMs;
          if (this.stmt.touchLaneLeased.run(job.lane, leaseUntil, lease.owner, id, leaseUntil).changes === 1) {
            leased.push(
              assembleJob(
                // The payload as a claim would read it back (JSON drops undefined fields).
                {
                  id,
                  tenantId: job.tenantId,
                  threadId: job.threadId,
                  lane: job.lane,
                  kind: job.kind,
                  payload: JSON.parse(payload) as JsonValue,
                  deadlineAt: job.deadlineAt,
                  ...(job.notBefore === undefined ? {} : { notBefore: job.notBefore }),
                  createdAt: now,
                  ...(note ? { note } : {}),
                },
                { seq: Number(inserted.lastInsertRowid), attempts: 0, nextAttemptAt, lastError: null },
              ),
            );
          }
        } else {
          this.stmt.touchLane.run(job.lane, nextAttemptAt);
        }
      }
      if (timeline.entry) this.appendHistory(timeline.entry.owner.tenantId, timeline.entry.owner.threadId, timeline.entry.value);
      return { outcome: 'applied', leased };
    };

    this.claimTx = db.transaction((o: ClaimOptions): OutboxJob[] => {
      const claimed: OutboxJob[] = [];
      const leaseUntil = o.now + o.leaseMs;
      for (const { lane } of laneRowsSchema.parse(this.stmt.dueLanes.all(o.now, o.limit))) {
        const head = optionalJobRow.parse(this.stmt.laneHead.get(lane));
        if (!head) {
          this.stmt.deleteLane.run(lane); // defensive: an empty lane row should not exist
          continue;
        }
        if (head.next_attempt_at > o.now) {
          this.stmt.releaseLane.run(head.next_attempt_at, lane); // defensive: re-sync ready_at
          continue;
        }
        this.stmt.leaseLane.run(o.owner, head.id, leaseUntil, leaseUntil, lane);
        claimed.push(rowToJob(head));
      }
      return claimed;
    });

    this.completeBody = (job: OutboxJob, owner: string, now: number, leaseNext: { leaseMs: number } | null): CompleteResult => {
      // The lease check rides on the delete; only when nothing was deleted is it asked on its own
      // (a held lease on a job already gone still completes, as it always did).
      const deleted = this.stmt.deleteLeasedJob.run(job.seq, job.id, job.lane, owner, job.id).changes === 1;
      if (!deleted && !this.holdsLease(job, owner)) return { completed: false, next: null, nextDueAt: null };
      this.appendHistory(job.tenantId, job.threadId, attemptEntry.delivered(job, now));
      // Its last job gone (the hot path: one reply, one notify), the lane row goes in one statement.
      if (this.stmt.deleteEmptyLane.run(job.lane, job.lane).changes === 1) return { completed: true, next: null, nextDueAt: null };
      return { completed: true, ...this.advanceLane(job.lane, leaseNext && { owner, now, ...leaseNext }) };
    };

    this.retryBody = (job: OutboxJob, owner: string, now: number, nextAttemptAt: number, error: string): boolean => {
      if (!this.holdsLease(job, owner)) return false;
      this.stmt.retryJob.run(nextAttemptAt, error, job.seq, job.id);
      this.stmt.releaseLane.run(nextAttemptAt, job.lane); // the job stays head of its lane
      this.appendHistory(job.tenantId, job.threadId, attemptEntry.retry(job, now, error, nextAttemptAt));
      return true;
    };

    // One IMMEDIATE transaction per batch, savepoints only when a write threw. If BEGIN or COMMIT
    // fails (busy, disk, closed), nothing of the batch was written and every write is rejected.
    this.groupCommit = new GroupCommit({
      commit: batchTransaction(db),
      lazyDelayMs: COMPLETION_COMMIT_DELAY_MS,
    });

    this.deadLetterBody = (job: OutboxJob, owner: string, error: string, now: number): boolean => {
      if (!this.holdsLease(job, owner)) return false;
      const row = optionalJobRow.parse(this.stmt.jobBySeq.get(job.seq, job.id));
      if (!row) return false;
      // Record the stored job (authoritative attempts/lastError), not the caller's copy.
      this.stmt.insertDead.run(JSON.stringify(rowToJob(row)), error, now);
      this.stmt.trimDead.run(this.deadLetterCap);
      this.stmt.deleteJob.run(job.seq, job.id);
      this.advanceLane(job.lane, null);
      this.appendHistory(job.tenantId, job.threadId, attemptEntry.dead(job, now, error));
      return true;
    };
  }

  /**
   * Appends to a conversation's timeline inside the caller's transaction. The attempts of a noted job
   * (its write left no entry: the agent-reply hot path) go to the append-only log, trimmed to its row
   * cap every LOG_TRIM_EVERY rows (or every `historyLogCap` rows, if fewer); every other entry to the indexed history, dropping the entry that
   * falls off the conversation's cap.
   */
  private appendHistory(tenantId: string, threadId: string, entry: HistoryEntry): void {
    if (threadId === '') return; // a job on a lane of no conversation (written before jobs carried their thread)
    if (entry.type !== 'write' && entry.note) {
      const seq = Number(this.stmt.appendLog.run(entry.at, tenantId, threadId, JSON.stringify(entry)).lastInsertRowid);
      if (seq % this.logTrimEvery === 0 && seq > this.historyLogCap) this.stmt.trimLog.run(seq - this.historyLogCap);
      return;
    }
    const { n } = appendedRowSchema.parse(this.stmt.appendHistory.get(tenantId, threadId, tenantId, threadId, JSON.stringify(entry)));
    if (n > this.historyCap) this.stmt.dropHistoryEntry.run(tenantId, threadId, n - this.historyCap);
  }

  /**
   * Group commit: every write (apply, complete, retry, dead-letter) issued during one turn of the
   * event loop runs in one IMMEDIATE transaction at the next `setImmediate`, each write with its own
   * outcome (or error; see batchTransaction for how a write that throws is undone alone). The
   * promise resolves only after COMMIT, so a caller still never acts on an unwritten result. Under
   * load this turns several commits (each a dozen WAL writes and lock calls) per agent reply into a
   * share of one; when idle it only adds a turn of the loop. `run` may run twice (once rolled back):
   * what it creates stays local to the run and it changes nothing outside the database.
   */
  private write<T>(run: () => T, when: 'now' | 'soon' = 'now'): Promise<T> {
    return this.groupCommit.add(run, when) as Promise<T>;
  }

  private checkpointInBackground(filePath: string, opts: SqliteStoreOptions): void {
    const backstop = opts.walBackstopPages ?? WAL_BACKSTOP_PAGES;
    this.db.pragma(`wal_autocheckpoint = ${backstop}`);
    // After a restart the WAL file is cut back to this size instead of keeping its peak.
    this.db.pragma(`journal_size_limit = ${backstop * 4096}`);
    this.checkpointer = (opts.startCheckpointer ?? startWalCheckpointer)(filePath, {
      intervalMs: opts.checkpointIntervalMs ?? 100,
      onFailure: (reason) => {
        this.checkpointer = null;
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
        this.logger?.warn({ reason }, 'SQLite store: background WAL checkpoints stopped; checkpointing inline again');
      },
    });
  }

  private holdsLease(job: OutboxJob, owner: string): boolean {
    const lease = optionalLeaseRow.parse(this.stmt.getLease.get(job.lane));
    return lease !== undefined && lease.lease_owner === owner && lease.lease_job === job.id;
  }

  /**
   * The lane's head just left: its next job is leased to `leaseNext.owner` when due, otherwise the
   * lane is released to it (ready when it is due), or dropped when empty.
   */
  private advanceLane(
    lane: string,
    leaseNext: { owner: string; leaseMs: number; now: number } | null,
  ): Pick<CompleteResult, 'next' | 'nextDueAt'> {
    const head = optionalJobRow.parse(this.stmt.laneHead.get(lane));
    if (!head) {
      this.stmt.deleteLane.run(lane);
      return { next: null, nextDueAt: null };
    }
    if (leaseNext && head.next_attempt_at <= leaseNext.now) {
      const leaseUntil = leaseNext.now + leaseNext.leaseMs;
      this.stmt.leaseLane.run(leaseNext.owner, head.id, leaseUntil, leaseUntil, lane);
      return { next: rowToJob(head), nextDueAt: null };
    }
    this.stmt.releaseLane.run(head.next_attempt_at, lane);
    return { next: null, nextDueAt: head.next_attempt_at };
  }

  async getConversation(tenantId: string, threadId: string): Promise<Conversation | null> {
    const row = optionalDataRow.parse(this.stmt.getConv.get(tenantId, threadId));
    return row ? this.parsed.parse(`${tenantId}/${threadId}`, row.data, parseConversation) : null;
  }

  async findConversationByEngageThread(tenantId: string, engageThreadId: string): Promise<Conversation | null> {
    const row = optionalDataRow.parse(this.stmt.getConvByEngage.get(tenantId, engageThreadId));
    return row ? parseConversation(row.data) : null;
  }

  async apply(mutation: Mutation, lease?: LeaseRequest): Promise<ApplyResult> {
    return this.write(this.applyWrite(mutation, lease ?? null));
  }

  private applyWrite(mutation: Mutation, lease: LeaseRequest | null): () => ApplyResult {
    validateMutation(mutation);
    const now = this.clock();
    // The group transaction is IMMEDIATE: it takes the write lock up front, so two connections never deadlock upgrading a read lock.
    return () => this.applyBody(mutation, now, lease);
  }

  async hasDedupKey(key: string): Promise<boolean> {
    return this.isLiveDedupKey(key, this.clock());
  }

  private isLiveDedupKey(key: string, now: number): boolean {
    const row = optionalExpiryRow.parse(this.stmt.getDedup.get(key));
    return row !== undefined && row.expires_at > now;
  }

  async claimDueJobs(options: ClaimOptions): Promise<OutboxJob[]> {
    if (options.limit <= 0) return [];
    return this.claimTx.immediate(options);
  }

  async complete(job: OutboxJob, owner: string, leaseNext?: { leaseMs: number }): Promise<CompleteResult> {
    const now = this.clock();
    return this.write(() => this.completeBody(job, owner, now, leaseNext ?? null), 'soon');
  }

  async retryJob(job: OutboxJob, owner: string, next: { nextAttemptAt: number; error: string }): Promise<boolean> {
    const now = this.clock();
    return this.write(() => this.retryBody(job, owner, now, next.nextAttemptAt, next.error));
  }

  async renewLease(job: OutboxJob, owner: string, leaseMs: number): Promise<boolean> {
    const until = this.clock() + leaseMs;
    return this.write(() => this.stmt.renewLease.run(until, until, job.lane, owner, job.id).changes === 1);
  }

  async releaseLeasesOf(owner: string): Promise<number> {
    const now = this.clock();
    return this.write(() => this.stmt.releaseLeasesOf.run(now, owner).changes);
  }

  async deadLetterJob(job: OutboxJob, owner: string, error: string): Promise<boolean> {
    const now = this.clock();
    return this.write(() => this.deadLetterBody(job, owner, error, now));
  }

  /** One SQLite file serves one relay process, so the budget lives in this process. */
  async takeBudget(key: string, count: number, limit: number, windowMs: number): Promise<{ granted: number; waitMs: number }> {
    const now = this.clock();
    const log = (this.budgets.get(key) ?? []).filter((t) => now - t < windowMs);
    const granted = Math.max(0, Math.min(count, limit - log.length));
    for (let i = 0; i < granted; i++) log.push(now);
    this.budgets.set(key, log);
    return { granted, waitMs: log.length >= limit ? Math.max(1, (log[0] ?? now) + windowMs - now) : 0 };
  }

  private readonly budgets = new Map<string, number[]>();

  async purgeIdleConversations(writtenBefore: number, limit: number): Promise<number> {
    // Its own small transaction: a purge batch never holds the write lock for long. The log's old rows go
    // by age (a conversation's log rows can be younger than its last write: they are removed once they age out).
    return this.write(() => {
      this.stmt.purgeLog.run(writtenBefore, limit);
      return this.stmt.purgeIdle.run(writtenBefore, limit).changes;
    });
  }

  async retryDeadLetter(jobId: string, deadlineAt: number): Promise<OutboxJob | null> {
    const now = this.clock();
    return this.write(() => {
      const row = z.object({ seq: z.number() }).and(deadRowSchema).optional().parse(this.stmt.deadByJobId.get(jobId));
      if (!row) return null;
      const old = outboxJobSchema.parse(JSON.parse(row.job));
      this.stmt.deleteDead.run(row.seq);
      const before = this.stmt.laneHead.get(old.lane);
      const id = randomUUID();
      const payload = JSON.stringify(old.payload);
      const note = old.note ? JSON.stringify(old.note) : null;
      const inserted = this.stmt.insertJob.run(
        id,
        old.tenantId,
        old.threadId,
        old.lane,
        old.kind,
        payload,
        deadlineAt,
        null,
        now,
        now,
        note,
      );
      // An empty lane is ready at once; a lane with jobs keeps its head (the job goes to its end).
      if (before === undefined) this.stmt.touchLane.run(old.lane, now);
      return assembleJob(
        {
          id,
          tenantId: old.tenantId,
          threadId: old.threadId,
          lane: old.lane,
          kind: old.kind,
          payload: old.payload,
          deadlineAt,
          createdAt: now,
          ...(old.note ? { note: old.note } : {}),
        },
        { seq: Number(inserted.lastInsertRowid), attempts: 0, nextAttemptAt: now, lastError: null },
      );
    });
  }

  async findConversations(ref: string): Promise<Conversation[]> {
    return dataRowsSchema.parse(this.stmt.findConversations.all(ref, ref, ref)).map((r) => parseConversation(r.data));
  }

  async readHistory(tenantId: string, threadId: string): Promise<HistoryEntry[]> {
    const parse = (rows: unknown[]): HistoryEntry[] =>
      historyRowsSchema.parse(rows).map((r) => historyEntrySchema.parse(JSON.parse(r.entry)));
    const indexed = parse(this.stmt.readHistory.all(tenantId, threadId));
    const logged = parse(this.stmt.readLog.all(tenantId, threadId));
    // Both are in time order; merged by time (stable: on a tie the indexed entry, often the write, comes first).
    return [...indexed, ...logged].sort((a, b) => a.at - b.at);
  }

  async pendingJobsOf(tenantId: string, threadId: string): Promise<OutboxJob[]> {
    return jobRowsSchema.parse(this.stmt.pendingJobsOf.all(tenantId, threadId)).map(rowToJob);
  }

  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    return z
      .array(deadRowSchema)
      .parse(this.stmt.listDead.all(limit))
      .map((r) => ({ job: outboxJobSchema.parse(JSON.parse(r.job)), error: r.error, failedAt: r.failed_at }));
  }

  async outboxStats(): Promise<OutboxStats> {
    return {
      pending: countRowSchema.parse(this.stmt.countJobs.get()).n,
      deadLettered: countRowSchema.parse(this.stmt.countDead.get()).n,
      nextDueAt: minRowSchema.parse(this.stmt.minReady.get()).t,
    };
  }

  async ping(): Promise<void> {
    if (!this.db.open) throw new Error('SQLite store is closed');
    this.stmt.ping.get();
  }

  async close(): Promise<void> {
    const checkpointer = this.checkpointer;
    this.checkpointer = null;
    await checkpointer?.stop();
    if (this.db.open) {
      this.groupCommit.flush(); // writes already accepted are committed, not dropped
      this.db.close();
    }
  }
}
