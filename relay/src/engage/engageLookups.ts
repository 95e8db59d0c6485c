import type { AxiosInstance } from 'axios';
import type { Logger } from 'pino';
import type { TenantConfig } from '../config';
import { EngageRestClient, type AgentStatus, type EngageUserRecord, type RestRateGate } from './restClient';
import { TtlCache } from './ttlCache';

/**
 * The synchronous Engage REST reads and writes the handover needs outside the outbox: the agent's
 * name for the joined/transfer events, agent availability, and closing from the Flow. Every call
 * takes a token from the same per-tenant REST budget as the outbox's calls.
 */

/** The name agents are known by: "firstname lastname" (openapi `User`), else the nickname. */
export function agentNameOf(user: EngageUserRecord): string | null {
  const full = [user.firstname, user.lastname]
    .map((part) => part?.trim() ?? '')
    .filter(Boolean)
    .join(' ');
  return full || user.nickname?.trim() || null;
}

/**
 * transfers.md "Determining an Agent's Availability": on the channel that holds the source,
 * `status` is "available" and `busyness` is not "full". Agents without that channel cannot answer.
 */
export function countAvailableAgents(statuses: readonly AgentStatus[], channelIds: ReadonlySet<string> | null): number {
  return statuses.filter((agent) =>
    agent.channels.some(
      (channel) =>
        (channelIds === null || (channel.id !== undefined && channelIds.has(channel.id))) &&
        channel.status === 'available' &&
        channel.busyness !== 'full',
    ),
  ).length;
}

export interface Availability {
  availableAgents: number;
  checkedAt: string;
}

export type EndOutcome = 'closed' | 'cancelled' | 'none' | 'not_allowed';

export interface EngageLookupsOptions {
  http: AxiosInstance;
  restGate: RestRateGate;
  logger: Logger;
  clock?: () => number;
  agentCache?: { maxEntries: number; ttlMs: number };
  /** How long one availability answer serves a tenant's bot (default 5 s). */
  availabilityTtlMs?: number;
}

export class EngageLookups {
  private readonly names: TtlCache<string | null>;
  private readonly availability: TtlCache<Availability>;
  /** The source's channels change only with an admin's setup: kept a while. */
  private readonly channels: TtlCache<ReadonlySet<string> | null>;

  constructor(private readonly options: EngageLookupsOptions) {
    const clock = options.clock ? { clock: options.clock } : {};
    this.names = new TtlCache({
      maxEntries: options.agentCache?.maxEntries ?? 1000,
      ttlMs: options.agentCache?.ttlMs ?? 10 * 60_000,
      ...clock,
    });
    this.availability = new TtlCache({ maxEntries: 1000, ttlMs: options.availabilityTtlMs ?? 5_000, ...clock });
    this.channels = new TtlCache({ maxEntries: 100, ttlMs: 10 * 60_000, ...clock });
  }

  private rest(tenant: TenantConfig): EngageRestClient {
    return new EngageRestClient(this.options.http, tenant, this.options.restGate);
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }

  /** The agent's name, cached; null when Engage has no such user or the lookup failed (logged, never thrown). */
  async agentName(tenant: TenantConfig, userId: string): Promise<string | null> {
    const key = `${tenant.sourceId}/${userId}`;
    const cached = this.names.get(key);
    if (cached !== undefined) return cached;
    try {
      const user = await this.rest(tenant).user(userId);
      const name = user ? agentNameOf(user) : null;
      this.names.set(key, name);
      return name;
    } catch (err) {
      this.options.logger.warn(
        { tenant: tenant.sourceId, agentId: userId, err: err instanceof Error ? err.message : String(err) },
        'agent name lookup failed: event sent without a name',
      );
      return null;
    }
  }

  /** Connected agents able to take the categories' conversations now; cached per tenant and categories. Throws on REST failure. */
  async agentAvailability(tenant: TenantConfig, categoryIds: readonly string[]): Promise<Availability> {
    const key = `${tenant.sourceId}/${[...categoryIds].sort().join(',')}`;
    const cached = this.availability.get(key);
    if (cached) return cached;
    const rest = this.rest(tenant);
    const channelIds = await this.channelsOfSource(tenant, rest);
    const statuses = await rest.agentStatuses({ sourceIds: [tenant.sourceId], categoryIds });
    const answer = { availableAgents: countAvailableAgents(statuses, channelIds), checkedAt: new Date(this.now()).toISOString() };
    this.availability.set(key, answer);
    return answer;
  }

  /** The ids of the channels that hold the source; null when none is listed (then any channel counts). */
  private async channelsOfSource(tenant: TenantConfig, rest: EngageRestClient): Promise<ReadonlySet<string> | null> {
    const cached = this.channels.get(tenant.sourceId);
    if (cached !== undefined) return cached;
    const ids = new Set(
      (await rest.channels()).filter((channel) => channel.source_ids.includes(tenant.sourceId)).map((channel) => channel.id),
    );
    const result = ids.size > 0 ? ids : null;
    this.channels.set(tenant.sourceId, result);
    return result;
  }

  /**
   * Ends the thread's open interventions: close, or cancel where Engage refuses to close (interventions.md:
   * 403 unless the intervention has agent replies). 'none': no open intervention. Throws on REST failure.
   */
  async endOpenInterventions(tenant: TenantConfig, engageThreadId: string): Promise<EndOutcome> {
    const rest = this.rest(tenant);
    let outcome: EndOutcome = 'none';
    for (const intervention of await rest.openInterventionsOf(engageThreadId)) {
      const ended = await rest.endIntervention(intervention.id);
      // One closed intervention makes the whole handover "closed"; a refusal anywhere is reported.
      if (ended === 'not_allowed' || outcome === 'not_allowed') outcome = 'not_allowed';
      else if (ended === 'closed' || outcome === 'closed') outcome = 'closed';
      else outcome = 'cancelled';
    }
    return outcome;
  }
}
