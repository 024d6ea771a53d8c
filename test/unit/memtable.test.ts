import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { ARENA_SLAB_LIVE_MIN, ARENA_SPARE_SLABS_MAX } from '../../src/common/limits';
import { HASH_SPACE, hashKey } from '../../src/partitioner/hash';
import { Memtable, Stored, storedVersion } from '../../src/storage/memtable';
import { supersedes } from '../../src/storage/version';
import { byteString } from './arbitraries';
import { fcParams } from './fc-params';

const v = (ts: number, value = `v${ts}`, deleted = false) => ({ value, ts, deleted });

test('set, get, overwrite and delete keep each key on its own slot', (t) => {
  const m = new Memtable();
  m.set('a', v(1), 1);
  m.set('b', v(2, '', true), 2);
  t.deepEqual(m.get('a'), { ...v(1), seq: 1 });
  t.deepEqual(m.get('b'), { ...v(2, '', true), seq: 2 });
  m.set('a', v(3), 3);
  t.deepEqual(m.get('a'), { ...v(3), seq: 3 });
  t.is(m.seqOf('a'), 3);
  t.is(m.seqOf('zz'), 0);
  t.is(m.size, 2);
  m.delete('a');
  t.is(m.get('a'), undefined);
  t.is(m.seqOf('a'), 0);
  m.set('c', v(4), 4); // reuses a's slot
  t.deepEqual(m.get('b'), { ...v(2, '', true), seq: 2 }, 'other keys untouched');
  t.deepEqual([...m.entries()].map(([k, e]) => [k, e.seq]).sort(), [
    ['b', 2],
    ['c', 4],
  ]);
});

test('grows past its initial capacity without losing anything', (t) => {
  const m = new Memtable();
  const n = 5000;
  for (let i = 0; i < n; i++) m.set(`k${i}`, v(i + 1), i + 1);
  for (let i = 0; i < n; i += 2) m.delete(`k${i}`);
  for (let i = 0; i < n; i += 2) m.set(`x${i}`, v(10 * i + 1), n + i + 1);
  t.is(m.size, n);
  for (let i = 1; i < n; i += 2) t.deepEqual(m.get(`k${i}`), { ...v(i + 1), seq: i + 1 });
  for (let i = 0; i < n; i += 2) t.is(m.get(`x${i}`)!.ts, 10 * i + 1);
});

test('timestamps keep full microsecond precision', (t) => {
  const m = new Memtable();
  const ts = Number.MAX_SAFE_INTEGER - 1;
  m.set('k', v(ts), 1);
  t.is(m.get('k')!.ts, ts);
});

/** The keys of a range read. */
const keysOf = (m: Memtable, from: string, to: string | undefined, limit: number, bytesMax = Number.POSITIVE_INFINITY): string[] =>
  m.range(from, to, limit, bytesMax).entries.map((e) => e.key);

test('range pages through keys in byte order, and sees keys added and deleted between pages', (t) => {
  const m = new Memtable();
  for (const k of ['b', '\u00ff', 'a', '\u0000', 'ab', 'B']) m.set(k, v(1), 1);
  t.deepEqual(keysOf(m, '', undefined, 3), ['\u0000', 'B', 'a']);
  t.deepEqual(keysOf(m, 'a\u0000', undefined, 3), ['ab', 'b', '\u00ff']);
  t.deepEqual(keysOf(m, 'aa', undefined, 1), ['ab'], 'from a key that is not there');
  m.set('c', v(2), 2);
  m.delete('b');
  t.deepEqual(keysOf(m, 'ab\u0000', undefined, 10), ['c', '\u00ff']);
  t.deepEqual(keysOf(m, '\u00ff\u0000', undefined, 10), []);
});

test('range includes its start, excludes its end, says when it left keys out, and stops at its byte budget', (t) => {
  const m = new Memtable();
  for (const k of ['a', 'b', 'c', 'd']) m.set(k, v(1, 'x'.repeat(10), k === 'c'), 1);
  t.deepEqual(keysOf(m, 'b', 'd', 10), ['b', 'c'], 'tombstones included');
  t.false(m.range('b', 'd', 10, Number.POSITIVE_INFINITY).more);
  t.true(m.range('a', 'd', 2, Number.POSITIVE_INFINITY).more);
  t.false(m.range('a', 'c', 2, Number.POSITIVE_INFINITY).more, 'the range ends where the limit does');
  t.deepEqual(keysOf(m, 'a', undefined, 10, 15), ['a', 'b'], 'the entry that reaches the budget is the last');
  t.deepEqual(keysOf(m, 'a', undefined, 10, 1), ['a'], 'at least one');
  t.deepEqual(m.range('c', undefined, 1, 100).entries[0], { key: 'c', version: { ...v(1, 'x'.repeat(10), true), seq: 1 } });
});

