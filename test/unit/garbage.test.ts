import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { COMPACT_GARBAGE_ROWS_MIN, GARBAGE_BUCKET_SEQS } from '../../src/common/limits';
import { GarbageRows } from '../../src/storage/garbage';
import { compactionDue } from '../../src/storage/compaction';
import { fcParams } from './fc-params';

const B = GARBAGE_BUCKET_SEQS;

test('take yields every seq once, in ascending runs of one bucket each, and empties the list', (t) => {
  const g = new GarbageRows();
  const seqs = [3 * B + 7, 5, 2 * B, 3 * B + 1, B - 1, 9, 2 * B + 2];
  for (const s of seqs) g.add(s);
  t.is(g.size, seqs.length);
  const runs = [...g.take()];
  t.deepEqual(runs, [
    [5, 9, B - 1],
    [2 * B, 2 * B + 2],
    [3 * B + 1, 3 * B + 7],
  ]);
  t.is(g.size, 0);
  t.deepEqual([...g.take()], []);
});

test('property: a bucket grows to hold every seq of its stretch, whatever order they come in', (t) => {
  const stretch = Array.from({ length: B }, (_, i) => B + i);
  // Often the whole stretch, the most a bucket holds; otherwise its first n seqs, so that a failure can shrink.
  const seqs = fc
    .oneof({ withCrossShrink: true }, fc.integer({ min: 1, max: B }), fc.constant(B))
    .chain((n) => fc.shuffledSubarray(stretch.slice(0, n), { minLength: n, maxLength: n }));
  const property = fc.property(seqs, (order) => {
    const g = new GarbageRows();
    for (const s of order) g.add(s);
    g.add(5 * B); // a bucket of one after it
    assert.deepEqual([...g.take()], [stretch.slice(0, order.length), [5 * B]]);
  });
  t.notThrows(() => fc.assert(property, fcParams(20)));
});

test('seqs added while a take is under way wait for the next take', (t) => {
  const g = new GarbageRows();
  g.add(1);
  g.add(B + 1);
  const runs = g.take();
  t.deepEqual(runs.next().value, [1]);
  g.add(2); // lands in a bucket the take has already passed
  g.add(B + 2); // and in one it has not reached yet
  t.deepEqual(runs.next().value, [B + 1]);
  t.true(runs.next().done);
  t.is(g.size, 2);
  t.deepEqual([...g.take()], [[2], [B + 2]]);
});

test('property: a take gives back exactly the seqs added, sorted, each run inside one bucket', (t) => {
  // Seqs far past 2^31 too: a node's log numbers rows for as long as it lives.
  const added = fc.record({
    base: fc.constantFrom(0, 2 ** 33),
    offsets: fc.array(fc.integer({ min: 0, max: 20 * B }), { maxLength: 3000, size: 'max' }),
  });
  const property = fc.property(added, ({ base, offsets }) => {
    const g = new GarbageRows();
    const seqs = offsets.map((o) => base + o);
    for (const s of seqs) g.add(s);
    const runs = [...g.take()];
    assert.deepEqual(
      runs.flat(),
      [...seqs].sort((a, b) => a - b),
      'every seq once, in order',
    );
    for (const run of runs) {
      assert.ok(run.length > 0, 'no empty run');
      assert.equal(
        Math.floor(run[0]! / B),
        Math.floor(run[run.length - 1]! / B),
        `run from ${run[0]} to ${run[run.length - 1]} in one bucket`,
      );
    }
    assert.equal(g.size, 0, 'the list is empty after a take');
  });
  t.notThrows(() => fc.assert(property, fcParams(50)));
});

test('a compaction is due once superseded rows are as many as the live rows, and never below the minimum', (t) => {
  const min = COMPACT_GARBAGE_ROWS_MIN;
  const cases: Array<[garbage: number, live: number, due: boolean]> = [
    [0, 0, false],
    [min - 1, 0, false],
    [min, 0, true],
    [min, min, true],
    [min, min + 1, false],
    [min + 1, min + 1, true],
    [999_999, 1_000_000, false],
    [1_000_000, 1_000_000, true],
  ];
  for (const [garbage, live, due] of cases) t.is(compactionDue(garbage, live), due, `${garbage} superseded, ${live} live`);
});
