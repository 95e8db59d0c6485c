import type Database from 'better-sqlite3';
import { z } from 'zod';

/**
 * The SQLite store's schema history, numbered like graphile-worker's `sql/000001.sql`…: migration N
 * takes `PRAGMA user_version` from N-1 to N. Append only; never edit a shipped migration (a relay
 * that already ran it would not run it again). `migrate` runs each pending one in its own IMMEDIATE
 * transaction together with the version bump, so two processes opening one file never both run it.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  // `lanes` holds one row per non-empty lane: `ready_at` is when the lane can next be claimed (its
  // head's nextAttemptAt, or the lease expiry while leased), so a claim reads only due lanes.
  {
    version: 1,
    name: 'initial schema',
    sql: `
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
  },
  // v2: jobs keyed by seq alone. Every write to `jobs` used to touch four b-trees (the table,
  // sqlite_sequence for AUTOINCREMENT, the UNIQUE(id) index, the lane index); each is a WAL page per
  // commit. A plain INTEGER PRIMARY KEY gives a new job max(seq)+1, which still sorts after every job
  // left in its lane (order within a lane is all seq is for), and jobs are found by seq, not id.
  {
    version: 2,
    name: 'jobs keyed by seq',
    sql: `
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
  },
  // v3: when each conversation was last written, for retention (purged in small batches by age).
  {
    version: 3,
    name: 'conversations written_at',
    sql: `
  ALTER TABLE conversations ADD COLUMN written_at INTEGER NOT NULL DEFAULT 0;
  UPDATE conversations SET written_at = coalesce(CAST(1000 * (julianday(json_extract(data, '$.updatedAt')) - 2440587.5) * 86400 AS INTEGER), 0);
  CREATE INDEX conversations_written ON conversations (written_at);
  `,
  },
  // v4: each job names its conversation; older jobs get it from their lane (`<tenant>/<thread>/<direction>`).
  {
    version: 4,
    name: 'jobs thread_id',
    sql: `
  ALTER TABLE jobs ADD COLUMN thread_id TEXT NOT NULL DEFAULT '';
  UPDATE jobs SET thread_id = substr(substr(lane, instr(lane, '/') + 1), 1, instr(substr(lane, instr(lane, '/') + 1), '/') - 1)
    WHERE instr(substr(lane, instr(lane, '/') + 1), '/') > 0;
  `,
  },
  // v5: the conversation timeline (`relay inspect`). Entries are appended in rowid order (the writes of
  // one commit share the table's last pages); the small index finds a conversation's entries. `n` counts
  // a conversation's entries, so the cap drops exactly entry n - cap. Purging a conversation (retention)
  // removes its timeline in the same statement.
  {
    version: 5,
    name: 'conversation history',
    sql: `
  CREATE TABLE history (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    entry TEXT NOT NULL
  );
  CREATE UNIQUE INDEX history_conversation ON history (tenant_id, thread_id, n);
  CREATE TRIGGER conversations_purge_history AFTER DELETE ON conversations BEGIN
    DELETE FROM history WHERE tenant_id = old.tenant_id AND thread_id = old.thread_id;
  END;
  `,
  },
  // v6: a job whose write left no timeline entry carries its own (JobNote as JSON, else NULL).
  {
    version: 6,
    name: 'jobs note',
    sql: `
  ALTER TABLE jobs ADD COLUMN note TEXT;
  `,
  },
  // v7: the attempt entries of noted jobs (an agent reply's notify delivered, issue 20) in an append-only
  // log without a per-conversation index. Entries of 1,000 chats replying in turn landed on as many leaves
  // of history_conversation, one 4 KB WAL page each per commit; here a commit's entries share the last page.
  // Bounded by a row cap and by age (RETENTION_DAYS); \`relay inspect\` scans it.
  {
    version: 7,
    name: 'history log',
    sql: `
  CREATE TABLE history_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    entry TEXT NOT NULL
  );
  `,
  },
];

/** Brings the file's schema up to the newest migration; refuses a file written by a newer relay. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): void {
  const readVersion = (): number =>
    z
      .number()
      .int()
      .parse(db.pragma('user_version', { simple: true }));
  for (;;) {
    // Re-read inside the write lock: another process may have migrated since we looked.
    const done = db
      .transaction((): boolean => {
        const v = readVersion();
        if (v > migrations.length) {
          throw new Error(`SQLite store schema version ${v} is newer than this relay supports (${migrations.length}); upgrade the relay`);
        }
        const next = migrations[v];
        if (next === undefined) return true;
        if (next.version !== v + 1) throw new Error(`SQLite migrations are misnumbered: entry ${v} is version ${next.version}`);
        db.exec(next.sql);
        db.pragma(`user_version = ${next.version}`);
        return false;
      })
      .immediate();
    if (done) return;
  }
}
