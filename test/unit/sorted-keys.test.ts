import test from 'ava';
import { KeySource, SortedKeys } from '../../src/storage/sorted-keys';
import { Gen, seedNote, testSeed } from './prng';

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
  return sorted.slice(0, sorted.length);
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

test('property: random byte keys sort as strings do; firstAbove agrees with a scan', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  const keys = [...new Set(Array.from({ length: 3000 }, () => g.bytes(0, 5)))];
  const expected = [...keys].sort();
  const locs = Float64Array.from(keys, (_, i) => i);
  const sorted = SortedKeys.build(source(keys), locs, g.int(1, 50));
  t.deepEqual(sorted.slice(0, sorted.length), expected, seedNote(seed));
  for (let i = 0; i < 200; i++) {
    const probe = g.bytes(0, 5);
    const scan = expected.findIndex((k) => k > probe);
    t.is(sorted.firstAbove(probe), scan < 0 ? expected.length : scan, `${seedNote(seed)}: probe ${JSON.stringify(probe)}`);
  }
});
