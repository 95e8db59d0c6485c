import { TENANT_ENV, type TenantConfig } from '../../relay/src/config';

/**
 * One valid single-tenant environment, as an admin would set it (what `loadConfig` reads). Tests
 * spread it and override the variable they are about.
 */
export const VALID_TENANT_ENV: Readonly<Record<string, string>> = {
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

/** The environment an admin would set for `tenant` (what `loadConfig` reads back into it), e.g. for a relay process. */
export function envOfTenant(tenant: TenantConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, field] of Object.entries(TENANT_ENV)) {
    const value = tenant[field as keyof TenantConfig];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
