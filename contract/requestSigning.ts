import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Extension → relay request authentication.
 * The extension signs `<timestamp>.<raw body>` with HMAC-SHA256 keyed by the relay API key and
 * sends the timestamp, the signature and the tenant (Engage source id) as headers. The relay
 * rejects stale timestamps and replays (the body's requestId is remembered for the window).
 */
export const RELAY_HEADERS = {
  timestamp: 'x-rce-relay-timestamp',
  signature: 'x-rce-relay-signature',
  source: 'x-rce-relay-source',
} as const;

export const SIGNATURE_VERSION = 'v1';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signRelayRequest(apiKey: string, timestampSeconds: number, rawBody: string): string {
  const mac = createHmac('sha256', apiKey).update(`${timestampSeconds}.${rawBody}`).digest('hex');
  return `${SIGNATURE_VERSION}=${mac}`;
}

export type RelaySignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'missing_headers' | 'malformed_timestamp' | 'stale_timestamp' | 'bad_signature' };

export function verifyRelayRequest(params: {
  acceptedKeys: readonly string[];
  timestampHeader: string | undefined;
  signatureHeader: string | undefined;
  rawBody: Buffer;
  nowSeconds: number;
  toleranceSeconds?: number;
}): RelaySignatureCheck {
  const { timestampHeader, signatureHeader } = params;
  if (!timestampHeader || !signatureHeader) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'malformed_timestamp' };
  const timestamp = Number(timestampHeader);
  const tolerance = params.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(params.nowSeconds - timestamp) > tolerance) return { ok: false, reason: 'stale_timestamp' };
  const match = /^v1=([0-9a-f]{64})$/.exec(signatureHeader);
  if (!match?.[1]) return { ok: false, reason: 'bad_signature' };
  const presented = Buffer.from(match[1], 'hex');
  let valid = false;
  for (const key of params.acceptedKeys) {
    const expected = createHmac('sha256', key)
      .update(`${timestamp}.`)
      .update(params.rawBody)
      .digest();
    if (timingSafeEqual(expected, presented)) valid = true;
  }
  return valid ? { ok: true } : { ok: false, reason: 'bad_signature' };
}
