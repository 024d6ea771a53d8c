import test from 'ava';
import { UnsettledRows } from '../../src/storage/unsettled';
import { Gen, seedNote, testSeed } from './prng';

test('the pointer stays below the oldest unsettled row, whatever order rows settle in', (t) => {
  const u = new UnsettledRows();
  t.is(u.pointer(9), 9, 'nothing unsettled: just below the next seq');
  u.note(
    new Map([
      [12, 1],
      [10, 2],
    ]),
  ); // one batch, marks in another order than their rows
  u.note(new Map([[15, 1]]));
  t.is(u.size, 3);
  t.is(u.pointer(20), 9);
  u.settle(12);
  t.is(u.pointer(20), 9, 'row 10 is older and still unsettled');
  u.settle(10);
  t.is(u.pointer(20), 9, 'row 10 had two marks');
  u.settle(10);
  t.is(u.pointer(20), 14);
  u.settle(15);
  t.is(u.pointer(20), 20);
  t.is(u.size, 0);
});

test('settling a row that is not unsettled, or noting rows out of order, is a bug', (t) => {
  const u = new UnsettledRows();
  u.note(new Map([[5, 1]]));
  t.throws(() => u.settle(4), { message: /only an unsettled row is settled/ });
  t.throws(() => u.note(new Map([[3, 1]])), { message: /rows are noted in seq order/ });
});

test('property: the pointer is always just below the smallest unsettled seq', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  const u = new UnsettledRows();
  const open = new Map<number, number>();
  let next = 1;
  for (let step = 0; step < 5000; step++) {
    if (g.bool(0.5)) {
      const batch = new Map<number, number>();
      for (let i = g.int(0, 4); i > 0; i--) {
        next += g.int(1, 3);
        batch.set(next, g.int(1, 2));
      }
      u.note(batch);
      for (const [seq, n] of batch) open.set(seq, n);
    } else if (open.size > 0) {
      const seq = g.pick([...open.keys()]);
      u.settle(seq);
      const n = open.get(seq)! - 1;
      if (n === 0) open.delete(seq);
      else open.set(seq, n);
    }
    const expected = open.size === 0 ? next : Math.min(...open.keys()) - 1;
    if (u.pointer(next) !== expected) {
      t.fail(`step ${step}: pointer ${u.pointer(next)}, expected ${expected}; ${seedNote(seed)}`);
      return;
    }
  }
  t.is(u.size, open.size, seedNote(seed));
});
