import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  assembleJob,
  nextVersion,
  outboxJobKindSchema,
  outboxJobSchema,
  parseConversation,
  validateMutation,
} from './schemas';
import type {
  ApplyResult,
  ClaimOptions,
  CompleteResult,
  Conversation,
  DeadLetter,
  JsonValue,
  LeaseRequest,
  Mutation,
  OutboxJob,
  OutboxStats,
  Store,
} from './types';
import { startWalCheckpointer, type WalCheckpointer } from './walCheckpointer';

/**
 * Schema history; index i migrates user_version i → i+1. Append only, never edit a shipped entry.
 *
 * `lanes` holds one row per non-empty lane: `ready_at` is when the lane can next be claimed
 * (its head's nextAttemptAt, or the lease expiry while leased), so a claim reads only due lanes.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE conversations (
    tenant_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    engage_thread_id TEXT,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, thread_id)
  ) WITHOUT ROWID;
  CREATE INDEX conversations_engage ON conversations (tenant_id, engage_thread_id) WHERE engage_thread_id IS NOT NULL;

  CREATE TABLE dedup (
    key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX dedup_expiry ON dedup (expires_at);

  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    lane TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    deadline_at INTEGER NOT NULL,
    not_before INTEGER,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT
  );
  CREATE INDEX jobs_lane_seq ON jobs (lane, seq);

  CREATE TABLE lanes (
    lane TEXT PRIMARY KEY,
    ready_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_job TEXT,
    lease_until INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX lanes_ready ON lanes (ready_at);

  CREATE TABLE dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    error TEXT NOT NULL,
    failed_at INTEGER NOT NULL
  );
  `,
  // v2: jobs keyed by seq alone. Every write to `jobs` used to touch four b-trees (the table,
  // sqlite_sequence for AUTOINCREMENT, the UNIQUE(id) index, the lane index); each is a WAL page per
  // commit. A plain INTEGER PRIMARY KEY gives a new job max(seq)+1, which still sorts after every job
  // left in its lane (order within a lane is all seq is for), and jobs are found by seq, not id.
  `
  CREATE TABLE jobs_v2 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    lane TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    deadline_at INTEGER NOT NULL,
    not_before INTEGER,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT
  );
  INSERT INTO jobs_v2 (seq, id, tenant_id, lane, kind, payload, deadline_at, not_before, created_at, attempts, next_attempt_at, last_error)
    SELECT seq, id, tenant_id, lane, kind, payload, deadline_at, not_before, created_at, attempts, next_attempt_at, last_error FROM jobs;
  DROP TABLE jobs;
  ALTER TABLE jobs_v2 RENAME TO jobs;
  CREATE INDEX jobs_lane_seq ON jobs (lane, seq);
  `,
  // v3: when each conversation was last written, for retention (purged in small batches by age).
  `
  ALTER TABLE conversations ADD COLUMN written_at INTEGER NOT NULL DEFAULT 0;
  UPDATE conversations SET written_at = coalesce(CAST(1000 * (julianday(json_extract(data, '$.updatedAt')) - 2440587.5) * 86400 AS INTEGER), 0);
  CREATE INDEX conversations_written ON conversations (written_at);
  `,
];

/** Expired dedup keys removed per write; bounded so one write never pays for a large backlog. */
const DEDUP_PURGE_BATCH = 100;

const jobRowSchema = z.object({
  seq: z.number().int(),
  id: z.string(),
  tenant_id: z.string(),
  lane: z.string(),
  kind: outboxJobKindSchema,
  payload: z.string(),
  deadline_at: z.number(),
  not_before: z.number().nullable(),
  created_at: z.number(),
  attempts: z.number().int(),
  next_attempt_at: z.number(),
  last_error: z.string().nullable(),
});
type JobRow = z.infer<typeof jobRowSchema>;

