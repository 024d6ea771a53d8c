/**
 * A stream's pace follows its node's foreground load: the pace for a
 * loaded node from STREAM_LOADED_OPS_PER_SECOND_MIN operations a second
 * until the load falls under STREAM_IDLE_OPS_PER_SECOND_MAX, and before the
 * load is known; the full pace otherwise. A Pacer times each batch at the
 * pace asked when it goes.
 */
import test from 'ava';
import { STREAM_IDLE_OPS_PER_SECOND_MAX, STREAM_LOAD_WINDOW_MS, STREAM_LOADED_OPS_PER_SECOND_MIN } from '../../src/common/limits';
import { systemTime, Time } from '../../src/clock/time';
import { ForegroundPace, Load, nextLoad, paceFor } from '../../src/streaming/foreground-pace';
import { Pacer } from '../../src/streaming/pacer';

const FULL = 48 * 1024 * 1024;
const LOADED = 2 * 1024 * 1024;
const SETTINGS = { idleBytesPerSecond: FULL, loadedBytesPerSecond: LOADED };

const SLOW = { idleBytesPerSecond: 16 * 1024, loadedBytesPerSecond: LOADED };

const paces: { load: Load; settings?: typeof SETTINGS; pace: number; why: string }[] = [
  { load: 'unknown', pace: LOADED, why: 'not measured yet: the cautious pace' },
  { load: 'idle', pace: FULL, why: 'an idle node' },
  { load: 'loaded', pace: LOADED, why: 'a loaded node' },
  { load: 'loaded', settings: SLOW, pace: SLOW.idleBytesPerSecond, why: 'a cluster paced below the loaded pace stays there' },
  { load: 'idle', settings: SLOW, pace: SLOW.idleBytesPerSecond, why: 'the same, idle' },
];
for (const row of paces) {
  test(`paceFor: ${row.why}`, (t) => {
    t.is(paceFor(row.load, row.settings ?? SETTINGS), row.pace);
  });
}

const ENTER = STREAM_LOADED_OPS_PER_SECOND_MIN;
const LEAVE = STREAM_IDLE_OPS_PER_SECOND_MAX;
const loads: { was: Load; ops: number; load: Load; why: string }[] = [
  { was: 'unknown', ops: 0, load: 'idle', why: 'a first reading of nothing' },
  { was: 'unknown', ops: ENTER - 1, load: 'idle', why: 'a first reading under the threshold: judged as an idle node' },
  { was: 'unknown', ops: ENTER, load: 'loaded', why: 'a first reading at the threshold' },
  { was: 'idle', ops: ENTER - 1, load: 'idle', why: 'just under the threshold' },
  { was: 'idle', ops: ENTER, load: 'loaded', why: 'clients arrive' },
  { was: 'loaded', ops: ENTER - 1, load: 'loaded', why: 'a loaded node whose clients a stream slowed stays loaded' },
  { was: 'loaded', ops: LEAVE, load: 'loaded', why: 'at the way back: still loaded' },
  { was: 'loaded', ops: LEAVE - 1, load: 'idle', why: 'the clients have gone' },
];

for (const row of loads) {
  test(`nextLoad: ${row.why}`, (t) => {
    t.is(nextLoad(row.was, row.ops), row.load);
  });
}

/** The system's timers on a clock that moves only when told. */
function manualTime(): Time & { ms: number } {
  const clock = { ...systemTime, ms: 1_000, nowMs: () => clock.ms, monotonicMs: () => clock.ms };
  return clock;
}

test('ForegroundPace: cautious until a window is measured, then loaded while clients stay', (t) => {
  const time = manualTime();
  let ops = 0;
  const changes: [number, number | undefined][] = [];
  const pace = new ForegroundPace(
    time,
    () => ops,
    SETTINGS,
    (p, load) => changes.push([p, load]),
  );
  const window = (opsPerSecond: number): number => {
    ops += (opsPerSecond * STREAM_LOAD_WINDOW_MS) / 1000;
    time.ms += STREAM_LOAD_WINDOW_MS;
    return pace.bytesPerSecond();
  };
  t.is(pace.bytesPerSecond(), LOADED, 'before a window has passed');
  t.is(window(10), FULL, 'a quiet first window');
  ops += ENTER;
  time.ms += STREAM_LOAD_WINDOW_MS / 2;
  t.is(pace.bytesPerSecond(), FULL, 'judged only once the window has passed');
  time.ms += STREAM_LOAD_WINDOW_MS / 2;
  t.is(pace.bytesPerSecond(), LOADED, 'clients arrive');
  t.is(window(ENTER / 4), LOADED, 'their rate falls: still loaded');
  t.is(window(LEAVE / 2), FULL, 'they leave');
  t.deepEqual(
    changes.map(([p, load]) => [p, load]),
    [
      [LOADED, undefined],
      [FULL, 10],
      [LOADED, 2 * ENTER],
      [FULL, LEAVE / 2],
    ],
    'each change is reported once, with the reading behind it',
  );
});

test('ForegroundPace: a long gap between readings is judged as the mean over the gap', (t) => {
  const time = manualTime();
  let ops = 0;
  const pace = new ForegroundPace(time, () => ops, SETTINGS);
  ops += ENTER; // one second's worth of the threshold, spread over ten seconds
  time.ms += 10_000;
  t.is(pace.bytesPerSecond(), FULL);
});

test('Pacer: each batch is timed at the rate asked when it goes', async (t) => {
  const time = manualTime();
  let rate = 1000;
  const waits: number[] = [];
  const recording: Time = { ...time, after: (ms, f) => (waits.push(ms), systemTime.after(0, f)) };
  const pacer = new Pacer(recording, () => rate);
  await pacer.take(1000); // goes now; the next may go 1 s later
  await pacer.take(500); // waits 1 s; at 1000 B/s the next may go 0.5 s after it
  rate = 100;
  await pacer.take(100); // waits 1.5 s in all; at 100 B/s this batch holds the next 1 s more
  await pacer.take(1);
  t.deepEqual(waits, [1000, 1500, 2500]);
});

test('Pacer: a fixed number still paces', async (t) => {
  const time = manualTime();
  const waits: number[] = [];
  const pacer = new Pacer({ ...time, after: (ms, f) => (waits.push(ms), systemTime.after(0, f)) }, 2000);
  await pacer.take(1000);
  await pacer.take(1000);
  t.deepEqual(waits, [500]);
});
