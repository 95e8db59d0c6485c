import { NOT_SURE, parseAgentReplyFast, parseSdkRequestFast } from '../relay/src/engage/fastAgentReply';
import { agentReplyParamsSchema, sdkRequestSchema } from '../relay/src/engage/sourceSdkProtocol';
import { agentReplyBody } from './lib/load';

/**
 * `npx tsx bench/parseMicro.ts`: CPU per call of parsing the benchmark's agent reply (the body
 * bench/lib/load.ts sends), zod schemas vs the hand-written fast path (fastAgentReply.ts): the
 * envelope, the `messages.create` params, and both (what one reply pays). Bodies are JSON-parsed
 * beforehand; only the schema work is timed. Prints per-round figures; no assertions.
 */

const CALLS = 200_000;
const ROUNDS = 5;
const BODIES = 1000;

const bodies: Record<string, unknown>[] = Array.from({ length: BODIES }, (_, i) => {
  const time = new Date(Date.UTC(2026, 11, 3, 10, 0, i % 60)).toISOString();
  return JSON.parse(agentReplyBody(`thread-${i % 1000}`, `bench-run-${i}`, time)) as Record<string, unknown>;
});
const paramsOf = bodies.map((b) => b.params);

// Every result is stored, so no result can be optimised away.
let last: unknown;
const keep = (v: unknown): void => {
  if (v === NOT_SURE || v === undefined) throw new Error('the fast path fell back on the bench body');
  last = v;
};

const cases: [name: string, run: (i: number) => unknown][] = [
  ['envelope zod', (i) => sdkRequestSchema.parse(bodies[i % BODIES])],
  ['envelope fast', (i) => parseSdkRequestFast(bodies[i % BODIES])],
  ['params zod', (i) => agentReplyParamsSchema.parse(paramsOf[i % BODIES])],
  ['params fast', (i) => parseAgentReplyFast(paramsOf[i % BODIES], false)],
  ['both zod', (i) => agentReplyParamsSchema.parse(sdkRequestSchema.parse(bodies[i % BODIES]).params)],
  [
    'both fast',
    (i) => {
      const envelope = parseSdkRequestFast(bodies[i % BODIES]);
      return envelope === NOT_SURE ? NOT_SURE : parseAgentReplyFast(envelope.params, false);
    },
  ],
];

for (const [, run] of cases) for (let i = 0; i < 20_000; i++) keep(run(i)); // warm-up (and zod's JIT)
for (let r = 0; r < ROUNDS; r++) {
  const figures = cases.map(([name, run]) => {
    const t = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) keep(run(i));
    const u = process.cpuUsage(t);
    return `${name} ${((u.user + u.system) / CALLS).toFixed(2)}`;
  });
  console.log(`round ${r + 1} (µs per call): ${figures.join(', ')}`);
}
if (last === undefined) console.log('nothing ran');
