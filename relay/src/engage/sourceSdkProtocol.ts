import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Inbound Source SDK requests (Engage → our Base URI) and the shapes we answer with. */

/** Shared with the hand-written fast path (fastAgentReply.ts), so both test the same pattern. */
export const SDK_ACTION_PATTERN = /^[a-z_]+\.[a-z_]+$/;

export const sdkRequestSchema = z.object({
  action: z.string().regex(SDK_ACTION_PATTERN, 'must look like <object>.<operation>'),
  params: z.record(z.string(), z.unknown()).optional(),
  /** Checked by the handler (parsed with Date.parse, refused when unparseable), not here. */
  time: z.string().max(64).optional(),
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
    .refine(
      (u) => URL.canParse(u) && schemes.includes(new URL(u).protocol),
      allowHttp ? 'must be an http(s) URL' : 'must be an https URL (ALLOW_HTTP_ATTACHMENTS allows http)',
    );
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

/**
 * Agent reply params (objects.md "Agent reply params"). `content_id` may be missing: the quick-start
 * sample (docs/sdks/source-sdk/quick-start.md) has none. The parsed reply always carries a
 * `content_id`: Engage's, or a stable hash of the reply (see agentReplyKeyOf), so every consumer
 * de-duplicates Engage's retries the same way.
 */
function agentReplyWire(allowHttp: boolean) {
  return z.object({
    content_id: idLike.optional().nullable(),
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
export type AgentReplyWire = z.output<ReturnType<typeof agentReplyWire>>;
/** Exported for the fast path (fastAgentReply.ts), which must apply the very same transform. */
export const withReplyKey = (reply: AgentReplyWire) => ({ ...reply, content_id: reply.content_id || agentReplyKeyOf(reply) });
/** Attachments must be https. */
export const agentReplyParamsSchema = agentReplyWire(false).transform(withReplyKey);
/** The same, with plain-http attachment URLs allowed (ALLOW_HTTP_ATTACHMENTS). */
export const agentReplyParamsAllowingHttpSchema = agentReplyWire(true).transform(withReplyKey);

const HASHED_REPLY_KEY_PREFIX = 'h-';
/** True when the reply's content_id is our hash (Engage sent none). */
export function isHashedReplyKey(contentId: string): boolean {
  return contentId.startsWith(HASHED_REPLY_KEY_PREFIX);
}
export type AgentReplyParams = z.output<typeof agentReplyParamsSchema>;

/**
 * The key of a reply without content_id: a hash of thread, author, creation time, body and attachment
 * URLs, all of which Engage repeats unchanged on a retry. Two identical replies by one author in one
 * second collapse into one; Engage's created_at has second precision, so that is the price of no id.
 */
export function agentReplyKeyOf(reply: AgentReplyWire): string {
  const h = createHash('sha256');
  const parts = [
    reply.thread_id,
    reply.author_id ?? '',
    reply.created_at ?? '',
    reply.body ?? '',
    ...(reply.attachments ?? []).map((a) => a.url),
  ];
  // Length-prefixed so ("ab","c") and ("a","bc") never collide.
  for (const part of parts) h.update(`${part.length}:${part}|`);
  return `${HASHED_REPLY_KEY_PREFIX}${h.digest('hex').slice(0, 40)}`;
}

/** `messaging.queuing_update` (action-details.md): wait time in seconds. */
export const queuingUpdateParamsSchema = z.object({
  thread_id: idLike,
  position: z.coerce.number().int().nonnegative(),
  estimated_wait_time: z.coerce
    .number()
    .nonnegative()
    .max(10 * 365 * 24 * 3600),
  in_reply_to_id: idLike.optional().nullable(),
});
export type QueuingUpdateParams = z.infer<typeof queuingUpdateParamsSchema>;

export const listParamsSchema = z.object({ since_id: idLike.optional() }).optional();
export const showParamsSchema = z.object({ id: idLike });

/**
 * What we declare in implementation.info: a threaded chat source (messages carry thread_id),
 * text only, agent attachments, and Engage's queue notifications. Send API actions must be
 * declared too (like `status: ["mark_as_read"]` in the docs' example), hence `users: ["create"]`
 * for the Bot identity and profile updates, `status: ["mark_as_read"]` for read receipts. Nothing
 * else is claimed.
 */
export const IMPLEMENTATION_INFO = {
  objects: {
    messages: ['create', 'show', 'list'],
    threads: ['show', 'list'],
    users: ['create'],
    // send-api.md: status.mark_as_read tells the agent the user got their reply.
    status: ['mark_as_read'],
  },
  options: ['view.messaging', 'messages.text', 'messages.attachments', 'messaging.queuing_update'],
} as const;
