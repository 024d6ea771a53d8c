import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { CLOCK_AHEAD_MS_MAX, HybridClock, TIMESTAMP_MAX, wallClockMicros } from '../../src/clock/hlc';
import { fcParams } from './fc-params';

/** A physical clock driven by hand. */
function manualClock(start: number): { set(us: number): void; clock: HybridClock } {
  let now = start;
  return { set: (us) => (now = us), clock: new HybridClock(() => now) };
}

test('readings follow the physical clock while it moves forward', (t) => {
  const m = manualClock(1000);
  t.is(m.clock.now(), 1000);
  m.set(1500);
  t.is(m.clock.now(), 1500);
  t.is(m.clock.peek(), 1500);
});

test('readings strictly increase while the physical clock stands still', (t) => {
  const m = manualClock(1000);
  t.deepEqual([m.clock.now(), m.clock.now(), m.clock.now()], [1000, 1001, 1002]);
});

test('readings strictly increase while the physical clock goes backwards', (t) => {
  const m = manualClock(10_000);
  t.is(m.clock.now(), 10_000);
  m.set(5_000);
  t.is(m.clock.now(), 10_001);
  m.set(1);
  t.is(m.clock.now(), 10_002);
  m.set(20_000);
  t.is(m.clock.now(), 20_000, 'back to the physical clock once it passes the last reading');
});

test('fractional physical readings are floored to whole microseconds', (t) => {
  const m = manualClock(1234.9);
  t.is(m.clock.now(), 1234);
  t.is(m.clock.now(), 1235);
});

test('peek does not advance the clock', (t) => {
  const m = manualClock(50);
  t.is(m.clock.peek(), 0);
  m.clock.now();
  t.is(m.clock.peek(), 50);
  t.is(m.clock.peek(), 50);
  t.is(m.clock.now(), 51);
});

test('observe() of a future timestamp makes the next reading larger than it', (t) => {
  const m = manualClock(1000);
  m.clock.observe(5_000_000);
  t.is(m.clock.peek(), 5_000_000);
  const next = m.clock.now();
  t.true(next > 5_000_000, `next reading ${next}`);
  t.is(next, 5_000_001);
});

test('observe() of a past timestamp changes nothing', (t) => {
  const m = manualClock(1000);
  t.is(m.clock.now(), 1000);
  m.clock.observe(10);
  t.is(m.clock.peek(), 1000);
  t.is(m.clock.now(), 1001);
});

test('observe() ignores timestamps above Number.MAX_SAFE_INTEGER, accepts it exactly', (t) => {
  const m = manualClock(1000);
  t.is(TIMESTAMP_MAX, Number.MAX_SAFE_INTEGER);
  for (const bad of [Number.MAX_SAFE_INTEGER + 2, 2 ** 60, Number.POSITIVE_INFINITY, Number.NaN]) {
    m.clock.observe(bad);
    t.is(m.clock.peek(), 0, `observe(${bad}) must be ignored`);
  }
  t.is(m.clock.now(), 1000);
});

test('observe() ignores timestamps too far ahead of the physical clock, accepts them up to the bound', (t) => {
  const m = manualClock(1_000_000);
  const bound = 1_000_000 + CLOCK_AHEAD_MS_MAX * 1000;
  m.clock.observe(bound + 1);
  t.is(m.clock.peek(), 0, 'one microsecond past the bound is refused');
  t.false(m.clock.plausible(bound + 1));
  m.clock.observe(Number.MAX_SAFE_INTEGER);
  t.is(m.clock.peek(), 0, 'a poisoned 2^53 timestamp is refused');
  t.true(m.clock.plausible(bound));
  m.clock.observe(bound);
  t.is(m.clock.now(), bound + 1);
  t.false(m.clock.plausible(-1), 'negative timestamps are not plausible');
});

/** One step of the property below: the physical clock moves, or a peer's timestamp arrives. */
type ClockMove = { kind: 'back' | 'forward'; us: number } | { kind: 'still' } | { kind: 'observe'; offsetUs: number };

const clockMove: fc.Arbitrary<ClockMove> = fc.oneof(
  fc.record({ kind: fc.constant('back' as const), us: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ kind: fc.constant('forward' as const), us: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ kind: fc.constant('still' as const) }),
  fc.record({ kind: fc.constant('observe' as const), offsetUs: fc.integer({ min: -10_000, max: 10_000 }) }),
);

test('property: readings strictly increase and exceed all observed timestamps under random clock moves', (t) => {
  const property = fc.property(fc.array(clockMove, { maxLength: 100, size: 'max' }), (moves) => {
    let physical = 1_000_000;
    const clock = new HybridClock(() => physical);
    let last = -1;
    let maxObserved = 0;
    for (const [step, move] of moves.entries()) {
      if (move.kind === 'observe') {
        const ts = physical + move.offsetUs;
        clock.observe(ts);
        maxObserved = Math.max(maxObserved, ts);
        continue;
      }
      if (move.kind === 'back') physical -= move.us;
      if (move.kind === 'forward') physical += move.us;
      const r = clock.now();
      assert.ok(Number.isInteger(r), `step ${step}: reading ${r} not an integer`);
      assert.ok(r > last, `step ${step}: reading ${r} not above the previous one, ${last}`);
      assert.ok(r > maxObserved, `step ${step}: reading ${r} not above the largest observed, ${maxObserved}`);
      assert.ok(r >= physical, `step ${step}: reading ${r} below the physical clock, ${physical}`);
      last = r;
    }
  });
  t.notThrows(() => fc.assert(property, fcParams(100)));
});

/** Runs `fn` with Date.now pinned to `ms` (synchronously, so no other test can see it). */
function withDateNow<T>(ms: number, fn: () => T): T {
  const original = Date.now;
  Date.now = () => ms;
  try {
    return fn();
  } finally {
    Date.now = original;
  }
}

const wallTable: Array<[offsetMs: number | undefined, expectedUs: number]> = [
  [undefined, 1_700_000_000_000_000],
  [0, 1_700_000_000_000_000],
  [250, 1_700_000_000_250_000],
  [-1500, 1_699_999_998_500_000],
];

for (const [offsetMs, expectedUs] of wallTable) {
  test(`wallClockMicros(${offsetMs}) is Date.now() in microseconds plus the offset`, (t) => {
    const clock = offsetMs === undefined ? wallClockMicros() : wallClockMicros(offsetMs);
    t.is(
      withDateNow(1_700_000_000_000, () => clock()),
      expectedUs,
    );
  });
}

test('a HybridClock over a skewed wall clock is ahead by the skew', (t) => {
  const clock = new HybridClock(wallClockMicros(60_000));
  const reading = withDateNow(1_000_000, () => clock.now());
  t.is(reading, (1_000_000 + 60_000) * 1000);
});
