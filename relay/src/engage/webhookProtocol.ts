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

/** Metadata fields we use; everything else in metadata is ignored. */
export const interventionMetadataSchema = z.object({
  source_id: z.string().nullable().optional(),
  thread_id: z.string().nullable().optional(),
  user_id: z.string().nullable().optional(),
});

/** Events that change a handover; others are acknowledged and ignored. */
export const HANDLED_EVENT_TYPES = ['intervention.opened', 'task.taken', 'intervention.closed', 'intervention.canceled'] as const;
export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];
export function isHandledEventType(type: string): type is HandledEventType {
  return (HANDLED_EVENT_TYPES as readonly string[]).includes(type);
}
