import type { Logger } from 'pino';
import {
  relaySettingsSchema,
  secretsOf,
  tenantSchema,
  type RelayConfig,
  type RelaySettingsInput,
  type TenantConfig,
} from '../../relay/src/config';
import { createLogger } from '../../relay/src/log';
import type { RelayOptions } from '../../relay/src/relay';
import { RedisStore } from '../../relay/src/store/redisStore';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import type { Store } from '../../relay/src/store/types';
import { EngageSimulator, type EngageSimulatorOptions } from '../../sandbox/engage';

/**
 * The parts every test relay is built from (config, logger, store, outbox pacing), shared by the
 * harnesses so there is one way to build each.
 */

/** Distinct, recognisable secrets per tenant (the leak scans look for every one of them). */
export function tenantSecrets(index: number): {
  apiAccessToken: string;
  realtimeAccessToken: string;
  webhookSecret: string;
  cognigyApiKey: string;
  relayApiKey: string;
  verifyToken: string;
} {
  return {
    apiAccessToken: `rest-token-T${index}-7f3a9c1e5b0d2468`,
    realtimeAccessToken: `realtime-token-T${index}-c0ffee12deadbeef`,
    webhookSecret: `webhook-secret-T${index}-55aa77cc99ee`,
    cognigyApiKey: `cognigy-api-key-T${index}-31415926535`,
    relayApiKey: `relay-api-key-T${index}-27182818284`,
    verifyToken: `verify-token-T${index}-16180339887`,
  };
}

/** Where nothing listens: Engage and Cognigy of a tenant the test does not run them for. */
export const NOWHERE = 'http://127.0.0.1:9';

/**
 * Tenant `index` (with its `tenantSecrets`) as RELAY_CONFIG would give it. Engage is the simulator
 * at `engageUrl` (its categories `categories`), or else the demo account's URLs with fixed categories,
 * nothing answering; Cognigy is at `cognigyUrl` (default: nowhere). `values` are setup values an
 * admin would type, over these (parsed by the relay's tenant schema).
 */
export function testTenant(
  index: number,
  wiring: { sourceId: string; engageUrl?: string; categories?: { botId: string; agentId: string }; cognigyUrl?: string },
  values: Record<string, string | undefined> = {},
): TenantConfig {
  const s = tenantSecrets(index);
  const { sourceId, engageUrl } = wiring;
  return tenantSchema.parse({
    apiAccessToken: s.apiAccessToken,
    botCategoryId: wiring.categories?.botId ?? 'cat-bot-0001',
    agentCategoryId: wiring.categories?.agentId ?? 'cat-agent-0002',
    realtimeAccessToken: s.realtimeAccessToken,
    realtimeEndpointUrl: `${engageUrl ?? 'https://demo.engagement.dimelo.com'}/realtime/sdk/${sourceId}`,
    webhookSecret: s.webhookSecret,
    baseApiUrl: engageUrl ? `${engageUrl}/1.0` : NOWHERE,
    verifyToken: s.verifyToken,
    cognigyApiBaseUrl: wiring.cognigyUrl ?? NOWHERE,
    cognigyApiKey: s.cognigyApiKey,
    relayApiKey: s.relayApiKey,
    ...values,
  });
}

/** A relay config on loopback with an OS-chosen port; `settings` as RELAY_CONFIG's settings block would give them. */
export function testRelayConfig(tenants: TenantConfig[], settings: Partial<RelaySettingsInput> = {}): RelayConfig {
  return { settings: relaySettingsSchema.parse({ port: 0, host: '127.0.0.1', ...settings }), tenants };
}

/** A relay logger that keeps every line in memory (for assertions and the leak scan), scrubbing the config's secrets. */
export function capturingLogger(config: RelayConfig, level: string = config.settings.logLevel): { logger: Logger; logLines: string[] } {
  const logLines: string[] = [];
  const logger = createLogger({ level, secrets: secretsOf(config), destination: { write: (line: string) => void logLines.push(line) } });
  return { logger, logLines };
}

/** A SQLite file, SQLite in memory (gone when closed: for one store in one test), or a Redis key prefix. */
export type TestStoreLocation = { sqliteFile: string } | 'memory' | { redisUrl: string; keyPrefix: string };

/** Opens the store a test relay runs on; `logger` and `clock` are passed only when given, as the stores' defaults differ. */
export async function openTestStore(location: TestStoreLocation, options: { logger?: Logger; clock?: () => number } = {}): Promise<Store> {
  const clock = options.clock ? { clock: options.clock } : {};
  if (location === 'memory') return SqliteStore.open(':memory:', clock);
  if ('sqliteFile' in location) return SqliteStore.open(location.sqliteFile, clock);
  return RedisStore.connect(location.redisUrl, {
    keyPrefix: location.keyPrefix,
    ...(options.logger ? { logger: options.logger } : {}),
    ...clock,
  });
}

/** The redis-server jest's globalSetup started. */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL not set: jest globalSetup starts redis-server');
  return url;
}

/** Outbox pacing for tests: retries and polls in tens of milliseconds, so faults resolve within a test's time. */
export const FAST_OUTBOX: NonNullable<RelayOptions['outbox']> = { backoff: { baseMs: 20, capMs: 400 }, idlePollMs: 20, leaseMs: 2_000 };

/** A started Engage simulator that imports and categorises in tens of milliseconds (the test pace); `options` win. */
export async function startTestEngage(options: EngageSimulatorOptions): Promise<EngageSimulator> {
  const engage = new EngageSimulator({ importDelayMs: 30, categorizeDurationMs: 20, ...options });
  await engage.start();
  return engage;
}

/** Points an Engage simulator's source at the relay and registers its webhook, as an admin does; fails if the handshake fails. */
export async function connectEngageSource(
  engage: EngageSimulator,
  relayPath: string,
  webhook: Omit<Parameters<EngageSimulator['registerWebhook']>[0], 'url'>,
): Promise<void> {
  engage.setSourceBaseUri(relayPath);
  await engage.saveSource();
  const registered = await engage.registerWebhook({ url: relayPath, ...webhook });
  if (!registered.enabled) throw new Error(`webhook handshake failed: ${registered.reason ?? 'unknown'}`);
}
