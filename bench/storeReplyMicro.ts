import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { agentReplyWrite, REPLY_LEASE } from './lib/agentReplyWrite';
import { benchConversation } from './lib/fixtures';

/**
 * `npx tsx bench/storeReplyMicro.ts <treeA> [treeB]`: CPU per agent reply spent in the SQLite store,
 * the store of two checkouts alternating in one process (so a busy machine hits both alike). One
 * reply in an active chat is what the engine and the outbox worker ask of the store: the
 * conversation read, the apply (dedup key + one noted notify job, leased to the writer) and, in the
 * next group commit, the completion with `leaseNext` (as the worker calls it). Replies go round
 * robin over 1,000 conversations, B per batch (one group commit holds B applies + B completions).
 *
 * Prints per round and tree: µs of process CPU (user + system) per reply, all of it, and the
 * conversation reads alone (`read`, the same B reads per batch without the writes).
 * Knobs: B (replies per batch, default 32), BATCHES (per round, default 300), ROUNDS (default 6).
 */

type StoreModule = typeof import('../relay/src/store/sqliteStore');
type Store = import('../relay/src/store/sqliteStore').SqliteStore;
type Job = import('../relay/src/store/types').OutboxJob;

const B = Number(process.env.B ?? 32);
const BATCHES = Number(process.env.BATCHES ?? 300);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const CONVERSATIONS = 1000;
const LEASE = REPLY_LEASE;

interface Subject {
  tree: string;
  store: Store;
  reply: number;
  pending: Job[];
  done: () => void;
}

async function open(tree: string): Promise<Subject> {
  const { SqliteStore } = (await import(path.join(tree, 'relay/src/store/sqliteStore.ts'))) as StoreModule;
  const dir = mkdtempSync(path.join(tmpdir(), 'rce-bench-reply-'));
  const store = SqliteStore.open(path.join(dir, 'relay.db'));
  for (let i = 0; i < CONVERSATIONS; i++) await store.apply({ conversation: { value: benchConversation(i), expectedVersion: null } });
  return { tree, store, reply: 0, pending: [], done: () => rmSync(dir, { recursive: true, force: true }) };
}

const conversations = Array.from({ length: CONVERSATIONS }, (_, i) => benchConversation(i));

/** One agent reply as engine.agentReply writes it once the chat is active. */
async function reply(s: Subject, i: number): Promise<Job[]> {
  const c = conversations[i % CONVERSATIONS];
  if (!c) throw new Error('no conversation');
  const current = await s.store.getConversation(c.tenantId, c.threadId);
  if (!current) throw new Error(`conversation ${c.threadId} missing`);
  const { outcome, leased } = await s.store.apply(agentReplyWrite(current, i), LEASE);
  if (outcome !== 'applied') throw new Error(`reply ${i}: ${outcome}`);
  return leased;
}

async function batch(s: Subject): Promise<void> {
  const completions = s.pending.map((job) => s.store.complete(job, LEASE.owner, { leaseMs: LEASE.leaseMs }));
  const applies = Array.from({ length: B }, () => reply(s, s.reply++));
  const [leased, completed] = await Promise.all([Promise.all(applies), Promise.all(completions)]);
  if (completed.some((r) => !r.completed)) throw new Error('a completion lost its lease');
  s.pending = leased.flat();
}

async function readBatch(s: Subject, first: number): Promise<void> {
  await Promise.all(
    Array.from({ length: B }, (_, k) => {
      const c = conversations[(first + k) % CONVERSATIONS];
      return c ? s.store.getConversation(c.tenantId, c.threadId) : null;
    }),
  );
}

const perReply = (u: NodeJS.CpuUsage, n: number): string => ((u.user + u.system) / n).toFixed(2);

async function round(s: Subject): Promise<string> {
  let t = process.cpuUsage();
  for (let b = 0; b < BATCHES; b++) await batch(s);
  const all = perReply(process.cpuUsage(t), BATCHES * B);
  t = process.cpuUsage();
  for (let b = 0; b < BATCHES; b++) await readBatch(s, b * B);
  const read = perReply(process.cpuUsage(t), BATCHES * B);
  return `${all} µs per reply (read ${read})`;
}

async function main(): Promise<void> {
  const trees = process.argv.slice(2).map((t) => path.resolve(t));
  if (trees.length === 0) trees.push(path.join(__dirname, '..'));
  const subjects: Subject[] = [];
  for (const tree of trees) subjects.push(await open(tree));
  for (const s of subjects) await round(s); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which tree goes first, so drift over a round hits both alike.
    const order = r % 2 === 0 ? subjects : [...subjects].reverse();
    for (const s of order) console.log(`round ${r} ${s.tree}: ${await round(s)}`);
    console.log(`  (load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?'})`);
  }
  for (const s of subjects) {
    const stats = await s.store.outboxStats();
    console.log(`${s.tree}: jobs left ${stats.pending} (expected ${B})`);
    await s.store.close();
    s.done();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
