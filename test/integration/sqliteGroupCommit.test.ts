import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import { conversationFixture } from '../helpers/conversationFixture';
import type { Conversation, Mutation, OutboxJob } from '../../relay/src/store/types';

/**
 * The SQLite store's group commit: a batch runs without savepoints, and only when one of its writes
 * throws is it rolled back and run again with each write in its own savepoint (batchTransaction).
 */

const T0 = 1_700_000_000_000;
const W1 = { owner: 'w1', leaseMs: 30_000 };

const conv = (threadId: string): Conversation => conversationFixture('tenant-a', threadId);

/** A new conversation (its handover queued) with a dedup key, one notify job on its own lane and a timeline entry. */
function newConversation(threadId: string): Mutation {
  return {
    conversation: { value: conv(threadId), expectedVersion: null },
    dedup: { key: `dedup-${threadId}`, ttlMs: 60_000 },
    jobs: [
      {
        tenantId: 'tenant-a',
        threadId,
        lane: `tenant-a/${threadId}/cognigy`,
        kind: 'cognigy.notify',
        payload: { text: `hello ${threadId}` },
        deadlineAt: T0 + 3_600_000,
      },
    ],
    history: { source: 'agent reply', status: { from: null, to: 'queued' }, jobs: [`notify ${threadId}`] },
  };
}

let dir: string;
let store: SqliteStore;
let reader: Database.Database;
let trace: string[];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'rce-groupcommit-'));
  const file = path.join(dir, 'relay.db');
  trace = [];
  store = SqliteStore.open(file, { clock: () => T0, backgroundCheckpoints: false, traceSql: (sql) => trace.push(sql) });
  reader = new Database(file, { readonly: true });
});

