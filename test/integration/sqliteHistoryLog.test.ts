import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import type { Mutation } from '../../relay/src/store/types';
import { agentReplyMutation } from '../helpers/conversationFixture';

/**
 * SQLite: the attempts of noted jobs (an agent reply in an active chat, whose write left no timeline
 * entry) go to an append-only log without a per-conversation index (issue 20); the rest of the
 * timeline stays in the indexed history. The log is bounded by a row cap and by age.
 */

const T0 = 1_700_000_000_000;
const W1 = { owner: 'w1', leaseMs: 30_000 };

let now = T0;
let dir: string;
let reader: Database.Database;
const stores: SqliteStore[] = [];

function open(opts: { historyLogCap?: number } = {}): SqliteStore {
  const store = SqliteStore.open(path.join(dir, 'relay.db'), { clock: () => now, backgroundCheckpoints: false, ...opts });
  stores.push(store);
  return store;
}
const count = (table: string): number => (reader.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

/** An agent reply in an active chat: a dedup key and one notify, with a jobs-only note. */
function reply(threadId: string, n: number): Mutation {
  return agentReplyMutation({
    threadId,
    dedupKey: `reply:${threadId}:${n}`,
    text: `reply ${n}`,
    deadlineAt: T0 + 3_600_000,
    summary: `notify "reply ${n}"`,
  });
}

/** Applies the reply with a lease and completes its job: one delivered entry. */
async function deliver(store: SqliteStore, threadId: string, n: number): Promise<void> {
  const { leased } = await store.apply(reply(threadId, n), W1);
  expect(leased).toHaveLength(1);
  now += 1;
  expect((await store.complete(leased[0]!, 'w1')).completed).toBe(true);
}

beforeEach(() => {
  now = T0;
  dir = mkdtempSync(path.join(os.tmpdir(), 'rce-history-log-'));
  open(); // creates the schema
  reader = new Database(path.join(dir, 'relay.db'), { readonly: true });
});

afterEach(async () => {
  reader.close();
  for (const s of stores.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite delivery log (history_log)', () => {
  it('an agent reply in an active chat adds one log row and nothing to the indexed history', async () => {
    const store = stores[0]!;
    await store.apply({ scope: { tenantId: 'tenant-a', threadId: 't1' }, history: { source: 'webhook', engageThreadId: 'E1', jobs: [] } });
    await deliver(store, 't1', 1);
    expect(count('history')).toBe(1);
    expect(count('history_log')).toBe(1);
    const timeline = await store.readHistory('tenant-a', 't1');
    expect(timeline.map((e) => [e.type, e.at])).toEqual([
      ['write', T0],
      ['delivered', T0 + 1],
    ]);
    expect(timeline[1]).toMatchObject({ note: { source: 'agent reply', summary: 'notify "reply 1"' }, queuedAt: T0 });
  });

  it('keeps the newest historyLogCap rows of all conversations, trimmed at the start of the log', async () => {
    for (const s of stores.splice(0)) await s.close();
    const store = open({ historyLogCap: 4 });
    for (let n = 1; n <= 10; n++) await deliver(store, n % 2 ? 't1' : 't2', n);
    // Trimmed every 4 rows down to 4: between 4 and 7 rows are kept, always the newest.
    expect(count('history_log')).toBeGreaterThanOrEqual(4);
    expect(count('history_log')).toBeLessThan(8);
    const kept = [...(await store.readHistory('tenant-a', 't1')), ...(await store.readHistory('tenant-a', 't2'))]
      .map((e) => (e.type === 'delivered' ? e.note?.summary : null))
      .sort();
    expect(kept.length).toBe(count('history_log'));
    expect(kept).toContain('notify "reply 10"');
    expect(kept).not.toContain('notify "reply 1"');
  });

  it('retention removes log rows older than the cutoff with the idle conversations, and keeps younger ones', async () => {
    const store = stores[0]!;
    await deliver(store, 't1', 1);
    await deliver(store, 't1', 2);
    now = T0 + 10_000;
    await deliver(store, 't2', 3);
    expect(count('history_log')).toBe(3);
    await store.purgeIdleConversations(T0 + 5_000, 100);
    expect(count('history_log')).toBe(1);
    expect(await store.readHistory('tenant-a', 't1')).toEqual([]);
    expect((await store.readHistory('tenant-a', 't2')).map((e) => e.type)).toEqual(['delivered']);
  });
});
