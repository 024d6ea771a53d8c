import test from 'ava';
import { COMPACT_GARBAGE_ROWS_MIN, GARBAGE_BUCKET_SEQS } from '../../src/common/limits';
import { GarbageRows } from '../../src/storage/garbage';
import { compactionDue } from '../../src/storage/replica-store';
import { Gen, seedNote, testSeed } from './prng';

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

test('a bucket grows to hold every seq of its stretch, whatever order they come in', (t) => {
  const g = new GarbageRows();
  const seqs = new Gen(7).shuffle(Array.from({ length: B }, (_, i) => B + i));
  for (const s of seqs) g.add(s);
  g.add(5 * B); // a bucket of one after it
  t.deepEqual([...g.take()], [Array.from({ length: B }, (_, i) => B + i), [5 * B]]);
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
  const seed = testSeed();
  const gen = new Gen(seed);
  for (let round = 0; round < 50; round++) {
    const g = new GarbageRows();
    // Seqs far past 2^31 too: a node's log numbers rows for as long as it lives.
    const base = gen.bool(0.3) ? 2 ** 33 : 0;
    const added = Array.from({ length: gen.int(0, 3000) }, () => base + gen.int(0, 20 * B));
    for (const s of added) g.add(s);
    const runs = [...g.take()];
    const flat = runs.flat();
    t.deepEqual(
      flat,
      [...added].sort((a, b) => a - b),
      seedNote(seed),
    );
    for (const run of runs) {
      t.true(run.length > 0, seedNote(seed));
      t.is(Math.floor(run[0]! / B), Math.floor(run[run.length - 1]! / B), seedNote(seed));
    }
  }
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
