import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { configErrorMessage, describeEnvIssues, describeFileIssues } from './configErrors';
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
  .transform(({ realtimeEndpointUrl, ...t }) => ({
    ...t,
    realtimeEndpointUrl: realtimeEndpointUrl.url,
    sourceId: realtimeEndpointUrl.sourceId,
  }));
export type TenantConfig = z.output<typeof tenantSchema>;

const durationMs = z.coerce.number().int().positive();

const byteCount = z.coerce.number().int().positive();
const flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'])]).transform((v) => v === true || v === 'true' || v === '1');

/**
 * Which hops may set X-Forwarded-For: a hop count (`1` = the one proxy in front of the relay) or
 * a comma-separated list of CIDRs / proxy-addr names (`loopback`, `linklocal`, `uniquelocal`).
 * `none` trusts no hop (the socket address is the client).
 */
export const trustProxySchema = z
  .string()
  .trim()
  .min(1)
  .transform((value, ctx): TrustProxy => {
    if (value === 'none' || value === 'false') return { kind: 'none' };
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops > 32) ctx.addIssue({ code: 'custom', message: 'a hop count above 32 is not plausible' });
      return { kind: 'hops', hops };
    }
    const entries = value
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e.length > 0);
    for (const entry of entries) {
      if (!TRUST_NAMES.has(entry) && !isCidrOrAddress(entry))
        ctx.addIssue({
          code: 'custom',
          message: `"${entry.slice(0, 60)}" is neither a CIDR, an IP address nor one of ${[...TRUST_NAMES].join(', ')}`,
        });
    }
    return { kind: 'list', entries };
  });
