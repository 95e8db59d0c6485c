import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import type { TenantConfig } from '../config';
import { DeliveryError, statusFailure } from '../outbox/deliveryError';
import { describeTransportError, headerOf } from '../http/outboundHttp';

/**
 * The Engage REST subset the relay needs (Bearer token, `{error, message, status}` errors).
 * Every call first takes a token from the tenant's rate limiter (Engage allows 500/min).
 */

export const contentThreadSchema = z.object({
  id: z.string(),
  foreign_id: z.string().nullable().optional(),
  source_id: z.string().nullable().optional(),
  category_ids: z.array(z.string()).optional(),
  thread_category_ids: z.array(z.string()).optional(),
  closed: z.boolean().optional(),
});
const pageSchema = <T extends z.ZodTypeAny>(item: T) => z.object({ count: z.number().optional(), records: z.array(item) });

export const interventionSchema = z.object({
  id: z.string(),
  thread_id: z.string().nullable().optional(),
  closed: z.boolean().optional(),
  status: z.string().nullable().optional(),
  user_id: z.string().nullable().optional(),
});

export const identitySchema = z.object({
  id: z.string(),
  foreign_id: z.string().nullable().optional(),
  screenname: z.string().nullable().optional(),
  user_ids: z.array(z.string()).optional(),
});

export const categorySchema = z.object({ id: z.string(), name: z.string().optional(), parent_id: z.string().nullable().optional() });
/** openapi `User`: firstname, lastname and nickname (no display-name field). */
export const userSchema = z.object({
  id: z.string(),
  firstname: z.string().nullable().optional(),
  lastname: z.string().nullable().optional(),
  nickname: z.string().nullable().optional(),
  enabled: z.boolean().optional(),
});
export type EngageUserRecord = z.infer<typeof userSchema>;

/** openapi `AgentStatus` (`GET /status`, "Agent Status"): one connected agent and its status per channel. */
export const agentStatusSchema = z.object({
  agent_id: z.string(),
  channels: z
    .array(
      z.object({
        id: z.string().optional(),
        name: z.string().optional(),
        status: z.string().nullable().optional(),
        busyness: z.string().nullable().optional(),
      }),
    )
    .default([]),
});
export type AgentStatus = z.infer<typeof agentStatusSchema>;

/** openapi `Channel`: which sources a channel (e.g. "Realtime") serves. */
export const channelSchema = z.object({ id: z.string(), name: z.string().optional(), source_ids: z.array(z.string()).default([]) });
export type EngageChannel = z.infer<typeof channelSchema>;

export interface RestRateGate {
  /** Resolves when a call may be made, or rejects with a retryable DeliveryError telling when. */
  take(tenantId: string): void | Promise<void>;
}

export class EngageRestClient {
  constructor(
    private readonly http: AxiosInstance,
    private readonly tenant: TenantConfig,
    private readonly gate?: RestRateGate,
  ) {}

