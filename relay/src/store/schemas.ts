import { z } from 'zod';
import { handoverStatusSchema } from '../../../contract/relayApi';
import type { Conversation, HistoryEntry, HistoryNote, JobNote, JsonValue, Mutation, OutboxJob, OutboxJobKind, WriteSource } from './types';

/**
 * Schemas for what the stores read back. Both stores serialise with JSON.stringify and parse
 * with these, so a corrupt or foreign row fails loudly instead of leaking `any` into the relay.
 * They are deliberately plain (no trimming, no defaults): a read must return exactly what was written.
 */

export const jsonValueSchema: z.ZodType<JsonValue> = z.json();

const queueSnapshotSchema = z.object({
  position: z.number(),
  estimatedWaitTimeMs: z.number(),
  receivedAt: z.string(),
});

export const conversationSchema = z.object({
  tenantId: z.string(),
  threadId: z.string(),
  session: z.object({ URLToken: z.string(), userId: z.string(), sessionId: z.string() }),
  authorId: z.string(),
  authorScreenname: z.string(),
  status: handoverStatusSchema,
  handoverCount: z.number().int(),
  options: z.object({
    forwardOnlyHandoverConversations: z.boolean(),
    getQueueUpdates: z.boolean(),
    inactivityTimeoutMinutes: z.number().int().optional(),
    inactivityCloses: z.boolean().optional(),
    inactivityNotice: z.string().optional(),
    userLeftNotice: z.string().optional(),
    userBackNotice: z.string().optional(),
  }),
  engageThreadId: z.string().nullable(),
  interventionId: z.string().nullable(),
  queue: queueSnapshotSchema.nullable(),
  lastEventAt: z.string().nullable(),
  messageCount: z.number().int(),
  agentId: z.string().nullable().optional(),
  inactivityDueAt: z.number().nullable().optional(),
  userLeft: z.boolean().optional(),
  transcriptSent: z.object({ until: z.string().nullable(), hashes: z.array(z.string()) }).optional(),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
}) satisfies z.ZodType<Conversation>;

export const outboxJobKindSchema = z.enum([
  'engage.send',
  'engage.categorize',
  'engage.endIntervention',
  'cognigy.notify',
  'cognigy.inject',
  'handover.inactivity',
]) satisfies z.ZodType<OutboxJobKind>;

const writeSourceSchema = z.enum(['extension', 'agent reply', 'queue update', 'webhook', 'relay']) satisfies z.ZodType<WriteSource>;
export const jobNoteSchema = z.object({ source: writeSourceSchema, summary: z.string() }) satisfies z.ZodType<JobNote>;

/** The parts of a job that never change after enqueue. */
const storedJobDataSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  /** Absent on jobs written before threadId was stored (see legacyThreadIdOfLane). */
  threadId: z.string().optional(),
  lane: z.string(),
  kind: outboxJobKindSchema,
  payload: jsonValueSchema,
  deadlineAt: z.number(),
  notBefore: z.number().optional(),
  createdAt: z.number(),
  note: jobNoteSchema.optional(),
});

/**
 * Jobs written before threadId was stored carry it only in their lane (`<tenant>/<thread>/<direction>`).
 * Used when reading such a job back, nowhere else.
 */
export function legacyThreadIdOfLane(lane: string): string {
  const parts = lane.split('/');
  return parts.length === 3 ? (parts[1] ?? '') : '';
}

export const jobDataSchema = storedJobDataSchema.transform(({ threadId, ...data }) => ({
  ...data,
  threadId: threadId ?? legacyThreadIdOfLane(data.lane),
}));
export type JobData = z.output<typeof jobDataSchema>;

/** A full job as stored in a dead letter (JSON text in SQLite, a JSON fragment in Redis). */
export const outboxJobSchema = storedJobDataSchema
  .extend({
    seq: z.number().int(),
    attempts: z.number().int(),
    nextAttemptAt: z.number(),
    lastError: z.string().nullable(),
  })
  .transform(({ threadId, ...job }): OutboxJob => ({ ...job, threadId: threadId ?? legacyThreadIdOfLane(job.lane) }));

