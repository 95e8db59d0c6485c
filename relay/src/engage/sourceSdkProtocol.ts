import { z } from 'zod';

/** Inbound Source SDK requests (Engage → our Base URI) and the shapes we answer with. */

export const sdkRequestSchema = z.object({
  action: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'must look like <object>.<operation>'),
  params: z.record(z.string(), z.unknown()).optional(),
  time: z.string().datetime({ offset: true }).optional(),
});
export type SdkRequest = z.infer<typeof sdkRequestSchema>;

const idLike = z.union([z.string().min(1).max(256), z.number().int()]).transform(String);

/**
 * An attachment URL the user's chat may open: https only (http where an admin allows it), so a
 * `javascript:` or `data:` URL in an agent reply never reaches Cognigy's notify payload.
 */
function attachmentUrl(allowHttp: boolean) {
  const schemes = allowHttp ? ['https:', 'http:'] : ['https:'];
  return z
    .string()
    .max(4096)
    .url()
    .refine((u) => URL.canParse(u) && schemes.includes(new URL(u).protocol), allowHttp ? 'must be an http(s) URL' : 'must be an https URL (ALLOW_HTTP_ATTACHMENTS allows http)');
}

function agentAttachment(allowHttp: boolean) {
  return z.object({
    url: attachmentUrl(allowHttp),
    type: z.string().max(128).optional().nullable(),
    filename: z.string().max(512).optional().nullable(),
  });
}
export const agentAttachmentSchema = agentAttachment(false);
export type AgentAttachment = z.infer<typeof agentAttachmentSchema>;

/** Agent reply params (objects.md "Agent reply params"); attachments must be https. */
export const agentReplyParamsSchema = agentReplyParams(false);
/** The same, with plain-http attachment URLs allowed (ALLOW_HTTP_ATTACHMENTS). */
export const agentReplyParamsAllowingHttpSchema = agentReplyParams(true);

function agentReplyParams(allowHttp: boolean) {
  return z.object({
    content_id: idLike,
    thread_id: idLike,
    body: z.string().max(100_000).nullable().optional(),
    author_id: idLike.optional().nullable(),
    sender_name: z.string().max(512).optional().nullable(),
    in_reply_to_id: idLike.optional().nullable(),
    format: z.enum(['text', 'html']).optional().nullable(),
    retry: z.boolean().optional(),
    attachments: z.array(agentAttachment(allowHttp)).max(50).optional().nullable(),
    created_at: z.string().optional().nullable(),
    updated_at: z.string().optional().nullable(),
    title: z.string().optional().nullable(),
    structured_content: z.record(z.string(), z.unknown()).optional().nullable(),
  });
}
export type AgentReplyParams = z.infer<typeof agentReplyParamsSchema>;

/** `messaging.queuing_update` (action-details.md): wait time in seconds. */
export const queuingUpdateParamsSchema = z.object({
  thread_id: idLike,
  position: z.coerce.number().int().nonnegative(),
  estimated_wait_time: z.coerce.number().nonnegative().max(10 * 365 * 24 * 3600),
  in_reply_to_id: idLike.optional().nullable(),
});
export type QueuingUpdateParams = z.infer<typeof queuingUpdateParamsSchema>;

export const listParamsSchema = z.object({ since_id: idLike.optional() }).optional();
export const showParamsSchema = z.object({ id: idLike });

/**
 * What we declare in implementation.info: a threaded chat source (messages carry thread_id),
 * text only, agent attachments, and Engage's queue notifications. Send API actions must be
 * declared too (like `status: ["mark_as_read"]` in the docs' example), hence `users: ["create"]`
 * for the Bot identity and profile updates. Nothing else is claimed.
 */
export const IMPLEMENTATION_INFO = {
  objects: {
    messages: ['create', 'show', 'list'],
    threads: ['show', 'list'],
    users: ['create'],
  },
  options: ['view.messaging', 'messages.text', 'messages.attachments', 'messaging.queuing_update'],
} as const;

/** Per-item error body (objects.md): fatal=false makes Engage retry, fatal=true makes it give up. */
export function itemError(fatal: boolean, message: string): { error: { fatal: boolean; message: string } } {
  return { error: { fatal, message } };
}
