import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints in a worker thread, on their own connection.
 *
 * SQLite's automatic checkpoint runs inside whichever commit crosses the threshold (1,000 WAL
 * pages), on the relay's event loop, and with `synchronous = NORMAL` it fsyncs the database
 * file: in the benchmark that stalled the loop ~4 ms about twenty times a second, and those
 * stalls were the requests' p99. A PASSIVE checkpoint from another connection never blocks the
 * writer, so this thread checkpoints every `intervalMs` and the store raises its own automatic
 * checkpoint to a backstop (see WAL_BACKSTOP_PAGES in sqliteStore.ts). If the thread fails, the
 * store goes back to SQLite's default automatic checkpoint.
 */
export interface WalCheckpointer {
  /** Stops the thread after a last checkpoint; resolves when it has exited. */
  stop(): Promise<void>;
}

export interface WalCheckpointerOptions {
  intervalMs: number;
  /** The thread failed or exited unexpectedly (already stopped); the caller falls back to automatic checkpoints. */
  onFailure: (reason: string) => void;
}

// Plain CommonJS evaluated in the worker: no TypeScript loader is needed there (tsx, jest and the
// compiled relay all run it the same way). The driver path comes from the main thread's resolution.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driverPath);
const db = new Database(workerData.filePath, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try {
    checkpoint();
  } catch (err) {
    clearInterval(timer);
    parentPort.postMessage({ failed: String(err && err.message ? err.message : err) });
    db.close();
    parentPort.close();
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { checkpoint(); } catch { /* the main connection checkpoints on close anyway */ }
  db.close();
  parentPort.close();
});
`;

function describeThrown(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  if (err && typeof err === 'object') {
    const { message, code } = err as { message?: unknown; code?: unknown };
    if (typeof message === 'string' && message) return typeof code === 'string' ? `${code}: ${message}` : message;
    if (typeof code === 'string') return code;
  }
  return String(err);
}

export function startWalCheckpointer(filePath: string, options: WalCheckpointerOptions): WalCheckpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { filePath, intervalMs: options.intervalMs, driverPath: require.resolve('better-sqlite3') },
  });
  // The thread must never keep a process alive on its own (a forgotten close, a test runner).
  worker.unref();
  let stopping = false;
  let failed = false;
  const fail = (reason: string) => {
    if (failed || stopping) return;
    failed = true;
    options.onFailure(reason);
  };
  worker.on('message', (message: unknown) => {
    if (message && typeof message === 'object' && 'failed' in message)
      fail(`checkpoint failed: ${String((message as { failed: unknown }).failed)}`);
  });
  // What crosses the thread boundary is not always an Error (better-sqlite3's SqliteError arrives as a plain object).
  worker.on('error', (err: unknown) => fail(`checkpoint thread crashed: ${describeThrown(err)}`));
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      if (code !== 0) fail(`checkpoint thread exited with code ${code}`);
      else fail('checkpoint thread exited');
      resolve();
    });
  });
  return {
    async stop() {
      if (!stopping && !failed) {
        stopping = true;
        worker.postMessage('stop');
      }
      stopping = true;
      // Bounded: a thread stuck in an fsync must not hold up shutdown.
      const cut = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(cut);
    },
  };
}
