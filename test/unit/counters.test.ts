import test from 'ava';
import { CounterCollector } from '../../src/common/counters';
import { ProblemLog } from '../../src/common/problems';

test('a snapshot names every counter namespace.name and reads live values', (t) => {
  const c = new CounterCollector();
  const store = { rows: 1, commits: 2 };
  let keys = 5;
  c.add('store', store);
  c.add('memtable', () => ({ keys }));
  store.rows = 7;
  keys = 9;
  t.deepEqual(c.snapshot(), { 'store.rows': 7, 'store.commits': 2, 'memtable.keys': 9 });
});

test('two parts with the same counter name do not shadow each other', (t) => {
  const c = new CounterCollector();
  c.add('hints', { errors: 1 });
  c.add('antiEntropy', { errors: 2 });
  t.deepEqual(c.snapshot(), { 'hints.errors': 1, 'antiEntropy.errors': 2 });
});

test('a namespace is taken once and must be a lowerCamel word', (t) => {
  const c = new CounterCollector();
  c.add('store', { rows: 0 });
  t.throws(() => c.add('store', { other: 0 }), { message: /registered twice/ });
  t.throws(() => c.add('my.store', { rows: 0 }), { message: /lowerCamel/ });
  t.throws(() => c.add('', { rows: 0 }), { message: /lowerCamel/ });
});

test('a problem is counted every time and logged once per interval with the count since', (t) => {
  const lines: string[] = [];
  let now = 1_000;
  const p = new ProblemLog(
    (l) => lines.push(l),
    60_000,
    () => now,
  );
  p.report('tombstonePurge', new Error('SQLITE_FULL: database or disk is full'));
  t.deepEqual(lines, ['tombstonePurge failed: SQLITE_FULL: database or disk is full']);
  now += 10_000;
  p.report('tombstonePurge', new Error('SQLITE_FULL: database or disk is full'));
  p.report('hintExpiry', 'disk I/O error');
  now += 49_999;
  p.report('tombstonePurge', new Error('SQLITE_FULL: database or disk is full'));
  t.is(lines.length, 2, 'the second purge failure waits for the interval; another kind logs at once');
  t.is(lines[1], 'hintExpiry failed: disk I/O error');
  now += 1;
  p.report('tombstonePurge', new Error('SQLITE_FULL again'));
  t.is(lines[2], 'tombstonePurge failed (3 failures since the last report): SQLITE_FULL again');
  t.deepEqual(p.counts, { tombstonePurge: 4, hintExpiry: 1 });
});
