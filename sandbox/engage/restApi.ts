import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { secretsEqual } from '../../relay/src/secretCompare';
import { DeskError, type Desk, type DeskErrorCode } from './desk';
import type { AgentUserJson, CategoryJson, ContentThreadJson, IdentityJson, InterventionJson, PageJson, RestErrorJson } from './objects';
import type { Identity, SimIntervention, SimThread, SimulatorState } from './state';
import { isoSeconds, type Scheduler } from './util';
import { webhookRoutes, type WebhookList } from './webhooksApi';

/** openapi `AgentStatus` / `AgentStatusChannel`. */
interface AgentStatusJson {
  agent_id: string;
  channels: { id: string; name: string; status: 'available' | 'away' | null; busyness: 'unoccupied' | 'ok' | 'busy' | 'full' }[];
  custom_status: { id: string } | null;
}

/**
 * REST subset under `/1.0` (engage-rest-webhooks.md §2–3), transport-free: the HTTP adapter hands
 * over method, path below `/1.0`, query and raw body; this answers JSON in the documented
 * `{error, message, status}` error shape.
 */

export interface RestRequest {
  method: string;
  /** Path below `/1.0`, e.g. `/content_threads/abc/update_categories`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}

export interface JsonResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export const REST_ERROR_IDS: Record<number, string> = {
  400: 'invalid_parameter',
  401: 'invalid_access_token',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'request_too_large',
  422: 'unprocessable_entity',
  429: 'rate_limit_exceeded',
  500: 'internal_server_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
};

export function restError(status: number, message: string, error = REST_ERROR_IDS[status] ?? 'error'): JsonResponse {
  const body: RestErrorJson = { error, message, status };
  return { status, body };
}

const DESK_STATUS: Record<DeskErrorCode, number> = {
  not_found: 404,
  forbidden: 403,
  conflict: 409,
  unprocessable_entity: 422,
};

const jsonBodySchema = z.record(z.string(), z.unknown());

/** Request params from query, urlencoded form (`x[]=a&x[]=b`) or JSON body, merged. */
export class RestParams {
  private readonly values = new Map<string, string[]>();

  static parse(request: RestRequest): RestParams | 'invalid_json' {
    const params = new RestParams();
    params.addSearch(request.query);
    if (request.rawBody.length === 0) return params;
    const contentType = String(request.headers['content-type'] ?? '').toLowerCase();
    const text = request.rawBody.toString('utf8');
    if (contentType.includes('application/json')) {
      let json: unknown;
      try {
        json = JSON.parse(text) as unknown;
      } catch {
        return 'invalid_json';
      }
      const parsed = jsonBodySchema.safeParse(json);
      if (!parsed.success) return 'invalid_json';
      for (const [key, value] of Object.entries(parsed.data)) params.addJson(key, value);
    } else {
      params.addSearch(new URLSearchParams(text));
    }
    return params;
  }

  private add(rawKey: string, value: string): void {
    const key = rawKey.endsWith('[]') ? rawKey.slice(0, -2) : rawKey;
    const list = this.values.get(key) ?? [];
    list.push(value);
    this.values.set(key, list);
  }

  private addSearch(search: URLSearchParams): void {
    for (const [key, value] of search) this.add(key, value);
  }

  private addJson(key: string, value: unknown): void {
    const scalars = Array.isArray(value) ? value : [value];
    for (const scalar of scalars) {
      if (typeof scalar === 'string' || typeof scalar === 'number' || typeof scalar === 'boolean') this.add(key, String(scalar));
    }
    // An explicit empty JSON array still counts as "given".
    if (Array.isArray(value) && value.length === 0 && !this.values.has(key)) this.values.set(key, []);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): string | undefined {
    return this.values.get(name)?.[0];
  }

