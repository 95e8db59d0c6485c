import type { Logger } from 'pino';
import { verifySdkSignature } from '../../relay/src/engage/sdkSignature';
import type { Desk } from './desk';
import {
  CONTEXT_DATA_KEY,
  STRUCTURED_CONTENT_TYPES,
  USER_KEYS,
  contextValueSchema,
  isBlank,
  missingMessageFields,
  missingUserFields,
  sdkMessageSchema,
  sdkPrivateMessageSchema,
  sdkStatusSchema,
  sdkThreadSchema,
  sdkTypingSchema,
  sdkUserSchema,
  sendApiEnvelopeSchema,
  type ContextData,
  type SdkAttachment,
  type SdkUser,
} from './objects';
import type { Identity, SimAttachment, SimMessage, SimThread, SimulatorState } from './state';
import { isoSeconds, newObjectId, type Scheduler } from './util';

/**
 * Send API `POST /realtime/sdk/:source_id` (send-api.md), transport-free: the HTTP adapter hands
 * over the raw body and the presented signature, this answers `{status, body}` in the documented
 * plain-text error vocabulary.
 */

export const MAX_SEND_API_BYTES = 20_971_520;
export const MAX_BODY_CHARS = 20_000;
const TYPING_INTERVAL_MS = 2_000;

export const SEND_API_ERRORS = {
  badRequest: 'Bad request',
  invalidRequestFormat: 'Invalid request format',
  tooLarge: `Invalid request size (max: ${MAX_SEND_API_BYTES} bytes)`,
  sourceNotFound: 'Source not found',
  invalidSignature: 'Invalid signature',
  invalidAction: 'Invalid action',
  invalidResourceFormat: 'Invalid resource format',
  noStructuredContent: "Source doesn't support structured contents",
  structuredTypeRequired: 'Type is required for structured contents',
  structuredTypeUnsupported: "Source doesn't support this type of structured content",
  authorMustBePuppetizable: 'The author must be puppetizable',
  tooManyTyping: 'too many typing requests, please try again in a few seconds',
} as const;

/**
 * Mandatory attributes per structured type (structured-messages.md: select items, rich_link url and
 * title, template title, carousel items); a blank one gets send-api.md's
 * `structured_content: "attribute_name" must not be empty` (422).
 */
const REQUIRED_STRUCTURED_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  select: ['items'],
  rich_link: ['url', 'title'],
  template: ['title'],
  carousel: ['items'],
};

/** Actions the Send API implements at all (send-api.md "Supported Actions"). */
const SEND_API_ACTIONS = new Set([
  'messages.create',
  'private_messages.create',
  'threads.create',
  'users.create',
  'status.mark_as_read',
  'typing.start',
  'typing.stop',
]);

export interface SendApiRequest {
  sourceId: string;
  rawBody: Buffer;
  /** Body exceeded MAX_SEND_API_BYTES (it was drained, not kept). */
  tooLarge: boolean;
  /** `X-SMCCSDK-SIGNATURE` header, else the `signature` query parameter. */
  signature: string | undefined;
}

export interface TextResponse {
  status: number;
  body: string;
}

export interface SendApiOptions {
  state: SimulatorState;
  desk: Desk;
  scheduler: Scheduler;
  clock: () => Date;
  logger: Logger;
  sourceId: string;
  realtimeAccessToken: string;
  botCategoryId: string;
  /** Categories an Engage rule adds to every thread at import. */
  ruleCategoryIds: readonly string[];
  importDelayMs: number;
}

const ok: TextResponse = { status: 200, body: 'ok' };
/** Marker for "accepted, nothing changed" so the log can flag duplicates. */
const duplicateOk: TextResponse = { status: 200, body: 'ok' };
const fail = (status: number, body: string): TextResponse => ({ status, body });

export class SendApi {
  /** Last accepted typing.start per thread key (ms). */
  private readonly typingStarts = new Map<string, number>();

  constructor(private readonly options: SendApiOptions) {}

  private get state(): SimulatorState {
    return this.options.state;
  }

  private now(): string {
    return isoSeconds(this.options.clock());
  }

