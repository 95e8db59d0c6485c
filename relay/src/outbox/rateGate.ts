import { DeliveryError } from './deliveryError';
import type { RestRateGate } from '../engage/restClient';

/**
 * At most `limit` events per key in any window of `windowMs` (a sliding log). Unlike a token
 * bucket of the same rate, which allows a full bucket plus a minute of refill (up to twice the
 * rate) inside one window, this never exceeds the limit however the window is placed.
 */
export class SlidingWindowLimiter {
  /** Per key: event times in order; entries before `head` have left the window (dropped in bulk, not one by one). */
  private readonly hits = new Map<string, { times: number[]; head: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Counts one event and returns 0, or counts nothing and returns how many ms until one is allowed. */
  tryTake(key: string): number {
    const now = this.clock();
    let log = this.hits.get(key);
    if (!log) {
      log = { times: [], head: 0 };
      this.hits.set(key, log);
    }
    const { times } = log;
    while (log.head < times.length && now - (times[log.head] ?? now) >= this.windowMs) log.head++;
    // Compact only when the expired prefix is large: O(1) amortised per event instead of shifting
    // the whole log (60,000 entries at 1,000 events/s) on every call.
    if (log.head > 1024 && log.head * 2 > times.length) {
      times.splice(0, log.head);
      log.head = 0;
    } else if (log.head === times.length && log.head > 0) {
      times.length = 0;
      log.head = 0;
    }
    if (times.length - log.head >= this.limit) return Math.max(1, (times[log.head] ?? now) + this.windowMs - now);
    times.push(now);
    return 0;
  }
}

/**
 * Per-tenant limit on Engage REST calls (Engage allows 500 requests/minute per token).
 * Over the limit → a retryable DeliveryError that says when a call is allowed again, so the job
 * is rescheduled instead of hammering Engage into 429s.
 */
export class SlidingWindowRestGate implements RestRateGate {
  private readonly limiter: SlidingWindowLimiter;

  constructor(perMinute: number, clock: () => number = Date.now) {
    this.limiter = new SlidingWindowLimiter(perMinute, 60_000, clock);
  }

  take(tenantId: string): void {
    const waitMs = this.limiter.tryTake(tenantId);
    if (waitMs > 0) throw new DeliveryError('Engage REST rate limit reached locally', true, waitMs);
  }
}
