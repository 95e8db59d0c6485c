import { z } from 'zod';
import { userAttachmentSchema } from './userAttachment';

/**
 * The HTTP contract between the Cognigy extension (client) and the relay (server).
 * Both sides import this module; nothing else describes these bodies.
 * All routes are POST, JSON, signed (see requestSigning.ts), under `<relayUrl>/api/v1`.
 */

export const RELAY_API_PREFIX = '/api/v1';
export const RELAY_ROUTES = {
  startHandover: '/handover/start',
  userMessage: '/handover/message',
  cancelHandover: '/handover/cancel',
  queueStatus: '/handover/status',
  sendProfile: '/profile',
} as const;
export type RelayRouteName = keyof typeof RELAY_ROUTES;

const id = z.string().trim().min(1).max(256);

export const cognigySessionSchema = z.object({
  URLToken: id,
  userId: id,
  sessionId: id,
});
export type CognigySession = z.infer<typeof cognigySessionSchema>;

/**
 * What the extension's connection says about Engage. The relay compares it with its own tenant
 * settings and refuses drift with an error that names the field.
 */
export const connectionFingerprintSchema = z.object({
  sourceId: id,
  botCategoryId: id,
  agentCategoryId: id,
  /** sha256 hex of the API access token, first 16 chars: proves the same token without sending it. */
  apiAccessTokenFingerprint: z.string().regex(/^[0-9a-f]{16}$/),
});
export type ConnectionFingerprint = z.infer<typeof connectionFingerprintSchema>;

/** A contact profile: free-form keys from Cognigy's profile, scalar values or string lists. */
export const contactProfileSchema = z.record(
  z.string().min(1).max(128),
  z.union([z.string().max(4096), z.number(), z.boolean(), z.null(), z.array(z.string().max(4096)).max(100)]),
);
export type ContactProfile = z.infer<typeof contactProfileSchema>;

export const transcriptLineSchema = z.object({
  role: z.enum(['user', 'bot']),
  text: z.string().min(1).max(20000),
  /** ISO-8601; optional, the relay orders by position in the array either way. */
  at: z.string().datetime({ offset: true }).optional(),
});
export type TranscriptLine = z.infer<typeof transcriptLineSchema>;

/**
 * An entry as Cognigy's Get Transcript node stores it: `{role, type: "input"|"output", payload:
 * {text, data}, timestamp}` (Cognigy/Extensions extensions/cxone ConversationItem), with role
 * "user", "assistant" (the AI Agent / bot), "agent" (a human agent), "system" or "tool"
 * (Cognigy/Documentation add-transcript-steps.md). Accepted as it comes: user → user, assistant
 * and agent → bot (the company's side of the conversation); system and tool entries, and entries
 * without text (`payload.text` null or missing), are skipped.
 */
export const getTranscriptEntrySchema = z.object({
  role: z.string().min(1).max(64),
  type: z.string().max(64).optional(),
  payload: z.object({ text: z.unknown().optional() }).passthrough(),
  /** Milliseconds since the epoch. */
  timestamp: z.number().optional(),
});
export type GetTranscriptEntry = z.infer<typeof getTranscriptEntrySchema>;

const TRANSCRIPT_ROLES: Readonly<Record<string, TranscriptLine['role']>> = { user: 'user', assistant: 'bot', agent: 'bot' };

/** The transcript line of a Get Transcript entry; null for entries that carry no text for the agent. */
export function transcriptLineFromEntry(entry: GetTranscriptEntry): TranscriptLine | null {
  const role = TRANSCRIPT_ROLES[entry.role.toLowerCase()];
  const text = typeof entry.payload.text === 'string' ? entry.payload.text.trim().slice(0, 20000) : '';
  if (!role || !text) return null;
  const at = entry.timestamp !== undefined && Number.isFinite(entry.timestamp) ? new Date(entry.timestamp) : null;
  return at && !Number.isNaN(at.getTime()) ? { role, text, at: at.toISOString() } : { role, text };
}

/** A transcript of our lines or of Get Transcript entries (or both), normalised to our lines. */
export const transcriptSchema = z
  .array(z.union([transcriptLineSchema, getTranscriptEntrySchema]))
  .max(500)
  .transform((entries) =>
    entries.flatMap((entry): TranscriptLine[] => {
      if ('payload' in entry) {
        const line = transcriptLineFromEntry(entry);
        return line ? [line] : [];
      }
      return [entry];
    }),
  );

const envelope = {
  /** Unique per logical request; the relay deduplicates on it (retries of the same call are safe). */
  requestId: id,
  connection: connectionFingerprintSchema,
  session: cognigySessionSchema,
};

export const handoverOptionsSchema = z.object({
  forwardOnlyHandoverConversations: z.boolean().default(true),
  getQueueUpdates: z.boolean().default(true),
});
export type HandoverOptions = z.infer<typeof handoverOptionsSchema>;

