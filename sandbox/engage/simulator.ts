import type { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { SDK_SIGNATURE_HEADER } from '../../relay/src/engage/sdkSignature';
import {
  AgentActions,
  type AgentReplyInput,
  type AgentReplyResult,
  type QueuingUpdateInput,
  type QueuingUpdateResult,
} from './agentActions';
import { Desk, DeskError } from './desk';
import { FaultInjector, sendApiFaultBody, type FaultSpec } from './faults';
import { OutboundHttp, headerValue } from './httpClient';
import {
  implementationInfoSchema,
  type AgentUserJson,
  type CategoryJson,
  type SourceCapabilities,
  type WebhookEvent,
  type WebhookRegistration,
} from './objects';
import { RestApi, restError, type JsonResponse } from './restApi';
import { MAX_SEND_API_BYTES, SendApi } from './sendApi';
import { SourceSdkClient } from './sourceSdkClient';
import {
  SimulatorState,
  type DroppedItem,
  type Identity,
  type QueueInfo,
  type SendApiLogEntry,
  type SimIntervention,
  type SimMessage,
  type SimTask,
  type SimThread,
  type SourceCallRecord,
} from './state';
import { newObjectId, Scheduler, snapshot } from './util';
import { WebhookDispatcher, type DeliveryLogEntry, type RegisterResult, type WebhookSubscription } from './webhookDispatcher';

export interface EngageSimulatorOptions {
  /** e.g. 'src-1'; Send API path /realtime/sdk/<sourceId>. */
  sourceId: string;
  /** The source's API access token: HMAC key of X-SMCCSDK-SIGNATURE both ways. */
  realtimeAccessToken: string;
  /** REST Bearer token, bound to the 'bot' agent user that /1.0/users/me returns. */
  apiAccessToken: string;
  /** The source's Base URI (the relay's <url>/handover/rce); or setSourceBaseUri() later. */
  baseUri?: string;
  /** Created as Cognigy > Bot / Agent. */
  categories?: { parentId: string; botId: string; agentId: string };
  /** Asynchronous thread import delay (default 30). */
  importDelayMs?: number;
  /** A categorization runs this long; a second update_categories meanwhile gets 409 (default 20). */
  categorizeDurationMs?: number;
  /** Closing an intervention via REST takes this long; a second close meanwhile gets 409 (default 20). */
  closeDurationMs?: number;
  /** Per token per minute (default 500). */
  restRateLimitPerMinute?: number;
  /** Agent reply create retried up to this many times with retry:true (default 3). */
  agentReplyRetries?: number;
  /** Pause between agent reply attempts (default 10; Engage waits much longer). */
  agentReplyRetryDelayMs?: number;
  /** Scaled-down webhook retry schedule (default [50, 200, 800, 2000, 5000]). */
  webhookRetryDelaysMs?: number[];
  /** Events issued within this window share one POST (default 10). */
  webhookBatchWindowMs?: number;
  webhookTimeoutMs?: number;
  /** Timeout of calls to the Base URI (default 5000). */
  sourceTimeoutMs?: number;
  domainId?: string;
  logger?: Logger;
  /** Injectable clock for deterministic `time` fields (test vectors). */
  clock?: () => Date;
  /**
   * Agent replies without `content_id`, like the Source SDK quick-start sample
   * (docs/sdks/source-sdk/quick-start.md): a source cannot count on it being there.
   */
  agentRepliesWithoutContentId?: boolean;
  /** Open interventions at which an agent's busyness is "full" (channel hard capability; default 3). */
  agentHardCapability?: number;
  /** Webhook `resource.id` as an integer, as docs/webhooks/events.md types it (its samples show strings). */
  numericWebhookResourceIds?: boolean;
  /**
   * Categories an Engage rule sets on every imported thread (Admin > Rules): update_categories replaces
   * the whole set, so a source that does not merge wipes them.
   */
  ruleCategoryIds?: string[];
}

export const DEFAULT_CATEGORIES = {
  parentId: '5f1c00000000000000000c01',
  botId: '5f1c00000000000000000c02',
  agentId: '5f1c00000000000000000c03',
} as const;
export const BOT_USER_ID = '5f1c00000000000000000a01';
export const DEFAULT_AGENT_ID = '5f1c00000000000000000a02';

export interface MessageView extends SimMessage {
  /** The author identity (for agent replies: the controlled identity used). */
  author: Identity;
}

export interface ThreadView extends Omit<SimThread, 'messageIds' | 'categorizing'> {
  /** Same as category_ids (camelCase for pages and tests). */
  categoryIds: string[];
  messages: MessageView[];
  /** The first customer author: the profile agents see. */
  customer: Identity | null;
  interventions: SimIntervention[];
  task: SimTask | null;
  queue: QueueInfo | null;
  /** In the Agent category, so visible in the agents' folder. */
  inAgentFolder: boolean;
}

const REST_MAX_BYTES = 10 * 1024 * 1024;

export class EngageSimulator {
  readonly options: Readonly<EngageSimulatorOptions>;
  private readonly state = new SimulatorState();
  private readonly scheduler = new Scheduler();
  private readonly http = new OutboundHttp();
  private readonly faults = new FaultInjector();
  private readonly logger: Logger;
  private readonly clock: () => Date;
  private readonly categoryIds: { parentId: string; botId: string; agentId: string };
  private readonly desk: Desk;
  private readonly webhookDispatcher: WebhookDispatcher;
  private readonly sendApi: SendApi;
  private readonly restApi: RestApi;
  private readonly client: SourceSdkClient;
  private readonly agentActions: AgentActions;
  private baseUri: string | undefined;
  private server: http.Server | undefined;
  private serverUrl: string | undefined;
  private pendingAgentWork = 0;

  constructor(options: EngageSimulatorOptions) {
    this.options = options;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.clock = options.clock ?? (() => new Date());
    this.baseUri = options.baseUri;
    this.categoryIds = options.categories ?? { ...DEFAULT_CATEGORIES };
    this.seedDirectory();
    const channelId = newObjectId();
    // The realtime channel of the source; "hard capability" is the tasks at which an agent is full.
    this.state.channel = {
      id: channelId,
      name: 'Realtime',
      source_ids: [options.sourceId],
      hard_capability: options.agentHardCapability ?? 3,
    };

    const onChange = (): void => this.state.changed('webhook');
    this.webhookDispatcher = new WebhookDispatcher({
      domainId: options.domainId ?? newObjectId(),
      http: this.http,
      scheduler: this.scheduler,
      clock: this.clock,
      retryDelaysMs: options.webhookRetryDelaysMs ?? [50, 200, 800, 2000, 5000],
      batchWindowMs: options.webhookBatchWindowMs ?? 10,
      timeoutMs: options.webhookTimeoutMs ?? 5000,
      logger: this.logger,
      onChange,
    });
    this.desk = new Desk({
      state: this.state,
      sourceId: options.sourceId,
      agentCategoryId: this.categoryIds.agentId,
      channelId,
      clock: this.clock,
      numericResourceIds: options.numericWebhookResourceIds ?? false,
      issue: (event) => this.issue(event),
    });
    this.sendApi = new SendApi({
      state: this.state,
      desk: this.desk,
      scheduler: this.scheduler,
      clock: this.clock,
      logger: this.logger,
      sourceId: options.sourceId,
      realtimeAccessToken: options.realtimeAccessToken,
      botCategoryId: this.categoryIds.botId,
      ruleCategoryIds: options.ruleCategoryIds ?? [],
      importDelayMs: options.importDelayMs ?? 30,
    });
    this.restApi = new RestApi({
      state: this.state,
      desk: this.desk,
      scheduler: this.scheduler,
      clock: this.clock,
      apiAccessToken: options.apiAccessToken,
      tokenUserId: BOT_USER_ID,
      rateLimitPerMinute: options.restRateLimitPerMinute ?? 500,
      categorizeDurationMs: options.categorizeDurationMs ?? 20,
      closeDurationMs: options.closeDurationMs ?? 20,
      webhooks: this.webhookDispatcher,
    });
    this.client = new SourceSdkClient({
      baseUri: () => this.baseUri,
      realtimeAccessToken: options.realtimeAccessToken,
      http: this.http,
      clock: this.clock,
      timeoutMs: options.sourceTimeoutMs ?? 5000,
      record: (call) => {
        this.state.sourceCalls.push(call);
        this.state.changed('sourceCall');
      },
    });
    this.agentActions = new AgentActions({
      state: this.state,
      desk: this.desk,
      client: this.client,
      scheduler: this.scheduler,
      clock: this.clock,
      logger: this.logger,
      retries: options.agentReplyRetries ?? 3,
      retryDelayMs: options.agentReplyRetryDelayMs ?? 10,
      tokenUserId: BOT_USER_ID,
      withoutContentId: options.agentRepliesWithoutContentId ?? false,
    });
  }

  /** Admin setup from the seed doc: Cognigy > Bot / Agent categories, a bot token user, one human agent. */
  private seedDirectory(): void {
    const { parentId, botId, agentId } = this.categoryIds;
    const category = (id: string, name: string, parent: string | null): CategoryJson => ({
      id,
      name,
      parent_id: parent,
      source_ids: [this.options.sourceId],
      mandatory: false,
      multiple: true,
      unselectable: false,
      post_qualification: false,
    });
    this.state.categories.set(parentId, category(parentId, 'Cognigy', null));
    this.state.categories.set(botId, category(botId, 'Bot', parentId));
    this.state.categories.set(agentId, category(agentId, 'Agent', parentId));
    for (const ruleCategoryId of this.options.ruleCategoryIds ?? []) {
      this.state.categories.set(ruleCategoryId, category(ruleCategoryId, `Rule ${ruleCategoryId.slice(-4)}`, null));
    }
    this.state.agents.set(BOT_USER_ID, {
      id: BOT_USER_ID,
      firstname: 'Cognigy',
      lastname: 'Bot',
      nickname: 'cognigy-bot',
      email: 'bot@example.invalid',
      enabled: true,
      category_ids: [botId],
      team_ids: [],
      identity_ids: [],
    });
    this.state.agents.set(DEFAULT_AGENT_ID, {
      id: DEFAULT_AGENT_ID,
      firstname: 'Alice',
      lastname: 'Agent',
      nickname: 'alice',
      email: 'alice@example.invalid',
      enabled: true,
      category_ids: [agentId],
      team_ids: [],
      identity_ids: [],
    });
    // The sandbox agent starts connected and available (the desk can set away).
    this.state.agentStatus.set(DEFAULT_AGENT_ID, 'available');
  }

  // ---- lifecycle ----

  async start(port = 0, host = '127.0.0.1'): Promise<{ url: string }> {
    if (this.server) throw new Error('simulator already started');
    if (this.scheduler.isStopped) throw new Error('a stopped simulator cannot be restarted; create a new one');
    const server = http.createServer((req, res) => void this.onRequest(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.serverUrl = `http://${hostPart}:${address.port}`;
    return { url: this.serverUrl };
  }

  /** Closes the server, cancels every timer and outbound request. */
  async stop(): Promise<void> {
    this.scheduler.stop();
    this.http.destroy();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  get url(): string {
    if (!this.serverUrl) throw new Error('simulator not started');
    return this.serverUrl;
  }

  /** What the admin copies into "Realtime Endpoint URL". */
  get realtimeEndpointUrl(): string {
    return `${this.url}/realtime/sdk/${this.options.sourceId}`;
  }

  /** What the admin builds as "Base API URL"; REST lives under /1.0. */
  get baseApiUrl(): string {
    return `${this.url}/1.0`;
  }

  get categories(): { parentId: string; botId: string; agentId: string } {
    return { ...this.categoryIds };
  }

  get botUserId(): string {
    return BOT_USER_ID;
  }

  get events(): EventEmitter {
    return this.state.events;
  }

  // ---- the source (admin side) ----

  setSourceBaseUri(baseUri: string): void {
    this.baseUri = baseUri;
  }

  /**
   * Saving the source in the admin: POSTs implementation.info to the Base URI and learns which
   * objects/actions and options the source implements. Throws when the answer is unusable.
   */
  async saveSource(): Promise<SourceCapabilities> {
    const response = await this.client.call('implementation.info');
    if (!response.ok) throw new Error(`implementation.info failed: ${response.error ?? 'unknown error'}`);
    const parsed = implementationInfoSchema.safeParse(response.json);
    if (!parsed.success) {
      throw new Error(`implementation.info answer is invalid (expected {objects:{...}, options:[...]}): ${parsed.error.message}`);
    }
    const options = parsed.data.options ?? [];
    const objects = parsed.data.objects;
    const warnings: string[] = [];
    if (options.includes('messaging.typing_indicator') && !options.includes('view.messaging')) {
      warnings.push('messaging.typing_indicator needs view.messaging');
    }
    if (options.includes('view.messaging') && objects['messages'] && objects['private_messages']) {
      warnings.push('view.messaging needs exactly one of messages / private_messages');
    }
    const capabilities: SourceCapabilities = { objects, options, warnings };
    if (parsed.data.locales) capabilities.locales = parsed.data.locales;
    this.state.capabilities = capabilities;
    this.state.changed('capabilities');
    return snapshot(capabilities);
  }

  get capabilities(): SourceCapabilities | null {
    return this.state.capabilities ? snapshot(this.state.capabilities) : null;
  }

  // ---- agents ----

  /** Admin > Categories > +: another category (e.g. one a bot builder adds on handover). */
  addCategory(id: string, name: string, parentId: string | null = null): CategoryJson {
    const created: CategoryJson = {
      id,
      name,
      parent_id: parentId,
      source_ids: [this.options.sourceId],
      mandatory: false,
      multiple: true,
      unselectable: false,
      post_qualification: false,
    };
    this.state.categories.set(id, created);
    return snapshot(created);
  }

  addAgent(agent: { firstname: string; lastname: string; nickname?: string; email?: string; categoryIds?: string[] }): AgentUserJson {
    const created: AgentUserJson = {
      id: newObjectId(),
      firstname: agent.firstname,
      lastname: agent.lastname,
      nickname: agent.nickname ?? agent.firstname.toLowerCase(),
      email: agent.email ?? `${agent.firstname.toLowerCase()}@example.invalid`,
      enabled: true,
      category_ids: agent.categoryIds ?? [this.categoryIds.agentId],
      team_ids: [],
      identity_ids: [],
    };
    this.state.agents.set(created.id, created);
    this.state.changed('agent', created.id);
    return snapshot(created);
  }

  agents(): AgentUserJson[] {
    return snapshot([...this.state.agents.values()]);
  }

  /** The agent's status on the channel: available, away, or null (disconnected, not listed by `/status`). */
  setAgentStatus(agentId: string, status: 'available' | 'away' | null): void {
    if (!this.state.agents.has(agentId)) throw new DeskError('not_found', `agent ${agentId} not found`);
    if (status === null) this.state.agentStatus.delete(agentId);
    else this.state.agentStatus.set(agentId, status);
    this.state.changed('agent', agentId);
  }

  agentStatusOf(agentId: string): 'available' | 'away' | null {
    return this.state.agentStatus.get(agentId) ?? null;
  }

  /** An agent or admin hands the conversation to another agent (→ task.transferred, intervention.user_updated). */
  transferIntervention(interventionIdOrThreadId: string, toAgentId: string, byUserId?: string): SimIntervention {
    const intervention = this.findIntervention(interventionIdOrThreadId);
    const toAgent = this.agentActions.resolveAgent(toAgentId);
    this.desk.transfer(intervention, toAgent, byUserId ?? intervention.user_id);
    return snapshot(intervention);
  }

  /** An agent answers in the thread (→ messages.create to the Base URI, with Engage's retries). */
  async agentReply(input: AgentReplyInput): Promise<AgentReplyResult> {
    return this.trackAgentWork(() => this.agentActions.reply(input));
  }

  /** Routing tells the source where the customer stands in the queue. */
  async queuingUpdate(input: QueuingUpdateInput): Promise<QueuingUpdateResult> {
    return this.trackAgentWork(() => this.agentActions.queuingUpdate(input));
  }

  /** The agent engages a thread of the Agent folder (→ intervention.opened). */
  openIntervention(threadId: string, agentId?: string): SimIntervention {
    const thread = this.agentActions.resolveThread(threadId);
    return snapshot(this.desk.openIntervention(thread, this.agentActions.resolveAgent(agentId)));
  }

  /** Task mode: the agent accepts the pending request (→ task.taken, then intervention.opened). */
  takeTask(threadId: string, agentId?: string): SimTask {
    const thread = this.agentActions.resolveThread(threadId);
    return snapshot(this.desk.takeTask(thread, this.agentActions.resolveAgent(agentId)));
  }

  /**
   * The agent closes the conversation (→ intervention.closed). Like Engage, only an open
   * intervention with at least one agent reply can be closed; otherwise use cancelIntervention.
   */
  closeIntervention(interventionIdOrThreadId: string, agentId?: string): SimIntervention {
    const intervention = this.findIntervention(interventionIdOrThreadId);
    this.desk.assertClosable(intervention);
    this.desk.close(intervention, agentId ?? intervention.user_id);
    return snapshot(intervention);
  }

  /** The agent releases the thread without answering (→ intervention.canceled). */
  cancelIntervention(interventionIdOrThreadId: string, agentId?: string): SimIntervention {
    const intervention = this.findIntervention(interventionIdOrThreadId);
    this.desk.assertCancelable(intervention);
    this.desk.cancel(intervention, agentId ?? intervention.user_id);
    return snapshot(intervention);
  }

  private findIntervention(interventionIdOrThreadId: string): SimIntervention {
    const direct = this.state.interventions.get(interventionIdOrThreadId);
    if (direct) return direct;
    const thread = this.state.findThread(interventionIdOrThreadId);
    const open = thread ? this.state.openIntervention(thread.id) : undefined;
    if (!open) throw new DeskError('not_found', `no open intervention for ${interventionIdOrThreadId}`);
    return open;
  }

  private async trackAgentWork<T>(work: () => Promise<T>): Promise<T> {
    this.pendingAgentWork += 1;
    try {
      return await work();
    } finally {
      this.pendingAgentWork -= 1;
    }
  }

  // ---- webhooks ----

  registerWebhook(registration: WebhookRegistration): Promise<RegisterResult> {
    return this.webhookDispatcher.register(registration);
  }

  /** Re-runs the handshake, as Engage does when an admin re-enables a webhook. */
  reverifyWebhook(webhookId: string): Promise<RegisterResult> {
    return this.webhookDispatcher.verify(webhookId);
  }

  webhooks(): WebhookSubscription[] {
    return this.webhookDispatcher.webhooks();
  }

  duplicateNextDelivery(): void {
    this.webhookDispatcher.duplicateNextDelivery();
  }

  shuffleNextBatch(): void {
    this.webhookDispatcher.shuffleNextBatch();
  }

  private issue(event: WebhookEvent): void {
    this.state.issuedEvents.push(event);
    this.webhookDispatcher.issue(event);
  }

  // ---- test controls ----

  /** The next matching requests answer `status` (documented body shape) and/or are delayed. */
  failNext(spec: FaultSpec): void {
    this.faults.add(spec);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Resolves when no import, categorization, webhook batch/retry, agent call or request is pending. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isIdle()) {
      if (this.scheduler.isStopped) return;
      if (Date.now() > deadline) throw new Error(`simulator not idle after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Sends waiting webhook batches now, then waits for idle. */
  async flush(timeoutMs = 10_000): Promise<void> {
    this.webhookDispatcher.flushPending();
    await this.idle(timeoutMs);
  }

  private isIdle(): boolean {
    return (
      this.scheduler.pendingCount === 0 &&
      this.http.inFlight === 0 &&
      this.pendingAgentWork === 0 &&
      !this.webhookDispatcher.hasPendingBatches
    );
  }

  // ---- introspection ----

  threads(): ThreadView[] {
    return [...this.state.threads.values()].map((thread) => this.threadView(thread));
  }

  thread(threadIdOrForeignId: string): ThreadView | undefined {
    const thread = this.state.findThread(threadIdOrForeignId);
    return thread ? this.threadView(thread) : undefined;
  }

  /** Threads agents see in the Agent folder (imported, in the Agent category). */
  agentFolder(): ThreadView[] {
    return this.threads().filter((thread) => thread.imported && thread.inAgentFolder);
  }

  /** Identities (the source's users) known to Engage. */
  users(): Identity[] {
    return snapshot([...this.state.identities.values()]);
  }

  interventions(): SimIntervention[] {
    return snapshot([...this.state.interventions.values()]);
  }

  tasks(): SimTask[] {
    return snapshot([...this.state.tasks.values()]);
  }

  get sendApiLog(): SendApiLogEntry[] {
    return snapshot(this.state.sendApiLog);
  }

  get droppedItems(): DroppedItem[] {
    return snapshot(this.state.droppedItems);
  }

  get sourceCalls(): SourceCallRecord[] {
    return snapshot(this.state.sourceCalls);
  }

  get deliveryLog(): DeliveryLogEntry[] {
    return this.webhookDispatcher.deliveryLog;
  }

  /** Every webhook event issued, whether or not a webhook subscribed to it. */
  get issuedEvents(): WebhookEvent[] {
    return snapshot(this.state.issuedEvents);
  }

  private threadView(thread: SimThread): ThreadView {
    const { messageIds: _messageIds, categorizing: _categorizing, ...rest } = thread;
    const messages = this.state.threadMessages(thread).flatMap((message) => {
      const author = this.state.identities.get(message.author_identity_id);
      return author ? [{ ...message, author }] : [];
    });
    const view: ThreadView = {
      ...rest,
      categoryIds: [...thread.category_ids],
      messages,
      customer: this.state.customerOf(thread) ?? null,
      interventions: [...this.state.interventions.values()].filter((intervention) => intervention.thread_id === thread.id),
      task: this.state.activeTask(thread.id) ?? null,
      queue: thread.queue,
      inAgentFolder: thread.category_ids.includes(this.categoryIds.agentId),
    };
    return snapshot(view);
  }

  // ---- HTTP adapter ----

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://simulator.invalid');
      const path = url.pathname;
      const sendMatch = /^\/realtime\/sdk\/([^/]+)\/?$/.exec(path);
      if (sendMatch?.[1] !== undefined && req.method === 'POST') {
        const { body, tooLarge } = await readBody(req, MAX_SEND_API_BYTES);
        const fault = this.faults.take('send', path);
        if (fault?.delayMs) await this.scheduler.sleep(fault.delayMs);
        if (fault?.status !== undefined) {
          sendText(res, fault.status, sendApiFaultBody(fault.status), fault.retryAfterSeconds);
          return;
        }
        const signature = headerValue(req.headers, SDK_SIGNATURE_HEADER) ?? url.searchParams.get('signature') ?? undefined;
        const response = this.sendApi.handle({
          sourceId: decodeURIComponent(sendMatch[1]),
          rawBody: body,
          tooLarge,
          signature,
        });
        sendText(res, response.status, response.body);
        return;
      }
      if (path === '/1.0' || path.startsWith('/1.0/')) {
        const { body, tooLarge } = await readBody(req, REST_MAX_BYTES);
        const fault = this.faults.take('rest', path);
        if (fault?.delayMs) await this.scheduler.sleep(fault.delayMs);
        if (fault?.status !== undefined) {
          const injected = restError(fault.status, `Injected failure (HTTP ${fault.status})`);
          if (fault.retryAfterSeconds !== undefined) injected.headers = { 'retry-after': String(fault.retryAfterSeconds) };
          sendJson(res, injected);
          return;
        }
        if (tooLarge) {
          sendJson(res, restError(413, 'Request body too large'));
          return;
        }
        const response = await this.restApi.handle({
          method: req.method ?? 'GET',
          path: path.slice('/1.0'.length) || '/',
          query: url.searchParams,
          headers: req.headers,
          rawBody: body,
        });
        sendJson(res, response);
        return;
      }
      await readBody(req, 0);
      sendText(res, 404, 'Not Found');
    } catch (err) {
      this.logger.error({ err }, 'simulator request failed');
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
    }
  }
}

/** Reads the body up to `maxBytes`; beyond that keeps draining (so the client can read our 413). */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge }));
    req.on('error', reject);
  });
}

function sendText(res: http.ServerResponse, status: number, body: string, retryAfterSeconds?: number): void {
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  res.writeHead(status, headers);
  res.end(body);
}

function sendJson(res: http.ServerResponse, response: JsonResponse): void {
  res.writeHead(response.status, { 'content-type': 'application/json; charset=utf-8', ...response.headers });
  res.end(JSON.stringify(response.body));
}
