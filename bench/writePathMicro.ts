import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * `npx tsx bench/writePathMicro.ts [tree]`: CPU per call of two pieces of the agent-reply write path
 * (issue 20), for an A/B between checkouts (`tree` = another checkout's root; default this one):
 * building a notify job plus its timeline summary, and the dedup purge with a bound `LIMIT ?`
 * against a literal LIMIT on the same table. Prints per-round figures; no assertions.
 */

type JobsModule = typeof import('../relay/src/outbox/jobs');

const JOBS = 200_000;
const PURGES = 200_000;
const ROUNDS = 3;

const perCall = (u: NodeJS.CpuUsage, n: number): string => ((u.user + u.system) / n).toFixed(2);

async function main(): Promise<void> {
  const tree = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
  const jobs = (await import(path.join(tree, 'relay/src/outbox/jobs.ts'))) as JobsModule;
  const session = { URLToken: 'tok', userId: 'u1', sessionId: 's1' };
  const notify = (i: number) =>
    jobs.cognigyJob('cognigy.notify', 'src', `t${i % 1000}`, 0, {
      ...session,
      text: 'Hello from agent Anna, how can I help?',
      data: { rceHandover: { agentName: 'Anna', contentId: `c${i}` } },
    });
  for (let i = 0; i < 20_000; i++) jobs.summarizeJob(notify(i)); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    let t = process.cpuUsage();
    for (let i = 0; i < JOBS; i++) notify(i);
    const build = process.cpuUsage(t);
    t = process.cpuUsage();
    for (let i = 0; i < JOBS; i++) jobs.summarizeJob(notify(i));
    const both = process.cpuUsage(t);
    console.log(`notify job: build ${perCall(build, JOBS)} µs, build + summarizeJob ${perCall(both, JOBS)} µs`);
  }

  // The relay's dedup table, nothing expired: what every agent reply's purge meets in steady state.
  const db = new Database(':memory:');
  db.exec('CREATE TABLE dedup (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL); CREATE INDEX dedup_expiry ON dedup (expires_at);');
  const insert = db.prepare<[string, number]>('INSERT INTO dedup VALUES (?, ?)');
  for (let i = 0; i < 10_000; i++) insert.run(`k${i}`, Number.MAX_SAFE_INTEGER);
  const bound = db.prepare<[number, number]>('DELETE FROM dedup WHERE key IN (SELECT key FROM dedup WHERE expires_at <= ? LIMIT ?)');
  const literal = db.prepare<[number]>('DELETE FROM dedup WHERE key IN (SELECT key FROM dedup WHERE expires_at <= ? LIMIT 100)');
  for (let r = 0; r < ROUNDS; r++) {
    let t = process.cpuUsage();
    for (let i = 0; i < PURGES; i++) bound.run(1000, 100);
    const b = process.cpuUsage(t);
    t = process.cpuUsage();
    for (let i = 0; i < PURGES; i++) literal.run(1000);
    const l = process.cpuUsage(t);
    console.log(`dedup purge: LIMIT ? ${perCall(b, PURGES)} µs, literal LIMIT ${perCall(l, PURGES)} µs`);
  }
  db.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
