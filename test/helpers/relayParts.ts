import type { Logger } from 'pino';
import { relaySettingsSchema, secretsOf, type RelayConfig, type RelaySettingsInput, type TenantConfig } from '../../relay/src/config';
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

export type TestStoreLocation = { sqliteFile: string } | { redisUrl: string; keyPrefix: string };

/** Opens the store a test relay runs on; `logger` and `clock` are passed only when given, as the stores' defaults differ. */
export async function openTestStore(location: TestStoreLocation, options: { logger?: Logger; clock?: () => number } = {}): Promise<Store> {
  const clock = options.clock ? { clock: options.clock } : {};
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
