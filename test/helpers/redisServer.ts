import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServerHandle {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its temp dir. */
  stop(): Promise<void>;
  /**
   * Stops and starts it again on the same port (data kept only when started `persistent`).
   * `whileDown` runs after the old process has exited and before the new one starts.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

export const REDIS_MISSING_MESSAGE =
  'redis-server is not installed or not on PATH. The store tests run a real Redis: ' +
  'install it with `apt-get install -y redis-server` (CI does this).';

export function redisServerAvailable(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** One raw RESP PING; resolves true on +PONG. Avoids a client library so the helper has no moving parts. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `persistent: false` (default): no persistence, a clean slate for tests; a restart loses the data.
 * `persistent: true`: configured as the relay's Redis store must run in production (append-only
 * file, fsync on every write), so a restart keeps what the relay acknowledged.
 */
export async function startRedisServer(options: { persistent?: boolean } = {}): Promise<RedisServerHandle> {
  if (!redisServerAvailable()) throw new Error(REDIS_MISSING_MESSAGE);
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-redis-'));
  const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let child: ChildProcess | null = null;
  let stderr = '';

  const launch = async (): Promise<void> => {
    stderr = '';
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    let exited = false;
    proc.once('exit', () => (exited = true));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`redis-server exited during startup on port ${port}: ${stderr}`);
      if (await pingOnce(port)) return;
      await sleep(25);
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not answer PING on port ${port} within 10 s: ${stderr}`);
  };

  const halt = async (): Promise<void> => {
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
    port,
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

/** One redis-server process on a free loopback port with extra arguments; for cluster nodes and sentinel setups. */
interface RedisProcess {
  port: number;
  dir: string;
  proc: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

async function spawnRedis(args: string[], opts: { port?: number; dir?: string; configFile?: string } = {}): Promise<RedisProcess> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'rce-redis-'));
  const argv = [
    ...(opts.configFile ? [opts.configFile] : []),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--loglevel',
    'warning',
    ...args,
  ];
  const proc = spawn('redis-server', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  let exited = false;
  proc.once('exit', () => (exited = true));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) throw new Error(`redis-server exited during startup on port ${port}: ${stderr}`);
    if (await pingOnce(port)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${port}: ${stderr}`);
    }
    await sleep(25);
  }
  return {
    port,
    dir,
    proc,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const killer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        proc.once('exit', () => {
          clearTimeout(killer);
          resolve();
        });
        proc.kill(signal);
      }),
  };
}

function redisCli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export interface RedisClusterHandle {
  /** redis-cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 */
  url: string;
  ports: number[];
  stop(): Promise<void>;
}

/** A 3-master Redis Cluster (no replicas) on loopback, created with `redis-cli --cluster create`. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  if (!redisServerAvailable()) throw new Error(REDIS_MISSING_MESSAGE);
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      // The bus port defaults to port + 10000, which may be taken or out of range: pick a free one.
      const busPort = await freePort();
      nodes.push(
        await spawnRedis([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-port',
          String(busPort),
          '--appendonly',
          'no',
        ]),
      );
    }
    redisCli(nodes[0]!.port, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes');
    const deadline = Date.now() + 15_000;
    while (!nodes.every((n) => /cluster_state:ok/.test(redisCli(n.port, 'cluster', 'info')))) {
      if (Date.now() > deadline) throw new Error('Redis Cluster did not reach cluster_state:ok within 15 s');
      await sleep(100);
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    throw err;
  }
  return {
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    ports: nodes.map((n) => n.port),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
    },
  };
}

export interface RedisSentinelHandle {
  /** redis-sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/<masterName> */
  url: string;
  masterName: string;
  masterPort: number;
  replicaPort: number;
  /** Kills the current primary (SIGKILL), as a crash would. */
  killMaster(): Promise<void>;
  /** Port of the primary the sentinels name now. */
  currentMasterPort(): number;
  stop(): Promise<void>;
}

/**
 * A primary, one replica and three sentinels (quorum 2) on loopback, with short failover timers
 * (down-after 1000 ms) so a failover completes in seconds. Both data nodes persist with AOF.
 */
export async function startRedisSentinel(masterName = 'rcemaster'): Promise<RedisSentinelHandle> {
  if (!redisServerAvailable()) throw new Error(REDIS_MISSING_MESSAGE);
  const procs: RedisProcess[] = [];
  try {
    // Diskless sync without its default 5 s delay: the replica holds the data within milliseconds.
    const master = await spawnRedis(['--appendonly', 'yes', '--repl-diskless-sync-delay', '0']);
    procs.push(master);
    const replica = await spawnRedis(['--appendonly', 'yes', '--replicaof', '127.0.0.1', String(master.port)]);
    procs.push(replica);
    const linkDeadline = Date.now() + 10_000;
    while (!/master_link_status:up/.test(redisCli(replica.port, 'info', 'replication'))) {
      if (Date.now() > linkDeadline) throw new Error('the replica did not finish its initial sync within 10 s');
      await sleep(50);
    }
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'rce-sentinel-'));
      const conf = path.join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const s = await spawnRedis(['--sentinel'], { dir, configFile: conf });
      sentinels.push(s);
      procs.push(s);
    }
    // Wait until every sentinel knows the replica (and the others), or a failover could not pick it.
    const deadline = Date.now() + 15_000;
    while (
      !sentinels.every(
        (s) =>
          /num-slaves\s+1\b/.test(redisCli(s.port, 'sentinel', 'master', masterName).replace(/\n/g, ' ')) &&
          /num-other-sentinels\s+2\b/.test(redisCli(s.port, 'sentinel', 'master', masterName).replace(/\n/g, ' ')),
      )
    ) {
      if (Date.now() > deadline) throw new Error('sentinels did not discover the replica and each other within 15 s');
      await sleep(200);
    }
    const byPort = new Map(procs.map((p) => [p.port, p]));
    const currentMasterPort = (): number =>
      Number(redisCli(sentinels[0]!.port, 'sentinel', 'get-master-addr-by-name', masterName).trim().split('\n')[1]);
    return {
      url: `redis-sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${masterName}`,
      masterName,
      masterPort: master.port,
      replicaPort: replica.port,
      currentMasterPort,
      async killMaster() {
        await byPort.get(currentMasterPort())?.kill('SIGKILL');
      },
      async stop() {
        await Promise.all(procs.map((p) => p.kill()));
        for (const p of procs) rmSync(p.dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    throw err;
  }
}
