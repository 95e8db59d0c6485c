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

/** JSON.parse's objects: the only kind we take. zod's z.object takes more (class instances); those go to zod. */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

// Each checker returns the value zod would output, or NOT_SURE. `undefined` (and `null` where the
// schema is nullable) pass through: zod's z.object keeps a key that is present with `undefined`.

function stringAtMost(v: unknown, max: number): unknown {
  return typeof v === 'string' && v.length <= max ? v : NOT_SURE;
}

function nullableString(v: unknown, max: number): unknown {
  return v === undefined || v === null ? v : stringAtMost(v, max);
}

/** `idLike`: a string of 1–256 or a safe integer (zod's `.int()`), both as a string. */
function idLike(v: unknown): unknown {
  if (typeof v === 'string') return v.length >= 1 && v.length <= ID_MAX ? v : NOT_SURE;
  return typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : NOT_SURE;
}

function nullableId(v: unknown): unknown {
  return v === undefined || v === null ? v : idLike(v);
}

const TAB_OR_NEWLINE = /[\t\n\r]/;

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
function attachment(a: unknown, allowHttp: boolean): unknown {
  if (!isPlainRecord(a)) return NOT_SURE;
  let v = attachmentUrl(a.url, allowHttp);
  if (v === NOT_SURE) return NOT_SURE;
  const out: Record<string, unknown> = { url: v };
  if ('type' in a) {
    if ((v = nullableString(a.type, ATTACHMENT_TYPE_MAX)) === NOT_SURE) return NOT_SURE;
    out.type = v;
  }
  if ('filename' in a) {
    if ((v = nullableString(a.filename, ATTACHMENT_FILENAME_MAX)) === NOT_SURE) return NOT_SURE;
    out.filename = v;
  }
  return out;
}

function nullableAttachments(v: unknown, allowHttp: boolean): unknown {
  if (v === undefined || v === null) return v;
  if (!Array.isArray(v) || v.length > ATTACHMENTS_MAX) return NOT_SURE;
  const out: unknown[] = [];
  for (const item of v as unknown[]) {
    const parsed = attachment(item, allowHttp);
    if (parsed === NOT_SURE) return NOT_SURE;
    out.push(parsed);
  }
  return out;
}

/**
 * `agentReplyParamsSchema` (or the http-allowing one), or NOT_SURE. Written out key by key, in the
 * schema's order (zod's output order): a key is copied exactly when `key in params`, as z.object
 * does; keys the schema does not name are left out (stripped).
 */
export function parseAgentReplyFast(params: unknown, allowHttp: boolean): AgentReplyParams | NotSure {
  if (!isPlainRecord(params)) return NOT_SURE;
  const p = params;
  const out: Record<string, unknown> = {};
  let v: unknown;
  if ('content_id' in p) {
    if ((v = nullableId(p.content_id)) === NOT_SURE) return NOT_SURE;
    out.content_id = v;
  }
  if ((v = idLike(p.thread_id)) === NOT_SURE) return NOT_SURE;
  out.thread_id = v;
  if ('body' in p) {
    if ((v = nullableString(p.body, BODY_MAX)) === NOT_SURE) return NOT_SURE;
    out.body = v;
  }
  if ('author_id' in p) {
    if ((v = nullableId(p.author_id)) === NOT_SURE) return NOT_SURE;
    out.author_id = v;
  }
  if ('sender_name' in p) {
    if ((v = nullableString(p.sender_name, SENDER_NAME_MAX)) === NOT_SURE) return NOT_SURE;
    out.sender_name = v;
  }
  if ('in_reply_to_id' in p) {
    if ((v = nullableId(p.in_reply_to_id)) === NOT_SURE) return NOT_SURE;
    out.in_reply_to_id = v;
  }
  if ('format' in p) {
    v = p.format;
    if (v !== 'text' && v !== 'html' && v !== null && v !== undefined) return NOT_SURE;
    out.format = v;
  }
  if ('retry' in p) {
    v = p.retry; // optional, not nullable
    if (typeof v !== 'boolean' && v !== undefined) return NOT_SURE;
    out.retry = v;
  }
  if ('attachments' in p) {
    if ((v = nullableAttachments(p.attachments, allowHttp)) === NOT_SURE) return NOT_SURE;
    out.attachments = v;
  }
  if ('created_at' in p) {
    if ((v = nullableString(p.created_at, Infinity)) === NOT_SURE) return NOT_SURE;
    out.created_at = v;
  }
  if ('updated_at' in p) {
    if ((v = nullableString(p.updated_at, Infinity)) === NOT_SURE) return NOT_SURE;
    out.updated_at = v;
  }
  if ('title' in p) {
    if ((v = nullableString(p.title, Infinity)) === NOT_SURE) return NOT_SURE;
    out.title = v;
  }
  if ('structured_content' in p) {
    v = p.structured_content; // only the common case: none (a record goes to zod)
    if (v !== null && v !== undefined) return NOT_SURE;
    out.structured_content = v;
  }
  // `out` now is what zod's z.object outputs. withReplyKey copies it and fills in a missing
  // content_id; with Engage's content_id (a non-empty string) that copy equals `out`, key order too.
  return typeof out.content_id === 'string' ? (out as AgentReplyParams) : withReplyKey(out as AgentReplyWire);
}