export function parseConversation(text: string): Conversation {
  return conversationSchema.parse(JSON.parse(text));
}

/** Builds a job from its immutable data and its mutable delivery state, dropping an absent notBefore. */
export function assembleJob(
  data: JobData,
  state: { seq: number; attempts: number; nextAttemptAt: number; lastError: string | null },
): OutboxJob {
  const job: OutboxJob = {
    id: data.id,
    tenantId: data.tenantId,
    threadId: data.threadId,
    lane: data.lane,
    kind: data.kind,
    payload: data.payload,
    deadlineAt: data.deadlineAt,
    createdAt: data.createdAt,
    ...state,
  };
  if (data.notBefore !== undefined) job.notBefore = data.notBefore;
  if (data.note !== undefined) job.note = data.note;
  return job;
}

/** Jobs of one conversation and one direction run in order; a conversation's lanes are independent of each other. */
export type LaneDirection = 'engage' | 'cognigy' | 'timer';
const LANE_DIRECTIONS: readonly LaneDirection[] = ['engage', 'cognigy', 'timer'];

export function laneOf(tenantId: string, threadId: string, direction: LaneDirection): string {
  return `${tenantId}/${threadId}/${direction}`;
}

/** Every lane a conversation's jobs can be in. */
export function conversationLanes(tenantId: string, threadId: string): string[] {
  return LANE_DIRECTIONS.map((direction) => laneOf(tenantId, threadId, direction));
}

/** The conversation a lane belongs to: lanes are `<tenant>/<thread>/<direction>`; any other name is its own group. */
export function laneGroup(lane: string): string {
  const i = lane.lastIndexOf('/');
  return i > 0 ? lane.slice(0, i) : lane;
}

/** The conversation group a mutation writes, or null for a lone dedup key. */
export function mutationGroup(m: Mutation): string | null {
  if (m.conversation) return `${m.conversation.value.tenantId}/${m.conversation.value.threadId}`;
  if (m.scope) return `${m.scope.tenantId}/${m.scope.threadId}`;
  const first = m.jobs?.[0];
  return first ? laneGroup(first.lane) : null;
}

/** Rejects inputs both stores would otherwise handle differently (e.g. Redis refuses PX 0). */
export function validateMutation(m: Mutation): void {
  const group = mutationGroup(m);
  for (const job of m.jobs ?? []) {
    if (laneGroup(job.lane) !== group) {
      throw new RangeError(
        `a mutation's jobs must belong to its conversation ${JSON.stringify(group)}; lane ${JSON.stringify(job.lane)} does not`,
      );
    }
  }
  if (m.dedup && !(Number.isFinite(m.dedup.ttlMs) && m.dedup.ttlMs > 0)) {
    throw new RangeError(`dedup ttlMs must be a positive number, got ${m.dedup.ttlMs}`);
  }
  if (m.conversation) {
    const ev = m.conversation.expectedVersion;
    if (ev !== null && !Number.isSafeInteger(ev)) throw new RangeError(`expectedVersion must be an integer or null, got ${ev}`);
  }
}

/** The version a successful conversation write stores: the store owns the counter. */
export function nextVersion(expectedVersion: number | null): number {
  return expectedVersion === null ? 1 : expectedVersion + 1;
}

const jobRefSchema = { jobId: z.string(), kind: outboxJobKindSchema, attempt: z.number().int() };

