import test from 'ava';
import fc from 'fast-check';
import { systemTime, type Time, type Timer } from '../../src/clock/time';
import { IDLE_GC_BUSY_SHARE_MAX, IDLE_GC_CHECK_MS, IDLE_GC_GARBAGE_BYTES_MIN } from '../../src/common/limits';
import { collectionDue, type HeapProbe, IdleCollector, nextBaseline } from '../../src/node/idle-collection';
import { fcParams } from './fc-params';

const MB = 1024 * 1024;
const MIN = IDLE_GC_GARBAGE_BYTES_MIN;
const QUIET = IDLE_GC_BUSY_SHARE_MAX;

test('a collection is due only when the loop was quiet and the heap holds enough garbage', (t) => {
  const rows: Array<[used: number, busy: number, baseline: number, due: boolean]> = [
    [20 * MB + MIN, 0, 20 * MB, true],
    [20 * MB + MIN, QUIET, 20 * MB, true],
    [20 * MB + MIN - 1, 0, 20 * MB, false],
    [20 * MB + MIN, QUIET + 0.01, 20 * MB, false],
    [60 * MB, 0.9, 20 * MB, false],
    [60 * MB, 0.02, 20 * MB, true],
    [10 * MB, 0, 20 * MB, false],
  ];
  for (const [heapUsedBytes, busyShare, baseline, due] of rows) {
    t.is(collectionDue({ heapUsedBytes, busyShare }, baseline), due, JSON.stringify({ heapUsedBytes, busyShare, baseline }));
  }
});

test('the baseline follows the heap down when V8 collected by itself, never up', (t) => {
  t.is(nextBaseline(20 * MB, 15 * MB), 15 * MB);
  t.is(nextBaseline(20 * MB, 25 * MB), 20 * MB);
});

/** A heap whose use and loop load the test sets; a collection leaves `live` bytes. */
class FakeHeap implements HeapProbe {
  used = 20 * MB;
  live = 20 * MB;
  busy = 0;
  collections = 0;
  heapUsedBytes(): number {
    return this.used;
  }
  busyShare(): number {
    return this.busy;
  }
  collect(): void {
    this.collections++;
    this.used = this.live;
  }
}

test('a burst is collected once the node turns quiet, and only once', (t) => {
  const heap = new FakeHeap();
  const c = new IdleCollector(systemTime, heap);
  // The burst: the loop is busy and the heap fills with garbage; nothing is collected by hand.
  heap.busy = 0.8;
  for (let i = 0; i < 5; i++) {
    heap.used += 10 * MB;
    c.check();
  }
  t.is(heap.collections, 0);
  // Quiet: one collection, down to what is live.
  heap.busy = 0.01;
  c.check();
  t.is(heap.collections, 1);
  t.is(heap.used, heap.live);
  t.deepEqual(c.counters, { idleCollections: 1, idleCollectedBytes: 50 * MB });
  // Still quiet, a little garbage since: not worth another.
  heap.used += MIN - 1;
  c.check();
  t.is(heap.collections, 1);
  // More live data and garbage later: collected again, from the new baseline.
  heap.live += 5 * MB;
  heap.used = heap.live + MIN;
  c.check();
  t.is(heap.collections, 2);
});

test('the collector checks on its timer until cancelled', (t) => {
  let tick: (() => void) | undefined;
  let interval = 0;
  let cancelled = false;
  const time: Time = {
    ...systemTime,
    every(ms: number, fn: () => void): Timer {
      interval = ms;
      tick = fn;
      return { cancel: () => (cancelled = true) };
    },
  };
  const heap = new FakeHeap();
  const c = new IdleCollector(time, heap);
  const timer = c.start();
  t.is(interval, IDLE_GC_CHECK_MS);
  heap.used += MIN;
  tick!();
  t.is(heap.collections, 1);
  timer.cancel();
  t.true(cancelled);
});

test('property: the collector collects exactly when a naive replay of the rule says so', (t) => {
  const step = fc.record({ grow: fc.integer({ min: -4 * MB, max: 12 * MB }), busy: fc.double({ min: 0, max: 1, noNaN: true }) });
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const heap = new FakeHeap();
      const c = new IdleCollector(systemTime, heap);
      // Naive reference: the lowest heap in use seen since the last collection (or the start).
      let low = heap.used;
      let expected = 0;
      for (const s of steps) {
        heap.used = Math.max(heap.live, heap.used + s.grow);
        heap.busy = s.busy;
        const due = s.busy <= QUIET && heap.used - low >= MIN;
        c.check();
        if (due) {
          expected++;
          low = heap.live;
        } else low = Math.min(low, heap.used);
        if (heap.collections !== expected) return false;
      }
      return true;
    }),
    fcParams(500),
  );
  t.pass();
});
