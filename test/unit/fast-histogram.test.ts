import test from 'ava';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../src/metrics/histogram';
import { LATENCY_BUCKETS_SECONDS } from '../../src/metrics/requests';

const LABELS = [
  { op: 'get', level: 'ONE' },
  { op: 'put', level: 'QUORUM' },
  { op: 'remove', level: 'ALL' },
];

/** The same observations through prom-client's Histogram and through ours: the registries' texts. */
async function bothTexts(observations: readonly [number, number][]): Promise<[string, string]> {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({
    name: 'x_seconds',
    help: 'h',
    labelNames: ['op', 'level'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [theirs],
  });
  const f = new FastHistogram('x_seconds', 'h', LATENCY_BUCKETS_SECONDS, [ours]);
  const children = LABELS.map((l) => h.labels(l.op, l.level));
  const series = LABELS.map((l) => f.child(l));
  for (const [which, value] of observations) {
    children[which]!.observe(value);
    series[which]!.observe(value);
  }
  return [await theirs.metrics(), await ours.metrics()];
}

/** The lines of an exposition text in a fixed order: prom-client lists series in the order they were first observed, ours in the order they were made. */
function sortedLines(text: string): string[] {
  return text.split('\n').sort();
}

test("the exposition is prom-client's Histogram's, bucket for bucket, for any observations", async (t) => {
  const value = fc.oneof(fc.constantFrom(0, ...LATENCY_BUCKETS_SECONDS), fc.double({ min: 0, max: 10, noNaN: true }));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: LABELS.length - 1 }), value), { maxLength: 60 }), async (obs) => {
      const [theirs, ours] = await bothTexts(obs);
      return JSON.stringify(sortedLines(theirs)) === JSON.stringify(sortedLines(ours));
    }),
  );
  t.pass();
});

test('a value on a bound counts in that bound (le is inclusive); above the last, only in +Inf', async (t) => {
  const registry = new Registry();
  const f = new FastHistogram('y_seconds', 'h', [0.5, 1], [registry]);
  const s = f.child({ op: 'get' });
  for (const v of [0.5, 0.75, 1, 3]) s.observe(v);
  const text = await registry.metrics();
  t.true(text.includes('y_seconds_bucket{le="0.5",op="get"} 1'), text);
  t.true(text.includes('y_seconds_bucket{le="1",op="get"} 3'), text);
  t.true(text.includes('y_seconds_bucket{le="+Inf",op="get"} 4'), text);
  t.true(text.includes('y_seconds_sum{op="get"} 5.25'), text);
  t.true(text.includes('y_seconds_count{op="get"} 4'), text);
});

test('a series appears once observed, and reset zeroes it out of the text again', async (t) => {
  const registry = new Registry();
  const f = new FastHistogram('z_seconds', 'h', [1], [registry]);
  const s = f.child({});
  t.false((await registry.metrics()).includes('z_seconds_count'));
  s.observe(0.2);
  t.true((await registry.metrics()).includes('z_seconds_count 1'));
  registry.resetMetrics();
  t.false((await registry.metrics()).includes('z_seconds_count'));
});

test('bounds that do not rise are refused', (t) => {
  t.throws(() => new FastHistogram('w_seconds', 'h', [1, 1], []), { message: /bounds rise/ });
});