  getAll(name: string): string[] {
    return this.values.get(name) ?? [];
  }
}

export interface RestApiOptions {
  state: SimulatorState;
  desk: Desk;
  scheduler: Scheduler;
  clock: () => Date;
  apiAccessToken: string;
  /** The agent user the token is bound to. */
  tokenUserId: string;
  rateLimitPerMinute: number;
  categorizeDurationMs: number;
  closeDurationMs: number;
  /** The saved webhooks, rendered by GET /webhooks (webhooksApi.ts). */
  webhooks?: WebhookList;
}

type Handler = (match: string[], params: RestParams) => JsonResponse | Promise<JsonResponse>;
interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const ID = '([^/]+)';

export class RestApi {
  private readonly requestTimes = new Map<string, number[]>();
  private readonly routes: Route[] = [
    { method: 'GET', pattern: /^\/users\/me$/, handler: () => this.me() },
    { method: 'GET', pattern: /^\/users$/, handler: (_m, p) => this.listUsers(p) },
    { method: 'GET', pattern: new RegExp(`^/users/${ID}$`), handler: ([id]) => this.showUser(id) },
    { method: 'GET', pattern: /^\/status$/, handler: (_m, p) => this.agentStatuses(p) },
    { method: 'GET', pattern: /^\/channels$/, handler: (_m, p) => this.listChannels(p) },
    { method: 'GET', pattern: /^\/categories$/, handler: (_m, p) => this.listCategories(p) },
    { method: 'GET', pattern: new RegExp(`^/categories/${ID}$`), handler: ([id]) => this.showCategory(id) },
    { method: 'GET', pattern: /^\/identities$/, handler: (_m, p) => this.listIdentities(p) },
    { method: 'GET', pattern: new RegExp(`^/identities/${ID}$`), handler: ([id]) => this.showIdentity(id) },
    { method: 'GET', pattern: /^\/content_threads$/, handler: (_m, p) => this.listThreads(p) },
    { method: 'GET', pattern: new RegExp(`^/content_threads/${ID}$`), handler: ([id]) => this.showThread(id) },
    {
      method: 'PUT',
      pattern: new RegExp(`^/content_threads/${ID}/update_categories$`),
      handler: ([id], p) => this.updateCategories(id, p),
    },
    { method: 'PUT', pattern: new RegExp(`^/content_threads/${ID}/close$`), handler: ([id]) => this.setThreadClosed(id, true) },
    { method: 'GET', pattern: new RegExp(`^/content_threads/${ID}/open$`), handler: ([id]) => this.setThreadClosed(id, false) },
    { method: 'GET', pattern: /^\/interventions$/, handler: (_m, p) => this.listInterventions(p) },
    { method: 'GET', pattern: new RegExp(`^/interventions/${ID}$`), handler: ([id]) => this.showIntervention(id) },
    { method: 'PUT', pattern: new RegExp(`^/interventions/${ID}/close$`), handler: ([id]) => this.closeIntervention(id) },
    { method: 'DELETE', pattern: new RegExp(`^/interventions/${ID}/cancel$`), handler: ([id]) => this.cancelIntervention(id) },
    ...webhookRoutes(() => this.options),
  ];

  constructor(private readonly options: RestApiOptions) {}

  private get state(): SimulatorState {
    return this.options.state;
  }

  async handle(request: RestRequest): Promise<JsonResponse> {
    const params = RestParams.parse(request);
    if (params === 'invalid_json') return restError(400, 'Request body is not valid JSON');

    const authorization = String(request.headers.authorization ?? '');
    const bearer = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim();
    const token = bearer ?? params.get('access_token');
    if (!token || !secretsEqual(token, this.options.apiAccessToken)) {
      return restError(401, 'Invalid or missing access token');
    }
    const limited = this.rateLimit(token);
    if (limited) return limited;

    for (const route of this.routes) {
      if (route.method !== request.method) continue;
      const match = route.pattern.exec(request.path);
      if (!match) continue;
      try {
        return await route.handler(match.slice(1).map(decodeURIComponent), params);
      } catch (err) {
        if (err instanceof DeskError) return restError(DESK_STATUS[err.code], err.message, err.code);
        if (err instanceof ParamError) return restError(400, err.message);
        throw err;
      }
    }
    return restError(404, `No route for ${request.method} /1.0${request.path}`);
  }

