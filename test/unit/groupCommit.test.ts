import { GroupCommit, type WriteOutcome } from '../../relay/src/store/sqlite/groupCommit';
import { MIGRATIONS } from '../../relay/src/store/sqlite/migrations';

/** A commit that records each batch and runs its writes, isolating each write's error. */
function recorder(failWhole = false) {
  const batches: string[][] = [];
  const commit = (batch: readonly (() => string)[]): WriteOutcome[] => {
    if (failWhole) throw new Error('disk I/O error');
    const outcomes = batch.map((run): WriteOutcome => {
      try {
        return { ok: true, value: run() };
      } catch (error) {
        return { ok: false, error };
      }
    });
    batches.push(outcomes.map((o) => (o.ok ? String(o.value) : 'x')));
    return outcomes;
  };
  return { batches, commit };
}

describe('GroupCommit', () => {
  it('commits the writes of one event-loop turn together, each caller getting its own value', async () => {
    const r = recorder();
    const gc = new GroupCommit({ commit: r.commit, lazyDelayMs: 50 });
    const results = await Promise.all([gc.add(() => 'a'), gc.add(() => 'b'), gc.add(() => 'c')]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(r.batches).toEqual([['a', 'b', 'c']]);
    expect(await gc.add(() => 'd')).toBe('d');
    expect(r.batches).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('rejects only the write that threw; the others of its batch succeed', async () => {
    const r = recorder();
    const gc = new GroupCommit({ commit: r.commit, lazyDelayMs: 50 });
    const failing = gc.add(() => {
      throw new Error('constraint');
    });
    const ok = gc.add(() => 'fine');
    await expect(failing).rejects.toThrow('constraint');
    await expect(ok).resolves.toBe('fine');
    expect(r.batches).toEqual([['x', 'fine']]);
  });

  it('rejects every write of a batch whose commit failed as a whole', async () => {
    const gc = new GroupCommit({ commit: recorder(true).commit, lazyDelayMs: 50 });
    const all = [gc.add(() => 'a'), gc.add(() => 'b', 'soon')];
    for (const p of all) await expect(p).rejects.toThrow('disk I/O error');
  });

  it("holds 'soon' writes until a 'now' write or the lazy delay, and flush() commits at once", async () => {
    const r = recorder();
    const gc = new GroupCommit({ commit: r.commit, lazyDelayMs: 30 });
    const soon = gc.add(() => 's1', 'soon');
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.batches).toEqual([]);
    const now = gc.add(() => 'n1');
    await Promise.all([soon, now]);
    expect(r.batches).toEqual([['s1', 'n1']]);

    // Alone, a 'soon' write is not committed at the next turn of the loop but by the lazy timer. (No
    // wall-clock check: libuv starts a timer from the loop's cached time, so on a loaded machine the
    // timer can fire sooner than Date.now() measured after add() suggests.)
    const lazy = gc.add(() => 's2', 'soon');
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.batches).toEqual([['s1', 'n1']]);
    await lazy;
    expect(r.batches).toEqual([['s1', 'n1'], ['s2']]);

    const flushed = gc.add(() => 's3', 'soon');
    gc.flush();
    expect(r.batches).toEqual([['s1', 'n1'], ['s2'], ['s3']]);
    await expect(flushed).resolves.toBe('s3');
  });
});

it('SQLite migrations are numbered 1..N in order, so user_version N means the first N ran', () => {
  expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
});
