import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { baseApiUrlSchema, categoryIdSchema, cognigyApiBaseUrlSchema, realtimeEndpointUrlSchema } from './setupValues';

/**
 * Relay configuration. Single tenant from environment variables, or several tenants from the
 * JSON file named by RELAY_CONFIG. Everything is parsed with zod at start-up; a bad value stops
 * the process with a message that names the variable (never its value).
 */

const nonEmpty = z.string().trim().min(1);
const secret = z.string().min(8, 'must be at least 8 characters');

export const tenantSchema = z
  .object({
    apiAccessToken: secret,
    botCategoryId: categoryIdSchema,
    agentCategoryId: categoryIdSchema,
    realtimeAccessToken: secret,
    /** Previous realtime token still accepted during a rotation. */
    previousRealtimeAccessToken: secret.optional(),
    realtimeEndpointUrl: realtimeEndpointUrlSchema,
    webhookSecret: secret,
    previousWebhookSecret: secret.optional(),
    /** Normalised to https://<host>/1.0 (see setupValues.ts for the accepted forms). */
    baseApiUrl: baseApiUrlSchema,
    verifyToken: nonEmpty.default('cognigy123'),
    cognigyApiBaseUrl: cognigyApiBaseUrlSchema,
    cognigyApiKey: secret,
    relayApiKey: secret,
    previousRelayApiKey: secret.optional(),
  })
  .transform(({ realtimeEndpointUrl, ...t }) => ({ ...t, realtimeEndpointUrl: realtimeEndpointUrl.url, sourceId: realtimeEndpointUrl.sourceId }));
export type TenantConfig = z.output<typeof tenantSchema>;

const durationMs = z.coerce.number().int().positive();

export const relaySettingsSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().default('0.0.0.0'),
  storeUrl: z.string().default('sqlite:./data/relay.db'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Give up on an outbox job after this long; the conversation moves to error and the Flow is told. */
  outboxDeadlineMs: durationMs.default(15 * 60_000),
  /** Source SDK `time` must be within this window (replay protection). */
  replayWindowMs: durationMs.default(5 * 60_000),
  /** Max body bytes on public routes. Engage's own Send API limit is 20 MiB; agent replies are small. */
  maxBodyBytes: z.coerce.number().int().positive().default(1_048_576),
  /** Requests per minute per client address on public routes. */
  rateLimitPerMinute: z.coerce.number().int().positive().default(6000),
  /** Requests per minute per tenant on public routes, counted once the caller proved it is that tenant. */
  tenantRateLimitPerMinute: z.coerce.number().int().positive().default(6000),
  /** Engage REST calls per minute per tenant (Engage allows 500). */
  engageRestPerMinute: z.coerce.number().int().positive().default(450),
});
export type RelaySettings = z.output<typeof relaySettingsSchema>;

