import test from 'ava';
import { bucketOf, Histogram, HISTOGRAM_BUCKETS, HISTOGRAM_HIGHEST_MS, HISTOGRAM_LOWEST_MS } from '../../src/bench/histogram';

/** Percentiles are bucket midpoints: within half a bucket (0.5%) of the true value; use 1%. */
const RELATIVE_TOLERANCE = 0.01;

function histogramOf(values: number[]): Histogram {
  const h = new Histogram();
  for (const v of values) h.record(v);
  return h;
}

const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

const cases: { name: string; values: number[]; expect: Record<string, number> }[] = [
  { name: '1..1000 ms', values: oneTo(1000), expect: { p50: 500, p95: 950, p99: 990, p999: 999, max: 1000, mean: 500.5 } },
  { name: '1..100 ms', values: oneTo(100), expect: { p50: 50, p95: 95, p99: 99, p999: 100, max: 100, mean: 50.5 } },
  { name: 'one value', values: [7.25], expect: { p50: 7.25, p95: 7.25, p99: 7.25, p999: 7.25, max: 7.25, mean: 7.25 } },
  { name: 'one outlier in 100', values: [...Array(99).fill(1), 100], expect: { p50: 1, p95: 1, p99: 1, p999: 100, max: 100, mean: 1.99 } },
  { name: 'one outlier in 1000', values: [...Array(999).fill(0.2), 50], expect: { p50: 0.2, p99: 0.2, p999: 0.2, max: 50 } },
  { name: 'zeros', values: [0, 0, 0], expect: { p50: 0, p999: 0, max: 0, mean: 0 } },
  { name: 'sub-microsecond', values: [0.0001, 0.0002], expect: { max: 0.0002 } },
  {
    name: 'beyond the highest bucket',
    values: [HISTOGRAM_HIGHEST_MS * 2],
    expect: { p50: HISTOGRAM_HIGHEST_MS * 2, max: HISTOGRAM_HIGHEST_MS * 2 },
  },
  { name: 'empty', values: [], expect: { p50: 0, p999: 0, max: 0, mean: 0 } },
];

for (const c of cases) {
  test(`histogram: ${c.name}`, (t) => {
    const s = histogramOf(c.values).summary();
    for (const [field, want] of Object.entries(c.expect)) {
      const got = s[field as keyof typeof s];
      t.true(Math.abs(got - want) <= Math.abs(want) * RELATIVE_TOLERANCE + 1e-12, `${field}: got ${got}, want ${want}`);
    }
    t.true(s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max, JSON.stringify(s));
  });
}

test('histogram: percentiles never leave [min, max]', (t) => {
  const h = histogramOf([3.3, 3.31, 3.32]);
  for (const q of [0, 1, 50, 99.9, 100]) {
    t.true(h.percentile(q) >= 3.3 && h.percentile(q) <= 3.32);
  }
});

test('histogram: negative and NaN latencies count as 0', (t) => {
  const h = histogramOf([-5, NaN]);
  t.is(h.count, 2);
  t.is(h.max, 0);
  t.is(h.percentile(100), 0);
});

test('histogram: bucket index is monotonic and bounded', (t) => {
  let last = 0;
  for (let v = 0; v < 10 * HISTOGRAM_HIGHEST_MS; v = v === 0 ? HISTOGRAM_LOWEST_MS / 2 : v * 1.7) {
    const b = bucketOf(v);
    t.true(b >= last && b < HISTOGRAM_BUCKETS, `value ${v} bucket ${b}`);
    last = b;
  }
  t.true(HISTOGRAM_BUCKETS < 5000, 'memory stays small');
});

test('histogram: a long run keeps constant memory and exact counts', (t) => {
  const h = new Histogram();
  for (let i = 0; i < 1_000_000; i++) h.record((i % 1000) / 10);
  t.is(h.count, 1_000_000);
  t.is(h.max, 99.9);
  t.true(Math.abs(h.percentile(50) - 49.9) <= 49.9 * RELATIVE_TOLERANCE);
});
