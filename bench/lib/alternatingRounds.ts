import { readFileSync } from 'node:fs';
import { spread } from './common';

/** Per side (in the order given): its name and its figure of every round. */
export interface AlternatingResult {
  sides: { name: string; figures: number[] }[];
  /** With exactly two sides: first − second, round by round. */
  diffs: number[];
}

/**
 * Many short rounds, sides alternating (and which goes first): load from other processes drifts
 * over seconds, so pairs taken close together compare far better than one long run per side.
 * `measure` returns one figure (e.g. CPU µs per call) for a side in a round.
 */
export async function alternatingRounds<S extends { name: string }>(
  sides: readonly S[],
  rounds: number,
  measure: (side: S, round: number) => Promise<number>,
): Promise<AlternatingResult> {
  const result: AlternatingResult = { sides: sides.map((s) => ({ name: s.name, figures: [] })), diffs: [] };
  for (let r = 0; r < rounds; r++) {
    const order = sides.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) result.sides[i]?.figures.push(await measure(sides[i] as S, r));
    const [first, second] = result.sides;
    if (sides.length === 2 && first && second) result.diffs.push((first.figures[r] ?? 0) - (second.figures[r] ?? 0));
  }
  return result;
}

/** Prints each side's median (min, max) and, for two sides, the median paired difference with its quartiles. */
export function printAlternating(result: AlternatingResult, heading: string, unit: string, digits: number): void {
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  console.log(`${heading} (load average now ${load1})`);
  for (const { name, figures } of result.sides) {
    const s = spread(figures);
    console.log(`  ${name}: median ${s.median.toFixed(digits)} ${unit} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)})`);
  }
  const [first, second] = result.sides;
  if (result.diffs.length === 0 || !first || !second) return;
  const sorted = [...result.diffs].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]?.toFixed(digits);
  console.log(
    `  ${first.name} − ${second.name}, paired by round: median ${spread(result.diffs).median.toFixed(digits)} ${unit} (quartiles ${q(0.25)} … ${q(0.75)})`,
  );
}
