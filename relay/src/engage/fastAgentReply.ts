import type { z } from 'zod';
import {
  type AgentReplyParams,
  type AgentReplyWire,
  agentReplyParamsAllowingHttpSchema,
  agentReplyParamsSchema,
  SDK_ACTION_PATTERN,
  type SdkRequest,
  sdkRequestSchema,
  withReplyKey,
} from './sourceSdkProtocol';

/**
 * A hand-written fast path for the two shapes every agent reply carries: the Source SDK envelope
 * (`sdkRequestSchema`) and the `messages.create` params (`agentReplyParamsSchema`). zod stays the
 * source of truth: these functions accept only inputs they are sure zod accepts, and then return
 * exactly zod's output (same keys in the same order, same transforms, unknown keys stripped).
 * Anything else is NOT_SURE and the caller runs the zod schema, which also words every 4xx reason.
 * test/unit/fastAgentReply.test.ts checks both against zod on random inputs.
 *
 * The limits below mirror the schemas in sourceSdkProtocol.ts. zod counts a string's length in code
 * points once it exceeds the limit in UTF-16 units; we compare units only and fall back above the
 * limit, so a string zod would still accept (emoji) is never refused here, only handed to zod.
 */

export const NOT_SURE: unique symbol = Symbol('fast parse: not sure, ask zod');
export type NotSure = typeof NOT_SURE;

const TIME_MAX = 64;
const ID_MAX = 256;
const BODY_MAX = 100_000;
const SENDER_NAME_MAX = 512;
const ATTACHMENTS_MAX = 50;
const URL_MAX = 4096;
const ATTACHMENT_TYPE_MAX = 128;
const ATTACHMENT_FILENAME_MAX = 512;

type Check = (value: unknown) => unknown;

/** JSON.parse's objects: the only kind we take. zod's z.object takes more (class instances); those go to zod. */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

const stringAtMost =
  (max: number): Check =>
  (v) =>
    typeof v === 'string' && v.length <= max ? v : NOT_SURE;

const anyString: Check = (v) => (typeof v === 'string' ? v : NOT_SURE);

/** `idLike`: a string of 1–256 or a safe integer (zod's `.int()`), both as a string. */
const idLike: Check = (v) => {
  if (typeof v === 'string') return v.length >= 1 && v.length <= ID_MAX ? v : NOT_SURE;
  return typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : NOT_SURE;
};

const timeString = stringAtMost(TIME_MAX);
const attachmentType = stringAtMost(ATTACHMENT_TYPE_MAX);
const attachmentFilename = stringAtMost(ATTACHMENT_FILENAME_MAX);
const TAB_OR_NEWLINE = /[\t\n\r]/;

const format: Check = (v) => (v === 'text' || v === 'html' ? v : NOT_SURE);
const boolean: Check = (v) => (typeof v === 'boolean' ? v : NOT_SURE);
/** Only the common case (no structured content); a record goes to zod. */
const nothing: Check = () => NOT_SURE;

/**
 * zod's `.url()` rewrites its value (trims it, deletes tabs and newlines): take only URLs it leaves
 * alone, then the schema's own refinement (parseable, allowed scheme).
 */
function attachmentUrl(v: unknown, allowHttp: boolean): unknown {
  if (typeof v !== 'string' || v.length > URL_MAX || v.trim() !== v || TAB_OR_NEWLINE.test(v)) return NOT_SURE;
  if (!URL.canParse(v)) return NOT_SURE;
  const protocol = new URL(v).protocol;
  return protocol === 'https:' || (allowHttp && protocol === 'http:') ? v : NOT_SURE;
}

/** One attachment `{url, type?, filename?}`, keys in the schema's order. */
function attachment(v: unknown, allowHttp: boolean): unknown {
  if (!isPlainRecord(v)) return NOT_SURE;
  const url = attachmentUrl(v.url, allowHttp);
  if (url === NOT_SURE) return NOT_SURE;
  const out: Record<string, unknown> = { url };
  if (!copyOptional(v, out, 'type', true, attachmentType)) return NOT_SURE;
  if (!copyOptional(v, out, 'filename', true, attachmentFilename)) return NOT_SURE;
  return out;
}

function attachments(allowHttp: boolean): Check {
  return (v) => {
    if (!Array.isArray(v) || v.length > ATTACHMENTS_MAX) return NOT_SURE;
    const out: unknown[] = [];
    for (const item of v as unknown[]) {
      const parsed = attachment(item, allowHttp);
      if (parsed === NOT_SURE) return NOT_SURE;
      out.push(parsed);
    }
    return out;
  };
}

