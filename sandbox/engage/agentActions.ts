import type { Logger } from 'pino';
import { DeskError, type Desk } from './desk';
import { createdObjectSchema, resourceErrorSchema, type AgentUserJson } from './objects';
import type { SourceSdkClient } from './sourceSdkClient';
import type { Identity, SimMessage, SimThread, SimulatorState } from './state';
import { isoSeconds, newObjectId, type Scheduler } from './util';

/**
 * What agents do that reaches the source: replies (`messages.create` to the Base URI, retried with
 * `retry: true` and the same `content_id`) and queue notifications (`messaging.queuing_update`).
 */

export interface AgentReplyInput {
  /** The source's thread id (Engage foreign_id) or Engage's content_thread id. */
  threadId: string;
  body: string;
  /** Agent user id; defaults to the first human agent. */
  agentId?: string;
  /** Overrides the agent's display name sent as `sender_name`. */
  agentName?: string;
  attachments?: Array<{ url: string; type?: string; filename?: string }>;
  /** A structured message (structured-messages.md: select, rich_link, template, carousel). */
  structuredContent?: Record<string, unknown>;
  /**
   * Re-send an existing reply instead of writing a new one (retry:true, same content_id), as
   * Engage does when it did not get the first answer; threadId/body are then ignored.
   */
  contentId?: string;
  /** After a successful delivery, send the same create once more with retry:true (tests dedupe). */
  forceRetry?: boolean;
}

export interface AgentReplyResult {
  /** Engage's id of the reply (`content_id`), identical on every attempt. */
  contentId: string;
  /** The id the source answered (first successful attempt). */
  relayMessageId?: string;
  /** Every id the source answered, in order (forceRetry shows whether it deduplicated). */
  relayMessageIds: string[];
  attempts: number;
  outcome: 'delivered' | 'fatal' | 'failed';
  interventionId: string;
  lastError?: string;
}

export interface QueuingUpdateInput {
  threadId: string;
  position: number;
  estimatedWaitTimeSeconds: number;
}

export interface QueuingUpdateResult {
  delivered: boolean;
  status: number | null;
  error: string | null;
}

export interface AgentActionsOptions {
  state: SimulatorState;
  desk: Desk;
  client: SourceSdkClient;
  scheduler: Scheduler;
  clock: () => Date;
  logger: Logger;
  retries: number;
  retryDelayMs: number;
  /** The API token's (bot) user, never picked as the default human agent. */
  tokenUserId: string;
  /** Send replies without content_id (the quick-start sample has none). */
  withoutContentId: boolean;
}

type AttemptOutcome =
  { kind: 'delivered'; relayMessageId: string } | { kind: 'fatal'; error: string } | { kind: 'retryable'; error: string };

export class AgentActions {
  constructor(private readonly options: AgentActionsOptions) {}

  private get state(): SimulatorState {
    return this.options.state;
  }

  resolveThread(threadIdOrForeignId: string): SimThread {
    const thread = this.state.findThread(threadIdOrForeignId);
    if (!thread) throw new DeskError('not_found', `unknown thread ${threadIdOrForeignId}`);
    return thread;
  }

  resolveAgent(agentId?: string): AgentUserJson {
    if (agentId !== undefined) {
      const agent = this.state.agents.get(agentId);
      if (!agent) throw new DeskError('not_found', `unknown agent ${agentId}`);
      return agent;
    }
    const human = [...this.state.agents.values()].find((agent) => agent.id !== this.options.tokenUserId && agent.enabled);
    if (!human) throw new DeskError('not_found', 'no agent available');
    return human;
  }

  /**
   * Agents reply through a controlled (puppetizable) identity of the source; Engage refuses replies
   * until the source has created one (quick-start.md).
   */
  private controlledIdentity(): Identity {
    const identity = [...this.state.identities.values()].find((candidate) => candidate.puppetizable);
    if (!identity) {
      throw new DeskError(
        'forbidden',
        'no controlled identity: the source must create a puppetizable user (users.create or a message author) first',
      );
    }
    return identity;
  }