test('a paused key order is rebuilt from every key at once', (t) => {
  const m = new Memtable();
  m.set('m', v(1), 1);
  m.pauseOrder();
  const keys = Array.from({ length: 3000 }, (_, i) => `k${(i * 7919) % 3000}`);
  keys.forEach((k, i) => m.set(k, v(i + 2), i + 2));
  m.delete('k7');
  m.rebuildOrder();
  const expected = [...keys.filter((k) => k !== 'k7'), 'm'].sort();
  t.deepEqual(keysOf(m, '', undefined, 10_000), expected);
  m.set('k7', v(9), 9);
  m.delete('m');
  t.deepEqual(keysOf(m, '', undefined, 10_000), [...keys].sort(), 'and kept from then on');
});

test('keys and values of any bytes and sizes, including empty and larger than a slab', (t) => {
  const m = new Memtable(64);
  const big = 'x'.repeat(200);
  const cases: Array<[string, string]> = [
    ['', 'empty key'],
    ['\u0000\u00ff', ''],
    ['k', big],
    ['\u00ff'.repeat(100), 'v'],
  ];
  cases.forEach(([k, value], i) => m.set(k, v(i + 1, value), i + 1));
  cases.forEach(([k, value], i) => t.deepEqual(m.get(k), { ...v(i + 1, value), seq: i + 1 }));
  cases.forEach(([k, value], i) =>
    t.deepEqual(m.getBytes(k), { value: Buffer.from(value, 'latin1'), ts: v(i + 1, value).ts, deleted: false }),
  );
  t.is(m.getBytes('missing'), undefined);
  cases.forEach(([k], i) => t.deepEqual(m.peekBytes(k), m.getBytes(k), `peekBytes ${i}`));
  t.is(m.peekBytes('missing'), undefined);
  t.deepEqual(keysOf(m, '', undefined, 10), ['', 'k', '\u0000\u00ff', '\u00ff'.repeat(100)].sort());
  m.delete('k');
  t.is(m.get('k'), undefined);
  t.is(m.arenaLiveBytes, 12 + 0 + 9 + (12 + 2 + 0) + (12 + 100 + 1));
});

const SLAB = 256;
const byKey = (a: [string, Stored], b: [string, Stored]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
const recordBytes = (k: string, value: string): number => 12 + k.length + value.length;

/** One step on a memtable: a delete, or a set of a record that mostly fits a slab four times over and now and then is larger than a slab. */
type MemtableOp = { key: string; probe: string } & ({ kind: 'delete' } | { kind: 'set'; value: string; ts: number; deleted: boolean });

const setOp = (value: fc.Arbitrary<string>): fc.Arbitrary<MemtableOp> =>
  fc.record({
    kind: fc.constant('set' as const),
    key: byteString(0, 6),
    probe: byteString(0, 6),
    value,
    ts: fc.integer({ min: 0, max: 2 ** 40 }),
    deleted: fc.boolean(),
  });

const memtableOp: fc.Arbitrary<MemtableOp> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: byteString(0, 6), probe: byteString(0, 6) }) },
  { weight: 77, arbitrary: setOp(byteString(0, SLAB / 4 - 12 - 6)) },
  { weight: 3, arbitrary: setOp(byteString(SLAB, 2 * SLAB)) },
);

/**
 * Random sets, overwrites and deletes on a tiny slab size (so slabs fill,
 * compact and recycle all the time), checked against a Map after every step.
 */
