import { DeliveryError } from './deliveryError';
import type { RestRateGate } from '../engage/restClient';

/**
 * At most `limit` events per key in any window of `windowMs` (a sliding log). Unlike a token
 * bucket of the same rate, which allows a full bucket plus a minute of refill (up to twice the
 * rate) inside one window, this never exceeds the limit however the window is placed.
 */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Counts one event and returns 0, or counts nothing and returns how many ms until one is allowed. */
  tryTake(key: string): number {
    const now = this.clock();
    const times = this.hits.get(key) ?? [];
    let expired = 0;
    while (expired < times.length && now - (times[expired] ?? now) >= this.windowMs) expired++;
    if (expired > 0) times.splice(0, expired);
    if (times.length >= this.limit) return Math.max(1, (times[0] ?? now) + this.windowMs - now);
    times.push(now);
    this.hits.set(key, times);
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
