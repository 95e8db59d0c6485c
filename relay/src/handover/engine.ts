import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  DEFAULT_INACTIVITY_NOTICE,
  DEFAULT_USER_BACK_NOTICE,
  DEFAULT_USER_LEFT_NOTICE,
  type AgentAvailabilityRequest,
  type AgentAvailabilityResponse,
  type CancelHandoverRequest,
  type CancelHandoverResponse,
  type CloseHandoverRequest,
  type CloseHandoverResponse,
  type CognigySession,
  type InjectedHandoverEvent,
  type QueueStatusRequest,
  type QueueStatusResponse,
  type SendProfileRequest,
  type SendProfileResponse,
  type StartHandoverRequest,
  type StartHandoverResponse,
  type UserMessageRequest,
  type UserMessageResponse,
} from '../../../contract/relayApi';
import type { UserAttachment } from '../../../contract/userAttachment';
import type { TenantConfig } from '../config';
import { buildEngageUser, mergeContextData, type EngageUser } from '../engage/profileMapping';
import type { AgentReplyParams, QueuingUpdateParams } from '../engage/sourceSdkProtocol';
import {
  agentIdOf,
  interventionMetadataSchema,
  isHandoverEvent,
  type HandoverWebhookEvent,
  type WebhookEvent,
} from '../engage/webhookProtocol';
import type { EngageLookups } from '../engage/engageLookups';
import {
  cognigyJob,
  engageCategorizeJob,
  engageEndInterventionJob,
  engageSendJob,
  inactivityCheckJob,
  summarizeJob,
  type CognigyCallPayload,
  type InactivityCheckPayload,
} from '../outbox/jobs';
import type { Conversation, HistoryNote, LeaseRequest, Mutation, NewOutboxJob, OutboxJob, Store, WriteSource } from '../store/types';
import { alreadySent, rememberSent } from './transcriptMemory';
import { agentReplyIdFor, authorIdFor, messageIdFor, threadIdFor } from './identity';
import { tenantIdentityUsers } from '../engage/tenantIdentities';
import { agentReplyToNotify, type NotifyContent } from './agentReplyText';
import { structuredContentSchema } from '../cognigy/structuredContent';

/** What a Flow's own CSAT question can use when the agent closed: who, which intervention and thread, when. */
function closingDetails(
  event: WebhookEvent,
  current: Conversation,
): Pick<InjectedHandoverEvent, 'agentId' | 'interventionId' | 'engageThreadId' | 'endedAt'> {
  const metadata = interventionMetadataSchema.safeParse(event.resource.metadata);
  const agentId = (metadata.success ? metadata.data.user_id : null) ?? event.user_id ?? current.agentId ?? null;
  return {
    ...(agentId ? { agentId } : {}),
    ...(event.resource.type === 'intervention' ? { interventionId: String(event.resource.id) } : {}),
    ...(current.engageThreadId ? { engageThreadId: current.engageThreadId } : {}),
    endedAt: event.issued_at,
  };
}

/** The bot's structured content when it is one Engage documents; anything else is dropped (the text still goes). */
function botStructuredContent(raw: Record<string, unknown> | undefined): { structuredContent?: Record<string, unknown> } {
  const parsed = raw ? structuredContentSchema.safeParse(raw) : null;
  return parsed?.success ? { structuredContent: parsed.data } : {};
}

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
  /** USER_FILES_BY_CONTENT: user files go to Engage as content the relay fetches (URLs of these schemes). */
  userFilesByContent?: 'https' | 'http';
  /** READ_RECEIPTS (default on): agent reply notifies carry their read receipt. */
  readReceipts?: boolean;
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

/** Engage could not be asked (or refused): the API answers 502 with this message. */
export class EngageCallFailedError extends Error {
  override readonly name = 'EngageCallFailedError';
}

