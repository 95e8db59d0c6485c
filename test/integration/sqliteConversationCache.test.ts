import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore, type SqliteStoreOptions } from '../../relay/src/store/sqliteStore';
import type { Conversation, Mutation } from '../../relay/src/store/types';
import { agentReplyMutation, conversationFixture } from '../helpers/conversationFixture';

/**
 * The SQLite store's conversation read cache (sqlite/conversationCache.ts): a read is served from
 * memory only while no other connection committed to the file, the store's own writes and deletes
 * drop what they change, and nobody can change what it hands out.
 */

const T0 = 1_700_000_000_000;
const conv = (threadId: string, patch: Partial<Conversation> = {}): Conversation => conversationFixture('tenant-a', threadId, patch);

let dir: string;
let file: string;
let trace: string[];
const opened: SqliteStore[] = [];

function open(opts: SqliteStoreOptions = {}): SqliteStore {
  const s = SqliteStore.open(file, { clock: () => T0, backgroundCheckpoints: false, traceSql: (sql) => trace.push(sql), ...opts });
  opened.push(s);
  return s;
}

/** Conversation rows this test's stores read from the file. */
const rowReads = (): number => trace.filter((s) => s.startsWith('SELECT data FROM conversations WHERE')).length;

/** An agent reply once the chat is active: a dedup key and a notify job, the conversation untouched. */
const reply = (threadId: string, n: number): Mutation =>
  agentReplyMutation({ threadId, dedupKey: `reply-${threadId}-${n}`, text: `reply ${n}`, deadlineAt: T0 + 60_000, summary: `notify ${n}` });

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'rce-convcache-'));
  file = path.join(dir, 'relay.db');
  trace = [];
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite conversation cache', () => {
  it('reads a conversation from the file once, then from memory, also across its own writes of other rows', async () => {
    // Written by another handle (a relay that ran before), so the first read goes to the file.
    await open().apply({ conversation: { value: conv('a'), expectedVersion: null } });
    const store = open();
    const first = await store.getConversation('tenant-a', 'a');
    expect(rowReads()).toBe(1);
    // The hot path's writes (dedup key, job, lease, completion) do not touch the conversation.
    const { leased } = await store.apply(reply('a', 1), { owner: 'w1', leaseMs: 30_000 });
    const [job] = leased;
    if (!job) throw new Error('no job leased');
    expect((await store.complete(job, 'w1')).completed).toBe(true);
    const again = await store.getConversation('tenant-a', 'a');
    expect(rowReads()).toBe(1);
    expect(again).toEqual({ ...conv('a'), version: 1 });
    expect(again).toBe(first);
  });

  it('sees a write by another connection to the same file on the next read', async () => {
    const store = open();
    await store.apply({ conversation: { value: conv('a'), expectedVersion: null } });
    expect((await store.getConversation('tenant-a', 'a'))?.status).toBe('idle');

    // Another relay (or a test's second handle) on the same file.
    const other = open();
    const v1 = await other.getConversation('tenant-a', 'a');
    if (!v1) throw new Error('missing');
    expect((await other.apply({ conversation: { value: { ...v1, status: 'queued' }, expectedVersion: 1 } })).outcome).toBe('applied');

    expect(await store.getConversation('tenant-a', 'a')).toMatchObject({ status: 'queued', version: 2 });
    // And a writer that read the old version through the cache would have been refused.
    expect((await store.apply({ conversation: { value: { ...v1, status: 'active' }, expectedVersion: 1 } })).outcome).toBe('conflict');
  });

  it('sees a plain connection (a CLI, an operator) change or delete the row', async () => {
    const store = open();
    await store.apply({ conversation: { value: conv('a'), expectedVersion: null } });
    await store.apply({ conversation: { value: conv('b'), expectedVersion: null } });
    expect((await store.getConversation('tenant-a', 'a'))?.authorScreenname).toBe('Ada Lovelace');
    expect(await store.getConversation('tenant-a', 'b')).not.toBeNull();

    const cli = new Database(file);
    try {
      const changed = JSON.stringify({ ...conv('a'), authorScreenname: 'Grace Hopper', version: 2 });
      cli.prepare("UPDATE conversations SET data = ?, version = 2 WHERE thread_id = 'a'").run(changed);
      expect((await store.getConversation('tenant-a', 'a'))?.authorScreenname).toBe('Grace Hopper');
      cli.prepare("DELETE FROM conversations WHERE thread_id = 'b'").run();
      expect(await store.getConversation('tenant-a', 'b')).toBeNull();
    } finally {
      cli.close();
    }
  });

  it('keeps what the store itself writes, exactly as a read of the file returns it, and drops everything when it purges', async () => {
    const store = open();
    await store.apply({ conversation: { value: conv('a'), expectedVersion: null } });
    const v1 = await store.getConversation('tenant-a', 'a');
    if (!v1) throw new Error('missing');
    // Undefined fields are not stored: the cached conversation must not have them either.
    const written = { ...v1, status: 'active' as const, agentId: undefined, queue: null };
    await store.apply({ conversation: { value: written, expectedVersion: 1 } });
    const v2 = await store.getConversation('tenant-a', 'a');
    expect(rowReads()).toBe(0);
    const fromFile = await open({ conversationCacheSize: 0 }).getConversation('tenant-a', 'a');
    expect(v2).toStrictEqual(fromFile);
    expect(v2).toMatchObject({ status: 'active', version: 2 });
    expect('agentId' in (v2 ?? {})).toBe(false);
    expect(Object.isFrozen(v2)).toBe(true);

    expect(await store.purgeIdleConversations(T0 + 1, 10)).toBe(1);
    expect(await store.getConversation('tenant-a', 'a')).toBeNull();
  });

  it('keeps nothing of a write that was rolled back', async () => {
    const writer = open();
    await writer.apply({ conversation: { value: conv('poison'), expectedVersion: null } });
    // Closed before the trigger goes in: the file then has one connection at a time (two full-suite runs
    // once saw the store below insert the job as if the trigger were not there while this one was open).
    await writer.close();
    // Every job insert of this conversation fails inside SQLite, after its conversation row was written.
    const ddl = new Database(file);
    ddl.exec(`CREATE TRIGGER poison BEFORE INSERT ON jobs WHEN NEW.thread_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned job'); END`);
    ddl.close();
    const store = open();
    const v1 = await store.getConversation('tenant-a', 'poison');
    if (!v1) throw new Error('missing');
    const before = rowReads();
    const job = {
      tenantId: 'tenant-a',
      threadId: 'poison',
      lane: 'tenant-a/poison/cognigy',
      kind: 'cognigy.notify' as const,
      payload: { text: 'x' },
      deadlineAt: T0 + 60_000,
    };
    // The write of the conversation ran (and was kept in memory) before the job insert threw.
    await expect(store.apply({ conversation: { value: { ...v1, status: 'active' }, expectedVersion: 1 }, jobs: [job] })).rejects.toThrow(
      'poisoned job',
    );
    expect(await store.getConversation('tenant-a', 'poison')).toMatchObject({ status: 'idle', version: 1 });
    expect(rowReads()).toBe(before + 1);
  });

  it('hands out conversations nobody can change', async () => {
    const store = open();
    await store.apply({
      conversation: { value: conv('a', { transcriptSent: { until: null, hashes: ['h1'] } }), expectedVersion: null },
    });
    const c = await store.getConversation('tenant-a', 'a');
    if (!c) throw new Error('missing');
    expect(() => {
      c.status = 'active';
    }).toThrow(TypeError);
    expect(() => {
      c.session.userId = 'someone else';
    }).toThrow(TypeError);
    expect(() => {
      c.options.getQueueUpdates = false;
    }).toThrow(TypeError);
    expect(() => c.transcriptSent?.hashes.push('h2')).toThrow(TypeError);
    // What a caller does with its copy is its own business.
    const copy = { ...c, status: 'active' as const };
    expect(copy.status).toBe('active');
    expect(await store.getConversation('tenant-a', 'a')).toEqual({
      ...conv('a', { transcriptSent: { until: null, hashes: ['h1'] } }),
      version: 1,
    });
  });

  it('keeps at most its capacity, dropping the least recently read', async () => {
    const store = open({ conversationCacheSize: 2 });
    for (const t of ['a', 'b', 'c']) await store.apply({ conversation: { value: conv(t), expectedVersion: null } });
    await store.getConversation('tenant-a', 'a');
    await store.getConversation('tenant-a', 'b');
    await store.getConversation('tenant-a', 'a'); // b is now the least recently read
    expect(rowReads()).toBe(2);
    await store.getConversation('tenant-a', 'c'); // drops b
    expect(rowReads()).toBe(3);
    await store.getConversation('tenant-a', 'a');
    await store.getConversation('tenant-a', 'c');
    expect(rowReads()).toBe(3);
    await store.getConversation('tenant-a', 'b');
    expect(rowReads()).toBe(4);
  });

  it('reads every time from the file when turned off', async () => {
    const store = open({ conversationCacheSize: 0 });
    await store.apply({ conversation: { value: conv('a'), expectedVersion: null } });
    await store.getConversation('tenant-a', 'a');
    const c = await store.getConversation('tenant-a', 'a');
    expect(rowReads()).toBe(2);
    expect(Object.isFrozen(c)).toBe(false);
  });

  it('does not cache an absent conversation', async () => {
    const store = open();
    expect(await store.getConversation('tenant-a', 'a')).toBeNull();
    const other = open();
    await other.apply({ conversation: { value: conv('a'), expectedVersion: null } });
    expect(await store.getConversation('tenant-a', 'a')).toMatchObject({ threadId: 'a', version: 1 });
  });
});
