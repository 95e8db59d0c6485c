import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality for shared secrets of any length (e.g. X-Dimelo-Secret):
 * both sides are hashed first so neither the content nor the length leaks through timing.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** True when `presented` equals any accepted secret; all candidates are compared. */
export function matchesAnySecret(presented: string | undefined, accepted: readonly string[]): boolean {
  if (presented === undefined) return false;
  let matched = false;
  for (const secret of accepted) if (secretsEqual(presented, secret)) matched = true;
  return matched;
}
