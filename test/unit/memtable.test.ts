import test from 'ava';
import { Memtable } from '../../src/storage/memtable';

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
  t.false(m.has('a'));
  m.set('c', v(4), 4); // reuses a's slot
  t.deepEqual(m.get('b'), { ...v(2, '', true), seq: 2 }, 'other keys untouched');
  t.deepEqual([...m.entries()].map(([k, e]) => [k, e.seq]), [['b', 2], ['c', 4]]);
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

test('keysAfter pages through keys in byte order, and sees keys added between pages', (t) => {
  const m = new Memtable();
  for (const k of ['b', '\u00ff', 'a', '\u0000', 'ab', 'B']) m.set(k, v(1), 1);
  t.deepEqual(m.keysAfter(undefined, 3), ['\u0000', 'B', 'a']);
  t.deepEqual(m.keysAfter('a', 3), ['ab', 'b', '\u00ff']);
  t.deepEqual(m.keysAfter('aa', 1), ['ab'], 'after a key that is not there');
  m.set('c', v(2), 2);
  m.delete('b');
  t.deepEqual(m.keysAfter('ab', 10), ['c', '\u00ff']);
  t.deepEqual(m.keysAfter('\u00ff', 10), []);
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
