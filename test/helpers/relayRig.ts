import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CognigySession, RelayRouteName } from '../../contract/relayApi';
import type { HandoverState } from '../../extension/src/handoverLogic';
import { secretsOf, type RelayConfig, type RelaySettings, type RelaySettingsInput, type TenantConfig } from '../../relay/src/config';
import { createRelay, type Relay, type RelayOptions } from '../../relay/src/relay';
import type { Store } from '../../relay/src/store/types';
import { CognigyApiSimulator } from '../../sandbox/cognigy/cognigyApiSimulator';
import type { FlowRunner, SessionKey } from '../../sandbox/cognigy/flowRunner';
import { EngageSimulator, type EngageSimulatorOptions } from '../../sandbox/engage';
import { startExtensionFront, type ExtensionFront } from './extensionFront';
import {
  capturingLogger,
  connectEngageSource,
  FAST_OUTBOX,
  NOWHERE,
  openTestStore,
  startTestEngage,
  tenantSecrets,
  testRedisUrl,
  testRelayConfig,
  testTenant,
  type TestStoreLocation,
} from './relayParts';

export { tenantSecrets } from './relayParts';
import { startRecordingProxy, type RecordingProxy } from './recordingProxy';
import { envelopeFor, signedRelayCall } from './signedRelayCall';
import { waitUntil } from './waitUntil';

/**
 * The one test rig: the real relay on 127.0.0.1 with one or more tenants (one Engage simulator
 * each), one Cognigy simulator, a SQLite or Redis store and an optional warpable clock shared by
 * the relay, its store and the Engage simulators, wired like a real deployment. Options add what
 * single tests need: a recording proxy before Engage, extra relays on the same store, a restart,
 * no Engage setup (fuzzing), or the extension's recording front (before the relay or a stand-in).
 */

/** Real time plus an offset the test moves forward: timers still run, deadlines and backoff see the jump. */
export class WarpClock {
  private offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
  advance(ms: number): void {
    this.offsetMs += ms;
  }
  get offset(): number {
    return this.offsetMs;
  }
}

/**
 * Where the relay keeps its state: a throw-away SQLite file, the redis-server of jest's
 * globalSetup, or a given Redis (a cluster, a sentinel, one the test restarts).
 */
export type RigStore = 'sqlite' | 'redis' | { redisUrl: string };

/** What answers the extension: the relay behind the recording front, or the front's stand-in alone. */
export type RigFront = 'relay' | 'standIn';

export interface RelayRigOptions {
  /** Default 'sqlite'. */
  store?: RigStore;
  /** Redis key prefix (relays of several rigs then share one store); a fresh one by default. */
  keyPrefix?: string;
  /** How many tenants, each with its own Engage simulator (default 1). */
  tenants?: number;
  /** Relay settings on top of the test defaults (as RELAY_CONFIG's settings block would give them). */
  settings?: Partial<RelaySettingsInput>;
  /** Shared by the relay, its store and the Engage simulators (the Cognigy simulator keeps real time). */
  clock?: WarpClock;
  outbox?: RelayOptions['outbox'];
  outboundTimeoutMs?: number;
  logLevel?: RelaySettings['logLevel'];
  engageOptions?: Partial<EngageSimulatorOptions>;
  /** Put a recording proxy between the relay and each Engage simulator (Send API and REST). */
  proxyEngage?: boolean;
  /**
   * Setup values of tenant `index` as an admin would type them, over the rig's (parsed by the relay's
   * tenant schema like RELAY_CONFIG): e.g. a previous token during rotation, another Cognigy URL.
   */
  tenantValues?: (index: number, engage: { url: string }) => Record<string, string | undefined>;
  /** Skip the Engage source save / webhook registration (fuzzing does not need them). */
  skipEngageSetup?: boolean;
  /**
   * The extension's recording front (its API on the rig, `rig.connection` points at it). No simulators
   * run: the relay's Engage and Cognigy are a closed port, its outbox jobs just retry.
   */
  front?: RigFront;
}

export interface RigTenant {
  engage: EngageSimulator;
  tenant: TenantConfig;
  /** With `proxyEngage`: every relay → Engage request, answered. */
  proxy: RecordingProxy | null;
}

