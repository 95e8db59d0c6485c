import { createHash } from 'node:crypto';

/** First 16 hex chars of sha256(token): identifies a token in comparisons and logs without revealing it. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16);
}

/** The Engage source id is the last path segment of the Realtime Endpoint URL. */
export function sourceIdFromRealtimeEndpoint(url: string): string | null {
  try {
    const parsed = new URL(url);
    const segments = parsed.pathname.split('/').filter((s) => s.length > 0);
    const last = segments[segments.length - 1];
    return last && /^[A-Za-z0-9_-]+$/.test(last) ? last : null;
  } catch {
    return null;
  }
}