  /** Sliding one-minute window per token (responses.md: 500 requests per minute by default). */
  private rateLimit(token: string): JsonResponse | null {
    const now = Date.now();
    const recent = (this.requestTimes.get(token) ?? []).filter((at) => now - at < 60_000);
    if (recent.length >= this.options.rateLimitPerMinute) {
      this.requestTimes.set(token, recent);
      const retryAfter = Math.max(1, Math.ceil((60_000 - (now - (recent[0] ?? now))) / 1000));
      const response = restError(429, `Rate limit exceeded (${this.options.rateLimitPerMinute} requests per minute max)`);
      return { ...response, headers: { 'retry-after': String(retryAfter) } };
    }
    recent.push(now);
    this.requestTimes.set(token, recent);
    return null;
  }

  // ---- users / categories / identities ----

  private agent(id: string): AgentUserJson | undefined {
    return this.state.agents.get(id);
  }

  private me(): JsonResponse {
    const user = this.agent(this.options.tokenUserId);
    return user ? { status: 200, body: user } : restError(404, 'Token user not found');
  }

  private listUsers(params: RestParams): JsonResponse {
    const categoryId = params.get('category_id');
    const email = params.get('email');
    const users = [...this.state.agents.values()].filter(
      (user) => (categoryId === undefined || user.category_ids.includes(categoryId)) && (email === undefined || user.email === email),
    );
    return { status: 200, body: page(users, params) };
  }

  private showUser(id: string | undefined): JsonResponse {
    const user = id === undefined ? undefined : this.agent(id);
    return user ? { status: 200, body: user } : restError(404, `User ${id ?? ''} not found`);
  }

  /**
   * transfers.md / openapi getAllAgentStatus: the connected agents, each with its status and busyness
   * per channel, filtered on `source_ids[]` (reply permission) and `category_ids[]`.
   */
  private agentStatuses(params: RestParams): JsonResponse {
    const channel = this.state.channel;
    const sourceIds = params.getAll('source_ids').filter(Boolean);
    const categoryIds = params.getAll('category_ids').filter(Boolean);
    const records: AgentStatusJson[] = [];
    for (const [agentId, status] of this.state.agentStatus) {
      const agent = this.agent(agentId);
      if (!agent || !channel) continue;
      if (sourceIds.length > 0 && !sourceIds.some((id) => channel.source_ids.includes(id))) continue;
      if (categoryIds.length > 0 && !agent.category_ids.some((id) => categoryIds.includes(id))) continue;
      const open = [...this.state.interventions.values()].filter((i) => i.user_id === agentId && i.status === 'opened').length;
      const busyness =
        open === 0 ? 'unoccupied' : open >= channel.hard_capability ? 'full' : open * 2 > channel.hard_capability ? 'busy' : 'ok';
      records.push({ agent_id: agentId, channels: [{ id: channel.id, name: channel.name, status, busyness }], custom_status: null });
    }
    return { status: 200, body: records };
  }

  private listChannels(params: RestParams): JsonResponse {
    const channel = this.state.channel;
    return {
      status: 200,
      body: page(
        channel
          ? [
              {
                id: channel.id,
                name: channel.name,
                label: channel.name,
                source_ids: [...channel.source_ids],
                hard_capability: channel.hard_capability,
              },
            ]
          : [],
        params,
      ),
    };
  }

  private listCategories(params: RestParams): JsonResponse {
    // `ids=a,b` as documented; `ids[]=a` accepted as well.
    const ids = params
      .getAll('ids')
      .flatMap((value) => value.split(','))
      .filter(Boolean);
    const parentId = params.get('parent_id');
    const categories = [...this.state.categories.values()].filter(
      (category) => (ids.length === 0 || ids.includes(category.id)) && (parentId === undefined || category.parent_id === parentId),
    );
    return { status: 200, body: page<CategoryJson>(categories, params) };
  }

  private showCategory(id: string | undefined): JsonResponse {
    const category = id === undefined ? undefined : this.state.categories.get(id);
    return category ? { status: 200, body: category } : restError(404, `Category ${id ?? ''} not found`);
  }

  private listIdentities(params: RestParams): JsonResponse {
    const foreignId = params.get('foreign_id');
    const sourceId = params.get('source_id');
    const identities = [...this.state.identities.values()]
      .filter(
        (identity) =>
          (foreignId === undefined || identity.foreign_id === foreignId) && (sourceId === undefined || identity.source_id === sourceId),
      )
      .map((identity) => this.identityJson(identity));
    return { status: 200, body: page(identities, params) };
  }

