import test from 'ava';
import { KvError } from '../../src/common/errors';
import { BACKLOG_ERROR, errorType, Runner } from '../../src/bench/runner';

/** An operation that tracks how many are in flight and which seqs it saw. */
function tracker(): { op: (seq: number) => Promise<void>; seqs: number[]; maxInFlight: () => number } {
  let inFlight = 0;
  let max = 0;
  const seqs: number[] = [];
  return {
    seqs,
    maxInFlight: () => max,
    op: async (seq) => {
      seqs.push(seq);
      inFlight++;
      max = Math.max(max, inFlight);
      await Promise.resolve();
      inFlight--;
    },
  };
}

/** A clock that reads `first` once (the start of the run), then `later` forever. */
function jumpingClock(first: number, later: number): () => number {
  let calls = 0;
  return () => (calls++ === 0 ? first : later);
}

test('closed loop: exactly --ops operations, each seq once, never more than concurrency in flight', async (t) => {
  const tr = tracker();
  const r = await new Runner(tr.op, { concurrency: 4, ops: 100 }).run();
  t.is(r.ops, 100);
  t.is(r.successes, 100);
  t.deepEqual(r.errors, {});
  t.is(r.latency.count, 100);
  t.deepEqual(
    [...tr.seqs].sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i),
  );
  t.is(tr.maxInFlight(), 4);
});

test('closed loop: failures are counted by type and never stop the run', async (t) => {
  const op = async (seq: number): Promise<void> => {
    if (seq % 10 === 1) throw new KvError('TimedOut', 'slow');
    if (seq % 10 === 2) throw new KvError('Unavailable', 'down');
    if (seq % 10 === 3) throw new TypeError('bug');
    if (seq % 10 === 4) throw 'a string';
  };
  const r = await new Runner(op, { concurrency: 3, ops: 50 }).run();
  t.is(r.ops, 50);
  t.is(r.successes, 30);
  t.deepEqual(r.errors, { TimedOut: 5, Unavailable: 5, TypeError: 5, Error: 5 });
  t.is(r.latency.count, 30, 'latencies are of successful operations');
});

test('closed loop: --duration ends the run', async (t) => {
  let clock = 0;
  const now = (): number => (clock += 1);
  const r = await new Runner(async () => undefined, { concurrency: 2, durationMs: 50, now }).run();
  t.true(r.ops > 0 && r.ops <= 50);
  t.is(r.successes, r.ops);
});

test('open loop: operations due while all slots are busy are counted as Backlog, not sent', async (t) => {
  const tr = tracker();
  // Every one of the 10 operations is due at the first tick; only 2 slots.
  const r = await new Runner(tr.op, { concurrency: 2, ops: 10, rate: 1000, now: jumpingClock(0, 1e9) }).run();
  t.is(r.ops, 10);
  t.is(r.successes, 2);
  t.deepEqual(r.errors, { [BACKLOG_ERROR]: 8 });
  t.deepEqual(tr.seqs, [0, 1]);
});

test('open loop: latency is measured from the intended start (no coordinated omission)', async (t) => {
  // 1000 ops/s: op k is due at k ms. The process "stalls" until 100 ms, then sends all five.
  const r = await new Runner(async () => undefined, { concurrency: 5, ops: 5, rate: 1000, now: jumpingClock(0, 100) }).run();
  t.is(r.successes, 5);
  t.true(Math.abs(r.latency.max - 100) < 1e-9);
  t.true(Math.abs(r.latency.min - 96) < 1e-9);
});

test('open loop: --duration bounds the operations to rate x duration', async (t) => {
  const r = await new Runner(async () => undefined, { concurrency: 1000, durationMs: 3000, rate: 2000, now: jumpingClock(0, 1e9) }).run();
  t.is(r.ops, 6000);
});

test('an abort stops issuing; operations in flight still finish', async (t) => {
  const stop = new AbortController();
  const op = async (seq: number): Promise<void> => {
    if (seq === 10) stop.abort();
  };
  const r = await new Runner(op, { concurrency: 2, ops: 1_000_000, signal: stop.signal }).run();
  t.true(r.aborted);
  t.true(r.ops >= 11 && r.ops <= 12, `ops ${r.ops}`);
});

test('an abort wakes a sleeping open-loop scheduler at once', async (t) => {
  const stop = new AbortController();
  // One op per 100 s: without the wake-up this would sleep for 100 s.
  const op = async (): Promise<void> => {
    stop.abort();
  };
  const r = await new Runner(op, { concurrency: 1, ops: 10, rate: 0.01, signal: stop.signal }).run();
  t.true(r.aborted);
  t.is(r.ops, 1);
});

test('errorType names KvError codes, then error names', (t) => {
  t.is(errorType(new KvError('ConnectionError', 'x')), 'ConnectionError');
  t.is(errorType(new RangeError('x')), 'RangeError');
  t.is(errorType(42), 'Error');
});

test('the runner rejects impossible settings', (t) => {
  const op = async (): Promise<void> => undefined;
  t.throws(() => new Runner(op, { concurrency: 0, ops: 1 }), { instanceOf: RangeError });
  t.throws(() => new Runner(op, { concurrency: 1 }), { instanceOf: RangeError });
  t.throws(() => new Runner(op, { concurrency: 1, ops: 1, rate: 0 }), { instanceOf: RangeError });
});