/** What every rig has, the extension-front ones included. */
export interface RigCore {
  tenant: TenantConfig;
  config: RelayConfig;
  /** Every configured secret, plus verify tokens. */
  secrets: string[];
  /** A complete, valid extension connection for tenant 0, pointing at the front or else the relay. */
  connection: Record<string, string>;
  close(): Promise<void>;
}

/** A rig with the extension front: what the extension sent (`requests`) and, with the stand-in, scripted answers. */
export interface FrontedRig extends RigCore, Omit<ExtensionFront, 'close'> {}

export interface ExtraRelay {
  relay: Relay;
  url: string;
}

export interface RelayRig extends RigCore {
  tenants: RigTenant[];
  /** Tenant 0, for single-tenant tests. */
  engage: EngageSimulator;
  cognigy: CognigyApiSimulator;
  /** The relay of the last start (see `restartRelay`). */
  relay: Relay;
  relayUrl: string;
  /** The admin listener (/readyz, /metrics) of the first start. */
  adminUrl: string;
  /** The store of the current relay. */
  store: Store;
  logLines: string[];
  logger: Logger;
  clock: WarpClock | null;
  /** Where the SQLite file lives (sqlite rigs). */
  dbPath: string | null;
  /** A signed extension API call for tenant `tenantIndex` (a fresh requestId, the rig's clock). */
  call(
    route: RelayRouteName,
    session: CognigySession,
    extra?: Record<string, unknown>,
    tenantIndex?: number,
  ): ReturnType<typeof signedRelayCall>;
  /** Until Engage has the thread in tenant `tenantIndex`'s Agent category. */
  waitForAgentCategory(threadId: string, tenantIndex?: number): Promise<void>;
  /** Stops the relay (as a crash would: store left as is) and starts a new one on the same store location and port. */
  restartRelay(): Promise<void>;
  /** Another relay on the same config and store location (its own connection); `silent` logs nowhere, else into `logLines`. */
  startExtraRelay(options?: { silent?: boolean }): Promise<ExtraRelay>;
}

let requestCounter = 0;

/** Outbox pacing when Engage and Cognigy are nowhere: retries stay rare. */
const NOWHERE_OUTBOX: NonNullable<RelayOptions['outbox']> = { backoff: { baseMs: 1000, capMs: 5000 }, idlePollMs: 200 };

const WEBHOOK_EVENTS = [
  'intervention.opened',
  'intervention.canceled',
  'intervention.closed',
  'task.taken',
  'task.transferred',
  'intervention.user_updated',
];

