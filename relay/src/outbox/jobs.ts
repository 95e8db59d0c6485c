import { z } from 'zod';
import { laneOf } from '../store/schemas';
import { timelinePreview } from './timelinePreview';
import type { JsonValue, NewOutboxJob } from '../store/types';

/** Payloads of outbox jobs, parsed again when a job runs (the store hands back plain JSON). */

export const engageSendPayloadSchema = z.object({
  action: z.string(),
  params: z.record(z.string(), z.unknown()),
  /** messages.create of user files with USER_FILES_BY_CONTENT: fetch each attachment URL (these schemes) and send its content. */
  attachmentsByContent: z.enum(['https', 'http']).optional(),
});
export type EngageSendPayload = z.infer<typeof engageSendPayloadSchema>;

export const engageCategorizePayloadSchema = z.object({
  threadId: z.string(),
  /** Which move: the categories to add and remove are worked out from the tenant when the job runs. */
  purpose: z.enum(['handover', 'return_to_bot']),
  /** Handover only: the node's Additional Category IDs. */
  additionalCategoryIds: z.array(z.string()).optional(),
  /** Jobs written before the merge: the set they would have replaced; ignored (purpose says the move). */
  categoryIds: z.array(z.string()).optional(),
});
export type EngageCategorizePayload = z.infer<typeof engageCategorizePayloadSchema>;

export const engageEndInterventionPayloadSchema = z.object({ threadId: z.string() });
export type EngageEndInterventionPayload = z.infer<typeof engageEndInterventionPayloadSchema>;

export const inactivityCheckPayloadSchema = z.object({ threadId: z.string(), dueAt: z.number() });
export type InactivityCheckPayload = z.infer<typeof inactivityCheckPayloadSchema>;

export const cognigyCallPayloadSchema = z.object({
  URLToken: z.string(),
  userId: z.string(),
  sessionId: z.string(),
  text: z.string(),
  data: z.record(z.string(), z.unknown()),
  /** Notify only: Cognigy's top-level media attachments. */
  attachments: z.array(z.object({ name: z.string(), url: z.string(), type: z.enum(['image', 'video', 'audio', 'file']) })).optional(),
  /**
   * Notify of an agent reply only: once Cognigy accepted it, Engage is told the reply was read
   * (send-api.md `status.mark_as_read` with this id, the one we answered Engage with). Not sent to Cognigy.
   */
  readReceiptId: z.string().optional(),
});
export type CognigyCallPayload = z.infer<typeof cognigyCallPayloadSchema>;

/**
 * Payloads are built from parsed JSON, strings and plain objects, so they are JSON as they are: the
 * store serialises each once when it writes it (dropping undefined fields), and a job leased at write
 * time runs with this very object. No round trip here (it was two of the five serialisations an
 * agent reply paid, issue 20).
 */
function toJson(
  value: EngageSendPayload | EngageCategorizePayload | EngageEndInterventionPayload | InactivityCheckPayload | CognigyCallPayload,
): JsonValue {
  return value as JsonValue;
}

export function engageSendJob(tenantId: string, threadId: string, deadlineAt: number, payload: EngageSendPayload): NewOutboxJob {
  return {
    tenantId,
    threadId,
    lane: laneOf(tenantId, threadId, 'engage'),
    kind: 'engage.send',
    payload: toJson(payload),
    deadlineAt,
    summary: summarizeEngageSend(payload),
  };
}

export function engageCategorizeJob(
  tenantId: string,
  deadlineAt: number,
  payload: EngageCategorizePayload,
  notBefore?: number,
): NewOutboxJob {
  const job: NewOutboxJob = {
    tenantId,
    threadId: payload.threadId,
    lane: laneOf(tenantId, payload.threadId, 'engage'),
    kind: 'engage.categorize',
    payload: toJson(payload),
    deadlineAt,
    summary: summarizeCategorize(payload),
  };
  if (notBefore !== undefined) job.notBefore = notBefore;
  return job;
}

export function engageEndInterventionJob(tenantId: string, deadlineAt: number, payload: EngageEndInterventionPayload): NewOutboxJob {
  return {
    tenantId,
    threadId: payload.threadId,
    lane: laneOf(tenantId, payload.threadId, 'engage'),
    kind: 'engage.endIntervention',
    payload: toJson(payload),
    deadlineAt,
    summary: END_INTERVENTION_SUMMARY,
  };
}

export function cognigyJob(
  kind: 'cognigy.notify' | 'cognigy.inject',
  tenantId: string,
  threadId: string,
  deadlineAt: number,
  payload: CognigyCallPayload,
): NewOutboxJob {
  return {
    tenantId,
    threadId,
    lane: laneOf(tenantId, threadId, 'cognigy'),
    kind,
    payload: toJson(payload),
    deadlineAt,
    summary: kind === 'cognigy.notify' ? summarizeNotify(payload) : summarizeInject(payload),
  };
}

