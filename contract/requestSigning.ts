import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Extension → relay request authentication (v2).
 * The extension signs, with HMAC-SHA256 keyed by the relay API key, one canonical string:
 *
 *   rce-relay-v2 \n METHOD \n path \n source id \n timestamp \n nonce \n raw body
 *
 * and sends the timestamp, the nonce, the signature and the source id as headers. A captured
 * request therefore cannot be replayed against another route (path), another tenant (source) or
 * after the window (timestamp); the relay remembers every accepted signature for the window, and
 * the nonce (fresh per HTTP attempt) keeps a quick legitimate retry from looking like a replay.
 *
 * v1 (`<timestamp>.<nonce>.<body>` in `x-rce-relay-signature`) covered neither the method, the
 * path nor the source. The extension still sends it next to v2 so that relays released before v2
 * keep working while the extension is upgraded first; relays with v2 ignore it.
 */
export const RELAY_HEADERS = {
  timestamp: 'x-rce-relay-timestamp',
  /** v1 signature, for relays released before v2 only. */
  signature: 'x-rce-relay-signature',
  signatureV2: 'x-rce-relay-signature-v2',
  source: 'x-rce-relay-source',
  nonce: 'x-rce-relay-nonce',
} as const;

export const SIGNATURE_VERSION = 'v2';
export const DEFAULT_TOLERANCE_SECONDS = 300;

const NONCE = /^[A-Za-z0-9_-]{8,64}$/;
const SOURCE_ID = /^[^\s]{1,256}$/;
const V2_SIGNATURE = /^v2=([0-9a-f]{64})$/;

/** What a v2 signature covers besides the key. */
export interface SignedRequestParts {
  method: string;
  /** The request path on the relay, e.g. `/api/v1/handover/status` (no query). */
  path: string;
  sourceId: string;
  timestampSeconds: number;
  nonce: string;
}

function mac(key: string, parts: SignedRequestParts, rawBody: string | Buffer): Buffer {
  const head = [
    'rce-relay-v2',
    parts.method.toUpperCase(),
    parts.path,
    parts.sourceId,
    String(parts.timestampSeconds),
    parts.nonce,
    '',
  ].join('\n');
  return createHmac('sha256', key).update(head).update(rawBody).digest();
}

export function signRelayRequest(apiKey: string, parts: SignedRequestParts, rawBody: string): string {
  return `${SIGNATURE_VERSION}=${mac(apiKey, parts, rawBody).toString('hex')}`;
}

/** The v1 signature, sent only so relays released before v2 accept calls from this extension. */
export function signRelayRequestV1(apiKey: string, timestampSeconds: number, rawBody: string, nonce: string): string {
  return `v1=${createHmac('sha256', apiKey).update(`${timestampSeconds}.${nonce}.`).update(rawBody).digest('hex')}`;
}

export type RelaySignatureFailure =
  | 'missing_headers'
  | 'unsupported_signature'
  | 'malformed_timestamp'
  | 'malformed_nonce'
  | 'malformed_source'
  | 'stale_timestamp'
  | 'bad_signature';
export type RelaySignatureCheck = { ok: true } | { ok: false; reason: RelaySignatureFailure };

export interface RelaySignatureHeaders {
  timestampHeader: string | undefined;
  signatureHeader: string | undefined;
  nonceHeader: string | undefined;
  sourceHeader: string | undefined;
  /** The v1 header, only to tell an old extension apart from a forged call. */
  legacySignatureHeader?: string | undefined;
}

/**
 * Everything that can be checked without the body: presence and shape of the headers and the
 * timestamp window. The relay runs this before it reads a byte of the body.
 */
export function precheckRelayRequest(
  headers: RelaySignatureHeaders,
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): { ok: true; parts: Omit<SignedRequestParts, 'method' | 'path'>; presented: Buffer } | { ok: false; reason: RelaySignatureFailure } {
  const { timestampHeader, signatureHeader, nonceHeader, sourceHeader } = headers;
  if (!signatureHeader && headers.legacySignatureHeader) return { ok: false, reason: 'unsupported_signature' };
  if (!timestampHeader || !signatureHeader || !nonceHeader || !sourceHeader) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'malformed_timestamp' };
  if (!NONCE.test(nonceHeader)) return { ok: false, reason: 'malformed_nonce' };
  if (!SOURCE_ID.test(sourceHeader)) return { ok: false, reason: 'malformed_source' };
  const timestampSeconds = Number(timestampHeader);
  if (Math.abs(nowSeconds - timestampSeconds) > toleranceSeconds) return { ok: false, reason: 'stale_timestamp' };
  const match = V2_SIGNATURE.exec(signatureHeader);
  if (!match?.[1]) return { ok: false, reason: 'bad_signature' };
  return { ok: true, parts: { sourceId: sourceHeader, timestampSeconds, nonce: nonceHeader }, presented: Buffer.from(match[1], 'hex') };
}

/** The full check: the precheck, then the MAC over method, path, source, timestamp, nonce and body with every accepted key. */
export function verifyRelayRequest(
  params: RelaySignatureHeaders & {
    acceptedKeys: readonly string[];
    method: string;
    path: string;
    rawBody: Buffer;
    nowSeconds: number;
    toleranceSeconds?: number;
  },
): RelaySignatureCheck {
  const pre = precheckRelayRequest(params, params.nowSeconds, params.toleranceSeconds);
  if (!pre.ok) return pre;
  return macMatches(params.acceptedKeys, { ...pre.parts, method: params.method, path: params.path }, params.rawBody, pre.presented)
    ? { ok: true }
    : { ok: false, reason: 'bad_signature' };
}

/** Constant work over every accepted key (rotation), so timing does not tell which one matched. */
export function macMatches(acceptedKeys: readonly string[], parts: SignedRequestParts, rawBody: Buffer, presented: Buffer): boolean {
  let valid = false;
  for (const key of acceptedKeys) if (timingSafeEqual(mac(key, parts, rawBody), presented)) valid = true;
  return valid;
}
