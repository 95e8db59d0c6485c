import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisStore } from '../../relay/src/store/redisStore';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import type { HistoryNote, JsonValue, NewOutboxJob, OutboxJob, Store } from '../../relay/src/store/types';
import { conversationFixture } from '../helpers/conversationFixture';

/**
 * One contract, two stores. A "backend" is one isolated namespace (a SQLite file, a Redis key prefix);
 * `open()` may be called several times to get independent handles on the same data, which is how
 * durability (close + reopen) and two-relay concurrency are tested.
 */
interface Backend {
  open(opts?: { clock?: () => number; deadLetterCap?: number; historyCap?: number }): Promise<Store>;
}

const redisUrl = (): string => {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: test/helpers/globalSetup.ts should have started redis-server');
  return url;
};

const tempDirs: string[] = [];
const openStores: Store[] = [];
afterEach(async () => {
  await Promise.all(openStores.splice(0).map((s) => s.close()));
});
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sqliteBackend(): Backend {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-store-'));
  tempDirs.push(dir);
  // A subdirectory that does not exist yet: open() must create it.
  const file = path.join(dir, 'data', 'relay.db');
  return {
    async open(opts) {
      const s = SqliteStore.open(file, opts);
      openStores.push(s);
      return s;
    },
  };
}

function clusterUrl(): string {
  const url = process.env.TEST_REDIS_CLUSTER_URL;
  if (!url) throw new Error('TEST_REDIS_CLUSTER_URL is not set: test/helpers/globalSetup.ts should have started the Redis Cluster');
  return url;
}

function redisBackend(url: () => string = redisUrl): Backend {
  const keyPrefix = `test:contract:${randomUUID()}:`;
  return {
    async open(opts) {
      const s = await RedisStore.connect(url(), { keyPrefix, ...opts });
      openStores.push(s);
      return s;
    },
  };
}

const T0 = 1_700_000_000_000;
function fakeClock(start = T0): { now: () => number; advance(ms: number): void; set(t: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms), set: (v) => (t = v) };
}

const conv = conversationFixture;

/**
 * A lane of conversation tenant-a/t1 (`<tenant>/<thread>/<direction>`, as laneOf builds them): a
 * mutation's jobs belong to its conversation, so the short names used below share one conversation.
 */
const L = (name: string): string => (name.includes('/') ? name : `tenant-a/t1/${name}`);
const T1 = { tenantId: 'tenant-a', threadId: 't1' };
const laneName = (j: { lane: string }): string => j.lane.slice(j.lane.lastIndexOf('/') + 1);

function job(lane: string, patch: Partial<NewOutboxJob> = {}): NewOutboxJob {
  return {
    tenantId: 'tenant-a',
    threadId: L(lane).split('/')[1] ?? '',
    lane: L(lane),
    kind: 'engage.send',
    payload: { action: 'messages.create', params: { body: `for ${lane}`, n: 1, ok: true, none: null, list: [1, 'x'] } },
    deadlineAt: T0 + 3_600_000,
    ...patch,
  };
}

const LEASE = 30_000;
const claim = (s: Store, owner: string, now: number, limit = 100): Promise<OutboxJob[]> =>
  s.claimDueJobs({ now, limit, owner, leaseMs: LEASE });
