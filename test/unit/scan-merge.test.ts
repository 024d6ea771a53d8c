import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { mergePages, ReplicaPage, takeLive } from '../../src/coordinator/scan-merge';
import { compareVersions, isLive, KeyedVersion, newest, Version } from '../../src/storage/version';
import { byteString, version } from './arbitraries';
import { fcParams } from './fc-params';

const val = (ts: number, value: string, expires?: number): Version => ({ ts, value, deleted: false, ...(expires ? { expires } : {}) });
const del = (ts: number): Version => ({ ts, value: '', deleted: true });
const page = (more: boolean, ...entries: Array<[string, Version]>): ReplicaPage => ({
  entries: entries.map(([key, version]) => ({ key, version })),
  more,
});
/** Merged keys as [key, winner, stale pages]. */
const merged = (pages: ReplicaPage[]) => mergePages(pages).keys.map((k) => [k.key, k.version, k.stale]);

test('the newest version of each key wins, and replicas that lack it or hold an older one are stale', (t) => {
  const a = page(false, ['a', val(1, 'x')], ['b', val(5, 'new')], ['d', del(9)]);
  const b = page(false, ['b', val(3, 'old')], ['c', val(2, 'y')], ['d', val(4, 'z')]);
  t.deepEqual(merged([a, b]), [
    ['a', val(1, 'x'), [1]],
    ['b', val(5, 'new'), [1]],
    ['c', val(2, 'y'), [0]],
    ['d', del(9), [1]],
  ]);
  t.is(mergePages([a, b]).frontier, undefined, 'both pages reached the end of the range');
});

test('agreeing replicas: nothing stale', (t) => {
  const same = page(false, ['k', val(1, 'v')]);
  t.deepEqual(merged([same, same]), [['k', val(1, 'v'), []]]);
});

test('a page that stopped early bounds the merge at its last key; keys past it wait for the next round', (t) => {
  const full = page(false, ['a', val(1, '1')], ['b', val(1, '2')], ['c', val(1, '3')], ['d', val(1, '4')]);
  const short = page(true, ['a', val(1, '1')], ['b', val(1, '2')]);
  const m = mergePages([full, short]);
  t.is(m.frontier, 'b');
  t.deepEqual(
    m.keys.map((k) => k.key),
    ['a', 'b'],
    'c and d are not known to be missing on the short page',
  );
  t.is(
    mergePages([page(true, ['a', val(1, '')], ['c', val(1, '')]), page(true, ['b', val(1, '')])]).frontier,
    'b',
    'the smallest last key',
  );
});

test('keys compare as unsigned bytes', (t) => {
  const a = page(false, ['a', val(1, '')], ['\u00ff', val(1, '')]);
  const b = page(false, ['\u0080', val(1, '')]);
  t.deepEqual(
    mergePages([a, b]).keys.map((k) => k.key),
    ['a', '\u0080', '\u00ff'],
  );
});

test("takeLive hides tombstones and expired values, keeps a live value's timestamp and expiry, stops at the limit, and says how far it looked", (t) => {
  const keys = mergePages([
    page(false, ['a', val(1, 'A')], ['b', del(2)], ['c', val(3, 'C', 100)], ['d', val(4, 'D', 50)], ['e', val(5, 'E')]),
  ]).keys;
  t.deepEqual(takeLive(keys, 10, 60), {
    rows: [
      { key: 'a', value: 'A', ts: 1 },
      { key: 'c', value: 'C', ts: 3, expires: 100 },
      { key: 'e', value: 'E', ts: 5 },
    ],
    last: 'e',
    cut: false,
  });
  t.deepEqual(takeLive(keys, 2, 60), {
    rows: [
      { key: 'a', value: 'A', ts: 1 },
      { key: 'c', value: 'C', ts: 3, expires: 100 },
    ],
    last: 'c',
    cut: true,
  });
  t.deepEqual(takeLive(keys, 3, 60).cut, false, 'the limit reached at the last key cuts nothing off');
  t.deepEqual(takeLive(keys.slice(1, 2), 5, 60), { rows: [], last: 'b', cut: false }, 'a page of tombstones is looked at all the same');
  t.deepEqual(takeLive([], 5, 60), { rows: [], last: undefined, cut: false });
});

/**
 * Property, against a naive reference: replicas hold random versions of
 * random keys; pages are cut at random limits. The merge decides exactly the
 * keys up to the smallest cut, each with the newest version any replica
 * holds and the replicas not holding that version as stale.
 */
test('property: merged pages agree with a naive merge of the replicas up to the frontier', (t) => {
  const ts = fc.integer({ min: 1, max: 5 });
  const expiring = fc
    .record({ ts, value: byteString(0, 2), expires: fc.integer({ min: 1, max: 6 }) })
    .map((v) => ({ ...v, deleted: false }));
  const replica = fc.dictionary(byteString(0, 3), fc.oneof(version(ts, byteString(0, 2)), expiring), { maxKeys: 30 });
  const input = fc.record({
    replicas: fc.array(replica, { minLength: 1, maxLength: 3 }),
    limits: fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 3, maxLength: 3 }),
    now: fc.integer({ min: 0, max: 6 }),
  });
  const property = fc.property(input, ({ replicas, limits, now }) => {
    const sorted = replicas.map((r) =>
      Object.keys(r)
        .sort()
        .map((key): KeyedVersion => ({ key, version: r[key]! })),
    );
    const pages = sorted.map((entries, i) => ({ entries: entries.slice(0, limits[i]!), more: entries.length > limits[i]! }));
    const m = mergePages(pages);
    const cuts = pages.filter((p) => p.more).map((p) => p.entries[p.entries.length - 1]!.key);
    const frontier = cuts.length === 0 ? undefined : cuts.sort()[0];
    assert.equal(m.frontier, frontier);
    const allKeys = [...new Set(sorted.flatMap((e) => e.map((x) => x.key)))].sort().filter((k) => frontier === undefined || k <= frontier);
    assert.deepEqual(
      m.keys.map((k) => k.key),
      allKeys,
    );
    for (const k of m.keys) {
      const held = replicas.map((r) => (Object.hasOwn(r, k.key) ? r[k.key] : undefined));
      const winner = held.reduce<Version | undefined>((w, v) => newest(w, v), undefined)!;
      assert.equal(compareVersions(k.version, winner), 0, `winner of ${JSON.stringify(k.key)}`);
      assert.deepEqual(
        k.stale,
        held.flatMap((v, i) => (v === undefined || compareVersions(v, winner) !== 0 ? [i] : [])),
      );
    }
    const taken = takeLive(m.keys, limits[0]!, now);
    const live = m.keys
      .filter((k) => isLive(k.version, now))
      .map((k) => ({ key: k.key, value: k.version.value, ts: k.version.ts, ...(k.version.expires ? { expires: k.version.expires } : {}) }));
    assert.deepEqual(taken.rows, live.slice(0, limits[0]!));
  });
  t.notThrows(() => fc.assert(property, fcParams(200)));
});