  private showIdentity(id: string | undefined): JsonResponse {
    const identity = id === undefined ? undefined : this.state.identities.get(id);
    return identity ? { status: 200, body: this.identityJson(identity) } : restError(404, `Identity ${id ?? ''} not found`);
  }

  private identityJson(identity: Identity): IdentityJson {
    const userIds = identity.puppetizable ? [...this.state.agents.values()].map((agent) => agent.id) : [];
    return {
      id: identity.id,
      foreign_id: identity.foreign_id,
      source_id: identity.source_id,
      screenname: identity.screenname,
      firstname: identity.firstname,
      lastname: identity.lastname,
      email: identity.email,
      identity_group_id: identity.identity_group_id,
      user_ids: userIds,
      created_at: identity.created_at,
      updated_at: identity.updated_at,
    };
  }

  // ---- content threads ----

  /** Only imported threads exist for REST; import is asynchronous. */
  private importedThread(id: string | undefined): SimThread {
    const thread = id === undefined ? undefined : this.state.threads.get(id);
    if (!thread || !thread.imported) throw new DeskError('not_found', `Content thread ${id ?? ''} not found`);
    return thread;
  }

  private listThreads(params: RestParams): JsonResponse {
    const query = parseSearchQuery(params.get('q') ?? '');
    const foreign = query.get('foreign') ?? [];
    const sources = query.get('source') ?? [];
    const categorizedIn = query.get('categorized_in') ?? [];
    const identities = query.get('identity') ?? [];
    const threads = [...this.state.threads.values()].filter((thread) => {
      if (!thread.imported) return false;
      if (foreign.length > 0 && !foreign.includes(thread.foreign_id)) return false;
      if (sources.length > 0 && !sources.includes(thread.source_id)) return false;
      if (categorizedIn.length > 0 && !thread.category_ids.some((id) => categorizedIn.includes(id))) return false;
      if (identities.length > 0) {
        const authors = this.state.threadMessages(thread).map((message) => message.author_identity_id);
        if (!authors.some((id) => identities.includes(id))) return false;
      }
      return true;
    });
    const order = query.get('order')?.[0] ?? 'last_content_at.desc';
    const key = (thread: SimThread): string => (order.startsWith('created_at') ? thread.created_at : thread.updated_at);
    threads.sort((a, b) => key(a).localeCompare(key(b)) * (order.endsWith('.asc') ? 1 : -1));
    return { status: 200, body: page(threads.map(threadJson), params) };
  }

  private showThread(id: string | undefined): JsonResponse {
    return { status: 200, body: threadJson(this.importedThread(id)) };
  }

  /** Replaces the thread categories; one categorization at a time per thread (409 otherwise). */
  private updateCategories(id: string | undefined, params: RestParams): JsonResponse {
    const thread = this.importedThread(id);
    if (thread.categorizing) return restError(409, 'A categorization is already running on this thread', 'conflict');
    if (!params.has('thread_category_ids')) return restError(422, 'thread_category_ids[] is required');
    const categoryIds = params.getAll('thread_category_ids').filter(Boolean);
    const unknown = categoryIds.filter((categoryId) => !this.state.categories.has(categoryId));
    if (unknown.length > 0) return restError(422, `Unknown category id(s): ${unknown.join(', ')}`);
    this.options.desk.recategorize(thread, categoryIds, this.options.tokenUserId);
    thread.categorizing = true;
    this.options.scheduler.after(this.options.categorizeDurationMs, () => {
      thread.categorizing = false;
    });
    return { status: 200, body: threadJson(thread) };
  }

  private setThreadClosed(id: string | undefined, closed: boolean): JsonResponse {
    const thread = this.importedThread(id);
    thread.closed = closed;
    thread.updated_at = isoSeconds(this.options.clock());
    this.state.changed('thread', thread.id);
    return { status: 200, body: threadJson(thread) };
  }

  // ---- interventions ----

  private intervention(id: string | undefined): SimIntervention {
    const intervention = id === undefined ? undefined : this.state.interventions.get(id);
    if (!intervention) throw new DeskError('not_found', `Intervention ${id ?? ''} not found`);
    return intervention;
  }

