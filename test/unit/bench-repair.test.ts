import test from 'ava';
import { disagreeingRanges, overstreaming, staleCopies } from '../../src/bench/repair';
import { Version } from '../../src/storage/version';

const v = (ts: number, value = 'x', deleted = false): Version => ({ ts, value, deleted });
const root = (hex: string): Buffer => Buffer.from(hex, 'hex');

test('staleCopies: copies that agree need nothing', (t) => {
  t.is(staleCopies([v(5), v(5), v(5)]), 0);
  t.is(staleCopies([undefined, undefined, undefined]), 0, 'no replica holds the key: nothing to move');
});

test('staleCopies: a missing copy, an older one and a lost tombstone each count', (t) => {
  t.is(staleCopies([v(5), undefined, v(5)]), 1);
  t.is(staleCopies([v(4), v(5), v(3)]), 2);
  t.is(staleCopies([v(5, '', true), v(5), v(5)]), 2, 'a tombstone wins over a value of the same timestamp');
  t.is(staleCopies([v(5, 'a'), v(5, 'b'), v(5, 'b')]), 1, 'same timestamp, different bytes: the larger value wins');
});

test('disagreeingRanges: equal roots agree, any differing or unread root does not', (t) => {
  const same = root('0102030405060708');
  t.deepEqual(disagreeingRanges(new Map([[0, [same, Buffer.from(same), same]]])), []);
  const roots = new Map<number, (Buffer | null)[]>([
    [0, [same, same, same]],
    [1, [same, root('0102030405060709'), same]],
    [2, [same, same, null]],
    [3, [null, null, null]],
  ]);
  t.deepEqual(disagreeingRanges(roots), [1, 2, 3]);
});

test('overstreaming: keys streamed both ways over the copies that differed', (t) => {
  t.is(overstreaming(75_000, 0, { keys: 75_000, copies: 75_000 }), 1);
  t.is(overstreaming(50, 60, { keys: 90, copies: 100 }), 1.1);
  t.is(overstreaming(0, 0, { keys: 0, copies: 0 }), null, 'nothing differed: no ratio');
  t.is(overstreaming(10, 0, null), null, 'not counted: no ratio');
});