export const startHandoverRequestSchema = z.object({
  ...envelope,
  profile: contactProfileSchema.default({}),
  /** Explicit key mappings (Cognigy profile key → Engage user key) that add to or override the defaults. */
  profileMapping: z.record(z.string().min(1).max(128), z.string().min(1).max(64)).default({}),
  transcript: transcriptSchema.default([]),
  firstMessage: z.string().min(1).max(20000),
  /** Key/value data for the thread (routing rules); keys are sanitised by the relay. */
  contextData: z.record(z.string().min(1).max(128), z.union([z.string().max(4096), z.array(z.string().max(4096)).max(100)])).default({}),
  options: handoverOptionsSchema.default({ forwardOnlyHandoverConversations: true, getQueueUpdates: true }),
  /** Engage category ids added to the thread with the Agent category (the built-in provider's "Additional Category IDs"). */
  additionalCategoryIds: z.array(id).max(20).optional(),
});
export type StartHandoverRequest = z.infer<typeof startHandoverRequestSchema>;

export const handoverStatusSchema = z.enum(['idle', 'queued', 'active', 'completed', 'cancelled', 'error']);
export type HandoverStatus = z.infer<typeof handoverStatusSchema>;

export const startHandoverResponseSchema = z.object({
  threadId: z.string(),
  status: handoverStatusSchema,
  /** false when a handover was already running for this session (the call changed nothing). */
  started: z.boolean(),
});
export type StartHandoverResponse = z.infer<typeof startHandoverResponseSchema>;

export const userMessageRequestSchema = z.object({
  ...envelope,
  role: z.enum(['user', 'bot']).default('user'),
  /**
   * "Forward Only Handover Conversations" off: mirror this message to Engage (Bot category) even
   * when no handover is running, so agents later see the whole conversation.
   */
  mirror: z.boolean().default(false),
  text: z.string().max(20000).default(''),
  attachments: z.array(userAttachmentSchema).max(10).default([]),
}).refine((m) => m.text.length > 0 || m.attachments.length > 0, { message: 'text or attachments required' });
export type UserMessageRequest = z.infer<typeof userMessageRequestSchema>;

export const userMessageResponseSchema = z.object({
  forwarded: z.boolean(),
  status: handoverStatusSchema,
});
export type UserMessageResponse = z.infer<typeof userMessageResponseSchema>;

export const cancelHandoverRequestSchema = z.object({
  ...envelope,
  reason: z.string().max(500).default('user_cancelled'),
});
export type CancelHandoverRequest = z.infer<typeof cancelHandoverRequestSchema>;

export const cancelHandoverResponseSchema = z.object({ status: handoverStatusSchema, cancelled: z.boolean() });
export type CancelHandoverResponse = z.infer<typeof cancelHandoverResponseSchema>;

export const queueStatusRequestSchema = z.object({ ...envelope });
export type QueueStatusRequest = z.infer<typeof queueStatusRequestSchema>;

export const queueStatusResponseSchema = z.object({
  status: handoverStatusSchema,
  /** false when Engage has not reported a queue position for this conversation yet. */
  known: z.boolean(),
  position: z.number().int().nonnegative().nullable(),
  /** Milliseconds, like Cognigy's built-in provider. */
  estimatedWaitTime: z.number().int().nonnegative().nullable(),
  updatedAt: z.string().nullable(),
});
export type QueueStatusResponse = z.infer<typeof queueStatusResponseSchema>;

export const sendProfileRequestSchema = z.object({
  ...envelope,
  profile: contactProfileSchema,
  profileMapping: z.record(z.string().min(1).max(128), z.string().min(1).max(64)).default({}),
});
export type SendProfileRequest = z.infer<typeof sendProfileRequestSchema>;

export const sendProfileResponseSchema = z.object({ queued: z.boolean(), authorId: z.string() });
export type SendProfileResponse = z.infer<typeof sendProfileResponseSchema>;

/** Error body of every relay API failure. `field` names the setting that disagrees, when that is the cause. */
export const relayErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});
export type RelayError = z.infer<typeof relayErrorSchema>;

export const relayRequestSchemas = {
  startHandover: startHandoverRequestSchema,
  userMessage: userMessageRequestSchema,
  cancelHandover: cancelHandoverRequestSchema,
  queueStatus: queueStatusRequestSchema,
  sendProfile: sendProfileRequestSchema,
} as const;

export const relayResponseSchemas = {
  startHandover: startHandoverResponseSchema,
  userMessage: userMessageResponseSchema,
  cancelHandover: cancelHandoverResponseSchema,
  queueStatus: queueStatusResponseSchema,
  sendProfile: sendProfileResponseSchema,
} as const;

/** Input type (before defaults) — what a client may send. */
export type RelayRequestInput<R extends RelayRouteName> = z.input<(typeof relayRequestSchemas)[R]>;
export type RelayRequest<R extends RelayRouteName> = z.output<(typeof relayRequestSchemas)[R]>;
export type RelayResponse<R extends RelayRouteName> = z.output<(typeof relayResponseSchemas)[R]>;

/** The handover events the relay injects into Cognigy as `input.data.handover`. */
export const injectedHandoverEventSchema = z.object({
  status: z.enum(['queue', 'active', 'completed', 'cancelled', 'error']),
  source: z.literal('rce-handover'),
  threadId: z.string(),
  position: z.number().int().nonnegative().optional(),
  /** Milliseconds. */
  estimatedWaitTime: z.number().int().nonnegative().optional(),
  agentName: z.string().optional(),
  error: z.object({ reason: z.string(), message: z.string() }).optional(),
  /** With status "queue": why the user waits again ("agent_released": the agent cancelled the intervention). */
  reason: z.enum(['agent_released']).optional(),
});
export type InjectedHandoverEvent = z.infer<typeof injectedHandoverEventSchema>;
