import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { batchTransaction, type BatchWrite } from '../../relay/src/store/sqlite/batchTransaction';
import type { WriteOutcome } from '../../relay/src/store/sqlite/groupCommit';

const opened: Database.Database[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

/** An in-memory database with a table `t`, recording every statement it runs. */
function tracedDb() {
  const trace: string[] = [];
  const db = new Database(':memory:', { verbose: (sql?: unknown) => trace.push(String(sql)) });
  opened.push(db);
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  trace.length = 0;
  const insert = db.prepare<[string, number]>('INSERT INTO t (k, v) VALUES (?, ?)');
  const rows = (): { k: string; v: number }[] => db.prepare('SELECT k, v FROM t ORDER BY k').all() as { k: string; v: number }[];
  const savepoints = (): number => trace.filter((s) => s.startsWith('SAVEPOINT')).length;
  return { db, trace, insert, rows, savepoints };
}

/** A write that inserts a row (k, v) and counts how often it ran; `failAfterInsert` makes it throw half-written. */
function counted(insert: Database.Statement<[string, number]>, k: string, v: number, failAfterInsert = false) {
  const w = {
    runs: 0,
    run: (): string => {
      w.runs++;
      insert.run(k, v);
      if (failAfterInsert) throw new Error(`write ${k} failed`);
      return `${k} written`;
    },
  };
  return w;
}

const values = (outcomes: WriteOutcome[]) => outcomes.map((o) => (o.ok ? o.value : `error: ${(o.error as Error).message}`));

describe('batchTransaction', () => {
  it('runs a batch where nothing throws in one IMMEDIATE transaction with no savepoint, each write once', () => {
    const { db, trace, insert, rows, savepoints } = tracedDb();
    const writes = ['a', 'b', 'c'].map((k, i) => counted(insert, k, i));
    const outcomes = batchTransaction(db)(writes.map((w) => w.run));
    expect(values(outcomes)).toEqual(['a written', 'b written', 'c written']);
    expect(savepoints()).toBe(0);
    expect(trace.filter((s) => /^(BEGIN|COMMIT|ROLLBACK|RELEASE)/.test(s))).toEqual(['BEGIN IMMEDIATE', 'COMMIT']);
    expect(writes.map((w) => w.runs)).toEqual([1, 1, 1]);
    expect(rows()).toEqual([
      { k: 'a', v: 0 },
      { k: 'b', v: 1 },
      { k: 'c', v: 2 },
    ]);
  });

  it('when a write throws, rolls the attempt back and re-runs the batch with each write in a savepoint', () => {
    const { db, trace, insert, rows, savepoints } = tracedDb();
    const a = counted(insert, 'a', 1);
    const bad = counted(insert, 'bad', 2, true); // inserts its row, then throws: half-written
    const c = counted(insert, 'c', 3);
    const outcomes = batchTransaction(db)([a.run, bad.run, c.run]);

    expect(values(outcomes)).toEqual(['a written', 'error: write bad failed', 'c written']);
    // The other writes committed, the failing one left nothing, and no row was written twice.
    expect(rows()).toEqual([
      { k: 'a', v: 1 },
      { k: 'c', v: 3 },
    ]);
    // The fast attempt stopped at the failing write; the isolated run ran every write once more.
    expect([a.runs, bad.runs, c.runs]).toEqual([2, 2, 1]);
    expect(savepoints()).toBe(3);
    const control = trace.filter((s) => /^(BEGIN|COMMIT|ROLLBACK)/.test(s));
    expect(control).toEqual(['BEGIN IMMEDIATE', 'ROLLBACK', 'BEGIN IMMEDIATE', 'ROLLBACK TO `\t_bs3.\t`', 'COMMIT']);
  });

  it('gives each of several failing writes its own error, including a constraint violated by the database', () => {
    const { db, insert, rows } = tracedDb();
    const writes: BatchWrite[] = [
      counted(insert, 'a', 1).run,
      counted(insert, 'a', 2).run, // same key: UNIQUE constraint, thrown by SQLite
      counted(insert, 'b', 3, true).run,
      counted(insert, 'c', 4).run,
    ];
    const outcomes = batchTransaction(db)(writes);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, true]);
    const second = outcomes[1];
    expect(second && !second.ok && (second.error as { code?: string }).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(values(outcomes)[2]).toBe('error: write b failed');
    expect(rows()).toEqual([
      { k: 'a', v: 1 },
      { k: 'c', v: 4 },
    ]);
  });

  it('the results handed out come from the run that committed, not from the rolled-back attempt', () => {
    const { db, insert } = tracedDb();
    let next = 0;
    const stamp: BatchWrite = () => {
      const id = ++next; // differs between the attempt and the re-run
      insert.run(`id-${id}`, id);
      return id;
    };
    const outcomes = batchTransaction(db)([stamp, counted(insert, 'bad', 0, true).run]);
    expect(outcomes[0]).toEqual({ ok: true, value: 2 });
    expect(db.prepare("SELECT k FROM t WHERE k LIKE 'id-%'").all()).toEqual([{ k: 'id-2' }]);
  });

  it('throws, runs nothing twice and writes nothing when the transaction as a whole fails (COMMIT refused)', () => {
    const { db, rows, insert } = tracedDb();
    db.pragma('foreign_keys = ON');
    db.exec('CREATE TABLE child (parent TEXT REFERENCES t (k) DEFERRABLE INITIALLY DEFERRED)');
    const a = counted(insert, 'a', 1);
    let orphans = 0;
    const orphan: BatchWrite = () => {
      orphans++;
      db.prepare("INSERT INTO child VALUES ('nobody')").run(); // checked only at COMMIT
      return 'orphan written';
    };
    expect(() => batchTransaction(db)([a.run, orphan])).toThrow(/FOREIGN KEY constraint failed/);
    expect([a.runs, orphans]).toEqual([1, 1]);
    expect(rows()).toEqual([]);
    expect(db.inTransaction).toBe(false);
  });

  it('throws without running any write when BEGIN IMMEDIATE cannot take the write lock', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-batchtx-'));
    const file = path.join(dir, 'locked.db');
    // Two connections on one file: the first holds the write lock, the second does not wait for it.
    const holder = new Database(file);
    const other = new Database(file, { timeout: 0 });
    try {
      holder.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
      holder.exec('BEGIN IMMEDIATE');
      let runs = 0;
      expect(() =>
        batchTransaction(other)([
          () => {
            runs++;
            return null;
          },
        ]),
      ).toThrow(/locked|busy/i);
      expect(runs).toBe(0);
    } finally {
      holder.exec('ROLLBACK');
      other.close();
      holder.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
