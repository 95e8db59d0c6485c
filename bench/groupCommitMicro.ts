import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from '../relay/src/store/sqlite/migrations';
import { prepareStatements } from '../relay/src/store/sqlite/statements';

/**
 * `npx tsx bench/groupCommitMicro.ts [tree]`: CPU per write of a group commit (issue 20), a batch
 * being B agent replies applied (dedup key + notify job + lane lease + timeline entry) and the B
 * jobs of the previous batch completed (delete + timeline entry + lane dropped). Two measures:
 *
 * 1. `raw`: this tree's schema and statements, one IMMEDIATE transaction per batch, each write
 *    run directly or inside its own SAVEPOINT (a nested better-sqlite3 transaction function),
 *    alternating in one process: the savepoints' own cost.
 * 2. `store`: the SqliteStore of `tree` (another checkout's root; default this one), the same
 *    batches through its API (apply with a lease, then complete): for an A/B between checkouts.
 *
 * Knobs: B (applies per batch, default 32), BATCHES (per round, default 300), ROUNDS (default 4).
 * Prints per-round figures (µs of process CPU per write, user + system); no assertions.
 */

type StoreModule = typeof import('../relay/src/store/sqliteStore');
type Job = import('../relay/src/store/types').OutboxJob;

const B = Number(process.env.B ?? 32);
const BATCHES = Number(process.env.BATCHES ?? 300);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const T0 = 1_700_000_000_000;
const CONVERSATIONS = 1000;

interface Pending {
  seq: number;
  i: number;
  thread: string;
}

const perWrite = (u: NodeJS.CpuUsage, writes: number): string => ((u.user + u.system) / writes).toFixed(2);

