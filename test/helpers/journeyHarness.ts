import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { relaySettingsSchema, tenantSchema, type RelayConfig, type TenantConfig, secretsOf } from '../../relay/src/config';
import { createLogger } from '../../relay/src/log';
import { createRelay, type Relay } from '../../relay/src/relay';
import { RedisStore } from '../../relay/src/store/redisStore';
import { SqliteStore } from '../../relay/src/store/sqliteStore';
import type { Store } from '../../relay/src/store/types';
import { CognigyApiSimulator } from '../../sandbox/cognigy/cognigyApiSimulator';
import { EngageSimulator, type EngageSimulatorOptions } from '../../sandbox/engage';

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

async function openTestStore(kind: StoreKind, location: { dir: string; prefix: string }): Promise<Store> {
  if (kind === 'sqlite') return SqliteStore.open(join(location.dir, 'relay.db'));
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL not set: jest globalSetup starts redis-server');
  return RedisStore.connect(url, { keyPrefix: location.prefix });
}

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
  const engage = new EngageSimulator({
    sourceId,
    realtimeAccessToken: TEST_SECRETS.realtimeAccessToken,
    apiAccessToken: TEST_SECRETS.apiAccessToken,
    importDelayMs: 30,
    categorizeDurationMs: 20,
    ...options.engageOptions,
  });
  await engage.start();
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
  const config: RelayConfig = {
    settings: relaySettingsSchema.parse({
      port: 0,
      host: '127.0.0.1',
      outboxDeadlineMs: options.outboxDeadlineMs ?? 60_000,
      ...options.settings,
    }),
    tenants: [tenant],
  };
  const logLines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    secrets: secretsOf(config),
    destination: { write: (line: string) => void logLines.push(line) },
  });
  const location = { dir: mkdtempSync(join(tmpdir(), 'rce-journey-')), prefix: `journey:${sourceId}:` };

  let store = await openTestStore(options.store, location);
  const makeRelay = (s: Store) =>
    createRelay({
      config,
      store: s,
      logger,
      ...(options.relayClock ? { clock: options.relayClock } : {}),
      outbox: { backoff: { baseMs: 20, capMs: 400 }, idlePollMs: 20, leaseMs: 2_000 },
      outboundTimeoutMs: 2_000,
    });
  let relay = makeRelay(store);
  const { url, adminUrl } = await relay.start(0, '127.0.0.1');
  const relayPath = `${url}/handover/rce`;
  engage.setSourceBaseUri(relayPath);
  await engage.saveSource();
  const webhook = await engage.registerWebhook({
    url: relayPath,
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
  if (!webhook.enabled) throw new Error(`webhook handshake failed: ${webhook.reason ?? 'unknown'}`);

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
      store = await openTestStore(options.store, location);
      relay = makeRelay(store);
      journey.relay = relay;
      await relay.start(port, '127.0.0.1');
    },
    async close() {
      await journey.relay.stop({ closeStore: true });
      await engage.stop();
      await cognigy.stop();
      rmSync(location.dir, { recursive: true, force: true });
    },
  };
  return journey;
}
