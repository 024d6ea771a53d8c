/**
 * A cleanup's local removal (ReplicaStorage.dropRange) on the real store and
 * the simulator's: keys of a range go from memory and disk without a
 * tombstone, older rows of theirs with them, so a replay does not bring them
 * back; a key with a write waiting to commit stays.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryReplicaStore } from '../../src/sim/memory-store';
import { SimDisk } from '../../src/sim/disk';
import { Owner, Scheduler } from '../../src/sim/scheduler';
import { Random } from '../../src/common/random';
import { ReplicaStore } from '../../src/storage/replica-store';
import { Sqlite } from '../../src/storage/sqlite';
import type { Version } from '../../src/storage/version';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-range-drop-'));
let fileNo = 0;
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const val = (ts: number, value: string): Version => ({ ts, value, deleted: false });
const keys = (store: { scan(after: string | undefined, limit: number): { key: string }[] }): string[] =>
  store.scan(undefined, 1000).map((e) => e.key);

async function open(path: string): Promise<{ db: Sqlite; store: ReplicaStore }> {
  const db = await Sqlite.open(path);
  return { db, store: await ReplicaStore.open(db) };
}

test('dropRange removes a range batch by batch, older rows too, and a replay does not bring any of it back', async (t) => {
  const path = join(dir, `store-${++fileNo}.db`);
  let { db, store } = await open(path);
  try {
    await store.apply(['a', 'b1', 'b2', 'b3', 'b4', 'c'].map((key) => ({ key, version: val(1, `old-${key}`) })));
    // Superseded rows of b1 and b2 stay in the log until a compaction.
    await store.apply(['b1', 'b2'].map((key) => ({ key, version: val(2, `new-${key}`) })));
    t.deepEqual(store.measureRange('b', 'c'), { keys: 4, bytes: 4 * 2 + 2 * 'new-b1'.length + 2 * 'old-b3'.length });
    const first = await store.dropRange('b', 'c', 3);
    t.deepEqual(first, { keys: 3, bytes: 3 * 2 + 'new-b1'.length + 'new-b2'.length + 'old-b3'.length, next: 'b3\u0000' });
    const second = await store.dropRange(first.next!, 'c', 3);
    t.deepEqual(second, { keys: 1, bytes: 2 + 'old-b4'.length, next: undefined });
    t.deepEqual(keys(store), ['a', 'c']);
    t.deepEqual(store.measureRange('b', 'c'), { keys: 0, bytes: 0 });
    t.is(store.counters.keysDropped, 4);
    const rows = await db.all<{ key: string }>('SELECT key FROM log ORDER BY key');
    t.deepEqual(
      rows.map((r) => r.key),
      ['a', 'c'],
      'no tombstone and no older row left',
    );
    await store.drain();
    await db.close();
    ({ db, store } = await open(path));
    t.deepEqual(keys(store), ['a', 'c'], 'the replay holds none of the range');
    await store.apply([{ key: 'b1', version: val(1, 'older-than-before') }]);
    t.deepEqual(store.get('b1')?.value, 'older-than-before', 'no tombstone holds back a later copy of a key');
  } finally {
    await db.close();
  }
});

test('dropRange keeps a key whose newer write waits to commit, and that write', async (t) => {
  const path = join(dir, `store-${++fileNo}.db`);
  let { db, store } = await open(path);
  try {
    await store.apply([
      { key: 'k1', version: val(1, 'a') },
      { key: 'k2', version: val(1, 'b') },
    ]);
    const write = store.apply([{ key: 'k1', version: val(2, 'newer') }]);
    const dropped = await store.dropRange('k', 'l', 10);
    await write;
    t.is(dropped.keys, 1);
    t.deepEqual(keys(store), ['k1']);
    await store.drain();
    await db.close();
    ({ db, store } = await open(path));
    t.is(store.get('k1')?.value, 'newer');
    t.is(store.get('k2'), undefined);
  } finally {
    await db.close();
  }
});

test("the simulator's store drops a range as the real one does, through a crash", async (t) => {
  const sched = new Scheduler();
  const disk = new SimDisk(true);
  const owner = new Owner('node 0#1');
  disk.attach(sched.timeFor(owner), new Random(1));
  const store = await MemoryReplicaStore.open(disk, sched.timeFor(owner));
  await sched.runWhile(store.apply(['a', 'b1', 'b2', 'c'].map((key) => ({ key, version: val(1, key) }))), 1000);
  await sched.runWhile(store.apply([{ key: 'b1', version: val(2, 'newer') }]), 1000);
  t.deepEqual(store.measureRange('b', 'c'), { keys: 2, bytes: 2 + 'newer'.length + 2 + 'b2'.length });
  const first = store.dropRange('b', 'c', 1);
  await sched.runWhile(first, 1000);
  t.deepEqual(await first, { keys: 1, bytes: 2 + 'newer'.length, next: 'b1\u0000' });
  const second = store.dropRange('b1\u0000', 'c', 1);
  await sched.runWhile(second, 1000);
  t.deepEqual(await second, { keys: 1, bytes: 4, next: undefined });
  t.deepEqual(keys(store), ['a', 'c']);
  owner.alive = false;
  const again = new Owner('node 0#2');
  disk.attach(sched.timeFor(again), new Random(2));
  const reopened = await MemoryReplicaStore.open(disk, sched.timeFor(again));
  t.deepEqual(keys(reopened), ['a', 'c']);
});
