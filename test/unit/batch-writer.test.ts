/**
 * BatchWriter over a real SQLite batch log and a scripted coordinator: a
 * batch is checked whole before anything is logged, logged before any
 * write, and leaves the log only once every key is written; what a failure
 * or a crash leaves is written again at ONE, with the same versions, and a
 * batch a call is still writing is left alone.
 */
import test from 'ava';
import { BatchWriteInput, BatchWriter } from '../../src/coordinator/batch-writer';
import { WriteLevelName } from '../../src/coordinator/levels';
import { KvError, timedOut } from '../../src/common/errors';
import { BATCH_LOG_BATCHES_MAX } from '../../src/common/limits';
import { waitFor } from '../../src/harness/local-cluster';
import { BatchLogStorage, SqliteBatchLog } from '../../src/storage/batch-log';
import { Sqlite } from '../../src/storage/sqlite';
import { KeyedVersion } from '../../src/storage/version';

const TS = 5_000_000;
const GRACE_MS = 60_000;

/** A coordinator whose keys are down (Unavailable at the check), fail (at the write) or hang, as the test says. */
class ScriptedCoordinator {
  readonly written: { item: KeyedVersion; level: WriteLevelName }[] = [];
  readonly down = new Set<string>();
  readonly failing = new Map<string, KvError>();
  readonly hanging = new Map<string, () => void>();

  checkWritable(key: string, level: WriteLevelName): void {
    if (this.down.has(key))
      throw new KvError('Unavailable', `${level} needs 2 of the key's 3 replicas but only 1 is up`, { required: 2, alive: 1 });
  }

  writeVersion(item: KeyedVersion, level: WriteLevelName): Promise<number> {
    this.written.push({ item, level });
    const failure = this.failing.get(item.key);
    if (failure !== undefined) return Promise.reject(failure);
    if (this.hanging.has(item.key)) return new Promise((resolve) => this.hanging.set(item.key, () => resolve(item.version.ts)));
    return Promise.resolve(item.version.ts);
  }
}

interface Fixture {
  writer: BatchWriter;
  log: BatchLogStorage;
  coordinator: ScriptedCoordinator;
  reports: string[];
  clock: { ms: number };
}

async function fixture(log?: BatchLogStorage): Promise<Fixture> {
  const batchLog = log ?? (await SqliteBatchLog.open(await Sqlite.open(':memory:')));
  const coordinator = new ScriptedCoordinator();
  const reports: string[] = [];
  const clock = { ms: 1_000 };
  const writer = new BatchWriter({
    selfId: 7,
    log: batchLog,
    coordinator,
    clock: { now: () => TS },
    time: { nowMs: () => clock.ms },
    replayAgeMaxMs: GRACE_MS,
    report: (m) => reports.push(m),
  });
  return { writer, log: batchLog, coordinator, reports, clock };
}

const puts = (...keys: string[]): BatchWriteInput[] => keys.map((key) => ({ key, value: `v-${key}`, deleted: false, ttlSeconds: 0 }));
const never = (): boolean => false;

test('every key is written at the level with the one timestamp, and the batch then leaves the log', async (t) => {
  const f = await fixture();
  const writes: BatchWriteInput[] = [
    ...puts('a', 'b'),
    { key: 'c', value: '', deleted: true, ttlSeconds: 0 },
    { key: 'd', value: 'x', deleted: false, ttlSeconds: 2 },
  ];
  t.is(await f.writer.write(writes, 'QUORUM'), TS);
  t.deepEqual(
    f.coordinator.written.map((w) => [w.item.key, w.level, w.item.version]),
    [
      ['a', 'QUORUM', { value: 'v-a', ts: TS, deleted: false }],
      ['b', 'QUORUM', { value: 'v-b', ts: TS, deleted: false }],
      ['c', 'QUORUM', { value: '', ts: TS, deleted: true }],
      ['d', 'QUORUM', { value: 'x', ts: TS, deleted: false, expires: TS + 2_000_000 }],
    ],
  );
  await waitFor('the batch to leave the log', () => f.log.size === 0);
  t.deepEqual(await f.log.list(0, 10), []);
  t.like(f.writer.counters, { batches: 1, batchesFailed: 0 });
});