test('property: a memtable agrees with a Map, and holds at most its live bytes / ARENA_SLAB_LIVE_MIN plus a few slabs', (t) => {
  const property = fc.property(fc.array(memtableOp, { maxLength: 200, size: 'max' }), (ops) => {
    const m = new Memtable(SLAB);
    const model = new Map<string, Stored>();
    for (const [step, op] of ops.entries()) {
      if (op.kind === 'delete') {
        m.delete(op.key);
        model.delete(op.key);
      } else {
        const stored = { value: op.value, ts: op.ts, deleted: op.deleted, seq: step + 1 };
        m.set(op.key, stored, stored.seq);
        model.set(op.key, stored);
      }
      assert.deepEqual(m.get(op.probe), model.get(op.probe), `step ${step}: get of the probe`);
      assert.deepEqual(m.get(op.key), model.get(op.key), `step ${step}: get of the key written`);
      const bytes = m.getBytes(op.key);
      const want = model.get(op.key);
      assert.deepEqual(
        bytes && { ...bytes, value: bytes.value.toString('latin1') },
        want && { value: want.value, ts: want.ts, deleted: want.deleted },
        `step ${step}: getBytes`,
      );
      const peeked = m.peekBytes(op.probe);
      const wantProbe = model.get(op.probe);
      assert.deepEqual(
        peeked && { ...peeked, value: peeked.value.toString('latin1') },
        wantProbe && { value: wantProbe.value, ts: wantProbe.ts, deleted: wantProbe.deleted },
        `step ${step}: peekBytes of the probe`,
      );
    }
    assert.equal(m.size, model.size, 'size');
    assert.deepEqual(keysOf(m, '', undefined, model.size + 1), [...model.keys()].sort(), 'keys in order');
    assert.deepEqual([...m.entries()].sort(byKey), [...model].sort(byKey), 'entries');
    let live = 0;
    for (const [k, e] of model) live += recordBytes(k, e.value);
    assert.equal(m.arenaLiveBytes, live, 'live bytes');
    assert.ok(m.arenaBytes <= live / ARENA_SLAB_LIVE_MIN + (ARENA_SPARE_SLABS_MAX + 1) * SLAB, `held ${m.arenaBytes} for ${live} live`);
    for (const k of model.keys()) m.delete(k);
    assert.equal(m.size, 0, 'empty');
    assert.equal(m.arenaLiveBytes, 0, 'no live bytes');
    assert.ok(m.arenaBytes <= (ARENA_SPARE_SLABS_MAX + 1) * SLAB, `${m.arenaBytes} held once everything is freed`);
  });
  t.notThrows(() => fc.assert(property, fcParams(40)));
});

test('tombstonesBefore lists the tombstones older than a cutoff, with their log seqs', (t) => {
  const m = new Memtable();
  m.set('old-tomb', v(10, '', true), 1);
  m.set('new-tomb', v(30, '', true), 2);
  m.set('old-value', v(5), 3);
  m.set('gone', v(1, '', true), 4);
  m.delete('gone');
  m.set('revived', v(2, '', true), 5);
  m.set('revived', v(3), 6);
  t.deepEqual(m.tombstonesBefore(20), [{ key: 'old-tomb', seq: 1 }]);
  t.deepEqual(
    m
      .tombstonesBefore(31)
      .map((e) => e.key)
      .sort(),
    ['new-tomb', 'old-tomb'],
  );
  t.deepEqual(m.tombstonesBefore(10), []);
});

/** The keys of `keys` with hashes in [from, to), in hash order (ties in any order): what keysInHashRange should find. */
function inHashRange(keys: Iterable<string>, from: number, to: number): string[] {
  return [...keys].filter((k) => hashKey(k) >= from && hashKey(k) < to).sort((a, b) => hashKey(a) - hashKey(b) || (a < b ? -1 : 1));
}

/** keysInHashRange's answer, ties put in byte order so it compares with inHashRange. */
function hashRange(m: Memtable, from: number, to: number, max: number): { keys: string[]; end: number } {
  const r = m.keysInHashRange(from, to, max);
  return { keys: [...r.keys].sort((a, b) => hashKey(a) - hashKey(b) || (a < b ? -1 : 1)), end: r.end };
}

/** Keys hashed into the last few home positions, so that their run wraps past the index's end: 30 for each of up to 3 rounds. */
const topKeys: string[] = [];
for (let i = 0; topKeys.length < 90; i++) if (hashKey(`top-${i}`) >= HASH_SPACE - 2 ** 22) topKeys.push(`top-${i}`);

