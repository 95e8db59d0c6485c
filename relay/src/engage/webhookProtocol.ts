import { z } from 'zod';

/** Engage webhook deliveries (docs/webhooks/events.md): batched, at-least-once, unordered. */

export const webhookEventSchema = z.object({
  type: z.string().min(1).max(128),
  id: z.string().min(1).max(128),
  issued_at: z.string().datetime({ offset: true }),
  user_id: z.string().max(128).nullable().optional(),
  resource: z.object({
    type: z.string().max(128),
    /** events.md types it Integer, its samples show strings: both are taken, kept as a string. */
    id: z.union([z.string().max(128), z.number().int().safe()]).transform(String),
    metadata: z.record(z.string(), z.unknown()).default({}),
  }),
});
export type WebhookEvent = z.infer<typeof webhookEventSchema>;

export const webhookDeliverySchema = z.object({
  id: z.string().min(1).max(128),
  domain_id: z.string().max(128).optional(),
  events: z.array(z.unknown()).max(1000),
});

export const verificationQuerySchema = z.object({
  'hub.mode': z.literal('subscribe'),
  'hub.challenge': z.string().min(1).max(1024),
  'hub.verify_token': z.string().min(1).max(1024),
});

/** Metadata fields we use; everything else in metadata is ignored (events.md "Metadata" of interventions and tasks). */
export const interventionMetadataSchema = z.object({
  source_id: z.string().nullable().optional(),
  thread_id: z.string().nullable().optional(),
  /** Intervention events: the agent of the intervention (after a re-assignment, the new one). */
  user_id: z.string().nullable().optional(),
  /** Task events: the agents assigned to the task (after a transfer, the new one). */
  agent_ids: z.array(z.string()).nullable().optional(),
});

/**
 * The events that change a handover (events.md): the engine switches over exactly these, so an
 * event added here does not compile until the engine handles it. Others are acknowledged and ignored.
 */
export const HANDOVER_EVENT_TYPES = [
  'intervention.opened',
  'task.taken',
  'task.transferred',
  'intervention.user_updated',
  'intervention.canceled',
  'intervention.closed',
] as const;
export type HandoverEventType = (typeof HANDOVER_EVENT_TYPES)[number];
export type HandoverWebhookEvent = WebhookEvent & { type: HandoverEventType };

export function isHandoverEvent(event: WebhookEvent): event is HandoverWebhookEvent {
  return (HANDOVER_EVENT_TYPES as readonly string[]).includes(event.type);
}

/** The events that name the agent who now has the conversation. */
export const AGENT_EVENT_TYPES = [
  'intervention.opened',
  'task.taken',
  'task.transferred',
  'intervention.user_updated',
] as const satisfies readonly HandoverEventType[];

/**
 * The agent the event puts on the conversation: the intervention's `user_id`, or the task's
 * first `agent_ids`; else the agent who triggered it (top-level `user_id`, set for agent-triggered events).
 */
export function agentIdOf(event: WebhookEvent): string | null {
  const metadata = interventionMetadataSchema.safeParse(event.resource.metadata);
  const fromMetadata = metadata.success ? (event.resource.type === 'task' ? metadata.data.agent_ids?.[0] : metadata.data.user_id) : null;
  return fromMetadata || event.user_id || null;
}