/**
 * `params` as zod's z.record(z.string(), z.unknown()) copies it: own enumerable string keys in order.
 * An own `__proto__` (zod drops it, a spread would keep it), symbol keys and an own `constructor`
 * (zod's plain-object test reads it) go to zod.
 */
function recordCopy(v: unknown): Record<string, unknown> | NotSure {
  if (!isPlainRecord(v) || Object.hasOwn(v, '__proto__') || Object.hasOwn(v, 'constructor')) return NOT_SURE;
  if (Object.getOwnPropertySymbols(v).length > 0) return NOT_SURE;
  return { ...v };
}

/**
 * `params` itself where zod's copy would equal it in every key and value, for a value straight from
 * JSON.parse (only enumerable data properties, string keys, no symbols) that the caller only reads:
 * the agent reply's params are read once more by parseAgentReplyFast, which builds its own output.
 */
function jsonRecord(v: unknown): Record<string, unknown> | NotSure {
  return !isPlainRecord(v) || Object.hasOwn(v, '__proto__') || Object.hasOwn(v, 'constructor') ? NOT_SURE : v;
}

/**
 * `sdkRequestSchema`, or NOT_SURE. `fromJson`: `value` came from JSON.parse and its params are only
 * read, so they are handed on without zod's copy (equal to it, see jsonRecord).
 */
export function parseSdkRequestFast(value: unknown, fromJson = false): SdkRequest | NotSure {
  if (!isPlainRecord(value)) return NOT_SURE;
  const action = value.action;
  if (typeof action !== 'string' || !SDK_ACTION_PATTERN.test(action)) return NOT_SURE;
  const out: Record<string, unknown> = { action };
  if ('params' in value) {
    const params = value.params === undefined ? undefined : fromJson ? jsonRecord(value.params) : recordCopy(value.params);
    if (params === NOT_SURE) return NOT_SURE;
    out.params = params;
  }
  if ('time' in value) {
    const time = value.time;
    if (time !== undefined && stringAtMost(time, TIME_MAX) === NOT_SURE) return NOT_SURE;
    out.time = time;
  }
  return out as SdkRequest;
}

/** The envelope: fast path, else zod (whose error the caller reports). `fromJson`: see parseSdkRequestFast. */
export function safeParseSdkRequest(value: unknown, fromJson = false): z.ZodSafeParseResult<SdkRequest> {
  const fast = parseSdkRequestFast(value, fromJson);
  return fast === NOT_SURE ? sdkRequestSchema.safeParse(value) : { success: true, data: fast };
}

/** `messages.create` params: fast path, else zod (whose error the caller reports). */
export function safeParseAgentReply(params: unknown, allowHttp: boolean): z.ZodSafeParseResult<AgentReplyParams> {
  const fast = parseAgentReplyFast(params, allowHttp);
  if (fast !== NOT_SURE) return { success: true, data: fast };
  return (allowHttp ? agentReplyParamsAllowingHttpSchema : agentReplyParamsSchema).safeParse(params);
}
