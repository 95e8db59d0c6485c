import { loadConfig, ConfigError, secretsOf } from '../../relay/src/config';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = {
  RCE_API_ACCESS_TOKEN: 'api-token-123456',
  RCE_BOT_CATEGORY_ID: 'cat-bot',
  RCE_AGENT_CATEGORY_ID: 'cat-agent',
  RCE_REALTIME_ACCESS_TOKEN: 'realtime-token-123456',
  RCE_REALTIME_ENDPOINT_URL: 'https://acme.engagement.dimelo.com/realtime/sdk/5f1e2d',
  RCE_WEBHOOK_SECRET: 'webhook-secret-123',
  RCE_BASE_API_URL: 'https://acme.api.engagement.dimelo.com/1.0/',
  COGNIGY_API_BASE_URL: 'https://api-trial.cognigy.ai',
  COGNIGY_API_KEY: 'cognigy-key-123456',
  RELAY_API_KEY: 'relay-key-1234567',
};

describe('relay configuration', () => {
  it('reads a single tenant from the environment with documented defaults', () => {
    const config = loadConfig(env);
    expect(config.settings).toMatchObject({ port: 8080, storeUrl: 'sqlite:./data/relay.db' });
    expect(config.tenants).toHaveLength(1);
    expect(config.tenants[0]).toMatchObject({ sourceId: '5f1e2d', verifyToken: 'cognigy123', baseApiUrl: 'https://acme.api.engagement.dimelo.com/1.0' });
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
      apiAccessToken: env.RCE_API_ACCESS_TOKEN, botCategoryId: 'b', agentCategoryId: 'a', realtimeAccessToken: env.RCE_REALTIME_ACCESS_TOKEN,
      realtimeEndpointUrl: env.RCE_REALTIME_ENDPOINT_URL, webhookSecret: env.RCE_WEBHOOK_SECRET, baseApiUrl: env.RCE_BASE_API_URL,
      cognigyApiBaseUrl: env.COGNIGY_API_BASE_URL, cognigyApiKey: env.COGNIGY_API_KEY, relayApiKey: env.RELAY_API_KEY,
    };
    const file = join(dir, 'tenants.json');
    writeFileSync(file, JSON.stringify({ settings: { port: 9000 }, tenants: [tenant, { ...tenant, realtimeEndpointUrl: 'https://acme.engagement.dimelo.com/realtime/sdk/other' }] }));
    const config = loadConfig({ RELAY_CONFIG: file });
    expect(config.settings.port).toBe(9000);
    expect(config.tenants.map((t) => t.sourceId)).toEqual(['5f1e2d', 'other']);
    expect(secretsOf(config)).toContain(env.RELAY_API_KEY);
    writeFileSync(file, JSON.stringify({ tenants: [tenant, tenant] }));
    expect(() => loadConfig({ RELAY_CONFIG: file })).toThrow(/two tenants use source id 5f1e2d/);
    writeFileSync(file, '{nope');
    expect(() => loadConfig({ RELAY_CONFIG: file })).toThrow(/RELAY_CONFIG: cannot read JSON/);
  });
});
