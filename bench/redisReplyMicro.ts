import { readFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { startRedisServer } from '../test/helpers/redisServer';
import { agentReplyWrite, REPLY_LEASE } from './lib/agentReplyWrite';
import { benchConversation } from './lib/fixtures';

/**
 * `npx tsx bench/redisReplyMicro.ts <subject> [subject…]`: CPU per agent reply spent in the Redis
 * store against a local redis-server (no persistence, as the bench runs it). A subject is a
 * checkout, optionally with store options: `/tmp/ab-store`, `.+batchWrites=false`. Subjects
 * alternate in one process (each with its own key prefix), so a busy machine hits all alike.
 *
 * C closed-loop clients each do what an HTTP request of the relay asks of the store: the
 * conversation read, then the apply (dedup key + one noted notify job, leased to the writer); the
 * leased job is then completed with `leaseNext`, as the outbox worker does after its delivery,
 * without the client waiting for it. Replies go round robin over 1,000 conversations.
 *
 * Prints per round and subject: µs of this process's CPU (user + system) per reply, and µs of
 * redis-server's CPU per reply (INFO cpu, which the relay's machine pays too).
 * Knobs: C (clients, default 32), REPLIES (per round, default 6000), ROUNDS (default 6).
 */

type StoreModule = typeof import('../relay/src/store/redisStore');
type Store = import('../relay/src/store/redisStore').RedisStore;
type Job = import('../relay/src/store/types').OutboxJob;

const C = Number(process.env.C ?? 32);
const REPLIES = Number(process.env.REPLIES ?? 6000);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const CONVERSATIONS = 1000;

interface Subject {
  name: string;
  store: Store;
  reply: number;
}

/** `tree+opt=value+…`: options are numbers, booleans or strings. */
function parseSpec(spec: string): { tree: string; options: Record<string, unknown> } {
  const [tree = '.', ...opts] = spec.split('+');
  const options: Record<string, unknown> = {};
  for (const o of opts) {
    const [k = '', v = ''] = o.split('=');
    options[k] = v === 'true' ? true : v === 'false' ? false : Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return { tree: path.resolve(tree), options };
}

const conversations = Array.from({ length: CONVERSATIONS }, (_, i) => benchConversation(i));

async function open(spec: string, index: number, url: string): Promise<Subject> {
  const { tree, options } = parseSpec(spec);
  const { RedisStore } = (await import(path.join(tree, 'relay/src/store/redisStore.ts'))) as StoreModule;
  const store = await RedisStore.connect(url, { ...options, keyPrefix: `s${index}:` });
  for (const c of conversations) await store.apply({ conversation: { value: c, expectedVersion: null } });
  return { name: spec, store, reply: 0 };
}

/** Completes a leased job and whatever the completion leases next on its lane. */
async function completeChain(store: Store, job: Job): Promise<void> {
  let next: Job | null = job;
  while (next) {
    const r = await store.complete(next, REPLY_LEASE.owner, { leaseMs: REPLY_LEASE.leaseMs });
    if (!r.completed) throw new Error('a completion lost its lease');
    next = r.next;
  }
}

async function client(s: Subject, until: number, completions: Promise<void>[]): Promise<void> {
  while (s.reply < until) {
    const i = s.reply++;
    const c = conversations[i % CONVERSATIONS];
    if (!c) throw new Error('no conversation');
    const current = await s.store.getConversation(c.tenantId, c.threadId);
    if (!current) throw new Error(`conversation ${c.threadId} missing`);
    const { outcome, leased } = await s.store.apply(agentReplyWrite(current, i), REPLY_LEASE);
    if (outcome !== 'applied') throw new Error(`reply ${i}: ${outcome}`);
    for (const job of leased) completions.push(completeChain(s.store, job));
  }
}

async function redisCpuSeconds(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function round(s: Subject, admin: Redis): Promise<string> {
  const redisBefore = await redisCpuSeconds(admin);
  const t = process.cpuUsage();
  const until = s.reply + REPLIES;
  const completions: Promise<void>[] = [];
  await Promise.all(Array.from({ length: C }, () => client(s, until, completions)));
  await Promise.all(completions);
  const used = process.cpuUsage(t);
  const redis = ((await redisCpuSeconds(admin)) - redisBefore) * 1e6;
  return `${((used.user + used.system) / REPLIES).toFixed(1)} µs per reply (redis-server ${(redis / REPLIES).toFixed(1)})`;
}

async function main(): Promise<void> {
  const specs = process.argv.slice(2);
  if (specs.length === 0) specs.push('.');
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  try {
    const subjects: Subject[] = [];
    for (const [i, spec] of specs.entries()) subjects.push(await open(spec, i, server.url));
    for (const s of subjects) await round(s, admin); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate which subject goes first, so drift over a round hits all alike.
      const order = subjects.map((_, k) => subjects[(k + r) % subjects.length] as Subject);
      for (const s of order) console.log(`round ${r} ${s.name}: ${await round(s, admin)}`);
      console.log(`  (load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?'})`);
    }
    for (const s of subjects) {
      const stats = await s.store.outboxStats();
      console.log(`${s.name}: jobs left ${stats.pending} (expected 0)`);
      await s.store.close();
    }
  } finally {
    admin.disconnect();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