  async reply(input: AgentReplyInput): Promise<AgentReplyResult> {
    if (input.contentId !== undefined) return this.redeliver(input.contentId, input.forceRetry ?? false);
    const thread = this.resolveThread(input.threadId);
    this.options.desk.requireAgentFolder(thread);
    if (!this.state.declares('messages.create')) {
      throw new DeskError('forbidden', 'the source did not declare messages.create: agents cannot reply');
    }
    // structured-messages.md: structured messages need the source's view.messaging option.
    if (input.structuredContent && !this.state.hasOption('view.messaging')) {
      throw new DeskError('forbidden', "Source doesn't support structured contents");
    }
    const agent = this.resolveAgent(input.agentId);
    const identity = this.controlledIdentity();
    const intervention = this.options.desk.openIntervention(thread, agent);
    const now = isoSeconds(this.options.clock());
    const message: SimMessage = {
      id: newObjectId(),
      foreign_id: null,
      thread_id: thread.id,
      thread_foreign_id: thread.foreign_id,
      side: 'agent',
      author_identity_id: identity.id,
      author_foreign_id: identity.foreign_id,
      agent_user_id: agent.id,
      sender_name: input.agentName ?? `${agent.firstname} ${agent.lastname}`.trim(),
      body: input.body,
      format: 'text',
      attachments: (input.attachments ?? []).map((attachment) => ({
        url: attachment.url,
        filename: attachment.filename ?? null,
        type: attachment.type ?? guessAttachmentType(attachment.url),
        contentBytes: null,
      })),
      categories: [],
      context_data: {},
      in_reply_to_id: this.state.lastCustomerMessage(thread)?.foreign_id ?? null,
      structured_content: input.structuredContent ?? null,
      structured_reply_payload: null,
      created_at: now,
      received_at: now,
      intervention_id: intervention.id,
      synchronization_status: 'pending',
      read_at: null,
    };
    this.state.messages.set(message.id, message);
    thread.messageIds.push(message.id);
    thread.updated_at = now;
    this.state.changed('message', message.id);
    this.options.desk.noteAgentReply(intervention, message);
    return this.deliver(message, false, input.forceRetry ?? false);
  }

  /** Engage re-sending an existing reply (same content_id, retry:true), e.g. after a lost answer. */
  private async redeliver(contentId: string, forceRetry: boolean): Promise<AgentReplyResult> {
    const message = this.state.messages.get(contentId);
    if (!message || message.side !== 'agent') throw new DeskError('not_found', `no agent reply with content id ${contentId}`);
    return this.deliver(message, true, forceRetry);
  }

  /** objects.md "Agent reply params"; thread_id is omitted for unthreaded sources. */
  private replyParams(message: SimMessage): Record<string, unknown> {
    const params: Record<string, unknown> = {
      author_id: message.author_foreign_id,
      body: message.body,
      ...(this.options.withoutContentId ? {} : { content_id: message.id }),
      created_at: message.created_at,
      updated_at: message.created_at,
      format: message.format,
      in_reply_to_id: message.in_reply_to_id,
      sender_name: message.sender_name,
      ...(this.state.hasOption('messages.unthreaded') ? {} : { thread_id: message.thread_foreign_id }),
      title: null,
    };
    // objects.md "Agent reply params": structured_content is sent as the agent composed it.
    if (message.structured_content) params['structured_content'] = message.structured_content;
    // options.md: attachments are only sent to sources that declared messages.attachments.
    if (message.attachments.length > 0 && this.state.hasOption('messages.attachments')) {
      params['attachments'] = message.attachments.map((attachment) => ({
        url: attachment.url,
        type: attachment.type,
        filename: attachment.filename,
      }));
    }
    return params;
  }

