import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { tenantSchema, type RelayConfig, type TenantConfig } from '../../relay/src/config';
import { createRelay, type Relay } from '../../relay/src/relay';
import type { Store } from '../../relay/src/store/types';
import { CognigyApiSimulator } from '../../sandbox/cognigy/cognigyApiSimulator';
import { EngageSimulator, type EngageSimulatorOptions } from '../../sandbox/engage';
import {
  capturingLogger,
  connectEngageSource,
  FAST_OUTBOX,
  openTestStore,
  startTestEngage,
  testRedisUrl,
  testRelayConfig,
  type TestStoreLocation,
} from './relayParts';

export type StoreKind = 'sqlite' | 'redis';

export interface Journey {
  engage: EngageSimulator;
  cognigy: CognigyApiSimulator;
  relay: Relay;
  relayUrl: string;
  /** The admin listener (/readyz, /metrics) of the first start. */
  adminUrl: string;
  tenant: TenantConfig;
  config: RelayConfig;
  logLines: string[];
  logger: Logger;
  /** Stops the relay (as a crash would: store left as is) and starts a new one on the same store location. */
  restartRelay(): Promise<void>;
  close(): Promise<void>;
}

export const TEST_SECRETS = {
  apiAccessToken: 'rest-token-0123456789abcdef',
  realtimeAccessToken: 'realtime-token-0123456789abcdef',
  webhookSecret: 'webhook-secret-0123456789',
  cognigyApiKey: 'cognigy-api-key-0123456789',
  relayApiKey: 'relay-api-key-0123456789',
};

/** Engage simulator + Cognigy simulator + the real relay on 127.0.0.1, wired like a real deployment. */
export async function startJourney(options: {
  store: StoreKind;
  outboxDeadlineMs?: number;
  sourceId?: string;
  engageOptions?: Partial<EngageSimulatorOptions>;
  /** Setup values as an admin would type them (parsed by the relay's tenant schema like RELAY_CONFIG). */
  tenantValues?: (engage: EngageSimulator) => Record<string, string>;
  /** The relay's clock (e.g. real time plus an offset a test moves forward); the simulators keep real time. */
  relayClock?: () => number;
  /** Relay settings on top of the test defaults (as RELAY_CONFIG's settings block would give them). */
  settings?: Record<string, unknown>;
}): Promise<Journey> {
  const sourceId = options.sourceId ?? `src${randomUUID().slice(0, 8)}`;
  const engage = await startTestEngage({
    sourceId,
    realtimeAccessToken: TEST_SECRETS.realtimeAccessToken,
    apiAccessToken: TEST_SECRETS.apiAccessToken,
    ...options.engageOptions,
  });
  const cognigy = new CognigyApiSimulator(TEST_SECRETS.cognigyApiKey);
  await cognigy.start();
  const categories = engage.categories;

  const tenant: TenantConfig = tenantSchema.parse({
    apiAccessToken: TEST_SECRETS.apiAccessToken,
    botCategoryId: categories.botId,
    agentCategoryId: categories.agentId,
    realtimeAccessToken: TEST_SECRETS.realtimeAccessToken,
    realtimeEndpointUrl: engage.realtimeEndpointUrl,
    webhookSecret: TEST_SECRETS.webhookSecret,
    baseApiUrl: engage.baseApiUrl,
    verifyToken: 'cognigy123',
    cognigyApiBaseUrl: cognigy.url,
    cognigyApiKey: TEST_SECRETS.cognigyApiKey,
    relayApiKey: TEST_SECRETS.relayApiKey,
    ...options.tenantValues?.(engage),
  });
  const config = testRelayConfig([tenant], { outboxDeadlineMs: options.outboxDeadlineMs ?? 60_000, ...options.settings });
  const { logger, logLines } = capturingLogger(config, 'debug');
  const dir = mkdtempSync(join(tmpdir(), 'rce-journey-'));
  const location: TestStoreLocation =
    options.store === 'sqlite' ? { sqliteFile: join(dir, 'relay.db') } : { redisUrl: testRedisUrl(), keyPrefix: `journey:${sourceId}:` };

  let store = await openTestStore(location);
  const makeRelay = (s: Store) =>
    createRelay({
      config,
      store: s,
      logger,
      ...(options.relayClock ? { clock: options.relayClock } : {}),
      outbox: FAST_OUTBOX,
      outboundTimeoutMs: 2_000,
    });
  let relay = makeRelay(store);
  const { url, adminUrl } = await relay.start(0, '127.0.0.1');
  const relayPath = `${url}/handover/rce`;
  await connectEngageSource(engage, relayPath, {
    secret: TEST_SECRETS.webhookSecret,
    verifyToken: 'cognigy123',
    events: [
      'intervention.opened',
      'intervention.canceled',
      'intervention.closed',
      'task.taken',
      'task.transferred',
      'intervention.user_updated',
    ],
  });

  const journey: Journey = {
    engage,
    cognigy,
    relay,
    relayUrl: url,
    adminUrl,
    tenant,
    config,
    logLines,
    logger,
    async restartRelay() {
      const port = Number(new URL(journey.relayUrl).port);
      await journey.relay.stop({ closeStore: true });
      store = await openTestStore(location);
      relay = makeRelay(store);
      journey.relay = relay;
      await relay.start(port, '127.0.0.1');
    },
    async close() {
      await journey.relay.stop({ closeStore: true });
      await engage.stop();
      await cognigy.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return journey;
}