const byLane = (jobs: OutboxJob[]): OutboxJob[] => [...jobs].sort((a, b) => a.lane.localeCompare(b.lane));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each<[string, () => Backend]>([
  ['sqlite', sqliteBackend],
  ['redis', () => redisBackend()],
  ['redis-cluster', () => redisBackend(clusterUrl)],
])('Store contract: %s', (name, makeBackend) => {
  const kind = name === 'sqlite' ? 'sqlite' : 'redis';
  let backend: Backend;
  let clock: ReturnType<typeof fakeClock>;
  let store: Store;

  beforeEach(async () => {
    backend = makeBackend();
    clock = fakeClock();
    store = await backend.open({ clock: clock.now });
  });

  it('reports its kind and answers ping', async () => {
    expect(store.kind).toBe(kind);
    await expect(store.ping()).resolves.toBeUndefined();
  });

  describe('conversations', () => {
    it('creates, reads, updates with optimistic versions', async () => {
      expect(await store.getConversation('tenant-a', 't1')).toBeNull();

      const created = conv('tenant-a', 't1', {
        queue: { position: 3, estimatedWaitTimeMs: 60_000, receivedAt: '2024-01-01T00:00:01.000Z' },
      });
      expect((await store.apply({ conversation: { value: created, expectedVersion: null } })).outcome).toBe('applied');
      const v1 = await store.getConversation('tenant-a', 't1');
      // The store owns the counter: a new conversation is version 1 whatever the caller put in.
      expect(v1).toEqual({ ...created, version: 1 });

      // null = must not exist yet
      expect((await store.apply({ conversation: { value: created, expectedVersion: null } })).outcome).toBe('conflict');

      const updated = { ...v1!, status: 'queued' as const, handoverCount: 1, messageCount: 2 };
      expect((await store.apply({ conversation: { value: updated, expectedVersion: 1 } })).outcome).toBe('applied');
      expect(await store.getConversation('tenant-a', 't1')).toEqual({ ...updated, version: 2 });

      // A writer that read version 1 lost the race.
      expect((await store.apply({ conversation: { value: { ...updated, status: 'active' }, expectedVersion: 1 } })).outcome).toBe(
        'conflict',
      );
      expect((await store.getConversation('tenant-a', 't1'))?.status).toBe('queued');
      // Ahead of the stored version is a conflict too.
      expect((await store.apply({ conversation: { value: updated, expectedVersion: 7 } })).outcome).toBe('conflict');
    });

    it('refuses an update of a conversation that does not exist', async () => {
      expect((await store.apply({ conversation: { value: conv('tenant-a', 'ghost'), expectedVersion: 1 } })).outcome).toBe('conflict');
      expect(await store.getConversation('tenant-a', 'ghost')).toBeNull();
    });

    it('keeps tenants apart', async () => {
      await store.apply({ conversation: { value: conv('tenant-a', 'same', { authorId: 'a' }), expectedVersion: null } });
      await store.apply({ conversation: { value: conv('tenant-b', 'same', { authorId: 'b' }), expectedVersion: null } });
      await store.apply({ conversation: { value: conv('tenant-a', 'only-a', { engageThreadId: 'E-a' }), expectedVersion: null } });

      expect((await store.getConversation('tenant-a', 'same'))?.authorId).toBe('a');
      expect((await store.getConversation('tenant-b', 'same'))?.authorId).toBe('b');
      expect(await store.getConversation('tenant-b', 'only-a')).toBeNull();
      expect(await store.findConversationByEngageThread('tenant-b', 'E-a')).toBeNull();
      expect((await store.findConversationByEngageThread('tenant-a', 'E-a'))?.threadId).toBe('only-a');
      // Same version sequence per tenant: updating one does not touch the other.
      expect(
        (await store.apply({ conversation: { value: conv('tenant-b', 'same', { authorId: 'b2' }), expectedVersion: 1 } })).outcome,
      ).toBe('applied');
      expect((await store.getConversation('tenant-a', 'same'))?.version).toBe(1);
    });

    it('does not confuse ids that contain separators', async () => {
      await store.apply({ conversation: { value: conv('a:b', 'c', { authorId: 'first' }), expectedVersion: null } });
      expect(await store.getConversation('a', 'b:c')).toBeNull();
      expect(
        (await store.apply({ conversation: { value: conv('a', 'b:c', { authorId: 'second' }), expectedVersion: null } })).outcome,
      ).toBe('applied');
      expect((await store.getConversation('a:b', 'c'))?.authorId).toBe('first');
    });

    it('finds a conversation by Engage thread id, following changes', async () => {
      const c = conv('tenant-a', 't1');
      await store.apply({ conversation: { value: c, expectedVersion: null } });
      expect(await store.findConversationByEngageThread('tenant-a', 'E1')).toBeNull();

      await store.apply({ conversation: { value: { ...c, engageThreadId: 'E1' }, expectedVersion: 1 } });
      expect(await store.findConversationByEngageThread('tenant-a', 'E1')).toMatchObject({ threadId: 't1', version: 2 });

      // Other writes keep the index (and return the newest data).
      await store.apply({ conversation: { value: { ...c, engageThreadId: 'E1', status: 'active' }, expectedVersion: 2 } });
      expect(await store.findConversationByEngageThread('tenant-a', 'E1')).toMatchObject({ status: 'active', version: 3 });

      await store.apply({ conversation: { value: { ...c, engageThreadId: 'E2' }, expectedVersion: 3 } });
      expect(await store.findConversationByEngageThread('tenant-a', 'E1')).toBeNull();
      expect((await store.findConversationByEngageThread('tenant-a', 'E2'))?.threadId).toBe('t1');

      await store.apply({ conversation: { value: { ...c, engageThreadId: null }, expectedVersion: 4 } });
      expect(await store.findConversationByEngageThread('tenant-a', 'E2')).toBeNull();
    });

    it('leaves the Engage index alone when the write is a conflict', async () => {
      await store.apply({ conversation: { value: conv('tenant-a', 't1', { engageThreadId: 'E1' }), expectedVersion: null } });
      expect(
        (await store.apply({ conversation: { value: conv('tenant-a', 't1', { engageThreadId: 'E9' }), expectedVersion: 5 } })).outcome,
      ).toBe('conflict');
      expect((await store.findConversationByEngageThread('tenant-a', 'E1'))?.threadId).toBe('t1');
      expect(await store.findConversationByEngageThread('tenant-a', 'E9')).toBeNull();
    });
  });

  describe('dedup', () => {
    it('remembers a key for its TTL and forgets it afterwards', async () => {
      expect(await store.hasDedupKey('evt-1')).toBe(false);
      expect((await store.apply({ dedup: { key: 'evt-1', ttlMs: 10_000 } })).outcome).toBe('applied');
      expect(await store.hasDedupKey('evt-1')).toBe(true);
      expect((await store.apply({ dedup: { key: 'evt-1', ttlMs: 10_000 } })).outcome).toBe('duplicate');

      clock.advance(9_999);
      expect(await store.hasDedupKey('evt-1')).toBe(true);
      clock.advance(1);
      expect(await store.hasDedupKey('evt-1')).toBe(false);
      // Expired counts as unseen, and re-applying remembers it again.
      expect((await store.apply({ dedup: { key: 'evt-1', ttlMs: 10_000 } })).outcome).toBe('applied');
      expect((await store.apply({ dedup: { key: 'evt-1', ttlMs: 10_000 } })).outcome).toBe('duplicate');
    });

    it('writes nothing on a duplicate', async () => {
      const c = conv('tenant-a', 't1');
      await store.apply({ dedup: { key: 'req-1', ttlMs: 60_000 }, conversation: { value: c, expectedVersion: null }, jobs: [job('L')] });
      const before = await store.outboxStats();

      const { outcome } = await store.apply({
        dedup: { key: 'req-1', ttlMs: 60_000 },
        conversation: { value: { ...c, status: 'active' }, expectedVersion: 1 },
        jobs: [job('L'), job('M')],
      });
      expect(outcome).toBe('duplicate');
      expect(await store.getConversation('tenant-a', 't1')).toMatchObject({ status: 'idle', version: 1 });
      expect(await store.outboxStats()).toEqual(before);
      expect(before.pending).toBe(1);
    });

    it("a lone dedup key written with a scope is seen by that conversation's later writes", async () => {
      expect((await store.apply({ scope: T1, dedup: { key: 'evt-s', ttlMs: 60_000 } })).outcome).toBe('applied');
      expect(await store.hasDedupKey('evt-s', T1)).toBe(true);
      expect(
        (
          await store.apply({
            dedup: { key: 'evt-s', ttlMs: 60_000 },
            conversation: { value: conv('tenant-a', 't1'), expectedVersion: null },
          })
        ).outcome,
      ).toBe('duplicate');
      expect(await store.getConversation('tenant-a', 't1')).toBeNull();
    });

    it('refuses a mutation whose jobs belong to another conversation (one write stays in one Cluster slot)', async () => {
      await expect(
        store.apply({ conversation: { value: conv('tenant-a', 't1'), expectedVersion: null }, jobs: [job('tenant-a/t2/engage')] }),
      ).rejects.toThrow(/must belong to its conversation/);
      await expect(store.apply({ jobs: [job('tenant-a/t2/engage'), job('tenant-a/t3/engage')] })).rejects.toThrow(
        /must belong to its conversation/,
      );
      expect(await store.getConversation('tenant-a', 't1')).toBeNull();
    });

    it('rejects a non-positive TTL', async () => {
      await expect(store.apply({ dedup: { key: 'k', ttlMs: 0 } })).rejects.toThrow(/ttlMs/);
    });
  });

  describe('atomicity', () => {
    it('a conflict appends no jobs and does not remember the dedup key', async () => {
      await store.apply({ conversation: { value: conv('tenant-a', 't1'), expectedVersion: null } });
      const { outcome } = await store.apply({
        dedup: { key: 'req-9', ttlMs: 60_000 },
        conversation: { value: conv('tenant-a', 't1', { status: 'active' }), expectedVersion: null },
        jobs: [job('L1'), job('L2')],
      });
      expect(outcome).toBe('conflict');
      expect(await store.hasDedupKey('req-9', T1)).toBe(false);
      expect(await store.outboxStats()).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });
      expect(await claim(store, 'r1', T0)).toEqual([]);
      expect((await store.getConversation('tenant-a', 't1'))?.status).toBe('idle');
      // The same request can then succeed.
      expect(
        (
          await store.apply({
            dedup: { key: 'req-9', ttlMs: 60_000 },
            conversation: { value: conv('tenant-a', 't1', { status: 'active' }), expectedVersion: 1 },
            jobs: [job('L1')],
          })
        ).outcome,
      ).toBe('applied');
      expect(await store.outboxStats()).toMatchObject({ pending: 1 });
    });

    it('an empty mutation is applied and changes nothing', async () => {
      expect((await store.apply({})).outcome).toBe('applied');
      expect(await store.outboxStats()).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });
    });
  });

  describe('outbox', () => {
    it('assigns ids, seq and defaults to new jobs and returns them intact', async () => {
      const input = job('L', { kind: 'cognigy.inject', tenantId: 'tenant-z' });
      await store.apply({ jobs: [input] });
      const [claimed] = await claim(store, 'r1', T0);
      expect(claimed).toEqual({
        ...input,
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        seq: expect.any(Number),
        attempts: 0,
        nextAttemptAt: T0,
        createdAt: T0,
        lastError: null,
      });
    });

    it('hands out only the head of each lane, in seq order, lanes in parallel', async () => {
      await store.apply({ jobs: [job('A', { payload: 'a1' }), job('B', { payload: 'b1' }), job('A', { payload: 'a2' })] });
      await store.apply({ jobs: [job('A', { payload: 'a3' }), job('B', { payload: 'b2' })] });
      expect(await store.outboxStats()).toEqual({ pending: 5, deadLettered: 0, nextDueAt: T0 });

      const first = byLane(await claim(store, 'r1', T0));
      expect(first.map((j) => j.payload)).toEqual(['a1', 'b1']);
      // While leased nobody gets the lane, not even the holder (no double execution).
      expect(await claim(store, 'r1', T0)).toEqual([]);
      expect(await claim(store, 'r2', T0)).toEqual([]);

      const seen: OutboxJob[] = [...first];
      for (let current = first; current.length > 0;) {
        for (const j of current) expect((await store.complete(j, 'r1')).completed).toBe(true);
        current = await claim(store, 'r1', T0);
        expect(current.length).toBeLessThanOrEqual(2);
        seen.push(...current);
      }
      const order = (lane: string): unknown[] => seen.filter((j) => laneName(j) === lane).map((j) => j.payload);
      expect(order('A')).toEqual(['a1', 'a2', 'a3']);
      expect(order('B')).toEqual(['b1', 'b2']);
      // seq is monotonic across the store.
      const seqA = seen.filter((j) => laneName(j) === 'A').map((j) => j.seq);
      expect([...seqA].sort((x, y) => x - y)).toEqual(seqA);
      expect(new Set(seen.map((j) => j.seq)).size).toBe(5);
      expect(await store.outboxStats()).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });
    });

    it('respects the claim limit', async () => {
      await store.apply({ jobs: ['L1', 'L2', 'L3', 'L4', 'L5'].map((l) => job(l)) });
      expect(await claim(store, 'r1', T0, 2)).toHaveLength(2);
      expect(await claim(store, 'r1', T0, 0)).toHaveLength(0);
      expect(await claim(store, 'r1', T0, 10)).toHaveLength(3);
    });

    it('holds a job until notBefore, and a waiting head blocks its lane', async () => {
      await store.apply({ jobs: [job('A', { notBefore: T0 + 5_000, payload: 'later' }), job('A', { payload: 'behind' })] });
      await store.apply({ jobs: [job('B', { payload: 'now' })] });
      expect(await store.outboxStats()).toMatchObject({ nextDueAt: T0 });

      const now = await claim(store, 'r1', T0);
      expect(now.map((j) => j.payload)).toEqual(['now']);
      expect(now[0] && (await store.complete(now[0], 'r1')).completed).toBe(true);
      expect(await store.outboxStats()).toMatchObject({ pending: 2, nextDueAt: T0 + 5_000 });

      expect(await claim(store, 'r1', T0 + 4_999)).toEqual([]);
      const later = await claim(store, 'r1', T0 + 5_000);
      expect(later).toHaveLength(1);
      expect(later[0]).toMatchObject({ payload: 'later', nextAttemptAt: T0 + 5_000, notBefore: T0 + 5_000 });
    });

    it('keeps a leased lane closed when jobs are appended to it, then continues with them', async () => {
      await store.apply({ jobs: [job('A', { payload: 1 })] });
      const [head] = await claim(store, 'r1', T0);
      await store.apply({ jobs: [job('A', { payload: 2 })] });
      expect(await claim(store, 'r2', T0)).toEqual([]);
      expect((await store.complete(head!, 'r1')).completed).toBe(true);
      expect((await claim(store, 'r2', T0)).map((j) => j.payload)).toEqual([2]);
    });

    it('leases a lane to one owner until the lease expires, then another takes over', async () => {
      await store.apply({ jobs: [job('A', { payload: 'x' }), job('A', { payload: 'y' })] });
      const [mine] = await claim(store, 'r1', T0);
      expect(mine).toBeDefined();
      const j = mine!;

      // Another relay can neither claim nor settle it.
      expect(await claim(store, 'r2', T0 + LEASE - 1)).toEqual([]);
      expect((await store.complete(j, 'r2')).completed).toBe(false);
      expect(await store.retryJob(j, 'r2', { nextAttemptAt: T0, error: 'nope' })).toBe(false);
      expect(await store.deadLetterJob(j, 'r2', 'nope')).toBe(false);
      expect(await store.outboxStats()).toEqual({ pending: 2, deadLettered: 0, nextDueAt: T0 + LEASE });

      // r1 "died": after leaseMs r2 takes the lane over with the same head.
      const [taken] = await claim(store, 'r2', T0 + LEASE);
      expect(taken).toMatchObject({ id: j.id, payload: 'x', attempts: 0 });
      // The old owner lost the lease: its late answers change nothing.
      expect((await store.complete(j, 'r1')).completed).toBe(false);
      expect(await store.retryJob(j, 'r1', { nextAttemptAt: T0, error: 'late' })).toBe(false);
      expect(await store.deadLetterJob(j, 'r1', 'late')).toBe(false);
      expect(await store.outboxStats()).toMatchObject({ pending: 2, deadLettered: 0 });

      expect((await store.complete(taken!, 'r2')).completed).toBe(true);
      expect((await claim(store, 'r1', T0 + LEASE)).map((x) => x.payload)).toEqual(['y']);
    });

    it('a renewed lease keeps the lane closed past its first expiry; only the holder can renew', async () => {
      await store.apply({ jobs: [job('A', { payload: 'x' })] });
      const [a] = await claim(store, 'r1', T0);
      clock.advance(LEASE - 1_000);
      expect(await store.renewLease(a!, 'r2', LEASE)).toBe(false);
      expect(await store.renewLease(a!, 'r1', LEASE)).toBe(true);
      clock.advance(2_000); // past the first expiry, within the renewed one
      expect(await claim(store, 'r2', clock.now())).toEqual([]);
      clock.advance(LEASE);
      expect((await claim(store, 'r2', clock.now())).map((j) => j.payload)).toEqual(['x']);
      expect(await store.renewLease(a!, 'r1', LEASE)).toBe(false);
    });

    it("releasing an owner's leases (a restart under the same id) makes its lanes claimable at once, and no one else's", async () => {
      await store.apply({ jobs: [job('tenant-a/o1/engage', { payload: 'mine' })] });
      await store.apply({ jobs: [job('tenant-a/o2/engage', { payload: 'other' })] });
      const mine = await claim(store, 'r1', T0, 1);
      const theirs = await claim(store, 'r2', T0, 1);
      expect(mine).toHaveLength(1);
      expect(theirs).toHaveLength(1);
      expect(await store.releaseLeasesOf('r1')).toBe(1);
      const again = await claim(store, 'r1', T0);
      expect(again.map((j) => j.payload)).toEqual(mine.map((j) => j.payload));
      expect((await store.complete(again[0]!, 'r1')).completed).toBe(true);
      expect((await store.complete(theirs[0]!, 'r2')).completed).toBe(true);
    });

    it('a lease is bound to the job it was granted for', async () => {
      await store.apply({ jobs: [job('A', { payload: 'x' }), job('A', { payload: 'y' })] });
      const [head] = await claim(store, 'r1', T0);
      const forged: OutboxJob = { ...head!, id: randomUUID() };
      expect((await store.complete(forged, 'r1')).completed).toBe(false);
      expect((await store.complete(head!, 'r1')).completed).toBe(true);
      // Completing twice is refused: the lease was released.
      expect((await store.complete(head!, 'r1')).completed).toBe(false);
    });

    it('schedules retries and counts attempts', async () => {
      await store.apply({ jobs: [job('A', { payload: 'x' }), job('A', { payload: 'y' })] });
      const [first] = await claim(store, 'r1', T0);
      expect(await store.retryJob(first!, 'r1', { nextAttemptAt: T0 + 2_000, error: 'HTTP 503' })).toBe(true);
      // Released, but not due yet; the job stays at the head, so 'y' waits too.
      expect(await store.outboxStats()).toEqual({ pending: 2, deadLettered: 0, nextDueAt: T0 + 2_000 });
      expect(await claim(store, 'r2', T0 + 1_999)).toEqual([]);

      const [again] = await claim(store, 'r2', T0 + 2_000);
      expect(again).toMatchObject({ id: first!.id, payload: 'x', attempts: 1, nextAttemptAt: T0 + 2_000, lastError: 'HTTP 503' });
      expect(await store.retryJob(again!, 'r2', { nextAttemptAt: T0 + 6_000, error: 'HTTP 502' })).toBe(true);
      const [third] = await claim(store, 'r1', T0 + 6_000);
      expect(third).toMatchObject({ attempts: 2, lastError: 'HTTP 502', seq: first!.seq });
      expect((await store.complete(third!, 'r1')).completed).toBe(true);
      expect((await claim(store, 'r1', T0 + 6_000)).map((j) => j.payload)).toEqual(['y']);
    });

    it('moves a job to the dead letters, newest first, and lets the lane go on', async () => {
      await store.apply({
        jobs: [job('A', { payload: 'a1' }), job('A', { payload: 'a2' }), job('B', { payload: 'b1', kind: 'cognigy.notify' })],
      });
      const firsts = byLane(await claim(store, 'r1', T0));
      expect(firsts.map((j) => j.payload)).toEqual(['a1', 'b1']);
      const [a1, b1] = firsts;
      expect(await store.retryJob(a1!, 'r1', { nextAttemptAt: T0 + 1_000, error: 'timeout' })).toBe(true);
      const [a1again] = await claim(store, 'r1', T0 + 1_000);

      clock.set(T0 + 1_500);
      expect(await store.deadLetterJob(a1again!, 'r1', 'deadline passed')).toBe(true);
      clock.set(T0 + 1_600);
      expect(await store.deadLetterJob(b1!, 'r1', 'HTTP 400 bad request')).toBe(true);

      const dead = await store.listDeadLetters(10);
      expect(dead).toEqual([
        { job: { ...b1!, attempts: 0, lastError: null }, error: 'HTTP 400 bad request', failedAt: T0 + 1_600 },
        { job: { ...a1!, attempts: 1, nextAttemptAt: T0 + 1_000, lastError: 'timeout' }, error: 'deadline passed', failedAt: T0 + 1_500 },
      ]);
      expect(await store.listDeadLetters(1)).toHaveLength(1);
      expect(await store.listDeadLetters(0)).toEqual([]);
      expect(await store.outboxStats()).toEqual({ pending: 1, deadLettered: 2, nextDueAt: T0 });
      expect((await claim(store, 'r1', T0 + 2_000)).map((j) => j.payload)).toEqual(['a2']);
    });
  });

  describe('timeline (history written with the change it records)', () => {
    const note = (jobs: string[], patch: Partial<HistoryNote> = {}): HistoryNote => ({ source: 'extension', jobs, ...patch });

    it("records an applied write with its jobs' ids, then each job's failed attempts, its delivery or its dead letter", async () => {
      const created = conv('tenant-a', 't1');
      const { outcome } = await store.apply({
        conversation: { value: created, expectedVersion: null },
        jobs: [job('engage', { payload: 'm1' }), job('cognigy', { payload: 'n1' })],
        history: note(['send m1', 'notify n1'], { status: { from: null, to: 'queued' } }),
      });
      expect(outcome).toBe('applied');
      const heads = byLane(await claim(store, 'r1', T0));
      const [toCognigy, toEngage] = heads;
      const written = await store.readHistory('tenant-a', 't1');
      expect(written).toEqual([
        {
          at: T0,
          type: 'write',
          source: 'extension',
          status: { from: null, to: 'queued' },
          jobs: [
            { id: toEngage?.id, kind: 'engage.send', summary: 'send m1' },
            { id: toCognigy?.id, kind: 'engage.send', summary: 'notify n1' },
          ],
        },
      ]);
      clock.advance(10);
      expect(await store.retryJob(toEngage!, 'r1', { nextAttemptAt: T0 + 500, error: 'HTTP 503' })).toBe(true);
      expect((await store.complete(toCognigy!, 'r1')).completed).toBe(true);
      clock.advance(1_000);
      const [again] = await claim(store, 'r1', clock.now());
      expect(await store.deadLetterJob(again!, 'r1', 'HTTP 400')).toBe(true);
      expect((await store.readHistory('tenant-a', 't1')).slice(1)).toEqual([
        { at: T0 + 10, type: 'retry', jobId: toEngage?.id, kind: 'engage.send', attempt: 1, error: 'HTTP 503', nextAttemptAt: T0 + 500 },
        { at: T0 + 10, type: 'delivered', jobId: toCognigy?.id, kind: 'engage.send', attempt: 1, queuedAt: T0 },
        { at: T0 + 1_010, type: 'dead', jobId: toEngage?.id, kind: 'engage.send', attempt: 2, error: 'HTTP 400' },
      ]);
      // A completion by someone who lost the lease records nothing.
      expect((await store.complete(toCognigy!, 'r1')).completed).toBe(false);
      expect(await store.readHistory('tenant-a', 't1')).toHaveLength(4);
    });

    it('a write that only queues jobs leaves no entry: each job carries the note, and its attempts tell it (issue 20)', async () => {
      await store.apply({ conversation: { value: conv('tenant-a', 't1'), expectedVersion: null } });
      const noted = { source: 'agent reply', summary: 'notify hello' } as const;
      const { leased } = await store.apply(
        {
          scope: T1,
          dedup: { key: 'r1', ttlMs: 60_000 },
          jobs: [job('cognigy', { payload: 'n1' })],
          history: note(['notify hello'], { source: 'agent reply' }),
        },
        { owner: 'w1', leaseMs: LEASE },
      );
      expect(await store.readHistory('tenant-a', 't1')).toEqual([]);
      expect(leased).toEqual([expect.objectContaining({ payload: 'n1', note: noted })]);
      // Pending: the job, with its note, is what inspect can show.
      expect((await store.pendingJobsOf('tenant-a', 't1')).map((j) => [j.id, j.note])).toEqual([[leased[0]?.id, noted]]);
      clock.advance(10);
      expect(await store.retryJob(leased[0]!, 'w1', { nextAttemptAt: T0 + 20, error: 'HTTP 503' })).toBe(true);
      clock.advance(10);
      const [again] = await claim(store, 'w2', clock.now());
      expect(again).toMatchObject({ id: leased[0]?.id, note: noted });
      expect((await store.complete(again!, 'w2')).completed).toBe(true);
      const id = leased[0]?.id;
      expect(await store.readHistory('tenant-a', 't1')).toEqual([
        {
          at: T0 + 10,
          type: 'retry',
          jobId: id,
          kind: 'engage.send',
          attempt: 1,
          error: 'HTTP 503',
          nextAttemptAt: T0 + 20,
          queuedAt: T0,
          note: noted,
        },
        { at: T0 + 20, type: 'delivered', jobId: id, kind: 'engage.send', attempt: 2, queuedAt: T0, note: noted },
      ]);
      expect(await store.pendingJobsOf('tenant-a', 't1')).toEqual([]);
    });

    it("lists a conversation's pending jobs of every lane, oldest first, and no other conversation's", async () => {
      const other = { tenantId: 'tenant-a', threadId: 't2' };
      await store.apply({ scope: T1, jobs: [job('engage', { payload: 'e1' }), job('cognigy', { payload: 'c1' })] });
      await store.apply({ scope: other, jobs: [job('tenant-a/t2/engage', { payload: 'x' })] });
      await store.apply({ scope: T1, jobs: [job('engage', { payload: 'e2' })] });
      expect((await store.pendingJobsOf('tenant-a', 't1')).map((j) => j.payload)).toEqual(['e1', 'c1', 'e2']);
      expect((await store.pendingJobsOf('tenant-a', 't2')).map((j) => j.payload)).toEqual(['x']);
      expect(await store.pendingJobsOf('tenant-a', 'nobody')).toEqual([]);
    });

    it('records nothing for a duplicate or a conflict, nor for a write without a note', async () => {
      await store.apply({ scope: T1, dedup: { key: 'd1', ttlMs: 60_000 }, history: note([]) });
      expect(await store.readHistory('tenant-a', 't1')).toHaveLength(1);
      expect((await store.apply({ scope: T1, dedup: { key: 'd1', ttlMs: 60_000 }, history: note([]) })).outcome).toBe('duplicate');
      expect((await store.apply({ conversation: { value: conv('tenant-a', 't1'), expectedVersion: 4 }, history: note([]) })).outcome).toBe(
        'conflict',
      );
      await store.apply({ scope: T1, jobs: [job('engage')] });
      expect(await store.readHistory('tenant-a', 't1')).toHaveLength(1);
    });

    it('keeps the newest historyCap entries per conversation, and each conversation its own', async () => {
      const capped = await backend.open({ clock: clock.now, historyCap: 3 });
      for (let i = 1; i <= 5; i++) {
        clock.advance(1);
        await capped.apply({ scope: T1, history: note([], { queue: { position: i, estimatedWaitTimeMs: 0 } }) });
      }
      await capped.apply({ scope: { tenantId: 'tenant-a', threadId: 't2' }, history: note([], { engageThreadId: 'E2' }) });
      const kept = await capped.readHistory('tenant-a', 't1');
      expect(kept.map((e) => (e.type === 'write' ? e.queue?.position : null))).toEqual([3, 4, 5]);
      expect(await capped.readHistory('tenant-a', 't2')).toEqual([
        { at: T0 + 5, type: 'write', source: 'extension', engageThreadId: 'E2', jobs: [] },
      ]);
    });

    it('finds conversations by thread id, Cognigy session id or Engage thread id, in every tenant', async () => {
      await store.apply({ conversation: { value: conv('tenant-a', 'x1', { engageThreadId: 'E-x1' }), expectedVersion: null } });
      await store.apply({ conversation: { value: conv('tenant-b', 'x1'), expectedVersion: null } });
      await store.apply({ conversation: { value: conv('tenant-a', 'y1'), expectedVersion: null } });
      const ids = async (ref: string) => (await store.findConversations(ref)).map((c) => `${c.tenantId}/${c.threadId}`).sort();
      expect(await ids('x1')).toEqual(['tenant-a/x1', 'tenant-b/x1']);
      expect(await ids('sess-y1')).toEqual(['tenant-a/y1']);
      expect(await ids('E-x1')).toEqual(['tenant-a/x1']);
      expect(await ids('nothing')).toEqual([]);
    });

    it('a conversation purged by retention takes its timeline with it', async () => {
      await store.apply({
        conversation: { value: conv('tenant-a', 'old'), expectedVersion: null },
        history: note([], { status: { from: null, to: 'idle' } }),
      });
      await store.apply({
        conversation: { value: conv('tenant-a', 'kept'), expectedVersion: null },
        history: note([], { status: { from: null, to: 'idle' } }),
      });
      clock.advance(60_000);
      await store.apply({
        conversation: { value: conv('tenant-a', 'kept'), expectedVersion: 1 },
        history: note([], { status: { from: 'idle', to: 'queued' } }),
      });
      expect(await store.purgeIdleConversations(clock.now(), 10)).toBe(1);
      expect(await store.readHistory('tenant-a', 'old')).toEqual([]);
      expect(await store.readHistory('tenant-a', 'kept')).toHaveLength(2);
    });
  });

  describe('retention', () => {
    it('purges conversations last written before the cutoff, with their Engage index, in batches; keeps the rest', async () => {
      for (let i = 0; i < 7; i++) {
        await store.apply({ conversation: { value: conv('tenant-a', `old${i}`, { engageThreadId: `E-old${i}` }), expectedVersion: null } });
      }
      clock.advance(60_000);
      const cutoff = clock.now();
      await store.apply({ conversation: { value: conv('tenant-a', 'fresh', { engageThreadId: 'E-fresh' }), expectedVersion: null } });
      // An old conversation written again is fresh again.
      await store.apply({
        conversation: { value: conv('tenant-a', 'old0', { engageThreadId: 'E-old0', authorId: 'again' }), expectedVersion: 1 },
      });

      expect(await store.purgeIdleConversations(cutoff, 4)).toBe(4);
      expect(await store.purgeIdleConversations(cutoff, 4)).toBe(2);
      expect(await store.purgeIdleConversations(cutoff, 4)).toBe(0);
      for (let i = 1; i < 7; i++) {
        expect(await store.getConversation('tenant-a', `old${i}`)).toBeNull();
        expect(await store.findConversationByEngageThread('tenant-a', `E-old${i}`)).toBeNull();
      }
      expect(await store.getConversation('tenant-a', 'old0')).toMatchObject({ authorId: 'again' });
      expect(await store.findConversationByEngageThread('tenant-a', 'E-fresh')).toMatchObject({ threadId: 'fresh' });
      // A purged conversation can start over.
      expect((await store.apply({ conversation: { value: conv('tenant-a', 'old1'), expectedVersion: null } })).outcome).toBe('applied');
    });
  });

  describe('dead letters', () => {
    async function deadLetter(s: Store, lane: string, payload: string): Promise<OutboxJob> {
      await s.apply({ jobs: [job(lane, { payload })] });
      const [j] = (await claim(s, 'w', clock.now())).filter((x) => x.payload === payload);
      expect(await s.deadLetterJob(j!, 'w', `failed ${payload}`)).toBe(true);
      clock.advance(1);
      return j!;
    }

    it('retries one: the job goes back to its lane (new id, attempts 0), once', async () => {
      const dead = await deadLetter(store, 'tenant-a/d1/engage', 'p1');
      const again = await store.retryDeadLetter(dead.id, T0 + 60_000);
      expect(again).toMatchObject({ lane: dead.lane, payload: 'p1', kind: dead.kind, attempts: 0, deadlineAt: T0 + 60_000 });
      expect(again!.id).not.toBe(dead.id);
      expect(await store.listDeadLetters(10)).toEqual([]);
      expect(await store.retryDeadLetter(dead.id, T0 + 60_000)).toBeNull();
      const [claimed] = await claim(store, 'w2', clock.now());
      expect(claimed).toMatchObject({ id: again!.id, payload: 'p1' });
      expect((await store.complete(claimed!, 'w2')).completed).toBe(true);
      expect(await store.outboxStats()).toMatchObject({ pending: 0, deadLettered: 0 });
    });

    it('keeps at most the cap, dropping the oldest', async () => {
      const capped = await backend.open({ clock: clock.now, deadLetterCap: 32 });
      for (let i = 0; i < 40; i++) await deadLetter(capped, `tenant-a/cap${i % 5}/engage`, `d${i}`);
      const kept = await capped.listDeadLetters(100);
      expect(kept.length).toBeLessThanOrEqual(32);
      expect(kept.map((d) => d.job.payload)).toContain('d39');
      expect(kept.map((d) => d.job.payload)).not.toContain('d0');
    });
  });

  describe('leasing writes (apply with a lease, complete with leaseNext)', () => {
    const W1 = { owner: 'w1', leaseMs: LEASE };

    it('leases a job that opens an empty lane and is due now, exactly as a claim would have handed it out', async () => {
      const plain = job('L', { kind: 'cognigy.inject', tenantId: 'tenant-z' });
      // notBefore equal to now is due now, and the field must come back as given.
      const dueNow = job('M', { notBefore: T0, payload: ['m', 2, { deep: [null, false] }] });
      const result = await store.apply({ jobs: [plain, dueNow] }, W1);
      expect(result.outcome).toBe('applied');
      expect(result.leased.map(laneName)).toEqual(['L', 'M']);
      const [leasedL, leasedM] = result.leased;

      // Leased like a claim: the lane is closed until the lease expires, for everyone (the holder too).
      expect(await store.outboxStats()).toEqual({ pending: 2, deadLettered: 0, nextDueAt: T0 + LEASE });
      expect(await claim(store, 'w2', T0 + LEASE - 1)).toEqual([]);
      expect(await claim(store, 'w1', T0)).toEqual([]);

      // After expiry another owner claims the very same jobs: every field equal, nothing more, nothing less.
      clock.set(T0 + LEASE);
      const reclaimed = byLane(await claim(store, 'w2', T0 + LEASE));
      expect(reclaimed).toHaveLength(2);
      expect(leasedL).toStrictEqual(reclaimed[0]);
      expect(leasedM).toStrictEqual(reclaimed[1]);
      expect(leasedL).toStrictEqual({
        ...plain,
        id: expect.any(String),
        seq: expect.any(Number),
        attempts: 0,
        nextAttemptAt: T0,
        createdAt: T0,
        lastError: null,
      });
      expect(leasedM).toMatchObject({ notBefore: T0, nextAttemptAt: T0 });
      expect(leasedM!.seq).toBeGreaterThan(leasedL!.seq);
    });

    it('only the lease owner can complete a leased job', async () => {
      const { leased } = await store.apply({ jobs: [job('L', { payload: 'only' })] }, W1);
      const [mine] = leased;
      expect(mine).toBeDefined();
      expect((await store.complete(mine!, 'w2')).completed).toBe(false);
      expect(await store.retryJob(mine!, 'w2', { nextAttemptAt: T0, error: 'not mine' })).toBe(false);
      expect(await store.outboxStats()).toMatchObject({ pending: 1 });
      expect((await store.complete(mine!, 'w1')).completed).toBe(true);
      expect(await store.outboxStats()).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });
      expect(await claim(store, 'w2', T0 + LEASE)).toEqual([]);
    });

    it('does not lease a job appended to a lane that already has a pending or leased job', async () => {
      // A pending (unleased) head.
      expect((await store.apply({ jobs: [job('P', { payload: 'p1' })] })).outcome).toBe('applied');
      expect(await store.apply({ jobs: [job('P', { payload: 'p2' })] }, W1)).toEqual({ outcome: 'applied', leased: [] });
      // A head leased by an earlier leasing write.
      const first = await store.apply({ jobs: [job('Q', { payload: 'q1' })] }, W1);
      expect(first.leased.map((j) => j.payload)).toEqual(['q1']);
      expect(await store.apply({ jobs: [job('Q', { payload: 'q2' })] }, W1)).toEqual({ outcome: 'applied', leased: [] });

      // P's head is still claimable by anyone, Q stays closed until its head is done.
      expect((await claim(store, 'w2', T0)).map((j) => j.payload)).toEqual(['p1']);
      expect((await store.complete(first.leased[0]!, 'w1')).completed).toBe(true);
      expect((await claim(store, 'w2', T0)).map((j) => j.payload)).toEqual(['q2']);
      expect(await store.outboxStats()).toMatchObject({ pending: 3 });
    });

    it('does not lease a job whose notBefore is in the future; it is claimable once due', async () => {
      const result = await store.apply({ jobs: [job('L', { notBefore: T0 + 5_000, payload: 'later' })] }, W1);
      expect(result).toEqual({ outcome: 'applied', leased: [] });
      expect(await store.outboxStats()).toEqual({ pending: 1, deadLettered: 0, nextDueAt: T0 + 5_000 });
      expect(await claim(store, 'w2', T0 + 4_999)).toEqual([]);
      const [later] = await claim(store, 'w2', T0 + 5_000);
      expect(later).toMatchObject({ payload: 'later', notBefore: T0 + 5_000, nextAttemptAt: T0 + 5_000 });
    });

    it('leases only the first of two jobs for one lane in one mutation; the second follows it', async () => {
      const result = await store.apply(
        { jobs: [job('A', { payload: 'a1' }), job('B', { payload: 'b1' }), job('A', { payload: 'a2' })] },
        W1,
      );
      expect(result.outcome).toBe('applied');
      expect(result.leased.map((j) => j.payload)).toEqual(['a1', 'b1']);
      expect(await claim(store, 'w2', T0)).toEqual([]);
      const a1 = result.leased[0]!;
      const done = await store.complete(a1, 'w1', { leaseMs: LEASE });
      expect(done.completed).toBe(true);
      expect(done.next).toMatchObject({ lane: L('A'), payload: 'a2', attempts: 0 });
      expect(done.next!.seq).toBeGreaterThan(a1.seq);
    });

    it.each(['duplicate', 'conflict'] as const)('a %s leases nothing and writes nothing', async (expected) => {
      await store.apply({ dedup: { key: 'seen', ttlMs: 60_000 }, conversation: { value: conv('tenant-a', 't1'), expectedVersion: null } });
      const before = await store.outboxStats();
      const mutation =
        expected === 'duplicate'
          ? { dedup: { key: 'seen', ttlMs: 60_000 }, jobs: [job('X'), job('Y')] }
          : {
              dedup: { key: 'fresh', ttlMs: 60_000 },
              conversation: { value: conv('tenant-a', 't1'), expectedVersion: 5 },
              jobs: [job('X'), job('Y')],
            };
      expect(await store.apply(mutation, W1)).toEqual({ outcome: expected, leased: [] });
      expect(await store.outboxStats()).toEqual(before);
      expect(before).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });
      expect(await claim(store, 'w2', T0 + 10 * LEASE)).toEqual([]);
      expect(await store.hasDedupKey('fresh', T1)).toBe(false);
      // No lane was left behind under a phantom lease: a later job in X is claimable at once by anyone.
      expect((await store.apply({ jobs: [job('X', { payload: 'after' })] })).outcome).toBe('applied');
      expect((await claim(store, 'w2', T0)).map((j) => j.payload)).toEqual(['after']);
    });

    it('returns the payload as JSON would: undefined fields absent, undefined array items null', async () => {
      const payload = {
        keep: 1,
        gone: undefined,
        nested: { also: 'x', dropped: undefined },
        list: [1, undefined, 'z'],
      } as unknown as JsonValue;
      const { leased } = await store.apply({ jobs: [job('U', { payload })] }, W1);
      const expected = { keep: 1, nested: { also: 'x' }, list: [1, null, 'z'] };
      expect(leased[0]?.payload).toStrictEqual(expected);
      expect(Object.keys(leased[0]?.payload as object)).toEqual(['keep', 'nested', 'list']);
      // And exactly what a claim reads back.
      const [reclaimed] = await claim(store, 'w2', T0 + LEASE);
      expect(reclaimed?.payload).toStrictEqual(leased[0]?.payload);
    });

    describe('complete with leaseNext', () => {
      it("leases the lane's next due job to the same owner, as a claim would", async () => {
        await store.apply({ jobs: [job('A', { payload: 'a1' }), job('A', { payload: 'a2', kind: 'cognigy.notify' })] });
        const [a1] = await claim(store, 'w1', T0);
        clock.set(T0 + 100);
        const done = await store.complete(a1!, 'w1', { leaseMs: LEASE });
        expect(done.completed).toBe(true);
        const next = done.next;
        expect(next).toMatchObject({ lane: L('A'), payload: 'a2', kind: 'cognigy.notify' });

        // Leased at the store's clock: closed for others until then, the old head is gone.
        expect(await store.outboxStats()).toEqual({ pending: 1, deadLettered: 0, nextDueAt: T0 + 100 + LEASE });
        expect(await claim(store, 'w2', T0 + 100 + LEASE - 1)).toEqual([]);
        expect((await store.complete(next!, 'w2')).completed).toBe(false);

        // Identical to what another owner claims after the lease expired.
        const [reclaimed] = await claim(store, 'w2', T0 + 100 + LEASE);
        expect(next).toStrictEqual(reclaimed);
        expect((await store.complete(next!, 'w1')).completed).toBe(false);
        expect((await store.complete(reclaimed!, 'w2')).completed).toBe(true);
      });

      it('the lease on the next job belongs to the owner: it completes it and nobody else can', async () => {
        await store.apply({ jobs: [job('A', { payload: 'a1' }), job('A', { payload: 'a2' }), job('A', { payload: 'a3' })] });
        const [a1] = await claim(store, 'w1', T0);
        const { next: a2 } = await store.complete(a1!, 'w1', { leaseMs: LEASE });
        expect((await store.complete(a2!, 'w2')).completed).toBe(false);
        const { completed, next: a3 } = await store.complete(a2!, 'w1', { leaseMs: LEASE });
        expect([completed, a3?.payload]).toEqual([true, 'a3']);
        expect(await store.complete(a3!, 'w1', { leaseMs: LEASE })).toEqual({ completed: true, next: null, nextDueAt: null });
        expect(await store.outboxStats()).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });
      });

      it('does not lease a next job that is not due yet; it becomes claimable when due', async () => {
        await store.apply({ jobs: [job('A', { payload: 'a1' }), job('A', { payload: 'a2', notBefore: T0 + 5_000 })] });
        const [a1] = await claim(store, 'w1', T0);
        expect(await store.complete(a1!, 'w1', { leaseMs: LEASE })).toEqual({ completed: true, next: null, nextDueAt: T0 + 5_000 });
        expect(await store.outboxStats()).toEqual({ pending: 1, deadLettered: 0, nextDueAt: T0 + 5_000 });
        expect(await claim(store, 'w2', T0 + 4_999)).toEqual([]);
        expect((await claim(store, 'w2', T0 + 5_000)).map((j) => j.payload)).toEqual(['a2']);
      });

      it('is refused once a retry released the lease: the retried job stays head and nothing is leased', async () => {
        await store.apply({ jobs: [job('A', { payload: 'a1' })] });
        const [a1] = await claim(store, 'w1', T0);
        await store.apply({ jobs: [job('A', { payload: 'a2' })] });
        expect(await store.retryJob(a1!, 'w1', { nextAttemptAt: T0 + 1_000, error: 'HTTP 503' })).toBe(true);
        expect(await store.complete(a1!, 'w1', { leaseMs: LEASE })).toEqual({ completed: false, next: null, nextDueAt: null });
        expect(await claim(store, 'w2', T0)).toEqual([]);
        const [again] = await claim(store, 'w2', T0 + 1_000);
        expect(again).toMatchObject({ payload: 'a1', attempts: 1 });
      });

      it('on an emptied lane completes with next null and the lane is gone', async () => {
        await store.apply({ jobs: [job('A', { payload: 'a1' }), job('B', { payload: 'b1' })] });
        expect(await store.outboxStats()).toMatchObject({ pending: 2 });
        const [a1] = (await claim(store, 'w1', T0)).filter((j) => laneName(j) === 'A');
        expect(await store.complete(a1!, 'w1', { leaseMs: LEASE })).toEqual({ completed: true, next: null, nextDueAt: null });
        expect(await store.outboxStats()).toEqual({ pending: 1, deadLettered: 0, nextDueAt: T0 + LEASE });
        // A new job in A opens the lane again (and may be leased by a leasing write).
        const { leased } = await store.apply({ jobs: [job('A', { payload: 'a-new' })] }, { owner: 'w2', leaseMs: LEASE });
        expect(leased.map((j) => j.payload)).toEqual(['a-new']);
      });

      it('refuses a caller that does not hold the lease and leaves the job and its lane untouched', async () => {
        await store.apply({ jobs: [job('A', { payload: 'a1' }), job('A', { payload: 'a2' })] });
        const [a1] = await claim(store, 'w1', T0);
        const before = await store.outboxStats();
        expect(await store.complete(a1!, 'w2', { leaseMs: LEASE })).toEqual({ completed: false, next: null, nextDueAt: null });
        expect(await store.complete({ ...a1!, id: randomUUID() }, 'w1', { leaseMs: LEASE })).toEqual({
          completed: false,
          next: null,
          nextDueAt: null,
        });
        expect(await store.outboxStats()).toEqual(before);
        expect(await claim(store, 'w2', T0)).toEqual([]);
        // The holder still finishes it and gets the next one.
        const done = await store.complete(a1!, 'w1', { leaseMs: LEASE });
        expect([done.completed, done.next?.payload]).toEqual([true, 'a2']);
      });

      it('refuses an owner whose lease expired and was taken over', async () => {
        await store.apply({ jobs: [job('A', { payload: 'a1' }), job('A', { payload: 'a2' })] });
        const [a1] = await claim(store, 'w1', T0);
        clock.set(T0 + LEASE);
        const [taken] = await claim(store, 'w2', T0 + LEASE);
        expect(taken?.id).toBe(a1?.id);
        expect(await store.complete(a1!, 'w1', { leaseMs: LEASE })).toEqual({ completed: false, next: null, nextDueAt: null });
        expect(await store.outboxStats()).toMatchObject({ pending: 2 });
        const done = await store.complete(taken!, 'w2', { leaseMs: LEASE });
        expect([done.completed, done.next?.payload]).toEqual([true, 'a2']);
      });
    });
  });

  describe('durability', () => {
    it('data survives closing and opening the store again', async () => {
      await store.apply({
        dedup: { key: 'req-1', ttlMs: 60_000 },
        conversation: { value: conv('tenant-a', 't1', { engageThreadId: 'E1' }), expectedVersion: null },
        jobs: [job('A', { payload: 'first' }), job('A', { payload: 'second' })],
      });
      const [leased] = await claim(store, 'r1', T0);
      await store.close();

      const reopened = await backend.open({ clock: clock.now });
      expect(await reopened.getConversation('tenant-a', 't1')).toMatchObject({ version: 1, engageThreadId: 'E1' });
      expect((await reopened.findConversationByEngageThread('tenant-a', 'E1'))?.threadId).toBe('t1');
      expect(await reopened.hasDedupKey('req-1', T1)).toBe(true);
      expect(await reopened.outboxStats()).toEqual({ pending: 2, deadLettered: 0, nextDueAt: T0 + LEASE });
      // The lease survives too: the old owner can still finish its job.
      expect((await reopened.complete(leased!, 'r1')).completed).toBe(true);
      expect((await claim(reopened, 'r2', T0)).map((j) => j.payload)).toEqual(['second']);
    });
  });

  describe('concurrency', () => {
    it('two stores on the same data process 200 jobs in 20 lanes exactly once, in lane order', async () => {
      const LANES = 20;
      const PER_LANE = 10;
      const other = await backend.open();
      const realStore = await backend.open();
      const all: NewOutboxJob[] = [];
      for (let i = 0; i < PER_LANE; i++) {
        for (let l = 0; l < LANES; l++)
          all.push(job(`tenant-a/c${l}/engage`, { payload: { lane: l, i }, deadlineAt: Date.now() + 60_000 }));
      }
      // One conversation per lane (spread over the Redis store's shards), a few jobs per write.
      for (let l = 0; l < LANES; l++) {
        const mine = all.filter((j) => j.lane === `tenant-a/c${l}/engage`);
        for (let k = 0; k < mine.length; k += 5) expect((await realStore.apply({ jobs: mine.slice(k, k + 5) })).outcome).toBe('applied');
      }

      const processed: { id: string; lane: string; seq: number; payload: unknown; owner: string }[] = [];
      const deadline = Date.now() + 15_000;
      const worker = async (s: Store, owner: string): Promise<void> => {
        while (processed.length < all.length && Date.now() < deadline) {
          const jobs = await s.claimDueJobs({ now: Date.now(), limit: 7, owner, leaseMs: 60_000 });
          if (jobs.length === 0) {
            await sleep(2);
            continue;
          }
          await Promise.all(
            jobs.map(async (j) => {
              processed.push({ id: j.id, lane: j.lane, seq: j.seq, payload: j.payload, owner });
              await sleep(Math.random() * 3);
              if (!(await s.complete(j, owner)).completed) throw new Error(`lost lease on ${j.id}`);
            }),
          );
        }
      };
      await Promise.all([worker(realStore, 'relay-1'), worker(other, 'relay-2'), worker(other, 'relay-3')]);

      expect(processed).toHaveLength(all.length);
      expect(new Set(processed.map((p) => p.id)).size).toBe(all.length);
      for (let l = 0; l < LANES; l++) {
        const inLane = processed.filter((p) => p.lane === `tenant-a/c${l}/engage`);
        expect(inLane.map((p) => p.payload)).toEqual(Array.from({ length: PER_LANE }, (_, i) => ({ lane: l, i })));
        const seqs = inLane.map((p) => p.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
      expect(await realStore.outboxStats()).toEqual({ pending: 0, deadLettered: 0, nextDueAt: null });
    });
  });
});
