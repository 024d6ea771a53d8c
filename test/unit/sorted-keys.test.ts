import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { KeySource, SortedKeys } from '../../src/storage/sorted-keys';
import { byteString } from './arbitraries';
import { fcParams } from './fc-params';

/** Keys in an array; a key's location is its index. */
function source(keys: readonly string[]): KeySource {
  return {
    key: (loc) => keys[loc]!,
    keyLength: (loc) => keys[loc]!.length,
    keyByte: (loc, i) => (i < keys[loc]!.length ? keys[loc]!.charCodeAt(i) : -1),
  };
}

function sortWith(keys: readonly string[], stringsMax: number): string[] {
  const locs = Float64Array.from(keys, (_, i) => i);
  const sorted = SortedKeys.build(source(keys), locs, stringsMax);
  return Array.from({ length: sorted.length }, (_, j) => sorted.keyAt(j));
}

test('keys come out in byte order, however small the groups sorted as strings', (t) => {
  const keys = ['b', '', '\u00ff', 'a', '\u0000', 'ab', 'aa', 'a\u0000', 'B', 'abc', '\u00ff\u0000'];
  const expected = [...keys].sort();
  for (const stringsMax of [1, 2, 3, 100]) t.deepEqual(sortWith(keys, stringsMax), expected, `stringsMax ${stringsMax}`);
});

test('a chain of keys each the prefix of the next sorts without recursing per byte', (t) => {
  const keys = Array.from({ length: 2000 }, (_, i) => 'a'.repeat(i + 1)).reverse();
  t.deepEqual(sortWith(keys, 1), [...keys].sort());
});

test('keys sharing a long prefix', (t) => {
  const prefix = 'user:'.repeat(50);
  const keys = Array.from({ length: 3000 }, (_, i) => prefix + String((i * 7919) % 3000));
  t.deepEqual(sortWith(keys, 4), [...keys].sort());
});

test('property: random byte keys sort as strings do', (t) => {
  const input = fc.record({
    keys: fc.uniqueArray(byteString(0, 5), { maxLength: 1000, size: 'max' }),
    stringsMax: fc.integer({ min: 1, max: 50 }),
  });
  const property = fc.property(input, ({ keys, stringsMax }) => {
    assert.deepEqual(sortWith(keys, stringsMax), [...keys].sort(), 'the keys in order');
  });
  t.notThrows(() => fc.assert(property, fcParams(30)));
});