  private async request<T extends z.ZodTypeAny>(
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    schema: T,
    params?: URLSearchParams,
  ): Promise<{ status: number; data: z.infer<T> | null }> {
    await this.gate?.take(this.tenant.sourceId);
    const url = `${this.tenant.baseApiUrl}${path}${params && method === 'GET' ? `?${params.toString()}` : ''}`;
    let response;
    try {
      response = await this.http.request<string>({
        method,
        url,
        headers: {
          Authorization: `Bearer ${this.tenant.apiAccessToken}`,
          Accept: 'application/json',
          ...(method !== 'GET' && params ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
        },
        data: method !== 'GET' && params ? params.toString() : undefined,
      });
    } catch (err) {
      throw new DeliveryError(`Engage REST ${method} ${path}: ${describeTransportError(err)}`, true);
    }
    if (response.status >= 200 && response.status < 300) {
      let json: unknown;
      try {
        json = JSON.parse(String(response.data));
      } catch {
        throw new DeliveryError(`Engage REST ${method} ${path}: invalid JSON`, true);
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) throw new DeliveryError(`Engage REST ${method} ${path}: unexpected response shape`, false);
      return { status: response.status, data: parsed.data };
    }
    // 403/404/409 are answered to the caller, which knows what they mean; others become DeliveryErrors.
    if (response.status === 403 || response.status === 404 || response.status === 409) return { status: response.status, data: null };
    throw statusFailure(
      `Engage REST ${method} ${path}: HTTP ${response.status}${errorIdOf(String(response.data ?? ''))}`,
      response.status,
      headerOf(response.headers, 'retry-after'),
    );
  }

  async findThreadByForeignId(foreignId: string): Promise<z.infer<typeof contentThreadSchema> | null> {
    const params = new URLSearchParams({ q: `foreign:${foreignId} source:${this.tenant.sourceId}` });
    const { data } = await this.request('GET', '/content_threads', pageSchema(contentThreadSchema), params);
    return data?.records.find((t) => t.foreign_id === foreignId) ?? null;
  }

  /** The thread as Engage has it now (its categories for a merge); null when Engage answers 404. */
  async thread(engageThreadId: string): Promise<z.infer<typeof contentThreadSchema> | null> {
    const { status, data } = await this.request('GET', `/content_threads/${encodeURIComponent(engageThreadId)}`, contentThreadSchema);
    if (status === 403) throw new DeliveryError('Engage REST content_threads: HTTP 403 (token lacks read permission on the source)', false);
    return data;
  }

  /** Replaces the thread's categories (the whole set: merge first, see threadCategories.ts). Returns 'conflict' (409: a categorization is running) or 'not_found'. */
  async updateThreadCategories(engageThreadId: string, categoryIds: string[]): Promise<'ok' | 'conflict' | 'not_found'> {
    const params = new URLSearchParams();
    for (const id of categoryIds) params.append('thread_category_ids[]', id);
    const { status } = await this.request(
      'PUT',
      `/content_threads/${encodeURIComponent(engageThreadId)}/update_categories`,
      contentThreadSchema,
      params,
    );
    if (status === 409) return 'conflict';
    if (status === 404) return 'not_found';
    if (status === 403) throw new DeliveryError('Engage REST update_categories: HTTP 403 (token lacks permission on the source)', false);
    return 'ok';
  }

  async openInterventionsOf(engageThreadId: string): Promise<z.infer<typeof interventionSchema>[]> {
    const params = new URLSearchParams({ thread_id: engageThreadId, limit: '30' });
    const { data } = await this.request('GET', '/interventions', pageSchema(interventionSchema), params);
    return (data?.records ?? []).filter((i) => !i.closed && i.status !== 'closed');
  }

  /** Closes (agent replied) or cancels (no agent reply) an intervention; Engage decides which is allowed. */
  async endIntervention(interventionId: string): Promise<'closed' | 'cancelled' | 'not_allowed'> {
    const id = encodeURIComponent(interventionId);
    const close = await this.request('PUT', `/interventions/${id}/close`, interventionSchema, new URLSearchParams());
    if (close.status >= 200 && close.status < 300) return 'closed';
    if (close.status === 409) throw new DeliveryError('Engage REST intervention close: HTTP 409 (already closing)', true);
    const cancel = await this.request('DELETE', `/interventions/${id}/cancel`, interventionSchema.partial(), new URLSearchParams());
    if (cancel.status >= 200 && cancel.status < 300) return 'cancelled';
    return 'not_allowed';
  }

  /** The source's identity created with this User id (`GET /identities?source_id=…&foreign_id=…`), or null. */
  async identityByForeignId(foreignId: string): Promise<z.infer<typeof identitySchema> | null> {
    const params = new URLSearchParams({ source_id: this.tenant.sourceId, foreign_id: foreignId });
    const { data } = await this.request('GET', '/identities', pageSchema(identitySchema), params);
    return data?.records.find((i) => i.foreign_id === foreignId) ?? null;
  }

  async me(): Promise<z.infer<typeof userSchema> | null> {
    return (await this.request('GET', '/users/me', userSchema)).data;
  }

  /** `GET /users/{id}`; null when Engage answers 404 (deleted user) or 403. */
  async user(id: string): Promise<EngageUserRecord | null> {
    return (await this.request('GET', `/users/${encodeURIComponent(id)}`, userSchema)).data;
  }

  /** `GET /status` filtered on the source (reply permission) and categories: the connected agents and their channel status. */
  async agentStatuses(filter: { sourceIds: readonly string[]; categoryIds: readonly string[] }): Promise<AgentStatus[]> {
    const params = new URLSearchParams();
    for (const id of filter.sourceIds) params.append('source_ids[]', id);
    for (const id of filter.categoryIds) params.append('category_ids[]', id);
    const { status, data } = await this.request('GET', '/status', z.array(agentStatusSchema), params);
    if (status === 403) throw new DeliveryError('Engage REST status: HTTP 403 (the token user may not monitor the task view)', false);
    return data ?? [];
  }

  /** `GET /channels` (first page of 150: a domain has a handful of channels). */
  async channels(): Promise<EngageChannel[]> {
    const { data } = await this.request('GET', '/channels', pageSchema(channelSchema), new URLSearchParams({ limit: '150' }));
    return data?.records ?? [];
  }

  async category(id: string): Promise<z.infer<typeof categorySchema> | null> {
    return (await this.request('GET', `/categories/${encodeURIComponent(id)}`, categorySchema)).data;
  }
}

/** The `error` id of Engage's `{error, message, status}` body, for the log line; '' otherwise. */
function errorIdOf(body: string): string {
  try {
    const parsed = z.object({ error: z.string() }).safeParse(JSON.parse(body));
    return parsed.success ? ` ${parsed.data.error}` : '';
  } catch {
    return '';
  }
}
