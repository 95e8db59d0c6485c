import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { CognigySession, RelayRouteName } from '../../contract/relayApi';
import { secretsOf, type RelayConfig, type RelaySettings, type RelaySettingsInput, type TenantConfig } from '../../relay/src/config';
import { createRelay, type Relay, type RelayOptions } from '../../relay/src/relay';
import type { Store } from '../../relay/src/store/types';
import { CognigyApiSimulator } from '../../sandbox/cognigy/cognigyApiSimulator';
import { EngageSimulator, type EngageSimulatorOptions } from '../../sandbox/engage';
import { capturingLogger, connectEngageSource, startTestEngage, FAST_OUTBOX, openTestStore, testRelayConfig } from './relayParts';
import { startRecordingProxy, type RecordingProxy } from './recordingProxy';
import { envelopeFor, signedRelayCall } from './signedRelayCall';
import { waitUntil } from './waitUntil';

/**
 * A relay with one or more tenants (one Engage simulator each), one Cognigy simulator, and an
 * optional warpable clock shared by the relay, its store and the Engage simulators, so a test
 * can let minutes of relay time pass in milliseconds without faking timers.
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

/** Distinct, recognisable secrets per tenant (the leak scan looks for every one of them). */
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

export interface RigTenant {
  engage: EngageSimulator;
  tenant: TenantConfig;
  /** With `proxyEngage`: every relay → Engage request, answered. */
  proxy: RecordingProxy | null;
}

export interface Rig {
  tenants: RigTenant[];
  /** Tenant 0, for single-tenant tests. */
  engage: EngageSimulator;
  tenant: TenantConfig;
  cognigy: CognigyApiSimulator;
  relay: Relay;
  relayUrl: string;
  /** The admin listener (/readyz, /metrics). */
  adminUrl: string;
  config: RelayConfig;
  store: Store;
  logLines: string[];
  clock: WarpClock | null;
  /** Every configured secret, plus verify tokens. */
  secrets: string[];
  /** Where the SQLite file lives (sqlite rigs). */
  dbPath: string | null;
  call(
    route: RelayRouteName,
    session: CognigySession,
    extra?: Record<string, unknown>,
    tenantIndex?: number,
  ): ReturnType<typeof signedRelayCall>;
  close(): Promise<void>;
}

export type RigStore = 'sqlite' | { redisUrl: string };

export interface RigOptions {
  tenants?: number;
  store?: RigStore;
  settings?: Partial<RelaySettingsInput>;
  clock?: WarpClock;
  outbox?: RelayOptions['outbox'];
  outboundTimeoutMs?: number;
  engageOptions?: Partial<EngageSimulatorOptions>;
  /** Put a recording proxy between the relay and each Engage simulator (Send API and REST). */
  proxyEngage?: boolean;
  /** Extra relay-side tenant settings (e.g. a previous token during rotation); the simulators don't see them. */
  tenantExtras?: (index: number) => Partial<TenantConfig>;
  /** Skip the Engage source save / webhook registration (fuzzing does not need them). */
  skipEngageSetup?: boolean;
  logLevel?: RelaySettings['logLevel'];
  /** Redis key prefix (several rigs' relays then share one store); a fresh one by default. */
  keyPrefix?: string;
}

