import type { CognigySession, HandoverStatus } from '../../../contract/relayApi';

/** JSON values that can be stored as outbox payloads. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface QueueSnapshot {
  position: number;
  estimatedWaitTimeMs: number;
  /** ISO-8601 time the relay received it. */
  receivedAt: string;
}

/** One Cognigy session as the relay knows it. Keyed by (tenantId, threadId). */
export interface Conversation {
  tenantId: string;
  /** Our Engage thread id (Engage's `foreign_id`), derived from the Cognigy session. */
  threadId: string;
  session: CognigySession;
  /** Engage user id of the contact (author of the user's messages). */
  authorId: string;
  /** Display name sent with every message of the contact, so Engage keeps one name. */
  authorScreenname: string;
  status: HandoverStatus;
  /** Increments on every handover start; a finished handover never blocks the next one. */
  handoverCount: number;
  options: ConversationOptions;
  /** Engage's content_thread id once the thread has been imported and looked up. */
  engageThreadId: string | null;
  interventionId: string | null;
  queue: QueueSnapshot | null;
  /** `issued_at` of the newest webhook event applied, to drop out-of-order older ones. */
  lastEventAt: string | null;
  /** Count of messages we created in this thread; used to mint message ids. */
  messageCount: number;
  /** Engage user id of the agent who has the conversation (agent-joined / transfer events). */
  agentId?: string | null;
  /** Epoch ms when the user's silence counts as inactivity while an agent is active; null/absent: no timer. */
  inactivityDueAt?: number | null;
  /** The last handover ended because the user left: the agent is told when the user is back. */
  userLeft?: boolean;
  /** Transcript lines already sent to Engage in this session (the next handover skips them). */
  transcriptSent?: { until: string | null; hashes: string[] };
  /** Optimistic concurrency: every write must name the version it read. */
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface ConversationOptions {
  forwardOnlyHandoverConversations: boolean;
  getQueueUpdates: boolean;
  inactivityTimeoutMinutes?: number;
  inactivityCloses?: boolean;
  inactivityNotice?: string;
  userLeftNotice?: string;
  userBackNotice?: string;
}

export type OutboxJobKind =
  | 'engage.send' // Send API action: payload { action, params }
  | 'engage.categorize' // find thread by foreign id, then update_categories: payload { threadId, categoryIds }
  | 'engage.endIntervention' // close or cancel the open intervention: payload { threadId }
  | 'cognigy.notify' // payload: notify body
  | 'cognigy.inject' // payload: inject body
  | 'handover.inactivity'; // at notBefore, check the user's silence: payload { threadId, dueAt }

export interface NewOutboxJob {
  tenantId: string;
  /** The conversation the job belongs to (its lane is one of that conversation's lanes, see `laneOf`). */
  threadId: string;
  /** Jobs in one lane run strictly one after another in enqueue order. */
  lane: string;
  kind: OutboxJobKind;
  payload: JsonValue;
  /** Epoch ms after which the job is given up (dead-lettered). */
  deadlineAt: number;
  /** Epoch ms before which it must not run; defaults to now. */
  notBefore?: number;
  /**
   * The job's line in the conversation timeline, computed by the job constructors (`outbox/jobs.ts`)
   * from the typed payload so the write path need not parse it again. Not stored with the job.
   */
  summary?: string;
}

/**
 * What the timeline says of a job whose write left no entry of its own: a write that only queues
 * jobs (an agent reply once the chat is active, the hot path) records nothing when it is written;
 * the job carries this, and its first attempt's entry (delivered, failed, gave up) tells it, so
 * such a reply costs one timeline entry instead of two (issue 20).
 */
export interface JobNote {
  source: WriteSource;
  summary: string;
}

export interface OutboxJob extends NewOutboxJob {
  id: string;
  /** Position within its lane (monotonic per store). */
  seq: number;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  lastError: string | null;
  /** Set when the write that queued the job left no timeline entry (see JobNote). */
  note?: JobNote;
}

export interface DeadLetter {
  job: OutboxJob;
  error: string;
  failedAt: number;
}

/**
 * One atomic write. Everything happens or nothing does:
 *  - `dedup`: if the key was seen within its TTL, nothing is written and the outcome is 'duplicate';
 *    otherwise the key is remembered for `ttlMs`.
 *  - `conversation`: written only if the stored version equals `expectedVersion`
 *    (`null` = must not exist yet); otherwise the outcome is 'conflict' and nothing is written.
 *  - `jobs`: appended to their lanes in array order.
 * A mutation writes one conversation's data: its jobs' lanes belong to that conversation
 * (`<tenant>/<thread>/<direction>`, see `laneOf`) and its dedup key is remembered with it. That is
 * what lets the Redis store keep a mutation in one Cluster hash slot.
 */
/** Where a write came from (for the timeline). */
export type WriteSource = 'extension' | 'agent reply' | 'queue update' | 'webhook' | 'relay';

/**
 * What a write tells the conversation's timeline (see `relay inspect`): the store records it in the
 * same transaction / script as the write, with the ids it gives the jobs. `jobs` summarises the
 * mutation's jobs, in the same order (never a full message body).
 */
export interface HistoryNote {
  source: WriteSource;
  /** Set when the handover status changed. */
  status?: { from: HandoverStatus | null; to: HandoverStatus };
  /** Set when Engage reported a (new) queue position. */
  queue?: { position: number; estimatedWaitTimeMs: number };
  /** Set when the Engage thread id became known or changed. */
  engageThreadId?: string;
  jobs: string[];
}

/** One entry of a conversation's timeline, oldest first; at most `historyCap` per conversation are kept. */
export type HistoryEntry =
  | ({ at: number; type: 'write' } & Omit<HistoryNote, 'jobs'> & { jobs: { id: string; kind: OutboxJobKind; summary: string }[] })
  | { at: number; type: 'delivered'; jobId: string; kind: OutboxJobKind; attempt: number; queuedAt: number; note?: JobNote }
  | {
      at: number;
      type: 'retry';
      jobId: string;
      kind: OutboxJobKind;
      attempt: number;
      error: string;
      nextAttemptAt: number;
      /** With `note`: when the job was queued (its write left no entry). */
      queuedAt?: number;
      note?: JobNote;
    }
  | { at: number; type: 'dead'; jobId: string; kind: OutboxJobKind; attempt: number; error: string; queuedAt?: number; note?: JobNote };

export interface Mutation {
  /**
   * The conversation the mutation belongs to when it writes no conversation value (a dedup key
   * alone, or jobs only), so its dedup key is remembered where that conversation's writes check it.
   */
  scope?: { tenantId: string; threadId: string };
  dedup?: { key: string; ttlMs: number };
  conversation?: { value: Conversation; expectedVersion: number | null };
  jobs?: NewOutboxJob[];
  /** Recorded in the conversation's timeline when the write is applied (needs `conversation` or `scope`). */
  history?: HistoryNote;
}

export type MutationOutcome = 'applied' | 'duplicate' | 'conflict';

/** Asks a write to lease the jobs it makes runnable to the caller's worker, saving a claim round trip. */
export interface LeaseRequest {
  owner: string;
  leaseMs: number;
}

export interface ApplyResult {
  outcome: MutationOutcome;
  /**
   * Jobs of this mutation that opened an empty lane and were due at once, already leased to the
   * requester (exactly as `claimDueJobs` would have): the requester must run them. Empty without
   * a lease request or when the outcome is not 'applied'.
   */
  leased: OutboxJob[];
}

export interface CompleteResult {
  /** False if the lease was lost (job untouched). */
  completed: boolean;
  /** The lane's next job, leased to the requester, when it was due at once; otherwise null. */
  next: OutboxJob | null;
  /** When the lane's next job (not leased: not due yet) becomes due; null if the lane is empty or `next` is set. */
  nextDueAt: number | null;
}

export interface ClaimOptions {
  now: number;
  limit: number;
  /** Identifies this relay process; only the owner may complete/retry a claimed job. */
  owner: string;
  /** While leased, no other owner can claim the lane; after expiry another relay takes over. */
  leaseMs: number;
}

export interface OutboxStats {
  pending: number;
  deadLettered: number;
  /** Earliest nextAttemptAt among lane heads, or null if empty. */
  nextDueAt: number | null;
}

/** Conversations and the atomic writes that change them (with the jobs those writes enqueue). */
export interface ConversationStore {
  readonly kind: 'sqlite' | 'redis';
  getConversation(tenantId: string, threadId: string): Promise<Conversation | null>;
  findConversationByEngageThread(tenantId: string, engageThreadId: string): Promise<Conversation | null>;
  /**
   * Writes the mutation atomically. With `lease`, the jobs that open an empty lane and are due now
   * are leased to `lease.owner` in the same write and returned in `leased` (the caller must run them).
   */
  apply(mutation: Mutation, lease?: LeaseRequest): Promise<ApplyResult>;
  /** True if the dedup key is currently remembered (for the conversation `scope`, as the mutation that wrote it named it). */
  hasDedupKey(key: string, scope?: { tenantId: string; threadId: string }): Promise<boolean>;
  /**
   * Retention: removes up to `limit` conversations last written before `writtenBefore`, with their
   * Engage index entries (dedup keys expire on their own TTL). Returns how many; call again until
   * it returns less than `limit`, so no single write is long.
   */
  purgeIdleConversations(writtenBefore: number, limit: number): Promise<number>;
}

/** The outbox as the worker (and the dead-letter CLI) sees it: lanes of jobs, leased one head at a time. */
export interface OutboxQueue {
  /** Lane heads that are due and not leased by someone else, leased to `owner`. At most one job per lane. */
  claimDueJobs(options: ClaimOptions): Promise<OutboxJob[]>;
  /**
   * Removes a finished job and releases its lane (`completed` false if the lease was lost: job
   * untouched). With `leaseNext`, the lane's next job, if due now, is leased to `owner` in the same
   * write and returned in `next` (a lane's burst runs back to back).
   */
  complete(job: OutboxJob, owner: string, leaseNext?: { leaseMs: number }): Promise<CompleteResult>;
  /** Records a failed attempt, schedules the next and releases the lane. False if the lease was lost. */
  retryJob(job: OutboxJob, owner: string, next: { nextAttemptAt: number; error: string }): Promise<boolean>;
  /** Moves a job that ran out of time to the dead letters and releases the lane. False if the lease was lost. */
  deadLetterJob(job: OutboxJob, owner: string, error: string): Promise<boolean>;
  /** Extends the lease on a job its holder is still running; false if the lease was lost. */
  renewLease(job: OutboxJob, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * Releases every lease held by `owner` (a relay starting again under its stable id: what it held
   * before it died runs again now instead of after the lease expires). Returns how many.
   */
  releaseLeasesOf(owner: string): Promise<number>;
  /** Newest first. At most `deadLetterCap` are kept (oldest dropped). */
  listDeadLetters(limit: number): Promise<DeadLetter[]>;
  /**
   * Takes the dead letter of job `jobId` out and appends the job again at the end of its lane
   * (new id, attempts 0, due now, the given deadline). Null if there is no such dead letter.
   */
  retryDeadLetter(jobId: string, deadlineAt: number): Promise<OutboxJob | null>;
  outboxStats(): Promise<OutboxStats>;
}

/** Read side of the conversation timeline, for `relay inspect` (not on any request path). */
export interface TimelineStore {
  /** Conversations whose thread id, Cognigy session id or Engage thread id is `ref`, in any tenant. May scan. */
  findConversations(ref: string): Promise<Conversation[]>;
  /** The conversation's timeline, oldest first. */
  readHistory(tenantId: string, threadId: string): Promise<HistoryEntry[]>;
  /** The conversation's jobs still in the outbox (every lane), oldest first. May scan. */
  pendingJobsOf(tenantId: string, threadId: string): Promise<OutboxJob[]>;
}

/** A shared rate budget (per key, sliding window) kept where every relay on the store sees it. */
export interface BudgetStore {
  /**
   * Takes up to `count` of at most `limit` events per `windowMs` for `key`; returns how many were
   * granted and, when the budget is used up, how many ms until one more is free (else 0).
   */
  takeBudget(key: string, count: number, limit: number, windowMs: number): Promise<{ granted: number; waitMs: number }>;
}

/** What a store implementation offers: both halves, the shared budget, readiness and shutdown. */
export interface Store extends ConversationStore, OutboxQueue, BudgetStore, TimelineStore {
  /** Throws unless the store can take writes now (readiness): reachable, and on Redis a primary / a fully covered Cluster. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