  /** Up to 1 + retries attempts; every retry carries retry:true and the same content_id. */
  private async deliver(message: SimMessage, firstIsRetry: boolean, forceRetry: boolean): Promise<AgentReplyResult> {
    const params = this.replyParams(message);
    const result: AgentReplyResult = {
      contentId: message.id,
      relayMessageIds: [],
      attempts: 0,
      outcome: 'failed',
      interventionId: message.intervention_id ?? '',
    };
    const maxAttempts = 1 + this.options.retries;
    while (result.attempts < maxAttempts && !this.options.scheduler.isStopped) {
      if (result.attempts > 0) await this.options.scheduler.sleep(this.options.retryDelayMs);
      const isRetry = firstIsRetry || result.attempts > 0;
      const attempt = await this.attempt(isRetry ? { ...params, retry: true } : params);
      result.attempts += 1;
      if (attempt.kind === 'delivered') {
        result.outcome = 'delivered';
        result.relayMessageId = attempt.relayMessageId;
        result.relayMessageIds.push(attempt.relayMessageId);
        delete result.lastError;
        break;
      }
      result.lastError = attempt.error;
      if (attempt.kind === 'fatal') {
        result.outcome = 'fatal';
        break;
      }
    }
    if (result.outcome === 'delivered' && forceRetry) {
      const again = await this.attempt({ ...params, retry: true });
      result.attempts += 1;
      if (again.kind === 'delivered') result.relayMessageIds.push(again.relayMessageId);
      else result.lastError = again.error;
    }

    if (result.outcome === 'delivered' || message.synchronization_status !== 'success') {
      message.synchronization_status = result.outcome === 'delivered' ? 'success' : 'failed';
    }
    if (result.relayMessageId !== undefined && message.foreign_id === null) {
      message.foreign_id = result.relayMessageId;
      // The source's id is what status.mark_as_read refers to later.
      if (!this.state.messageByForeignId.has(result.relayMessageId)) {
        this.state.messageByForeignId.set(result.relayMessageId, message.id);
      }
    }
    this.state.changed('message', message.id);
    this.options.logger.debug({ contentId: message.id, outcome: result.outcome, attempts: result.attempts }, 'agent reply');
    return result;
  }

  private async attempt(params: Record<string, unknown>): Promise<AttemptOutcome> {
    const response = await this.options.client.call('messages.create', params);
    if (!response.ok) return { kind: 'retryable', error: response.error ?? 'call failed' };
    const resourceError = resourceErrorSchema.safeParse(response.json);
    if (resourceError.success) {
      const message = resourceError.data.error.message ?? 'resource error';
      return resourceError.data.error.fatal ? { kind: 'fatal', error: message } : { kind: 'retryable', error: message };
    }
    const created = createdObjectSchema.safeParse(response.json);
    if (!created.success) return { kind: 'retryable', error: 'response is not an object with an id' };
    return { kind: 'delivered', relayMessageId: String(created.data.id) };
  }

  /** Engage sends queue updates only to sources that declared the option (options.md). */
  async queuingUpdate(input: QueuingUpdateInput): Promise<QueuingUpdateResult> {
    if (!this.state.hasOption('messaging.queuing_update')) {
      throw new DeskError('forbidden', 'the source did not declare messaging.queuing_update: Engage would not send it');
    }
    const thread = this.resolveThread(input.threadId);
    if (!thread.imported) throw new DeskError('not_found', `thread ${thread.foreign_id} is not imported yet`);
    const response = await this.options.client.call('messaging.queuing_update', {
      estimated_wait_time: input.estimatedWaitTimeSeconds,
      position: input.position,
      thread_id: thread.foreign_id,
      in_reply_to_id: this.state.lastCustomerMessage(thread)?.foreign_id ?? null,
    });
    thread.queue = {
      position: input.position,
      estimatedWaitTimeSeconds: input.estimatedWaitTimeSeconds,
      sentAt: isoSeconds(this.options.clock()),
      delivered: response.ok,
    };
    this.state.changed('thread', thread.id);
    return { delivered: response.ok, status: response.status, error: response.error };
  }
}

/** Engage labels outgoing attachments with a media type family (objects.md example: "image"). */
function guessAttachmentType(url: string): string {
  const extension = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase() ?? '';
  if (['bmp', 'gif', 'jpg', 'jpeg', 'png', 'svg', 'webp', 'tif', 'tiff'].includes(extension)) return 'image';
  if (['aac', 'mp3', 'ogg', 'm4a', 'amr'].includes(extension)) return 'audio';
  if (['avi', 'flv', 'm4v', 'mkv', 'mov', 'mp4', 'mpg', 'mpeg4', 'qt', 'wmv', 'mpeg'].includes(extension)) return 'video';
  return 'document';
}
