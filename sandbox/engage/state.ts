import { EventEmitter } from 'node:events';
import type { AgentUserJson, CategoryJson, ContextData, InterventionStatus, SourceCapabilities, WebhookEvent } from './objects';

/**
 * Everything the simulated Engage domain knows. Plain data, mutated only through the methods
 * below so each change emits one 'change' event (a live agent-desk page listens to it).
 */

export interface Identity {
  /** Engage identity id. */
  id: string;
  /** The source's user id (User.id): same id = same identity. */
  foreign_id: string;
  source_id: string;
  screenname: string;
  firstname: string | null;
  lastname: string | null;
  email: string | null;
  home_phone: string | null;
  mobile_phone: string | null;
  avatar_url: string | null;
  gender: 'man' | 'woman' | null;
  puppetizable: boolean;
  /** Merged across upserts (synced to the customer record in Engage). */
  context_data: ContextData;
  identity_group_id: string;
  created_at: string;
  updated_at: string;
}

export type MessageSide = 'customer' | 'bot' | 'agent';

export interface SimAttachment {
  url: string | null;
  filename: string | null;
  type: string | null;
  /** Base64 uploads are kept by size only. */
  contentBytes: number | null;
}

export interface SimMessage {
  /** Engage content id. */
  id: string;
  /** The source's id: from Send API, or the id the source answered to an agent reply. */
  foreign_id: string | null;
  /** Engage content_thread id. */
  thread_id: string;
  thread_foreign_id: string;
  side: MessageSide;
  author_identity_id: string;
  author_foreign_id: string;
  /** Agent replies only: the agent who wrote it. */
  agent_user_id: string | null;
  sender_name: string | null;
  body: string | null;
  format: 'text' | 'html';
  attachments: SimAttachment[];
  categories: string[];
  context_data: ContextData;
  /** The source's id of the message this answers. */
  in_reply_to_id: string | null;
  structured_content: Record<string, unknown> | null;
  structured_reply_payload: string | null;
  created_at: string;
  received_at: string;
  intervention_id: string | null;
  /** Agent replies: delivery to the source Base URI. */
  synchronization_status: 'pending' | 'success' | 'failed' | null;
  read_at: string | null;
}

export interface QueueInfo {
  position: number;
  estimatedWaitTimeSeconds: number;
  sentAt: string;
  delivered: boolean;
}

export interface SimThread {
  id: string;
  source_id: string;
  foreign_id: string;
  title: string | null;
  closed: boolean;
  category_ids: string[];
  context_data: ContextData;
  created_at: string;
  updated_at: string;
  /** Import is asynchronous: REST only sees imported threads. */
  imported: boolean;
  imported_at: string | null;
  messageIds: string[];
  queue: QueueInfo | null;
  typing: { preview: string | null; at: string } | null;
  /** While true a second update_categories gets 409. */
  categorizing: boolean;
}

export interface SimIntervention {
  id: string;
  thread_id: string;
  content_id: string | null;
  source_id: string;
  identity_id: string | null;
  user_id: string;
  category_ids: string[];
  status: InterventionStatus;
  closing: boolean;
  closed_at: string | null;
  deferred_at: string | null;
  agentReplyCount: number;
  first_user_reply_in: number | null;
  created_at: string;
  updated_at: string;
}

export type TaskStatus = 'pending' | 'taken' | 'completed' | 'destroyed';

export interface SimTask {
  id: string;
  thread_id: string;
  content_id: string | null;
  intervention_id: string | null;
  status: TaskStatus;
  agent_ids: string[];
  created_at: string;
  accepted_at: string | null;
  completed_at: string | null;
}

export interface DroppedItem {
  at: string;
  action: string;
  /** The source's id of the item, when it had one. */
  itemId: string | null;
  /** 'item': the whole item was ignored; 'field': only `field` was ignored. */
  scope: 'item' | 'field';
  field: string | null;
  reason: string;
}

export interface SendApiLogEntry {
  at: string;
  action: string;
  params: unknown;
  /** Same message id seen before: accepted (ok) but changed nothing. */
  duplicate: boolean;
}

export interface SourceCallRecord {
  at: string;
  action: string;
  /** Exact bytes sent (UTF-8). */
  requestBody: string;
  requestSignature: string;
  status: number | null;
  responseBody: string | null;
  responseSignatureValid: boolean;
  error: string | null;
  durationMs: number;
}

