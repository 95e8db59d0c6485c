import { loadConfig, ConfigError, secretsOf } from '../../relay/src/config';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VALID_TENANT_ENV } from '../helpers/tenantEnv';

const env: Record<string, string> = { ...VALID_TENANT_ENV };

/** Secrets of a second tenant: tenants may not share a relay key, webhook secret or realtime token. */
const otherSecrets = {
  relayApiKey: 'relay-key-OTHER-99',
  webhookSecret: 'webhook-secret-OTHER',
  realtimeAccessToken: 'realtime-token-OTHER',
};

function tenantEntry(sourceId: string, secrets: Partial<typeof otherSecrets> = {}) {
  return {
    apiAccessToken: env.RCE_API_ACCESS_TOKEN,
    botCategoryId: 'b',
    agentCategoryId: 'a',
    realtimeAccessToken: env.RCE_REALTIME_ACCESS_TOKEN,
    realtimeEndpointUrl: `https://acme.engagement.dimelo.com/realtime/sdk/${sourceId}`,
    webhookSecret: env.RCE_WEBHOOK_SECRET,
    baseApiUrl: env.RCE_BASE_API_URL,
    cognigyApiBaseUrl: env.COGNIGY_API_BASE_URL,
    cognigyApiKey: env.COGNIGY_API_KEY,
    relayApiKey: env.RELAY_API_KEY,
    ...secrets,
  };
}

