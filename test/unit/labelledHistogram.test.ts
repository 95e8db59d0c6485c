import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { LabelledHistogram } from '../../relay/src/metrics/labelledHistogram';

/**
 * The delivery-time histogram (issue 20: observed once per delivered job) must render exactly as
 * prom-client's Histogram does, in text and as JSON, for the same observations: dashboards and the
 * README's alert rules read it.
 */

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
const NAME = 'rce_outbox_delivery_seconds';
const HELP = 'From the job written to the outbox to its delivery, by direction.';
const DIRECTIONS = ['engage', 'cognigy'] as const;

function pair(): {
  ours: Registry;
  theirs: Registry;
  observe: (direction: (typeof DIRECTIONS)[number], value: number) => void;
  reset: () => void;
} {
  const ours = new Registry();
  const theirs = new Registry();
  const histogram = new LabelledHistogram(NAME, HELP, 'direction', DIRECTIONS, BUCKETS).registerIn(ours);
  const reference = new Histogram({ name: NAME, help: HELP, labelNames: ['direction'] as const, buckets: BUCKETS, registers: [theirs] });
  for (const d of DIRECTIONS) reference.zero({ direction: d });
  const fast = { engage: histogram.labels('engage'), cognigy: histogram.labels('cognigy') };
  const slow = { engage: reference.labels('engage'), cognigy: reference.labels('cognigy') };
  return {
    ours,
    theirs,
    observe: (direction, value) => {
      fast[direction].observe(value);
      slow[direction].observe(value);
    },
    reset: () => {
      ours.resetMetrics();
      theirs.resetMetrics();
      for (const d of DIRECTIONS) reference.zero({ direction: d });
    },
  };
}

describe('LabelledHistogram', () => {
  it('renders like prom-client’s Histogram before any observation', async () => {
    const { ours, theirs } = pair();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('renders like prom-client’s Histogram for the same observations (seeded random values, bucket edges included)', async () => {
    const edges = [0, ...BUCKETS, ...BUCKETS.map((b) => b * (1 + 1e-12)), 1e6];
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.constantFrom(...DIRECTIONS),
            fc.oneof(fc.constantFrom(...edges), fc.double({ min: 0, max: 2_000, noNaN: true, noDefaultInfinity: true })),
          ),
          { maxLength: 60 },
        ),
        async (observations) => {
          const { ours, theirs, observe } = pair();
          for (const [direction, value] of observations) observe(direction, value);
          return (await ours.metrics()) === (await theirs.metrics());
        },
      ),
      { seed: 20_2614, numRuns: 300 },
    );
  });

  it('renders the same as JSON, merged with another registry, and after a reset', async () => {
    const { ours, theirs, observe, reset } = pair();
    for (const [d, v] of [
      ['cognigy', 0.003],
      ['cognigy', 1.8],
      ['engage', 0.01],
      ['engage', 901],
    ] as const)
      observe(d, v);
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    const other = new Registry();
    expect(await Registry.merge([other, ours]).metrics()).toBe(await Registry.merge([new Registry(), theirs]).metrics());
    reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    observe('engage', 0.2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('ignores a value that is not a finite number instead of throwing at its caller', async () => {
    const registry = new Registry();
    const histogram = new LabelledHistogram(NAME, HELP, 'direction', DIRECTIONS, BUCKETS).registerIn(registry);
    expect(() => histogram.labels('engage').observe(Number.NaN)).not.toThrow();
    expect(await registry.metrics()).toContain(`${NAME}_count{direction="engage"} 0`);
    expect(() => histogram.labels('nope' as 'engage')).toThrow('unknown direction');
  });
});