let requestCounter = 0;

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const count = options.tenants ?? 1;
  const clock = options.clock ?? null;
  const simClock = clock ? { clock: () => new Date(clock.now()) } : {};
  const cognigy = new CognigyApiSimulator(tenantSecrets(0).cognigyApiKey);
  await cognigy.start();

  const rigTenants: RigTenant[] = [];
  for (let i = 0; i < count; i++) {
    const s = tenantSecrets(i);
    const sourceId = `src${i}${randomUUID().slice(0, 8)}`;
    const engage = await startTestEngage({
      sourceId,
      realtimeAccessToken: s.realtimeAccessToken,
      apiAccessToken: s.apiAccessToken,
      ...simClock,
      ...options.engageOptions,
    });
    const proxy = options.proxyEngage ? await startRecordingProxy(engage.url) : null;
    const engageBase = proxy?.url ?? engage.url;
    const tenant: TenantConfig = {
      apiAccessToken: s.apiAccessToken,
      botCategoryId: engage.categories.botId,
      agentCategoryId: engage.categories.agentId,
      realtimeAccessToken: s.realtimeAccessToken,
      realtimeEndpointUrl: `${engageBase}/realtime/sdk/${sourceId}`,
      webhookSecret: s.webhookSecret,
      baseApiUrl: `${engageBase}/1.0`,
      verifyToken: s.verifyToken,
      cognigyApiBaseUrl: cognigy.url,
      // One Cognigy simulator serves every tenant, so they share its key.
      cognigyApiKey: tenantSecrets(0).cognigyApiKey,
      relayApiKey: s.relayApiKey,
      sourceId,
      ...options.tenantExtras?.(i),
    };
    rigTenants.push({ engage, tenant, proxy });
  }

  const config = testRelayConfig(
    rigTenants.map((t) => t.tenant),
    { logLevel: options.logLevel ?? 'debug', ...options.settings },
  );
  const secrets = [...new Set([...secretsOf(config), ...rigTenants.map((t) => t.tenant.verifyToken)])];
  const { logger, logLines } = capturingLogger(config);

  const dir = mkdtempSync(join(tmpdir(), 'rce-rig-'));
  const storeOption = options.store ?? 'sqlite';
  const dbPath = storeOption === 'sqlite' ? join(dir, 'relay.db') : null;
  const clockOpt = clock ? { clock: clock.now } : {};
  const store = await openTestStore(
    storeOption === 'sqlite'
      ? { sqliteFile: join(dir, 'relay.db') }
      : { redisUrl: storeOption.redisUrl, keyPrefix: options.keyPrefix ?? `rig:${randomUUID()}:` },
    { logger, ...clockOpt },
  );

  const relay = createRelay({
    config,
    store,
    logger,
    ...clockOpt,
    outbox: options.outbox ?? FAST_OUTBOX,
    outboundTimeoutMs: options.outboundTimeoutMs ?? 2_000,
  });
  const { url, adminUrl } = await relay.start(0, '127.0.0.1');

  // No source saved in Engage: the relay's background creation of the Bot and Agent identities would be refused
  // and retried for the whole test, adding signature checks to its measurements.
  if (options.skipEngageSetup) relay.identities.stop();
  if (!options.skipEngageSetup) {
    for (const { engage, tenant } of rigTenants) {
      // Several tenants: each source's Base URI and webhook name the tenant (the documented URL).
      const engageUrl = count > 1 ? `${url}/handover/rce/${tenant.sourceId}` : `${url}/handover/rce`;
      await connectEngageSource(engage, engageUrl, {
        secret: tenant.webhookSecret,
        verifyToken: tenant.verifyToken,
        events: ['intervention.opened', 'intervention.closed', 'intervention.canceled', 'task.taken'],
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

  const first = rigTenants[0];
  if (!first) throw new Error('a rig needs at least one tenant');
  return {
    tenants: rigTenants,
    engage: first.engage,
    tenant: first.tenant,
    cognigy,
    relay,
    relayUrl: url,
    adminUrl,
    config,
    store,
    logLines,
    clock,
    secrets,
    dbPath,
    call(route, session, extra = {}, tenantIndex = 0) {
      const t = rigTenants[tenantIndex]?.tenant;
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
    async close() {
      await relay.stop({ closeStore: true });
      for (const { engage, proxy } of rigTenants) {
        await engage.stop();
        await proxy?.close();
      }
      await cognigy.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `input.data.handover.status` of an inject, or 'notify:<text>' for a notify: one comparable line per Cognigy call. */
export function describeCognigyCall(call: { kind: string; text: string; data: Record<string, unknown> }): string {
  if (call.kind === 'notify') return `notify:${call.text}`;
  const handover = call.data.handover as { status?: string; position?: number } | undefined;
  return handover?.status === 'queue' ? `queue:${handover.position ?? '?'}` : `inject:${handover?.status ?? '?'}`;
}
