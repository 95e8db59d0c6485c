import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REDIS_MISSING_MESSAGE, redisServerAvailable } from './redisServer';
import { freePort } from './relayProcess';

/**
 * A redis-server configured the way the relay's Redis store must be run in production: the
 * append-only file on, fsync on every write. Unlike `startRedisServer()` (no persistence, for
 * tests that want a clean slate), a restart here keeps the data, so a test can check that a
 * Redis restart loses nothing the relay acknowledged.
 */
export interface DurableRedisServer {
  url: string;
  stop(): Promise<void>;
  /** Stops it (SIGTERM), runs `whileDown`, starts it again on the same port and data directory. */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

export async function startDurableRedisServer(): Promise<DurableRedisServer> {
  if (!redisServerAvailable()) throw new Error(REDIS_MISSING_MESSAGE);
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-redis-aof-'));
  let child: ChildProcess | null = null;

  const launch = async () => {
    let stderr = '';
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited during start-up: ${stderr}`);
      if (await answersPing(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not answer on port ${port}: ${stderr}`);
  };
  const halt = async () => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const killer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      proc.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart(whileDown) {
      await halt();
      try {
        if (whileDown) await whileDown();
      } finally {
        await launch();
      }
    },
  };
}
