import { appendFileSync } from 'node:fs';

/**
 * The reliability suites report what they survived (messages sent / delivered / duplicated,
 * fuzz cases, 5xx seen). Set RCE_RELIABILITY_FIGURES=<file> to collect them as JSON lines;
 * without it this does nothing, so `npm test` output stays quiet.
 */
export function recordFigures(suite: string, figures: Record<string, number | string | boolean>): void {
  const file = process.env.RCE_RELIABILITY_FIGURES;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ suite, ...figures })}\n`);
}