/**
 * A hash range to ask for: a small one anywhere, one around the top of the
 * space (runs wrap there), or the whole space; `max` a few keys, or none
 * (undefined: more than the memtable holds).
 */
const hashProbe = fc.record({
  range: fc.oneof(
    fc
      .record({ from: fc.integer({ min: 0, max: HASH_SPACE - 1 }), widthLog2: fc.integer({ min: 0, max: 32 }), width: fc.maxSafeNat() })
      .map(({ from, widthLog2, width }) => ({
        from,
        to: Math.min(HASH_SPACE, from + 1 + (width % 2 ** widthLog2)),
      })),
    fc.integer({ min: 1, max: 2 ** 24 }).map((below) => ({ from: HASH_SPACE - below, to: HASH_SPACE })),
    fc.constant({ from: 0, to: HASH_SPACE }),
  ),
  max: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined, freq: 2 }),
});

/**
 * A round: writes of random keys, each write deleting the oldest key instead
 * while the memtable holds more than `target` keys, half the time; then up to
 * 30 keys whose runs wrap; then probes, and a walk through the whole space in
 * pages of `pageMax`. Rounds of different targets take the index up and down
 * through several sizes, and many deletes exercise its backward shifts.
 */
const hashRound = fc.record({
  target: fc.integer({ min: 0, max: 3000 }),
  writes: fc.array(fc.tuple(byteString(0, 5), fc.boolean()), { maxLength: 2000, size: 'max' }),
  wrapping: fc.integer({ min: 0, max: 30 }),
  probes: fc.array(hashProbe, { maxLength: 40, size: 'max' }),
  pageMax: fc.integer({ min: 1, max: 500 }),
});

test('property: keysInHashRange finds exactly the keys of a hash range, cut at a hash boundary past max', (t) => {
  const property = fc.property(fc.array(hashRound, { minLength: 1, maxLength: 3 }), (rounds) => {
    const m = new Memtable();
    const model = new Set<string>();
    let seq = 0;
    for (const [round, { target, writes, wrapping, probes, pageMax }] of rounds.entries()) {
      for (const [key, deleteIfAbove] of writes) {
        if (model.size > target && deleteIfAbove) {
          const gone = model.values().next().value as string;
          m.delete(gone);
          model.delete(gone);
        } else {
          m.set(key, v(++seq), seq);
          model.add(key);
        }
      }
      for (const key of topKeys.slice(30 * round, 30 * round + wrapping)) {
        m.set(key, v(++seq), seq);
        model.add(key);
      }
      for (const { range, max: drawnMax } of probes) {
        const { from, to } = range;
        const max = drawnMax ?? model.size + 1;
        const want = inHashRange(model, from, to);
        const got = hashRange(m, from, to, max);
        const note = `round ${round}, [${from}, ${to}) max ${max}`;
        if (want.length <= max) {
          assert.deepEqual(got, { keys: want, end: to }, note);
        } else {
          assert.ok(got.end > from && got.end <= to, `${note}: cut at ${got.end}, inside the range`);
          assert.deepEqual(got.keys, inHashRange(model, from, got.end), `${note}: the keys before the cut`);
          // More than max only when they all share the range's first hash (taken whole rather than not at all).
          assert.ok(got.keys.length <= max || got.end === from + 1, `${note}: ${got.keys.length} keys`);
        }
      }
      // Paging through the whole space visits every key once.
      const seen: string[] = [];
      for (let from = 0; from < HASH_SPACE; ) {
        const page = m.keysInHashRange(from, HASH_SPACE, pageMax);
        seen.push(...page.keys);
        from = page.end;
      }
      assert.deepEqual(seen.sort(), [...model].sort(), `round ${round}: pages cover every key once`);
    }
  });
  t.notThrows(() => fc.assert(property, fcParams(8)));
});

test('keysInHashRange keeps keys sharing a hash together, even past max', (t) => {
  // Two keys with one hash: found by trying keys until a hash repeats (about 80,000 tries).
  const byHash = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; pair === undefined; i++) {
    const k = `c${i}`;
    const other = byHash.get(hashKey(k));
    if (other !== undefined) pair = [other, k];
    byHash.set(hashKey(k), k);
  }
  const h = hashKey(pair[0]);
  const m = new Memtable();
  for (const [i, k] of [...pair, 'x', 'y', 'z'].entries()) m.set(k, v(i + 1), i + 1);
  const got = m.keysInHashRange(h, HASH_SPACE, 1);
  t.deepEqual([...got.keys].sort(), [...pair].sort());
  t.is(got.end, h + 1);
  t.throws(() => m.keysInHashRange(5, 5, 10), { message: /non-empty/ });
});

