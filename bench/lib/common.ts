import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { profilerMethods } from './profilerRpc';

/** Shared by the bench orchestrator and its child processes. Nothing here is used by the relay. */

export const BENCH_SECRETS = {
  apiAccessToken: 'bench-rest-token-0123456789abcdef',
  realtimeAccessToken: 'bench-realtime-token-0123456789abcdef',
  webhookSecret: 'bench-webhook-secret-0123456789',
  cognigyApiKey: 'bench-cognigy-api-key-0123456789',
  relayApiKey: 'bench-relay-api-key-0123456789',
};
export const BENCH_SOURCE_ID = 'benchsrc0001';
export const BENCH_SESSION_URL_TOKEN = 'bench-endpoint-token';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- statistics ---------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values as ArrayLike<number>).sort();
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median; NaN when the median is 0. */
  relSpread: number;
  n: number;
}

export function spread(values: number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, relSpread: Number.NaN, n: 0 };
  const s = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  const min = s[0] as number;
  const max = s[s.length - 1] as number;
  return { median, min, max, relSpread: median === 0 ? Number.NaN : (max - min) / Math.abs(median), n: s.length };
}

// ---- machine --------------------------------------------------------------------------------

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  node: string;
  platform: string;
  totalMemGiB: number;
  date: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    date: new Date().toISOString(),
  };
}

// ---- child processes with a tiny request/response protocol over IPC ---------------------------

type RpcRequest = { rpc: number; method: string; args?: unknown };
type RpcReply = { rpc: number; ok: true; result: unknown } | { rpc: number; ok: false; error: string };

export interface BenchChild {
  readonly process: ChildProcess;
  readonly pid: number;
  /** The payload of the child's first `{ready: ...}` message. */
  readonly ready: unknown;
  call<T = unknown>(method: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the child to exit (method `stop`), then waits; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const repoRoot = path.resolve(__dirname, '..', '..');

const compiledRoot = path.join(repoRoot, '.bench-build');
let compiled = false;

/**
 * The bench's child processes (targets and sections) compiled once with tsc, as `npm start` runs
 * the relay: under tsx every closure the relay creates also pays esbuild's `__name` helper, which
 * showed up in the relay's CPU profile and is not in production. `BENCH_TSX=1` runs them under tsx.
 */
function compiledChild(file: string): string | null {
  if (process.env.BENCH_TSX === '1') return null;
  if (!compiled) {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(repoRoot, 'tsconfig.bench.json')], {
      cwd: repoRoot,
      stdio: 'inherit',
    });
    compiled = true;
  }
  const js = path.join(compiledRoot, file.replace(/\.ts$/, '.js'));
  if (!existsSync(js)) throw new Error(`${file} is not part of tsconfig.bench.json`);
  return js;
}

/**
 * Forks a bench child (compiled JavaScript, or TypeScript under tsx with BENCH_TSX=1) with an IPC
 * channel, and waits for its `{ready}` message. `nodeArgs` go first (e.g. `--expose-gc`).
 */