export type TrustProxy = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'list'; entries: string[] };
const TRUST_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isCidrOrAddress(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  if (rest.length > 0 || !address || isIP(address) === 0) return false;
  if (bits === undefined) return true;
  const max = isIP(address) === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

export const relaySettingsSchema = z
  .object({
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    host: z.string().default('0.0.0.0'),
    /** Admin listener (/metrics, /readyz, /healthz): loopback only unless the operator says otherwise. */
    adminPort: z.coerce.number().int().min(0).max(65535).default(8081),
    adminHost: z.string().default('127.0.0.1'),
    storeUrl: z.string().default('sqlite:./data/relay.db'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Give up on an outbox job after this long; the conversation moves to error and the Flow is told. */
    outboxDeadlineMs: durationMs.default(15 * 60_000),
    /** Source SDK `time` must be within this window (replay protection). */
    replayWindowMs: durationMs.default(5 * 60_000),
    /** Max body bytes of extension calls (/api/v1/…): a start with a long transcript is the largest. */
    maxBodyBytes: byteCount.default(1_048_576),
    /**
     * Max body bytes of Engage's POSTs to /handover/rce. Engage sends UTF-8 JSON (its samples encode
     * with ActiveSupport::JSON, which writes `<`, `>`, `&` as 6-byte `\u003c` escapes); an agent reply
     * is typed by a person and our schema caps its body at 100,000 characters. 512 KiB holds such a
     * reply with a third of its characters escaped, plus attachment metadata and webhook batches.
     */
    engageMaxBodyBytes: byteCount.default(524_288),
    /** Time allowed to receive the request headers. */
    headersTimeoutMs: durationMs.max(120_000).default(10_000),
    /** Time allowed to receive the whole request (headers and body); a stalled body is cut with 408. */
    requestTimeoutMs: durationMs.max(120_000).default(15_000),
    /** Request body bytes being received at once from one client address, and from all clients. */
    maxBytesInFlightPerAddress: byteCount.default(4 * 1_048_576),
    maxBytesInFlight: byteCount.default(64 * 1_048_576),
    /** Who may set X-Forwarded-For (see trustProxySchema). */
    trustProxy: trustProxySchema.default({ kind: 'list', entries: ['loopback'] }),
    /** Agent attachment URLs must be https; an admin may allow plain http (e.g. an internal file server). */
    allowHttpAttachments: flag.default(false),
    /** Send user files to Engage by content (base64, fetched by the relay) instead of by URL: for file storage Engage cannot reach. */
    userFilesByContent: flag.default(false),
    /** Tell Engage each agent reply was read once Cognigy accepted it (Send API status.mark_as_read). */
    readReceipts: flag.default(true),
    /** Requests per minute per client address on public routes. */
    rateLimitPerMinute: z.coerce.number().int().positive().default(6000),
    /** Requests per minute per tenant on public routes, counted once the caller proved it is that tenant. */
    tenantRateLimitPerMinute: z.coerce.number().int().positive().default(6000),
    /** Engage REST calls per minute per tenant (Engage allows 500). */
    engageRestPerMinute: z.coerce.number().int().positive().default(450),
    /** Outbox lease: renewed while a relay works; a dead relay's lanes are taken over after it. */
    outboxLeaseMs: durationMs.min(1000).default(8_000),
    /** Conversations not written for this many days are removed, with their Engage index entries. */
    retentionDays: z.coerce.number().positive().max(3650).default(30),
    /**
     * This relay's stable identity as lease owner (unique per running instance). Default: host name
     * and port, so a relay restarted on the same host and port takes its own work back at once.
     */
    instanceId: z
      .string()
      .trim()
      .regex(/^[\w.:@-]{1,200}$/, 'letters, digits, . : @ - _ only')
      .optional(),
  })
  .refine((s) => s.headersTimeoutMs <= s.requestTimeoutMs, { path: ['headersTimeoutMs'], message: 'must not exceed REQUEST_TIMEOUT_MS' })
  .refine((s) => s.maxBytesInFlightPerAddress <= s.maxBytesInFlight, {
    path: ['maxBytesInFlightPerAddress'],
    message: 'must not exceed MAX_BYTES_IN_FLIGHT',
  });
export type RelaySettings = z.output<typeof relaySettingsSchema>;
/** What a settings object may hold before parsing (environment strings, or typed values in tests). */
export type RelaySettingsInput = z.input<typeof relaySettingsSchema>;

export interface RelayConfig {
  settings: RelaySettings;
  tenants: TenantConfig[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Environment variable → config key, for single-tenant mode. */
export const TENANT_ENV: Record<string, string> = {
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

export const SETTINGS_ENV: Record<string, keyof RelaySettings> = {
  PORT: 'port',
  HOST: 'host',
  ADMIN_PORT: 'adminPort',
  ADMIN_HOST: 'adminHost',
  STORE_URL: 'storeUrl',
  LOG_LEVEL: 'logLevel',
  OUTBOX_DEADLINE_MS: 'outboxDeadlineMs',
  REPLAY_WINDOW_MS: 'replayWindowMs',
  MAX_BODY_BYTES: 'maxBodyBytes',
  ENGAGE_MAX_BODY_BYTES: 'engageMaxBodyBytes',
  HEADERS_TIMEOUT_MS: 'headersTimeoutMs',
  REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
  MAX_BYTES_IN_FLIGHT_PER_ADDRESS: 'maxBytesInFlightPerAddress',
  MAX_BYTES_IN_FLIGHT: 'maxBytesInFlight',
  TRUST_PROXY: 'trustProxy',
  ALLOW_HTTP_ATTACHMENTS: 'allowHttpAttachments',
  USER_FILES_BY_CONTENT: 'userFilesByContent',
  READ_RECEIPTS: 'readReceipts',
  RATE_LIMIT_PER_MINUTE: 'rateLimitPerMinute',
  TENANT_RATE_LIMIT_PER_MINUTE: 'tenantRateLimitPerMinute',
  ENGAGE_REST_PER_MINUTE: 'engageRestPerMinute',
  OUTBOX_LEASE_MS: 'outboxLeaseMs',
  RELAY_INSTANCE_ID: 'instanceId',
  RETENTION_DAYS: 'retentionDays',
};

function pick(env: NodeJS.ProcessEnv, mapping: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [envName, key] of Object.entries(mapping)) {
    const value = env[envName];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

// The file's settings are merged as given and parsed once with the environment's: a schema with
// defaults here (zod 4's .partial() still applies them) would reset every environment setting.
const SETTING_KEYS = new Set<string>(Object.values(SETTINGS_ENV));
const fileSettingsSchema = z.record(z.string(), z.unknown()).superRefine((settings, ctx) => {
  for (const key of Object.keys(settings))
    if (!SETTING_KEYS.has(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'unknown setting' });
});

const tenantFileSchema = z.object({
  settings: fileSettingsSchema.optional(),
  tenants: z.array(z.unknown()).min(1),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const envSettings = pick(env, SETTINGS_ENV);
  const settingsResult = relaySettingsSchema.safeParse(envSettings);
  // Every variable at once: the tenant's problems too, so one start shows everything to fix.
  if (!settingsResult.success)
    throw new ConfigError(
      configErrorMessage('Invalid configuration', [
        ...describeEnvIssues(settingsResult.error, env, SETTINGS_ENV),
        ...(env.RELAY_CONFIG ? [] : tenantEnvProblems(env)),
      ]),
    );
  const settings = settingsResult.data;

  if (env.RELAY_CONFIG) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(env.RELAY_CONFIG, 'utf8'));
    } catch (err) {
      throw new ConfigError(`RELAY_CONFIG: cannot read JSON file (${(err as Error).message.split('\n')[0]})`);
    }
    const file = tenantFileSchema.safeParse(raw);
    if (!file.success) throw new ConfigError(configErrorMessage('Invalid RELAY_CONFIG file', describeFileIssues(file.error, raw, '')));
    // The file's settings override the environment's; a problem is named where its value came from.
    const fileSettings = file.data.settings ?? {};
    const merged = relaySettingsSchema.safeParse({ ...envSettings, ...fileSettings });
    if (!merged.success)
      throw new ConfigError(configErrorMessage('Invalid RELAY_CONFIG file', describeMergedSettingsIssues(merged.error, env, fileSettings)));
    const tenants = file.data.tenants.map((t, index) => {
      const parsed = tenantSchema.safeParse(t);
      if (!parsed.success)
        throw new ConfigError(configErrorMessage('Invalid RELAY_CONFIG file', describeFileIssues(parsed.error, t, `tenants[${index}]`)));
      return parsed.data;
    });
    assertUniqueSources(tenants);
    assertNoSharedSecrets(tenants);
    return { settings: merged.data, tenants };
  }

  const parsed = tenantSchema.safeParse(pick(env, TENANT_ENV));
  if (!parsed.success) throw new ConfigError(configErrorMessage('Invalid configuration', describeEnvIssues(parsed.error, env, TENANT_ENV)));
  return { settings, tenants: [parsed.data] };
}

function describeMergedSettingsIssues(error: z.ZodError, env: NodeJS.ProcessEnv, fileSettings: Record<string, unknown>): string[] {
  const fromFile = error.issues.filter((issue) => String(issue.path[0] ?? '') in fileSettings);
  const fromEnv = error.issues.filter((issue) => !fromFile.includes(issue));
  return [
    ...(fromFile.length > 0 ? describeFileIssues(new z.ZodError(fromFile), fileSettings, 'settings') : []),
    ...(fromEnv.length > 0 ? describeEnvIssues(new z.ZodError(fromEnv), env, SETTINGS_ENV) : []),
  ];
}

function tenantEnvProblems(env: NodeJS.ProcessEnv): string[] {
  const parsed = tenantSchema.safeParse(pick(env, TENANT_ENV));
  return parsed.success ? [] : describeEnvIssues(parsed.error, env, TENANT_ENV);
}

function assertUniqueSources(tenants: TenantConfig[]): void {
  const seen = new Set<string>();
  for (const t of tenants) {
    if (seen.has(t.sourceId)) throw new ConfigError(`RELAY_CONFIG: two tenants use source id ${t.sourceId}`);
    seen.add(t.sourceId);
  }
}

/**
 * Two tenants sharing a relay API key, webhook secret or realtime token cannot be told apart by
 * the credential alone (a close event could land on the wrong tenant): refused at start, naming
 * the tenants and the field, never the value.
 */
function assertNoSharedSecrets(tenants: TenantConfig[]): void {
  const groups: [string, (t: TenantConfig) => (string | undefined)[]][] = [
    ['relayApiKey', (t) => [t.relayApiKey, t.previousRelayApiKey]],
    ['webhookSecret', (t) => [t.webhookSecret, t.previousWebhookSecret]],
    ['realtimeAccessToken', (t) => [t.realtimeAccessToken, t.previousRealtimeAccessToken]],
  ];
  for (const [field, valuesOf] of groups) {
    const owner = new Map<string, number>();
    tenants.forEach((tenant, index) => {
      for (const value of valuesOf(tenant)) {
        if (value === undefined) continue;
        const first = owner.get(value);
        if (first !== undefined && first !== index)
          throw new ConfigError(
            `RELAY_CONFIG: tenants[${first}] and tenants[${index}] share the same ${field}; every tenant needs its own`,
          );
        owner.set(value, index);
      }
    });
  }
}

/** Every secret value in the configuration, for log scrubbing and leak tests. */
export function secretsOf(config: RelayConfig): string[] {
  const out: string[] = [];
  for (const t of config.tenants) {
    for (const v of [
      t.apiAccessToken,
      t.realtimeAccessToken,
      t.previousRealtimeAccessToken,
      t.webhookSecret,
      t.previousWebhookSecret,
      t.cognigyApiKey,
      t.relayApiKey,
      t.previousRelayApiKey,
    ]) {
      if (v) out.push(v);
    }
  }
  return out;
}
