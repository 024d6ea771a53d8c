import test from 'ava';
import { compareVersions, newest, supersedes, Version } from '../../src/storage/version';
import { Gen, seedNote, testSeed } from './prng';

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

function randomVersion(g: Gen): Version {
  const ts = g.int(1, 4); // a narrow range forces plenty of ties
  return g.bool(0.25) ? del(ts) : val(ts, g.bytes(0, 3));
}

test('property: folding newest over any permutation gives the same winner', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  const failures: string[] = [];
  for (let c = 0; c < 2000 && failures.length < 5; c++) {
    const set = Array.from({ length: g.int(1, 10) }, () => randomVersion(g));
    const expected = [...set].sort(refCompare)[set.length - 1]!;
    for (let p = 0; p < 5; p++) {
      const order = g.shuffle(set);
      const winner = order.reduce<Version | undefined>((acc, v) => newest(acc, v), undefined);
      if (JSON.stringify(winner) !== JSON.stringify(expected)) {
        failures.push(`case ${c}: set=${JSON.stringify(order)} winner=${JSON.stringify(winner)} expected=${JSON.stringify(expected)}`);
        break;
      }
    }
  }
  t.deepEqual(failures, [], seedNote(seed));
});

test('property: compareVersions is antisymmetric, matches the reference order and is 0 only for equal versions', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  const failures: string[] = [];
  let ties = 0;
  for (let c = 0; c < 5000 && failures.length < 5; c++) {
    const a = randomVersion(g);
    const b = g.bool(0.1) ? { ...a } : randomVersion(g);
    const ab = Math.sign(compareVersions(a, b));
    const ba = Math.sign(compareVersions(b, a));
    const ref = Math.sign(refCompare(a, b));
    if (ab !== -ba || ab !== ref) failures.push(`a=${JSON.stringify(a)} b=${JSON.stringify(b)} ab=${ab} ba=${ba} ref=${ref}`);
    const same = a.ts === b.ts && a.deleted === b.deleted && a.value === b.value;
    if ((ab === 0) !== same) failures.push(`zero iff equal: a=${JSON.stringify(a)} b=${JSON.stringify(b)} ab=${ab}`);
    if (a.ts === b.ts && a !== b) ties++;
  }
  t.deepEqual(failures, [], seedNote(seed));
  t.true(ties > 500, `only ${ties} equal-ts pairs; ${seedNote(seed)}`);
});
