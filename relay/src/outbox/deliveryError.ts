/**
 * How a failed outbox call should be treated. Messages are safe to log: they never contain
 * request bodies, headers or secrets, only status codes and short reasons.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** Server-requested wait (Retry-After), if any. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Retry-After as seconds or HTTP date → ms (bounded to 10 min). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 600_000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(date - now, 0), 600_000);
}

/** 5xx, 408, 429 and network failures are worth retrying; other 4xx are permanent. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The DeliveryError for an unsuccessful HTTP status: retryable or not by status, honouring Retry-After. */
export function statusFailure(message: string, status: number, retryAfterHeader: string | undefined): DeliveryError {
  return new DeliveryError(message, isRetryableStatus(status), parseRetryAfter(retryAfterHeader, Date.now()));
}
