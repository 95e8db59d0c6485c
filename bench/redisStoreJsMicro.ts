import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import Redis, { type Command } from 'ioredis';
import { agentReplyWrite, REPLY_LEASE } from './lib/agentReplyWrite';
import { benchConversation } from './lib/fixtures';

/**
 * `npx tsx bench/redisStoreJsMicro.ts <tree> [tree…]`: CPU per agent reply of the Redis store's own
 * JavaScript, without Redis: the store runs on a stand-in client that answers each command at once
 * as Redis would for an active chat (the conversation's JSON; the apply leasing its job; a
 * completion that empties the lane). What is left is building keys and arguments, parsing and
 * checking replies, and ioredis turning each command into RESP, the part a store change can cut.
 * Trees alternate in one process. Knobs: N (replies per round, default 20000), ROUNDS (default 6).
 */

type StoreModule = typeof import('../relay/src/store/redisStore');
type Store = import('../relay/src/store/redisStore').RedisStore;
type ScriptsModule = typeof import('../relay/src/store/redis/scripts');

const N = Number(process.env.N ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const conversations = Array.from({ length: 1000 }, (_, i) => benchConversation(i));
const texts = conversations.map((c) => JSON.stringify(c));

/** A RESP writer that writes nothing: scripts treat it as a socket they already loaded into. */
const nowhere = {};

/** Answers each command as Redis would, after ioredis built it and turned it into RESP text. */
async function standIn(tree: string): Promise<Store> {
  const { RedisStore } = (await import(path.join(tree, 'relay/src/store/redisStore.ts'))) as StoreModule;
  const { loadAllScripts } = (await import(path.join(tree, 'relay/src/store/redis/scripts.ts'))) as ScriptsModule;
  const client = new Redis({ lazyConnect: true });
  for (const [name, lua] of Object.entries(loadAllScripts()))
    client.defineCommand(`rce${name[0]?.toUpperCase() ?? ''}${name.slice(1)}`, { lua });
  let i = 0;
  client.sendCommand = (command: Command): unknown => {
    command.toWritable(nowhere as Socket);
    if (command.name === 'hget') command.resolve(texts[i++ % texts.length]);
    else if (Number(command.args[1]) === 11) command.resolve(['applied', String(command.args[2 + 11 + 14]), 7]);
    else command.resolve([1]);
    return command.promise;
  };
  Object.defineProperty(client, 'status', { value: 'ready' });
  const Ctor = RedisStore as unknown as new (client: unknown, opts: object) => Store;
  return new Ctor(client, { keyPrefix: 'rce:', batchWrites: false });
}

async function round(store: Store, first: number): Promise<number> {
  const t = process.cpuUsage();
  for (let i = first; i < first + N; i++) {
    const c = conversations[i % conversations.length];
    if (!c) throw new Error('no conversation');
    const current = await store.getConversation(c.tenantId, c.threadId);
    if (!current) throw new Error('no conversation read');
    const { leased } = await store.apply(agentReplyWrite(current, i), REPLY_LEASE);
    const job = leased[0];
    if (!job) throw new Error('nothing leased');
    await store.complete(job, REPLY_LEASE.owner, { leaseMs: REPLY_LEASE.leaseMs });
  }
  const used = process.cpuUsage(t);
  return (used.user + used.system) / N;
}

async function main(): Promise<void> {
  const trees = process.argv.slice(2).map((t) => path.resolve(t));
  if (trees.length === 0) trees.push(path.join(__dirname, '..'));
  const stores = await Promise.all(trees.map(standIn));
  for (const s of stores) await round(s, 0); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < stores.length; k++) {
      const idx = (k + r) % stores.length;
      const store = stores[idx];
      if (store) console.log(`round ${r} ${trees[idx] ?? '?'}: ${(await round(store, (r + 1) * N)).toFixed(2)} µs per reply`);
    }
    console.log(`  (load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?'})`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
