import test from 'ava';
import {
  formatKey,
  keyDigits,
  keyFormatter,
  makeChooser,
  ringSpread,
  scatterStride,
  UniformChooser,
  ZipfianChooser,
} from '../../src/bench/keys';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Ring } from '../../src/partitioner/ring';
import { Random as Prng, SEED_MAX } from '../../src/common/random';

const draw = (next: () => number, n: number): number[] => Array.from({ length: n }, next);

test('prng: the same seed gives the same sequence, another seed another', (t) => {
  const p = new Prng(42);
  const q = new Prng(42);
  const r = new Prng(43);
  const first = draw(() => p.uint32(), 100);
  t.deepEqual(
    first,
    draw(() => q.uint32(), 100),
  );
  t.notDeepEqual(
    first,
    draw(() => r.uint32(), 100),
  );
});

test('prng: floats in [0, 1), ints in [0, n), bytes of the asked length', (t) => {
  const p = new Prng(SEED_MAX);
  for (let i = 0; i < 10_000; i++) {
    const f = p.float();
    t.true(f >= 0 && f < 1);
    const n = p.int(7);
    t.true(Number.isInteger(n) && n >= 0 && n < 7);
  }
  t.is(p.bytes(0).length, 0);
  t.is(p.bytes(13).length, 13);
  t.deepEqual(new Prng(1).bytes(100), new Prng(1).bytes(100));
});

test('prng: rejects seeds that are not 32-bit unsigned integers', (t) => {
  for (const bad of [-1, 1.5, SEED_MAX + 1, NaN]) t.throws(() => new Prng(bad), { instanceOf: RangeError });
});

test('keys: fixed-width text, wider only when the key count needs it', (t) => {
  t.is(formatKey(123, 100_000), 'key000123');
  t.is(formatKey(0, 1), 'key000000');
  t.is(keyDigits(1_000_000), 6);
  t.is(formatKey(5, 1_000_001), 'key0000005');
  t.is(formatKey(99_999, 100_000).length, formatKey(0, 100_000).length);
});

test('keys: the formatter picks the prefix by key number and pads every width', (t) => {
  const format = keyFormatter(12_345_678, ['a', 'b', 'c']);
  t.is(format(0), 'akey00000000');
  t.is(format(7), 'bkey00000007');
  t.is(format(12_345_677), 'ckey12345677');
  for (const n of [0, 9, 10, 99, 100, 123_456, 1_234_567, 12_345_677]) {
    t.is(format(n), ['a', 'b', 'c'][n % 3] + 'key' + String(n).padStart(8, '0'));
  }
});

const chooserCases = [
  { name: 'uniform', make: (keys: number, seed: number) => new UniformChooser(keys, new Prng(seed)) },
  { name: 'zipfian', make: (keys: number, seed: number) => new ZipfianChooser(keys, new Prng(seed)) },
];

for (const c of chooserCases) {
  for (const keys of [1, 2, 3, 50, 1000, 100_000]) {
    test(`${c.name} over ${keys} keys: in range and deterministic for a seed`, (t) => {
      const a = c.make(keys, 7);
      const b = c.make(keys, 7);
      const xs = draw(() => a.next(), 5000);
      t.deepEqual(
        xs,
        draw(() => b.next(), 5000),
      );
      t.true(xs.every((x) => Number.isInteger(x) && x >= 0 && x < keys));
    });
  }
}

test('choosers: a different seed gives a different sequence', (t) => {
  for (const d of ['uniform', 'zipfian'] as const) {
    const a = makeChooser(d, 1000, new Prng(1));
    const b = makeChooser(d, 1000, new Prng(2));
    t.notDeepEqual(
      draw(() => a.next(), 50),
      draw(() => b.next(), 50),
    );
  }
});

test('uniform: every key of a small space comes up', (t) => {
  const u = new UniformChooser(50, new Prng(3));
  t.is(new Set(draw(() => u.next(), 5000)).size, 50);
});

test('zipfian: rank 0 is the most popular and the head dominates', (t) => {
  const z = new ZipfianChooser(1000, new Prng(11));
  const counts = new Array<number>(1000).fill(0);
  const n = 100_000;
  for (let i = 0; i < n; i++) counts[z.nextRank()]!++;
  t.is(counts.indexOf(Math.max(...counts)), 0);
  const top10 = counts.slice(0, 10).reduce((a, b) => a + b, 0);
  // With theta 0.99 over 1000 keys the ten hottest take about 38% of requests; uniform would give 1%.
  t.true(top10 > n * 0.3, `top 10 got ${top10} of ${n}`);
});

test('zipfian: hot ranks are scattered by a permutation of the key space', (t) => {
  for (const keys of [1, 2, 10, 12, 1000, 1024, 99_991]) {
    const stride = scatterStride(keys);
    const image = new Set(Array.from({ length: keys }, (_, i) => (i * stride) % keys));
    t.is(image.size, keys, `stride ${stride} is a permutation of ${keys}`);
  }
  const z = new ZipfianChooser(1000, new Prng(5));
  const hot = new Set(draw(() => z.next(), 200));
  // The hottest keys are not neighbours: key numbers drawn span most of the space.
  t.true(Math.max(...hot) - Math.min(...hot) > 500);
});

test('ringSpread finds a prefix in every node range of the default layout', (t) => {
  const ring = new Ring(
    DEFAULT_TOKENS.map((token, id) => ({ id, token })),
    3,
  );
  const spread = ringSpread((k) => ring.owner(k), [0, 1, 2, 3]);
  t.is(spread.length, 4);
  t.deepEqual(
    spread.map((p) => ring.owner(formatKey(5, 100, [p]))),
    [0, 1, 2, 3],
  );
  // A ring whose ranges hold no text key for some node still gives a usable list.
  t.deepEqual(
    ringSpread(() => 9, [0, 1]),
    [''],
  );
});
