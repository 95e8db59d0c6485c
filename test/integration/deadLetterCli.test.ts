import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../relay/src/store/sqliteStore';

const REPO_ROOT = path.resolve(__dirname, '../..');

/** `relay dead-letters …` as an operator runs it: its own process, configured by STORE_URL. */
describe('relay dead-letters CLI', () => {
  let dir: string;
  let storeUrl: string;
  let deadId: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rce-dlq-'));
    storeUrl = `sqlite:${path.join(dir, 'relay.db')}`;
    const store = SqliteStore.open(path.join(dir, 'relay.db'));
    await store.apply({
      jobs: [
        {
          tenantId: 't',
          threadId: 'c1',
          lane: 't/c1/cognigy',
          kind: 'cognigy.notify',
          payload: { text: 'hello' },
          deadlineAt: Date.now() + 60_000,
        },
      ],
    });
    const [job] = await store.claimDueJobs({ now: Date.now(), limit: 1, owner: 'w', leaseMs: 10_000 });
    expect(await store.deadLetterJob(job!, 'w', 'Cognigy answered 404 Not Found')).toBe(true);
    deadId = job!.id;
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const relay = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'relay/src/main.ts', 'dead-letters', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', STORE_URL: storeUrl },
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('lists, shows and retries a dead letter, once', async () => {
    const list = relay('list');
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${deadId}\\s+cognigy\\.notify\\s+t/c1/cognigy\\s+attempts=0\\s+Cognigy answered 404`));
    expect(list.stdout).toContain('1 dead letter(s) shown');

    const show = relay('show', deadId);
    expect(show.status).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      error: 'Cognigy answered 404 Not Found',
      job: { id: deadId, payload: { text: 'hello' } },
    });

    const retry = relay('retry', deadId);
    expect(retry.status).toBe(0);
    expect(retry.stdout).toMatch(/queued again as .* at the end of lane t\/c1\/cognigy/);
    expect(relay('retry', deadId)).toMatchObject({ status: 1, stdout: `No dead letter for job ${deadId}.\n` });

    const store = SqliteStore.open(path.join(dir, 'relay.db'));
    try {
      expect(await store.outboxStats()).toMatchObject({ pending: 1, deadLettered: 0 });
      const [again] = await store.claimDueJobs({ now: Date.now(), limit: 1, owner: 'w', leaseMs: 10_000 });
      expect(again).toMatchObject({ kind: 'cognigy.notify', payload: { text: 'hello' }, attempts: 0 });
    } finally {
      await store.close();
    }
  });

  it('refuses an unknown sub-command with the usage', () => {
    expect(relay('purge')).toMatchObject({ status: 2, stdout: expect.stringContaining('Usage: relay dead-letters list') });
  });
});