afterEach(async () => {
  reader.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const count = (sql: string, ...params: string[]): number => (reader.prepare(sql).get(...params) as { n: number }).n;
const rowsOf = (threadId: string) => ({
  conversations: count('SELECT count(*) AS n FROM conversations WHERE thread_id = ?', threadId),
  jobs: count('SELECT count(*) AS n FROM jobs WHERE thread_id = ?', threadId),
  lanes: count('SELECT count(*) AS n FROM lanes WHERE lane = ?', `tenant-a/${threadId}/cognigy`),
  history: count('SELECT count(*) AS n FROM history WHERE thread_id = ?', threadId),
  dedup: count('SELECT count(*) AS n FROM dedup WHERE key = ?', `dedup-${threadId}`),
});
const statements = (prefix: string): number => trace.filter((s) => s.startsWith(prefix)).length;

async function leasedJob(threadId: string): Promise<OutboxJob> {
  const { leased } = await store.apply(newConversation(threadId), W1);
  const [job] = leased;
  if (!job) throw new Error(`no job leased for ${threadId}`);
  return job;
}

/** Makes every job insert of conversation `poison` fail inside SQLite, after its dedup key and conversation were written. */
function poisonThread(file: string): void {
  const ddl = new Database(file);
  ddl.exec(`CREATE TRIGGER poison BEFORE INSERT ON jobs WHEN NEW.thread_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned job'); END`);
  ddl.close();
}

it('commits a batch where nothing throws in one transaction without a single savepoint', async () => {
  const first = await leasedJob('a');
  trace.length = 0;
  // One event-loop turn: two applies and a completion (which rides along with them) form one batch.
  const [x1, x2, done] = await Promise.all([
    store.apply(newConversation('x1'), W1),
    store.apply(newConversation('x2'), W1),
    store.complete(first, W1.owner, { leaseMs: W1.leaseMs }),
  ]);
  expect([x1.outcome, x2.outcome, x1.leased.length, x2.leased.length]).toEqual(['applied', 'applied', 1, 1]);
  expect(done).toEqual({ completed: true, next: null, nextDueAt: null });
  expect([statements('BEGIN IMMEDIATE'), statements('COMMIT'), statements('SAVEPOINT'), statements('ROLLBACK')]).toEqual([1, 1, 0, 0]);
});

it('when one write of a batch throws, the others commit with their own results and the failing one leaves nothing', async () => {
  const toComplete = await leasedJob('a');
  const toRetry = await leasedJob('b');
  const toBury = await leasedJob('c');
  poisonThread(path.join(dir, 'relay.db'));
  trace.length = 0;

  const settled = await Promise.allSettled([
    store.apply(newConversation('x1'), W1),
    store.apply(newConversation('poison'), W1),
    store.apply(newConversation('x2'), W1),
    store.complete(toComplete, W1.owner, { leaseMs: W1.leaseMs }),
    store.retryJob(toRetry, W1.owner, { nextAttemptAt: T0 + 5_000, error: 'HTTP 503' }),
    store.deadLetterJob(toBury, W1.owner, 'HTTP 400'),
  ]);

  // One batch: a fast attempt rolled back, then every write in its own savepoint.
  expect([statements('BEGIN IMMEDIATE'), statements('ROLLBACK TO'), statements('SAVEPOINT'), statements('COMMIT')]).toEqual([2, 1, 6, 1]);
  const [x1, poison, x2, completed, retried, buried] = settled;
  expect(poison).toEqual({ status: 'rejected', reason: expect.objectContaining({ message: 'poisoned job' }) });
  expect(completed).toEqual({ status: 'fulfilled', value: { completed: true, next: null, nextDueAt: null } });
  expect(retried).toEqual({ status: 'fulfilled', value: true });
  expect(buried).toEqual({ status: 'fulfilled', value: true });
  if (x1?.status !== 'fulfilled' || x2?.status !== 'fulfilled') throw new Error('the applies beside the failing one must succeed');
  expect([x1.value.outcome, x2.value.outcome]).toEqual(['applied', 'applied']);

  // Nothing of the failing write, each row of the others exactly once (the re-run duplicated nothing).
  expect(rowsOf('poison')).toEqual({ conversations: 0, jobs: 0, lanes: 0, history: 0, dedup: 0 });
  for (const t of ['x1', 'x2']) expect(rowsOf(t)).toEqual({ conversations: 1, jobs: 1, lanes: 1, history: 1, dedup: 1 });
  expect(rowsOf('a')).toEqual({ conversations: 1, jobs: 0, lanes: 0, history: 2, dedup: 1 }); // write + delivered
  expect(rowsOf('b')).toEqual({ conversations: 1, jobs: 1, lanes: 1, history: 2, dedup: 1 }); // write + retry
  expect(rowsOf('c')).toEqual({ conversations: 1, jobs: 0, lanes: 0, history: 2, dedup: 1 }); // write + dead
  expect(count('SELECT count(*) AS n FROM jobs')).toBe(3);
  expect(count('SELECT count(*) AS n FROM history')).toBe(8);
  expect(count('SELECT count(*) AS n FROM dead_letters')).toBe(1);
  expect(reader.prepare('SELECT attempts FROM jobs WHERE thread_id = ?').get('b')).toEqual({ attempts: 1 });

  // The leased jobs handed out are the committed ones (ids, seq and lease all from the re-run).
  const leased = [...x1.value.leased, ...x2.value.leased];
  const stored = reader.prepare("SELECT seq, id FROM jobs WHERE thread_id IN ('x1', 'x2') ORDER BY seq").all();
  expect(leased.map((j) => ({ seq: j.seq, id: j.id }))).toEqual(stored);
  expect(await store.claimDueJobs({ now: T0, limit: 10, owner: 'w2', leaseMs: W1.leaseMs })).toEqual([]);
  trace.length = 0;
  const completions = await Promise.all(leased.map((j) => store.complete(j, W1.owner)));
  expect(completions.map((c) => c.completed)).toEqual([true, true]);
  // The next batch takes the fast path again.
  expect([statements('BEGIN IMMEDIATE'), statements('SAVEPOINT')]).toEqual([1, 0]);
});