export type ChangeKind =
  | 'capabilities'
  | 'identity'
  | 'thread'
  | 'message'
  | 'intervention'
  | 'task'
  | 'typing'
  | 'dropped'
  | 'sendApi'
  | 'sourceCall'
  | 'webhook'
  | 'agent';

export interface ChangeEvent {
  kind: ChangeKind;
  id?: string;
}

export class SimulatorState {
  readonly events = new EventEmitter();
  capabilities: SourceCapabilities | null = null;
  readonly categories = new Map<string, CategoryJson>();
  readonly agents = new Map<string, AgentUserJson>();
  /**
   * Agents connected to the channel and their status (transfers.md `/status`: "available" or "away");
   * an agent absent from the map is not connected and not listed.
   */
  readonly agentStatus = new Map<string, 'available' | 'away'>();
  /** The channel that holds the source (openapi `Channel`), as `/channels` and `/status` show it. */
  channel: { id: string; name: string; source_ids: string[]; hard_capability: number } | null = null;
  readonly identities = new Map<string, Identity>();
  readonly identityByForeignId = new Map<string, string>();
  readonly threads = new Map<string, SimThread>();
  readonly threadByForeignId = new Map<string, string>();
  readonly messages = new Map<string, SimMessage>();
  readonly messageByForeignId = new Map<string, string>();
  readonly interventions = new Map<string, SimIntervention>();
  readonly tasks = new Map<string, SimTask>();
  readonly droppedItems: DroppedItem[] = [];
  readonly sendApiLog: SendApiLogEntry[] = [];
  readonly sourceCalls: SourceCallRecord[] = [];
  /** Every webhook event issued, delivered or not (no matching subscription). */
  readonly issuedEvents: WebhookEvent[] = [];

  constructor() {
    // A page may attach many listeners; avoid Node's leak warning.
    this.events.setMaxListeners(100);
  }

  changed(kind: ChangeKind, id?: string): void {
    this.events.emit('change', id === undefined ? { kind } : { kind, id });
  }

  declares(action: string): boolean {
    const [object, operation] = action.split('.');
    if (!this.capabilities || !object || !operation) return false;
    return this.capabilities.objects[object]?.includes(operation) ?? false;
  }

  hasOption(option: string): boolean {
    return this.capabilities?.options.includes(option) ?? false;
  }

  findThread(threadIdOrForeignId: string): SimThread | undefined {
    const direct = this.threads.get(threadIdOrForeignId);
    if (direct) return direct;
    const id = this.threadByForeignId.get(threadIdOrForeignId);
    return id === undefined ? undefined : this.threads.get(id);
  }

  findMessageByForeignId(foreignId: string): SimMessage | undefined {
    const id = this.messageByForeignId.get(foreignId);
    return id === undefined ? undefined : this.messages.get(id);
  }

  findIdentityByForeignId(foreignId: string): Identity | undefined {
    const id = this.identityByForeignId.get(foreignId);
    return id === undefined ? undefined : this.identities.get(id);
  }

  threadMessages(thread: SimThread): SimMessage[] {
    return thread.messageIds.flatMap((id) => {
      const message = this.messages.get(id);
      return message ? [message] : [];
    });
  }

  lastCustomerMessage(thread: SimThread): SimMessage | undefined {
    return this.threadMessages(thread)
      .filter((message) => message.side === 'customer')
      .at(-1);
  }

  openIntervention(threadId: string): SimIntervention | undefined {
    for (const intervention of this.interventions.values()) {
      if (intervention.thread_id === threadId && intervention.status === 'opened') return intervention;
    }
    return undefined;
  }

  activeTask(threadId: string): SimTask | undefined {
    for (const task of this.tasks.values()) {
      if (task.thread_id === threadId && (task.status === 'pending' || task.status === 'taken')) return task;
    }
    return undefined;
  }

  /** The first customer author of the thread: whose profile agents see. */
  customerOf(thread: SimThread): Identity | undefined {
    const first = this.threadMessages(thread).find((message) => message.side === 'customer');
    return first ? this.identities.get(first.author_identity_id) : undefined;
  }

  recordDrop(item: Omit<DroppedItem, 'at'>, at: string): void {
    this.droppedItems.push({ at, ...item });
    this.changed('dropped', item.itemId ?? undefined);
  }
}
