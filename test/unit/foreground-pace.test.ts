/**
 * A stream's pace follows its node's foreground load: the pace for a
 * loaded node from STREAM_LOADED_OPS_PER_SECOND_MIN operations a second
 * until the load has stayed under STREAM_IDLE_OPS_PER_SECOND_MAX for
 * STREAM_IDLE_WINDOWS windows, and until the load is known; the full pace
 * otherwise. A Pacer times each batch at the
 * pace asked when it goes.
 */
import test from 'ava';
import {
  STREAM_IDLE_OPS_PER_SECOND_MAX,
  STREAM_IDLE_WINDOWS,
  STREAM_LOAD_WINDOW_MS,
  STREAM_LOADED_OPS_PER_SECOND_MIN,
} from '../../src/common/limits';
import { systemTime, Time } from '../../src/clock/time';
import { ForegroundPace, judge, Judged, Load, NOT_JUDGED, paceFor } from '../../src/streaming/foreground-pace';
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
const N = STREAM_IDLE_WINDOWS;
const j = (load: Load, quietWindows = 0): Judged => ({ load, quietWindows });
const judgements: { was: Judged; ops: number; now: Judged; why: string }[] = [
  { was: NOT_JUDGED, ops: ENTER, now: j('loaded'), why: 'a first window at the mark: loaded' },
  { was: NOT_JUDGED, ops: 0, now: j('unknown', 1), why: 'a quiet first window is not enough' },
  { was: j('unknown', N - 1), ops: ENTER - 1, now: j('idle'), why: `${N} windows under the mark: idle` },
  { was: j('unknown', N - 1), ops: ENTER, now: j('loaded'), why: 'clients arrive before the load is known' },
  { was: j('idle'), ops: ENTER - 1, now: j('idle'), why: 'an idle node just under the mark' },
  { was: j('idle'), ops: ENTER, now: j('loaded'), why: 'clients arrive' },
  { was: j('loaded'), ops: ENTER - 1, now: j('loaded'), why: 'a loaded node whose clients a stream slowed stays loaded' },
  { was: j('loaded', N - 1), ops: LEAVE, now: j('loaded'), why: 'a window at the way back starts the count again' },
  { was: j('loaded'), ops: LEAVE - 1, now: j('loaded', 1), why: 'one quiet window is not enough' },
  { was: j('loaded', N - 1), ops: LEAVE - 1, now: j('idle'), why: 'the clients have gone' },
];

for (const row of judgements) {
  test(`judge: ${row.why}`, (t) => {
    t.deepEqual(judge(row.was, row.ops), row.now);
  });
}

/** The system's timers on a clock that moves only when told. */
function manualTime(): Time & { ms: number } {
  const clock = { ...systemTime, ms: 1_000, nowMs: () => clock.ms, monotonicMs: () => clock.ms };
  return clock;
}

test('ForegroundPace: cautious until the load is known from the first page on, then loaded while clients stay', (t) => {
  const time = manualTime();
  let ops = 0;
  const changes: [number, number | undefined][] = [];
  const pace = new ForegroundPace(
    time,
    () => ops,
    SETTINGS,
    (p, load) => changes.push([p, load]),
  );
  // Before the stream's first page: counted in no window.
  ops += 10 * ENTER;
  time.ms += 10 * STREAM_LOAD_WINDOW_MS;
  const window = (opsPerSecond: number): number => {
    ops += (opsPerSecond * STREAM_LOAD_WINDOW_MS) / 1000;
    time.ms += STREAM_LOAD_WINDOW_MS;
    return pace.bytesPerSecond();
  };
  t.is(pace.bytesPerSecond(), LOADED, 'the first page, before a window has passed');
  for (let i = 1; i < N; i++) t.is(window(10), LOADED, `quiet window ${i} of ${N}`);
  t.is(window(10), FULL, `${N} quiet windows`);
  ops += ENTER;
  time.ms += STREAM_LOAD_WINDOW_MS / 2;
  t.is(pace.bytesPerSecond(), FULL, 'judged only once the window has passed');
  time.ms += STREAM_LOAD_WINDOW_MS / 2;
  t.is(pace.bytesPerSecond(), LOADED, 'clients arrive');
  t.is(window(ENTER / 4), LOADED, 'their rate falls: still loaded');
  for (let i = 1; i < N; i++) t.is(window(LEAVE / 2), LOADED, `they leave: window ${i} of ${N}`);
  t.is(window(LEAVE / 2), FULL, 'they have gone');
  t.deepEqual(
    changes,
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
  pace.bytesPerSecond(); // the first page
  ops += ENTER; // one second's worth of the mark, spread over ten seconds
  time.ms += 10_000;
  pace.bytesPerSecond();
  time.ms += STREAM_LOAD_WINDOW_MS;
  t.is(pace.bytesPerSecond(), FULL, 'two quiet windows');
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
