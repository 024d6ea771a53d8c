/**
 * A latency histogram with logarithmic buckets, in the manner of HdrHistogram:
 * a fixed array of counters, whatever the length of the run, and percentiles
 * within half a bucket of the truth.
 *
 * Bucket 0 holds [0, LOWEST]; bucket i >= 1 holds (LOWEST * r^(i-1), LOWEST * r^i]
 * with r = HISTOGRAM_BUCKET_RATIO. A percentile is reported as its bucket's
 * geometric midpoint, so it is within ±0.5% of a recorded value. Count, sum,
 * min and max are kept exactly, so mean and max are exact.
 */

/** Finest resolution, in ms (1 µs). Smaller latencies share the first bucket. */
export const HISTOGRAM_LOWEST_MS = 0.001;
/** Largest latency told apart, in ms (one hour). Larger ones share the last bucket; max stays exact. */
export const HISTOGRAM_HIGHEST_MS = 3_600_000;
/** Each bucket is this much wider than the one before: the relative resolution. */
export const HISTOGRAM_BUCKET_RATIO = 1.01;
/** Counters per histogram: about 2,200, so about 18 KB of memory for any run length. */
export const HISTOGRAM_BUCKETS = Math.ceil(Math.log(HISTOGRAM_HIGHEST_MS / HISTOGRAM_LOWEST_MS) / Math.log(HISTOGRAM_BUCKET_RATIO)) + 1;

const LOG_RATIO = Math.log(HISTOGRAM_BUCKET_RATIO);
/** Absorbs floating-point error in q * n / 100 before rounding up. */
const RANK_EPSILON = 1e-9;

export interface LatencySummary {
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export function bucketOf(ms: number): number {
  if (!(ms > HISTOGRAM_LOWEST_MS)) return 0;
  const i = Math.ceil(Math.log(ms / HISTOGRAM_LOWEST_MS) / LOG_RATIO);
  return Math.min(Math.max(i, 1), HISTOGRAM_BUCKETS - 1);
}

/** The value a bucket stands for: its geometric midpoint (bucket 0: its upper edge). */
function bucketValue(i: number): number {
  if (i === 0) return HISTOGRAM_LOWEST_MS;
  return HISTOGRAM_LOWEST_MS * Math.pow(HISTOGRAM_BUCKET_RATIO, i - 0.5);
}

export class Histogram {
  /** Float64 counts stay exact to 2^53, far beyond any run. */
  private readonly counts = new Float64Array(HISTOGRAM_BUCKETS);
  private total = 0;
  private sum = 0;
  private minMs = Infinity;
  private maxMs = 0;

  /** Records one latency in ms; negative or NaN values count as 0. */
  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    this.counts[bucketOf(v)]! += 1;
    this.total++;
    this.sum += v;
    if (v < this.minMs) this.minMs = v;
    if (v > this.maxMs) this.maxMs = v;
  }

  get count(): number {
    return this.total;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }

  get max(): number {
    return this.maxMs;
  }

  get min(): number {
    return this.total === 0 ? 0 : this.minMs;
  }

  /**
   * The nearest-rank percentile: the smallest recorded value with at least
   * q% of the values at or below it (q from 0 to 100). 0 when empty.
   */
  percentile(q: number): number {
    if (this.total === 0) return 0;
    const clamped = Math.min(Math.max(q, 0), 100);
    // q * n / 100 (not q / 100 * n) and a hair below: 99.9% of 1000 must be rank 999, not 1000.
    const rank = Math.max(1, Math.ceil((clamped * this.total) / 100 - RANK_EPSILON));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(Math.max(bucketValue(i), this.minMs), this.maxMs);
    }
    return this.maxMs;
  }

  summary(): LatencySummary {
    return {
      mean: this.mean,
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.max,
    };
  }
}
