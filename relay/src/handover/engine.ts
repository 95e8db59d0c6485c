import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  CancelHandoverRequest,
  CancelHandoverResponse,
  CognigySession,
  InjectedHandoverEvent,
  QueueStatusRequest,
  QueueStatusResponse,
  SendProfileRequest,
  SendProfileResponse,
  StartHandoverRequest,
  StartHandoverResponse,
  UserMessageRequest,
  UserMessageResponse,
} from '../../../contract/relayApi';
import type { UserAttachment } from '../../../contract/userAttachment';
import type { TenantConfig } from '../config';
import { buildEngageUser, mergeContextData, type EngageUser } from '../engage/profileMapping';
import type { AgentReplyParams, QueuingUpdateParams } from '../engage/sourceSdkProtocol';
import { interventionMetadataSchema, type WebhookEvent } from '../engage/webhookProtocol';
import { cognigyJob, engageCategorizeJob, engageEndInterventionJob, engageSendJob, summarizeJob } from '../outbox/jobs';
import type { Conversation, HistoryNote, LeaseRequest, Mutation, NewOutboxJob, OutboxJob, Store, WriteSource } from '../store/types';
import { agentReplyIdFor, authorIdFor, messageIdFor, threadIdFor } from './identity';
import { tenantIdentityUsers } from '../engage/tenantIdentities';
import { agentReplyToNotify } from './agentReplyText';

/**
 * The handover state machine. It never speaks HTTP: it turns requests and Engage events into
 * atomic store mutations (conversation state + outbox jobs). The outbox worker does the I/O.
 */

export interface EngineSettings {
  outboxDeadlineMs: number;
  /** How long request ids and Engage ids are remembered for de-duplication. */
  dedupTtlMs: number;
  /** Queue updates and other signed bodies are de-duplicated for at least the replay window. */
  replayWindowMs: number;
}

/**
 * The local outbox worker as the engine sees it. A write leases the jobs that open an empty lane
 * to this worker, which runs them at once (no claim round trip); other jobs wait in their lane and
 * the worker is told to look.
 */
export interface LocalOutbox {
  /** null while the worker is stopping: jobs are then left for the next claim (this relay's restart or another relay). */
  leaseRequest(): LeaseRequest | null;
  runLeased(jobs: readonly OutboxJob[]): void;
  kick(): void;
}

type Decision<R> = { mutation?: Omit<Mutation, 'conversation'>; conversation?: Conversation; result: R };

const ACTIVE: ReadonlySet<Conversation['status']> = new Set(['queued', 'active']);
const MAX_CONFLICT_RETRIES = 8;
/** How long after a handover start the thread is first looked up in Engage (it must have been imported). */
const CATEGORIZE_AFTER_MS = 250;

