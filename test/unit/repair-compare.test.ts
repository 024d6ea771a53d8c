import test from 'ava';
import { compareWithDigest, diffRange, digestOf, valueHash } from '../../src/repair/compare';
import { compareVersions, Version } from '../../src/storage/version';
import { Gen, seedNote, testSeed } from './prng';

const v = (ts: number, value = `v${ts}`, deleted = false): Version => ({ value: deleted ? '' : value, ts, deleted });

test('valueHash tells different values apart and is stable', (t) => {
  t.is(valueHash('abc'), valueHash('abc'));
  t.not(valueHash('abc'), valueHash('abd'));
  t.is(valueHash(''), 0x811c9dc5 | 0);
});

const table: [string, Version, Version, number][] = [
  ['newer timestamp wins', v(2), v(1), 1],
  ['older timestamp loses', v(1), v(2), -1],
  ['tombstone beats a value at the same timestamp', v(5, '', true), v(5), 1],
  ['same version', v(5, 'x'), v(5, 'x'), 0],
  ['same timestamp, different values: undecided', v(5, 'x'), v(5, 'y'), NaN],
  ['two tombstones of the same timestamp', v(5, '', true), v(5, '', true), 0],
];
for (const [name, ours, theirs, expected] of table) {
  test(`compareWithDigest: ${name}`, (t) => {
    t.is(compareWithDigest(ours, digestOf('k', theirs)), expected);
  });
}

test('diffRange sends what the peer lacks or has older, fetches what we lack or have older', (t) => {
  const mine = new Map<string, Version>([
    ['a', v(1)],
    ['b', v(5)],
    ['c', v(3)],
    ['e', v(7, 'x')],
  ]);
  const theirs = [digestOf('a', v(1)), digestOf('b', v(4)), digestOf('c', v(9)), digestOf('d', v(2)), digestOf('e', v(7, 'y'))];
  const diff = diffRange(['a', 'b', 'c', 'e', 'f'], (k) => mine.get(k) ?? (k === 'f' ? v(1) : undefined), theirs);
  t.deepEqual(diff.send.sort(), ['b', 'e', 'f']);
  t.deepEqual(diff.fetch.sort(), ['c', 'd', 'e']);
});

test('property: exchanging what diffRange says makes both sides equal', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  for (let round = 0; round < 300; round++) {
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const side = (): Map<string, Version> => {
      const m = new Map<string, Version>();
      for (const k of keys) if (g.bool(0.7)) m.set(k, v(g.int(1, 4), g.pick(['x', 'y']), g.bool(0.2)));
      return m;
    };
    const a = side();
    const b = side();
    const diff = diffRange(
      [...b.keys()],
      (k) => b.get(k),
      [...a.entries()].map(([k, ver]) => digestOf(k, ver)),
    );
    // b sends `send` to a, a sends `fetch` to b; each keeps the winner.
    const merge = (into: Map<string, Version>, from: Map<string, Version>, ks: string[]): void => {
      for (const k of ks) {
        const incoming = from.get(k);
        const cur = into.get(k);
        if (incoming && (!cur || compareVersions(incoming, cur) > 0)) into.set(k, incoming);
      }
    };
    const sendVersions = new Map(b);
    const fetchVersions = new Map(a);
    merge(a, sendVersions, diff.send);
    merge(b, fetchVersions, diff.fetch);
    t.deepEqual([...a.entries()].sort(), [...b.entries()].sort(), `round ${round}; ${seedNote(seed)}`);
  }
});
