import type Database from 'better-sqlite3';
import type { WriteOutcome } from './groupCommit';

/** One write of a batch: its body, run directly inside the batch's transaction (never a transaction function itself). */
export type BatchWrite = () => unknown;

/** Carries a write's error out of the fast attempt so that attempt is rolled back and re-run isolated. */
class WriteThrew extends Error {}

/**
 * Builds the commit of a group-commit batch: one IMMEDIATE transaction holding every write, each
 * with its own outcome. The fast attempt runs the writes with no savepoints (a savepoint cost
 * 7–11 µs per write in bench/groupCommitMicro.ts, and nearly no write throws). Only if a write
 * throws is the whole attempt rolled back and the batch run again with each write in its own
 * savepoint, so the others still commit and the one that threw is undone alone. Writes must therefore be safe to run twice: nothing
 * outside the database may see the first, rolled-back run (fresh ids and results are fine; they
 * are discarded with it).
 *
 * Throws when the unit as a whole failed (BEGIN or COMMIT refused: busy, disk, closed); nothing of
 * the batch was written then, and it is not re-run.
 */
export function batchTransaction(db: Database.Database): (batch: readonly BatchWrite[]) => WriteOutcome[] {
  const fast = db.transaction((batch: readonly BatchWrite[]): WriteOutcome[] => {
    const outcomes: WriteOutcome[] = new Array<WriteOutcome>(batch.length);
    for (const [i, run] of batch.entries()) {
      try {
        outcomes[i] = { ok: true, value: run() };
      } catch {
        // Stop at once: the error may already have ended the transaction (SQLite rolls back on
        // some I/O errors), and a later write would then run outside any transaction.
        throw new WriteThrew('a write of the batch threw');
      }
    }
    return outcomes;
  });

  // Called inside the batch's transaction, a transaction function runs as a SAVEPOINT.
  const savepoint = db.transaction((run: BatchWrite): unknown => run());
  const isolated = db.transaction((batch: readonly BatchWrite[]): WriteOutcome[] =>
    batch.map((run): WriteOutcome => {
      try {
        return { ok: true, value: savepoint(run) };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );

  // IMMEDIATE: the write lock is taken up front, so two connections never deadlock upgrading a read lock.
  return (batch) => {
    try {
      return fast.immediate(batch);
    } catch (err) {
      if (!(err instanceof WriteThrew)) throw err;
      return isolated.immediate(batch);
    }
  };
}