test('a key that cannot reach the level refuses the batch whole: nothing is logged or written', async (t) => {
  const f = await fixture();
  f.coordinator.down.add('b');
  const err = await t.throwsAsync(f.writer.write(puts('a', 'b', 'c'), 'QUORUM'));
  t.is((err as KvError).code, 'Unavailable');
  t.is(err!.message, "key 2 of 3: QUORUM needs 2 of the key's 3 replicas but only 1 is up");
  t.deepEqual(f.coordinator.written, []);
  t.is(f.log.size, 0);
});

test('a failed key fails the call, the batch stays logged, and a replay writes it all again at ONE, then removes it', async (t) => {
  const f = await fixture();
  f.coordinator.failing.set('b', timedOut('QUORUM write was acknowledged by 1 of 2 replicas within 2000 ms', 1, 2));
  const err = await t.throwsAsync(f.writer.write(puts('a', 'b'), 'QUORUM'));
  t.is((err as KvError).code, 'TimedOut');
  t.is(
    err!.message,
    'key 2 of 2: QUORUM write was acknowledged by 1 of 2 replicas within 2000 ms; the batch is logged on node 7, which writes it again until every key reaches its replicas',
  );
  t.is(f.log.size, 1);
  f.coordinator.written.length = 0;
  await f.writer.replay(never);
  t.is(f.log.size, 1, 'a replay that did not write every key keeps the batch');
  t.is(f.writer.counters.batchReplayFailures, 1);
  f.coordinator.failing.clear();
  f.coordinator.written.length = 0;
  await f.writer.replay(never);
  t.deepEqual(f.coordinator.written, [], 'within its backoff the batch is not tried');
  f.clock.ms += 2_000;
  await f.writer.replay(never);
  t.deepEqual(
    f.coordinator.written.map((w) => [w.item.key, w.level, w.item.version.ts]),
    [
      ['a', 'ONE', TS],
      ['b', 'ONE', TS],
    ],
  );
  t.is(f.log.size, 0);
  t.like(f.writer.counters, { batches: 1, batchesFailed: 1, batchesReplayed: 1 });
});

test('a replica gone down after the log is a TimedOut, not an Unavailable: other keys may be written', async (t) => {
  const f = await fixture();
  f.coordinator.failing.set(
    'a',
    new KvError('Unavailable', "ONE needs 1 of the key's 3 replicas but only 0 are up", { required: 1, alive: 0 }),
  );
  const err = await t.throwsAsync(f.writer.write(puts('a', 'b'), 'ONE'));
  t.is((err as KvError).code, 'TimedOut');
  t.regex(err!.message, /^key 1 of 2: ONE needs 1 .*; the batch is logged on node 7/);
  t.is(f.log.size, 1);
});

test('a replay leaves alone the batch a call is still writing', async (t) => {
  const f = await fixture();
  f.coordinator.hanging.set('slow', () => undefined);
  const call = f.writer.write(puts('fast', 'slow'), 'QUORUM');
  await waitFor('both writes to be sent', () => f.coordinator.written.length === 2);
  t.deepEqual(
    (await f.log.list(0, 10)).map((b) => b.items.map((i) => i.key)),
    [['fast', 'slow']],
    'the batch was durable before its writes went',
  );
  await f.writer.replay(never);
  t.is(f.coordinator.written.length, 2, 'nothing written again while the call runs');
  f.coordinator.hanging.get('slow')!();
  t.is(await call, TS);
  await waitFor('the batch to leave the log', () => f.log.size === 0);
});

test('a batch a crash left in the log is written when the next writer replays', async (t) => {
  const db = await Sqlite.open(':memory:');
  const log = await SqliteBatchLog.open(db);
  await log.add([{ key: 'k', version: { value: 'v', ts: 42, deleted: false } }], 900).durable;
  const f = await fixture(log);
  await f.writer.replay(never);
  t.deepEqual(f.coordinator.written, [{ item: { key: 'k', version: { value: 'v', ts: 42, deleted: false } }, level: 'ONE' }]);
  t.is(log.size, 0);
});

