import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { UnsettledRows } from '../../src/storage/unsettled';
import { fcParams } from './fc-params';

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

/**
 * One step: a committed batch noting some rows (seq gaps of 1 to 3, one or two
 * marks each), or a settle of one open mark: often the oldest, and five times
 * as often as a batch, so that the open marks stay few and the pointer moves.
 */
type Step = { kind: 'note'; rows: { gap: number; marks: number }[] } | { kind: 'settle'; pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('note' as const),
      rows: fc.array(fc.record({ gap: fc.integer({ min: 1, max: 3 }), marks: fc.integer({ min: 1, max: 2 }) }), { maxLength: 8 }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.oneof(fc.constant(0), fc.nat()) }) },
);

/**
 * Each run starts with up to 2000 rows noted and settled at once, as on a node
 * that has been up for a while, so the settled front of the queue passes the
 * point where it is cut off (1024 rows) in most runs.
 */
const run = fc.record({ settledBefore: fc.integer({ min: 0, max: 2000 }), steps: fc.array(step, { maxLength: 200, size: 'max' }) });

test('property: the pointer is always just below the smallest unsettled seq', (t) => {
  const property = fc.property(run, ({ settledBefore, steps }) => {
    const u = new UnsettledRows();
    const open = new Map<number, number>(); // seq → marks not settled yet: the reference
    let next = 1;
    for (; next <= settledBefore; next++) {
      u.note(new Map([[next, 1]]));
      u.settle(next);
    }
    for (const [i, s] of steps.entries()) {
      if (s.kind === 'note') {
        const batch = new Map<number, number>();
        for (const row of s.rows) {
          next += row.gap;
          batch.set(next, row.marks);
        }
        u.note(batch);
        for (const [seq, n] of batch) open.set(seq, n);
      } else if (open.size > 0) {
        const seq = [...open.keys()][s.pick % open.size]!;
        u.settle(seq);
        const n = open.get(seq)! - 1;
        if (n === 0) open.delete(seq);
        else open.set(seq, n);
      }
      const expected = open.size === 0 ? next : Math.min(...open.keys()) - 1;
      assert.equal(u.pointer(next), expected, `step ${i}: the pointer`);
    }
    assert.equal(u.size, open.size, 'unsettled rows');
  });
  t.notThrows(() => fc.assert(property, fcParams(50)));
});
