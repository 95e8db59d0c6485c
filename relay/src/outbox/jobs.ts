import { z } from 'zod';
import type { JsonValue, NewOutboxJob } from '../store/types';

/** Payloads of outbox jobs, parsed again when a job runs (the store hands back plain JSON). */

export const engageSendPayloadSchema = z.object({
  action: z.string(),
  params: z.record(z.string(), z.unknown()),
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

export const cognigyCallPayloadSchema = z.object({
  URLToken: z.string(),
  userId: z.string(),
  sessionId: z.string(),
  text: z.string(),
  data: z.record(z.string(), z.unknown()),
  /** Notify only: Cognigy's top-level media attachments. */
  attachments: z.array(z.object({ name: z.string(), url: z.string(), type: z.enum(['image', 'video', 'audio', 'file']) })).optional(),
});
export type CognigyCallPayload = z.infer<typeof cognigyCallPayloadSchema>;

/** Jobs of one conversation and one direction run in order; Engage and Cognigy lanes are independent. */
export function laneFor(tenantId: string, threadId: string, direction: 'engage' | 'cognigy'): string {
  return `${tenantId}/${threadId}/${direction}`;
}

function toJson(value: unknown): JsonValue {
  // Payloads are built from parsed JSON and plain objects; a round-trip drops undefined fields.
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

export function engageSendJob(tenantId: string, threadId: string, deadlineAt: number, payload: EngageSendPayload): NewOutboxJob {
  return { tenantId, threadId, lane: laneFor(tenantId, threadId, 'engage'), kind: 'engage.send', payload: toJson(payload), deadlineAt };
}

export function engageCategorizeJob(tenantId: string, deadlineAt: number, payload: EngageCategorizePayload, notBefore?: number): NewOutboxJob {
  const job: NewOutboxJob = { tenantId, threadId: payload.threadId, lane: laneFor(tenantId, payload.threadId, 'engage'), kind: 'engage.categorize', payload: toJson(payload), deadlineAt };
  if (notBefore !== undefined) job.notBefore = notBefore;
  return job;
}

export function engageEndInterventionJob(tenantId: string, deadlineAt: number, payload: EngageEndInterventionPayload): NewOutboxJob {
  return { tenantId, threadId: payload.threadId, lane: laneFor(tenantId, payload.threadId, 'engage'), kind: 'engage.endIntervention', payload: toJson(payload), deadlineAt };
}

export function cognigyJob(kind: 'cognigy.notify' | 'cognigy.inject', tenantId: string, threadId: string, deadlineAt: number, payload: CognigyCallPayload): NewOutboxJob {
  return { tenantId, threadId, lane: laneFor(tenantId, threadId, 'cognigy'), kind, payload: toJson(payload), deadlineAt };
}