function tempFile(): { file: string; done: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'rce-bench-gc-'));
  return { file: path.join(dir, 'relay.db'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Measure 1: the same SQL as the store's apply and complete, with and without a savepoint per write. */
function raw(): void {
  const { file, done } = tempFile();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  const stmt = prepareStatements(db);
  // Its own job insert (the store's gains columns over time; these are the ones every schema has).
  const insertJob = db.prepare<[string, string, string, string, string, string, number, number | null, number, number]>(
    `INSERT INTO jobs (id, tenant_id, thread_id, lane, kind, payload, deadline_at, not_before, created_at, next_attempt_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // The dedup write the store made before it checked and wrote in one statement (claimDedup): this measure replays that path.
  const upsertDedup = db.prepare<[string, number]>(
    'INSERT INTO dedup (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at',
  );
  const history = (thread: string, entry: string): void => {
    stmt.appendHistory.get('tenant-a', thread, 'tenant-a', thread, entry);
  };
  let reply = 0;
  const applyWrite = (thread: string): (() => number) => {
    const i = reply++;
    return () => {
      const lane = `tenant-a/${thread}/cognigy`;
      stmt.purgeDedup.run(T0);
      upsertDedup.run(`reply:${i}`, T0 + 60_000);
      const inserted = insertJob.run(`job-${i}`, 'tenant-a', thread, lane, 'cognigy.notify', `{"text":"reply ${i}"}`, T0 + 1, null, T0, T0);
      stmt.touchLaneLeased.run(lane, T0 + 30_000, 'w1', `job-${i}`, T0 + 30_000);
      history(thread, `{"type":"write","n":${i}}`);
      return Number(inserted.lastInsertRowid);
    };
  };
  const completeWrite =
    ({ seq, i, thread }: Pending): (() => number) =>
    () => {
      stmt.getLease.get(`tenant-a/${thread}/cognigy`);
      stmt.deleteJob.run(seq, `job-${i}`);
      history(thread, `{"type":"delivered","n":${i}}`);
      stmt.laneHead.get(`tenant-a/${thread}/cognigy`);
      stmt.deleteLane.run(`tenant-a/${thread}/cognigy`);
      return 0;
    };
  const savepoint = db.transaction((run: () => number): number => run());
  const modes = {
    direct: db.transaction((batch: (() => number)[]): number[] => batch.map((run) => run())),
    savepoints: db.transaction((batch: (() => number)[]): number[] => batch.map((run) => savepoint(run))),
  };
  // The jobs applied by the previous batch, completed by the next one.
  let pending: Pending[] = [];
  const runBatches = (mode: keyof typeof modes): { cpu: NodeJS.CpuUsage; writes: number } => {
    let writes = 0;
    const t = process.cpuUsage();
    for (let b = 0; b < BATCHES; b++) {
      const first = reply;
      const threads = Array.from({ length: B }, (_, k) => `t${(first + k) % CONVERSATIONS}`);
      const batch = [...pending.map(completeWrite), ...threads.map(applyWrite)];
      const seqs = modes[mode].immediate(batch).slice(pending.length);
      pending = seqs.map((seq, k) => ({ seq, i: first + k, thread: threads[k] ?? '' }));
      writes += batch.length;
    }
    return { cpu: process.cpuUsage(t), writes };
  };
  runBatches('direct'); // warm-up
  runBatches('savepoints');
  for (let r = 0; r < ROUNDS; r++) {
    const order: (keyof typeof modes)[] = r % 2 === 0 ? ['direct', 'savepoints'] : ['savepoints', 'direct'];
    const line = order.map((mode) => {
      const { cpu, writes } = runBatches(mode);
      return `${mode} ${perWrite(cpu, writes)} µs`;
    });
    console.log(`raw, batch of ${B} applies + ${B} completes: ${line.join(', ')} per write`);
  }
  // Sanity: every batch completed the previous one's jobs.
  console.log(`raw: jobs left ${String(db.prepare('SELECT count(*) FROM jobs').pluck().get())} (expected ${B})`);
  db.close();
  done();
}

/** Measure 2: the store of `tree`, the same batches through its API. */
async function store(tree: string): Promise<void> {
  const { SqliteStore } = (await import(path.join(tree, 'relay/src/store/sqliteStore.ts'))) as StoreModule;
  const { file, done } = tempFile();
  const s = SqliteStore.open(file, { clock: () => T0 });
  const lease = { owner: 'w1', leaseMs: 30_000 };
  let reply = 0;
  let pending: Job[] = [];
  const batch = async (): Promise<void> => {
    const completions = pending.map((job) => s.complete(job, lease.owner));
    const applies = Array.from({ length: B }, () => {
      const i = reply++;
      const threadId = `t${i % CONVERSATIONS}`;
      return s.apply(
        {
          scope: { tenantId: 'tenant-a', threadId },
          dedup: { key: `reply:${i}`, ttlMs: 60_000 },
          jobs: [
            {
              tenantId: 'tenant-a',
              threadId,
              lane: `tenant-a/${threadId}/cognigy`,
              kind: 'cognigy.notify',
              payload: { text: `reply ${i}` },
              deadlineAt: T0 + 1,
            },
          ],
          history: { source: 'agent reply', jobs: [`notify ${i}`] },
        },
        lease,
      );
    });
    const [results] = await Promise.all([Promise.all(applies), Promise.all(completions)]);
    pending = results.flatMap((r) => r.leased);
  };
  const round = async (): Promise<string> => {
    const t = process.cpuUsage();
    for (let b = 0; b < BATCHES; b++) await batch();
    return perWrite(process.cpuUsage(t), BATCHES * 2 * B);
  };
  await round(); // warm-up
  for (let r = 0; r < ROUNDS; r++) console.log(`store (${tree}), batch of ${B} applies + ${B} completes: ${await round()} µs per write`);
  console.log(`store: jobs left ${(await s.outboxStats()).pending} (expected ${B})`);
  await s.close();
  done();
}

async function main(): Promise<void> {
  const tree = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
  raw();
  await store(tree);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