const dataRowSchema = z.object({ data: z.string() });
const versionRowSchema = z.object({ version: z.number().int() });
const expiryRowSchema = z.object({ expires_at: z.number() });
const leaseRowSchema = z.object({ lease_owner: z.string().nullable(), lease_job: z.string().nullable() });
const laneRowSchema = z.object({ lane: z.string() });
const deadRowSchema = z.object({ job: z.string(), error: z.string(), failed_at: z.number() });
const countRowSchema = z.object({ n: z.number().int() });
const minRowSchema = z.object({ t: z.number().nullable() });
// Built once: zod schema construction (`.optional()`, `z.array()`) costs microseconds per call on the hot path.
const optionalJobRow = jobRowSchema.optional();
const optionalDataRow = dataRowSchema.optional();
const optionalVersionRow = versionRowSchema.optional();
const optionalExpiryRow = expiryRowSchema.optional();
const optionalLeaseRow = leaseRowSchema.optional();
const laneRowsSchema = z.array(laneRowSchema);

function rowToJob(row: JobRow): OutboxJob {
  return assembleJob(
    {
      id: row.id,
      tenantId: row.tenant_id,
      lane: row.lane,
      kind: row.kind,
      // JSON.parse only ever yields JSON values (and throws on corrupt text): no second validation pass.
      payload: JSON.parse(row.payload) as JsonValue,
      deadlineAt: row.deadline_at,
      ...(row.not_before === null ? {} : { notBefore: row.not_before }),
      createdAt: row.created_at,
    },
    { seq: row.seq, attempts: row.attempts, nextAttemptAt: row.next_attempt_at, lastError: row.last_error },
  );
}

