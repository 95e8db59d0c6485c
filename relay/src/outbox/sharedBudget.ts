import type { BudgetStore } from '../store/types';
import { DeliveryError } from './deliveryError';
import type { RestRateGate } from '../engage/restClient';

/**
 * A per-key budget (at most `limit` events per `windowMs`) shared by every relay on one store.
 * Each relay takes tokens from the store in small batches and spends them locally, so most checks
 * cost no round trip. Unspent tokens are dropped after `tokenLifeMs`, so a relay never spends a
 * token long after the window it was counted in; the overshoot is bounded by one batch per relay.
 */
export class SharedBudget {
  private readonly local = new Map<string, { tokens: number; takenAt: number; blockedUntil: number; refill: Promise<void> | null }>();

  constructor(
    private readonly store: BudgetStore,
    private readonly o: { limit: number; windowMs: number; batch: number; tokenLifeMs?: number; clock?: () => number },
  ) {}

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }

  private state(key: string) {
    let s = this.local.get(key);
    if (!s) {
      s = { tokens: 0, takenAt: 0, blockedUntil: 0, refill: null };
      this.local.set(key, s);
    }
    if (s.tokens > 0 && this.now() - s.takenAt > (this.o.tokenLifeMs ?? 1_000)) s.tokens = 0;
    return s;
  }

  private refill(key: string): Promise<void> {
    const s = this.state(key);
    s.refill ??= this.store
      .takeBudget(key, Math.max(1, this.o.batch - s.tokens), this.o.limit, this.o.windowMs)
      .then(({ granted, waitMs }) => {
        s.tokens += granted;
        s.takenAt = this.now();
        s.blockedUntil = waitMs > 0 && s.tokens <= 0 ? this.now() + waitMs : 0;
      })
      .finally(() => (s.refill = null));
    return s.refill;
  }

  /** Exact: waits for the store when no local token is left; returns 0 or the ms until one is free. */
  async take(key: string): Promise<number> {
    const s = this.state(key);
    if (s.tokens <= 0) {
      if (s.blockedUntil > this.now()) return s.blockedUntil - this.now();
      await this.refill(key);
      if (s.tokens <= 0) return Math.max(1, s.blockedUntil - this.now());
    }
    s.tokens -= 1;
    return 0;
  }

  /**
   * Synchronous, for request admission: allowed unless the shared budget is known to be used up.
   * A relay may run a few tokens into debt before its refill lands (settled by that refill).
   */
  tryTake(key: string): number {
    const s = this.state(key);
    if (s.tokens <= 0 && s.blockedUntil > this.now()) return s.blockedUntil - this.now();
    s.tokens -= 1;
    if (s.tokens < this.o.batch / 2) void this.refill(key).catch(() => undefined);
    return 0;
  }
}

/** The Engage REST budget per tenant (Engage allows 500/min per token) across every relay on the store. */
export class SharedRestGate implements RestRateGate {
  private readonly budget: SharedBudget;

  constructor(store: BudgetStore, perMinute: number, clock?: () => number) {
    this.budget = new SharedBudget(store, {
      limit: perMinute,
      windowMs: 60_000,
      batch: Math.max(1, Math.min(10, Math.floor(perMinute / 50))),
      ...(clock ? { clock } : {}),
    });
  }

  async take(tenantId: string): Promise<void> {
    const waitMs = await this.budget.take(`engage-rest/${tenantId}`);
    if (waitMs > 0) throw new DeliveryError('Engage REST rate limit reached (shared by every relay)', true, waitMs);
  }
}
