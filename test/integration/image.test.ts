import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, REDIS_MISSING_MESSAGE, redisServerAvailable, startRedisServer } from '../helpers/redisServer';
import { VALID_TENANT_ENV } from '../helpers/tenantEnv';

/**
 * The container image without a container daemon: replays the Dockerfile's three stages in a
 * temporary directory and starts what the runtime stage would run. The commands come from the
 * Dockerfile itself (prod-deps RUN, runtime ENV, CMD and HEALTHCHECK), so the test follows it.
 *
 * better-sqlite3: in a real image build, its install script (prebuild-install) downloads the
 * prebuilt binary for this node ABI. This machine reaches no download host, so the replay hands
 * prebuild-install the binary of the dev install (same package version, same node) through its
 * documented local-prebuilds directory; `npm ci` still runs every install script. Without a dev
 * binary, or with IMAGE_TEST_COMPILE=1, the binary is compiled from source (about 100 s here).
 */

const REPO = path.resolve(__dirname, '../..');
const DOCKERFILE = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');

interface Stage {
  name: string;
  instructions: { op: string; args: string }[];
}

function parseDockerfile(text: string): Stage[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  const stages: Stage[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, op = '', args = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op === 'FROM') stages.push({ name: /\bAS\s+(\S+)/i.exec(args)?.[1] ?? '', instructions: [] });
    else stages.at(-1)?.instructions.push({ op, args });
  }
  return stages;
}

function stage(name: string): Stage {
  const found = parseDockerfile(DOCKERFILE).find((s) => s.name === name);
  if (!found) throw new Error(`Dockerfile has no stage ${name}`);
  return found;
}

function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a): a is string => typeof a === 'string')) throw new Error(`not an exec form: ${args}`);
  return parsed;
}

function only(s: Stage, op: string): string {
  const found = s.instructions.filter((i) => i.op === op);
  if (found.length !== 1) throw new Error(`stage ${s.name}: expected one ${op}, found ${found.length}`);
  return found[0]!.args;
}

// Engage and Cognigy are never called: their URLs point at a closed port.
const tenantEnv = {
  ...VALID_TENANT_ENV,
  RCE_REALTIME_ENDPOINT_URL: 'http://127.0.0.1:9/realtime/sdk/imagetest',
  RCE_BASE_API_URL: 'http://127.0.0.1:9/1.0',
  COGNIGY_API_BASE_URL: 'http://127.0.0.1:9',
};