interface QueuedWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}
type WriteOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface SqliteStoreOptions {
  clock?: () => number;
  /** Dead letters kept (oldest dropped). Default 10,000. */
  deadLetterCap?: number;
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

/** SQLite's default automatic checkpoint threshold (pages), restored if the background thread fails. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly clock: () => number;
  private readonly deadLetterCap: number;
  private readonly stmt;
  private readonly applyTx;
  private readonly claimTx;
  private readonly completeTx;
  private readonly retryTx;
  private readonly deadLetterTx;
  private readonly groupTx;
  private readonly logger: Logger | undefined;
  private checkpointer: WalCheckpointer | null = null;
  /** Writes waiting for the next group commit (see `write`). */
  private queue: QueuedWrite[] = [];
  private flushScheduled = false;
  /** Timer of a flush holding only 'soon' writes (see COMPLETION_COMMIT_DELAY_MS). */
  private lazyFlush: NodeJS.Timeout | null = null;

  /** Opens (creating if needed) the database file and brings its schema up to date. */
  static open(filePath: string, opts: SqliteStoreOptions = {}): SqliteStore {
    if (filePath !== ':memory:') mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
    const db = new Database(filePath);
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
    this.logger = opts.logger;
    this.stmt = {
      getConv: db.prepare<[string, string]>('SELECT data FROM conversations WHERE tenant_id = ? AND thread_id = ?'),
      // INDEXED BY: without it SQLite scans every conversation of the tenant through the primary key
      // (~30 ms per lookup at 100,000 conversations, even after ANALYZE) instead of using the partial index.
      getConvByEngage: db.prepare<[string, string]>(
        'SELECT data FROM conversations INDEXED BY conversations_engage WHERE tenant_id = ? AND engage_thread_id = ? LIMIT 1',
      ),
      getConvVersion: db.prepare<[string, string]>(
        'SELECT version FROM conversations WHERE tenant_id = ? AND thread_id = ?',
      ),
      upsertConv: db.prepare<[string, string, string | null, number, string, number]>(
        `INSERT INTO conversations (tenant_id, thread_id, engage_thread_id, version, data, written_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, thread_id) DO UPDATE SET
           engage_thread_id = excluded.engage_thread_id, version = excluded.version, data = excluded.data, written_at = excluded.written_at`,
      ),
      purgeIdle: db.prepare<[number, number]>(
        `DELETE FROM conversations WHERE (tenant_id, thread_id) IN
           (SELECT tenant_id, thread_id FROM conversations INDEXED BY conversations_written WHERE written_at < ? LIMIT ?)`,
      ),
      getDedup: db.prepare<[string]>('SELECT expires_at FROM dedup WHERE key = ?'),
      upsertDedup: db.prepare<[string, number]>(
        'INSERT INTO dedup (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at',
      ),
      purgeDedup: db.prepare<[number, number]>(
        'DELETE FROM dedup WHERE key IN (SELECT key FROM dedup WHERE expires_at <= ? LIMIT ?)',
      ),
      insertJob: db.prepare<[string, string, string, string, string, number, number | null, number, number]>(
        `INSERT INTO jobs (id, tenant_id, lane, kind, payload, deadline_at, not_before, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // A lane row already present keeps its ready_at: the new job is not its head.
      touchLane: db.prepare<[string, number]>('INSERT INTO lanes (lane, ready_at) VALUES (?, ?) ON CONFLICT (lane) DO NOTHING'),
      // Same, but a new lane (changes = 1) starts leased to the writer: its first job runs without a claim.
      touchLaneLeased: db.prepare<[string, number, string, string, number]>(
        `INSERT INTO lanes (lane, ready_at, lease_owner, lease_job, lease_until) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (lane) DO NOTHING`,
      ),
      dueLanes: db.prepare<[number, number]>('SELECT lane FROM lanes WHERE ready_at <= ? ORDER BY ready_at, lane LIMIT ?'),
      laneHead: db.prepare<[string]>('SELECT * FROM jobs WHERE lane = ? ORDER BY seq LIMIT 1'),
      // By primary key, and the id must match too: a caller's stale copy can never hit another job.
      jobBySeq: db.prepare<[number, string]>('SELECT * FROM jobs WHERE seq = ? AND id = ?'),
      leaseLane: db.prepare<[string, string, number, number, string]>(
        'UPDATE lanes SET lease_owner = ?, lease_job = ?, lease_until = ?, ready_at = ? WHERE lane = ?',
      ),
      getLease: db.prepare<[string]>('SELECT lease_owner, lease_job FROM lanes WHERE lane = ?'),
      releaseLane: db.prepare<[number, string]>(
        'UPDATE lanes SET ready_at = ?, lease_owner = NULL, lease_job = NULL, lease_until = NULL WHERE lane = ?',
      ),
      deleteLane: db.prepare<[string]>('DELETE FROM lanes WHERE lane = ?'),
      renewLease: db.prepare<[number, number, string, string, string]>(
        'UPDATE lanes SET lease_until = ?, ready_at = ? WHERE lane = ? AND lease_owner = ? AND lease_job = ?',
      ),
      // A leased head was due when it was leased, so the lane is ready at once.
      releaseLeasesOf: db.prepare<[number, string]>(
        'UPDATE lanes SET ready_at = ?, lease_owner = NULL, lease_job = NULL, lease_until = NULL WHERE lease_owner = ?',
      ),
      deleteJob: db.prepare<[number, string]>('DELETE FROM jobs WHERE seq = ? AND id = ?'),
      retryJob: db.prepare<[number, string, number, string]>(
        'UPDATE jobs SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ? AND id = ?',
      ),
      insertDead: db.prepare<[string, string, number]>('INSERT INTO dead_letters (job, error, failed_at) VALUES (?, ?, ?)'),
      trimDead: db.prepare<[number]>('DELETE FROM dead_letters WHERE seq <= (SELECT max(seq) FROM dead_letters) - ?'),
      deadByJobId: db.prepare<[string]>("SELECT seq, job, error, failed_at FROM dead_letters WHERE json_extract(job, '$.id') = ?"),
      deleteDead: db.prepare<[number]>('DELETE FROM dead_letters WHERE seq = ?'),
      listDead: db.prepare<[number]>('SELECT job, error, failed_at FROM dead_letters ORDER BY seq DESC LIMIT ?'),
      countJobs: db.prepare<[]>('SELECT count(*) AS n FROM jobs'),
      countDead: db.prepare<[]>('SELECT count(*) AS n FROM dead_letters'),
      minReady: db.prepare<[]>('SELECT min(ready_at) AS t FROM lanes'),
      ping: db.prepare<[]>('SELECT 1'),
    };

    this.applyTx = db.transaction((m: Mutation, now: number, lease: LeaseRequest | null): ApplyResult => {
      const leased: OutboxJob[] = [];
      if (m.dedup) {
        const row = optionalExpiryRow.parse(this.stmt.getDedup.get(m.dedup.key));
        if (row && row.expires_at > now) return { outcome: 'duplicate', leased };
      }
      if (m.conversation) {
        const { value, expectedVersion } = m.conversation;
        const row = optionalVersionRow.parse(this.stmt.getConvVersion.get(value.tenantId, value.threadId));
        if (expectedVersion === null ? row !== undefined : row?.version !== expectedVersion) return { outcome: 'conflict', leased };
      }
      // All checks passed: from here on everything is written.
      if (m.dedup) {
        this.stmt.purgeDedup.run(now, DEDUP_PURGE_BATCH);
        this.stmt.upsertDedup.run(m.dedup.key, now + m.dedup.ttlMs);
      }
      if (m.conversation) {
        const { value, expectedVersion } = m.conversation;
        const stored: Conversation = { ...value, version: nextVersion(expectedVersion) };
        this.stmt.upsertConv.run(value.tenantId, value.threadId, value.engageThreadId, stored.version, JSON.stringify(stored), now);
      }
      for (const job of m.jobs ?? []) {
        const id = randomUUID();
        const nextAttemptAt = job.notBefore ?? now;
        const payload = JSON.stringify(job.payload);
        const inserted = this.stmt.insertJob.run(id, job.tenantId, job.lane, job.kind, payload, job.deadlineAt, job.notBefore ?? null, now, nextAttemptAt);
        if (lease && nextAttemptAt <= now) {
          const leaseUntil = now + lease.leaseMs;
          if (this.stmt.touchLaneLeased.run(job.lane, leaseUntil, lease.owner, id, leaseUntil).changes === 1) {
            leased.push(
              assembleJob(
                // The payload as a claim would read it back (JSON drops undefined fields).
                { id, tenantId: job.tenantId, lane: job.lane, kind: job.kind, payload: JSON.parse(payload) as JsonValue, deadlineAt: job.deadlineAt, ...(job.notBefore === undefined ? {} : { notBefore: job.notBefore }), createdAt: now },
                { seq: Number(inserted.lastInsertRowid), attempts: 0, nextAttemptAt, lastError: null },
              ),
            );
          }
        } else {
          this.stmt.touchLane.run(job.lane, nextAttemptAt);
        }
      }
      return { outcome: 'applied', leased };
    });

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

    this.completeTx = db.transaction((job: OutboxJob, owner: string, leaseNext: { leaseMs: number; now: number } | null): CompleteResult => {
      if (!this.holdsLease(job, owner)) return { completed: false, next: null, nextDueAt: null };
      this.stmt.deleteJob.run(job.seq, job.id);
      return { completed: true, ...this.advanceLane(job.lane, leaseNext && { owner, ...leaseNext }) };
    });

    this.retryTx = db.transaction((job: OutboxJob, owner: string, nextAttemptAt: number, error: string): boolean => {
      if (!this.holdsLease(job, owner)) return false;
      this.stmt.retryJob.run(nextAttemptAt, error, job.seq, job.id);
      this.stmt.releaseLane.run(nextAttemptAt, job.lane); // the job stays head of its lane
      return true;
    });

    // Nested transaction functions run as savepoints: a write that throws is undone alone.
    this.groupTx = db.transaction((batch: QueuedWrite[], outcomes: WriteOutcome[]): void => {
      for (const w of batch) {
        try {
          outcomes.push({ ok: true, value: w.run() });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
    });

    this.deadLetterTx = db.transaction((job: OutboxJob, owner: string, error: string, now: number): boolean => {
      if (!this.holdsLease(job, owner)) return false;
      const row = optionalJobRow.parse(this.stmt.jobBySeq.get(job.seq, job.id));
      if (!row) return false;
      // Record the stored job (authoritative attempts/lastError), not the caller's copy.
      this.stmt.insertDead.run(JSON.stringify(rowToJob(row)), error, now);
      this.stmt.trimDead.run(this.deadLetterCap);
      this.stmt.deleteJob.run(job.seq, job.id);
      this.advanceLane(job.lane, null);
      return true;
    });
  }

  /**
   * Group commit: every write (apply, complete, retry, dead-letter) issued during one turn of the
   * event loop runs in one IMMEDIATE transaction at the next `setImmediate`, each write in its own
   * savepoint so its outcome (or error) is its own. The promise resolves only after COMMIT, so a
   * caller still never acts on an unwritten result. Under load this turns several commits (each a
   * dozen WAL writes and lock calls) per agent reply into a share of one; when idle it only adds a
   * turn of the loop.
   */
  private write<T>(run: () => T, when: 'now' | 'soon' = 'now'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (this.flushScheduled) return;
      if (when === 'now') {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      } else {
        this.lazyFlush ??= setTimeout(() => this.flush(), COMPLETION_COMMIT_DELAY_MS);
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.lazyFlush) {
      clearTimeout(this.lazyFlush);
      this.lazyFlush = null;
    }
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const outcomes: WriteOutcome[] = [];
    try {
      this.groupTx.immediate(batch, outcomes);
    } catch (err) {
      // BEGIN or COMMIT failed (busy, disk, closed): nothing of the batch was written.
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) w.resolve(outcome.value);
      else w.reject(outcome ? outcome.error : new Error('group commit lost a write'));
    });
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
  private advanceLane(lane: string, leaseNext: { owner: string; leaseMs: number; now: number } | null): Pick<CompleteResult, 'next' | 'nextDueAt'> {
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
    return row ? parseConversation(row.data) : null;
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
    return () => this.applyTx(mutation, now, lease);
  }

  async hasDedupKey(key: string): Promise<boolean> {
    const row = optionalExpiryRow.parse(this.stmt.getDedup.get(key));
    return row !== undefined && row.expires_at > this.clock();
  }

  async claimDueJobs(options: ClaimOptions): Promise<OutboxJob[]> {
    if (options.limit <= 0) return [];
    return this.claimTx.immediate(options);
  }

  async complete(job: OutboxJob, owner: string, leaseNext?: { leaseMs: number }): Promise<CompleteResult> {
    const now = this.clock();
    return this.write(() => this.completeTx(job, owner, leaseNext ? { leaseMs: leaseNext.leaseMs, now } : null), 'soon');
  }

  async retryJob(job: OutboxJob, owner: string, next: { nextAttemptAt: number; error: string }): Promise<boolean> {
    return this.write(() => this.retryTx(job, owner, next.nextAttemptAt, next.error));
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
    return this.write(() => this.deadLetterTx(job, owner, error, now));
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
    // Its own small transaction: a purge batch never holds the write lock for long.
    return this.write(() => this.stmt.purgeIdle.run(writtenBefore, limit).changes);
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
      const inserted = this.stmt.insertJob.run(id, old.tenantId, old.lane, old.kind, payload, deadlineAt, null, now, now);
      // An empty lane is ready at once; a lane with jobs keeps its head (the job goes to its end).
      if (before === undefined) this.stmt.touchLane.run(old.lane, now);
      return assembleJob({ id, tenantId: old.tenantId, lane: old.lane, kind: old.kind, payload: old.payload, deadlineAt, createdAt: now }, { seq: Number(inserted.lastInsertRowid), attempts: 0, nextAttemptAt: now, lastError: null });
    });
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
      this.flush(); // writes already accepted are committed, not dropped
      this.db.close();
    }
  }
}

function migrate(db: Database.Database): void {
  const readVersion = (): number => z.number().int().parse(db.pragma('user_version', { simple: true }));
  for (;;) {
    // Re-read inside the write lock: another process may have migrated since we looked.
    const done = db
      .transaction((): boolean => {
        const v = readVersion();
        if (v > MIGRATIONS.length) {
          throw new Error(`SQLite store schema version ${v} is newer than this relay supports (${MIGRATIONS.length}); upgrade the relay`);
        }
        const sql = MIGRATIONS[v];
        if (sql === undefined) return true;
        db.exec(sql);
        db.pragma(`user_version = ${v + 1}`);
        return false;
      })
      .immediate();
    if (done) return;
  }
}
