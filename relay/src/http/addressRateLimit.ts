import type { HeaderPairs } from './securityHeaders';

export interface AddressAdmission {
  allowed: boolean;
  /** IETF draft-7 `RateLimit` / `RateLimit-Policy` headers, plus `Retry-After` when refused. */
  headers: HeaderPairs;
}

/** Addresses tracked per window; past it, new addresses share one overflow budget. */
export const MAX_TRACKED_ADDRESSES = 100_000;
const OVERFLOW_KEY = '(overflow)';

/**
 * Requests per client address per minute on every public route (all of them share one budget per
 * address). A fixed window, like express-rate-limit's memory store: O(1) per request, the map is
 * dropped at every window and holds at most MAX_TRACKED_ADDRESSES keys, so a flood of distinct
 * addresses cannot grow memory without bound (addresses beyond it share one budget).
 */
export class AddressRateLimit {
  private counts = new Map<string, number>();
  private windowStart: number;
  private readonly policy: string;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
    private readonly clock: () => number = Date.now,
    private readonly maxAddresses = MAX_TRACKED_ADDRESSES,
  ) {
    this.windowStart = clock();
    this.policy = `${limit};w=${Math.ceil(windowMs / 1000)}`;
  }

  take(address: string): AddressAdmission {
    const now = this.clock();
    if (now - this.windowStart >= this.windowMs) {
      this.counts = new Map();
      this.windowStart = now;
    }
    const key = this.counts.has(address) || this.counts.size < this.maxAddresses ? address : OVERFLOW_KEY;
    const used = (this.counts.get(key) ?? 0) + 1;
    const allowed = used <= this.limit;
    // A refused request does not count: a client that backs off gets in at the next window.
    if (allowed) this.counts.set(key, used);
    const resetSeconds = Math.max(1, Math.ceil((this.windowStart + this.windowMs - now) / 1000));
    const remaining = Math.max(0, this.limit - Math.min(used, this.limit));
    const headers: [string, string][] = [
      ['RateLimit-Policy', this.policy],
      ['RateLimit', `limit=${this.limit}, remaining=${remaining}, reset=${resetSeconds}`],
    ];
    if (!allowed) headers.push(['Retry-After', String(resetSeconds)]);
    return { allowed, headers };
  }
}
