import type { AgentUserJson, WebhookEvent } from './objects';
import type { SimIntervention, SimMessage, SimTask, SimThread, SimulatorState } from './state';
import { isoMillis, isoSeconds, newObjectId } from './util';

/**
 * Agent-side domain rules shared by the REST API and the programmatic agent actions, so both
 * paths change state and fire webhooks identically. No HTTP here.
 */

export type DeskErrorCode = 'not_found' | 'forbidden' | 'conflict' | 'unprocessable_entity';

export class DeskError extends Error {
  constructor(
    readonly code: DeskErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DeskError';
  }
}

export interface DeskOptions {
  state: SimulatorState;
  sourceId: string;
  agentCategoryId: string;
  channelId: string;
  clock: () => Date;
  issue: (event: WebhookEvent) => void;
  /** resource.id as an integer (events.md types it Integer; its samples show strings). */
  numericResourceIds?: boolean;
}

export class Desk {
  private readonly numericIds = new Map<string, number>();

  constructor(private readonly options: DeskOptions) {}

  /** One stable integer per resource, so a numeric id still names the same intervention on every event. */
  private resourceIdOf(id: string): string | number {
    if (!this.options.numericResourceIds) return id;
    let numeric = this.numericIds.get(id);
    if (numeric === undefined) {
      numeric = 1_000_000 + this.numericIds.size;
      this.numericIds.set(id, numeric);
    }
    return numeric;
  }

  private get state(): SimulatorState {
    return this.options.state;
  }

  private now(): string {
    return isoSeconds(this.options.clock());
  }

  /**
   * Replaces the thread categories. Entering the Agent category puts a pending request in the
   * agents' folder (a task); leaving it before anyone engaged takes it out again.
   */
  recategorize(thread: SimThread, categoryIds: string[], byUserId: string): void {
    const agentCategory = this.options.agentCategoryId;
    const wasAgent = thread.category_ids.includes(agentCategory);
    const isAgent = categoryIds.includes(agentCategory);
    thread.category_ids = [...new Set(categoryIds)];
    thread.updated_at = this.now();
    this.state.changed('thread', thread.id);

    const open = this.state.openIntervention(thread.id);
    if (open) {
      open.category_ids = [...thread.category_ids];
      open.updated_at = this.now();
      this.state.changed('intervention', open.id);
      this.issueIntervention('intervention.recategorized', open, byUserId);
    }
    const active = this.state.activeTask(thread.id);
    if (!wasAgent && isAgent && !open && !active) {
      const task: SimTask = {
        id: newObjectId(),
        thread_id: thread.id,
        content_id: this.state.lastCustomerMessage(thread)?.id ?? null,
        intervention_id: null,
        status: 'pending',
        agent_ids: [],
        created_at: this.now(),
        accepted_at: null,
        completed_at: null,
      };
      this.state.tasks.set(task.id, task);
      this.state.changed('task', task.id);
      this.issueTask('task.created', task);
    } else if (wasAgent && !isAgent && active?.status === 'pending') {
      active.status = 'destroyed';
      active.completed_at = this.now();
      this.state.changed('task', active.id);
      this.issueTask('task.destroyed', active);
    }
  }

  /** The agent engages the thread; returns the open intervention (existing or new). */
  openIntervention(thread: SimThread, agent: AgentUserJson): SimIntervention {
    this.requireAgentFolder(thread);
    const existing = this.state.openIntervention(thread.id);
    if (existing) return existing;
    const customer = this.state.customerOf(thread);
    const intervention: SimIntervention = {
      id: newObjectId(),
      thread_id: thread.id,
      content_id: this.state.lastCustomerMessage(thread)?.id ?? null,
      source_id: this.options.sourceId,
      identity_id: customer?.id ?? null,
      user_id: agent.id,
      category_ids: [...thread.category_ids],
      status: 'opened',
      closing: false,
      closed_at: null,
      deferred_at: null,
      agentReplyCount: 0,
      first_user_reply_in: null,
      created_at: this.now(),
      updated_at: this.now(),
    };
    this.state.interventions.set(intervention.id, intervention);
    const task = this.state.activeTask(thread.id);
    if (task) {
      task.intervention_id = intervention.id;
      this.state.changed('task', task.id);
    }
    this.state.changed('intervention', intervention.id);
    this.issueIntervention('intervention.opened', intervention, agent.id);
    return intervention;
  }

  /** Task mode: the agent accepts the pending request, which puts the thread under their intervention. */
  takeTask(thread: SimThread, agent: AgentUserJson): SimTask {
    const task = this.state.activeTask(thread.id);
    if (!task || task.status !== 'pending') throw new DeskError('conflict', `thread ${thread.id} has no pending task`);
    task.status = 'taken';
    task.agent_ids = [agent.id];
    task.accepted_at = this.now();
    this.state.changed('task', task.id);
    this.issueTask('task.taken', task, agent.id);
    this.openIntervention(thread, agent);
    return task;
  }

  /** events.md: a transfer re-assigns the task (task.transferred) and the intervention's agent (intervention.user_updated). */
  transfer(intervention: SimIntervention, toAgent: AgentUserJson, byUserId: string): void {
    if (intervention.status !== 'opened') throw new DeskError('forbidden', `intervention is ${intervention.status}`);
    intervention.user_id = toAgent.id;
    intervention.updated_at = this.now();
    this.state.changed('intervention', intervention.id);
    const task = this.state.activeTask(intervention.thread_id);
    if (task) {
      task.agent_ids = [toAgent.id];
      this.state.changed('task', task.id);
      this.issueTask('task.transferred', task, byUserId);
    }
    this.issueIntervention('intervention.user_updated', intervention, byUserId);
  }

