import type Database from 'better-sqlite3';
import { z } from 'zod';
import { assembleJob, jobNoteSchema, outboxJobKindSchema } from '../schemas';
import type { JsonValue, OutboxJob } from '../types';

/**
 * Every SQL statement of the SQLite store, prepared once per connection, and the zod schemas of
 * the rows they return (a corrupt or foreign row fails loudly instead of leaking `any`).
 */

/** Expired dedup keys removed per purge; bounded so one write never pays for a large backlog. */
export const DEDUP_PURGE_BATCH = 100;
/**
 * The purge runs once every this many dedup keys written, not with each: it is a statement per
 * reply that nearly always finds nothing. Still bounded: up to DEDUP_PURGE_BATCH / DEDUP_PURGE_EVERY
 * (6) expired keys go per key written, so a backlog of expired keys only shrinks.
 */
export const DEDUP_PURGE_EVERY = 16;

const jobRowSchema = z.object({
  seq: z.number().int(),
  id: z.string(),
  tenant_id: z.string(),
  thread_id: z.string(),
  lane: z.string(),
  kind: outboxJobKindSchema,
  payload: z.string(),
  deadline_at: z.number(),
  not_before: z.number().nullable(),
  created_at: z.number(),
  attempts: z.number().int(),
  next_attempt_at: z.number(),
  last_error: z.string().nullable(),
  note: z.string().nullable(),
});
type JobRow = z.infer<typeof jobRowSchema>;

const dataRowSchema = z.object({ data: z.string() });
const versionRowSchema = z.object({ version: z.number().int() });
const expiryRowSchema = z.object({ expires_at: z.number() });
const leaseRowSchema = z.object({ lease_owner: z.string().nullable(), lease_job: z.string().nullable() });
const laneRowSchema = z.object({ lane: z.string() });
export const deadRowSchema = z.object({ job: z.string(), error: z.string(), failed_at: z.number() });
export const historyRowsSchema = z.array(z.object({ entry: z.string() }));
export const dataRowsSchema = z.array(z.object({ data: z.string() }));
export const appendedRowSchema = z.object({ n: z.number().int() });
export const countRowSchema = z.object({ n: z.number().int() });
export const minRowSchema = z.object({ t: z.number().nullable() });
// Built once: zod schema construction (`.optional()`, `z.array()`) costs microseconds per call on the hot path.
export const optionalJobRow = jobRowSchema.optional();
export const optionalDataRow = dataRowSchema.optional();
export const optionalVersionRow = versionRowSchema.optional();
export const optionalExpiryRow = expiryRowSchema.optional();
export const optionalLeaseRow = leaseRowSchema.optional();
export const laneRowsSchema = z.array(laneRowSchema);
export const jobRowsSchema = z.array(jobRowSchema);

export function rowToJob(row: JobRow): OutboxJob {
  return assembleJob(
    {
      id: row.id,
      tenantId: row.tenant_id,
      threadId: row.thread_id,
      lane: row.lane,
      kind: row.kind,
      // JSON.parse only ever yields JSON values (and throws on corrupt text): no second validation pass.
      payload: JSON.parse(row.payload) as JsonValue,
      deadlineAt: row.deadline_at,
      ...(row.not_before === null ? {} : { notBefore: row.not_before }),
      createdAt: row.created_at,
      ...(row.note === null ? {} : { note: jobNoteSchema.parse(JSON.parse(row.note)) }),
    },
    { seq: row.seq, attempts: row.attempts, nextAttemptAt: row.next_attempt_at, lastError: row.last_error },
  );
}

