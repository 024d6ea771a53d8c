import test from 'ava';
import { ARENA_SLAB_LIVE_MIN, ARENA_SPARE_SLABS_MAX } from '../../src/common/limits';
import { HASH_SPACE, hashKey, Memtable, Stored } from '../../src/storage/memtable';
import { Gen, seedNote, testSeed } from './prng';

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

test('keysBetween pages through keys in byte order, and sees keys added between pages', (t) => {
  const m = new Memtable();
  for (const k of ['b', '\u00ff', 'a', '\u0000', 'ab', 'B']) m.set(k, v(1), 1);
  t.deepEqual(m.keysBetween(undefined, undefined, 3), ['\u0000', 'B', 'a']);
  t.deepEqual(m.keysBetween('a', undefined, 3), ['ab', 'b', '\u00ff']);
  t.deepEqual(m.keysBetween('aa', undefined, 1), ['ab'], 'after a key that is not there');
  m.set('c', v(2), 2);
  m.delete('b');
  t.deepEqual(m.keysBetween('ab', undefined, 10), ['c', '\u00ff']);
  t.deepEqual(m.keysBetween('\u00ff', undefined, 10), []);
});

test('keysBetween bounds both ends, and may answer from a list sorted a while ago when asked to', (t) => {
  const m = new Memtable();
  for (const k of ['a', 'b', 'c', 'd']) m.set(k, v(1), 1);
  t.deepEqual(m.keysBetween('a', 'c', 10, 0, 1000), ['b', 'c']);
  t.deepEqual(m.keysBetween(undefined, 'b', 10, 0, 1000), ['a', 'b']);
  m.set('bb', v(1), 2);
  t.deepEqual(m.keysBetween('a', 'c', 10, 5000, 2000), ['b', 'c'], 'a stale list is fine within 5 s');
  t.deepEqual(m.keysBetween('a', 'c', 10, 5000, 7000), ['b', 'bb', 'c'], 'and is rebuilt after');
  m.set('ba', v(1), 3);
  t.deepEqual(m.keysBetween('a', 'c', 10, 0, 7001), ['b', 'ba', 'bb', 'c'], 'no staleness allowed: always fresh');
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
  t.deepEqual(m.keysBetween(undefined, undefined, 10), ['', 'k', '\u0000\u00ff', '\u00ff'.repeat(100)].sort());
  m.delete('k');
  t.is(m.get('k'), undefined);
  t.is(m.arenaLiveBytes, 12 + 0 + 9 + (12 + 2 + 0) + (12 + 100 + 1));
});

const SLAB = 256;
const byKey = (a: [string, Stored], b: [string, Stored]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
const recordBytes = (k: string, value: string): number => 12 + k.length + value.length;

/**
 * Random sets, overwrites and deletes on a tiny slab size (so slabs fill,
 * compact and recycle all the time), checked against a Map after every step.
 */
test('property: a memtable agrees with a Map, and holds at most its live bytes / ARENA_SLAB_LIVE_MIN plus a few slabs', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  const m = new Memtable(SLAB);
  const model = new Map<string, Stored>();
  let seq = 0;
  for (let step = 0; step < 4000; step++) {
    const key = g.bytes(0, 6);
    const r = g.rand();
    if (r < 0.2) {
      m.delete(key);
      model.delete(key);
    } else {
      // Mostly records that fit a slab four times over; a few larger than a slab.
      const value = r < 0.23 ? g.bytes(SLAB, 2 * SLAB) : g.bytes(0, SLAB / 4 - 12 - 6);
      const stored = { value, ts: g.int(0, 2 ** 40), deleted: g.bool(0.1), seq: ++seq };
      m.set(key, stored, stored.seq);
      model.set(key, stored);
    }
    const probe = g.bytes(0, 6);
    t.deepEqual(m.get(probe), model.get(probe), `${seedNote(seed)}: step ${step}: get`);
    t.deepEqual(m.get(key), model.get(key), `${seedNote(seed)}: step ${step}: get of the key written`);
    const bytes = m.getBytes(key);
    const want = model.get(key);
    t.deepEqual(
      bytes && { ...bytes, value: bytes.value.toString('latin1') },
      want && { value: want.value, ts: want.ts, deleted: want.deleted },
      `${seedNote(seed)}: step ${step}: getBytes`,
    );
  }
  t.is(m.size, model.size, `${seedNote(seed)}: size`);
  const sortedModel = [...model.keys()].sort();
  t.deepEqual(m.keysBetween(undefined, undefined, model.size + 1), sortedModel, `${seedNote(seed)}: keys in order`);
  t.deepEqual([...m.entries()].sort(byKey), [...model].sort(byKey), `${seedNote(seed)}: entries`);
  let live = 0;
  for (const [k, e] of model) live += recordBytes(k, e.value);
  t.is(m.arenaLiveBytes, live, `${seedNote(seed)}: live bytes`);
  t.true(
    m.arenaBytes <= live / ARENA_SLAB_LIVE_MIN + (ARENA_SPARE_SLABS_MAX + 1) * SLAB,
    `${seedNote(seed)}: held ${m.arenaBytes} for ${live} live`,
  );
  for (const k of model.keys()) m.delete(k);
  t.is(m.size, 0);
  t.is(m.arenaLiveBytes, 0);
  t.true(m.arenaBytes <= (ARENA_SPARE_SLABS_MAX + 1) * SLAB, `${seedNote(seed)}: everything freed`);
});