/**
 * The inactivity check waits in its own lane until the user's silence is due (notBefore), so it never
 * holds up the conversation's messages. Any relay sharing the store may claim it.
 */
export function inactivityCheckJob(tenantId: string, payload: InactivityCheckPayload, deadlineAfterDueMs: number): NewOutboxJob {
  return {
    tenantId,
    threadId: payload.threadId,
    lane: laneOf(tenantId, payload.threadId, 'timer'),
    kind: 'handover.inactivity',
    payload: toJson(payload),
    deadlineAt: payload.dueAt + deadlineAfterDueMs,
    notBefore: payload.dueAt,
    summary: INACTIVITY_SUMMARY,
  };
}

/** Characters of a message body the timeline keeps: enough to recognise a message, never the whole of it. */
export const TIMELINE_PREVIEW_CHARS = 16;

/**
 * `"<first TIMELINE_PREVIEW_CHARS code points, whitespace runs as one space>[…]" (<code points> chars)`,
 * in one pass over the text without copies (see timelinePreview.ts).
 */
function preview(text: string): string {
  return timelinePreview(text, TIMELINE_PREVIEW_CHARS);
}

const withAttachments = (n: number | undefined): string => (n ? `, ${n} attachment(s)` : '');

// Built once: zod compiles an object schema on its first parse, so a schema built per call costs far more than the parse.
const authorIdSchema = z.object({ id: z.string() });
const injectDataSchema = z.object({
  handover: z.object({ status: z.string(), position: z.number().optional(), reason: z.string().optional() }),
});

const END_INTERVENTION_SUMMARY = 'end the intervention';
const INACTIVITY_SUMMARY = 'inactivity check';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function summarizeEngageSend(payload: EngageSendPayload): string {
  const body = payload.params.body;
  if (payload.action !== 'messages.create' || typeof body !== 'string') return payload.action;
  const author = authorIdSchema.safeParse(payload.params.author);
  const attachments = Array.isArray(payload.params.attachments) ? payload.params.attachments.length : 0;
  // Contacts' ids are `cog-u-…` (identity.authorIdFor); every other author is the tenant's Bot identity.
  const from = author.success && author.data.id.startsWith('cog-u-') ? 'user' : 'bot';
  return `messages.create from ${from} ${preview(body)}${withAttachments(attachments)}`;
}

function summarizeCategorize(payload: EngageCategorizePayload): string {
  return `categorize for ${payload.purpose}`;
}

// The agent-reply hot path: read `data.rceHandover.agentName` by hand (no schema) when it is a non-empty string.
function summarizeNotify(payload: CognigyCallPayload): string {
  const handover = payload.data.rceHandover;
  const agentName = isObject(handover) ? handover.agentName : undefined;
  const by = typeof agentName === 'string' && agentName ? ` from agent ${JSON.stringify(agentName)}` : '';
  return `notify${by} ${preview(payload.text)}${withAttachments(payload.attachments?.length)}`;
}

function summarizeInject(payload: CognigyCallPayload): string {
  const handover = injectDataSchema.safeParse(payload.data);
  if (!handover.success) return 'inject';
  const h = handover.data.handover;
  return `inject status=${h.status}${h.position === undefined ? '' : ` position=${h.position}`}${h.reason ? ` reason=${h.reason}` : ''}`;
}

/**
 * One line about a job for the conversation timeline (`relay inspect`): what it does, and at most
 * the first TIMELINE_PREVIEW_CHARS characters and the length of a message body. No URLs, tokens or
 * session keys: attachments are counted, not listed. Jobs from the constructors above carry it
 * already; any other job's payload is parsed here.
 */
export function summarizeJob(job: NewOutboxJob): string {
  if (job.summary !== undefined) return job.summary;
  switch (job.kind) {
    case 'engage.send': {
      const p = engageSendPayloadSchema.safeParse(job.payload);
      return p.success ? summarizeEngageSend(p.data) : 'send (unreadable payload)';
    }
    case 'engage.categorize': {
      const p = engageCategorizePayloadSchema.safeParse(job.payload);
      return p.success ? summarizeCategorize(p.data) : 'categorize';
    }
    case 'engage.endIntervention':
      return END_INTERVENTION_SUMMARY;
    case 'cognigy.notify': {
      const p = cognigyCallPayloadSchema.safeParse(job.payload);
      return p.success ? summarizeNotify(p.data) : 'notify (unreadable payload)';
    }
    case 'cognigy.inject': {
      const p = cognigyCallPayloadSchema.safeParse(job.payload);
      return p.success ? summarizeInject(p.data) : 'inject';
    }
    case 'handover.inactivity':
      return INACTIVITY_SUMMARY;
  }
}
