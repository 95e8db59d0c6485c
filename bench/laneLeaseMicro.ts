import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from '../relay/src/store/sqlite/migrations';
import { prepareStatements } from '../relay/src/store/sqlite/statements';

/**
 * `npx tsx bench/laneLeaseMicro.ts`: what the lane lease costs per agent reply in the SQLite store
 * (issue 20). The store's own statements, one IMMEDIATE transaction per batch of B replies applied
 * plus the B replies of the previous batch completed, in two variants alternating in one process:
 *
 * - `leased`: as the store runs them: apply = dedup key + job + lane row leased to the writer;
 *   complete = job delete holding the lease check + log line + lane row dropped.
 * - `unindexed lease`: `leased` on a file without the lanes_ready index (what a design that finds
 *   expired leases by scanning, not through an index, would write).
 * - `no lane`: the same without the lane row (apply = dedup + job; complete = plain delete + log line):
 *   the most any lease design that writes no per-lane row on the hot path could save.
 *
 * Knobs: B (replies per batch, default 32), BATCHES (per round, default 300), ROUNDS (default 6).
 * Prints µs of process CPU (user + system) per reply, and the WAL frames written per reply.
 */

const B = Number(process.env.B ?? 32);
const BATCHES = Number(process.env.BATCHES ?? 300);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const T0 = 1_700_000_000_000;
const CONVERSATIONS = 1000;
const OWNER = 'w1';

type Variant = 'leased' | 'unindexed lease' | 'no lane';

interface Subject {
  db: Database.Database;
  stmt: ReturnType<typeof prepareStatements>;
  tx: Database.Transaction<(batch: (() => void)[]) => void>;
  reply: number;
  pending: { seq: number; id: string; lane: string; thread: string }[];
  done: () => void;
}

function open(variant: Variant): Subject {
  const dir = mkdtempSync(path.join(tmpdir(), 'rce-bench-lane-'));
  const db = new Database(path.join(dir, 'relay.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  if (variant === 'unindexed lease') db.exec('DROP INDEX lanes_ready');
  const tx = db.transaction((batch: (() => void)[]) => {
    for (const run of batch) run();
  });
  return {
    db,
    stmt: prepareStatements(db),
    tx,
    reply: 0,
    pending: [],
    done: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const payload = JSON.stringify({ URLToken: 'tok', userId: 'u', sessionId: 's', text: 'Hello from agent Anna', data: { a: 1 } });
const note = JSON.stringify({ source: 'agent reply', summary: 'notify: Hello from agent Anna' });

function batch(s: Subject, variant: Variant): void {
  const writes: (() => void)[] = [];
  const applied: Subject['pending'] = [];
  for (const p of s.pending) {
    writes.push(() => {
      if (variant !== 'no lane') s.stmt.deleteLeasedJob.run(p.seq, p.id, p.lane, OWNER, p.id);
      else s.stmt.deleteJob.run(p.seq, p.id);
      s.stmt.appendLog.run(T0, 'tenant-a', p.thread, `{"type":"delivered","jobId":"${p.id}"}`);
      if (variant !== 'no lane') s.stmt.deleteEmptyLane.run(p.lane, p.lane);
    });
  }
  for (let k = 0; k < B; k++) {
    const i = s.reply++;
    const thread = `t${i % CONVERSATIONS}`;
    const lane = `tenant-a/${thread}/cognigy`;
    const id = `job-${i}`;
    writes.push(() => {
      s.stmt.claimDedup.run(`reply:tenant-a:${i}`, T0 + 600_000, T0);
      const seq = Number(
        s.stmt.insertJob.run(id, 'tenant-a', thread, lane, 'cognigy.notify', payload, T0 + 60_000, null, T0, T0, note).lastInsertRowid,
      );
      if (variant !== 'no lane') s.stmt.touchLaneLeased.run(lane, T0 + 30_000, OWNER, id, T0 + 30_000);
      applied.push({ seq, id, lane, thread });
    });
  }
  s.tx.immediate(writes);
  s.pending = applied;
}

function walFrames(s: Subject): number {
  const row = s.db.pragma('wal_checkpoint(PASSIVE)', { simple: false }) as { log: number }[];
  return row[0]?.log ?? 0;
}

function round(subjects: Record<Variant, Subject>, variant: Variant): string {
  const s = subjects[variant];
  walFrames(s); // starts the count from a checkpointed WAL
  const t = process.cpuUsage();
  let frames = 0;
  for (let b = 0; b < BATCHES; b++) {
    batch(s, variant);
    // Frames are counted every 50 batches (the WAL restarts after a full checkpoint).
    if (b % 50 === 49) frames += walFrames(s);
  }
  const u = process.cpuUsage(t);
  frames += walFrames(s);
  return `${variant} ${((u.user + u.system) / (BATCHES * B)).toFixed(2)} µs, ${(frames / (BATCHES * B)).toFixed(2)} WAL frames`;
}

function main(): void {
  const variants: Variant[] = ['leased', 'unindexed lease', 'no lane'];
  const subjects = { leased: open('leased'), 'unindexed lease': open('unindexed lease'), 'no lane': open('no lane') };
  for (const v of variants) round(subjects, v); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate which variant goes first, so drift over a round hits all alike.
    const order = variants.map((_, k) => variants[(k + r) % variants.length] as Variant);
    console.log(`batch of ${B} applies + ${B} completes: ${order.map((v) => round(subjects, v)).join('; ')} per reply`);
  }
  for (const s of Object.values(subjects)) s.done();
}

main();