test('tombstonesBefore also lists values that expired before the cutoff, and an expiry comes back from get and getBytes', (t) => {
  const m = new Memtable();
  m.set('expired', { ...v(1), expires: 15 }, 1);
  m.set('later', { ...v(1), expires: 40 }, 2);
  m.set('never', v(1), 3);
  t.deepEqual(m.tombstonesBefore(20), [{ key: 'expired', seq: 1 }]);
  t.deepEqual(m.get('later'), { ...v(1), expires: 40, seq: 2 });
  t.is(m.getBytes('later')!.expires, 40);
  t.false('expires' in m.get('never')!, 'no expiry field on a version without one');
  m.set('expired', v(50), 4);
  t.deepEqual(m.tombstonesBefore(20), [], 'a newer version without expiry replaced it');
});

test('expiries are kept from the first value with a TTL on, through the slot arrays growing, and a reused slot forgets its expiry', (t) => {
  const m = new Memtable();
  for (let i = 0; i < 3000; i++) m.set(`k${i}`, v(1), i + 1);
  m.set('k10', { ...v(2), expires: 30 }, 3001);
  for (let i = 3000; i < 10_000; i++) m.set(`k${i}`, v(1), i + 2);
  t.is(m.get('k10')!.expires, 30, 'the expiry survived the arrays doubling');
  t.false('expires' in m.get('k9999')!);
  m.delete('k10');
  m.set('fresh', v(3), 20_000);
  t.false('expires' in m.get('fresh')!, 'the freed slot it may reuse holds no expiry');
  t.deepEqual(m.tombstonesBefore(100), []);
});

test('property: isBeatenBy and replace judge a version as supersedes does against the one held, and replace says which row it replaced', (t) => {
  const version = fc.record({
    ts: fc.integer({ min: 1, max: 4 }),
    deleted: fc.boolean(),
    value: fc.constantFrom('', 'a', 'b', 'ab'),
    expires: fc.constantFrom(undefined, 5, 9),
  });
  const plain = (x: { ts: number; deleted: boolean; value: string; expires: number | undefined }) =>
    x.expires === undefined ? { ts: x.ts, deleted: x.deleted, value: x.value } : { ...x, expires: x.expires };
  fc.assert(
    fc.property(version, version, (heldArb, incomingArb) => {
      const held = plain(heldArb);
      const incoming = plain(incomingArb);
      const m = new Memtable();
      t.true(m.isBeatenBy('k', incoming), 'a key not held is beaten by any version');
      t.is(m.replace('k', held, 7), 0);
      t.is(m.isBeatenBy('k', incoming), supersedes(incoming, held));
      if (supersedes(incoming, held)) {
        t.is(m.replace('k', incoming, 8), 7);
        t.deepEqual(m.get('k'), { ...incoming, seq: 8 });
      } else t.throws(() => m.replace('k', incoming, 8), { message: /must beat/ });
    }),
    fcParams(300),
  );
});

test('a stored version keeps its seq whole at every size, and an expiry field only when it has one', (t) => {
  for (const seq of [1, 2 ** 30 - 1, 2 ** 30, 2 ** 31, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
    t.is(storedVersion('a', 5, false, seq, undefined).seq, seq);
    t.is(storedVersion('a', 5, false, seq, 9).seq, seq);
  }
  t.deepEqual(storedVersion('a', 5, true, 3, undefined), { value: 'a', ts: 5, deleted: true, seq: 3 });
  t.deepEqual(storedVersion('a', 5, false, 3, 0), { value: 'a', ts: 5, deleted: false, seq: 3 });
  t.deepEqual(storedVersion('a', 5, false, 3, 9), { value: 'a', ts: 5, deleted: false, seq: 3, expires: 9 });
  // Read back from the memtable, where seqs live in a Float64Array.
  const m = new Memtable();
  m.set('k', v(7), 2 ** 40 + 3);
  t.is(m.get('k')!.seq, 2 ** 40 + 3);
});
