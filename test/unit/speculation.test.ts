import test from 'ava';
import fc from 'fast-check';
import { HybridClock } from '../../src/clock/hlc';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Coordinator } from '../../src/coordinator/coordinator';
import { Replica } from '../../src/coordinator/replica';
import { formatSpeculativeRetry, parseSpeculativeRetry, SpeculativeRetry } from '../../src/config/speculative-retry';
import { bucketEndMs, bucketOf, SpeculationDelay } from '../../src/coordinator/speculation';
import { SPECULATION_UNMEASURED_DELAY_MS, SPECULATION_WINDOW_MS, SPECULATION_WINDOW_SAMPLES_MIN } from '../../src/common/limits';
import { isKvError } from '../../src/common/errors';
import { bootstrapPlacement } from '../../src/membership/placement';
import { Owner, Scheduler } from '../../src/sim/scheduler';
import { Version } from '../../src/storage/version';

const parsed: Array<[string, SpeculativeRetry | undefined]> = [
  ['99p', { kind: 'percentile', percentile: 99 }],
  ['99.9P', { kind: 'percentile', percentile: 99.9 }],
  [' 50p ', { kind: 'percentile', percentile: 50 }],
  ['20ms', { kind: 'fixed', ms: 20 }],
  ['2.5MS', { kind: 'fixed', ms: 2.5 }],
  ['NONE', { kind: 'none' }],
  ['none', { kind: 'none' }],
  ['Always', { kind: 'always' }],
  ['100p', undefined],
  ['0p', undefined],
  ['0ms', undefined],
  ['-5ms', undefined],
  ['99', undefined],
  ['99percentile', undefined],
  ['p99', undefined],
  ['', undefined],
  ['20 ms', undefined],
];
for (const [text, want] of parsed) {
  test(`parseSpeculativeRetry(${JSON.stringify(text)})`, (t) => {
    t.deepEqual(parseSpeculativeRetry(text), want);
    if (want !== undefined) t.deepEqual(parseSpeculativeRetry(formatSpeculativeRetry(want)), want, 'its format reads back');
  });
}

test('a latency lies within its bucket, whose end is at most 10% above it (above the first bucket)', (t) => {
  fc.assert(
    fc.property(fc.double({ min: 0.051, max: 100_000, noNaN: true }), (ms) => {
      const end = bucketEndMs(bucketOf(ms));
      return ms <= end * (1 + 1e-12) && end <= ms * 1.1 * (1 + 1e-12);
    }),
  );
  t.is(bucketOf(0), 0);
  t.is(bucketOf(0.05), 0);
});

/** A delay over a clock the test moves; `samples` recorded in order, the clock moved `stepMs` after each. */
function measured(policy: SpeculativeRetry, samples: readonly number[], stepMs: number, timeoutMs = 2000) {
  let now = 0;
  const delay = new SpeculationDelay(policy, timeoutMs, () => now);
  for (const ms of samples) {
    now += stepMs;
    delay.record(ms);
  }
  return delay;
}

test('the policies wait as they say: NONE never, ALWAYS not at all, a fixed wait its ms', (t) => {
  t.is(measured({ kind: 'none' }, [], 1).delayMs, Number.POSITIVE_INFINITY);
  t.is(measured({ kind: 'always' }, [], 1).delayMs, 0);
  t.is(measured({ kind: 'fixed', ms: 20 }, Array(500).fill(300), 10).delayMs, 20, 'a fixed wait does not follow the latencies');
  t.false(measured({ kind: 'fixed', ms: 20 }, [], 1).measures);
});

test('a percentile waits the unmeasured delay until a window has both its samples and its time', (t) => {
  const p99: SpeculativeRetry = { kind: 'percentile', percentile: 99 };
  t.is(measured(p99, [], 1).delayMs, SPECULATION_UNMEASURED_DELAY_MS);
  const fewOverLongTime = measured(p99, Array(SPECULATION_WINDOW_SAMPLES_MIN - 1).fill(5), SPECULATION_WINDOW_MS);
  t.is(fewOverLongTime.delayMs, SPECULATION_UNMEASURED_DELAY_MS, 'too few answers');
  const manyAtOnce = measured(p99, Array(10 * SPECULATION_WINDOW_SAMPLES_MIN).fill(5), 0);
  t.is(manyAtOnce.delayMs, SPECULATION_UNMEASURED_DELAY_MS, 'too short a window');
  const enough = measured(p99, Array(SPECULATION_WINDOW_SAMPLES_MIN).fill(5), SPECULATION_WINDOW_MS / SPECULATION_WINDOW_SAMPLES_MIN);
  t.true(enough.delayMs >= 5 && enough.delayMs <= 5.5, `${enough.delayMs}`);
});