export async function startRelayRig(options: RelayRigOptions & { front: RigFront }): Promise<FrontedRig>;
export async function startRelayRig(options?: RelayRigOptions): Promise<RelayRig>;
export async function startRelayRig(options: RelayRigOptions = {}): Promise<RelayRig | FrontedRig> {
  const count = options.tenants ?? 1;
  const clock = options.clock ?? null;
  const simulators = !options.front;
  const simClock = clock ? { clock: () => new Date(clock.now()) } : {};
  const cognigy = simulators ? new CognigyApiSimulator(tenantSecrets(0).cognigyApiKey) : null;
  await cognigy?.start();

  const rigTenants: RigTenant[] = [];
  const tenantsOnly: TenantConfig[] = [];
  for (let i = 0; i < count; i++) {
    const s = tenantSecrets(i);
    const sourceId = `src${i}${randomUUID().slice(0, 8)}`;
    const engage = simulators
      ? await startTestEngage({
          sourceId,
          realtimeAccessToken: s.realtimeAccessToken,
          apiAccessToken: s.apiAccessToken,
          ...simClock,
          ...options.engageOptions,
        })
      : null;
    const proxy = engage && options.proxyEngage ? await startRecordingProxy(engage.url) : null;
    const engageBase = proxy?.url ?? engage?.url;
    const tenant = testTenant(
      i,
      { sourceId, ...(engage ? { engageUrl: engageBase, categories: engage.categories } : {}), cognigyUrl: cognigy?.url ?? NOWHERE },
      // One Cognigy simulator serves every tenant, so they share its key.
      { cognigyApiKey: tenantSecrets(0).cognigyApiKey, ...options.tenantValues?.(i, { url: engage?.url ?? NOWHERE }) },
    );
    tenantsOnly.push(tenant);
    if (engage) rigTenants.push({ engage, tenant, proxy });
  }
  const first = tenantsOnly[0];
  if (!first) throw new Error('a rig needs at least one tenant');

  const config = testRelayConfig(tenantsOnly, { logLevel: options.logLevel ?? (simulators ? 'debug' : 'silent'), ...options.settings });
  const secrets = [...new Set([...secretsOf(config), ...tenantsOnly.map((t) => t.verifyToken)])];
  const connectionTo = (relayUrl: string): Record<string, string> => ({
    apiAccessToken: first.apiAccessToken,
    botCategoryId: first.botCategoryId,
    agentCategoryId: first.agentCategoryId,
    realtimeAccessToken: first.realtimeAccessToken,
    realtimeEndpointUrl: first.realtimeEndpointUrl,
    webhookSecret: first.webhookSecret,
    baseApiUrl: rigTenants[0]?.engage.baseApiUrl ?? 'demo.api.engagement.dimelo.com',
    relayUrl,
    relayApiKey: first.relayApiKey,
  });

  if (options.front === 'standIn') {
    const front = await startExtensionFront(first, null);
    return { ...front, tenant: first, config, secrets, connection: connectionTo(front.url), close: () => front.close() };
  }

  const { logger, logLines } = capturingLogger(config);
  const dir = mkdtempSync(join(tmpdir(), 'rce-rig-'));
  const storeOption = options.store ?? 'sqlite';
  const dbPath = storeOption === 'sqlite' ? join(dir, 'relay.db') : null;
  const location: TestStoreLocation = dbPath
    ? { sqliteFile: dbPath }
    : {
        redisUrl: storeOption === 'redis' || storeOption === 'sqlite' ? testRedisUrl() : storeOption.redisUrl,
        keyPrefix: options.keyPrefix ?? `rig:${randomUUID()}:`,
      };
  const clockOpt = clock ? { clock: clock.now } : {};
  const openStore = () => openTestStore(location, { logger, ...clockOpt });
  const makeRelay = (store: Store, relayLogger: Logger) =>
    createRelay({
      config,
      store,
      logger: relayLogger,
      ...clockOpt,
      outbox: options.outbox ?? (simulators ? FAST_OUTBOX : NOWHERE_OUTBOX),
      outboundTimeoutMs: options.outboundTimeoutMs ?? 2_000,
    });

  let store = await openStore();
  let relay = makeRelay(store, logger);
  const { url, adminUrl } = await relay.start(0, '127.0.0.1');
  const extraRelays: Relay[] = [];

  // No source saved in Engage: the relay's background creation of the Bot and Agent identities would be refused
  // and retried for the whole test, adding signature checks to its measurements.
  if (!simulators || options.skipEngageSetup) relay.identities.stop();
  else {
    for (const { engage, tenant } of rigTenants) {
      // Several tenants: each source's Base URI and webhook name the tenant (the documented URL).
      const engageUrl = count > 1 ? `${url}/handover/rce/${tenant.sourceId}` : `${url}/handover/rce`;
      await connectEngageSource(engage, engageUrl, {
        secret: tenant.webhookSecret,
        verifyToken: tenant.verifyToken,
        events: WEBHOOK_EVENTS,
      });
    }
    // The relay creates each tenant's Bot and Agent identities in the background (retried until the source is
    // saved): let that settle so it does not land in a test's measurements. Bounded: some rigs break Engage on purpose.
    const identitiesCreated = () =>
      rigTenants.every(
        ({ tenant }) => relay.identities.isCreated(tenant.sourceId, 'bot') && relay.identities.isCreated(tenant.sourceId, 'agent'),
      );
    await waitUntil('tenant identities created', identitiesCreated, { timeoutMs: 5_000 }).catch(() => undefined);
  }

  const front = options.front ? await startExtensionFront(first, url) : null;
  const stopSimulators = async () => {
    for (const { engage, proxy } of rigTenants) {
      await engage.stop();
      await proxy?.close();
    }
    await cognigy?.stop();
  };
  const close = async () => {
    await front?.close();
    for (const extra of extraRelays) await extra.stop({ closeStore: true }).catch(() => undefined);
    await relay.stop({ closeStore: true });
    await stopSimulators();
    rmSync(dir, { recursive: true, force: true });
  };
  if (front) return { ...front, tenant: first, config, secrets, connection: connectionTo(front.url), close };

  const firstRig = rigTenants[0];
  if (!firstRig || !cognigy) throw new Error('a rig with simulators has them');
  const rig: RelayRig = {
    tenants: rigTenants,
    engage: firstRig.engage,
    tenant: first,
    cognigy,
    relay,
    relayUrl: url,
    adminUrl,
    config,
    store,
    logLines,
    logger,
    clock,
    secrets,
    dbPath,
    connection: connectionTo(url),
    call(route, session, extra = {}, tenantIndex = 0) {
      const t = tenantsOnly[tenantIndex];
      if (!t) throw new Error(`no tenant ${tenantIndex}`);
      const timestampSeconds = Math.floor((clock ? clock.now() : Date.now()) / 1000);
      return signedRelayCall(
        url,
        t,
        route,
        { ...envelopeFor(t, session, `rq-${++requestCounter}-${randomUUID().slice(0, 6)}`), ...extra },
        { timestampSeconds },
      );
    },
    async waitForAgentCategory(threadId, tenantIndex = 0) {
      const at = rigTenants[tenantIndex];
      if (!at) throw new Error(`no tenant ${tenantIndex}`);
      await waitUntil(
        'thread in the Agent category',
        () => at.engage.thread(threadId)?.categoryIds.includes(at.tenant.agentCategoryId) === true,
      );
    },
    async restartRelay() {
      const port = Number(new URL(url).port);
      await relay.stop({ closeStore: true });
      store = await openStore();
      relay = makeRelay(store, logger);
      rig.store = store;
      rig.relay = relay;
      await relay.start(port, '127.0.0.1');
    },
    async startExtraRelay({ silent = false } = {}) {
      const extra = makeRelay(await openStore(), silent ? capturingLogger(config, 'silent').logger : logger);
      extraRelays.push(extra);
      return { relay: extra, url: (await extra.start(0, '127.0.0.1')).url };
    },
    close,
  };
  return rig;
}

