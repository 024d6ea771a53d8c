/**
 * A node's cleanup on a real store: it deletes the keys of the ranges the
 * node does not replicate in batches, keeps the rest and the epoch slots'
 * keys, is refused while an operation runs, and stops when the epoch moves;
 * the reclaimable measure follows it.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemTime, Time } from '../../src/clock/time';
import { CLEANUP_BATCH_KEYS_MAX } from '../../src/common/limits';
import { applyChange, bootstrapEntry, Change, Membership, replayLog } from '../../src/membership/changes';
import { epochSlotKey } from '../../src/membership/epoch-log';
import { Placement } from '../../src/membership/placement';
import { Cleanup, ReclaimableMeasure } from '../../src/operations/cleanup';
import { ReplicaStore } from '../../src/storage/replica-store';
import { Sqlite } from '../../src/storage/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-cleanup-'));
let fileNo = 0;
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** The four-node ring after `changes`, as a node's log gives it. */
function logAfter(...changes: Change[]): { epoch: number; membership: Membership; placement: Placement } {
  let m = replayLog([
    bootstrapEntry(
      ['M', 'f', 'p', '\u007f'].map((token, id) => ({ id, token })),
      3,
    ),
  ]);
  for (const change of changes) m = applyChange(m, { epoch: m.epoch + 1, change });
  return { epoch: m.epoch, membership: m, placement: Placement.of(m) };
}

const JOINED: Change[] = [
  { kind: 'join-begin', node: 4, token: 'k' },
  { kind: 'reads-switch', node: 4 },
  { kind: 'join-complete', node: 4 },
];

/** Node 3's store after node 4 joined at "k": it gave up (0x7f, M] and (M, f], and keeps (f, 0x7f]. */
async function node3Store(): Promise<{ db: Sqlite; store: ReplicaStore; given: string[]; kept: string[] }> {
  const db = await Sqlite.open(join(dir, `store-${++fileNo}.db`));
  const store = await ReplicaStore.open(db);
  const given = [
    ...Array.from({ length: CLEANUP_BATCH_KEYS_MAX + 500 }, (_, i) => `a${String(i).padStart(5, '0')}`),
    ...['B', 'Cat', '\u0001'],
  ];
  const kept = ['g', 'l', 'q', 'z'];
  const all = [...given, ...kept, epochSlotKey(2)];
  await store.apply(all.map((key) => ({ key, version: { value: `v-${key}`, ts: 1, deleted: false } })));
  return { db, store, given, kept };
}

const bytesOf = (keys: readonly string[]): number => keys.reduce((n, k) => n + k.length + `v-${k}`.length, 0);

test('cleanup deletes every key of the ranges the node gave up, in batches, and keeps its ranges and the epoch slots', async (t) => {
  const { db, store, given, kept } = await node3Store();
  try {
    const log = logAfter(...JOINED);
    const measure = new ReclaimableMeasure({ selfId: 3, log, time: systemTime, store, intervalMs: 60_000 });
    t.deepEqual(measure.current(), { reclaimableKeys: given.length, reclaimableBytes: bytesOf(given) });
    const said: string[] = [];
    const cleanup = new Cleanup({ selfId: 3, log, store, time: systemTime, say: (m) => said.push(m) });
    await cleanup.run();
    t.deepEqual(cleanup.report, { keys: given.length, bytes: bytesOf(given), epoch: 4, done: true });
    t.deepEqual(
      store.scan(undefined, 100).map((e) => e.key),
      [epochSlotKey(2), ...kept],
    );
    t.deepEqual(
      measure.current(),
      { reclaimableKeys: given.length, reclaimableBytes: bytesOf(given) },
      'measured at most once per interval',
    );
    measure.stale();
    t.deepEqual(measure.current(), { reclaimableKeys: 0, reclaimableBytes: 0 });
    t.deepEqual(said, [`cleanup at epoch 4: deleted ${given.length} keys (${bytesOf(given)} bytes) of ranges node 3 does not replicate`]);
  } finally {
    await db.close();
  }
});

test('cleanup is refused while an operation runs, and deletes nothing', async (t) => {
  const { db, store } = await node3Store();
  try {
    const log = logAfter(JOINED[0]!, JOINED[1]!);
    const err = t.throws(() => new Cleanup({ selfId: 3, log, store, time: systemTime, say: () => undefined }));
    t.is(err!.message, 'an operation (join of node 4) is in progress; run cleanup once it is done (its pending ranges are not garbage)');
    t.is(store.size, CLEANUP_BATCH_KEYS_MAX + 500 + 3 + 4 + 1);
  } finally {
    await db.close();
  }
});

test('a cleanup stops, saying so, once the ring moves to another epoch', async (t) => {
  const { db, store } = await node3Store();
  try {
    const log = logAfter(...JOINED);
    // The epoch moves while the first full batch is deleted (the batches before it found no key).
    const moving = {
      dropRange: async (from: string, to: string | undefined, limit: number) => {
        const r = await store.dropRange(from, to, limit);
        if (r.keys === limit) log.epoch++;
        return r;
      },
    };
    const cleanup = new Cleanup({ selfId: 3, log, store: moving, time: systemTime, say: () => undefined });
    const err = await t.throwsAsync(cleanup.run());
    const sentence = `the ring moved from epoch 4 to 5 during the cleanup, which stopped after deleting ${CLEANUP_BATCH_KEYS_MAX} keys; run it again`;
    t.is(err!.message, sentence);
    t.like(cleanup.report, { keys: CLEANUP_BATCH_KEYS_MAX, done: false, error: sentence });
  } finally {
    await db.close();
  }
});

test('the reclaimable measure is taken again when the epoch moves or its interval has passed', async (t) => {
  const { db, store, given } = await node3Store();
  try {
    let nowMs = 0;
    const time: Time = { ...systemTime, monotonicMs: () => nowMs };
    const log = logAfter();
    const measure = new ReclaimableMeasure({ selfId: 3, log, time, store, intervalMs: 10_000 });
    // On the bootstrap ring node 3 holds no replica of (0x7f, M]: "B", "Cat" and "\u0001".
    const bootstrapNeedless = given.filter((k) => k < 'M');
    t.is(measure.current().reclaimableKeys, bootstrapNeedless.length);
    Object.assign(log, logAfter(...JOINED));
    t.is(measure.current().reclaimableKeys, given.length, 'a new epoch is measured at once');
    await store.dropRange('a', 'b', 10);
    nowMs = 9_999;
    t.is(measure.current().reclaimableKeys, given.length);
    nowMs = 10_000;
    t.is(measure.current().reclaimableKeys, given.length - 10);
  } finally {
    await db.close();
  }
});
