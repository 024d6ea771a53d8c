import test from 'ava';
import { CounterCollector } from '../../src/common/counters';

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