/**
 * An optional key as zod's z.object copies it: present in the output exactly when `key in input`
 * (so an explicit `undefined` stays), `undefined` (and `null` when nullable) passed through.
 * Returns false when not sure.
 */
function copyOptional(input: Record<string, unknown>, out: Record<string, unknown>, key: string, nullable: boolean, check: Check): boolean {
  if (!(key in input)) return true;
  const v = input[key];
  if (v === undefined || (nullable && v === null)) {
    out[key] = v;
    return true;
  }
  const parsed = check(v);
  if (parsed === NOT_SURE) return false;
  out[key] = parsed;
  return true;
}

type Field = readonly [key: string, nullable: boolean, check: Check];

/** The agent reply's optional keys after `thread_id`, in the schema's order (which is zod's output order). */
function replyFields(allowHttp: boolean): readonly Field[] {
  return [
    ['body', true, stringAtMost(BODY_MAX)],
    ['author_id', true, idLike],
    ['sender_name', true, stringAtMost(SENDER_NAME_MAX)],
    ['in_reply_to_id', true, idLike],
    ['format', true, format],
    ['retry', false, boolean],
    ['attachments', true, attachments(allowHttp)],
    ['created_at', true, anyString],
    ['updated_at', true, anyString],
    ['title', true, anyString],
    ['structured_content', true, nothing],
  ];
}
const HTTPS_ONLY_FIELDS = replyFields(false);
const HTTP_ALLOWED_FIELDS = replyFields(true);

/** `agentReplyParamsSchema` (or the http-allowing one), or NOT_SURE. */
export function parseAgentReplyFast(params: unknown, allowHttp: boolean): AgentReplyParams | NotSure {
  if (!isPlainRecord(params)) return NOT_SURE;
  const out: Record<string, unknown> = {};
  if (!copyOptional(params, out, 'content_id', true, idLike)) return NOT_SURE;
  const threadId = idLike(params.thread_id);
  if (threadId === NOT_SURE) return NOT_SURE;
  out.thread_id = threadId;
  for (const [key, nullable, check] of allowHttp ? HTTP_ALLOWED_FIELDS : HTTPS_ONLY_FIELDS) {
    if (!copyOptional(params, out, key, nullable, check)) return NOT_SURE;
  }
  // The object now has exactly the keys and values zod's z.object would produce.
  return withReplyKey(out as AgentReplyWire);
}

/**
 * `params` as zod's z.record(z.string(), z.unknown()) copies it: own enumerable string keys in order,
 * `__proto__` dropped. Symbol keys and an own `constructor` (zod's plain-object test reads it) go to zod.
 */
function recordCopy(v: unknown): Record<string, unknown> | NotSure {
  if (!isPlainRecord(v) || Object.hasOwn(v, 'constructor') || Object.getOwnPropertySymbols(v).length > 0) return NOT_SURE;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) {
    if (key !== '__proto__') out[key] = v[key];
  }
  return out;
}

/** `sdkRequestSchema`, or NOT_SURE. */
export function parseSdkRequestFast(value: unknown): SdkRequest | NotSure {
  if (!isPlainRecord(value)) return NOT_SURE;
  const action = value.action;
  if (typeof action !== 'string' || !SDK_ACTION_PATTERN.test(action)) return NOT_SURE;
  const out: Record<string, unknown> = { action };
  if ('params' in value) {
    const params = value.params === undefined ? undefined : recordCopy(value.params);
    if (params === NOT_SURE) return NOT_SURE;
    out.params = params;
  }
  if (!copyOptional(value, out, 'time', false, timeString)) return NOT_SURE;
  return out as SdkRequest;
}

/** The envelope: fast path, else zod (whose error the caller reports). */
export function safeParseSdkRequest(value: unknown): z.ZodSafeParseResult<SdkRequest> {
  const fast = parseSdkRequestFast(value);
  return fast === NOT_SURE ? sdkRequestSchema.safeParse(value) : { success: true, data: fast };
}

/** `messages.create` params: fast path, else zod (whose error the caller reports). */
export function safeParseAgentReply(params: unknown, allowHttp: boolean): z.ZodSafeParseResult<AgentReplyParams> {
  const fast = parseAgentReplyFast(params, allowHttp);
  if (fast !== NOT_SURE) return { success: true, data: fast };
  return (allowHttp ? agentReplyParamsAllowingHttpSchema : agentReplyParamsSchema).safeParse(params);
}
