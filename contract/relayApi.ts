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
  closeHandover: '/handover/close',
  agentAvailability: '/agents/availability',
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

export const DEFAULT_INACTIVITY_NOTICE = 'The customer has not written for a while.';
export const DEFAULT_USER_LEFT_NOTICE = 'The customer left the conversation.';
export const DEFAULT_USER_BACK_NOTICE = 'The customer is back in the conversation.';

export const handoverOptionsSchema = z.object({
  forwardOnlyHandoverConversations: z.boolean().default(true),
  getQueueUpdates: z.boolean().default(true),
  /** Minutes of user silence while an agent is active before the agent is told; 0 = off. */
  inactivityTimeoutMinutes: z.number().int().min(0).max(1440).default(0),
  /** After the inactivity notice, close the handover too (the Flow hears `{status:'completed', reason:'inactivity'}`). */
  inactivityCloses: z.boolean().default(false),
  /** Told to the agent when the inactivity timeout fires. */
  inactivityNotice: z.string().max(1000).default(DEFAULT_INACTIVITY_NOTICE),
  /** Told to the agent when the user leaves (cancel while an agent is active). */
  userLeftNotice: z.string().max(1000).default(DEFAULT_USER_LEFT_NOTICE),
  /** Told to the agent when a user who left comes back (new handover, or a message on the still-open thread). */
  userBackNotice: z.string().max(1000).default(DEFAULT_USER_BACK_NOTICE),
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
  options: handoverOptionsSchema.default({
    forwardOnlyHandoverConversations: true,
    getQueueUpdates: true,
    inactivityTimeoutMinutes: 0,
    inactivityCloses: false,
    inactivityNotice: DEFAULT_INACTIVITY_NOTICE,
    userLeftNotice: DEFAULT_USER_LEFT_NOTICE,
    userBackNotice: DEFAULT_USER_BACK_NOTICE,
  }),
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

export const userMessageRequestSchema = z
  .object({
    ...envelope,
    role: z.enum(['user', 'bot']).default('user'),
    /**
     * "Forward Only Handover Conversations" off: mirror this message to Engage (Bot category) even
     * when no handover is running, so agents later see the whole conversation.
     */
    mirror: z.boolean().default(false),
    text: z.string().max(20000).default(''),
    attachments: z.array(userAttachmentSchema).max(10).default([]),
    /** The user picked an option of an agent's structured message: answered as Engage documents (in_reply_to_id + structured_reply). */
    structuredReply: z.object({ inReplyToId: id, payload: z.string().max(1000).optional() }).optional(),
    /** Bot role only: Engage structured content (select, rich_link, template, carousel) mirroring the bot's quick replies or cards. */
    structuredContent: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((m) => m.text.length > 0 || m.attachments.length > 0, { message: 'text or attachments required' });
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

/**
 * The Flow ends the handover. "closed": the intervention was closed; "cancelled": Engage refused to
 * close it (e.g. not yet taken by an agent) so the relay cancelled it; either way the thread goes back
 * to the Bot category and the conversation ends. No event is injected back into the Flow.
 */
export const closeHandoverRequestSchema = z.object({
  ...envelope,
  reason: z.string().max(500).default('closed_by_flow'),
});
export type CloseHandoverRequest = z.infer<typeof closeHandoverRequestSchema>;

export const closeHandoverResponseSchema = z.object({
  status: handoverStatusSchema,
  closed: z.boolean(),
  outcome: z.enum(['closed', 'cancelled', 'not_running']),
});
export type CloseHandoverResponse = z.infer<typeof closeHandoverResponseSchema>;

/** Whether agents who could take the conversation are available now (Engage agent status, cached a few seconds per tenant). */
export const agentAvailabilityRequestSchema = z.object({
  ...envelope,
  /** Categories an available agent must serve; default: the tenant's Agent category. */
  categoryIds: z.array(id).max(20).optional(),
});
export type AgentAvailabilityRequest = z.infer<typeof agentAvailabilityRequestSchema>;

export const agentAvailabilityResponseSchema = z.object({
  available: z.boolean(),
  availableAgents: z.number().int().nonnegative(),
  checkedAt: z.string().datetime({ offset: true }),
});
export type AgentAvailabilityResponse = z.infer<typeof agentAvailabilityResponseSchema>;

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
  closeHandover: closeHandoverRequestSchema,
  agentAvailability: agentAvailabilityRequestSchema,
} as const;

export const relayResponseSchemas = {
  startHandover: startHandoverResponseSchema,
  userMessage: userMessageResponseSchema,
  cancelHandover: cancelHandoverResponseSchema,
  queueStatus: queueStatusResponseSchema,
  sendProfile: sendProfileResponseSchema,
  closeHandover: closeHandoverResponseSchema,
  agentAvailability: agentAvailabilityResponseSchema,
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
  /** On the agent-joined and transfer events: the agent's name from Engage's users resource (absent if the lookup failed). */
  agentName: z.string().optional(),
  /** Engage user id of the agent, on the agent-joined and transfer events. */
  agentId: z.string().optional(),
  error: z.object({ reason: z.string(), message: z.string() }).optional(),
  /**
   * Why: with status "queue", "agent_released" (the agent cancelled the intervention); with status
   * "active", "transferred" (the conversation was reassigned to another agent); with status
   * "completed", "inactivity" (the user was silent past the inactivity timeout).
   */
  reason: z.enum(['agent_released', 'transferred', 'inactivity']).optional(),
  /** With status "completed", for a Flow's own satisfaction question: Engage's ids of the agent user, intervention and thread, and when it closed. */
  interventionId: z.string().optional(),
  engageThreadId: z.string().optional(),
  endedAt: z.string().optional(),
});
export type InjectedHandoverEvent = z.infer<typeof injectedHandoverEventSchema>;
