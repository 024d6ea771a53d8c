/**
 * BatchWriter over a real SQLite batch log and a scripted coordinator: a
 * batch is checked whole before anything is logged, logged before any
 * write, and leaves the log only once every key is written; what a failure
 * or a crash leaves is written again at ONE, with the same versions, and a
 * batch a call is still writing is left alone.
 */
import test, { ExecutionContext } from 'ava';
import { BatchCopy, BatchCopyRef, BatchWriteInput, BatchWriter, copyHolders } from '../../src/coordinator/batch-writer';
import { WriteLevelName } from '../../src/coordinator/levels';
import { KvError, timedOut } from '../../src/common/errors';
import { BATCH_LOG_BATCHES_MAX } from '../../src/common/limits';
import { CLOCK_AHEAD_MS_MAX } from '../../src/clock/hlc';
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

/** The other nodes: which are up to hold copies, which refuse them, what each was sent. */
class ScriptedPeers {
  up: number[] = [8, 9];
  readonly refusing = new Set<number>();
  readonly stored: { peer: number; copies: readonly BatchCopy[] }[] = [];
  readonly forgotten: { peer: number; refs: readonly BatchCopyRef[] }[] = [];
  /** What the coordinator had written when each copy was stored. */
  writtenAtStore: number[] = [];
  constructor(private readonly coordinator: ScriptedCoordinator) {}

  holders(): number[] {
    return this.up;
  }

  async store(peer: number, copies: readonly BatchCopy[]): Promise<void> {
    this.writtenAtStore.push(this.coordinator.written.length);
    if (this.refusing.has(peer)) throw timedOut(`node ${peer} did not answer`, 0, 1);
    this.stored.push({ peer, copies });
  }

  async forget(peer: number, refs: readonly BatchCopyRef[]): Promise<void> {
    this.forgotten.push({ peer, refs });
  }

  /** The batches each coordinator says it still holds (`owner/ownerBatch`); a coordinator in `unreachable` cannot be asked. */
  readonly holding = new Set<string>();
  readonly unreachable = new Set<number>();
  readonly asked: { peer: number; refs: readonly BatchCopyRef[] }[] = [];

  async held(peer: number, refs: readonly BatchCopyRef[]): Promise<BatchCopyRef[]> {
    this.asked.push({ peer, refs });
    if (this.unreachable.has(peer)) throw timedOut(`node ${peer} did not answer`, 0, 1);
    return refs.filter((r) => this.holding.has(`${peer}/${r.ownerBatch}`));
  }
}

const COPY_WAIT_MS = 4_000;

interface Fixture {
  writer: BatchWriter;
  log: BatchLogStorage;
  coordinator: ScriptedCoordinator;
  peers: ScriptedPeers;
  reports: string[];
  clock: { ms: number };
  /** The timestamps the writer took into its clock. */
  observed: number[];
}

async function fixture(log?: BatchLogStorage): Promise<Fixture> {
  const batchLog = log ?? (await SqliteBatchLog.open(await Sqlite.open(':memory:')));
  const coordinator = new ScriptedCoordinator();
  const peers = new ScriptedPeers(coordinator);
  const reports: string[] = [];
  const clock = { ms: 1_000 };
  const observed: number[] = [];
  const writer = new BatchWriter({
    selfId: 7,
    log: batchLog,
    peers,
    copyWaitMs: COPY_WAIT_MS,
    coordinator,
    clock: { now: () => TS, plausible: (ts) => ts <= TS + CLOCK_AHEAD_MS_MAX * 1000, observe: (ts) => void observed.push(ts) },
    time: { nowMs: () => clock.ms },
    replayAgeMaxMs: GRACE_MS,
    report: (m) => reports.push(m),
  });
  return { writer, log: batchLog, coordinator, peers, reports, clock, observed };
}

const puts = (...keys: string[]): BatchWriteInput[] => keys.map((key) => ({ key, value: `v-${key}`, deleted: false, ttlSeconds: 0 }));
const never = (): boolean => false;