function betterSqlitePrebuildDir(work: string): string | null {
  const binary = path.join(REPO, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  if (process.env.IMAGE_TEST_COMPILE === '1' || !existsSync(binary)) return null;
  const { version } = JSON.parse(readFileSync(path.join(REPO, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string };
  const staging = path.join(work, 'prebuild-staging');
  mkdirSync(path.join(staging, 'build/Release'), { recursive: true });
  cpSync(binary, path.join(staging, 'build/Release/better_sqlite3.node'));
  const dir = path.join(work, 'prebuilds');
  mkdirSync(dir);
  // prebuild-install's file name: <name>-v<version>-<runtime>-v<abi>-<platform><libc>-<arch>.tar.gz
  const tarball = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync('tar', ['czf', path.join(dir, tarball), '-C', staging, 'build']);
  return dir;
}

/** `unshare --pid` works here (root, or user namespaces allowed)? */
function pidNamespaceAvailable(): boolean {
  return spawnSync('unshare', ['--pid', '--fork', 'true'], { timeout: 5_000 }).status === 0;
}

function childPidOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
  if (children.length !== 1) throw new Error(`expected one child of ${pid}, found: ${children.join(' ')}`);
  return Number(children[0]);
}

describe('container image (Dockerfile stages replayed without a daemon)', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'rce-image-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('runs as an unprivileged user with a data volume, a readiness HEALTHCHECK and node as PID 1', () => {
    const runtime = stage('runtime');
    expect(only(runtime, 'USER')).toBe('node');
    expect(only(runtime, 'VOLUME')).toBe('["/app/data"]');
    expect(only(runtime, 'WORKDIR')).toBe('/app');
    // exec form: SIGTERM reaches node directly, not a shell or npm that would swallow it.
    expect(execForm(only(runtime, 'CMD'))[0]).toBe('node');
    expect(only(runtime, 'HEALTHCHECK')).toMatch(/\/readyz/);
    // The runtime stage installs nothing: only what the other stages produced.
    expect(runtime.instructions.filter((i) => i.op === 'RUN').map((i) => i.args)).toEqual([
      'mkdir -p /app/data && chown node:node /app/data',
    ]);
    expect(stage('prod-deps').instructions.find((i) => i.op === 'RUN')?.args).toMatch(/^npm ci --omit=dev\b/);
  });

  it('builds, installs runtime dependencies only, starts without TypeScript, turns healthy and stops on SIGTERM', async () => {
    const started = Date.now();
    const timings: Record<string, number> = {};
    const lap = (name: string, since: number) => (timings[name] = Date.now() - since);

    // Stage "build": the sources it copies, compiled with the dev install (its `npm ci`).
    let t = Date.now();
    const build = path.join(work, 'build');
    for (const { args } of stage('build').instructions.filter((i) => i.op === 'COPY')) {
      const parts = args.split(/\s+/);
      for (const source of parts.slice(0, -1)) cpSync(path.join(REPO, source), path.join(build, source), { recursive: true });
    }
    symlinkSync(path.join(REPO, 'node_modules'), path.join(build, 'node_modules'));
    const [installDev, compile = ''] = stage('build')
      .instructions.filter((i) => i.op === 'RUN')
      .map((i) => i.args);
    expect(installDev).toMatch(/^npm ci\b/); // replaced by the dev install, linked above
    const [compileCmd = '', ...compileArgs] = compile.split(/\s+/);
    execFileSync(compileCmd, compileArgs, { cwd: build, stdio: 'pipe' });
    lap('build', t);

    // Stage "prod-deps": its RUN line, exactly, plus --prefer-offline (npm's cache, no network needed).
    t = Date.now();
    const deps = path.join(work, 'prod-deps');
    mkdirSync(deps);
    for (const f of ['package.json', 'package-lock.json']) cpSync(path.join(REPO, f), path.join(deps, f));
    const [npm = '', ...npmArgs] = only(stage('prod-deps'), 'RUN').split(/\s+/);
    const prebuilds = betterSqlitePrebuildDir(work);
    const install = spawnSync(npm, [...npmArgs, '--prefer-offline'], {
      cwd: deps,
      encoding: 'utf8',
      env: { ...process.env, ...(prebuilds ? { npm_config_better_sqlite3_local_prebuilds: prebuilds } : {}) },
      timeout: 300_000,
    });
    expect({ status: install.status, stderr: install.status === 0 ? '' : install.stderr }).toEqual({ status: 0, stderr: '' });
    lap('prodDeps', t);

    // Stage "runtime": its COPY lines, from the build context (the repo) or from the other stages' /app.
    const app = path.join(work, 'app');
    mkdirSync(app);
    const stageDirs: Record<string, string> = { build, 'prod-deps': deps };
    for (const { args } of stage('runtime').instructions.filter((i) => i.op === 'COPY')) {
      const parts = args.split(/\s+/);
      const from = /^--from=(\S+)$/.exec(parts[0] ?? '')?.[1];
      const paths = from ? parts.slice(1) : parts;
      const dest = paths.at(-1) ?? '';
      for (const source of paths.slice(0, -1)) {
        const origin = from ? path.join(stageDirs[from] ?? '/nonexistent', source.replace(/^\/app\//, '')) : path.join(REPO, source);
        const target = dest.endsWith('/') ? path.join(app, dest, path.basename(source)) : path.join(app, dest);
        if (from === 'prod-deps')
          renameSync(origin, target); // node_modules: a move, as cheap as a layer
        else cpSync(origin, target, { recursive: true });
      }
    }
    mkdirSync(path.join(app, 'data'));
    for (const devOnly of ['typescript', 'tsx', 'jest', '@swc/core', 'esbuild'])
      expect(existsSync(path.join(app, 'node_modules', devOnly))).toBe(false);
    for (const runtimeDep of ['better-sqlite3', 'prom-client', 'express'])
      expect(existsSync(path.join(app, 'node_modules', runtimeDep))).toBe(true);
    // The Redis store's Lua commands travel with the build output (tsc does not emit them).
    for (const lua of ['claim.lua', 'apply.lua', 'includes/holdsLease.lua', 'includes/releaseToNextHead.lua'])
      expect(existsSync(path.join(app, 'dist/relay/src/store/redis/commands', lua))).toBe(true);

    const imageEnv: Record<string, string> = {};
    for (const { args } of stage('runtime').instructions.filter((i) => i.op === 'ENV')) {
      for (const pair of args.split(/\s+/)) {
        const [k = '', v = ''] = pair.split('=');
        imageEnv[k] = v;
      }
    }
    expect(imageEnv).toMatchObject({ NODE_ENV: 'production', PORT: '8080', ADMIN_PORT: '8081' });
    const port = await freePort();
    const adminPort = await freePort();
    const env = {
      PATH: process.env.PATH ?? '',
      ...imageEnv,
      ...tenantEnv,
      PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
    };

    t = Date.now();
    const [cmd = '', ...cmdArgs] = execForm(only(stage('runtime'), 'CMD'));
    const command = [cmd === 'node' ? process.execPath : cmd, ...cmdArgs];
    // As in a container, the CMD runs as PID 1 of its own PID namespace (where the kernel gives
    // PID 1 no default signal actions: SIGTERM works only because the relay handles it).
    const asPid1 = pidNamespaceAvailable();
    const relay = asPid1
      ? spawn('unshare', ['--pid', '--fork', '--kill-child', ...command], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(command[0]!, command.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    relay.stdout.on('data', (c: Buffer) => (output += c.toString()));
    relay.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => relay.once('exit', (code) => resolve(code)));
    try {
      const until = Date.now() + 20_000;
      let live = false;
      while (!live && Date.now() < until) {
        live = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!live) await new Promise((r) => setTimeout(r, 100));
      }
      expect({ live, output: live ? '' : output }).toEqual({ live: true, output: '' });
      lap('startToLive', t);

      // The HEALTHCHECK command, run as Docker runs it inside the container (same env): it asks
      // /readyz on the admin listener (the public port does not serve it).
      const healthArgs = execForm(only(stage('runtime'), 'HEALTHCHECK').replace(/^.*?\bCMD\s+/, ''));
      const healthcheck = () =>
        spawnSync(healthArgs[0] === 'node' ? process.execPath : healthArgs[0]!, healthArgs.slice(1), {
          cwd: app,
          env,
          encoding: 'utf8',
          timeout: 10_000,
        }).status;
      expect(healthcheck()).toBe(0);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(404);
      // The SQLite store went to the volume.
      expect(existsSync(path.join(app, 'data/relay.db'))).toBe(true);

      const nodePid = asPid1 ? childPidOf(relay.pid ?? -1) : (relay.pid ?? -1);
      if (asPid1) expect(readFileSync(`/proc/${nodePid}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m);
      process.kill(nodePid, 'SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      relay.kill('SIGKILL');
    }

    // The doctor runs from the image too (nothing answers at the test's Engage and Cognigy URLs,
    // so it reports failed checks: the point is that it runs with the production dependencies).
    const doctor = spawnSync(process.execPath, ['dist/relay/src/main.js', 'doctor'], { cwd: app, env, encoding: 'utf8', timeout: 30_000 });
    expect({ status: doctor.status, stderr: doctor.stderr }).toEqual({ status: 1, stderr: '' });
    expect(doctor.stdout).toMatch(/^✘ Base API URL and API Access Token: /m);
    expect(doctor.stdout).toMatch(/^✔ Store: sqlite reachable$/m);

    // `npm start` in the image, on a Redis store (a real redis-server) as in the compose file and
    // the Kubernetes manifests: prestart finds no sources, builds nothing, and the relay starts
    // with the Lua commands from dist/. (npm does not pass SIGTERM on to the relay, one reason the
    // image's CMD runs node itself: here the whole process group is stopped.)
    if (!redisServerAvailable()) throw new Error(REDIS_MISSING_MESSAGE);
    const redis = await startRedisServer();
    t = Date.now();
    const viaNpm = spawn('npm', ['start', '--silent'], {
      cwd: app,
      env: { ...env, STORE_URL: redis.url },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let npmOutput = '';
    viaNpm.stdout.on('data', (c: Buffer) => (npmOutput += c.toString()));
    viaNpm.stderr.on('data', (c: Buffer) => (npmOutput += c.toString()));
    const npmClosed = new Promise<void>((resolve) => viaNpm.once('close', () => resolve()));
    const stopGroup = (signal: NodeJS.Signals) => {
      try {
        if (viaNpm.pid) process.kill(-viaNpm.pid, signal);
      } catch {
        // already gone
      }
    };
    try {
      const until = Date.now() + 20_000;
      let ready = false;
      while (!ready && Date.now() < until) {
        ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect({ ready, output: ready ? '' : npmOutput }).toEqual({ ready: true, output: '' });
      lap('npmStartToReady', t);
      expect(npmOutput).toMatch(/"msg":"relay listening"/);
      expect(npmOutput).toMatch(/"store":"redis"/);
      expect(existsSync(path.join(app, 'relay'))).toBe(false);
      stopGroup('SIGTERM');
      await npmClosed; // stdout closes only when the relay, its last holder, has exited
      expect(
        await fetch(`http://127.0.0.1:${port}/healthz`).then(
          () => 'listening',
          () => 'stopped',
        ),
      ).toBe('stopped');
    } finally {
      stopGroup('SIGKILL');
      await redis.stop();
    }
    lap('total', started);
    process.stdout.write(`image replay timings (ms): ${JSON.stringify(timings)}; relay ran as PID 1 of its own namespace: ${asPid1}\n`);
  }, 420_000);
});