export async function startChild(
  file: string,
  options: { env?: Record<string, string>; nodeArgs?: string[]; readyTimeoutMs?: number } = {},
): Promise<BenchChild> {
  const js = compiledChild(file);
  const child = fork(js ?? path.resolve(repoRoot, file), [], {
    cwd: repoRoot,
    execArgv: [...(options.nodeArgs ?? []), ...(js ? [] : ['--import', 'tsx'])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      for (const p of pending.values()) p.reject(new Error(`${file} exited`));
      pending.clear();
      resolve();
    }),
  );

  const ready = await new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${file} did not report ready within ${options.readyTimeoutMs ?? 120_000} ms`)),
      options.readyTimeoutMs ?? 120_000,
    );
    const onMessage = (msg: unknown) => {
      if (msg && typeof msg === 'object' && 'ready' in msg) {
        clearTimeout(timer);
        resolve((msg as { ready: unknown }).ready);
      } else if (msg && typeof msg === 'object' && 'fatal' in msg) {
        clearTimeout(timer);
        reject(new Error(`${file}: ${String((msg as { fatal: unknown }).fatal)}`));
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with code ${code} before it was ready`));
    });
  });

  child.on('message', (msg: unknown) => {
    if (!msg || typeof msg !== 'object' || !('rpc' in msg)) return;
    const reply = msg as RpcReply;
    const waiter = pending.get(reply.rpc);
    if (!waiter) return;
    pending.delete(reply.rpc);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`${file}: ${reply.error}`));
  });

  return {
    process: child,
    pid: child.pid ?? -1,
    ready,
    call<T>(method: string, args?: unknown, timeoutMs = 120_000): Promise<T> {
      if (exited) return Promise.reject(new Error(`${file} is not running`));
      const rpc = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(rpc);
          reject(new Error(`${file}: ${method} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(rpc, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ rpc, method, args } satisfies RpcRequest);
      });
    },
    async stop(graceMs = 10_000) {
      if (exited) return;
      const rpc = nextId++;
      try {
        child.send({ rpc, method: 'stop' } satisfies RpcRequest);
      } catch {
        // channel already closed
      }
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitPromise;
      clearTimeout(killer);
    },
  };
}

/**
 * Child side: announces `ready` and serves RPC methods. `stop` is always available: it runs
 * the given cleanup, answers, and exits.
 */
export interface LoopDiagnostics {
  /** Event-loop delay percentiles (ms) over the window: how long ready work waited for the loop. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Garbage-collection pauses in the window. */
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
}

/**
 * Built into every child: `diagStart` / `diagStop` measure the event-loop delay (1 ms resolution)
 * and GC pauses over a load run, which is what a request's tail latency waits behind.
 */
function loopDiagnostics(): Record<string, () => unknown> {
  let histogram: IntervalHistogram | null = null;
  let gc = { count: 0, totalMs: 0, maxMs: 0 };
  let observer: PerformanceObserver | null = null;
  return {
    diagStart: () => {
      histogram?.disable();
      observer?.disconnect();
      histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      gc = { count: 0, totalMs: 0, maxMs: 0 };
      observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          gc.count += 1;
          gc.totalMs += entry.duration;
          gc.maxMs = Math.max(gc.maxMs, entry.duration);
        }
      });
      observer.observe({ entryTypes: ['gc'] });
      return null;
    },
    diagStop: (): LoopDiagnostics => {
      const h = histogram;
      if (!h) throw new Error('diagStart was not called');
      h.disable();
      observer?.disconnect();
      histogram = null;
      observer = null;
      return {
        loopDelayP50Ms: h.percentile(50) / 1e6,
        loopDelayP99Ms: h.percentile(99) / 1e6,
        loopDelayMaxMs: h.max / 1e6,
        gcCount: gc.count,
        gcTotalMs: gc.totalMs,
        gcMaxMs: gc.maxMs,
      };
    },
  };
}

export function serveParent(
  ready: unknown,
  ownMethods: Record<string, (args: unknown) => unknown>,
  onStop: () => Promise<void> | void,
): void {
  const methods: Record<string, (args: unknown) => unknown> = { ...loopDiagnostics(), ...profilerMethods(), ...ownMethods };
  const send = (msg: unknown) => {
    if (process.send && process.connected) process.send(msg);
  };
  let stopping: Promise<void> | null = null;
  const stopOnce = (): Promise<void> => (stopping ??= Promise.resolve().then(onStop));
  process.on('message', (msg: unknown) => {
    if (!msg || typeof msg !== 'object' || !('rpc' in msg)) return;
    const { rpc, method, args } = msg as RpcRequest;
    void (async () => {
      if (method === 'stop') {
        try {
          await stopOnce();
        } finally {
          send({ rpc, ok: true, result: null });
          process.disconnect?.();
          setImmediate(() => process.exit(0));
        }
        return;
      }
      const fn = methods[method];
      if (!fn) return send({ rpc, ok: false, error: `unknown method ${method}` });
      try {
        send({ rpc, ok: true, result: await fn(args) });
      } catch (err) {
        send({ rpc, ok: false, error: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  // The parent died: do not linger.
  process.on('disconnect', () => {
    void stopOnce().finally(() => process.exit(0));
  });
  send({ ready });
}

/** Child side: report a startup failure to the parent and exit. */
export function failStartup(err: unknown): never {
  const message = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
  if (process.send) process.send({ fatal: message });
  console.error(message);
  process.exit(1);
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toFixed(digits);
}

export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return Math.round(n).toLocaleString('en-US');
}