/** One logged batch a key that each failed to write, as a failure leaves them; then the coordinator writes again, its record cleared. */
async function logFailedBatches(t: ExecutionContext, f: Fixture, keys: readonly string[]): Promise<void> {
  for (const key of keys) f.coordinator.failing.set(key, timedOut('no', 0, 1));
  for (const key of keys) await t.throwsAsync(f.writer.write(puts(key), 'ONE'));
  f.coordinator.failing.clear();
  f.coordinator.written.length = 0;
}

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

test('a batch a crash left in the log is written when the next writer replays, and the holders it would choose now are told', async (t) => {
  const db = await Sqlite.open(':memory:');
  const log = await SqliteBatchLog.open(db);
  const { id } = log.add([{ key: 'k', version: { value: 'v', ts: 42, deleted: false } }], 900);
  await log.flush();
  const f = await fixture(log);
  await f.writer.replay(never);
  t.deepEqual(f.coordinator.written, [{ item: { key: 'k', version: { value: 'v', ts: 42, deleted: false } }, level: 'ONE' }]);
  t.is(log.size, 0);
  // Which nodes took its copies died with the last process; the holders' choice now is the likeliest.
  t.deepEqual(f.peers.forgotten, [
    { peer: 8, refs: [{ ownerBatch: id, createdMs: 900 }] },
    { peer: 9, refs: [{ ownerBatch: id, createdMs: 900 }] },
  ]);
});

test('a batch older than the tombstone grace is dropped unwritten, and said so', async (t) => {
  const f = await fixture();
  await f.log.add([{ key: 'old', version: { value: 'v', ts: 1, deleted: false } }], 1_000).durable;
  f.clock.ms = 1_000 + GRACE_MS + 1;
  await f.writer.replay(never);
  t.deepEqual(f.coordinator.written, []);
  t.is(f.log.size, 0);
  t.is(f.writer.counters.batchesExpired, 1);
  t.regex(f.reports[0]!, /^node 7 dropped a logged batch of 1 write it could not write for 60 s, past the tombstone grace/);
});

