import type { HeaderPairs } from './securityHeaders';

export interface AddressAdmission {
  allowed: boolean;
  /** IETF draft-7 `RateLimit` / `RateLimit-Policy` headers, plus `Retry-After` when refused. */
  headers: HeaderPairs;
}

/**
 * Requests per client address per minute on the public routes (all of them share one budget per
 * address). A fixed window, like express-rate-limit's memory store: O(1) per request and the map
 * is dropped at every window, so a flood of distinct addresses cannot grow memory without bound.
 */
export class AddressRateLimit {
  private counts = new Map<string, number>();
  private windowStart: number;
  private readonly policy: string;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
    private readonly clock: () => number = Date.now,
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
    const used = (this.counts.get(address) ?? 0) + 1;
    const allowed = used <= this.limit;
    // A refused request does not count: a client that backs off gets in at the next window.
    if (allowed) this.counts.set(address, used);
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
