import test from 'ava';
import { CLOCK_AHEAD_MS_MAX, HybridClock, TIMESTAMP_MAX, wallClockMicros } from '../../src/clock/hlc';
import { Gen, seedNote, testSeed } from './prng';

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

test('property: readings strictly increase and exceed all observed timestamps under random clock moves', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  let physical = 1_000_000;
  const clock = new HybridClock(() => physical);
  let last = -1;
  let maxObserved = 0;
  const failures: string[] = [];
  for (let i = 0; i < 5000 && failures.length < 5; i++) {
    const move = g.int(0, 3);
    if (move === 0)
      physical -= g.int(0, 5000); // backwards
    else if (move === 1)
      physical += g.int(0, 5000); // forwards
    // move 2: stands still
    else if (move === 3) {
      const ts = physical + g.int(-10_000, 10_000);
      clock.observe(ts);
      maxObserved = Math.max(maxObserved, ts);
      continue;
    }
    const r = clock.now();
    if (!(r > last)) failures.push(`step ${i}: reading ${r} not above previous ${last}`);
    if (!(r > maxObserved) && maxObserved > 0) failures.push(`step ${i}: reading ${r} not above observed ${maxObserved}`);
    if (r < Math.floor(physical)) failures.push(`step ${i}: reading ${r} below physical ${physical}`);
    if (!Number.isInteger(r)) failures.push(`step ${i}: reading ${r} not an integer`);
    last = r;
  }
  t.deepEqual(failures, [], seedNote(seed));
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
