import { ENGAGE_USER_KEYS, type EngageUserKey } from '../../../contract/engageUserKeys';
import type { ContactProfile } from '../../../contract/relayApi';

/**
 * Cognigy contact profile → Engage Source SDK User object.
 * Keys Engage knows go to the user; everything else goes to `context_data`, whose keys Engage
 * only accepts as [a-zA-Z-] (unknown user keys would be silently ignored by Engage).
 */

/** Cognigy's standard profile keys that have an Engage equivalent under another name. */
export const DEFAULT_PROFILE_MAPPING: Readonly<Record<string, EngageUserKey>> = {
  firstname: 'firstname',
  lastname: 'lastname',
  email: 'email',
  gender: 'gender',
  screenname: 'screenname',
  avatar_url: 'avatar_url',
  profilepic: 'avatar_url',
  home_phone: 'home_phone',
  mobile_phone: 'mobile_phone',
  phone: 'mobile_phone',
  mobile: 'mobile_phone',
};

/** Profile keys never sent to Engage (internal Cognigy bookkeeping). */
const SKIPPED_KEYS = new Set(['_id', 'id', 'contactId', 'createdAt', 'lastChanged', 'prevent_data_collection']);

export type ContextData = Record<string, string | string[]>;

export interface EngageUser {
  id: string;
  screenname: string;
  created_at: string;
  updated_at: string;
  puppetizable?: boolean;
  firstname?: string;
  lastname?: string;
  email?: string;
  home_phone?: string;
  mobile_phone?: string;
  avatar_url?: string;
  gender?: 'man' | 'woman';
  context_data?: ContextData;
}

/**
 * Engage accepts only [a-zA-Z-] in context_data keys: separators become '-', digits and other
 * characters are dropped ("accepted_gdpr" → "accepted-gdpr", "address2" → "address").
 */
export function sanitizeContextKey(key: string): string {
  return key
    .replace(/[_.\s:/]+/g, '-')
    .replace(/[^a-zA-Z-]/g, '')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
}

/** Adds `value` under a sanitised key, suffixing "-x" until unique so no value is overwritten. */
function putContext(target: ContextData, rawKey: string, value: string | string[]): void {
  let key = sanitizeContextKey(rawKey) || 'field';
  while (Object.hasOwn(target, key)) key = `${key}-x`;
  target[key] = value;
}

function asText(value: ContactProfile[string]): string | string[] | null {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((v) => v.slice(0, 4096));
  const text = String(value).trim();
  return text.length > 0 ? text.slice(0, 4096) : null;
}

function normalizeGender(value: string): 'man' | 'woman' | null {
  const v = value.trim().toLowerCase();
  if (['man', 'male', 'm'].includes(v)) return 'man';
  if (['woman', 'female', 'f', 'w'].includes(v)) return 'woman';
  return null;
}

export function mergeContextData(...parts: ContextData[]): ContextData {
  const out: ContextData = {};
  for (const part of parts) for (const [k, v] of Object.entries(part)) putContext(out, k, v);
  return out;
}

/**
 * Builds the Engage user for a contact. `mapping` adds to or overrides the defaults; a target of
 * `context_data.<key>` forces a field into context_data under that key.
 */
export function buildEngageUser(params: {
  authorId: string;
  profile: ContactProfile;
  mapping?: Record<string, string>;
  now: string;
  createdAt?: string;
}): EngageUser {
  const mapping: Record<string, string> = { ...DEFAULT_PROFILE_MAPPING, ...(params.mapping ?? {}) };
  const user: EngageUser = { id: params.authorId, screenname: '', created_at: params.createdAt ?? params.now, updated_at: params.now };
  const context: ContextData = {};

  for (const [key, raw] of Object.entries(params.profile)) {
    if (SKIPPED_KEYS.has(key)) continue;
    const value = asText(raw);
    if (value === null) continue;
    // Own keys only: a profile key named "constructor" or "toString" is data, not Object's method.
    const target = Object.hasOwn(mapping, key) ? mapping[key] : undefined;
    if (target?.startsWith('context_data.')) {
      putContext(context, target.slice('context_data.'.length), value);
      continue;
    }
    if (target && (ENGAGE_USER_KEYS as readonly string[]).includes(target) && typeof value === 'string') {
      if (target === 'gender') {
        const gender = normalizeGender(value);
        if (gender) user.gender = gender;
        else putContext(context, key, value);
      } else {
        user[target as Exclude<EngageUserKey, 'gender'>] = value;
      }
      continue;
    }
    putContext(context, key, value);
  }

  const fullName = [user.firstname, user.lastname].filter(Boolean).join(' ');
  user.screenname = (user.screenname || fullName || user.email || 'Customer').slice(0, 256);
  if (Object.keys(context).length > 0) user.context_data = context;
  return user;
}