export function prepareStatements(db: Database.Database) {
  return {
    getConv: db.prepare<[string, string]>('SELECT data FROM conversations WHERE tenant_id = ? AND thread_id = ?'),
    // INDEXED BY: without it SQLite scans every conversation of the tenant through the primary key
    // (~30 ms per lookup at 100,000 conversations, even after ANALYZE) instead of using the partial index.
    getConvByEngage: db.prepare<[string, string]>(
      'SELECT data FROM conversations INDEXED BY conversations_engage WHERE tenant_id = ? AND engage_thread_id = ? LIMIT 1',
    ),
    getConvVersion: db.prepare<[string, string]>('SELECT version FROM conversations WHERE tenant_id = ? AND thread_id = ?'),
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
    // Check and write in one statement: a live key (expires_at > now) is left alone and changes() is 0,
    // an absent or expired one is written (changes() is 1).
    claimDedup: db.prepare<[string, number, number]>(
      `INSERT INTO dedup (key, expires_at) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE dedup.expires_at <= ?`,
    ),
    // The batch is a literal, not a bound `LIMIT ?`: with a bound limit SQLite re-prepares the statement on every run (issue 20).
    purgeDedup: db.prepare<[number]>(
      `DELETE FROM dedup WHERE key IN (SELECT key FROM dedup WHERE expires_at <= ? LIMIT ${String(DEDUP_PURGE_BATCH)})`,
    ),
    insertJob: db.prepare<[string, string, string, string, string, string, number, number | null, number, number, string | null]>(
      `INSERT INTO jobs (id, tenant_id, thread_id, lane, kind, payload, deadline_at, not_before, created_at, next_attempt_at, note)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // `relay inspect` only: the jobs table holds only what is pending, a scan is fine.
    pendingJobsOf: db.prepare<[string, string]>('SELECT * FROM jobs WHERE tenant_id = ? AND thread_id = ? ORDER BY seq'),
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
    // A completion's delete and its lease check in one statement: changes() is 0 unless `owner` holds the lane's lease on this job.
    deleteLeasedJob: db.prepare<[number, string, string, string, string]>(
      `DELETE FROM jobs WHERE seq = ? AND id = ?
         AND EXISTS (SELECT 1 FROM lanes WHERE lane = ? AND lease_owner = ? AND lease_job = ?)`,
    ),
    // The lane row goes with its last job (changes() = 1); a lane with jobs left keeps it (changes() = 0).
    deleteEmptyLane: db.prepare<[string, string]>('DELETE FROM lanes WHERE lane = ? AND NOT EXISTS (SELECT 1 FROM jobs WHERE lane = ?)'),
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
    // The next number of the conversation's timeline is found and used in one statement. ORDER BY n DESC
    // LIMIT 1 is one seek to the end of the conversation's key range; max(n) here walked the whole range.
    appendHistory: db.prepare<[string, string, string, string, string]>(
      `INSERT INTO history (tenant_id, thread_id, n, entry)
       VALUES (?, ?, coalesce((SELECT n FROM history WHERE tenant_id = ? AND thread_id = ? ORDER BY n DESC LIMIT 1), 0) + 1, ?) RETURNING n`,
    ),
    appendLog: db.prepare<[number, string, string, string]>(
      'INSERT INTO history_log (at, tenant_id, thread_id, entry) VALUES (?, ?, ?, ?)',
    ),
    trimLog: db.prepare<[number]>('DELETE FROM history_log WHERE seq <= ?'),
    // Rows are appended in time order: the scan stops at the first young one.
    purgeLog: db.prepare<[number, number]>(
      `DELETE FROM history_log WHERE seq IN (SELECT seq FROM history_log WHERE seq < coalesce(
         (SELECT seq FROM history_log WHERE at >= ? ORDER BY seq LIMIT 1), 9223372036854775807) ORDER BY seq LIMIT ?)`,
    ),
    // `relay inspect` only: a scan of the log.
    readLog: db.prepare<[string, string]>('SELECT entry FROM history_log WHERE tenant_id = ? AND thread_id = ? ORDER BY seq'),
    dropHistoryEntry: db.prepare<[string, string, number]>('DELETE FROM history WHERE tenant_id = ? AND thread_id = ? AND n = ?'),
    readHistory: db.prepare<[string, string]>('SELECT entry FROM history WHERE tenant_id = ? AND thread_id = ? ORDER BY n'),
    // `relay inspect` only: a scan (JSON of every conversation) is fine for an operator's lookup.
    findConversations: db.prepare<[string, string, string]>(
      "SELECT data FROM conversations WHERE thread_id = ? OR engage_thread_id = ? OR json_extract(data, '$.session.sessionId') = ?",
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
