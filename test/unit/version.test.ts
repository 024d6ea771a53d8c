import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { compareVersions, isLive, newest, supersedes, Version } from '../../src/storage/version';
import { byteString, version } from './arbitraries';
import { fcParams, sampleParams, seedNote } from './fc-params';

const val = (ts: number, value: string): Version => ({ ts, value, deleted: false });
const del = (ts: number): Version => ({ ts, value: '', deleted: true });

// [a, b, expected sign of compareVersions(a, b), why]
const compareTable: Array<[Version, Version, -1 | 0 | 1, string]> = [
  [val(2, 'a'), val(1, 'z'), 1, 'higher ts wins over larger value'],
  [val(1, 'z'), val(2, 'a'), -1, 'lower ts loses'],
  [val(2, ''), del(1), 1, 'higher ts value beats older tombstone'],
  [del(1), val(2, ''), -1, 'older tombstone loses to newer value'],
  [del(5), val(5, '\u00ff'), 1, 'equal ts: tombstone beats value'],
  [val(5, '\u00ff\u00ff'), del(5), -1, 'equal ts: value loses to tombstone'],
  [val(5, 'b'), val(5, 'a'), 1, 'equal ts: larger bytes win'],
  [val(5, 'a'), val(5, 'b'), -1, 'equal ts: smaller bytes lose'],
  [val(5, '\u00ff'), val(5, 'a'), 1, 'bytes compare unsigned: 0xff > 0x61'],
  [val(5, '\u0080'), val(5, '\u007f'), 1, 'bytes compare unsigned: 0x80 > 0x7f'],
  [val(5, 'ab'), val(5, 'a'), 1, 'a longer value with the same prefix is larger'],
  [val(5, ''), val(5, '\u0000'), -1, 'the empty value is the smallest'],
  [val(5, 'same'), val(5, 'same'), 0, 'identical values'],
  [del(5), del(5), 0, 'identical tombstones'],
  [{ ...val(5, 'a'), expires: 9 }, val(5, 'a'), -1, 'equal bytes: an expiring value loses to one that never expires'],
  [{ ...val(5, 'a'), expires: 9 }, { ...val(5, 'a'), expires: 8 }, 1, 'equal bytes: the later expiry wins'],
  [{ ...val(6, 'a'), expires: 7 }, val(5, 'z'), 1, 'an expiring value is still ordered by its timestamp first'],
  [del(5), { ...val(5, 'z'), expires: 9 }, 1, 'equal ts: a tombstone beats an expiring value too'],
  [val(Number.MAX_SAFE_INTEGER, 'a'), val(Number.MAX_SAFE_INTEGER - 1, 'z'), 1, 'large timestamps stay exact'],
];

for (const [a, b, sign, why] of compareTable) {
  test(`compareVersions: ${why}`, (t) => {
    t.is(Math.sign(compareVersions(a, b)), sign);
    t.is(Math.sign(compareVersions(b, a)), -sign || 0, 'antisymmetric');
    const winner = sign >= 0 ? a : b;
    t.deepEqual(newest(a, b), winner);
    t.deepEqual(newest(b, a), winner);
    t.is(supersedes(a, b), sign > 0);
    t.is(supersedes(b, a), sign < 0);
  });
}

test('newest: a missing side yields the other', (t) => {
  const v = val(3, 'x');
  t.is(newest(v, undefined), v);
  t.is(newest(undefined, v), v);
  t.is(newest(undefined, undefined), undefined);
});

test('supersedes: anything replaces nothing, nothing replaces an equal version', (t) => {
  t.true(supersedes(val(0, ''), undefined));
  t.true(supersedes(del(0), undefined));
  t.false(supersedes(val(7, 'v'), val(7, 'v')));
  t.false(supersedes(del(7), del(7)));
});

// A reference order built from the rules, comparing value bytes as Buffers.
function refCompare(a: Version, b: Version): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  return Buffer.compare(Buffer.from(a.value, 'latin1'), Buffer.from(b.value, 'latin1'));
}

/** Timestamps from a narrow range force plenty of ties; values of up to 3 bytes. */
const anyVersion = version(fc.integer({ min: 1, max: 4 }), byteString(0, 3));
/** Pairs: a tenth of them two copies of one version, the rest independent. */
const versionPair = fc.oneof(
  { weight: 1, arbitrary: anyVersion.map((a): [Version, Version] => [a, { ...a }]) },
  { weight: 9, arbitrary: fc.tuple(anyVersion, anyVersion) },
);

test('property: folding newest over a set, in either order, gives the reference winner', (t) => {
  const property = fc.property(fc.array(anyVersion, { minLength: 1, maxLength: 10 }), (set) => {
    const expected = [...set].sort(refCompare)[set.length - 1]!;
    for (const order of [set, [...set].reverse()]) {
      const winner = order.reduce<Version | undefined>((acc, v) => newest(acc, v), undefined);
      assert.deepEqual(winner, expected, `order ${JSON.stringify(order)}`);
    }
  });
  t.notThrows(() => fc.assert(property, fcParams(2000)));
});

test('property: compareVersions is antisymmetric, matches the reference order and is 0 only for equal versions', (t) => {
  const property = fc.property(versionPair, ([a, b]) => {
    const ab = Math.sign(compareVersions(a, b));
    const ba = Math.sign(compareVersions(b, a));
    assert.ok(ba === -ab, `antisymmetric: ${ab} one way, ${ba} the other`);
    assert.equal(ab, Math.sign(refCompare(a, b)), 'the reference order');
    const same = a.ts === b.ts && a.deleted === b.deleted && a.value === b.value;
    assert.equal(ab === 0, same, 'zero if and only if equal');
  });
  t.notThrows(() => fc.assert(property, fcParams(5000)));
});

test('the version pairs of the property include many ties of timestamp between different versions', (t) => {
  const pairs = fc.sample(versionPair, sampleParams(5000));
  const ties = pairs.filter(([a, b]) => a.ts === b.ts && JSON.stringify(a) !== JSON.stringify(b)).length;
  t.true(ties > 500, `only ${ties} pairs of different versions with one timestamp; ${seedNote}`);
});

// [version, now (µs), live?, why]
const liveTable: Array<[Version, number, boolean, string]> = [
  [val(5, 'a'), 10 ** 15, true, 'a value without expiry lives for ever'],
  [del(5), 4, false, 'a tombstone never reads as a value'],
  [{ ...val(5, 'a'), expires: 100 }, 99, true, 'before its expiry a value lives'],
  [{ ...val(5, 'a'), expires: 100 }, 100, false, 'from its expiry on it reads as absent'],
  [{ ...val(5, 'a'), expires: 0 }, 10 ** 15, true, 'expiry 0 means none'],
];

for (const [v, now, live, why] of liveTable) {
  test(`isLive: ${why}`, (t) => {
    t.is(isLive(v, now), live);
  });
}