export class HandoverEngine {
  constructor(
    private readonly deps: {
      store: Store;
      logger: Logger;
      settings: EngineSettings;
      clock?: () => number;
      /** The local outbox worker: runs at once what a write leased to it, and is told about the rest. */
      outbox?: LocalOutbox;
    },
  ) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }
  private iso(): string {
    return new Date(this.now()).toISOString();
  }
  private deadline(): number {
    return this.now() + this.deps.settings.outboxDeadlineMs;
  }

  /**
   * Read-decide-write with optimistic concurrency: the decision is recomputed if another writer
   * (another request, another relay) changed the conversation in between.
   */
  private async mutate<R>(
    tenantId: string,
    threadId: string,
    decide: (current: Conversation | null) => Decision<R>,
    onDuplicate: (current: Conversation | null) => R,
    /** The conversation as the caller just read it: saves the first read (later attempts re-read). */
    prefetched?: Conversation | null,
  ): Promise<R> {
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
      const current = attempt === 0 && prefetched !== undefined ? prefetched : await this.deps.store.getConversation(tenantId, threadId);
      const decision = decide(current);
      const mutation: Mutation = { scope: { tenantId, threadId }, ...decision.mutation };
      if (decision.conversation) {
        mutation.conversation = {
          value: { ...decision.conversation, version: (current?.version ?? 0) + 1, updatedAt: this.iso() },
          expectedVersion: current ? current.version : null,
        };
      }
      if (!mutation.conversation && !mutation.jobs?.length && !mutation.dedup) return decision.result;
      const history = historyNote(current, decision.conversation, mutation);
      if (history) mutation.history = history;
      const jobCount = mutation.jobs?.length ?? 0;
      const lease = jobCount > 0 ? (this.deps.outbox?.leaseRequest() ?? null) : null;
      const { outcome, leased } = await this.deps.store.apply(mutation, lease ?? undefined);
      if (outcome === 'applied') {
        if (leased.length > 0) this.deps.outbox?.runLeased(leased);
        if (jobCount > leased.length) this.deps.outbox?.kick();
        return decision.result;
      }
      if (outcome === 'duplicate') return onDuplicate(current);
    }
    throw new Error(`conversation ${threadId} is changing too fast (write conflicts)`);
  }

  private newConversation(tenant: TenantConfig, session: CognigySession, screenname: string): Conversation {
    const now = this.iso();
    return {
      tenantId: tenant.sourceId,
      threadId: threadIdFor(tenant.sourceId, session),
      session,
      authorId: authorIdFor(tenant.sourceId, session),
      authorScreenname: screenname,
      status: 'idle',
      handoverCount: 0,
      options: { forwardOnlyHandoverConversations: true, getQueueUpdates: true },
      engageThreadId: null,
      interventionId: null,
      queue: null,
      lastEventAt: null,
      messageCount: 0,
      version: 0,
      createdAt: now,
      updatedAt: now,
    };
  }

  private contactAuthor(conversation: Conversation): EngageUser {
    return { id: conversation.authorId, screenname: conversation.authorScreenname, created_at: conversation.createdAt, updated_at: conversation.createdAt };
  }

  private botAuthor(tenant: TenantConfig): EngageUser {
    return tenantIdentityUsers(tenant.sourceId).bot;
  }

  /** Appends a Send API messages.create job and advances the conversation's message counter. */
  private messageJob(tenant: TenantConfig, conversation: Conversation, params: { author: EngageUser; body: string; createdAt?: string; contextData?: Record<string, string | string[]>; attachments?: UserAttachment[] }): NewOutboxJob {
    conversation.messageCount += 1;
    const message: Record<string, unknown> = {
      id: messageIdFor(conversation.threadId, conversation.messageCount),
      thread_id: conversation.threadId,
      body: params.body,
      format: 'text',
      created_at: params.createdAt ?? this.iso(),
      author: params.author,
    };
    if (params.contextData && Object.keys(params.contextData).length > 0) message.context_data = params.contextData;
    if (params.attachments?.length) message.attachments = params.attachments;
    return engageSendJob(tenant.sourceId, conversation.threadId, this.deadline(), { action: 'messages.create', params: message });
  }

  private injectJob(conversation: Conversation, event: Omit<InjectedHandoverEvent, 'source' | 'threadId'>): NewOutboxJob {
    const handover: InjectedHandoverEvent = { ...event, source: 'rce-handover', threadId: conversation.threadId };
    return cognigyJob('cognigy.inject', conversation.tenantId, conversation.threadId, this.deadline(), {
      ...conversation.session,
      text: '',
      data: { handover },
    });
  }

  private apiDedup(tenant: TenantConfig, requestId: string): Mutation['dedup'] {
    return { key: `api:${tenant.sourceId}:${requestId}`, ttlMs: this.deps.settings.dedupTtlMs };
  }

  // ---- Calls from the extension -------------------------------------------------------------

  async startHandover(tenant: TenantConfig, request: StartHandoverRequest): Promise<StartHandoverResponse> {
    const threadId = threadIdFor(tenant.sourceId, request.session);
    return this.mutate<StartHandoverResponse>(
      tenant.sourceId,
      threadId,
      (current) => {
        if (current && ACTIVE.has(current.status)) {
          return { result: { threadId, status: current.status, started: false } };
        }
        const now = this.iso();
        const base = current ?? this.newConversation(tenant, request.session, 'Customer');
        const user = buildEngageUser({ authorId: base.authorId, profile: request.profile, mapping: request.profileMapping, now, createdAt: base.createdAt });
        const conversation: Conversation = {
          ...base,
          authorScreenname: user.screenname,
          status: 'queued',
          handoverCount: base.handoverCount + 1,
          options: { forwardOnlyHandoverConversations: request.options.forwardOnlyHandoverConversations, getQueueUpdates: request.options.getQueueUpdates },
          interventionId: null,
          queue: null,
        };
        // The Bot and Agent identities are created once per tenant at start (TenantIdentities), never in this lane.
        const jobs: NewOutboxJob[] = [];
        const contact = { ...user, updated_at: now };
        for (const line of request.transcript) {
          jobs.push(this.messageJob(tenant, conversation, { author: line.role === 'bot' ? this.botAuthor(tenant) : contact, body: line.text, createdAt: line.at }));
        }
        const threadContext = mergeContextData(request.contextData, { handoverCount: String(conversation.handoverCount) });
        jobs.push(this.messageJob(tenant, conversation, { author: contact, body: request.firstMessage, contextData: threadContext }));
        // Engage imports the thread asynchronously after the first message; a lookup before that is a wasted
        // REST call (500/min per token). The lane runs the messages at once, so the categorisation waits a little.
        jobs.push(engageCategorizeJob(tenant.sourceId, this.deadline(), { threadId, purpose: 'handover', ...(request.additionalCategoryIds?.length ? { additionalCategoryIds: request.additionalCategoryIds } : {}) }, this.now() + CATEGORIZE_AFTER_MS));
        this.deps.logger.info({ tenant: tenant.sourceId, threadId, handover: conversation.handoverCount, transcriptLines: request.transcript.length }, 'handover started');
        return { conversation, mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs }, result: { threadId, status: 'queued', started: true } };
      },
      (current) => ({ threadId, status: current?.status ?? 'queued', started: false }),
    );
  }

  async userMessage(tenant: TenantConfig, request: UserMessageRequest): Promise<UserMessageResponse> {
    const threadId = threadIdFor(tenant.sourceId, request.session);
    return this.mutate<UserMessageResponse>(
      tenant.sourceId,
      threadId,
      (current) => {
        const inHandover = current !== null && ACTIVE.has(current.status);
        if (!inHandover && !request.mirror) return { result: { forwarded: false, status: current?.status ?? 'idle' } };
        const conversation = current ? { ...current } : this.newConversation(tenant, request.session, 'Customer');
        const author = request.role === 'bot' ? this.botAuthor(tenant) : this.contactAuthor(conversation);
        const job = this.messageJob(tenant, conversation, { author, body: request.text, attachments: request.attachments });
        return { conversation, mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs: [job] }, result: { forwarded: true, status: conversation.status } };
      },
      (current) => ({ forwarded: true, status: current?.status ?? 'idle' }),
    );
  }

  async cancelHandover(tenant: TenantConfig, request: CancelHandoverRequest): Promise<CancelHandoverResponse> {
    const threadId = threadIdFor(tenant.sourceId, request.session);
    return this.mutate<CancelHandoverResponse>(
      tenant.sourceId,
      threadId,
      (current) => {
        if (!current || !ACTIVE.has(current.status)) return { result: { status: current?.status ?? 'idle', cancelled: false } };
        const conversation: Conversation = { ...current, status: 'cancelled', queue: null };
        const jobs = [
          engageEndInterventionJob(tenant.sourceId, this.deadline(), { threadId }),
          engageCategorizeJob(tenant.sourceId, this.deadline(), { threadId, purpose: 'return_to_bot' }),
        ];
        this.deps.logger.info({ tenant: tenant.sourceId, threadId, reason: request.reason }, 'handover cancelled by user');
        return { conversation, mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs }, result: { status: 'cancelled', cancelled: true } };
      },
      (current) => ({ status: current?.status ?? 'cancelled', cancelled: current?.status === 'cancelled' }),
    );
  }

  async queueStatus(tenant: TenantConfig, request: QueueStatusRequest): Promise<QueueStatusResponse> {
    const conversation = await this.deps.store.getConversation(tenant.sourceId, threadIdFor(tenant.sourceId, request.session));
    const queue = conversation && ACTIVE.has(conversation.status) ? conversation.queue : null;
    return {
      status: conversation?.status ?? 'idle',
      known: queue !== null,
      position: queue?.position ?? null,
      estimatedWaitTime: queue?.estimatedWaitTimeMs ?? null,
      updatedAt: queue?.receivedAt ?? null,
    };
  }

  async sendProfile(tenant: TenantConfig, request: SendProfileRequest): Promise<SendProfileResponse> {
    const threadId = threadIdFor(tenant.sourceId, request.session);
    return this.mutate<SendProfileResponse>(
      tenant.sourceId,
      threadId,
      (current) => {
        const base = current ?? this.newConversation(tenant, request.session, 'Customer');
        const user = buildEngageUser({ authorId: base.authorId, profile: request.profile, mapping: request.profileMapping, now: this.iso(), createdAt: base.createdAt });
        const conversation: Conversation = { ...base, authorScreenname: user.screenname };
        const job = engageSendJob(tenant.sourceId, threadId, this.deadline(), { action: 'users.create', params: { ...user } });
        return { conversation, mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs: [job] }, result: { queued: true, authorId: base.authorId } };
      },
      (current) => ({ queued: true, authorId: current?.authorId ?? authorIdFor(tenant.sourceId, request.session) }),
    );
  }

  // ---- Calls from Engage ---------------------------------------------------------------------

  /**
   * An agent reply. Answered with a stable id derived from content_id, so Engage's retries
   * (`retry: true`) get the same answer and the user gets the message once.
   */
  async agentReply(tenant: TenantConfig, params: AgentReplyParams): Promise<{ id: string } | { error: { fatal: boolean; message: string } }> {
    const replyId = agentReplyIdFor(params.content_id);
    const current = await this.deps.store.getConversation(tenant.sourceId, params.thread_id);
    if (!current) {
      this.deps.logger.warn({ tenant: tenant.sourceId, threadId: params.thread_id }, 'agent reply for an unknown conversation: answered fatal');
      return { error: { fatal: true, message: 'Unknown conversation' } };
    }
    const notify = agentReplyToNotify(params);
    if (!notify) return { error: { fatal: true, message: 'Reply has neither text nor attachments' } };
    const known = await this.mutate<boolean>(
      tenant.sourceId,
      params.thread_id,
      (conv) => {
        // Gone since it was read (retention removed it): answered like any unknown conversation.
        if (!conv) return { result: false };
        const conversation = { ...conv };
        const jobs: NewOutboxJob[] = [];
        const firstReply = conversation.status === 'queued';
        if (firstReply) {
          // The first reply proves an agent took the conversation even without a webhook.
          conversation.status = 'active';
          conversation.queue = null;
          jobs.push(this.injectJob(conversation, { status: 'active', ...(params.sender_name ? { agentName: params.sender_name } : {}) }));
        }
        jobs.push(
          cognigyJob('cognigy.notify', tenant.sourceId, conversation.threadId, this.deadline(), {
            ...conversation.session,
            text: notify.text,
            ...(notify.attachments.length ? { attachments: notify.attachments } : {}),
            data: { rceHandover: { type: 'agentMessage', contentId: params.content_id, agentName: params.sender_name ?? null, sender_name: params.sender_name ?? null } },
          }),
        );
        const mutation = { dedup: { key: `reply:${tenant.sourceId}:${params.content_id}`, ttlMs: this.deps.settings.dedupTtlMs }, jobs };
        // Only the first reply changes the conversation (and is version-checked); later replies leave it as it is,
        // so the hot path writes the dedup key and the notify job only.
        return firstReply ? { conversation, mutation, result: true } : { mutation, result: true };
      },
      () => true,
      current,
    );
    return known ? { id: replyId } : { error: { fatal: true, message: 'Unknown conversation' } };
  }

  async queuingUpdate(tenant: TenantConfig, params: QueuingUpdateParams, rawBody: Buffer): Promise<'applied' | 'ignored'> {
    const bodyHash = createHash('sha256').update(rawBody).digest('hex');
    return this.mutate<'applied' | 'ignored'>(
      tenant.sourceId,
      params.thread_id,
      (current) => {
        if (!current || !ACTIVE.has(current.status)) return { result: 'ignored' };
        const estimatedWaitTimeMs = Math.round(params.estimated_wait_time * 1000);
        const conversation: Conversation = { ...current, queue: { position: params.position, estimatedWaitTimeMs, receivedAt: this.iso() } };
        const jobs = current.options.getQueueUpdates && current.status === 'queued'
          ? [this.injectJob(conversation, { status: 'queue', position: params.position, estimatedWaitTime: estimatedWaitTimeMs })]
          : [];
        return { conversation, mutation: { dedup: { key: `queue:${tenant.sourceId}:${bodyHash}`, ttlMs: 2 * this.deps.settings.replayWindowMs }, jobs }, result: 'applied' };
      },
      () => 'ignored',
    );
  }

  /** One webhook event, already authenticated and de-duplicated by the caller's mutation key. */
  async webhookEvent(tenant: TenantConfig, event: WebhookEvent): Promise<'applied' | 'ignored' | 'duplicate'> {
    const metadata = interventionMetadataSchema.safeParse(event.resource.metadata);
    const engageThreadId = metadata.success ? metadata.data.thread_id : null;
    if (metadata.success && metadata.data.source_id && metadata.data.source_id !== tenant.sourceId) return 'ignored';
    if (!engageThreadId) return 'ignored';
    const found = await this.deps.store.findConversationByEngageThread(tenant.sourceId, engageThreadId);
    if (!found) {
      this.deps.logger.info({ tenant: tenant.sourceId, eventType: event.type, eventId: event.id }, 'webhook event for a thread we do not handle: ignored');
      return 'ignored';
    }
    const dedup = { key: `webhook:${tenant.sourceId}:${event.id}`, ttlMs: this.deps.settings.dedupTtlMs };
    return this.mutate<'applied' | 'ignored' | 'duplicate'>(
      tenant.sourceId,
      found.threadId,
      (current) => {
        if (!current) return { result: 'ignored' };
        // Deliveries are unordered: never let an older event undo a newer state.
        if (current.lastEventAt && event.issued_at < current.lastEventAt) return { mutation: { dedup }, result: 'ignored' };
        const conversation: Conversation = { ...current, lastEventAt: event.issued_at };
        const jobs: NewOutboxJob[] = [];
        switch (event.type) {
          case 'intervention.opened':
          case 'task.taken':
            if (current.status !== 'queued') return { mutation: { dedup }, result: 'ignored' };
            conversation.status = 'active';
            conversation.queue = null;
            if (event.resource.type === 'intervention') conversation.interventionId = event.resource.id;
            jobs.push(this.injectJob(conversation, { status: 'active' }));
            break;
          case 'intervention.canceled':
            // events.md: "an agent cancels an intervention" = releases the chat without closing it. The thread
            // stays in the Agent category, back in the folder: the user waits again and the Flow is told.
            if (current.status !== 'active') return { mutation: { dedup }, result: 'ignored' };
            // Another (older) intervention of the thread being cancelled does not release the current agent.
            if (current.interventionId && event.resource.type === 'intervention' && current.interventionId !== event.resource.id) return { mutation: { dedup }, result: 'ignored' };
            conversation.status = 'queued';
            conversation.queue = null;
            conversation.interventionId = null;
            jobs.push(this.injectJob(conversation, { status: 'queue', reason: 'agent_released' }));
            break;
          case 'intervention.closed':
            if (!ACTIVE.has(current.status)) return { mutation: { dedup }, result: 'ignored' };
            conversation.status = 'completed';
            conversation.queue = null;
            conversation.interventionId = null;
            jobs.push(engageCategorizeJob(tenant.sourceId, this.deadline(), { threadId: current.threadId, purpose: 'return_to_bot' }));
            jobs.push(this.injectJob(conversation, { status: 'completed' }));
            break;
          default:
            return { result: 'ignored' };
        }
        this.deps.logger.info({ tenant: tenant.sourceId, threadId: current.threadId, eventType: event.type, status: conversation.status }, 'handover event applied');
        return { conversation, mutation: { dedup, jobs }, result: 'applied' };
      },
      () => 'duplicate',
    );
  }

  // ---- Callbacks from the outbox worker ------------------------------------------------------

  async rememberEngageThread(tenantId: string, threadId: string, engageThreadId: string): Promise<void> {
    await this.mutate(
      tenantId,
      threadId,
      (current) => (current && current.engageThreadId !== engageThreadId ? { conversation: { ...current, engageThreadId }, result: undefined } : { result: undefined }),
      () => undefined,
    );
  }

  async engageThreadOf(tenantId: string, threadId: string): Promise<string | null> {
    return (await this.deps.store.getConversation(tenantId, threadId))?.engageThreadId ?? null;
  }

  /** An outbox job ran out of time: the conversation is in error and the Flow is told (if Cognigy is reachable). */
  async jobGaveUp(job: OutboxJob, reason: string): Promise<void> {
    if (!job.threadId) return; // a job written before jobs carried their thread, on a lane of no conversation
    await this.mutate(
      job.tenantId,
      job.threadId,
      (current) => {
        if (!current || !ACTIVE.has(current.status)) return { result: undefined };
        const conversation: Conversation = { ...current, status: 'error' };
        const jobs = job.kind.startsWith('engage.')
          ? [this.injectJob(conversation, { status: 'error', error: { reason: 'engage_unavailable', message: reason.slice(0, 300) } })]
          : [];
        return { conversation, mutation: { jobs }, result: undefined };
      },
      () => undefined,
    );
  }
}

