/**
 * A latency histogram for the request path, exported through prom-client's
 * registry like prom-client's own Histogram.
 *
 * Why not prom-client's: its `observe`, even on a label child made once,
 * checks the labels, joins them into a key string and looks the series up
 * by it on every call. In a node answering ONE reads that was 7.6% of the
 * main thread (docs/benchmarks.md, "The request histograms"); here an
 * observation is a walk over a dozen bounds and three additions to plain
 * arrays, and the labels are joined once, at scrape time.
 *
 * The registry asks a metric only for `get()` (its name, help, type and
 * values, the buckets cumulative, as prom-client's Histogram gives them) and
 * `reset()`; test/unit/fast-histogram.test.ts checks, through the
 * registry's text output, that this one reads as prom-client's would.
 */
import type { Metric, Registry } from './prom';
import { assert } from '../common/assert';

/** One series: counts per bucket (not cumulative; the last is above every bound), their sum and total. */
export class Series {
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.buckets[i]!++;
    this.sum += value;
    this.count++;
  }
}

type Labels = Readonly<Record<string, string>>;

interface ExportedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: { labels: Labels; series: Series }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registers: readonly Registry[],
  ) {
    assert(
      bounds.every((b, i) => i === 0 || b > bounds[i - 1]!),
      'histogram bounds rise',
    );
    // The registry's type names prom-client's own classes; it calls only get() and reset() (see above).
    for (const r of registers) r.registerMetric(this as unknown as Metric<string>);
  }

  /** The series of `labels`, made once by the caller and observed directly from then on. */
  child(labels: Labels): Series {
    const s = new Series(this.bounds);
    this.series.push({ labels, series: s });
    return s;
  }

  /** What prom-client's Histogram.get() gives: per series its cumulative buckets, then its sum and count. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const { labels, series } of this.series) {
      // As prom-client does: a series is exported from its first observation on, its `le` label first.
      if (series.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += series.buckets[i]!;
        const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
        values.push({ value: cumulative, labels: { le, ...labels }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: series.sum, labels: { ...labels }, metricName: `${this.name}_sum` });
      values.push({ value: series.count, labels: { ...labels }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes every series (the registry's resetMetrics). */
  reset(): void {
    for (const { series } of this.series) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