// Serial: it counts event-loop turns, which the synchronous tests of this file would hold up if they ran meanwhile.
test.serial('refreshSortedKeys sorts in slices, lets other work run meanwhile, and shares one sort between callers', async (t) => {
  const m = new Memtable();
  const n = 120_000; // more slots than one slice copies
  const key = (i: number): string => `k${String((i * 7919) % n).padStart(6, '0')}`;
  for (let i = 0; i < n; i++) m.set(key(i), v(1), i + 1);
  let turns = 0;
  let ticking = true;
  const tick = (): void => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const sortsBefore = m.sorts;
  const first = m.refreshSortedKeys(5000, 1000);
  const second = m.refreshSortedKeys(5000, 1000);
  // The sort works on the keys there were when it began; the arena keeps their
  // records where they are until it ends, whatever is overwritten or deleted.
  m.set('kz-added-while-sorting', v(1), n + 1);
  m.delete(key(0));
  for (let i = 1; i <= 1000; i++) m.set(key(i), v(2, 'x'.repeat(50)), n + 1 + i);
  await Promise.all([first, second]);
  t.is(m.sorts, sortsBefore + 1, 'two callers allowing staleness share one sort');
  ticking = false;
  t.true(turns >= 2, `the event loop turned ${turns} times during the sort`);
  const listed = m.keysBetween(undefined, undefined, n + 10, Number.POSITIVE_INFINITY);
  t.is(listed.length, n);
  t.deepEqual(listed, [...listed].sort());
  t.true(listed.includes(key(0)), 'a stale list may hold a deleted key');
  t.false(listed.includes('kz-added-while-sorting'), 'and miss a new one');
  t.deepEqual(m.get(key(1)), { ...v(2, 'x'.repeat(50)), seq: n + 2 }, 'overwrites during the sort are kept');
  // Frees held back during the sort were made after it: live bytes are exactly the current records'.
  const record = (k: string, value: string): number => 12 + k.length + value.length;
  t.is(
    m.arenaLiveBytes,
    (n - 1 - 1000) * record(key(0), 'v1') + 1000 * record(key(0), 'x'.repeat(50)) + record('kz-added-while-sorting', 'v1'),
  );
  const fresh = m.keysBetween(undefined, undefined, n + 10, 0);
  t.is(fresh.length, n, 'a caller allowing no staleness gets a fresh list');
  t.false(fresh.includes(key(0)));
  const sorts = m.sorts;
  await m.refreshSortedKeys(0);
  t.is(m.sorts, sorts, 'nothing changed since: no new sort');
  t.deepEqual(m.keysBetween(undefined, undefined, n + 10, Number.POSITIVE_INFINITY), fresh);
});

test('refreshSortedKeys allowing no staleness waits for a sort begun after it was called', async (t) => {
  const m = new Memtable();
  for (let i = 0; i < 100_000; i++) m.set(`k${String(i).padStart(6, '0')}`, v(1), i + 1);
  const running = m.refreshSortedKeys(0);
  m.set('late', v(1), 100_001); // written while that sort runs
  const sorts = m.sorts;
  await Promise.all([running, m.refreshSortedKeys(0)]);
  t.is(m.sorts, sorts + 2, 'the running sort, then one that sees the late key');
  t.true(m.keysBetween('k099999', undefined, 5, Number.POSITIVE_INFINITY).includes('late'));
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

test('property: keysInHashRange finds exactly the keys of a hash range, cut at a hash boundary past max', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  const m = new Memtable();
  const model = new Set<string>();
  // Up and down through several index sizes; many deletes exercise the index's backward shifts.
  for (let round = 0; round < 6; round++) {
    const target = g.int(0, 5000);
    for (let step = 0; step < 3000; step++) {
      const key = g.bytes(0, 5);
      if (model.size > target && g.bool(0.7)) {
        const gone = model.values().next().value as string;
        m.delete(gone);
        model.delete(gone);
      } else {
        m.set(key, v(step + 1), step + 1);
        model.add(key);
      }
    }
    // Keys hashed into the last few home positions, so that their run wraps past the index's end.
    for (let i = 0, added = 0; added < 30; i++) {
      const key = `top${round}-${i}`;
      if (hashKey(key) < HASH_SPACE - 2 ** 22) continue;
      m.set(key, v(i + 1), i + 1);
      model.add(key);
      added++;
    }
    for (let probe = 0; probe < 40; probe++) {
      // Small ranges, ranges around the top of the space (runs wrap there), and the whole space.
      const kind = g.int(0, 2);
      const from = kind === 2 ? 0 : kind === 1 ? HASH_SPACE - g.int(1, 2 ** 24) : g.int(0, HASH_SPACE - 1);
      const to = kind === 2 ? HASH_SPACE : Math.min(HASH_SPACE, from + g.int(1, 2 ** g.int(0, 32)));
      const max = g.bool(0.5) ? model.size + 1 : g.int(1, 50);
      const want = inHashRange(model, from, to);
      const got = hashRange(m, from, to, max);
      const note = `${seedNote(seed)}: round ${round}, [${from}, ${to}) max ${max}`;
      if (want.length <= max) {
        t.deepEqual(got, { keys: want, end: to }, note);
      } else {
        t.true(got.end > from && got.end < to, `${note}: cut inside the range`);
        t.deepEqual(got.keys, inHashRange(model, from, got.end), `${note}: the keys before the cut`);
        t.true(got.keys.length <= max, `${note}: at most max (no shared hashes among random keys this few)`);
      }
    }
    // Paging through the whole space visits every key once.
    const seen: string[] = [];
    for (let from = 0; from < HASH_SPACE; ) {
      const page = m.keysInHashRange(from, HASH_SPACE, g.int(1, 500));
      seen.push(...page.keys);
      from = page.end;
    }
    t.deepEqual(seen.sort(), [...model].sort(), `${seedNote(seed)}: round ${round}: pages cover every key once`);
  }
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
