import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, SETTINGS_ENV, TENANT_ENV } from '../../relay/src/config';
import { VALID_TENANT_ENV } from '../helpers/tenantEnv';

const env: Record<string, string> = { ...VALID_TENANT_ENV };

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** The lines of a ConfigError message after its heading. */
const linesOf = (message: string) =>
  message
    .split('\n')
    .slice(1)
    .map((l) => l.trim());

describe('configuration errors: one line per variable', () => {
  it('tells a missing variable from an empty one and from a malformed one, each with an example', () => {
    const { RCE_WEBHOOK_SECRET: _missing, ...rest } = env;
    void _missing;
    const message = messageOf(() =>
      loadConfig({
        ...rest,
        RCE_BOT_CATEGORY_ID: '  ',
        RCE_BASE_API_URL: 'ftp://acme.api.engagement.dimelo.com',
        RCE_REALTIME_ACCESS_TOKEN: 'tiny',
      }),
    );
    expect(message.split('\n')[0]).toBe('Invalid configuration (4 problems):');
    expect(linesOf(message).sort()).toEqual([
      'RCE_BASE_API_URL is malformed: must be the Engage API host, e.g. acme.api.engagement.dimelo.com or https://acme.api.engagement.dimelo.com/1.0. Example: RCE_BASE_API_URL=https://acme.api.engagement.dimelo.com/1.0',
      'RCE_BOT_CATEGORY_ID is empty. Example: RCE_BOT_CATEGORY_ID=5f1c00000000000000000c02',
      'RCE_REALTIME_ACCESS_TOKEN is malformed: must be at least 8 characters. Example: RCE_REALTIME_ACCESS_TOKEN=<the Engage source’s API access token>',
      'RCE_WEBHOOK_SECRET is not set. Example: RCE_WEBHOOK_SECRET=<the Engage webhook’s Secret, 8 characters or more>',
    ]);
    expect(message).not.toContain('tiny');
  });

  it('lists the settings and the tenant variables together', () => {
    const { RELAY_API_KEY: _omit, ...without } = env;
    void _omit;
    expect(linesOf(messageOf(() => loadConfig({ ...without, PORT: '70000' })))).toEqual([
      'PORT is malformed: must be at most 65535. Example: PORT=8080',
      'RELAY_API_KEY is not set. Example: RELAY_API_KEY=<the Connection’s Relay API Key, e.g. from `openssl rand -hex 32`>',
    ]);
  });

  it('explains malformed settings in plain words: numbers, choices, our own rules', () => {
    const message = messageOf(() => loadConfig({ ...env, PORT: 'eighty', LOG_LEVEL: 'loud', OUTBOX_DEADLINE_MS: '-5' }));
    expect(linesOf(message).sort()).toEqual([
      'LOG_LEVEL is malformed: must be one of fatal, error, warn, info, debug, trace, silent. Example: LOG_LEVEL=info',
      'OUTBOX_DEADLINE_MS is malformed: must be at least 0. Example: OUTBOX_DEADLINE_MS=900000',
      'PORT is malformed: not a number. Example: PORT=8080',
    ]);
    const endpoint = messageOf(() =>
      loadConfig({ ...env, RCE_REALTIME_ENDPOINT_URL: 'ftp://acme.engagement.dimelo.com/realtime/sdk/5f1e2d' }),
    );
    expect(linesOf(endpoint)).toEqual([
      "RCE_REALTIME_ENDPOINT_URL is malformed: must end with the source id, e.g. https://acme.engagement.dimelo.com/realtime/sdk/5f1c00000000000000000d01 (the source's Implementation Details). Example: RCE_REALTIME_ENDPOINT_URL=https://acme.engagement.dimelo.com/realtime/sdk/5f1c00000000000000000d01",
    ]);
  });

  it('gives every variable the relay reads an example when it is wrong', () => {
    const numeric = new Set(
      Object.entries(SETTINGS_ENV)
        .filter(([, key]) => /Ms$|Port$|PerMinute$|Bytes$|^port$/.test(key))
        .map(([name]) => name),
    );
    for (const name of Object.keys(SETTINGS_ENV).filter((n) => numeric.has(n))) {
      expect(linesOf(messageOf(() => loadConfig({ ...env, [name]: 'not-a-number' })))).toEqual([
        expect.stringMatching(new RegExp(`^${name} is malformed: .*\\. Example: ${name}=\\S+`)),
      ]);
    }
    for (const name of Object.keys(TENANT_ENV).filter((n) => env[n] !== undefined)) {
      const { [name]: _omit, ...without } = env;
      void _omit;
      expect(linesOf(messageOf(() => loadConfig(without)))).toEqual([
        expect.stringMatching(new RegExp(`^${name} is not set\\. Example: ${name}=.+`)),
      ]);
    }
  });

  it('names the field of the RELAY_CONFIG file, with the JSON form of the example', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rce-config-errors-'));
    const file = path.join(dir, 'tenants.json');
    const tenant = {
      apiAccessToken: 'api-token-123456',
      botCategoryId: '',
      agentCategoryId: 'a',
      realtimeAccessToken: 'realtime-token-123456',
      realtimeEndpointUrl: env.RCE_REALTIME_ENDPOINT_URL,
      webhookSecret: 'webhook-secret-123',
      baseApiUrl: 'ftp://acme.api.engagement.dimelo.com',
      cognigyApiBaseUrl: env.COGNIGY_API_BASE_URL,
      cognigyApiKey: 'cognigy-key-123456',
    };
    writeFileSync(file, JSON.stringify({ tenants: [tenant] }));
    expect(linesOf(messageOf(() => loadConfig({ RELAY_CONFIG: file })))).toEqual([
      'RELAY_CONFIG tenants[0].botCategoryId is empty. Example: "botCategoryId": "5f1c00000000000000000c02"',
      'RELAY_CONFIG tenants[0].baseApiUrl is malformed: must be the Engage API host, e.g. acme.api.engagement.dimelo.com or https://acme.api.engagement.dimelo.com/1.0. Example: "baseApiUrl": "https://acme.api.engagement.dimelo.com/1.0"',
      'RELAY_CONFIG tenants[0].relayApiKey is not set. Example: "relayApiKey": "<the Connection’s Relay API Key, e.g. from `openssl rand -hex 32`>"',
    ]);
    writeFileSync(file, JSON.stringify({ tenants: [] }));
    expect(linesOf(messageOf(() => loadConfig({ RELAY_CONFIG: file })))).toEqual([
      'RELAY_CONFIG tenants is malformed: must have at least 1 entries',
    ]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the relay prints the lines on stderr and exits 78 (EX_CONFIG)', () => {
    const { RELAY_API_KEY: _omit, ...without } = env;
    void _omit;
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'relay/src/main.ts', 'start'], {
      cwd: path.resolve(__dirname, '../..'),
      env: { PATH: process.env.PATH ?? '', ...without, COGNIGY_API_KEY: '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr.trim().split('\n')).toEqual([
      'Invalid configuration (2 problems):',
      '  COGNIGY_API_KEY is empty. Example: COGNIGY_API_KEY=<Cognigy My Profile > API Keys>',
      '  RELAY_API_KEY is not set. Example: RELAY_API_KEY=<the Connection’s Relay API Key, e.g. from `openssl rand -hex 32`>',
    ]);
  });
});
