import type { Histogram, Registry } from 'prom-client';

/**
 * A histogram with one label and a fixed set of its values, registered in a prom-client Registry
 * like prom-client's own Histogram and rendered the same (test/unit/labelledHistogram.test.ts
 * compares both outputs). It exists for the delivery-time histogram observed once per delivered
 * job (issue 20): prom-client's labelled `observe` builds a labels object and a hash string and
 * validates the labels on every call; here an observation is a bucket search and three additions.
 */

interface Series {
  /** Observations per bucket (not cumulative), in bucket order. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** One labelled series; `observe` is what the hot path calls. */
export interface HistogramSeries {
  observe(value: number): void;
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

export class LabelledHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<L, Series>();
  private readonly labelObjects = new Map<L, Record<string, string>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    labelValues: readonly L[],
    private readonly buckets: readonly number[],
  ) {
    // Every series exists from the start (zero), as prom-client's `zero()` would make it.
    for (const value of labelValues) this.labelObjects.set(value, { [labelName]: value });
    this.reset();
  }

  /**
   * Registers it like a prom-client metric. The Registry only calls `get`, `getForPromString` (when
   * present) and `reset` and reads `name`, `help`, `type` and `aggregator`; its types, though, accept
   * only prom-client's own classes, hence the cast.
   */
  registerIn(registry: Registry): this {
    registry.registerMetric(this as unknown as Histogram<string>);
    return this;
  }

  /** The series of one label value (unknown values are a programming error). */
  labels(value: L): HistogramSeries {
    const series = this.series.get(value);
    if (!series) throw new Error(`${this.name}: unknown ${this.labelName} "${value}"`);
    const buckets = this.buckets;
    return {
      observe: (v: number) => {
        // A value that is not a number must not fail the caller (here: a job already delivered).
        if (!Number.isFinite(v)) return;
        series.sum += v;
        series.count += 1;
        for (let i = 0; i < buckets.length; i++) {
          if (v <= (buckets[i] as number)) {
            (series.counts[i] as number) += 1;
            return;
          }
        }
      },
    };
  }

  reset(): void {
    for (const value of this.labelObjects.keys()) {
      const series = this.series.get(value);
      if (series) {
        series.counts.fill(0);
        series.sum = 0;
        series.count = 0;
      } else this.series.set(value, { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    }
  }

  /** What prom-client's Registry renders as text: the shape Histogram#getForPromString returns. */
  getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: ExportedValue[]; aggregator: 'sum' }> {
    const values: ExportedValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const [value, series] of this.series) {
      const sharedLabels = this.labelObjects.get(value) as Record<string, string>;
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += series.counts[i] as number;
        values.push({ labels: { le }, sharedLabels, value: cumulative, metricName: bucketName, exemplar: null });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: bucketName, exemplar: null },
        { labels: {}, sharedLabels, value: series.sum, metricName: `${this.name}_sum`, exemplar: undefined },
        { labels: {}, sharedLabels, value: series.count, metricName: `${this.name}_count`, exemplar: undefined },
      );
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /** The JSON form (Registry#getMetricsAsJSON): each value's labels with the series label merged in. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: { value: number; metricName: string; exemplar: null | undefined; labels: Record<string, string | number> }[];
    aggregator: 'sum';
  }> {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    };
  }
}
