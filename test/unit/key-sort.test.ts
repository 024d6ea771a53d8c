import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { packKey } from '../../src/storage/key-order';
import { PackedKeys, sortByKey } from '../../src/storage/key-sort';
import { byteString } from './arbitraries';
import { fcParams } from './fc-params';

/** Keys in an array; a key's location is its index. */
function source(keys: readonly string[]): PackedKeys {
  return { packed: (loc, from) => packKey(keys[loc]!, from) };
}

/** The keys as `sortByKey` orders their locations. */
function sortWith(keys: readonly string[], radixMin: number): string[] {
  const locs = Uint32Array.from(keys, (_, i) => i);
  sortByKey(source(keys), locs, radixMin);
  return Array.from(locs, (loc) => keys[loc]!);
}

test('keys come out in byte order, by comparator and by radix passes', (t) => {
  const keys = ['b', '', '\u00ff', 'a', '\u0000', 'ab', 'aa', 'a\u0000', 'B', 'abc', '\u00ff\u0000', 'abcdefgh', 'abcdefg\u0000'];
  const expected = [...keys].sort();
  for (const radixMin of [1, 2, 5, 100]) t.deepEqual(sortWith(keys, radixMin), expected, `radixMin ${radixMin}`);
});

test('a chain of keys each the prefix of the next sorts without recursing per byte', (t) => {
  const keys = Array.from({ length: 2000 }, (_, i) => 'a'.repeat(i + 1)).reverse();
  t.deepEqual(sortWith(keys, 16), [...keys].sort());
});

test('keys sharing a long prefix, and keys that differ only in their packed digits', (t) => {
  const prefix = 'user:'.repeat(50);
  const keys = Array.from({ length: 3000 }, (_, i) => prefix + String((i * 7919) % 3000));
  t.deepEqual(sortWith(keys, 4), [...keys].sort());
  // Bytes that land in each of the three radix digits of a packed number, high and low.
  const digits = Array.from({ length: 600 }, (_, i) =>
    String.fromCharCode(i % 256, (i * 37) % 256, 255 - (i % 256), (i * 11) % 256, i % 7, 0),
  );
  const unique = [...new Set(digits)];
  t.deepEqual(sortWith(unique, 2), [...unique].sort());
});

test('property: random byte keys sort as strings do', (t) => {
  const input = fc.record({
    keys: fc.uniqueArray(fc.oneof(byteString(0, 5), byteString(5, 14)), { maxLength: 1000, size: 'max' }),
    radixMin: fc.integer({ min: 1, max: 50 }),
  });
  const property = fc.property(input, ({ keys, radixMin }) => {
    assert.deepEqual(sortWith(keys, radixMin), [...keys].sort(), 'the keys in order');
  });
  t.notThrows(() => fc.assert(property, fcParams(30)));
});
