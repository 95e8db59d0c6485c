import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './redisServer';

/**
 * The relay as its own process, started the way operators start it (`relay/src/main.ts start`,
 * configured by environment variables), for signal tests. Run as `node --import tsx …` rather
 * than through the `tsx` wrapper: the wrapper forks a second node process, and a SIGKILL sent
 * to the wrapper would leave the real relay running.
 */

const REPO_ROOT = path.resolve(__dirname, '../..');

export interface RelayProcess {
  url: string;
  /** The admin listener (/readyz, /metrics). */
  adminUrl: string;
  port: number;
  pid: number;
  /** stdout lines (pino JSON) and stderr lines, as they came. */
  stdout: string[];
  stderr: string[];
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal: NodeJS.Signals): void;
  /** SIGKILL if still running; always safe to call (afterAll). */
  ensureStopped(): Promise<void>;
}

export async function startRelayProcess(
  env: Record<string, string>,
  options: { port?: number; readyTimeoutMs?: number } = {},
): Promise<RelayProcess> {
  const port = options.port ?? (await freePort());
  const adminPort = env.ADMIN_PORT ?? String(await freePort());
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'relay/src/main.ts', 'start'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ADMIN_PORT: adminPort, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = (into: string[]) => {
    let partial = '';
    return (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      into.push(...lines.filter((l) => l.length > 0));
    };
  };
  child.stdout?.on('data', collect(stdout));
  child.stderr?.on('data', collect(stderr));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  let done = false;
  void exited.then(() => (done = true));

  const url = `http://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const until = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (done) throw new Error(`relay exited during start-up: ${stderr.join('\n')} ${stdout.slice(-5).join('\n')}`);
    const ready = await fetch(`${adminUrl}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`relay not ready within the start-up timeout: ${stderr.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    url,
    adminUrl,
    port,
    pid: child.pid ?? -1,
    stdout,
    stderr,
    exited,
    kill: (signal) => {
      if (!done) child.kill(signal);
    },
    async ensureStopped() {
      if (done) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
