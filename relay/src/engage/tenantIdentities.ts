import type { Logger } from 'pino';
import type { TenantConfig } from '../config';
import { agentIdentityIdFor, botAuthorIdFor } from '../handover/identity';
import type { PostText } from '../http/outboundHttp';
import type { EngageUser } from './profileMapping';
import { callSendApi } from './sendApiClient';

/**
 * Seed step 7 expects two puppetizable identities in Engage, **Bot** (signs the bot's lines) and
 * **Agent** (the admin makes it controlled and assigns it to agents). Engage creates an identity on
 * the first `users.create` with its id; the same id again only updates it
 * (docs/sdks/source-sdk/objects.md, quick-start.md), so every relay instance may send both at start.
 * This runs beside the handovers: a refusal is retried in the background with capped backoff and
 * never blocks or fails a handover.
 */

/** A fixed created_at, so repeated users.create never looks like a new identity. */
const IDENTITY_CREATED_AT = '2020-01-01T00:00:00.000Z';

export type TenantIdentityRole = 'bot' | 'agent';

export function tenantIdentityUsers(sourceId: string): Record<TenantIdentityRole, EngageUser> {
  const user = (id: string, screenname: string): EngageUser => ({
    id,
    screenname,
    puppetizable: true,
    created_at: IDENTITY_CREATED_AT,
    updated_at: IDENTITY_CREATED_AT,
  });
  return { bot: user(botAuthorIdFor(sourceId), 'Bot'), agent: user(agentIdentityIdFor(sourceId), 'Agent') };
}

export interface IdentityRetry {
  baseMs: number;
  capMs: number;
}

export class TenantIdentities {
  private readonly created = new Set<string>();
  /** The next attempt of an identity not created yet (one at a time per identity). */
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<string>();
  private stopped = false;

  constructor(
    private readonly deps: {
      tenants: readonly TenantConfig[];
      postText: PostText;
      logger: Logger;
      retry?: IdentityRetry;
    },
  ) {}

  private get retry(): IdentityRetry {
    return this.deps.retry ?? { baseMs: 1_000, capMs: 5 * 60_000 };
  }

  /** Sends users.create for every tenant's Bot and Agent; returns at once. */
  start(): void {
    this.stopped = false;
    for (const tenant of this.deps.tenants) {
      for (const role of ['bot', 'agent'] as const) void this.attempt(tenant, role, 0);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  /** Whether this relay has had Engage accept the identity since it started. */
  isCreated(sourceId: string, role: TenantIdentityRole): boolean {
    return this.created.has(keyOf(sourceId, role));
  }

  /**
   * Engage just asked the source for implementation.info, as it does when an admin saves the source: the Send
   * API accepts the declared users.create from now on, so a waiting retry runs soon instead of after its backoff.
   */
  sourceSaved(sourceId: string): void {
    const tenant = this.deps.tenants.find((t) => t.sourceId === sourceId);
    if (!tenant || this.stopped) return;
    for (const role of ['bot', 'agent'] as const) {
      const key = keyOf(sourceId, role);
      const waiting = this.retries.get(key);
      if (!waiting) continue;
      clearTimeout(waiting);
      this.schedule(tenant, role, 0, this.retry.baseMs);
    }
  }

  private schedule(tenant: TenantConfig, role: TenantIdentityRole, failures: number, delayMs: number): void {
    const key = keyOf(tenant.sourceId, role);
    const timer = setTimeout(() => {
      this.retries.delete(key);
      void this.attempt(tenant, role, failures);
    }, delayMs);
    timer.unref();
    this.retries.set(key, timer);
  }

  private async attempt(tenant: TenantConfig, role: TenantIdentityRole, failures: number): Promise<void> {
    const key = keyOf(tenant.sourceId, role);
    if (this.stopped || this.inFlight.has(key) || this.created.has(key)) return;
    const user = tenantIdentityUsers(tenant.sourceId)[role];
    this.inFlight.add(key);
    try {
      await callSendApi(this.deps.postText, tenant, 'users.create', { ...user });
      this.created.add(key);
      this.deps.logger.info({ tenant: tenant.sourceId, identity: role, identityId: user.id }, 'Engage identity created');
    } catch (err) {
      if (this.stopped) return;
      const delayMs = Math.min(this.retry.capMs, this.retry.baseMs * 2 ** Math.min(failures, 20));
      this.deps.logger.warn(
        { tenant: tenant.sourceId, identity: role, failures: failures + 1, retryInMs: delayMs, error: (err as Error).message },
        'Engage identity not created yet; will retry',
      );
      this.schedule(tenant, role, failures + 1, delayMs);
    } finally {
      this.inFlight.delete(key);
    }
  }
}

function keyOf(sourceId: string, role: TenantIdentityRole): string {
  return `${sourceId}/${role}`;
}
