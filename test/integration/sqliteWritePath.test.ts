import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import { DEDUP_PURGE_BATCH, DEDUP_PURGE_EVERY } from '../../relay/src/store/sqlite/statements';
import type { Mutation } from '../../relay/src/store/types';
import { agentReplyMutation, conversationFixture } from '../helpers/conversationFixture';

/**
 * The statements of the SQLite store's hot path (issue 20): what an agent reply's apply and its
 * completion run, and that running fewer of them kept every outcome (duplicate, conflict, lease lost).
 */

const T0 = 1_700_000_000_000;
const W1 = { owner: 'w1', leaseMs: 30_000 };

let dir: string;
let file: string;
let store: SqliteStore;
let reader: Database.Database;
let trace: string[];
let now: number;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'rce-writepath-'));
  file = path.join(dir, 'relay.db');
  trace = [];
  now = T0;
  store = SqliteStore.open(file, { clock: () => now, backgroundCheckpoints: false, traceSql: (sql) => trace.push(sql) });
  reader = new Database(file, { readonly: true });
});

afterEach(async () => {
  reader.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const dedupRows = (): number => (reader.prepare('SELECT count(*) AS n FROM dedup').get() as { n: number }).n;
/** The SQL run by `action`, one line per statement, whitespace collapsed. */
async function statementsOf(action: () => Promise<unknown>): Promise<string[]> {
  const from = trace.length;
  await action();
  return trace.slice(from).map((s) => s.replace(/\s+/g, ' ').trim());
}

/** An agent reply once the chat is active: a dedup key and a notify job, the conversation untouched. */
const reply = (key: string, threadId = 't1'): Mutation =>
  agentReplyMutation({ threadId, dedupKey: key, text: `reply ${key}`, deadlineAt: T0 + 3_600_000, summary: `notify ${key}` });

describe('SQLite store: dedup in one statement', () => {
  it('checks and writes the key with one statement, then the job and its lease', async () => {
    await store.apply({ conversation: { value: conversationFixture('tenant-a', 't1'), expectedVersion: null } });
    const sql = await statementsOf(() => store.apply(reply('k1'), W1));
    expect(sql.filter((s) => s.includes('dedup'))).toEqual([expect.stringMatching(/^INSERT INTO dedup .* WHERE dedup\.expires_at <= /)]);
    expect(sql.filter((s) => !/^(BEGIN|COMMIT)/.test(s))).toHaveLength(3); // dedup, job, lane lease
  });

  it('answers duplicate for a live key, writing nothing, and takes an expired key again', async () => {
    expect((await store.apply(reply('k1'), W1)).outcome).toBe('applied');
    now += 1_000;
    const { outcome, leased } = await store.apply(reply('k1'), W1);
    expect({ outcome, leased }).toEqual({ outcome: 'duplicate', leased: [] });
    expect((await store.outboxStats()).pending).toBe(1);
    expect(reader.prepare('SELECT expires_at FROM dedup').pluck().get()).toBe(T0 + 60_000);

    now = T0 + 60_000; // expired
    expect((await store.apply(reply('k1'), W1)).outcome).toBe('applied');
    expect(reader.prepare('SELECT expires_at FROM dedup').pluck().get()).toBe(T0 + 120_000);
    expect((await store.outboxStats()).pending).toBe(2);
  });

  it('a live key wins over a version conflict (the request was applied before), and a conflict writes no key', async () => {
    const c = conversationFixture('tenant-a', 't1');
    await store.apply({ conversation: { value: c, expectedVersion: null }, dedup: { key: 'req-1', ttlMs: 60_000 } });
    await store.apply({ conversation: { value: { ...c, status: 'queued' }, expectedVersion: 1 } });
    // A retry of the first request: its version is stale, but it was applied.
    const retried = await store.apply({
      conversation: { value: { ...c, status: 'active' }, expectedVersion: 1 },
      dedup: { key: 'req-1', ttlMs: 60_000 },
    });
    expect(retried.outcome).toBe('duplicate');
    // A new request with a stale version: conflict, and its key is not remembered.
    const stale = await store.apply({
      conversation: { value: { ...c, status: 'active' }, expectedVersion: 1 },
      dedup: { key: 'req-2', ttlMs: 60_000 },
      jobs: [reply('x').jobs?.[0]].flatMap((j) => (j ? [j] : [])),
    });
    expect(stale.outcome).toBe('conflict');
    expect(await store.hasDedupKey('req-2')).toBe(false);
    expect((await store.outboxStats()).pending).toBe(0);
    expect(await store.getConversation('tenant-a', 't1')).toMatchObject({ status: 'queued', version: 2 });
  });

  it(`purges expired keys once every ${DEDUP_PURGE_EVERY} keys written, at most ${DEDUP_PURGE_BATCH} at a time`, async () => {
    const backlog = 2 * DEDUP_PURGE_BATCH + 50;
    await Promise.all(Array.from({ length: backlog }, (_, i) => store.apply({ dedup: { key: `old-${i}`, ttlMs: 1_000 } })));
    expect(dedupRows()).toBe(backlog);
    now = T0 + 1_000; // all expired
    const purgedAt: number[] = [];
    const removed: number[] = [];
    for (let written = 1; dedupRows() > written - 1 && written <= 10 * DEDUP_PURGE_EVERY; written++) {
      const before = dedupRows();
      const sql = await statementsOf(() => store.apply({ dedup: { key: `new-${written}`, ttlMs: 60_000 } }));
      if (sql.some((s) => s.startsWith('DELETE FROM dedup'))) {
        purgedAt.push(written);
        removed.push(before + 1 - dedupRows());
      }
    }
    // Every expired key went, in bounded batches, one purge per DEDUP_PURGE_EVERY keys written.
    expect(removed).toEqual([DEDUP_PURGE_BATCH, DEDUP_PURGE_BATCH, 50]);
    expect(purgedAt.slice(1).map((w, i) => w - (purgedAt[i] ?? 0))).toEqual([DEDUP_PURGE_EVERY, DEDUP_PURGE_EVERY]);
    expect(dedupRows()).toBe(purgedAt.at(-1));
  });
});

describe('SQLite store: completion with the lease check in its delete', () => {
  const laneRow = (lane: string): unknown => reader.prepare('SELECT lease_owner, lease_job FROM lanes WHERE lane = ?').get(lane);
  const jobCount = (): number => (reader.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;

  async function leasedReply(key: string): Promise<import('../../relay/src/store/types').OutboxJob> {
    const [job] = (await store.apply(reply(key), W1)).leased;
    if (!job) throw new Error('no job leased');
    return job;
  }

  it("completes a lane's last job with three statements: the delete holding the lease check, its log line, the lane row", async () => {
    const job = await leasedReply('k1');
    const sql = await statementsOf(() => store.complete(job, 'w1', { leaseMs: W1.leaseMs }));
    const body = sql.filter((s) => !/^(BEGIN|COMMIT)/.test(s));
    expect(body).toEqual([
      expect.stringMatching(/^DELETE FROM jobs .* AND EXISTS \(SELECT 1 FROM lanes/),
      expect.stringMatching(/^INSERT INTO history_log/),
      expect.stringMatching(/^DELETE FROM lanes .* NOT EXISTS/),
    ]);
    expect(laneRow(job.lane)).toBeUndefined();
    expect(jobCount()).toBe(0);
  });

  it('a relay that lost the lease deletes nothing, records nothing and leaves the lane to the new holder', async () => {
    const job = await leasedReply('k1');
    // The lease expired and w2 took the lane over.
    now += W1.leaseMs;
    const [taken] = await store.claimDueJobs({ now, limit: 10, owner: 'w2', leaseMs: W1.leaseMs });
    expect(taken?.id).toBe(job.id);
    const log = (): number => (reader.prepare('SELECT count(*) AS n FROM history_log').get() as { n: number }).n;
    expect(await store.complete(job, 'w1', { leaseMs: W1.leaseMs })).toEqual({ completed: false, next: null, nextDueAt: null });
    expect(jobCount()).toBe(1);
    expect(log()).toBe(0);
    expect(laneRow(job.lane)).toEqual({ lease_owner: 'w2', lease_job: job.id });
    // The holder completes it.
    expect((await store.complete(job, 'w2')).completed).toBe(true);
    expect(jobCount()).toBe(0);
    expect(log()).toBe(1);
  });

  it("a lease on the lane's head does not let its holder complete another job of the lane", async () => {
    const first = await leasedReply('k1');
    const second = (await store.apply(reply('k2'))).outcome;
    expect(second).toBe('applied');
    const [queued] = await store.pendingJobsOf('tenant-a', 't1').then((jobs) => jobs.filter((j) => j.id !== first.id));
    if (!queued) throw new Error('second job missing');
    expect((await store.complete(queued, 'w1')).completed).toBe(false);
    expect(jobCount()).toBe(2);
    // The head completes and hands the lane's next job over, leased.
    const done = await store.complete(first, 'w1', { leaseMs: W1.leaseMs });
    expect(done).toMatchObject({ completed: true, next: { id: queued.id }, nextDueAt: null });
    expect(laneRow(first.lane)).toEqual({ lease_owner: 'w1', lease_job: queued.id });
  });

  it('still completes (and frees the lane) when it holds the lease but the job row is already gone', async () => {
    const job = await leasedReply('k1');
    const cli = new Database(file);
    try {
      cli.prepare('DELETE FROM jobs WHERE id = ?').run(job.id);
    } finally {
      cli.close();
    }
    expect(await store.complete(job, 'w1', { leaseMs: W1.leaseMs })).toEqual({ completed: true, next: null, nextDueAt: null });
    expect(laneRow(job.lane)).toBeUndefined();
  });
});