  handle(request: SendApiRequest): TextResponse {
    if (request.sourceId !== this.options.sourceId) return fail(422, SEND_API_ERRORS.sourceNotFound);
    if (request.tooLarge) return fail(413, SEND_API_ERRORS.tooLarge);
    if (!verifySdkSignature([this.options.realtimeAccessToken], request.rawBody, request.signature)) {
      return fail(422, SEND_API_ERRORS.invalidSignature);
    }
    let json: unknown;
    try {
      json = JSON.parse(request.rawBody.toString('utf8')) as unknown;
    } catch {
      // send-api.md: "Bad request — the body is not JSON formatted or malformed".
      return fail(400, SEND_API_ERRORS.badRequest);
    }
    const envelope = sendApiEnvelopeSchema.safeParse(json);
    if (!envelope.success) return fail(400, SEND_API_ERRORS.invalidRequestFormat);
    const { action, params } = envelope.data;
    // Real Engage only accepts actions the source declared in implementation.info, learned when the
    // source is saved: before saveSource() nothing is declared, so everything is an invalid action.
    if (!this.isAccepted(action)) return fail(422, SEND_API_ERRORS.invalidAction);
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    }
    const response = this.dispatch(action, params);
    if (response.status === 200) this.logAccepted(action, params, response === duplicateOk);
    return response.status === 200 ? ok : response;
  }

  private isAccepted(action: string): boolean {
    if (!SEND_API_ACTIONS.has(action) || !this.state.declares(action)) return false;
    // objects.md: typing "can only be used if the messaging.typing_indicator option is enabled".
    if (action.startsWith('typing.') && !this.state.hasOption('messaging.typing_indicator')) return false;
    return true;
  }

  private logAccepted(action: string, params: unknown, duplicate: boolean): void {
    this.state.sendApiLog.push({ at: this.now(), action, params: structuredClone(params), duplicate });
    this.state.changed('sendApi');
  }

  private dispatch(action: string, params: object): TextResponse {
    switch (action) {
      case 'messages.create':
        return this.createMessage(action, params);
      case 'users.create':
        return this.createUser(action, params);
      case 'threads.create':
        return this.createThread(action, params);
      case 'private_messages.create':
        return this.createPrivateMessage(action, params);
      case 'status.mark_as_read':
        return this.markAsRead(action, params);
      case 'typing.start':
      case 'typing.stop':
        return this.typing(action, params);
      default:
        return fail(422, SEND_API_ERRORS.invalidAction);
    }
  }

  // ---- messages.create ----

  private createMessage(action: string, params: object): TextResponse {
    const parsed = sdkMessageSchema.safeParse(params);
    if (!parsed.success) return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    const message = parsed.data;
    const itemId = message.id ?? null;

    if (message.structured_content) {
      const structuredError = this.checkStructuredContent(message.structured_content, message.author);
      if (structuredError) return fail(422, structuredError);
    }

    const unthreaded = this.state.hasOption('messages.unthreaded');
    const missing = missingMessageFields(message, unthreaded);
    // objects.md: "Contents without required fields will be ignored" — yet the Send API says ok.
    if (missing.length > 0) return this.dropItem(action, itemId, `missing required field(s): ${missing.join(', ')}`);
    const id = message.id as string;
    const author = message.author as SdkUser;
    if ((message.body ?? '').length > MAX_BODY_CHARS) {
      return this.dropItem(action, id, `body longer than ${MAX_BODY_CHARS} characters`);
    }
    if (this.state.messageByForeignId.has(id)) return duplicateOk;

    const dropField = (field: string, reason: string): void =>
      this.state.recordDrop({ action, itemId: id, scope: 'field', field, reason }, this.now());

    const attachments = this.sanitizeAttachments(message.attachments ?? [], dropField);
    if (isBlank(message.body) && attachments.length === 0) {
      return this.dropItem(action, id, 'no body and no usable attachment');
    }
    const identity = this.upsertIdentity(author, action, id, 'author.');
    const contextData = sanitizeContextData(message.context_data, 'context_data', dropField);
    const format = this.format(message.format, dropField);

    let inReplyTo = message.in_reply_to_id ?? null;
    if (inReplyTo !== null && inReplyTo !== '' && !this.state.messageByForeignId.has(inReplyTo)) {
      // objects.md: in_reply_to_id "has to be a valid content ID if present".
      dropField('in_reply_to_id', `unknown content id ${inReplyTo}`);
      inReplyTo = null;
    }
    if (inReplyTo === '') inReplyTo = null;

    const thread = this.threadFor(unthreaded ? null : (message.thread_id as string), id, inReplyTo);
    const stored: SimMessage = {
      id: newObjectId(),
      foreign_id: id,
      thread_id: thread.id,
      thread_foreign_id: thread.foreign_id,
      side: identity.puppetizable ? 'bot' : 'customer',
      author_identity_id: identity.id,
      author_foreign_id: identity.foreign_id,
      agent_user_id: null,
      sender_name: null,
      body: isBlank(message.body) ? null : (message.body as string),
      format,
      attachments,
      categories: message.categories ?? [],
      context_data: contextData,
      in_reply_to_id: inReplyTo,
      structured_content: message.structured_content ?? null,
      structured_reply_payload: message.structured_reply?.payload ?? null,
      created_at: message.created_at ?? this.now(),
      received_at: this.now(),
      intervention_id: this.state.openIntervention(thread.id)?.id ?? null,
      synchronization_status: null,
      read_at: null,
    };
    this.state.messages.set(stored.id, stored);
    this.state.messageByForeignId.set(id, stored.id);
    thread.messageIds.push(stored.id);
    // context_data on a message belongs to the thread (session data usable in routing rules).
    Object.assign(thread.context_data, contextData);
    thread.updated_at = this.now();
    this.state.changed('message', stored.id);
    this.options.desk.issueContent('content.imported', stored);
    return ok;
  }

  private checkStructuredContent(content: Record<string, unknown>, author: SdkUser | null | undefined): string | null {
    if (!this.state.hasOption('view.messaging')) return SEND_API_ERRORS.noStructuredContent;
    const type = content['type'];
    if (typeof type !== 'string' || type === '') return SEND_API_ERRORS.structuredTypeRequired;
    if (!(STRUCTURED_CONTENT_TYPES as readonly string[]).includes(type)) return SEND_API_ERRORS.structuredTypeUnsupported;
    const empty = REQUIRED_STRUCTURED_ATTRIBUTES[type]?.find((attribute) => isBlank(content[attribute]));
    if (empty) return `structured_content: "${empty}" must not be empty`;
    const known = author?.id ? this.state.findIdentityByForeignId(author.id) : undefined;
    if (!(author?.puppetizable ?? known?.puppetizable ?? false)) return SEND_API_ERRORS.authorMustBePuppetizable;
    return null;
  }

  private format(raw: string | null | undefined, dropField: (field: string, reason: string) => void): 'text' | 'html' {
    if (raw === 'text' || raw === 'html') return raw;
    if (!isBlank(raw)) dropField('format', `format must be text or html, got ${String(raw)}; html assumed`);
    return 'html';
  }

  private sanitizeAttachments(attachments: SdkAttachment[], dropField: (field: string, reason: string) => void): SimAttachment[] {
    const kept: SimAttachment[] = [];
    attachments.forEach((attachment, index) => {
      const hasUrl = !isBlank(attachment.url);
      const hasContent = !isBlank(attachment.content) && !isBlank(attachment.filename);
      if (!hasUrl && !hasContent) {
        dropField(`attachments[${index}]`, 'an attachment needs url, or content with filename');
        return;
      }
      kept.push({
        url: hasUrl ? (attachment.url as string) : null,
        filename: attachment.filename ?? null,
        type: attachment.type ?? null,
        contentBytes: hasContent ? Buffer.byteLength(attachment.content as string, 'base64') : null,
      });
    });
    return kept;
  }

  /** Threaded: by the source's thread_id. Unthreaded: follow in_reply_to_id, else a new thread. */
  private threadFor(threadForeignId: string | null, messageId: string, inReplyTo: string | null): SimThread {
    if (threadForeignId === null && inReplyTo !== null) {
      const parent = this.state.findMessageByForeignId(inReplyTo);
      const parentThread = parent ? this.state.threads.get(parent.thread_id) : undefined;
      if (parentThread) return parentThread;
    }
    const foreignId = threadForeignId ?? messageId;
    const existingId = this.state.threadByForeignId.get(foreignId);
    const existing = existingId === undefined ? undefined : this.state.threads.get(existingId);
    return existing ?? this.newThread(foreignId, null);
  }

  /** Thread import is asynchronous: REST sees the thread only after importDelayMs. */
  private newThread(foreignId: string, title: string | null): SimThread {
    const thread: SimThread = {
      id: newObjectId(),
      source_id: this.options.sourceId,
      foreign_id: foreignId,
      title,
      closed: false,
      // The source's default category (Message Settings) is Bot.
      category_ids: [this.options.botCategoryId],
      context_data: {},
      created_at: this.now(),
      updated_at: this.now(),
      imported: false,
      imported_at: null,
      messageIds: [],
      queue: null,
      typing: null,
      categorizing: false,
    };
    this.state.threads.set(thread.id, thread);
    this.state.threadByForeignId.set(foreignId, thread.id);
    this.state.changed('thread', thread.id);
    this.options.scheduler.after(this.options.importDelayMs, () => {
      thread.imported = true;
      thread.imported_at = this.now();
      if (this.options.ruleCategoryIds.length > 0)
        thread.category_ids = [...new Set([...thread.category_ids, ...this.options.ruleCategoryIds])];
      this.state.changed('thread', thread.id);
    });
    return thread;
  }

  // ---- users.create / threads.create / private_messages.create ----

  private createUser(action: string, params: object): TextResponse {
    const parsed = sdkUserSchema.safeParse(params);
    if (!parsed.success) return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    const missing = missingUserFields(parsed.data);
    if (missing.length > 0) {
      return this.dropItem(action, parsed.data.id ?? null, `missing required field(s): ${missing.join(', ')}`);
    }
    this.upsertIdentity(parsed.data, action, parsed.data.id as string, '');
    return ok;
  }

  private createThread(action: string, params: object): TextResponse {
    const parsed = sdkThreadSchema.safeParse(params);
    if (!parsed.success) return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    const thread = parsed.data;
    if (this.state.hasOption('messages.unthreaded')) {
      // options.md: with messages.unthreaded, threads.* are ignored.
      return this.dropItem(action, thread.id ?? null, 'threads are ignored when messages.unthreaded is set');
    }
    const missing: string[] = [];
    if (isBlank(thread.id)) missing.push('id');
    if (!this.state.hasOption('threads.no_content')) {
      if (!thread.author) missing.push('author');
      else missing.push(...missingUserFields(thread.author).map((field) => `author.${field}`));
      if (isBlank(thread.body)) missing.push('body');
    }
    if (missing.length > 0) return this.dropItem(action, thread.id ?? null, `missing required field(s): ${missing.join(', ')}`);
    const id = thread.id as string;
    const dropField = (field: string, reason: string): void =>
      this.state.recordDrop({ action, itemId: id, scope: 'field', field, reason }, this.now());
    if (thread.author) this.upsertIdentity(thread.author, action, id, 'author.');
    const existingId = this.state.threadByForeignId.get(id);
    const stored = (existingId === undefined ? undefined : this.state.threads.get(existingId)) ?? this.newThread(id, null);
    if (!isBlank(thread.title)) stored.title = thread.title as string;
    Object.assign(stored.context_data, sanitizeContextData(thread.context_data, 'context_data', dropField));
    stored.updated_at = this.now();
    this.state.changed('thread', stored.id);
    return ok;
  }

  private createPrivateMessage(action: string, params: object): TextResponse {
    const parsed = sdkPrivateMessageSchema.safeParse(params);
    if (!parsed.success) return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    const message = parsed.data;
    const missing: string[] = [];
    if (isBlank(message.id)) missing.push('id');
    if (!message.author) missing.push('author');
    if (!message.recipient) missing.push('recipient');
    if (isBlank(message.body) && isBlank(message.attachments)) missing.push('body (or attachments)');
    if (missing.length > 0) return this.dropItem(action, message.id ?? null, `missing required field(s): ${missing.join(', ')}`);
    // Accepted and logged; private conversations are not modelled in the desk.
    this.options.logger.debug({ id: message.id }, 'private message accepted (not modelled)');
    return ok;
  }

  // ---- status / typing ----

  private markAsRead(action: string, params: object): TextResponse {
    const parsed = sdkStatusSchema.safeParse(params);
    if (!parsed.success) return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    const message = this.state.findMessageByForeignId(parsed.data.id);
    if (!message || message.side !== 'agent') {
      return this.dropItem(action, parsed.data.id, 'no agent message has this id (use the id returned to messages.create)');
    }
    message.read_at = this.now();
    this.state.changed('message', message.id);
    return ok;
  }

  private typing(action: string, params: object): TextResponse {
    const parsed = sdkTypingSchema.safeParse(params);
    if (!parsed.success) return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    const { thread_id: threadId, in_reply_to_id: inReplyTo, preview } = parsed.data;
    if (isBlank(threadId) && isBlank(inReplyTo)) return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    if (action === 'typing.start' && isBlank(preview)) return fail(422, SEND_API_ERRORS.invalidResourceFormat);
    // thread_id wins over in_reply_to_id when both are given (objects.md).
    const thread = !isBlank(threadId) ? this.state.findThread(threadId as string) : this.threadOfMessage(inReplyTo as string);
    const key = thread?.id ?? `${threadId ?? ''}|${inReplyTo ?? ''}`;
    const nowMs = this.options.clock().getTime();
    if (action === 'typing.start') {
      const last = this.typingStarts.get(key);
      if (last !== undefined && nowMs - last < TYPING_INTERVAL_MS) return fail(429, SEND_API_ERRORS.tooManyTyping);
      this.typingStarts.set(key, nowMs);
      if (thread) thread.typing = { preview: preview ?? null, at: this.now() };
    } else {
      // send-api.md: typing.stop resets the 2 s timer.
      this.typingStarts.delete(key);
      if (thread) thread.typing = null;
    }
    if (thread) this.state.changed('typing', thread.id);
    return ok;
  }

  private threadOfMessage(foreignMessageId: string): SimThread | undefined {
    const message = this.state.findMessageByForeignId(foreignMessageId);
    return message ? this.state.threads.get(message.thread_id) : undefined;
  }

  // ---- identities ----

  /** Same User.id = same identity: profile fields replaced when given, context_data merged. */
  private upsertIdentity(user: SdkUser, action: string, itemId: string, fieldPrefix: string): Identity {
    const foreignId = user.id as string;
    const dropField = (field: string, reason: string): void =>
      this.state.recordDrop({ action, itemId, scope: 'field', field: `${fieldPrefix}${field}`, reason }, this.now());
    for (const key of Object.keys(user)) {
      if (!(USER_KEYS as readonly string[]).includes(key)) {
        dropField(key, 'not a User key, ignored by Engage (put it in context_data)');
      }
    }
    let gender: 'man' | 'woman' | null = null;
    if (user.gender === 'man' || user.gender === 'woman') gender = user.gender;
    else if (!isBlank(user.gender)) dropField('gender', `gender must be man or woman, got ${String(user.gender)}`);
    const contextData = sanitizeContextData(user.context_data, 'context_data', dropField);
    const now = this.now();
    const existing = this.state.findIdentityByForeignId(foreignId);
    const pick = (value: string | null | undefined, previous: string | null): string | null =>
      isBlank(value) ? previous : (value as string);
    if (existing) {
      existing.screenname = pick(user.screenname, existing.screenname) ?? existing.screenname;
      existing.firstname = pick(user.firstname, existing.firstname);
      existing.lastname = pick(user.lastname, existing.lastname);
      existing.email = pick(user.email, existing.email);
      existing.home_phone = pick(user.home_phone, existing.home_phone);
      existing.mobile_phone = pick(user.mobile_phone, existing.mobile_phone);
      existing.avatar_url = pick(user.avatar_url, existing.avatar_url);
      existing.gender = gender ?? existing.gender;
      if (typeof user.puppetizable === 'boolean') existing.puppetizable = user.puppetizable;
      Object.assign(existing.context_data, contextData);
      existing.updated_at = now;
      this.state.changed('identity', existing.id);
      return existing;
    }
    const identity: Identity = {
      id: newObjectId(),
      foreign_id: foreignId,
      source_id: this.options.sourceId,
      screenname: user.screenname as string,
      firstname: pick(user.firstname, null),
      lastname: pick(user.lastname, null),
      email: pick(user.email, null),
      home_phone: pick(user.home_phone, null),
      mobile_phone: pick(user.mobile_phone, null),
      avatar_url: pick(user.avatar_url, null),
      gender,
      puppetizable: user.puppetizable ?? false,
      context_data: contextData,
      identity_group_id: newObjectId(),
      created_at: user.created_at ?? now,
      updated_at: user.updated_at ?? now,
    };
    this.state.identities.set(identity.id, identity);
    this.state.identityByForeignId.set(foreignId, identity.id);
    this.state.changed('identity', identity.id);
    return identity;
  }

  private dropItem(action: string, itemId: string | null, reason: string): TextResponse {
    this.state.recordDrop({ action, itemId, scope: 'item', field: null, reason }, this.now());
    this.options.logger.debug({ action, itemId, reason }, 'Send API item silently dropped');
    return ok;
  }
}

/** Keeps keys matching [a-zA-Z-] with string or string-list values; reports the rest. */
export function sanitizeContextData(
  raw: Record<string, unknown> | null | undefined,
  fieldPrefix: string,
  dropField: (field: string, reason: string) => void,
): ContextData {
  const kept: ContextData = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (value === null || value === undefined) continue;
    if (!CONTEXT_DATA_KEY.test(key)) {
      dropField(`${fieldPrefix}.${key}`, 'context_data keys must match [a-zA-Z-]');
      continue;
    }
    const parsed = contextValueSchema.safeParse(value);
    if (!parsed.success) {
      dropField(`${fieldPrefix}.${key}`, 'context_data values must be strings or lists of strings');
      continue;
    }
    kept[key] = parsed.data;
  }
  return kept;
}
