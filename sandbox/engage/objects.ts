import { z } from 'zod';

/**
 * Engage Digital objects as documented (source-sdk objects.md, REST spec, webhooks events.md).
 * Inbound Send API schemas only check *shape* (types of present fields): Engage treats null, empty
 * and absent alike and silently ignores items missing required fields, so required-ness is checked
 * separately (see `missingMessageFields`) to reproduce that drop instead of answering an error.
 */

const str = z.string().nullish();

/** Values Engage accepts in context_data: strings or string lists. */
export const contextValueSchema = z.union([z.string(), z.array(z.string())]);
export type ContextValue = z.infer<typeof contextValueSchema>;
export type ContextData = Record<string, ContextValue>;
export const CONTEXT_DATA_KEY = /^[a-zA-Z-]+$/;

/** The complete documented User key set; anything else is ignored by Engage (pitfall 8). */
export const USER_KEYS = [
  'id',
  'screenname',
  'created_at',
  'updated_at',
  'firstname',
  'lastname',
  'email',
  'home_phone',
  'mobile_phone',
  'avatar_url',
  'gender',
  'puppetizable',
  'context_data',
] as const;

export const sdkUserSchema = z.looseObject({
  id: str,
  screenname: str,
  created_at: str,
  updated_at: str,
  firstname: str,
  lastname: str,
  email: str,
  home_phone: str,
  mobile_phone: str,
  avatar_url: str,
  gender: str,
  puppetizable: z.boolean().nullish(),
  context_data: z.record(z.string(), z.unknown()).nullish(),
});
export type SdkUser = z.infer<typeof sdkUserSchema>;

export const sdkAttachmentSchema = z.looseObject({
  url: str,
  content: str,
  filename: str,
  type: str,
});
export type SdkAttachment = z.infer<typeof sdkAttachmentSchema>;

const contentFields = {
  id: str,
  author: sdkUserSchema.nullish(),
  body: str,
  format: str,
  in_reply_to_id: str,
  created_at: str,
  updated_at: str,
  actions: z.array(z.string()).nullish(),
  categories: z.array(z.string()).nullish(),
  context_data: z.record(z.string(), z.unknown()).nullish(),
  display_url: str,
  ip: str,
  language: str,
  attachments: z.array(sdkAttachmentSchema).nullish(),
  structured_content: z.record(z.string(), z.unknown()).nullish(),
  structured_reply: z.looseObject({ payload: str }).nullish(),
};

export const sdkMessageSchema = z.object({ ...contentFields, thread_id: str });
export type SdkMessage = z.infer<typeof sdkMessageSchema>;

export const sdkPrivateMessageSchema = z.object({ ...contentFields, recipient: sdkUserSchema.nullish() });

export const sdkThreadSchema = z.object({
  id: str,
  author: sdkUserSchema.nullish(),
  body: str,
  title: str,
  format: str,
  categories: z.array(z.string()).nullish(),
  context_data: z.record(z.string(), z.unknown()).nullish(),
  created_at: str,
  updated_at: str,
  display_url: str,
  ip: str,
  actions: z.array(z.string()).nullish(),
});
export type SdkThread = z.infer<typeof sdkThreadSchema>;

export const sdkStatusSchema = z.object({ id: z.string().min(1) });
export const sdkTypingSchema = z.object({ thread_id: str, in_reply_to_id: str, preview: str });

/** Send API envelope: both keys mandatory (send-api.md). params' inner shape is checked per action. */
export const sendApiEnvelopeSchema = z.object({
  action: z.string().min(1),
  params: z.unknown().refine((value) => value !== undefined && value !== null, 'params is required'),
});

/** True for "null, empty set, absent" — all the same thing for Engage. */
export function isBlank(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === 'string') return value.length === 0;
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

/** Required User fields as the brief fixes them (updated_at is documented required but examples omit it). */
export function missingUserFields(user: SdkUser): string[] {
  const missing: string[] = [];
  if (isBlank(user.id)) missing.push('id');
  if (isBlank(user.screenname)) missing.push('screenname');
  if (isBlank(user.created_at)) missing.push('created_at');
  return missing;
}