/** The synchronous Engage calls the engine makes outside the outbox (see EngageLookups). */
export type EngagePort = Pick<EngageLookups, 'agentName' | 'agentAvailability' | 'endOpenInterventions'>;

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
      /** Agent names, availability and closing from the Flow; without it those answer without Engage (tests of other parts). */
      engage?: EngagePort;
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
    return {
      id: conversation.authorId,
      screenname: conversation.authorScreenname,
      created_at: conversation.createdAt,
      updated_at: conversation.createdAt,
    };
  }

  private botAuthor(tenant: TenantConfig): EngageUser {
    return tenantIdentityUsers(tenant.sourceId).bot;
  }

  /** Appends a Send API messages.create job and advances the conversation's message counter. */
  private messageJob(
    tenant: TenantConfig,
    conversation: Conversation,
    params: {
      author: EngageUser;
      body: string;
      createdAt?: string;
      contextData?: Record<string, string | string[]>;
      attachments?: UserAttachment[];
      structuredReply?: UserMessageRequest['structuredReply'];
      structuredContent?: Record<string, unknown>;
    },
  ): NewOutboxJob {
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
    // objects.md Messages: attachments are {url, filename} (Engage reads the type from the file).
    if (params.attachments?.length)
      message.attachments = params.attachments.map((a) => (a.filename ? { url: a.url, filename: a.filename } : { url: a.url }));
    // objects.md: a reply to a structured message names it (in_reply_to_id) and returns the option's payload.
    if (params.structuredReply) {
      message.in_reply_to_id = params.structuredReply.inReplyToId;
      if (params.structuredReply.payload) message.structured_reply = { payload: params.structuredReply.payload };
    }
    if (params.structuredContent) message.structured_content = params.structuredContent;
    const byContent =
      params.author.id === conversation.authorId && params.attachments?.length ? this.deps.settings.userFilesByContent : undefined;
    return engageSendJob(tenant.sourceId, conversation.threadId, this.deadline(), {
      action: 'messages.create',
      params: message,
      ...(byContent ? { attachmentsByContent: byContent } : {}),
    });
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
        const user = buildEngageUser({
          authorId: base.authorId,
          profile: request.profile,
          mapping: request.profileMapping,
          now,
          createdAt: base.createdAt,
        });
        const conversation: Conversation = {
          ...base,
          authorScreenname: user.screenname,
          status: 'queued',
          handoverCount: base.handoverCount + 1,
          options: { ...request.options },
          interventionId: null,
          queue: null,
          agentId: null,
          inactivityDueAt: null,
          userLeft: false,
        };
        // The Bot and Agent identities are created once per tenant at start (TenantIdentities), never in this lane.
        const jobs: NewOutboxJob[] = [];
        const contact = { ...user, updated_at: now };
        // The user left the previous handover and is back: the agents' thread says so first.
        if (base.userLeft)
          jobs.push(this.messageJob(tenant, conversation, { author: this.botAuthor(tenant), body: request.options.userBackNotice }));
        // A second handover's transcript repeats the first one's lines (and what was forwarded live): Engage has them.
        let sent = base.transcriptSent ?? { until: null, hashes: [] };
        const fresh = request.transcript.filter((line) => !alreadySent(line, sent));
        for (const line of fresh) {
          jobs.push(
            this.messageJob(tenant, conversation, {
              author: line.role === 'bot' ? this.botAuthor(tenant) : contact,
              body: line.text,
              createdAt: line.at,
            }),
          );
          sent = rememberSent(sent, line, now);
        }
        conversation.transcriptSent = rememberSent(sent, null, now);
        const threadContext = mergeContextData(request.contextData, { handoverCount: String(conversation.handoverCount) });
        jobs.push(this.messageJob(tenant, conversation, { author: contact, body: request.firstMessage, contextData: threadContext }));
        // Engage imports the thread asynchronously after the first message; a lookup before that is a wasted
        // REST call (500/min per token). The lane runs the messages at once, so the categorisation waits a little.
        jobs.push(
          engageCategorizeJob(
            tenant.sourceId,
            this.deadline(),
            {
              threadId,
              purpose: 'handover',
              ...(request.additionalCategoryIds?.length ? { additionalCategoryIds: request.additionalCategoryIds } : {}),
            },
            this.now() + CATEGORIZE_AFTER_MS,
          ),
        );
        this.deps.logger.info(
          {
            tenant: tenant.sourceId,
            threadId,
            handover: conversation.handoverCount,
            transcriptLines: fresh.length,
            transcriptLinesAlreadySent: request.transcript.length - fresh.length,
          },
          'handover started',
        );
        return {
          conversation,
          mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs },
          result: { threadId, status: 'queued', started: true },
        };
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
        const jobs: NewOutboxJob[] = [];
        if (conversation.userLeft && request.role === 'user') {
          // A user who left writes again on the thread the agents still see.
          jobs.push(
            this.messageJob(tenant, conversation, {
              author: this.botAuthor(tenant),
              body: conversation.options.userBackNotice ?? DEFAULT_USER_BACK_NOTICE,
            }),
          );
          conversation.userLeft = false;
        }
        const author = request.role === 'bot' ? this.botAuthor(tenant) : this.contactAuthor(conversation);
        jobs.push(
          this.messageJob(tenant, conversation, {
            author,
            body: request.text,
            attachments: request.attachments,
            ...(request.structuredReply ? { structuredReply: request.structuredReply } : {}),
            // Structured content needs a puppetizable author (structured-messages.md): only the Bot identity sends it.
            ...(request.role === 'bot' ? botStructuredContent(request.structuredContent) : {}),
          }),
        );
        conversation.transcriptSent = rememberSent(conversation.transcriptSent ?? { until: null, hashes: [] }, null, this.iso());
        if (request.role === 'user') jobs.push(...this.armInactivity(tenant, conversation));
        return {
          conversation,
          mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs },
          result: { forwarded: true, status: conversation.status },
        };
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
        const conversation: Conversation = { ...current, status: 'cancelled', queue: null, inactivityDueAt: null };
        const jobs: NewOutboxJob[] = [];
        if (current.status === 'active') {
          // With an agent, cancel means the user left: the agent reads it before the intervention ends.
          jobs.push(
            this.messageJob(tenant, conversation, {
              author: this.botAuthor(tenant),
              body: current.options.userLeftNotice ?? DEFAULT_USER_LEFT_NOTICE,
            }),
          );
          conversation.userLeft = true;
        }
        jobs.push(
          engageEndInterventionJob(tenant.sourceId, this.deadline(), { threadId }),
          engageCategorizeJob(tenant.sourceId, this.deadline(), { threadId, purpose: 'return_to_bot' }),
        );
        this.deps.logger.info({ tenant: tenant.sourceId, threadId, reason: request.reason }, 'handover cancelled by user');
        return {
          conversation,
          mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs },
          result: { status: 'cancelled', cancelled: true },
        };
      },
      (current) => ({ status: current?.status ?? 'cancelled', cancelled: current?.status === 'cancelled' }),
    );
  }

  /**
   * The Flow ends the handover. The store says "ended" first, so the `intervention.closed` webhook our
   * own close causes finds nothing running and injects nothing (the node takes its branch from this
   * answer). Then Engage closes the open intervention, or cancels it where it refuses to close.
   */
  async closeHandover(tenant: TenantConfig, request: CloseHandoverRequest): Promise<CloseHandoverResponse> {
    const threadId = threadIdFor(tenant.sourceId, request.session);
    const ended = await this.mutate<{ engageThreadId: string | null } | CloseHandoverResponse>(
      tenant.sourceId,
      threadId,
      (current) => {
        if (!current || !ACTIVE.has(current.status))
          return { result: { status: current?.status ?? 'idle', closed: false, outcome: 'not_running' } };
        const conversation: Conversation = {
          ...current,
          status: 'completed',
          queue: null,
          interventionId: null,
          agentId: null,
          inactivityDueAt: null,
        };
        const jobs = [engageCategorizeJob(tenant.sourceId, this.deadline(), { threadId, purpose: 'return_to_bot' })];
        this.deps.logger.info({ tenant: tenant.sourceId, threadId, reason: request.reason }, 'handover closed by the Flow');
        return {
          conversation,
          mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs },
          result: { engageThreadId: current.engageThreadId },
        };
      },
      (current) => ({ status: current?.status ?? 'idle', closed: false, outcome: 'not_running' }),
    );
    if ('outcome' in ended) return ended;
    // Never imported: no agent could have opened an intervention.
    if (!ended.engageThreadId || !this.deps.engage) return { status: 'completed', closed: true, outcome: 'cancelled' };
    let outcome: Awaited<ReturnType<EngagePort['endOpenInterventions']>>;
    try {
      outcome = await this.deps.engage.endOpenInterventions(tenant, ended.engageThreadId);
    } catch (err) {
      this.deps.logger.warn(
        { tenant: tenant.sourceId, threadId, err: err instanceof Error ? err.message : String(err) },
        'closing the intervention failed: the outbox keeps trying',
      );
      // The handover is over for the bot; the outbox retries ending the intervention until its deadline.
      await this.mutate(
        tenant.sourceId,
        threadId,
        () => ({ mutation: { jobs: [engageEndInterventionJob(tenant.sourceId, this.deadline(), { threadId })] }, result: undefined }),
        () => undefined,
      );
      throw new EngageCallFailedError(
        'Engage could not be reached to close the intervention; the relay keeps trying and the thread is back in the Bot category',
      );
    }
    if (outcome === 'not_allowed') {
      this.deps.logger.warn({ tenant: tenant.sourceId, threadId }, 'Engage refused both to close and to cancel the intervention');
      throw new EngageCallFailedError(
        "Engage refused to close or cancel the intervention (check the API token user's permissions); the thread is back in the Bot category",
      );
    }
    return { status: 'completed', closed: true, outcome: outcome === 'closed' ? 'closed' : 'cancelled' };
  }

  async agentAvailability(tenant: TenantConfig, request: AgentAvailabilityRequest): Promise<AgentAvailabilityResponse> {
    if (!this.deps.engage) throw new EngageCallFailedError('Agent availability is not configured on this relay');
    const categoryIds = request.categoryIds?.length ? request.categoryIds : [tenant.agentCategoryId];
    try {
      const { availableAgents, checkedAt } = await this.deps.engage.agentAvailability(tenant, categoryIds);
      return { available: availableAgents > 0, availableAgents, checkedAt };
    } catch (err) {
      this.deps.logger.warn(
        { tenant: tenant.sourceId, err: err instanceof Error ? err.message : String(err) },
        'agent availability lookup failed',
      );
      throw new EngageCallFailedError('Engage did not answer the agent status request');
    }
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
        const user = buildEngageUser({
          authorId: base.authorId,
          profile: request.profile,
          mapping: request.profileMapping,
          now: this.iso(),
          createdAt: base.createdAt,
        });
        const conversation: Conversation = { ...base, authorScreenname: user.screenname };
        const job = engageSendJob(tenant.sourceId, threadId, this.deadline(), { action: 'users.create', params: { ...user } });
        return {
          conversation,
          mutation: { dedup: this.apiDedup(tenant, request.requestId), jobs: [job] },
          result: { queued: true, authorId: base.authorId },
        };
      },
      (current) => ({ queued: true, authorId: current?.authorId ?? authorIdFor(tenant.sourceId, request.session) }),
    );
  }

  // ---- Calls from Engage ---------------------------------------------------------------------

  /**
   * An agent reply. Answered with a stable id derived from content_id, so Engage's retries
   * (`retry: true`) get the same answer and the user gets the message once.
   */
  async agentReply(
    tenant: TenantConfig,
    params: AgentReplyParams,
  ): Promise<{ id: string } | { error: { fatal: boolean; message: string } }> {
    const replyId = agentReplyIdFor(params.content_id);
    const current = await this.deps.store.getConversation(tenant.sourceId, params.thread_id);
    if (!current) {
      this.deps.logger.warn(
        { tenant: tenant.sourceId, threadId: params.thread_id },
        'agent reply for an unknown conversation: answered fatal',
      );
      return { error: { fatal: true, message: 'Unknown conversation' } };
    }
    const notify = agentReplyToNotify(params, replyId);
    if (!notify) return { error: { fatal: true, message: 'Reply has neither text nor attachments' } };
    const known = await this.mutate<boolean>(
      tenant.sourceId,
      params.thread_id,
      (conv) => {
        // Gone since it was read (retention removed it): answered like any unknown conversation.
        if (!conv) return { result: false };
        const jobs: NewOutboxJob[] = [];
        // Only the first reply changes the conversation (and is version-checked); later replies read it as it
        // is (no copy), so the hot path writes the dedup key and the notify job only.
        const firstReply = conv.status === 'queued';
        let conversation = conv;
        if (firstReply) {
          // The first reply proves an agent took the conversation even without a webhook.
          conversation = { ...conv, status: 'active', queue: null };
          jobs.push(
            this.injectJob(conversation, { status: 'active', ...(params.sender_name ? { agentName: params.sender_name } : {}) }),
            ...this.armInactivity(tenant, conversation),
          );
        }
        jobs.push(
          cognigyJob(
            'cognigy.notify',
            tenant.sourceId,
            conversation.threadId,
            this.deadline(),
            this.notifyPayload(conversation, params, notify, replyId),
          ),
        );
        const mutation = { dedup: { key: `reply:${tenant.sourceId}:${params.content_id}`, ttlMs: this.deps.settings.dedupTtlMs }, jobs };
        return firstReply ? { conversation, mutation, result: true } : { mutation, result: true };
      },
      () => true,
      current,
    );
    return known ? { id: replyId } : { error: { fatal: true, message: 'Unknown conversation' } };
  }

  /**
   * The notify of an agent reply. It carries the read receipt (send-api.md status.mark_as_read, id = the
   * id we answer with): the executor sends it once Cognigy accepted the message for the user, without a
   * job of its own. Built field by field (no spreads of optional parts: this runs for every reply).
   */
  private notifyPayload(conversation: Conversation, params: AgentReplyParams, notify: NotifyContent, replyId: string): CognigyCallPayload {
    const { URLToken, userId, sessionId } = conversation.session;
    const senderName = params.sender_name ?? null;
    const data: Record<string, unknown> = {
      rceHandover: { type: 'agentMessage', contentId: params.content_id, agentName: senderName, sender_name: senderName },
    };
    if (notify.defaultMessage) data._cognigy = { _default: notify.defaultMessage };
    const payload: CognigyCallPayload =
      this.deps.settings.readReceipts === false
        ? { URLToken, userId, sessionId, text: notify.text, data }
        : { URLToken, userId, sessionId, readReceiptId: replyId, text: notify.text, data };
    if (notify.attachments.length) payload.attachments = notify.attachments;
    return payload;
  }

  async queuingUpdate(tenant: TenantConfig, params: QueuingUpdateParams, rawBody: Buffer): Promise<'applied' | 'ignored'> {
    const bodyHash = createHash('sha256').update(rawBody).digest('hex');
    return this.mutate<'applied' | 'ignored'>(
      tenant.sourceId,
      params.thread_id,
      (current) => {
        if (!current || !ACTIVE.has(current.status)) return { result: 'ignored' };
        const estimatedWaitTimeMs = Math.round(params.estimated_wait_time * 1000);
        const conversation: Conversation = {
          ...current,
          queue: { position: params.position, estimatedWaitTimeMs, receivedAt: this.iso() },
        };
        const jobs =
          current.options.getQueueUpdates && current.status === 'queued'
            ? [this.injectJob(conversation, { status: 'queue', position: params.position, estimatedWaitTime: estimatedWaitTimeMs })]
            : [];
        return {
          conversation,
          mutation: { dedup: { key: `queue:${tenant.sourceId}:${bodyHash}`, ttlMs: 2 * this.deps.settings.replayWindowMs }, jobs },
          result: 'applied',
        };
      },
      () => 'ignored',
    );
  }

  /** One webhook event, already authenticated and de-duplicated by the caller's mutation key. */
  async webhookEvent(tenant: TenantConfig, event: WebhookEvent): Promise<'applied' | 'ignored' | 'duplicate'> {
    if (!isHandoverEvent(event)) return 'ignored';
    const metadata = interventionMetadataSchema.safeParse(event.resource.metadata);
    const engageThreadId = metadata.success ? metadata.data.thread_id : null;
    if (metadata.success && metadata.data.source_id && metadata.data.source_id !== tenant.sourceId) return 'ignored';
    if (!engageThreadId) return 'ignored';
    const found = await this.deps.store.findConversationByEngageThread(tenant.sourceId, engageThreadId);
    if (!found) {
      this.deps.logger.info(
        { tenant: tenant.sourceId, eventType: event.type, eventId: event.id },
        'webhook event for a thread we do not handle: ignored',
      );
      return 'ignored';
    }
    const agent = await this.agentOf(tenant, event, found);
    const dedup = { key: `webhook:${tenant.sourceId}:${event.id}`, ttlMs: this.deps.settings.dedupTtlMs };
    return this.mutate<'applied' | 'ignored' | 'duplicate'>(
      tenant.sourceId,
      found.threadId,
      (current) => {
        if (!current) return { result: 'ignored' };
        // Deliveries are unordered: never let an older event undo a newer state.
        if (current.lastEventAt && event.issued_at < current.lastEventAt) return { mutation: { dedup }, result: 'ignored' };
        const conversation: Conversation = { ...current, lastEventAt: event.issued_at };
        const jobs = this.applyHandoverEvent(tenant, event, current, conversation, agent);
        if (!jobs) return { mutation: { dedup }, result: 'ignored' };
        this.deps.logger.info(
          { tenant: tenant.sourceId, threadId: current.threadId, eventType: event.type, status: conversation.status },
          'handover event applied',
        );
        return { conversation, mutation: { dedup, jobs }, result: 'applied' };
      },
      () => 'duplicate',
    );
  }

  /**
   * The agent an agent-naming event puts on the conversation, with the name from Engage's users
   * resource (cached). Looked up only when the event can change something, so duplicates cost no REST call.
   */
  private async agentOf(
    tenant: TenantConfig,
    event: HandoverWebhookEvent,
    found: Conversation,
  ): Promise<{ agentId: string; agentName: string | null } | null> {
    switch (event.type) {
      case 'intervention.opened':
      case 'task.taken':
        if (found.status !== 'queued') return null;
        break;
      case 'task.transferred':
      case 'intervention.user_updated':
        if (found.status !== 'active') return null;
        break;
      case 'intervention.canceled':
      case 'intervention.closed':
        return null;
      default: {
        const unhandled: never = event.type;
        return unhandled;
      }
    }
    const agentId = agentIdOf(event);
    if (!agentId || agentId === found.agentId) return agentId ? { agentId, agentName: null } : null;
    return { agentId, agentName: this.deps.engage ? await this.deps.engage.agentName(tenant, agentId) : null };
  }

  /** What one event does to the conversation (mutates `conversation`); the jobs to write, or null when it changes nothing. */
  private applyHandoverEvent(
    tenant: TenantConfig,
    event: HandoverWebhookEvent,
    current: Conversation,
    conversation: Conversation,
    agent: { agentId: string; agentName: string | null } | null,
  ): NewOutboxJob[] | null {
    const agentFields = agent ? { agentId: agent.agentId, ...(agent.agentName ? { agentName: agent.agentName } : {}) } : {};
    switch (event.type) {
      case 'intervention.opened':
      case 'task.taken': {
        if (current.status !== 'queued') return null;
        conversation.status = 'active';
        conversation.queue = null;
        conversation.agentId = agent?.agentId ?? null;
        if (event.type === 'intervention.opened') conversation.interventionId = event.resource.id;
        return [this.injectJob(conversation, { status: 'active', ...agentFields }), ...this.armInactivity(tenant, conversation)];
      }
      case 'task.transferred':
      case 'intervention.user_updated': {
        // One transfer may arrive as both events: only a change of agent is news for the Flow.
        if (current.status !== 'active' || !agent || agent.agentId === current.agentId) return null;
        conversation.agentId = agent.agentId;
        if (event.type === 'intervention.user_updated') conversation.interventionId = event.resource.id;
        return [this.injectJob(conversation, { status: 'active', reason: 'transferred', ...agentFields })];
      }
      case 'intervention.canceled':
        // events.md: "an agent cancels an intervention" = releases the chat without closing it. The thread
        // stays in the Agent category, back in the folder: the user waits again and the Flow is told.
        if (current.status !== 'active') return null;
        // Another (older) intervention of the thread being cancelled does not release the current agent.
        if (current.interventionId && event.resource.type === 'intervention' && current.interventionId !== event.resource.id) return null;
        conversation.status = 'queued';
        conversation.queue = null;
        conversation.interventionId = null;
        conversation.agentId = null;
        conversation.inactivityDueAt = null;
        return [this.injectJob(conversation, { status: 'queue', reason: 'agent_released' })];
      case 'intervention.closed':
        if (!ACTIVE.has(current.status)) return null;
        conversation.status = 'completed';
        conversation.queue = null;
        conversation.interventionId = null;
        conversation.agentId = null;
        conversation.inactivityDueAt = null;
        return [
          engageCategorizeJob(tenant.sourceId, this.deadline(), { threadId: current.threadId, purpose: 'return_to_bot' }),
          this.injectJob(conversation, { status: 'completed', ...closingDetails(event, current) }),
        ];
      default: {
        const unhandled: never = event.type;
        return unhandled;
      }
    }
  }

  // ---- Inactivity ----------------------------------------------------------------------------

  /**
   * (Re)starts the user-silence timer of an active conversation. One check job waits at a time: a
   * later user message only moves the due time, and the waiting check re-schedules itself to it.
   */
  private armInactivity(tenant: TenantConfig, conversation: Conversation): NewOutboxJob[] {
    const minutes = conversation.options.inactivityTimeoutMinutes ?? 0;
    if (conversation.status !== 'active' || minutes <= 0) return [];
    // A due time already past means the waiting check was lost (e.g. given up while every relay was down): start a new one.
    const waiting =
      conversation.inactivityDueAt !== null && conversation.inactivityDueAt !== undefined && conversation.inactivityDueAt > this.now();
    conversation.inactivityDueAt = this.now() + minutes * 60_000;
    return waiting
      ? []
      : [
          inactivityCheckJob(
            tenant.sourceId,
            { threadId: conversation.threadId, dueAt: conversation.inactivityDueAt },
            this.deps.settings.outboxDeadlineMs,
          ),
        ];
  }

  /** A check job is due: tell the agent (and close, if configured), or wait for the moved due time. */
  async inactivityDue(tenant: TenantConfig, payload: InactivityCheckPayload): Promise<void> {
    await this.mutate(
      tenant.sourceId,
      payload.threadId,
      (current) => {
        const dueAt = current?.inactivityDueAt;
        if (!current || current.status !== 'active' || dueAt === null || dueAt === undefined) return { result: undefined };
        if (dueAt > this.now())
          return {
            mutation: {
              jobs: [inactivityCheckJob(tenant.sourceId, { threadId: current.threadId, dueAt }, this.deps.settings.outboxDeadlineMs)],
            },
            result: undefined,
          };
        const conversation: Conversation = { ...current, inactivityDueAt: null };
        const jobs = [
          this.messageJob(tenant, conversation, {
            author: this.botAuthor(tenant),
            body: current.options.inactivityNotice ?? DEFAULT_INACTIVITY_NOTICE,
          }),
        ];
        if (current.options.inactivityCloses) {
          // The same end as the Close route, but the Flow did not ask: it hears why.
          conversation.status = 'completed';
          conversation.queue = null;
          conversation.interventionId = null;
          conversation.agentId = null;
          jobs.push(
            engageEndInterventionJob(tenant.sourceId, this.deadline(), { threadId: current.threadId }),
            engageCategorizeJob(tenant.sourceId, this.deadline(), { threadId: current.threadId, purpose: 'return_to_bot' }),
            this.injectJob(conversation, { status: 'completed', reason: 'inactivity' }),
          );
        }
        this.deps.logger.info(
          { tenant: tenant.sourceId, threadId: current.threadId, closes: current.options.inactivityCloses === true },
          'user inactive while with an agent',
        );
        return { conversation, mutation: { jobs }, result: undefined };
      },
      () => undefined,
    );
  }

  // ---- Callbacks from the outbox worker ------------------------------------------------------

  async rememberEngageThread(tenantId: string, threadId: string, engageThreadId: string): Promise<void> {
    await this.mutate(
      tenantId,
      threadId,
      (current) =>
        current && current.engageThreadId !== engageThreadId
          ? { conversation: { ...current, engageThreadId }, result: undefined }
          : { result: undefined },
      () => undefined,
    );
  }

  async engageThreadOf(tenantId: string, threadId: string): Promise<string | null> {
    return (await this.deps.store.getConversation(tenantId, threadId))?.engageThreadId ?? null;
  }

  /** An outbox job ran out of time: the conversation is in error and the Flow is told (if Cognigy is reachable). */
  async jobGaveUp(job: OutboxJob, reason: string): Promise<void> {
    // A job written before jobs carried their thread has no conversation; a late inactivity check is no reason to fail one.
    if (!job.threadId || job.kind === 'handover.inactivity') return;
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
const SOURCE_BY_DEDUP_PREFIX: Readonly<Record<string, WriteSource>> = {
  api: 'extension',
  reply: 'agent reply',
  queue: 'queue update',
  webhook: 'webhook',
};

/** The part of a dedup key before its first ':' (the whole key without one), as `split(':', 1)[0]` without the array. */
function prefixOf(key: string): string {
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}

/**
 * What a write tells the conversation's timeline: status, queue and Engage thread changes and its jobs.
 * Null when it changes none of these (e.g. a duplicate check alone).
 */
function historyNote(before: Conversation | null, after: Conversation | undefined, mutation: Mutation): HistoryNote | null {
  const note: HistoryNote = {
    source: (mutation.dedup && SOURCE_BY_DEDUP_PREFIX[prefixOf(mutation.dedup.key)]) ?? 'relay',
    jobs: (mutation.jobs ?? []).map(summarizeJob),
  };
  if (after && after.status !== before?.status) note.status = { from: before?.status ?? null, to: after.status };
  if (after?.queue && after.queue.receivedAt !== before?.queue?.receivedAt)
    note.queue = { position: after.queue.position, estimatedWaitTimeMs: after.queue.estimatedWaitTimeMs };
  if (after?.engageThreadId && after.engageThreadId !== before?.engageThreadId) note.engageThreadId = after.engageThreadId;
  return note.status || note.queue || note.engageThreadId || note.jobs.length > 0 ? note : null;
}
