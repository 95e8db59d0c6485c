import { cases, checkCase, emptyTally, type ShapeTally } from '../test/helpers/agentReplyInputs';

/**
 * `npx tsx bench/fastParseEquality.ts [count] [seed]`: the fast agent-reply parser
 * (relay/src/engage/fastAgentReply.ts) against zod on `count` (200,000) seeded random inputs, the
 * generator of test/unit/fastAgentReply.test.ts. Prints per shape how many the fast path answered,
 * how many it handed to zod (zod accepting or refusing), and the mismatches, which must be 0
 * (exit code 1 otherwise).
 */

const count = Number(process.argv[2] ?? 200_000);
const seed = Number(process.argv[3] ?? 42);

const line = (name: string, t: ShapeTally): string =>
  `${name.padEnd(22)} fast-accepted ${String(t.fastAccepted).padStart(7)}   fell back: zod accepted ${String(t.fellBackZodAccepted).padStart(6)}, zod refused ${String(t.fellBackZodRefused).padStart(7)}`;

const tally = emptyTally();
const started = process.cpuUsage();
for (const { index, value } of cases(seed, count)) {
  checkCase(seed, index, value, tally);
  if ((index + 1) % 50_000 === 0) console.error(`… ${index + 1}`);
}
const cpu = process.cpuUsage(started);
console.log(`${count} inputs, seed ${seed} (${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU)`);
console.log(line('envelope', tally.envelope));
console.log(line('reply (https only)', tally.replyHttpsOnly));
console.log(line('reply (http allowed)', tally.replyHttpAllowed));
console.log(`mismatches=${tally.mismatches.length}`);
for (const m of tally.mismatches.slice(0, 5)) console.log(`  ${m}`);
if (tally.mismatches.length > 0) process.exitCode = 1;
