import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { SqliteStore, WAL_BACKSTOP_PAGES, type SqliteStoreOptions } from '../../relay/src/store/sqliteStore';
import { startWalCheckpointer } from '../../relay/src/store/walCheckpointer';
import { waitUntil } from '../helpers/waitUntil';

/**
 * WAL checkpoints of the SQLite store in a background thread (store/walCheckpointer.ts).
 *
 * In WAL mode only a checkpoint writes the database file, and a writer starts the WAL over (new
 * salts in its header, https://www.sqlite.org/fileformat2.html#walformat) only once a checkpoint
 * has copied all of it. The store's own connection keeps only a backstop automatic checkpoint
 * (WAL_BACKSTOP_PAGES); the tests that show the thread's work stay under it or raise it, so a growing
 * database file and a restarted WAL can only be the thread's doing there.
 */

const PAGE_SIZE = 4096;
const WAL_FRAME_BYTES = PAGE_SIZE + 24;
/** SQLite's automatic checkpoint threshold (pages): the WAL size SQLite itself keeps to. */
const AUTO_CHECKPOINT_PAGES = 1000;

const tempDirs: string[] = [];
const openStores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(openStores.splice(0).map((s) => s.close()));
});
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(name = 'relay.db'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-wal-'));
  tempDirs.push(dir);
  return path.join(dir, name);
}

function open(file: string, opts: SqliteStoreOptions = {}): SqliteStore {
  const store = SqliteStore.open(file, opts);
  openStores.push(store);
  return store;
}

/** The store's own connection's `PRAGMA wal_autocheckpoint` (pages; 0 = off). */
function autocheckpointOf(store: SqliteStore): number {
  return Number(store['db'].pragma('wal_autocheckpoint', { simple: true }));
}

const sizeOf = (file: string): number => (existsSync(file) ? statSync(file).size : 0);

/** The WAL header's two salts: they change every time a writer starts the WAL over. */
function walSalts(dbFile: string): string {
  const fd = openSync(`${dbFile}-wal`, 'r');
  try {
    const header = Buffer.alloc(32);
    readSync(fd, header, 0, 32, 0);
    return header.subarray(16, 24).toString('hex');
  } finally {
    closeSync(fd);
  }
}

let keyCounter = 0;
/** `n` writes, one commit each (awaited one by one, as requests arrive), with fresh dedup keys. */
async function writeMany(store: SqliteStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const { outcome } = await store.apply({ dedup: { key: `evt-${++keyCounter}-${'k'.repeat(40)}`, ttlMs: 3_600_000 } });
    if (outcome !== 'applied') throw new Error(`write ${i} was ${outcome}`);
  }
}