export interface RelayConfig {
  settings: RelaySettings;
  tenants: TenantConfig[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Environment variable → config key, for single-tenant mode. */
const TENANT_ENV: Record<string, string> = {
  RCE_API_ACCESS_TOKEN: 'apiAccessToken',
  RCE_BOT_CATEGORY_ID: 'botCategoryId',
  RCE_AGENT_CATEGORY_ID: 'agentCategoryId',
  RCE_REALTIME_ACCESS_TOKEN: 'realtimeAccessToken',
  RCE_PREVIOUS_REALTIME_ACCESS_TOKEN: 'previousRealtimeAccessToken',
  RCE_REALTIME_ENDPOINT_URL: 'realtimeEndpointUrl',
  RCE_WEBHOOK_SECRET: 'webhookSecret',
  RCE_PREVIOUS_WEBHOOK_SECRET: 'previousWebhookSecret',
  RCE_BASE_API_URL: 'baseApiUrl',
  RCE_VERIFY_TOKEN: 'verifyToken',
  COGNIGY_API_BASE_URL: 'cognigyApiBaseUrl',
  COGNIGY_API_KEY: 'cognigyApiKey',
  RELAY_API_KEY: 'relayApiKey',
  RELAY_PREVIOUS_API_KEY: 'previousRelayApiKey',
};

const SETTINGS_ENV: Record<string, keyof RelaySettings> = {
  PORT: 'port',
  HOST: 'host',
  STORE_URL: 'storeUrl',
  LOG_LEVEL: 'logLevel',
  OUTBOX_DEADLINE_MS: 'outboxDeadlineMs',
  REPLAY_WINDOW_MS: 'replayWindowMs',
  MAX_BODY_BYTES: 'maxBodyBytes',
  RATE_LIMIT_PER_MINUTE: 'rateLimitPerMinute',
  TENANT_RATE_LIMIT_PER_MINUTE: 'tenantRateLimitPerMinute',
  ENGAGE_REST_PER_MINUTE: 'engageRestPerMinute',
};

function describeIssues(error: z.ZodError, nameOf: (path: PropertyKey[]) => string): string {
  return error.issues.map((i) => `${nameOf(i.path)}: ${i.message}`).join('; ');
}

function pick(env: NodeJS.ProcessEnv, mapping: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [envName, key] of Object.entries(mapping)) {
    const value = env[envName];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

const tenantFileSchema = z.object({
  settings: relaySettingsSchema.partial().optional(),
  tenants: z.array(z.unknown()).min(1),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const envNameOf = (mapping: Record<string, string>) => (path: PropertyKey[]) => {
    const key = String(path[0] ?? '');
    return Object.entries(mapping).find(([, k]) => k === key)?.[0] ?? key;
  };

  const settingsResult = relaySettingsSchema.safeParse(pick(env, SETTINGS_ENV));
  if (!settingsResult.success) throw new ConfigError(`Invalid configuration: ${describeIssues(settingsResult.error, envNameOf(SETTINGS_ENV))}`);
  let settings = settingsResult.data;

  if (env.RELAY_CONFIG) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(env.RELAY_CONFIG, 'utf8'));
    } catch (err) {
      throw new ConfigError(`RELAY_CONFIG: cannot read JSON file (${(err as Error).message.split('\n')[0]})`);
    }
    const file = tenantFileSchema.safeParse(raw);
    if (!file.success) throw new ConfigError(`RELAY_CONFIG: ${describeIssues(file.error, (p) => p.join('.'))}`);
    settings = relaySettingsSchema.parse({ ...settings, ...file.data.settings });
    const tenants = file.data.tenants.map((t, index) => {
      const parsed = tenantSchema.safeParse(t);
      if (!parsed.success) throw new ConfigError(`RELAY_CONFIG: tenants[${index}]: ${describeIssues(parsed.error, (p) => p.join('.'))}`);
      return parsed.data;
    });
    assertUniqueSources(tenants);
    return { settings, tenants };
  }

  const parsed = tenantSchema.safeParse(pick(env, TENANT_ENV));
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${describeIssues(parsed.error, envNameOf(TENANT_ENV))}`);
  return { settings, tenants: [parsed.data] };
}

function assertUniqueSources(tenants: TenantConfig[]): void {
  const seen = new Set<string>();
  for (const t of tenants) {
    if (seen.has(t.sourceId)) throw new ConfigError(`RELAY_CONFIG: two tenants use source id ${t.sourceId}`);
    seen.add(t.sourceId);
  }
}

/** Every secret value in the configuration, for log scrubbing and leak tests. */
export function secretsOf(config: RelayConfig): string[] {
  const out: string[] = [];
  for (const t of config.tenants) {
    for (const v of [t.apiAccessToken, t.realtimeAccessToken, t.previousRealtimeAccessToken, t.webhookSecret, t.previousWebhookSecret, t.cognigyApiKey, t.relayApiKey, t.previousRelayApiKey]) {
      if (v) out.push(v);
    }
  }
  return out;
}
