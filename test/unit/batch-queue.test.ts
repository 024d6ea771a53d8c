import test from 'ava';
import { BatchQueue } from '../../src/rpc/remote-replica';

/** A queue whose calls answer each item with `item * 10`, recording each call's items. */
function queue() {
  const calls: number[][] = [];
  const q = new BatchQueue<number>('reads', (items) => {
    calls.push(items);
    return Promise.resolve(items.map((n) => n * 10));
  });
  return { q, calls };
}

test('requests of one turn share a call; push gets its list of results, pushOne its result alone', async (t) => {
  const { q, calls } = queue();
  const results = await Promise.all([q.push([1, 2], 2), q.pushOne(3, 1), q.push([4], 1), q.pushOne(5, 1)]);
  t.deepEqual(results, [[10, 20], 30, [40], 50]);
  t.deepEqual(calls, [[1, 2, 3, 4, 5]]);
  t.deepEqual(q.stats, { calls: 1, items: 5 });
});

test('a failed call rejects every request in it', async (t) => {
  const q = new BatchQueue<number>('reads', () => Promise.reject(new Error('peer gone')));
  const [a, b] = await Promise.allSettled([q.push([1], 1), q.pushOne(2, 1)]);
  t.is(a.status, 'rejected');
  t.is(b.status, 'rejected');
});

test('a call that returns nothing resolves every request with undefined', async (t) => {
  const q = new BatchQueue<number>('writes', () => Promise.resolve());
  t.deepEqual(await Promise.all([q.push([1, 2], 2), q.pushOne(3, 1)]), [undefined, undefined]);
});

test('a call that answers a different number of results than items fails every request in it', async (t) => {
  const q = new BatchQueue<number>('reads', (items) => Promise.resolve(items.slice(1)));
  const settled = await Promise.allSettled([q.push([1, 2], 2), q.pushOne(3, 1)]);
  for (const r of settled) {
    t.is(r.status, 'rejected');
    if (r.status === 'rejected') t.regex((r.reason as Error).message, /answered 2 results for 3 reads/);
  }
});