test('a full log refuses new batches with Unavailable, writing nothing', async (t) => {
  const full: BatchLogStorage = {
    size: BATCH_LOG_BATCHES_MAX,
    bytes: 0,
    copyCount: 0,
    copyId: () => undefined,
    holds: () => false,
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
  await logFailedBatches(t, f, ['x', 'y', 'z']);
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
  await logFailedBatches(t, f, ['x', 'y', 'z']);
  for (const key of ['x', 'y', 'z']) f.coordinator.hanging.set(key, () => undefined);
  const replay = f.writer.replay(never);
  await waitFor('every batch of the page is being written', () => f.coordinator.written.length === 3 || undefined);
  t.is(f.log.size, 3, 'none is removed before its writes end');
  for (const finish of f.coordinator.hanging.values()) finish();
  await replay;
  t.is(f.log.size, 0);
  t.is(f.writer.counters.batchesReplayed, 3);
});

test('copies go to the holders after the log commit and before any write; once written, the holders are told to forget them', async (t) => {
  const f = await fixture();
  t.is(await f.writer.write(puts('a', 'b'), 'QUORUM'), TS);
  t.deepEqual(f.peers.writtenAtStore, [0, 0], 'both copies stored before the first write');
  const [batch] = f.peers.stored[0]!.copies;
  t.deepEqual(
    f.peers.stored.map((s) => s.peer),
    [8, 9],
  );
  t.deepEqual(batch!.items, [
    { key: 'a', version: { value: 'v-a', ts: TS, deleted: false } },
    { key: 'b', version: { value: 'v-b', ts: TS, deleted: false } },
  ]);
  t.is(batch!.createdMs, 1_000);
  await waitFor('the holders to be told', () => f.peers.forgotten.length === 2 || undefined);
  t.deepEqual(f.peers.forgotten, [
    { peer: 8, refs: [{ ownerBatch: batch!.ownerBatch, createdMs: 1_000 }] },
    { peer: 9, refs: [{ ownerBatch: batch!.ownerBatch, createdMs: 1_000 }] },
  ]);
  t.like(f.writer.counters, { batchCopiesStored: 2, batchesShortOfCopies: 0 });
});

test('a holder that does not answer does not stop the batch; it is counted short, and only the holder that took a copy is told', async (t) => {
  const f = await fixture();
  f.peers.refusing.add(9);
  t.is(await f.writer.write(puts('a'), 'ONE'), TS);
  t.like(f.writer.counters, { batchCopiesStored: 1, batchesShortOfCopies: 1 });
  await waitFor('the holder to be told', () => f.peers.forgotten.length === 1 || undefined);
  t.deepEqual(
    f.peers.forgotten.map((x) => x.peer),
    [8],
  );
  f.peers.up = [];
  t.is(await f.writer.write(puts('c'), 'ONE'), TS, 'with no other node up, the batch is logged here only');
  t.is(f.writer.counters.batchesShortOfCopies, 2);
});

test('a failed batch keeps its holders: the replay that writes it tells them', async (t) => {
  const f = await fixture();
  f.coordinator.failing.set('b', timedOut('no', 0, 1));
  await t.throwsAsync(f.writer.write(puts('a', 'b'), 'QUORUM'));
  t.deepEqual(f.peers.forgotten, [], 'still logged: the copies stay');
  f.coordinator.failing.clear();
  await f.writer.replay(never);
  t.is(f.log.size, 0);
  t.deepEqual(
    f.peers.forgotten.map((x) => x.peer),
    [8, 9],
  );
});

const copyOfK = (ownerBatch: number, createdMs: number): BatchCopy => ({
  ownerBatch,
  createdMs,
  items: [{ key: 'k', version: { value: 'v', ts: 42, deleted: false } }],
});

test('a holder keeps a copy durable, writes it itself only once older than the copy wait, then drops it', async (t) => {
  const f = await fixture();
  await f.writer.storeCopies(3, [copyOfK(11, 1_000)]);
  await f.writer.storeCopies(3, [copyOfK(11, 1_000)]);
  t.is(f.log.size, 1, 'a copy stored twice is held once');
  t.is(f.writer.copiesHeld, 1);
  t.deepEqual(
    (await f.log.list(0, 10)).map((b) => b.copyOf),
    [{ owner: 3, ownerBatch: 11 }],
  );
  f.clock.ms = 1_000 + COPY_WAIT_MS - 1;
  await f.writer.replay(never);
  t.deepEqual(f.coordinator.written, [], 'its coordinator may still be writing it');
  f.clock.ms = 1_000 + COPY_WAIT_MS;
  await f.writer.replay(never);
  t.deepEqual(f.coordinator.written, [{ item: { key: 'k', version: { value: 'v', ts: 42, deleted: false } }, level: 'ONE' }]);
  t.is(f.log.size, 0);
  t.like(f.writer.counters, { batchCopiesHeld: 1, batchCopiesReplayed: 1, batchesReplayed: 1 });
  t.deepEqual(f.peers.forgotten, [], 'a holder tells nobody');
});

test('a copy its coordinator says is written is dropped unwritten; a young copy is written when the node leaves', async (t) => {
  const f = await fixture();
  await f.writer.storeCopies(3, [copyOfK(11, 1_000), copyOfK(12, 1_000)]);
  await f.writer.forgetCopies(3, [
    { ownerBatch: 11, createdMs: 1_000 },
    { ownerBatch: 11, createdMs: 999 },
    { ownerBatch: 99, createdMs: 1_000 },
  ]);
  t.is(f.log.size, 1, 'only the copy named by id and time');
  t.is(f.writer.counters.batchCopiesForgotten, 1);
  await f.writer.replay(never, true);
  t.is(f.coordinator.written.length, 1);
  t.is(f.log.size, 0);
  t.deepEqual(f.peers.asked, [], 'a leaving node asks nobody');
});

test('a copy past the wait is left to its coordinator while it holds the batch; asked again a wait later, and written once it does not', async (t) => {
  const f = await fixture();
  await f.writer.storeCopies(3, [copyOfK(11, 1_000), copyOfK(12, 1_000)]);
  await f.writer.storeCopies(4, [copyOfK(11, 1_000)]);
  f.peers.holding.add('3/11');
  f.clock.ms = 1_000 + COPY_WAIT_MS;
  await f.writer.replay(never);
  t.deepEqual(
    f.peers.asked,
    [
      {
        peer: 3,
        refs: [
          { ownerBatch: 11, createdMs: 1_000 },
          { ownerBatch: 12, createdMs: 1_000 },
        ],
      },
      { peer: 4, refs: [{ ownerBatch: 11, createdMs: 1_000 }] },
    ],
    'one call to each coordinator',
  );
  t.is(f.coordinator.written.length, 2, "node 3's batch 12 and node 4's batch 11 are written here");
  t.deepEqual(
    (await f.log.list(0, 10)).map((b) => b.copyOf),
    [{ owner: 3, ownerBatch: 11 }],
  );
  t.is(f.writer.counters.batchCopiesDeferred, 1);
  f.clock.ms += COPY_WAIT_MS - 1;
  await f.writer.replay(never);
  t.is(f.peers.asked.length, 2, 'not asked again within a wait');
  t.is(f.coordinator.written.length, 2);
  f.clock.ms += 1;
  await f.writer.replay(never);
  t.is(f.peers.asked.length, 3, 'asked again a wait later');
  t.is(f.coordinator.written.length, 2, 'still held there');
  f.peers.holding.clear();
  f.clock.ms += COPY_WAIT_MS;
  await f.writer.replay(never);
  t.is(f.coordinator.written.length, 3, 'the coordinator wrote it, or lost it: written here too');
  t.is(f.log.size, 0);
  t.like(f.writer.counters, { batchCopiesDeferred: 2, batchCopiesReplayed: 3 });
});

test('a copy whose coordinator cannot be asked is written', async (t) => {
  const f = await fixture();
  await f.writer.storeCopies(3, [copyOfK(11, 1_000)]);
  f.peers.holding.add('3/11');
  f.peers.unreachable.add(3);
  f.clock.ms = 1_000 + COPY_WAIT_MS;
  await f.writer.replay(never);
  t.is(f.peers.asked.length, 1);
  t.is(f.coordinator.written.length, 1);
  t.is(f.log.size, 0);
  t.like(f.writer.counters, { batchCopiesDeferred: 0, batchCopiesReplayed: 1 });
});

test('a coordinator holds its own batches while they are logged, named by id and time; never the copies it keeps for others', async (t) => {
  const f = await fixture();
  f.coordinator.failing.set('a', timedOut('no', 0, 1));
  await t.throwsAsync(f.writer.write(puts('a'), 'ONE'));
  const [logged] = await f.log.list(0, 10);
  await f.writer.storeCopies(3, [copyOfK(logged!.id + 1, 1_000)]);
  const asked = [
    { ownerBatch: logged!.id, createdMs: 1_000 },
    { ownerBatch: logged!.id, createdMs: 999 },
    { ownerBatch: logged!.id + 1, createdMs: 1_000 },
  ];
  t.deepEqual(f.writer.heldBatches(asked), [asked[0]]);
  f.coordinator.failing.clear();
  await f.writer.replay(never);
  t.is(f.log.size, 1, 'the copy is young and stays');
  t.deepEqual(f.writer.heldBatches(asked), [], 'written, so no longer held');
});

test('copy holders: the next peers up after this node in id order, wrapping round', (t) => {
  const up =
    (...ids: number[]) =>
    (id: number) =>
      ids.includes(id);
  const cases: [number, number[], (id: number) => boolean, number[]][] = [
    [1, [0, 1, 2, 3], up(0, 2, 3), [2, 3]],
    [3, [0, 1, 2, 3], up(0, 1, 2), [0, 1]],
    [2, [3, 0, 1], up(0, 1, 3), [3, 0]],
    [1, [0, 1, 2, 3], up(0), [0]],
    [0, [1, 2, 3, 4], up(1, 3, 4), [1, 3]],
    [0, [], up(), []],
  ];
  for (const [self, peers, isUp, holders] of cases) t.deepEqual(copyHolders(self, peers, isUp), holders, `node ${self} of ${peers}`);
});

test('an unlogged batch is checked whole and stamped once, but neither logged nor copied, and its failure says it may stay in part', async (t) => {
  const f = await fixture();
  f.coordinator.down.add('b');
  const refused = await t.throwsAsync(f.writer.writeUnlogged(puts('a', 'b'), 'QUORUM'));
  t.is((refused as KvError).code, 'Unavailable');
  t.deepEqual(f.coordinator.written, [], 'nothing written');
  f.coordinator.down.clear();
  t.is(await f.writer.writeUnlogged(puts('a', 'b'), 'QUORUM'), TS);
  t.deepEqual(
    f.coordinator.written.map((w) => [w.item.key, w.level, w.item.version.ts]),
    [
      ['a', 'QUORUM', TS],
      ['b', 'QUORUM', TS],
    ],
  );
  f.coordinator.failing.set('b', new KvError('Unavailable', 'node 3 went down', { required: 2, alive: 1 }));
  const err = await t.throwsAsync(f.writer.writeUnlogged(puts('a', 'b'), 'QUORUM'));
  t.is((err as KvError).code, 'TimedOut');
  t.is(err!.message, 'key 2 of 2: node 3 went down; the batch was not logged: the keys written stay written, and the others may never be');
  t.is(f.log.size, 0, 'no log');
  t.deepEqual(f.peers.stored, [], 'no copies');
  t.like(f.writer.counters, { unloggedBatches: 2, unloggedBatchesFailed: 1, batches: 0 });
});

test("a write's own timestamp (USING TIMESTAMP) stamps it, its TTL counted from it, and goes into the clock; one too far ahead refuses the batch", async (t) => {
  const f = await fixture();
  const old = TS - 3_000_000;
  const writes: BatchWriteInput[] = [
    { key: 'a', value: 'kept', deleted: false, ttlSeconds: 10, ts: old },
    { key: 'b', value: 'new', deleted: false, ttlSeconds: 0 },
  ];
  for (const write of [(w: BatchWriteInput[]) => f.writer.write(w, 'ONE'), (w: BatchWriteInput[]) => f.writer.writeUnlogged(w, 'ONE')]) {
    f.coordinator.written.length = 0;
    t.is(await write(writes), TS, "the call answers the batch's own timestamp");
    t.deepEqual(
      f.coordinator.written.map((w) => [w.item.key, w.item.version]),
      [
        ['a', { value: 'kept', ts: old, deleted: false, expires: old + 10_000_000 }],
        ['b', { value: 'new', ts: TS, deleted: false }],
      ],
    );
  }
  t.deepEqual(f.observed, [old, old]);
  const ahead = TS + CLOCK_AHEAD_MS_MAX * 1000 + 1;
  f.coordinator.written.length = 0;
  const logged = f.log.size;
  for (const write of [(w: BatchWriteInput[]) => f.writer.write(w, 'ONE'), (w: BatchWriteInput[]) => f.writer.writeUnlogged(w, 'ONE')]) {
    const err = await t.throwsAsync(write([...puts('c'), { key: 'd', value: 'x', deleted: false, ttlSeconds: 0, ts: ahead }]));
    t.is((err as KvError).code, 'InvalidRequest');
    t.is(err!.message, `key 2 of 2: its timestamp ${ahead} is more than 5 minutes ahead of node 7's clock`);
  }
  t.deepEqual(f.coordinator.written, [], 'nothing written');
  t.is(f.log.size, logged, 'nothing logged');
  t.deepEqual(f.observed, [old, old], 'nothing taken into the clock');
});
