import test from 'ava';
import fc from 'fast-check';
import { compareKeyStrings } from '../../src/common/bytes';
import { midpointToken, splitToken } from '../../src/membership/tokens';

/** Whether `t` lies in the ring range (start, end], wrapping when start >= end. */
function inRange(t: string, start: string, end: string): boolean {
  if (compareKeyStrings(start, end) < 0) return compareKeyStrings(t, start) > 0 && compareKeyStrings(t, end) <= 0;
  return compareKeyStrings(t, start) > 0 || compareKeyStrings(t, end) <= 0;
}

test('the midpoint of a plain range lies between its ends', (t) => {
  t.is(midpointToken('a', 'c'), 'b');
  t.is(midpointToken('M', 'f'), 'Y\u0080');
});

test('the midpoint of a wrapping range goes through the end of the key space', (t) => {
  const mid = midpointToken('p', 'M');
  t.true(compareKeyStrings(mid, 'p') > 0, JSON.stringify(mid));
});

test('the midpoint of any two different tokens is inside their range and differs from both', (t) => {
  t.notThrows(() => check());
});

function check(): void {
  const token = fc.string({ minLength: 1, maxLength: 4 }).map((s) => Buffer.from(s, 'utf8').toString('latin1'));
  fc.assert(
    fc.property(token, token, (start, end) => {
      fc.pre(start !== end);
      const mid = midpointToken(start, end);
      return inRange(mid, start, end) && mid !== end && mid !== start;
    }),
  );
}

test('a range with enough keys splits at their median, one with few at its midpoint', (t) => {
  const keys = Array.from({ length: 100 }, (_, i) => `k${String(i).padStart(3, '0')}`);
  t.is(splitToken('a', 'z', keys), 'k049');
  t.is(splitToken('a', 'c', ['b']), 'b');
});