/** Where a write came from, read off its dedup key (each kind of call de-duplicates under its own prefix). */
const SOURCE_BY_DEDUP_PREFIX: Readonly<Record<string, WriteSource>> = { api: 'extension', reply: 'agent reply', queue: 'queue update', webhook: 'webhook' };

/**
 * What a write tells the conversation's timeline: status, queue and Engage thread changes and its jobs.
 * Null when it changes none of these (e.g. a duplicate check alone).
 */
function historyNote(before: Conversation | null, after: Conversation | undefined, mutation: Mutation): HistoryNote | null {
  const note: HistoryNote = { source: SOURCE_BY_DEDUP_PREFIX[mutation.dedup?.key.split(':', 1)[0] ?? ''] ?? 'relay', jobs: (mutation.jobs ?? []).map(summarizeJob) };
  if (after && after.status !== before?.status) note.status = { from: before?.status ?? null, to: after.status };
  if (after?.queue && after.queue.receivedAt !== before?.queue?.receivedAt) note.queue = { position: after.queue.position, estimatedWaitTimeMs: after.queue.estimatedWaitTimeMs };
  if (after?.engageThreadId && after.engageThreadId !== before?.engageThreadId) note.engageThreadId = after.engageThreadId;
  return note.status || note.queue || note.engageThreadId || note.jobs.length > 0 ? note : null;
}
