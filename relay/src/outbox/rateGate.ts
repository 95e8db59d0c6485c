import { DeliveryError } from './deliveryError';
import type { RestRateGate } from '../engage/restClient';

/**
 * Per-tenant token bucket for Engage REST calls (Engage allows 500 requests/minute per token).
 * Out of tokens → a retryable DeliveryError that says when the next token is due, so the job is
 * rescheduled instead of hammering Engage into 429s.
 */
export class TokenBucketGate implements RestRateGate {
  private readonly buckets = new Map<string, { tokens: number; refilledAt: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: () => number = Date.now,
  ) {}

  take(tenantId: string): void {
    const now = this.clock();
    const bucket = this.buckets.get(tenantId) ?? { tokens: this.perMinute, refilledAt: now };
    const refill = ((now - bucket.refilledAt) / 60_000) * this.perMinute;
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + refill);
    bucket.refilledAt = now;
    this.buckets.set(tenantId, bucket);
    if (bucket.tokens < 1) {
      const waitMs = Math.ceil(((1 - bucket.tokens) / this.perMinute) * 60_000);
      throw new DeliveryError('Engage REST rate limit reached locally', true, waitMs);
    }
    bucket.tokens -= 1;
  }
}
