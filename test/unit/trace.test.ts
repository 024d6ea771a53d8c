import test from 'ava';
import { HybridClock } from '../../src/clock/hlc';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Coordinator } from '../../src/coordinator/coordinator';
import { Replica } from '../../src/coordinator/replica';
import { describeVersion, Trace } from '../../src/coordinator/trace';
import { TRACE_EVENTS_MAX } from '../../src/common/limits';
import { isKvError } from '../../src/common/errors';
import { bootstrapPlacement } from '../../src/membership/placement';
import { Owner, Scheduler } from '../../src/sim/scheduler';
import { KeyedVersion, Version } from '../../src/storage/version';

const placement = bootstrapPlacement(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
const newer: Version = { value: 'new', ts: 2000, deleted: false };
const older: Version = { value: 'old', ts: 1000, deleted: false };

/**
 * Node 1 coordinating key 'A' (replicas 0, 1, 2) on virtual time. `holds`:
 * what each replica answers a read with; `answerMs`: when it answers a read
 * or a write (Infinity: never); `down`: replicas the detector holds down;
 * `marks`: node 1 has a marked log (the client is answered at the level).
 */
function rig(holds: Record<number, Version | undefined>, answerMs: Record<number, number> = {}, down: number[] = [], marks = false) {
  const scheduler = new Scheduler();
  const time = scheduler.timeFor(new Owner('node 1'));
  const applied: Array<{ id: number; items: KeyedVersion[] }> = [];
  const hinted: number[] = [];
  const later = <T>(id: number, value: T): Promise<T> =>
    new Promise((resolve) => {
      const at = answerMs[id] ?? 1;
      if (Number.isFinite(at)) time.after(at, () => resolve(value));
    });
  const replicas = new Map<number, Replica>();
  // Node 1's own copy of a write goes through its replica client too: it has no marked log here.
  for (const id of [0, 1, 2, 3]) {
    replicas.set(id, {
      id,
      apply: (items) => (applied.push({ id, items: [...items] }), later(id, undefined)),
      read: () => later(id, holds[id]),
    });
  }
  const coordinator = new Coordinator({
    selfId: 1,
    placement: () => placement,
    replicas,
    isUp: (id) => !down.includes(id),
    hints: { add: (target) => (hinted.push(target), Promise.resolve(true)) },
    clock: new HybridClock(() => 5000),
    timeoutMs: 1000,
    readLocal: () => holds[1],
    time,
    speculativeRetry: { kind: 'fixed', ms: 50 },
    // With a marked log, node 1's own copy is durable with its mark and the client is answered at the level.
    ...(marks ? { marked: { applyMarked: () => later(1, 1), settle: () => {} } } : {}),
  });
  const run = async <T>(p: Promise<T>) => {
    const outcome = p.then(
      (value) => ({ value, error: undefined as unknown }),
      (error: unknown) => ({ value: undefined, error }),
    );
    await scheduler.runWhile(outcome, 10_000);
    return outcome;
  };
  const trace = new Trace(() => time.monotonicMs());
  const steps = () => trace.events.map((e) => `${e.elapsedUs / 1000} ms ${e.activity}`);
  return { coordinator, trace, steps, run, applied, hinted, scheduler };
}

test('a traced QUORUM read: where it was placed, whom it asked, what each held, the newest, and the repair of the older one', async (t) => {
  const r = rig({ 1: newer, 2: older });
  const { value } = await r.run(r.coordinator.read('A', 'QUORUM', r.trace));
  t.deepEqual(value, newer);
  t.deepEqual(r.steps(), [
    '0 ms QUORUM read placed by epoch 1: 2 of node 1, node 2, node 0 needed',
    `0 ms its own copy (node 1) holds ${describeVersion(newer)}`,
    '0 ms asks node 2',
    `1 ms node 2 holds ${describeVersion(older)}`,
    `1 ms newest of node 1, node 2: ${describeVersion(newer)}`,
    '1 ms read repair: sends it to node 2, which answered older or nothing',
    '2 ms read repair acknowledged',
  ]);
  t.deepEqual(
    r.applied.map((a) => a.id),
    [2],
  );
});

test('a traced read shows its speculative ask, and the late answer of the slow replica is not waited for', async (t) => {
  const r = rig({ 1: newer, 2: newer, 0: newer }, { 2: Number.POSITIVE_INFINITY, 0: 3 });
  const { value } = await r.run(r.coordinator.read('A', 'QUORUM', r.trace));
  t.deepEqual(value, newer);
  t.deepEqual(r.steps().slice(2), [
    '0 ms asks node 2',
    '50 ms 1 of 2 answers so far: asks one replica more (speculative retry)',
    '50 ms asks node 0',
    `53 ms node 0 holds ${describeVersion(newer)}`,
    `53 ms newest of node 1, node 0: ${describeVersion(newer)}`,
  ]);
});

test('a traced QUORUM write: the sends, each acknowledgement, the answer, and the mark-free hint grace for a silent replica', async (t) => {
  // Node 1 has no marked log here: a replica silent past the grace after the level is hinted.
  const r = rig({}, { 0: 2, 2: Number.POSITIVE_INFINITY });
  const { value, error } = await r.run(r.coordinator.write('A', 'v', false, 'QUORUM', 0, r.trace));
  t.is(error, undefined);
  t.is(typeof value, 'number');
  const steps = r.steps().map((s) => s.replace(/ts=\d+/, 'ts=T'));
  t.is(steps[0], '0 ms QUORUM write placed by epoch 1: 2 of node 1, node 2, node 0 needed');
  t.is(steps[1], '0 ms sends ts=T to node 1, node 2, node 0');
  t.true(steps.includes('1 ms node 1 acknowledged'), steps.join('\n'));
  t.true(steps.includes('2 ms node 0 acknowledged'), steps.join('\n'));
  t.true(
    steps.some((s) => /node 2 has not answered within \d+ ms of the level: stores a hint for it/.test(s)),
    steps.join('\n'),
  );
  t.true(
    steps.some((s) => s.endsWith('the hint for node 2 is durable')),
    steps.join('\n'),
  );
  t.regex(steps[steps.length - 1]!, /answers the client: 2 of 2 needed acknowledged/);
  t.deepEqual(r.hinted, [2]);
});

test('a traced write to a key with a replica seen down says so, and one that cannot be placed says why', async (t) => {
  const r = rig({}, {}, [0]);
  await r.run(r.coordinator.write('A', 'v', false, 'QUORUM', 0, r.trace));
  t.true(r.steps().includes('0 ms stores hints for node 0, seen down'), r.steps().join('\n'));
  const failing = rig({}, {}, [0, 2]);
  const { error } = await failing.run(Promise.resolve().then(() => failing.coordinator.write('A', 'v', false, 'ALL', 0, failing.trace)));
  t.true(isKvError(error, 'Unavailable'));
  t.deepEqual(failing.steps(), ["0 ms cannot place the write: ALL needs 3 of the key's 3 replicas but only 1 is up"]);
});

test('a trace keeps TRACE_EVENTS_MAX steps and counts the rest', (t) => {
  let now = 0;
  const trace = new Trace(() => now);
  for (let i = 0; i < TRACE_EVENTS_MAX + 7; i++) {
    now += 0.5;
    trace.note(`step ${i}`);
  }
  t.is(trace.events.length, TRACE_EVENTS_MAX);
  t.is(trace.dropped, 7);
  t.deepEqual(trace.events[1], { elapsedUs: 1000, activity: 'step 1' });
});

test("a part's steps go into the whole trace, led by its prefix, timed from the whole's start and under its limit", (t) => {
  let now = 10;
  const whole = new Trace(() => now);
  const first = whole.part('key 1 of 2: ');
  const second = whole.part('key 2 of 2: ');
  now = 10.5;
  first.note('asked node 1');
  now = 11;
  second.note('asked node 2');
  whole.note('answers the client');
  t.deepEqual(whole.events, [
    { elapsedUs: 500, activity: 'key 1 of 2: asked node 1' },
    { elapsedUs: 1000, activity: 'key 2 of 2: asked node 2' },
    { elapsedUs: 1000, activity: 'answers the client' },
  ]);
  t.deepEqual(first.events, [], 'a part keeps nothing of its own');
  for (let i = 0; i < TRACE_EVENTS_MAX; i++) second.note(`step ${i}`);
  t.is(whole.events.length, TRACE_EVENTS_MAX);
  t.is(whole.dropped, 3);
});

test("a whole trace's partsLanded waits for every part's write to land, each counted once; with no parts it is settled", async (t) => {
  const whole = new Trace(() => 0);
  let settled = false;
  await whole.partsLanded();
  const first = whole.part('key 1 of 2: ');
  const second = whole.part('key 2 of 2: ');
  void whole.partsLanded().then(() => (settled = true));
  first.markLanded();
  first.markLanded();
  await Promise.resolve();
  t.false(settled, 'a part marked twice is not two parts');
  second.markLanded();
  await first.landed;
  await new Promise((resolve) => setImmediate(resolve));
  t.true(settled);
});

test("a traced batch's writes: partsLanded waits past the client's answer for each write's slow third replica", async (t) => {
  const r = rig({}, { 0: 1, 2: 5 }, [], true);
  const writes = Promise.all(
    ['A', 'B'].map((key, i) => r.coordinator.write(key, 'v', false, 'QUORUM', 0, r.trace.part(`key ${i + 1} of 2: `))),
  );
  await r.run(writes);
  const answered = r.steps();
  t.false(
    answered.some((s) => s.includes('node 2 acknowledged')),
    answered.join('\n'),
  );
  await r.run(r.trace.partsLanded());
  for (const place of ['key 1 of 2: ', 'key 2 of 2: '])
    t.true(r.steps().includes(`5 ms ${place}node 2 acknowledged`), r.steps().join('\n'));
});