export function missingMessageFields(message: SdkMessage, unthreaded: boolean): string[] {
  const missing: string[] = [];
  if (isBlank(message.id)) missing.push('id');
  if (!unthreaded && isBlank(message.thread_id)) missing.push('thread_id');
  if (!message.author) missing.push('author');
  else missing.push(...missingUserFields(message.author).map((field) => `author.${field}`));
  if (isBlank(message.body) && isBlank(message.attachments)) missing.push('body (or attachments)');
  return missing;
}

/** Structured content types Engage knows (structured-messages.md). */
export const STRUCTURED_CONTENT_TYPES = ['select', 'rich_link', 'template', 'carousel'] as const;

// ---- Source SDK: what the source answers ----

/** implementation.info answer: `objects` is a map of object → operations; options optional (all off by default). */
export const implementationInfoSchema = z.object({
  objects: z.record(z.string(), z.array(z.string())),
  options: z.array(z.string()).optional(),
  locales: z.record(z.string(), z.record(z.string(), z.string())).optional(),
});
export type ImplementationInfo = z.infer<typeof implementationInfoSchema>;

export interface SourceCapabilities {
  objects: Record<string, string[]>;
  options: string[];
  locales?: Record<string, Record<string, string>>;
  /** Option combinations the docs call invalid; Engage would still save the source. */
  warnings: string[];
}

/** Per-item error (action-details.md "Resource errors"). */
export const resourceErrorSchema = z.object({
  error: z.object({ fatal: z.boolean(), message: z.string().nullish() }),
});
/** A created object: at least `{id}`. */
export const createdObjectSchema = z.looseObject({ id: z.union([z.string().min(1), z.number()]) });

// ---- REST objects (engage-rest-webhooks.md §3) ----

export interface CategoryJson {
  id: string;
  name: string;
  parent_id: string | null;
  source_ids: string[];
  mandatory: boolean;
  multiple: boolean;
  unselectable: boolean;
  post_qualification: boolean;
}

export interface AgentUserJson {
  id: string;
  firstname: string;
  lastname: string;
  nickname: string;
  email: string;
  enabled: boolean;
  category_ids: string[];
  team_ids: string[];
  identity_ids: string[];
}

export interface IdentityJson {
  id: string;
  foreign_id: string;
  source_id: string;
  screenname: string;
  firstname: string | null;
  lastname: string | null;
  email: string | null;
  identity_group_id: string;
  user_ids: string[];
  created_at: string;
  updated_at: string;
}

export interface ContentThreadJson {
  id: string;
  source_id: string;
  title: string | null;
  closed: boolean;
  category_ids: string[];
  thread_category_ids: string[];
  foreign_id: string;
  extra_data: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export type InterventionStatus = 'opened' | 'closed' | 'canceled';

export interface InterventionJson {
  id: string;
  thread_id: string;
  content_id: string | null;
  source_id: string;
  identity_id: string | null;
  user_id: string;
  category_ids: string[];
  closed: boolean;
  closed_at: string | null;
  deferred_at: string | null;
  status: InterventionStatus;
  custom_fields: Record<string, unknown>;
  first_user_reply_in: number | null;
  created_at: string;
  updated_at: string;
}

export interface PageJson<T> {
  count: number;
  offset: number;
  limit: number;
  records: T[];
}

export interface RestErrorJson {
  error: string;
  message: string;
  status: number;
}

// ---- Webhooks (events.md; engage-rest-webhooks.md §1.4, §1.7) ----

export interface WebhookEvent {
  type: string;
  id: string;
  issued_at: string;
  resource: { type: string; id: string | number; metadata: Record<string, unknown> };
  /** Only when an agent (or the token's user) triggered the event. */
  user_id?: string;
  /** Only on task.completed. */
  action?: 'deferred' | 'closed';
}

export interface WebhookPayload {
  id: string;
  domain_id: string;
  events: WebhookEvent[];
}

export const webhookRegistrationSchema = z.object({
  url: z.string().url(),
  secret: z
    .string()
    .max(255)
    .regex(/^[\x20-\x7e]*$/, 'secret must be ASCII')
    .optional(),
  verifyToken: z.string(),
  events: z.array(z.string().min(1)).min(1, 'at least one event'),
  sourceIds: z.array(z.string()).optional(),
});
export type WebhookRegistration = z.infer<typeof webhookRegistrationSchema>;