  private listInterventions(params: RestParams): JsonResponse {
    const threadId = params.get('thread_id');
    const userId = params.get('user_id');
    const identityId = params.get('identity_id');
    const status = params.get('status');
    if (status !== undefined && !['active', 'opened', 'reopened', 'deferred', 'closed'].includes(status)) {
      return restError(400, `Invalid status ${status}`);
    }
    const records = [...this.state.interventions.values()].filter((intervention) => {
      if (threadId !== undefined && intervention.thread_id !== threadId) return false;
      if (userId !== undefined && intervention.user_id !== userId) return false;
      if (identityId !== undefined && intervention.identity_id !== identityId) return false;
      if (status === 'active' || status === 'opened') return intervention.status === 'opened';
      if (status === 'closed') return intervention.status !== 'opened';
      // Nothing is ever deferred or reopened in the simulator.
      if (status === 'reopened' || status === 'deferred') return false;
      return true;
    });
    const sortKey = params.get('sort') === 'updated_at' ? 'updated_at' : 'created_at';
    records.sort((a, b) => b[sortKey].localeCompare(a[sortKey]));
    return { status: 200, body: page(records.map(interventionJson), params) };
  }

  private showIntervention(id: string | undefined): JsonResponse {
    return { status: 200, body: interventionJson(this.intervention(id)) };
  }

  /** Closing takes a moment (closeDurationMs); a second close meanwhile gets 409. */
  private async closeIntervention(id: string | undefined): Promise<JsonResponse> {
    const intervention = this.intervention(id);
    this.options.desk.assertClosable(intervention);
    intervention.closing = true;
    this.state.changed('intervention', intervention.id);
    await this.options.scheduler.sleep(this.options.closeDurationMs);
    this.options.desk.close(intervention, this.options.tokenUserId);
    return { status: 200, body: interventionJson(intervention) };
  }

  private cancelIntervention(id: string | undefined): JsonResponse {
    const intervention = this.intervention(id);
    this.options.desk.assertCancelable(intervention);
    this.options.desk.cancel(intervention, this.options.tokenUserId);
    return { status: 200, body: interventionJson(intervention) };
  }
}

class ParamError extends Error {}

function intParam(params: RestParams, name: string, fallback: number): number {
  const raw = params.get(name);
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ParamError(`${name} must be a non-negative integer`);
  return Number(raw);
}

/** pagination.md: offset default 0, limit default 30, max 150. */
export function page<T>(items: T[], params: RestParams): PageJson<T> {
  const offset = intParam(params, 'offset', 0);
  const limit = Math.min(150, intParam(params, 'limit', 30));
  return { count: items.length, offset, limit, records: items.slice(offset, offset + limit) };
}

/** `key:value key:"v w"` (pagination.md); bare words go to `text`. */
export function parseSearchQuery(q: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  const pattern = /(?:(-?[a-z_]+):)?(?:"([^"]*)"|(\S+))/g;
  for (const match of q.matchAll(pattern)) {
    const key = match[1] ?? 'text';
    const value = match[2] ?? match[3] ?? '';
    result.set(key, [...(result.get(key) ?? []), value]);
  }
  return result;
}

export function threadJson(thread: SimThread): ContentThreadJson {
  return {
    id: thread.id,
    source_id: thread.source_id,
    title: thread.title,
    closed: thread.closed,
    category_ids: [...thread.category_ids],
    thread_category_ids: [...thread.category_ids],
    foreign_id: thread.foreign_id,
    extra_data: {},
    created_at: thread.created_at,
    updated_at: thread.updated_at,
  };
}

export function interventionJson(intervention: SimIntervention): InterventionJson {
  return {
    id: intervention.id,
    thread_id: intervention.thread_id,
    content_id: intervention.content_id,
    source_id: intervention.source_id,
    identity_id: intervention.identity_id,
    user_id: intervention.user_id,
    category_ids: [...intervention.category_ids],
    closed: intervention.status !== 'opened',
    closed_at: intervention.closed_at,
    deferred_at: intervention.deferred_at,
    status: intervention.status,
    custom_fields: {},
    first_user_reply_in: intervention.first_user_reply_in,
    created_at: intervention.created_at,
    updated_at: intervention.updated_at,
  };
}