function writeTenantFile(content: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rce-config-')), 'tenants.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('relay configuration', () => {
  it('reads a single tenant from the environment with documented defaults', () => {
    const config = loadConfig(env);
    expect(config.settings).toMatchObject({ port: 8080, storeUrl: 'sqlite:./data/relay.db' });
    expect(config.tenants).toHaveLength(1);
    expect(config.tenants[0]).toMatchObject({
      sourceId: '5f1e2d',
      verifyToken: 'cognigy123',
      baseApiUrl: 'https://acme.api.engagement.dimelo.com/1.0',
    });
  });

  it('names the variable that is missing or malformed, never its value', () => {
    const { RCE_WEBHOOK_SECRET: _omit, ...missing } = env;
    void _omit;
    expect(() => loadConfig(missing)).toThrow(ConfigError);
    expect(() => loadConfig(missing)).toThrow(/RCE_WEBHOOK_SECRET/);
    const badUrl = { ...env, RCE_BASE_API_URL: 'not a url', PORT: 'eighty' };
    let message = '';
    try {
      loadConfig(badUrl);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/PORT/);
    const badTenant = { ...env, RCE_BASE_API_URL: 'ftp://x', RCE_REALTIME_ACCESS_TOKEN: 'short' };
    try {
      loadConfig(badTenant);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/RCE_BASE_API_URL/);
    expect(message).toMatch(/RCE_REALTIME_ACCESS_TOKEN/);
    expect(message).not.toContain('short');
  });

  it('reads several tenants from RELAY_CONFIG and refuses duplicate sources', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rce-config-'));
    const tenant = {
      apiAccessToken: env.RCE_API_ACCESS_TOKEN,
      botCategoryId: 'b',
      agentCategoryId: 'a',
      realtimeAccessToken: env.RCE_REALTIME_ACCESS_TOKEN,
      realtimeEndpointUrl: env.RCE_REALTIME_ENDPOINT_URL,
      webhookSecret: env.RCE_WEBHOOK_SECRET,
      baseApiUrl: env.RCE_BASE_API_URL,
      cognigyApiBaseUrl: env.COGNIGY_API_BASE_URL,
      cognigyApiKey: env.COGNIGY_API_KEY,
      relayApiKey: env.RELAY_API_KEY,
    };
    const file = join(dir, 'tenants.json');
    writeFileSync(
      file,
      JSON.stringify({
        settings: { port: 9000 },
        tenants: [tenant, { ...tenant, ...otherSecrets, realtimeEndpointUrl: 'https://acme.engagement.dimelo.com/realtime/sdk/other' }],
      }),
    );
    const config = loadConfig({ RELAY_CONFIG: file });
    expect(config.settings.port).toBe(9000);
    expect(config.tenants.map((t) => t.sourceId)).toEqual(['5f1e2d', 'other']);
    expect(secretsOf(config)).toContain(env.RELAY_API_KEY);
    writeFileSync(file, JSON.stringify({ tenants: [tenant, tenant] }));
    expect(() => loadConfig({ RELAY_CONFIG: file })).toThrow(/two tenants use source id 5f1e2d/);
    writeFileSync(file, '{nope');
    expect(() => loadConfig({ RELAY_CONFIG: file })).toThrow(/RELAY_CONFIG: cannot read JSON/);
  });

  it('merges a RELAY_CONFIG settings block key by key: environment settings it does not name are kept', () => {
    const tenants = [tenantEntry('one'), tenantEntry('two', otherSecrets)];
    const processEnv = {
      HOST: '127.0.0.1',
      PORT: '9100',
      STORE_URL: 'redis://redis.internal:6379/0',
      TRUST_PROXY: '1',
      REQUEST_TIMEOUT_MS: '12000',
    };
    // An empty block changed every setting back to its default before (zod 4's .partial() applies defaults).
    const empty = loadConfig({ ...processEnv, RELAY_CONFIG: writeTenantFile({ settings: {}, tenants }) });
    expect(empty.settings).toMatchObject({
      host: '127.0.0.1',
      port: 9100,
      storeUrl: 'redis://redis.internal:6379/0',
      trustProxy: { kind: 'hops', hops: 1 },
      requestTimeoutMs: 12_000,
    });
    const some = loadConfig({ ...processEnv, RELAY_CONFIG: writeTenantFile({ settings: { port: 9200, logLevel: 'warn' }, tenants }) });
    expect(some.settings).toMatchObject({ host: '127.0.0.1', port: 9200, logLevel: 'warn', storeUrl: 'redis://redis.internal:6379/0' });
    // Defaults still fill what neither names; unknown or malformed keys are refused by name.
    expect(some.settings).toMatchObject({ adminHost: '127.0.0.1', adminPort: 8081, outboxDeadlineMs: 900_000 });
    expect(() => loadConfig({ RELAY_CONFIG: writeTenantFile({ settings: { prot: 1 }, tenants }) })).toThrow(
      /RELAY_CONFIG settings\.prot is not a known setting/,
    );
    expect(() => loadConfig({ RELAY_CONFIG: writeTenantFile({ settings: { port: 'x' }, tenants }) })).toThrow(/settings\.port/);
  });

  it('refuses two tenants sharing a relay API key, webhook secret or realtime token, naming the field but not the value', () => {
    for (const field of ['relayApiKey', 'webhookSecret', 'realtimeAccessToken'] as const) {
      const secrets = { ...otherSecrets, [field]: tenantEntry('one')[field] };
      let message = '';
      try {
        loadConfig({ RELAY_CONFIG: writeTenantFile({ tenants: [tenantEntry('one'), tenantEntry('two', secrets)] }) });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe(`RELAY_CONFIG: tenants[0] and tenants[1] share the same ${field}; every tenant needs its own`);
    }
    // A previous key (rotation) that is another tenant's current key is shared too.
    expect(() =>
      loadConfig({
        RELAY_CONFIG: writeTenantFile({
          tenants: [tenantEntry('one'), { ...tenantEntry('two', otherSecrets), previousRelayApiKey: env.RELAY_API_KEY }],
        }),
      }),
    ).toThrow(/share the same relayApiKey/);
  });

  it('parses TRUST_PROXY as a hop count, a list of CIDRs / names, or none; loopback only by default', () => {
    expect(loadConfig(env).settings.trustProxy).toEqual({ kind: 'list', entries: ['loopback'] });
    expect(loadConfig({ ...env, TRUST_PROXY: '2' }).settings.trustProxy).toEqual({ kind: 'hops', hops: 2 });
    expect(loadConfig({ ...env, TRUST_PROXY: '10.0.0.0/8, loopback,2001:db8::/32' }).settings.trustProxy).toEqual({
      kind: 'list',
      entries: ['10.0.0.0/8', 'loopback', '2001:db8::/32'],
    });
    expect(loadConfig({ ...env, TRUST_PROXY: 'none' }).settings.trustProxy).toEqual({ kind: 'none' });
    expect(() => loadConfig({ ...env, TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ ...env, TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ ...env, HEADERS_TIMEOUT_MS: '20000', REQUEST_TIMEOUT_MS: '15000' })).toThrow(/HEADERS_TIMEOUT_MS/);
  });

  describe('setup values in the forms admins have', () => {
    const baseOf = (value: string) => loadConfig({ ...env, RCE_BASE_API_URL: value }).tenants[0]?.baseApiUrl;
    const refusal = (patch: Record<string, string>): string => {
      try {
        loadConfig({ ...env, ...patch });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };

    it('accepts the Base API URL as a host, as https:// without /1.0, and with /1.0', () => {
      for (const form of [
        'acme.api.engagement.dimelo.com',
        'https://acme.api.engagement.dimelo.com',
        'https://acme.api.engagement.dimelo.com/',
        'https://acme.api.engagement.dimelo.com/1.0',
        ' https://acme.api.engagement.dimelo.com/1.0/ ',
      ]) {
        expect(baseOf(form)).toBe('https://acme.api.engagement.dimelo.com/1.0');
      }
      expect(baseOf('acme.api.digital.ringcentral.com')).toBe('https://acme.api.digital.ringcentral.com/1.0');
    });

    it('refuses Base API URLs that can never work, with an example and without the value', () => {
      const appHost = refusal({ RCE_BASE_API_URL: 'https://zeta.engagement.dimelo.com' });
      expect(appHost).toMatch(
        /^Invalid configuration \(1 problem\):\n {2}RCE_BASE_API_URL is malformed: is the Engage app host; the API host has "api" added: <account>\.api\.engagement\.dimelo\.com/,
      );
      expect(appHost).not.toContain('zeta');
      expect(refusal({ RCE_BASE_API_URL: 'https://acme.api.engagement.dimelo.com/2.0' })).toMatch(
        /RCE_BASE_API_URL is malformed: must be the API host with nothing after it but \/1\.0, e\.g\. acme\.api\.engagement\.dimelo\.com/,
      );
    });

    it('takes the category id out of its admin URL, and refuses other pasted URLs', () => {
      const config = loadConfig({
        ...env,
        RCE_AGENT_CATEGORY_ID: 'https://acme.engagement.dimelo.com/admin/categories/5f1c00000000000000000c03/edit',
      });
      expect(config.tenants[0]?.agentCategoryId).toBe('5f1c00000000000000000c03');
      const message = refusal({ RCE_BOT_CATEGORY_ID: 'https://acme.engagement.dimelo.com/admin/categories' });
      expect(message).toMatch(
        /RCE_BOT_CATEGORY_ID is malformed: must be a category id \(e\.g\. 5f1c00000000000000000c03\), or the URL of its admin page …\/admin\/categories\/<id>\/edit/,
      );
      expect(message).not.toContain('acme');
    });

    it('refuses a COGNIGY_API_BASE_URL with a path', () => {
      const message = refusal({ COGNIGY_API_BASE_URL: 'https://api-trial.cognigy.ai/new/v2.0/endpoint/inject' });
      expect(message).toMatch(
        /COGNIGY_API_BASE_URL is malformed: must be the Cognigy API host without a path, e\.g\. https:\/\/api-trial\.cognigy\.ai/,
      );
      expect(message).not.toContain('/new/v2.0');
      expect(loadConfig({ ...env, COGNIGY_API_BASE_URL: 'https://api-trial.cognigy.ai/' }).tenants[0]?.cognigyApiBaseUrl).toBe(
        'https://api-trial.cognigy.ai',
      );
    });

    it('refuses a Realtime Endpoint URL whose last segment is not a source id', () => {
      for (const value of [
        'https://acme.engagement.dimelo.com/realtime/sdk/',
        'https://acme.engagement.dimelo.com/admin/sources/5f1e2d/edit',
        'https://acme.engagement.dimelo.com/realtime/sdk/5f1e2d?x=1',
      ]) {
        const message = refusal({ RCE_REALTIME_ENDPOINT_URL: value });
        expect(message).toMatch(
          /RCE_REALTIME_ENDPOINT_URL is malformed: must end with the source id, e\.g\. https:\/\/acme\.engagement\.dimelo\.com\/realtime\/sdk\/5f1c00000000000000000d01/,
        );
        expect(message).not.toContain('5f1e2d');
      }
    });

    it('exits the relay with 78 (EX_CONFIG) on such a value', async () => {
      const { spawnSync } = await import('node:child_process');
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'relay/src/main.ts', 'start'], {
        env: { ...process.env, ...env, RCE_BASE_API_URL: 'https://acme.engagement.dimelo.com' },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(result.status).toBe(78);
      expect(result.stderr + result.stdout).toMatch(/RCE_BASE_API_URL/);
    });
  });
});