test("a window's percentile is the least latency at or above that share of its answers, within 10%, clamped to [1 ms, half the timeout]", (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0.01, max: 5000, noNaN: true }), {
        minLength: SPECULATION_WINDOW_SAMPLES_MIN,
        // Fewer than two windows' worth: the first window, closed at its last sample, is the one in force.
        maxLength: 2 * SPECULATION_WINDOW_SAMPLES_MIN - 1,
      }),
      fc.constantFrom(50, 90, 99, 99.9),
      (samples, percentile) => {
        const delay = measured({ kind: 'percentile', percentile }, samples, SPECULATION_WINDOW_MS);
        const window = samples.slice(0, SPECULATION_WINDOW_SAMPLES_MIN).sort((a, b) => a - b);
        const exact = window[Math.ceil((percentile / 100) * window.length) - 1]!;
        const clamp = (ms: number): number => Math.min(Math.max(ms, 1), 1000);
        const got = delay.delayMs;
        return got >= clamp(exact) && got <= clamp(Math.max(exact, 0.05) * 1.1 * (1 + 1e-12));
      },
    ),
  );
  t.pass();
});

// The read round under speculation, on virtual time: four nodes, replication factor 3.
const placement = bootstrapPlacement(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
const stored: Version = { value: 'v', ts: 1000, deleted: false };
const TIMEOUT_MS = 1000;

/**
 * Node 1 coordinating reads of key 'A' (replicas 0, 1, 2): a QUORUM read
 * asks itself, then node 2, then node 0. `answerMs` per node: when it
 * answers (Infinity: never, as a paused node; a rejection is a failure).
 */
function cluster(policy: SpeculativeRetry, answerMs: Record<number, number | 'fails'>, timersEarly = false) {
  const scheduler = new Scheduler();
  const exact = scheduler.timeFor(new Owner('node 1'));
  // Node's timers count from the turn's cached time, so under load they can end early: here, at half their wait.
  const time = timersEarly ? { ...exact, after: (ms: number, fn: () => void) => exact.after(ms / 2, fn) } : exact;
  const asked: number[] = [];
  const replicas = new Map<number, Replica>();
  for (const id of [0, 2, 3]) {
    replicas.set(id, {
      id,
      apply: () => Promise.resolve(),
      read: () => {
        asked.push(id);
        const at = answerMs[id] ?? 1;
        if (at === 'fails') return Promise.reject(new Error(`node ${id} failed`));
        return new Promise((resolve) => {
          if (Number.isFinite(at)) exact.after(at, () => resolve(stored));
        });
      },
    });
  }
  const coordinator = new Coordinator({
    selfId: 1,
    placement: () => placement,
    replicas,
    isUp: () => true,
    hints: { add: () => Promise.resolve(true) },
    clock: new HybridClock(() => 2000),
    timeoutMs: TIMEOUT_MS,
    readLocal: () => (asked.push(1), stored),
    time,
    speculativeRetry: policy,
  });
  /** One read, run on virtual time until it settles: its outcome and how long it took. */
  const read = async (level: 'QUORUM' | 'ALL' = 'QUORUM') => {
    const started = scheduler.nowMs;
    const outcome = coordinator.read('A', level).then(
      (v) => ({ value: v, error: undefined }),
      (error: unknown) => ({ value: undefined, error }),
    );
    await scheduler.runWhile(outcome, 10 * TIMEOUT_MS);
    return { ...(await outcome), tookMs: scheduler.nowMs - started };
  };
  const idle = (ms: number) => scheduler.runUntil(scheduler.nowMs + ms);
  return { read, idle, asked, coordinator };
}

test('a QUORUM read whose second replica never answers asks the third after the wait, and is answered', async (t) => {
  const { read, asked, coordinator } = cluster({ kind: 'fixed', ms: 50 }, { 2: Number.POSITIVE_INFINITY, 0: 5 });
  const r = await read();
  t.deepEqual(r.value, stored);
  t.is(r.tookMs, 55, 'the wait, then the third replica’s answer');
  t.deepEqual(asked, [1, 2, 0]);
  t.is(coordinator.counters.speculativeReads, 1);
  t.is(coordinator.counters.timeouts, 0);
});

test('under NONE the same read waits for the silent replica until its timeout', async (t) => {
  const { read, asked, coordinator } = cluster({ kind: 'none' }, { 2: Number.POSITIVE_INFINITY, 0: 5 });
  const r = await read();
  t.true(isKvError(r.error, 'TimedOut'), String(r.error));
  t.deepEqual(asked, [1, 2]);
  t.is(coordinator.counters.speculativeReads, 0);
});

test('a replica answering within the wait costs no extra ask', async (t) => {
  const { read, asked, coordinator } = cluster({ kind: 'fixed', ms: 50 }, { 2: 49, 0: 1 });
  t.deepEqual((await read()).value, stored);
  t.deepEqual(asked, [1, 2]);
  t.is(coordinator.counters.speculativeReads, 0);
});

test('ALWAYS asks the extra replica with the others, and the first answers the level needs settle the read', async (t) => {
  const { read, asked, coordinator } = cluster({ kind: 'always' }, { 2: 30, 0: 10 });
  const r = await read();
  t.deepEqual(r.value, stored);
  t.is(r.tookMs, 10);
  t.deepEqual(asked, [1, 2, 0]);
  t.is(coordinator.counters.speculativeReads, 1);
});

test('an ALL read has no replica left to ask: it waits for all three as before', async (t) => {
  const { read, asked, coordinator } = cluster({ kind: 'always' }, { 2: Number.POSITIVE_INFINITY, 0: 5 });
  const r = await read('ALL');
  t.true(isKvError(r.error, 'TimedOut'), String(r.error));
  t.deepEqual(asked.sort(), [0, 1, 2]);
  t.is(coordinator.counters.speculativeReads, 0);
});

test('a read asks at most one replica by speculation, and still times out when both it and the slow one stay silent', async (t) => {
  const { read, asked, coordinator } = cluster({ kind: 'fixed', ms: 50 }, { 2: Number.POSITIVE_INFINITY, 0: Number.POSITIVE_INFINITY });
  const r = await read();
  t.true(isKvError(r.error, 'TimedOut'), String(r.error));
  t.is(r.tookMs, TIMEOUT_MS, 'the timeout counts from the start of the read, not from the speculative ask');
  t.deepEqual(asked, [1, 2, 0]);
  t.is(coordinator.counters.speculativeReads, 1);
});

test('a failure before the wait asks the next replica at once, and leaves none for speculation', async (t) => {
  const { read, asked, coordinator } = cluster({ kind: 'fixed', ms: 50 }, { 2: 'fails', 0: 5 });
  const r = await read();
  t.deepEqual(r.value, stored);
  t.is(r.tookMs, 5);
  t.deepEqual(asked, [1, 2, 0]);
  t.is(coordinator.counters.speculativeReads, 0);
});

test('under a percentile policy the wait follows the replicas: a paused replica is left after about the 99th percentile', async (t) => {
  const answer: Record<number, number> = { 2: 2, 0: 2 };
  const { read, idle, asked, coordinator } = cluster({ kind: 'percentile', percentile: 99 }, answer);
  // Enough answers of 2 ms, over more than a window, to measure it.
  for (let i = 0; i < SPECULATION_WINDOW_SAMPLES_MIN; i++) {
    t.deepEqual((await read()).value, stored);
    await idle(SPECULATION_WINDOW_MS / SPECULATION_WINDOW_SAMPLES_MIN);
  }
  t.is(coordinator.counters.speculativeReads, 0);
  answer[2] = Number.POSITIVE_INFINITY;
  asked.length = 0;
  const r = await read();
  t.deepEqual(r.value, stored);
  t.deepEqual(asked, [1, 2, 0]);
  t.is(coordinator.counters.speculativeReads, 1);
  t.true(r.tookMs < SPECULATION_UNMEASURED_DELAY_MS, `answered after ${r.tookMs} ms: the measured wait, not the unmeasured one`);
});

test('a timer that ends before the wait has passed on the monotonic clock is set again for the rest: no early extra ask', async (t) => {
  const { read, asked, coordinator } = cluster({ kind: 'fixed', ms: 50 }, { 2: 40, 0: 1 }, true);
  const r = await read();
  t.deepEqual(r.value, stored);
  t.is(r.tookMs, 40);
  t.deepEqual(asked, [1, 2], 'the timer ended at 25 ms, the wait at 50, the answer came at 40');
  t.is(coordinator.counters.speculativeReads, 0);
});
