/**
 * Anti-entropy between two replica stores in one process: the paging by
 * key hash, the reply's byte budget and the cursor's wrap-around, with the
 * RPC replaced by direct calls.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKvError } from '../../src/common/errors';
import { SYNC_PAGE_KEYS, SYNC_REPLY_BYTES_MAX } from '../../src/common/limits';
import { Ring } from '../../src/partitioner/ring';
import { AntiEntropy, SyncPeer } from '../../src/repair/anti-entropy';
import { HASH_SPACE } from '../../src/storage/memtable';
import { KeyedVersion, ReplicaStore } from '../../src/storage/replica-store';
import { Sqlite } from '../../src/storage/sqlite';
import { Version } from '../../src/storage/version';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-anti-entropy-'));
let fileNo = 0;
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** Two nodes, both replicas of every key. */
const ring = new Ring(
  [
    { id: 0, token: 'm' },
    { id: 1, token: '\u00ff' },
  ],
  2,
);

interface Side {
  db: Sqlite;
  store: ReplicaStore;
  ae: AntiEntropy;
}

/** Answers cut short by the byte budget, over all pairs. */
let cutReplies = 0;

async function pair(): Promise<[Side, Side]> {
  const open = async (): Promise<{ db: Sqlite; store: ReplicaStore }> => {
    const db = await Sqlite.open(join(dir, `store-${++fileNo}.db`));
    return { db, store: await ReplicaStore.open(db) };
  };
  const a = await open();
  const b = await open();
  const peer = (other: { store: ReplicaStore }, ae: () => AntiEntropy, selfId: number): SyncPeer => ({
    sync: async (from, to, digests) => {
      const answer = await ae().answer(selfId, from, to, digests);
      if (answer.coveredTo < to) cutReplies++;
      return answer;
    },
    apply: (items) => other.store.apply(items),
  });
  let aeA: AntiEntropy;
  let aeB: AntiEntropy;
  const up = (): boolean => true;
  aeA = new AntiEntropy(0, ring, a.store, new Map([[1, peer(b, () => aeB, 0)]]), up, (items) => a.store.apply(items));
  aeB = new AntiEntropy(1, ring, b.store, new Map([[0, peer(a, () => aeA, 1)]]), up, (items) => b.store.apply(items));
  return [
    { ...a, ae: aeA },
    { ...b, ae: aeB },
  ];
}

/** What a store holds, with each value shortened to its length and first bytes (so a failure prints readably). */
async function contents(s: Side): Promise<Array<{ key: string; version: Version }>> {
  await s.store.drain();
  const short = ({ key, version: v }: KeyedVersion): { key: string; version: Version } => ({
    key,
    version: { ts: v.ts, deleted: v.deleted, value: `${v.value.length}:${v.value.slice(0, 8)}` },
  });
  return (await s.store.scan(undefined, 1_000_000)).map(short);
}

test('steps from one side page through every hash and leave both stores equal', async (t) => {
  const [a, b] = await pair();
  const big = 'x'.repeat(2000);
  const put = (s: Side, key: string, v: Version): Promise<void> => s.store.apply([{ key, version: v }]);
  const n = 30 * SYNC_PAGE_KEYS;
  for (let i = 0; i < n; i++) {
    const key = `k${i}`;
    const v = (ts: number, value = `v${ts}`): Version => ({ ts, value, deleted: false });
    switch (i % 5) {
      case 0:
        await put(a, key, v(10));
        break; // only on a
      case 1:
        await put(b, key, v(10, big));
        break; // only on b
      case 2:
        await put(a, key, v(20));
        await put(b, key, v(10));
        break; // a newer
      case 3:
        await put(a, key, v(10));
        await put(b, key, { ts: 20, value: '', deleted: true });
        break; // b deleted it later
      case 4:
        await put(a, key, v(10));
        await put(b, key, v(10));
        break; // equal
    }
  }
  const wanted = new Map<string, Version>();
  for (const s of [a, b])
    for (const { key, version } of await contents(s)) {
      const w = wanted.get(key);
      if (w === undefined || version.ts > w.ts) wanted.set(key, version);
    }
  // One pass over every hash: about n / SYNC_PAGE_KEYS steps, plus one per reply cut short.
  for (let step = 0; step < 100 && a.ae.counters.syncPasses === 0; step++) await a.ae.step();
  t.is(a.ae.counters.syncPasses, 1);
  t.is(a.ae.counters.syncErrors, 0);
  const [ca, cb] = [await contents(a), await contents(b)];
  t.deepEqual(ca, cb, 'both stores hold the same versions');
  t.is(ca.length, n);
  for (const { key, version } of ca) t.deepEqual(version, wanted.get(key), key);
  t.true(a.ae.counters.syncReceived >= n / 5, 'a took in what only b held');
  await a.db.close();
  await b.db.close();
});

test('answer refuses ranges outside the hash space, and too many digests', async (t) => {
  const [a, b] = await pair();
  for (const [from, to] of [
    [5, 5],
    [-1, 10],
    [0, HASH_SPACE + 1],
    [0.5, 10],
  ] as const) {
    const err = await t.throwsAsync(a.ae.answer(1, from, to, []));
    t.true(isKvError(err) && err.code === 'InvalidRequest', `[${from}, ${to})`);
  }
  const many = Array.from({ length: SYNC_PAGE_KEYS + 1 }, (_, i) => ({ key: `k${i}`, ts: 1, deleted: false, valueHash: 0 }));
  const err = await t.throwsAsync(a.ae.answer(1, 0, HASH_SPACE, many));
  t.true(isKvError(err) && err.code === 'InvalidRequest');
  await a.db.close();
  await b.db.close();
});

test('a node that holds nothing takes in large values from a peer, over replies cut at the byte budget', async (t) => {
  const [a, b] = await pair();
  const big = 'y'.repeat(100_000);
  const n = 150;
  for (let i = 0; i < n; i++) await b.store.apply([{ key: `big${i}`, version: { ts: 10 + i, value: big, deleted: false } }]);
  t.true(n * big.length > 3 * SYNC_REPLY_BYTES_MAX, 'more than three replies of values');
  const cutBefore = cutReplies;
  for (let step = 0; step < 100 && a.ae.counters.syncPasses === 0; step++) await a.ae.step();
  t.is(a.ae.counters.syncErrors, 0);
  t.true(cutReplies - cutBefore >= 3, `${cutReplies - cutBefore} replies cut at the byte budget`);
  t.deepEqual(await contents(a), await contents(b));
  t.is(a.ae.counters.syncReceived, n);
  await a.db.close();
  await b.db.close();
});
