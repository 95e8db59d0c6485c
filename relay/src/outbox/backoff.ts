/** Exponential backoff with full jitter (AWS architecture blog): spreads retries of many relays. */
export function backoffDelayMs(attempt: number, options: { baseMs: number; capMs: number; random?: () => number }): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  const random = options.random ?? Math.random;
  return Math.max(options.baseMs / 2, Math.floor(random() * ceiling));
}