/** A timeline entry as both stores keep it (JSON text); see HistoryEntry. */
export const historyEntrySchema = z.discriminatedUnion('type', [
  z.object({
    at: z.number(),
    type: z.literal('write'),
    source: writeSourceSchema,
    status: z.object({ from: handoverStatusSchema.nullable(), to: handoverStatusSchema }).optional(),
    queue: z.object({ position: z.number(), estimatedWaitTimeMs: z.number() }).optional(),
    engageThreadId: z.string().optional(),
    jobs: z.array(z.object({ id: z.string(), kind: outboxJobKindSchema, summary: z.string() })),
  }),
  z.object({ at: z.number(), type: z.literal('delivered'), ...jobRefSchema, queuedAt: z.number(), note: jobNoteSchema.optional() }),
  z.object({
    at: z.number(),
    type: z.literal('retry'),
    ...jobRefSchema,
    error: z.string(),
    nextAttemptAt: z.number(),
    queuedAt: z.number().optional(),
    note: jobNoteSchema.optional(),
  }),
  z.object({
    at: z.number(),
    type: z.literal('dead'),
    ...jobRefSchema,
    error: z.string(),
    queuedAt: z.number().optional(),
    note: jobNoteSchema.optional(),
  }),
]) satisfies z.ZodType<HistoryEntry>;

/** The conversation a mutation's timeline entry belongs to, or null (a write of no conversation records nothing). */
export function historyOwner(m: Mutation): { tenantId: string; threadId: string } | null {
  if (m.conversation) return { tenantId: m.conversation.value.tenantId, threadId: m.conversation.value.threadId };
  return m.scope ?? null;
}

/** The timeline entry of an applied mutation, with the ids the store gave its jobs (same order as `m.jobs`). */
export function writeEntry(m: Mutation & { history: HistoryNote }, at: number, jobIds: readonly string[]): HistoryEntry {
  const { jobs: summaries, ...note } = m.history;
  const jobs = (m.jobs ?? []).map((job, i) => ({ id: jobIds[i] ?? '', kind: job.kind, summary: summaries[i] ?? '' }));
  return { at, type: 'write', ...note, jobs };
}

/**
 * What an applied mutation records: a write entry with the conversation it belongs to, or (a write
 * that only queues jobs, see JobNote) no entry and a note on each job. `notes` is in the order of `m.jobs`.
 */
export function timelineOfWrite(
  m: Mutation,
  at: number,
  jobIds: readonly string[],
): {
  entry: { owner: { tenantId: string; threadId: string }; value: HistoryEntry } | null;
  notes: readonly (JobNote | undefined)[];
} {
  const history = m.history;
  const owner = history ? historyOwner(m) : null;
  if (!history || !owner) return { entry: null, notes: [] };
  const jobsOnly = !history.status && !history.queue && history.engageThreadId === undefined && history.jobs.length > 0;
  if (!jobsOnly) return { entry: { owner, value: writeEntry({ ...m, history }, at, jobIds) }, notes: [] };
  return { entry: null, notes: history.jobs.map((summary) => ({ source: history.source, summary })) };
}

/** When a noted job was queued and what it was, for its attempt entries. */
const noted = (job: OutboxJob): { queuedAt: number; note: JobNote } | Record<string, never> =>
  job.note ? { queuedAt: job.createdAt, note: job.note } : {};

/** Timeline entries of a job's attempts. */
export const attemptEntry = {
  delivered: (job: OutboxJob, at: number): HistoryEntry => ({
    at,
    type: 'delivered',
    jobId: job.id,
    kind: job.kind,
    attempt: job.attempts + 1,
    queuedAt: job.createdAt,
    ...(job.note ? { note: job.note } : {}),
  }),
  retry: (job: OutboxJob, at: number, error: string, nextAttemptAt: number): HistoryEntry => ({
    at,
    type: 'retry',
    jobId: job.id,
    kind: job.kind,
    attempt: job.attempts + 1,
    error,
    nextAttemptAt,
    ...noted(job),
  }),
  dead: (job: OutboxJob, at: number, error: string): HistoryEntry => ({
    at,
    type: 'dead',
    jobId: job.id,
    kind: job.kind,
    attempt: job.attempts + 1,
    error,
    ...noted(job),
  }),
};

/** Timeline entries kept per conversation by default (older ones are dropped as new ones arrive). */
export const DEFAULT_HISTORY_CAP = 200;
