/** What became of one write of a batch: its own value, or its own error. */
export type WriteOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface GroupCommitOptions<W> {
  /**
   * Runs a whole batch as one unit and returns each write's own outcome, in order. Throws when the
   * unit as a whole failed (nothing of it was written): every write of the batch is then rejected.
   */
  commit: (batch: readonly W[]) => WriteOutcome[];
  /** A batch holding only 'soon' writes is committed after at most this long (or with the next 'now' write). */
  lazyDelayMs: number;
}

interface Queued<W> {
  write: W;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects writes and commits them together, modelled on graphile-worker's `batch()`: the first
 * write of a batch schedules the commit, later ones join it, and each caller's promise settles with
 * its own outcome once the whole batch is committed. 'now' writes are committed at the next
 * `setImmediate` (every write issued during one turn of the event loop shares the commit); a batch
 * of only 'soon' writes waits up to `lazyDelayMs` for company.
 */
export class GroupCommit<W> {
  private queue: Queued<W>[] = [];
  private flushScheduled = false;
  private lazyTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: GroupCommitOptions<W>) {}

  add(write: W, when: 'now' | 'soon' = 'now'): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      if (this.flushScheduled) return;
      if (when === 'now') {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      } else {
        this.lazyTimer ??= setTimeout(() => this.flush(), this.options.lazyDelayMs);
      }
    });
  }

  /** Commits everything queued now (also what `close` calls, so accepted writes are not dropped). */
  flush(): void {
    this.flushScheduled = false;
    if (this.lazyTimer) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = null;
    }
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    let outcomes: WriteOutcome[];
    try {
      outcomes = this.options.commit(batch.map((q) => q.write));
    } catch (err) {
      for (const q of batch) q.reject(err);
      return;
    }
    batch.forEach((q, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) q.resolve(outcome.value);
      else q.reject(outcome ? outcome.error : new Error('group commit lost a write'));
    });
  }
}
