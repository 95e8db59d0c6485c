import type { ContactProfile, TranscriptLine } from '../../contract/relayApi';
import { getTranscriptEntrySchema, transcriptLineFromEntry, transcriptLineSchema } from '../../contract/relayApi';
import { NodeInputError } from './nodeSupport';

/**
 * Shaping what the nodes send: the contact profile, explicit profile mappings, the transcript
 * and the thread's context data. The relay does the Engage-side mapping; the node only makes
 * sure the values fit the contract and rejects mappings the relay could not honour.
 */

export { ENGAGE_USER_KEYS } from '../../contract/engageUserKeys';
import { ENGAGE_USER_KEYS } from '../../contract/engageUserKeys';

const MAX_VALUE_CHARS = 4096;
const MAX_KEY_CHARS = 128;
const MAX_LIST_ITEMS = 100;
const CONTEXT_DATA_TARGET = /^context_data\.[^\s.]{1,51}$/;

export type ProfileMapping = Record<string, string>;

/** JSON fields may arrive as objects or, when typed by hand, as JSON text. */
export function jsonFieldValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return value;
  }
}

/**
 * Sets an own property even for keys such as "__proto__" (a plain assignment would change the
 * object's prototype instead of storing the value).
 */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Validate "extra profile mappings" (Cognigy profile key → Engage user key).
 * Throws NodeInputError with a message naming the offending entry.
 */
export function parseProfileMapping(raw: unknown): ProfileMapping {
  const value = jsonFieldValue(raw);
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    throw new NodeInputError('invalid_profile_mapping', 'Extra profile mappings must be a JSON object of "cognigyKey": "engageKey" pairs.');
  }
  const mapping: ProfileMapping = {};
  for (const [source, target] of Object.entries(value)) {
    if (source.trim() === '' || source.length > MAX_KEY_CHARS) {
      throw new NodeInputError(
        'invalid_profile_mapping',
        `Extra profile mappings: the Cognigy key "${source.slice(0, 40)}" must be 1–${MAX_KEY_CHARS} characters.`,
      );
    }
    if (typeof target !== 'string' || !isEngageTarget(target.trim())) {
      throw new NodeInputError(
        'invalid_profile_mapping',
        `Extra profile mappings: "${source}" maps to ${typeof target === 'string' ? `"${target.slice(0, 64)}"` : 'a non-text value'}, ` +
          `which is not an Engage user key. Use one of ${ENGAGE_USER_KEYS.join(', ')} or context_data.<key>.`,
      );
    }
    setOwn(mapping, source, target.trim());
  }
  return mapping;
}

export function isEngageTarget(target: string): boolean {
  return (ENGAGE_USER_KEYS as readonly string[]).includes(target) || CONTEXT_DATA_TARGET.test(target);
}

function clipText(value: string): string {
  return value.length > MAX_VALUE_CHARS ? value.slice(0, MAX_VALUE_CHARS) : value;
}

/**
 * Fit a Cognigy contact profile (or a custom JSON object) into the contract's profile shape.
 * Internal keys (leading "_") are dropped; nested objects become JSON text so the relay can
 * still put them into context_data. A profile whose owner asked for no data collection
 * (`prevent_data_collection: true`) is not sent at all.
 */
export function contactProfileFrom(raw: unknown): { profile: ContactProfile; withheld: boolean } {
  const value = jsonFieldValue(raw);
  if (!isPlainObject(value)) return { profile: {}, withheld: false };
  if (value.prevent_data_collection === true) return { profile: {}, withheld: true };
  const profile: ContactProfile = {};
  for (const [key, item] of Object.entries(value)) {
    if (key.startsWith('_') || key.length === 0 || key.length > MAX_KEY_CHARS) continue;
    const fitted = fitProfileValue(item);
    if (fitted !== undefined) setOwn(profile, key, fitted);
  }
  return { profile, withheld: false };
}

function fitProfileValue(item: unknown): ContactProfile[string] | undefined {
  if (item === null) return null;
  if (typeof item === 'string') return clipText(item);
  if (typeof item === 'number') return Number.isFinite(item) ? item : undefined;
  if (typeof item === 'boolean') return item;
  if (item instanceof Date) return Number.isNaN(item.getTime()) ? undefined : item.toISOString();
  if (Array.isArray(item)) {
    return item
      .filter((x) => x !== null && x !== undefined)
      .slice(0, MAX_LIST_ITEMS)
      .map((x) => clipText(typeof x === 'string' ? x : (JSON.stringify(x) ?? String(x))));
  }
  if (typeof item === 'object') return clipText(JSON.stringify(item));
  return undefined;
}

/**
 * The optional transcript: our lines {role: "user"|"bot", text}, or the entries of Cognigy's Get
 * Transcript node {role, type, payload: {text}} as they come (assistant → bot, non-text entries
 * skipped, see the contract). Lines that do not fit are dropped and counted rather than failing
 * the handover: a human agent is more useful than a perfect log.
 */
export function transcriptFrom(raw: unknown): { transcript: TranscriptLine[]; dropped: number } {
  const value = jsonFieldValue(raw);
  if (!Array.isArray(value)) return { transcript: [], dropped: value === undefined || value === null || isEmptyObject(value) ? 0 : 1 };
  const transcript: TranscriptLine[] = [];
  let dropped = 0;
  for (const line of value) {
    const entry = isPlainObject(line) && 'payload' in line ? getTranscriptEntrySchema.safeParse(line) : null;
    if (entry?.success) {
      // Tool calls, system steps and other non-text entries are not for the agent: skipped, not dropped.
      const fromEntry = transcriptLineFromEntry(entry.data);
      if (fromEntry) transcript.push(fromEntry);
      continue;
    }
    const candidate = isPlainObject(line)
      ? { ...line, text: typeof line.text === 'string' ? line.text.trim().slice(0, 20000) : line.text }
      : line;
    const parsed = transcriptLineSchema.safeParse(candidate);
    if (parsed.success) transcript.push(parsed.data);
    else dropped += 1;
  }
  // The contract allows 500 lines; the most recent ones matter most.
  const overflow = Math.max(0, transcript.length - 500);
  return { transcript: transcript.slice(overflow), dropped: dropped + overflow };
}

/** Context data for the Engage thread: text or text lists only. */
export function contextDataFrom(raw: unknown): { contextData: Record<string, string | string[]>; dropped: number } {
  const value = jsonFieldValue(raw);
  if (!isPlainObject(value)) return { contextData: {}, dropped: value === undefined || value === null ? 0 : 1 };
  const contextData: Record<string, string | string[]> = {};
  let dropped = 0;
  for (const [key, item] of Object.entries(value)) {
    if (key.trim() === '' || key.length > MAX_KEY_CHARS) {
      dropped += 1;
      continue;
    }
    if (typeof item === 'string') setOwn(contextData, key, clipText(item));
    else if (typeof item === 'number' || typeof item === 'boolean') setOwn(contextData, key, String(item));
    else if (Array.isArray(item) && item.every((x) => ['string', 'number', 'boolean'].includes(typeof x))) {
      setOwn(
        contextData,
        key,
        item.slice(0, MAX_LIST_ITEMS).map((x) => clipText(String(x))),
      );
    } else dropped += 1;
  }
  return { contextData, dropped };
}

function isEmptyObject(value: unknown): boolean {
  return isPlainObject(value) && Object.keys(value).length === 0;
}