describe('SqliteStore background WAL checkpoints', () => {
  it("raises the store connection's automatic checkpoint to the backstop; the thread checkpoints and the WAL starts over", async () => {
    const file = tempFile();
    const store = open(file);
    expect(autocheckpointOf(store)).toBe(WAL_BACKSTOP_PAGES);
    const dbSizeAtOpen = sizeOf(file);

    // Well under the automatic threshold: nothing but the thread would checkpoint this.
    await writeMany(store, 200);
    const salts = walSalts(file);
    expect(sizeOf(`${file}-wal`)).toBeLessThan(AUTO_CHECKPOINT_PAGES * WAL_FRAME_BYTES);

    await waitUntil('the pages reached the database file', () => sizeOf(file) > dbSizeAtOpen + 10 * PAGE_SIZE, { timeoutMs: 10_000 });
    // Once everything is checkpointed, the next write starts the WAL from its beginning.
    await waitUntil(
      'a write restarted the WAL',
      async () => {
        await writeMany(store, 1);
        return walSalts(file) !== salts;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(await store.hasDedupKey(`evt-${keyCounter}-${'k'.repeat(40)}`)).toBe(true);
  });

  it('a burst past the 1,000-page threshold is checkpointed and the WAL restarted once the writes pause', async () => {
    const file = tempFile();
    // The backstop out of reach: only the thread can checkpoint here.
    const store = open(file, { walBackstopPages: 1_000_000 });
    // About 2.3 WAL pages per commit: ~7,000 pages, far past SQLite's own 1,000-page threshold.
    await writeMany(store, 3_000);
    const salts = walSalts(file);
    await waitUntil(
      'a write after the pause restarted the WAL',
      async () => {
        await writeMany(store, 1);
        return walSalts(file) !== salts;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    // A restart needs the whole WAL checkpointed: the 3,000 dedup rows (a key of ~50 bytes in the
    // table and again in its expiry index) are in the database file itself.
    expect(sizeOf(file)).toBeGreaterThan(3_000 * 100);
  });

  // Sustained writes, no pause: SQLite's automatic checkpoint keeps the WAL near 1,000 pages. The
  // background thread's PASSIVE checkpoints only ever catch up with a WAL that has already moved
  // on, so no write finds it fully checkpointed and the WAL would never restart: the store's
  // backstop checkpoint bounds it near WAL_BACKSTOP_PAGES (the bound is the backstop, not SQLite's 1,000).
  it.each<[string, SqliteStoreOptions, number]>([
    ['backgroundCheckpoints: false (automatic checkpoint)', { backgroundCheckpoints: false }, AUTO_CHECKPOINT_PAGES],
    ['default (background thread + backstop)', {}, WAL_BACKSTOP_PAGES],
  ])('keeps the WAL bounded under sustained writes: %s', async (_name, opts, bound) => {
    const file = tempFile();
    const store = open(file, opts);
    // ~2.3 pages per commit: ~25,000 pages without a bound, several times either bound.
    await writeMany(store, 11_000);
    const walPages = Math.round(sizeOf(`${file}-wal`) / WAL_FRAME_BYTES);
    expect({ walPages, bounded: walPages <= 2 * bound }).toEqual({ walPages, bounded: true });
  });

  it("goes back to SQLite's automatic checkpoint, and says so, if the thread fails", async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    let fail: ((reason: string) => void) | null = null;
    const store = open(tempFile(), {
      logger,
      startCheckpointer: (_file, options) => {
        fail = options.onFailure;
        return { stop: async () => undefined };
      },
    });
    expect(autocheckpointOf(store)).toBe(WAL_BACKSTOP_PAGES);
    if (!fail) throw new Error('the store did not start a checkpointer');
    (fail as (reason: string) => void)('checkpoint failed: disk I/O error');
    expect(autocheckpointOf(store)).toBe(AUTO_CHECKPOINT_PAGES);
    expect(lines.map((l) => JSON.parse(l) as { msg: string; reason: string })).toEqual([
      expect.objectContaining({
        msg: 'SQLite store: background WAL checkpoints stopped; checkpointing inline again',
        reason: 'checkpoint failed: disk I/O error',
      }),
    ]);
    await writeMany(store, 10);
  });

  it('close() stops the thread: every connection is closed, the WAL is removed, the file opens again', async () => {
    const file = tempFile();
    const store = SqliteStore.open(file);
    await writeMany(store, 300);
    expect(existsSync(`${file}-wal`)).toBe(true);
    await store.close();
    // SQLite deletes the WAL and shared-memory files only when the last connection closes: the
    // thread's connection was already gone when the store's own one closed.
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(existsSync(`${file}-shm`)).toBe(false);

    const again = open(file);
    expect(await again.hasDedupKey(`evt-${keyCounter}-${'k'.repeat(40)}`)).toBe(true);
    expect(autocheckpointOf(again)).toBe(WAL_BACKSTOP_PAGES);
  });

  it("backgroundCheckpoints: false keeps SQLite's automatic checkpoint (1000 pages); the default raises it to the backstop", async () => {
    expect(autocheckpointOf(open(tempFile(), { backgroundCheckpoints: false }))).toBe(AUTO_CHECKPOINT_PAGES);
    expect(autocheckpointOf(open(tempFile()))).toBe(WAL_BACKSTOP_PAGES);
    expect(autocheckpointOf(open(tempFile(), { backgroundCheckpoints: true, checkpointIntervalMs: 20, walBackstopPages: 2_000 }))).toBe(
      2_000,
    );
    // In memory there is no WAL and no thread.
    const memory = open(':memory:');
    await memory.apply({ dedup: { key: 'm', ttlMs: 1_000 } });
    expect(await memory.hasDedupKey('m')).toBe(true);
  });
});

describe('startWalCheckpointer', () => {
  const openDatabases: Database.Database[] = [];
  afterEach(() => {
    for (const db of openDatabases.splice(0)) db.close();
  });

  /** A WAL database nobody checkpoints, with `rows` rows written. */
  function walDatabase(rows: number): string {
    const file = tempFile('plain.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const insert = db.prepare<[string]>('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < rows; i++) insert.run('v'.repeat(200));
    // Left open on purpose (the file keeps its WAL); closed at the end of the test.
    openDatabases.push(db);
    return file;
  }

  it('checkpoints on its own connection and stops without reporting a failure', async () => {
    const file = walDatabase(500);
    const dbSize = sizeOf(file);
    const failures: string[] = [];
    const checkpointer = startWalCheckpointer(file, { intervalMs: 10, onFailure: (reason) => failures.push(reason) });
    await waitUntil('the WAL reached the database file', () => sizeOf(file) > dbSize + 20 * PAGE_SIZE, { timeoutMs: 10_000 });
    await checkpointer.stop();
    await checkpointer.stop(); // twice is harmless
    expect(failures).toEqual([]);
  });

  it('reports a checkpoint that fails, once, and stops', async () => {
    const file = tempFile('garbage.db');
    writeFileSync(file, 'not a database '.repeat(1_000));
    const failures: string[] = [];
    const checkpointer = startWalCheckpointer(file, { intervalMs: 10, onFailure: (reason) => failures.push(reason) });
    await waitUntil('the failure was reported', () => failures.length > 0, { timeoutMs: 10_000 });
    await checkpointer.stop();
    expect(failures).toEqual(['checkpoint failed: file is not a database']);
  });

  it('reports a thread that cannot open the database, once', async () => {
    const file = path.join(path.dirname(tempFile()), 'missing.db');
    const failures: string[] = [];
    const checkpointer = startWalCheckpointer(file, { intervalMs: 10, onFailure: (reason) => failures.push(reason) });
    await waitUntil('the failure was reported', () => failures.length > 0, { timeoutMs: 10_000 });
    await checkpointer.stop();
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^checkpoint thread crashed: /);
  });

  it("names the cause when the thread crashes on a SQLite error (it reaches the store's warning)", async () => {
    const file = path.join(path.dirname(tempFile()), 'missing.db');
    const failures: string[] = [];
    const checkpointer = startWalCheckpointer(file, { intervalMs: 10, onFailure: (reason) => failures.push(reason) });
    await waitUntil('the failure was reported', () => failures.length > 0, { timeoutMs: 10_000 });
    await checkpointer.stop();
    // better-sqlite3's SqliteError crosses the thread boundary as a plain object ({ code }), not an Error.
    expect(failures[0]).toMatch(/SQLITE_CANTOPEN|unable to open/i);
  });
});