/**
 * For the enclosing describe: a rig with the extension front, started before all its tests, its
 * recordings and scripts reset before each, closed after all. Use it from the tests and hooks only.
 */
export function useFrontedRig(front: RigFront): FrontedRig {
  const rig = {} as FrontedRig;
  beforeAll(async () => {
    Object.assign(rig, await startRelayRig({ front }));
  });
  afterAll(async () => rig.close());
  beforeEach(() => rig.reset());
  return rig;
}

/**
 * Through a Flow with the Handover node: the user asks for an agent, the Flow says it connects,
 * and Engage has the thread in the Agent category. Returns the thread id.
 */
export async function handOverInFlow(rig: RelayRig, runner: FlowRunner, session: SessionKey, text = 'I want an agent'): Promise<string> {
  const start = await runner.send(session, { text });
  expect(start.outputs.map((o) => o.text)).toEqual(["Please wait a moment, I'm connecting you with an agent."]);
  const threadId = (runner.session(session).context.rceHandover as HandoverState).threadId ?? '';
  await rig.waitForAgentCategory(threadId);
  return threadId;
}

/** `input.data.handover.status` of an inject, or 'notify:<text>' for a notify: one comparable line per Cognigy call. */
export function describeCognigyCall(call: { kind: string; text: string; data: Record<string, unknown> }): string {
  if (call.kind === 'notify') return `notify:${call.text}`;
  const handover = call.data.handover as { status?: string; position?: number } | undefined;
  return handover?.status === 'queue' ? `queue:${handover.position ?? '?'}` : `inject:${handover?.status ?? '?'}`;
}
