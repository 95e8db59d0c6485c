import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { relaySettingsSchema, type RelayConfig } from '../relay/src/config';
import { createLogger } from '../relay/src/log';
import { createRelay } from '../relay/src/relay';
import { SqliteStore } from '../relay/src/store/sqliteStore';
import { fmtInt, sleep, startChild } from './lib/common';
import { benchConversation, benchTenant } from './lib/fixtures';

/**
 * `npx tsx bench/engineOnly.ts`: the agent-reply path without inbound HTTP — `engine.agentReply`
 * (dedup + durable outbox, SQLite) called in-process with concurrency C, the real outbox worker
 * delivering every notify to the bench Cognigy stub (child process). Prints the CPU time this
 * process spent per reply (engine + store + worker + outbound HTTP) until every notify arrived.
 * CPU time per reply is far less sensitive to a busy machine than req/s, so this is the A/B
 * tool for store and engine changes (run it on both trees, alternating).
 * Knobs: N (replies per round, default 4000), C (concurrency, default 8), ROUNDS (default 4).
 */

interface StubStats {
  unique: number;
}

async function main(): Promise<void> {
  const n = Number(process.env.N ?? 4000);
  const concurrency = Number(process.env.C ?? 8);
  const rounds = Number(process.env.ROUNDS ?? 4);
  const stub = await startChild('bench/targets/cognigyStub.ts');
  const stubUrl = (stub.ready as { url: string }).url;
  const config: RelayConfig = {
    settings: relaySettingsSchema.parse({ port: 0, host: '127.0.0.1' }),
    tenants: [benchTenant(stubUrl)],
  };
  const tenant = config.tenants[0];
  if (!tenant) throw new Error('no tenant');
  const dir = mkdtempSync(path.join(tmpdir(), 'rce-bench-engine-'));
  const store = SqliteStore.open(path.join(dir, 'relay.db'));
  const threads: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const conversation = benchConversation(i);
    threads.push(conversation.threadId);
    await store.apply({ conversation: { value: conversation, expectedVersion: null } });
  }
  const logger = createLogger({ level: 'info', secrets: [], destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const relay = createRelay({ config, store, logger });
  await relay.start(0, '127.0.0.1');

  for (let round = 0; round < rounds; round++) {
    const prefix = `e${round}-`;
    await stub.call('reset', { prefix });
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const i = next++;
          if (i >= n) return;
          await relay.engine.agentReply(tenant, {
            content_id: `${prefix}${i}`,
            thread_id: threads[i % threads.length] as string,
            body: 'Hello from agent Anna, how can I help?',
            sender_name: 'Anna',
            format: 'text',
          });
        }
      }),
    );
    const accepted = Date.now();
    while ((await stub.call<StubStats>('stats')).unique < n) await sleep(5);
    const cpu = process.cpuUsage(cpu0);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    console.log(
      `round ${round}${round === 0 ? ' (warm-up)' : ''}: ${fmtInt((cpu.user + cpu.system) / n)} µs CPU per reply; accepted ${fmtInt(n / ((accepted - t0) / 1000))}/s; ` +
        `all ${n} notifies delivered after ${Date.now() - t0} ms (load average ${load})`,
    );
  }
  await relay.stop();
  await stub.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