test('a batch older than the tombstone grace is dropped unwritten, and said so', async (t) => {
  const f = await fixture();
  await f.log.add([{ key: 'old', version: { value: 'v', ts: 1, deleted: false } }], 1_000).durable;
  f.clock.ms = 1_000 + GRACE_MS + 1;
  await f.writer.replay(never);
  t.deepEqual(f.coordinator.written, []);
  t.is(f.log.size, 0);
  t.is(f.writer.counters.batchesExpired, 1);
  t.regex(f.reports[0]!, /^node 7 dropped a logged batch of 1 writes it could not write for 60 s, past the tombstone grace/);
});

test('a full log refuses new batches with Unavailable, writing nothing', async (t) => {
  const full: BatchLogStorage = {
    size: BATCH_LOG_BATCHES_MAX,
    bytes: 0,
    add: () => {
      throw new Error('a full log is not added to');
    },
    remove: async () => undefined,
    list: async () => [],
    flush: async () => undefined,
  };
  const f = await fixture(full);
  const err = await t.throwsAsync(f.writer.write(puts('a'), 'ONE'));
  t.is((err as KvError).code, 'Unavailable');
  t.regex(err!.message, /^node 7's batch log is full \(10000 batches/);
  t.deepEqual(f.coordinator.written, []);
  t.is(f.writer.counters.batchLogFull, 1);
});

test('a replay stops between batches once told to', async (t) => {
  const f = await fixture();
  for (const key of ['x', 'y', 'z']) f.coordinator.failing.set(key, timedOut('no', 0, 1));
  for (const key of ['x', 'y', 'z']) await t.throwsAsync(f.writer.write(puts(key), 'ONE'));
  f.coordinator.failing.clear();
  f.coordinator.written.length = 0;
  let batches = 0;
  await f.writer.replay(() => batches++ >= 1);
  t.deepEqual(
    f.coordinator.written.map((w) => w.item.key),
    ['x'],
  );
  t.is(f.log.size, 2);
});

test('a logged batch with a key whose replicas are all down sends nothing, and waits longer after each failed replay', async (t) => {
  const f = await fixture();
  f.coordinator.failing.set('b', timedOut('no', 0, 1));
  await t.throwsAsync(f.writer.write(puts('a', 'b'), 'QUORUM'));
  f.coordinator.failing.clear();
  f.coordinator.down.add('b');
  f.coordinator.written.length = 0;
  const tries: number[] = [];
  for (let ms = 0; ms <= 40_000; ms += 1_000) {
    f.clock.ms = 10_000 + ms;
    const before = f.writer.counters.batchReplayFailures;
    await f.writer.replay(never);
    if (f.writer.counters.batchReplayFailures > before) tries.push(ms);
  }
  t.deepEqual(f.coordinator.written, [], 'no key written while one of them cannot be');
  t.deepEqual(tries, [0, 2_000, 6_000, 14_000, 30_000], 'the wait doubles: 2, 4, 8, 16 s');
  f.coordinator.down.clear();
  f.writer.retrySoon();
  await f.writer.replay(never);
  t.deepEqual(
    f.coordinator.written.map((w) => w.item.key),
    ['a', 'b'],
    'a peer back: tried at once',
  );
  t.is(f.log.size, 0);
});

test('a replay writes the batches of a page all at once, not one after another', async (t) => {
  const f = await fixture();
  for (const key of ['x', 'y', 'z']) f.coordinator.failing.set(key, timedOut('no', 0, 1));
  for (const key of ['x', 'y', 'z']) await t.throwsAsync(f.writer.write(puts(key), 'ONE'));
  f.coordinator.failing.clear();
  f.coordinator.written.length = 0;
  for (const key of ['x', 'y', 'z']) f.coordinator.hanging.set(key, () => undefined);
  const replay = f.writer.replay(never);
  await waitFor('every batch of the page is being written', () => f.coordinator.written.length === 3 || undefined);
  t.is(f.log.size, 3, 'none is removed before its writes end');
  for (const finish of f.coordinator.hanging.values()) finish();
  await replay;
  t.is(f.log.size, 0);
  t.is(f.writer.counters.batchesReplayed, 3);
});
