import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Extension → relay request authentication.
 * The extension signs `<timestamp>.<nonce>.<raw body>` (or `<timestamp>.<raw body>` without a
 * nonce) with HMAC-SHA256 keyed by the relay API key and sends the timestamp, the nonce, the
 * signature and the tenant (Engage source id) as headers. The relay rejects stale timestamps and
 * refuses a signature it has already seen within the window (a replay). The nonce, fresh for each
 * HTTP attempt, keeps a legitimate quick retry of the same body from looking like a replay; the
 * body's requestId still makes that retry idempotent.
 */
export const RELAY_HEADERS = {
  timestamp: 'x-rce-relay-timestamp',
  signature: 'x-rce-relay-signature',
  source: 'x-rce-relay-source',
  nonce: 'x-rce-relay-nonce',
} as const;

export const SIGNATURE_VERSION = 'v1';
export const DEFAULT_TOLERANCE_SECONDS = 300;

const NONCE = /^[A-Za-z0-9_-]{8,64}$/;

function signedPrefix(timestampSeconds: number, nonce: string | undefined): string {
  return nonce === undefined ? `${timestampSeconds}.` : `${timestampSeconds}.${nonce}.`;
}

export function signRelayRequest(apiKey: string, timestampSeconds: number, rawBody: string, nonce?: string): string {
  const mac = createHmac('sha256', apiKey).update(signedPrefix(timestampSeconds, nonce)).update(rawBody).digest('hex');
  return `${SIGNATURE_VERSION}=${mac}`;
}

export type RelaySignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'missing_headers' | 'malformed_timestamp' | 'malformed_nonce' | 'stale_timestamp' | 'bad_signature' };

export function verifyRelayRequest(params: {
  acceptedKeys: readonly string[];
  timestampHeader: string | undefined;
  signatureHeader: string | undefined;
  nonceHeader?: string | undefined;
  rawBody: Buffer;
  nowSeconds: number;
  toleranceSeconds?: number;
}): RelaySignatureCheck {
  const { timestampHeader, signatureHeader } = params;
  if (!timestampHeader || !signatureHeader) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'malformed_timestamp' };
  const timestamp = Number(timestampHeader);
  const nonce = params.nonceHeader;
  if (nonce !== undefined && !NONCE.test(nonce)) return { ok: false, reason: 'malformed_nonce' };
  const tolerance = params.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(params.nowSeconds - timestamp) > tolerance) return { ok: false, reason: 'stale_timestamp' };
  const match = /^v1=([0-9a-f]{64})$/.exec(signatureHeader);
  if (!match?.[1]) return { ok: false, reason: 'bad_signature' };
  const presented = Buffer.from(match[1], 'hex');
  let valid = false;
  for (const key of params.acceptedKeys) {
    const expected = createHmac('sha256', key).update(signedPrefix(timestamp, nonce)).update(params.rawBody).digest();
    if (timingSafeEqual(expected, presented)) valid = true;
  }
  return valid ? { ok: true } : { ok: false, reason: 'bad_signature' };
}
