import { readFileSync } from 'node:fs';
import { spread } from './common';

/**
 * Many short rounds, sides alternating (and which goes first): load from other processes drifts
 * over seconds, so pairs taken close together compare far better than one long run per side.
 * `measure` returns one figure (e.g. CPU µs per call) for a side in a round.
 */
export async function alternatingRounds<S extends { name: string }>(
  sides: readonly S[],
  rounds: number,
  measure: (side: S, round: number) => Promise<number>,
): Promise<{ figures: Map<string, number[]>; diffs: number[] }> {
  const figures = new Map<string, number[]>(sides.map((s) => [s.name, []]));
  const diffs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    const round = new Map<string, number>();
    for (const side of order) round.set(side.name, await measure(side, r));
    for (const [name, value] of round) figures.get(name)?.push(value);
    const [first, second] = sides;
    if (sides.length === 2 && first && second) diffs.push((round.get(first.name) ?? 0) - (round.get(second.name) ?? 0));
  }
  return { figures, diffs };
}

/** Prints each side's median (min, max) and, for two sides, the median paired difference with its quartiles. */
export function printAlternating(
  result: { figures: Map<string, number[]>; diffs: number[] },
  heading: string,
  unit: string,
  digits: number,
): void {
  const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  console.log(`${heading} (load average now ${load1})`);
  for (const [name, values] of result.figures) {
    const s = spread(values);
    console.log(`  ${name}: median ${s.median.toFixed(digits)} ${unit} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)})`);
  }
  if (result.diffs.length === 0) return;
  const sorted = [...result.diffs].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]?.toFixed(digits);
  console.log(
    `  this tree − other, paired by round: median ${spread(result.diffs).median.toFixed(digits)} µs (quartiles ${q(0.25)} … ${q(0.75)})`,
  );
}
