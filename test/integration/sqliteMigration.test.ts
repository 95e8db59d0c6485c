import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../relay/src/store/sqlite/migrations';
import { SqliteStore } from '../../relay/src/store/sqliteStore';

/**
 * Upgrading a relay must keep what its store holds. The fixture is the first shipped schema
 * (user_version 1, jobs with AUTOINCREMENT and UNIQUE(id)) written by hand, as an old relay left it.
 */

const V1_SCHEMA = `
  CREATE TABLE conversations (tenant_id TEXT NOT NULL, thread_id TEXT NOT NULL, engage_thread_id TEXT, version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (tenant_id, thread_id)) WITHOUT ROWID;
  CREATE INDEX conversations_engage ON conversations (tenant_id, engage_thread_id) WHERE engage_thread_id IS NOT NULL;
  CREATE TABLE dedup (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX dedup_expiry ON dedup (expires_at);
  CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL, lane TEXT NOT NULL, kind TEXT NOT NULL,
    payload TEXT NOT NULL, deadline_at INTEGER NOT NULL, not_before INTEGER, created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL, last_error TEXT);
  CREATE INDEX jobs_lane_seq ON jobs (lane, seq);
  CREATE TABLE lanes (lane TEXT PRIMARY KEY, ready_at INTEGER NOT NULL, lease_owner TEXT, lease_job TEXT, lease_until INTEGER) WITHOUT ROWID;
  CREATE INDEX lanes_ready ON lanes (ready_at);
  CREATE TABLE dead_letters (seq INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, error TEXT NOT NULL, failed_at INTEGER NOT NULL);
`;

const T0 = 1_700_000_000_000;
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'rce-migrate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeV1Store(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(V1_SCHEMA);
  const insert = db.prepare(
    'INSERT INTO jobs (id, tenant_id, lane, kind, payload, deadline_at, not_before, created_at, attempts, next_attempt_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  // Lane A: two jobs, the head already failed once. Lane B: one job. Then a job with a high seq that completed (deleted).
  insert.run('job-a1', 'ten', 'ten/a/cognigy', 'cognigy.notify', '{"n":1}', T0 + 60_000, null, T0, 1, T0, 'Cognigy notify: HTTP 502');
  insert.run('job-b1', 'ten', 'ten/b/cognigy', 'cognigy.notify', '{"n":2}', T0 + 60_000, null, T0, 0, T0, null);
  insert.run('job-a2', 'ten', 'ten/a/cognigy', 'cognigy.inject', '{"n":3}', T0 + 60_000, T0 - 1, T0, 0, T0, null);
  insert.run('job-gone', 'ten', 'ten/c/cognigy', 'cognigy.notify', '{"n":4}', T0 + 60_000, null, T0, 0, T0, null);
  db.prepare('DELETE FROM jobs WHERE id = ?').run('job-gone');
  const lane = db.prepare('INSERT INTO lanes (lane, ready_at) VALUES (?, ?)');
  lane.run('ten/a/cognigy', T0);
  lane.run('ten/b/cognigy', T0);
  // A dead letter as an old relay wrote it: the job JSON has no threadId.
  db.prepare('INSERT INTO dead_letters (job, error, failed_at) VALUES (?, ?, ?)').run(
    JSON.stringify({
      id: 'job-dead',
      tenantId: 'ten',
      lane: 'ten/d/engage',
      kind: 'engage.send',
      payload: {},
      deadlineAt: T0,
      createdAt: T0,
      seq: 9,
      attempts: 3,
      nextAttemptAt: T0,
      lastError: 'HTTP 503',
    }),
    'gave up',
    T0,
  );
  db.pragma('user_version = 1');
  db.close();
}

it('upgrades a v1 store: pending jobs keep their seq, order, attempts and errors, and new jobs still queue behind them', async () => {
  const file = path.join(dir, 'relay.db');
  writeV1Store(file);
  const store = SqliteStore.open(file, { clock: () => T0 });
  try {
    const firstClaim = await store.claimDueJobs({ now: T0, limit: 10, owner: 'r1', leaseMs: 1000 });
    expect(firstClaim.map((j) => [j.id, j.seq, j.attempts, j.lastError, j.payload])).toEqual([
      ['job-a1', 1, 1, 'Cognigy notify: HTTP 502', { n: 1 }],
      ['job-b1', 2, 0, null, { n: 2 }],
    ]);
    // Jobs written before jobs carried their thread get it from their lane (migration 4), dead letters too.
    expect(firstClaim.map((j) => j.threadId)).toEqual(['a', 'b']);
    expect((await store.listDeadLetters(10)).map((d) => [d.job.id, d.job.threadId])).toEqual([['job-dead', 'd']]);
    // A new job in lane A goes behind job-a2 (seq 3).
    expect(
      (
        await store.apply({
          jobs: [
            { tenantId: 'ten', threadId: 'a', lane: 'ten/a/cognigy', kind: 'cognigy.notify', payload: { n: 5 }, deadlineAt: T0 + 60_000 },
          ],
        })
      ).outcome,
    ).toBe('applied');
    const a1 = firstClaim[0];
    if (!a1) throw new Error('no job claimed');
    expect((await store.complete(a1, 'r1')).completed).toBe(true);
    const secondClaim = await store.claimDueJobs({ now: T0, limit: 10, owner: 'r1', leaseMs: 1000 });
    expect(secondClaim.map((j) => [j.id, j.seq, j.kind, j.notBefore])).toEqual([['job-a2', 3, 'cognigy.inject', T0 - 1]]);
    const a2 = secondClaim[0];
    if (!a2) throw new Error('no job claimed');
    expect((await store.complete(a2, 'r1')).completed).toBe(true);
    const thirdClaim = await store.claimDueJobs({ now: T0, limit: 10, owner: 'r1', leaseMs: 1000 });
    expect(thirdClaim.map((j) => j.payload)).toEqual([{ n: 5 }]);
    expect(thirdClaim[0]?.seq).toBeGreaterThan(3);
  } finally {
    await store.close();
  }
  const db = new Database(file, { readonly: true });
  try {
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    const jobsSql = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'jobs'").pluck().get();
    expect(String(jobsSql)).not.toMatch(/AUTOINCREMENT|UNIQUE/i);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'jobs' AND type = 'index' ORDER BY name").pluck().all()).toEqual([
      'jobs_lane_seq',
    ]);
  } finally {
    db.close();
  }
});

it('refuses a store written by a newer relay instead of guessing', () => {
  const file = path.join(dir, 'relay.db');
  const db = new Database(file);
  db.pragma('user_version = 99');
  db.close();
  expect(() => SqliteStore.open(file)).toThrow(/schema version 99 is newer than this relay supports/);
});
