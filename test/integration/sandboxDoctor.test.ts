import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../relay/src/config';
import { doctorCommand, writeDoctorEnvFile } from '../../sandbox/doctorEnv';
import { startSandbox, type Sandbox } from '../../sandbox/startSandbox';

const REPO = path.resolve(__dirname, '../..');

/** What `npm run sandbox` prints for the doctor works when pasted into a shell. */
describe('sandbox: a ready-to-paste doctor command', () => {
  let sandbox: Sandbox;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'rce-sandbox-doctor-'));
    sandbox = await startSandbox({ dataDir, chatPort: 0, deskPort: 0 });
  });
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes an env file the relay reads as the sandbox configuration, readable by its owner only', () => {
    const file = path.join(dataDir, 'sandbox.env');
    writeDoctorEnvFile(sandbox.config, file, sandbox.relayUrl);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const env = Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z]/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const config = loadConfig(env);
    expect(config.tenants).toEqual(sandbox.config.tenants);
    expect(config.settings.storeUrl).toBe(sandbox.config.settings.storeUrl);
    expect(env.RELAY_PUBLIC_URL).toBe(sandbox.relayUrl);
  });

  it('the printed command runs the doctor against the simulators and every check passes', async () => {
    const file = path.join(dataDir, 'sandbox.env');
    writeDoctorEnvFile(sandbox.config, file, sandbox.relayUrl);
    const command = doctorCommand(file, REPO);
    expect(command).toBe(`(set -a && . ${file} && npm run doctor)`);
    const { stdout } = await promisify(execFile)('sh', ['-c', command], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      timeout: 120_000,
    });
    const checks = stdout.split('\n').filter((l) => /^[✔✘] /.test(l));
    expect(checks.length).toBeGreaterThanOrEqual(5);
    expect(checks.filter((l) => l.startsWith('✘'))).toEqual([]);
    expect(stdout).toContain('All checks passed.');
    // The webhook the sandbox registered is found at the relay's URL, through the simulated REST API.
    expect(stdout).toMatch(new RegExp(`^✔ Webhook: ${sandbox.relayUrl}/handover/rce is active`, 'm'));
  }, 150_000);
});