  /** Checks REST and the desk share: Engage only closes open interventions that have agent replies. */
  assertClosable(intervention: SimIntervention): void {
    if (intervention.closing) throw new DeskError('conflict', 'intervention is already being closed');
    if (intervention.status !== 'opened') throw new DeskError('forbidden', `intervention is ${intervention.status}`);
    if (intervention.agentReplyCount === 0) {
      throw new DeskError('forbidden', 'intervention has no agent replies (cancel it instead)');
    }
  }

  close(intervention: SimIntervention, byUserId: string): void {
    intervention.status = 'closed';
    intervention.closing = false;
    intervention.closed_at = this.now();
    intervention.updated_at = this.now();
    this.state.changed('intervention', intervention.id);
    const task = this.state.activeTask(intervention.thread_id);
    if (task) {
      task.status = 'completed';
      task.completed_at = this.now();
      this.state.changed('task', task.id);
      this.issueTask('task.completed', task, byUserId, 'closed');
    }
    this.issueIntervention('intervention.closed', intervention, byUserId);
  }

  assertCancelable(intervention: SimIntervention): void {
    if (intervention.status !== 'opened' || intervention.closing) {
      throw new DeskError('forbidden', `intervention is ${intervention.closing ? 'closing' : intervention.status}`);
    }
    if (intervention.agentReplyCount > 0) throw new DeskError('forbidden', 'intervention has agent replies (close it instead)');
  }

  /** Cancel = the agent releases the thread without answering; it goes back to the folder. */
  cancel(intervention: SimIntervention, byUserId: string): void {
    intervention.status = 'canceled';
    intervention.closed_at = this.now();
    intervention.updated_at = this.now();
    this.state.changed('intervention', intervention.id);
    const task = this.state.activeTask(intervention.thread_id);
    if (task?.status === 'taken') {
      task.status = 'pending';
      task.agent_ids = [];
      task.intervention_id = null;
      this.state.changed('task', task.id);
    }
    this.issueIntervention('intervention.canceled', intervention, byUserId);
  }

  noteAgentReply(intervention: SimIntervention, message: SimMessage): void {
    intervention.agentReplyCount += 1;
    if (intervention.first_user_reply_in === null) {
      const seconds = (Date.parse(message.created_at) - Date.parse(intervention.created_at)) / 1000;
      intervention.first_user_reply_in = Math.max(0, Math.round(seconds));
    }
    intervention.updated_at = this.now();
    this.state.changed('intervention', intervention.id);
    this.issueContent('content.replied', message, message.agent_user_id ?? undefined);
  }

  requireAgentFolder(thread: SimThread): void {
    if (!thread.imported) throw new DeskError('not_found', `thread ${thread.foreign_id} is not imported yet`);
    if (!thread.category_ids.includes(this.options.agentCategoryId)) {
      throw new DeskError('forbidden', `thread ${thread.foreign_id} is not in the Agent category, agents do not see it`);
    }
  }

  // ---- webhook events (events.md) ----

  private event(type: string, resourceType: string, resourceId: string, metadata: Record<string, unknown>, userId?: string): WebhookEvent {
    const event: WebhookEvent = {
      type,
      id: newObjectId(),
      issued_at: isoMillis(this.options.clock()),
      resource: { type: resourceType, id: this.resourceIdOf(resourceId), metadata },
    };
    if (userId !== undefined) event.user_id = userId;
    return event;
  }

  private issueIntervention(type: string, intervention: SimIntervention, userId?: string): void {
    this.options.issue(
      this.event(
        type,
        'intervention',
        intervention.id,
        {
          source_id: intervention.source_id,
          thread_id: intervention.thread_id,
          user_id: intervention.user_id,
          identity_id: intervention.identity_id,
          category_ids: [...intervention.category_ids],
          closed_at: intervention.closed_at,
          deferred_at: intervention.deferred_at,
          custom_field_values: {},
        },
        userId,
      ),
    );
  }

  private issueTask(type: string, task: SimTask, userId?: string, action?: 'closed' | 'deferred'): void {
    const thread = this.state.threads.get(task.thread_id);
    const metadata: Record<string, unknown> = {
      created_at: task.created_at,
      channel_id: this.options.channelId,
      source_id: this.options.sourceId,
      priority: 0,
      content_id: task.content_id,
      intervention_id: task.intervention_id,
      agent_ids: [...task.agent_ids],
      identity_id: thread ? (this.state.customerOf(thread)?.id ?? null) : null,
      queue: 'global',
      thread_id: task.thread_id,
      language: null,
      segment_index: 0,
    };
    if (type === 'task.taken') metadata['type'] = 'request';
    const event = this.event(type, 'task', task.id, metadata, userId);
    if (action) event.action = action;
    this.options.issue(event);
  }

  issueContent(type: string, message: SimMessage, userId?: string): void {
    this.options.issue(
      this.event(
        type,
        'content',
        message.id,
        {
          thread_id: message.thread_id,
          intervention_id: message.intervention_id,
          author_id: message.author_identity_id,
          body: message.body,
          status: message.side === 'agent' ? 'replied' : 'new',
          created_from: message.side === 'agent' ? 'interface' : 'synchronizer',
          foreign_id: message.foreign_id,
          source_id: this.options.sourceId,
          private: false,
          synchronization_status: message.synchronization_status,
        },
        userId,
      ),
    );
  }
}
