/**
 * A replica's Paxos state in SQLite: every promise, accept and commit is
 * durable before its answer (a reopened file holds it), a commit writes the
 * value with the ballot's timestamp, and the sweep forgets only state that
 * nothing needs.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemTime, Time } from '../../src/clock/time';
import { PAXOS_KEY_WAITING_MAX, PAXOS_STATE_GRACE_MS } from '../../src/common/limits';
import { PaxosStore } from '../../src/paxos/paxos-store';
import { SqlitePaxosState } from '../../src/paxos/paxos-sqlite';
import { createPaxosTables } from '../../src/storage/schema';
import { Sqlite } from '../../src/storage/sqlite';
import { KeyedVersion, Version } from '../../src/storage/version';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-paxos-store-'));
let fileNo = 0;

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

class MapData {
  readonly versions = new Map<string, Version>();
  get(key: string): Version | undefined {
    return this.versions.get(key);
  }
  async apply(items: readonly KeyedVersion[]): Promise<void> {
    for (const it of items) this.versions.set(it.key, it.version);
  }
}

/** systemTime with its wall clock moved by `aheadMs`. */
function shifted(aheadMs: number): Time {
  return { ...systemTime, nowMs: () => Date.now() + aheadMs };
}

async function open(
  path: string,
  data = new MapData(),
  time: Time = systemTime,
): Promise<{ db: Sqlite; store: PaxosStore; data: MapData }> {
  const db = await Sqlite.open(path);
  await createPaxosTables(db);
  return { db, store: new PaxosStore(new SqlitePaxosState(db), data, time), data };
}

test('promises and accepts survive a reopen; a commit writes the value and ends the instance', async (t) => {
  const path = join(dir, `p${++fileNo}.db`);
  const nowUs = Date.now() * 1000;
  const ballot = { ts: nowUs, node: 1 };
  const first = await open(path);
  t.true((await first.store.prepare('k\u00ff', ballot, 'r1')).reply.promised);
  t.true((await first.store.propose('k\u00ff', { ballot, value: 'v\u0000\u00e9', requestId: 'r1' })).accepted);
  await first.db.close();

  const second = await open(path);
  const refused = await second.store.prepare('k\u00ff', { ts: nowUs - 1, node: 2 }, '');
  t.false(refused.reply.promised, 'the promise was durable');
  const later = await second.store.prepare('k\u00ff', { ts: nowUs + 1, node: 2 }, 'r1');
  t.is(later.reply.accepted?.value, 'v\u0000\u00e9', 'so was the accepted proposal, bytes and all');
  await second.store.commit('k\u00ff', { ballot: { ts: nowUs + 1, node: 2 }, value: 'v\u0000\u00e9', requestId: 'r1' });
  t.deepEqual(second.data.get('k\u00ff'), { value: 'v\u0000\u00e9', ts: nowUs + 1, deleted: false });
  const state = await second.store.load('k\u00ff');
  t.is(state.accepted, undefined);
  t.is(state.committed?.requestId, 'r1');
  t.true((await second.store.prepare('k\u00ff', { ts: nowUs + 2, node: 0 }, 'r1')).reply.requestCommitted);
  await second.db.close();
});

test('the sweep deletes committed state past its grace, and never an unfinished proposal', async (t) => {
  const path = join(dir, `p${++fileNo}.db`);
  const { db, store, data } = await open(path);
  const nowUs = Date.now() * 1000;
  await store.commit('done', { ballot: { ts: nowUs, node: 0 }, value: 'x', requestId: 'r1' });
  await store.prepare('open', { ts: nowUs, node: 0 }, '');
  await store.propose('open', { ballot: { ts: nowUs, node: 0 }, value: 'y', requestId: 'r2' });
  t.is(await store.sweep(100), 0, 'nothing is past its grace yet');
  // An hour and a bit later:
  const later = new PaxosStore(new SqlitePaxosState(db), data, shifted(PAXOS_STATE_GRACE_MS + 1000));
  t.is(await later.sweep(100), 1);
  t.deepEqual(await later.load('done'), { recent: [] });
  t.is((await later.load('open')).accepted?.value, 'y');
  t.false((await later.prepare('open', { ts: nowUs + 5, node: 1 }, '')).reply.promised, 'a ballot past the grace is refused');
  await db.close();
});

test('messages past PAXOS_KEY_WAITING_MAX for one key are refused as Unavailable, and the queue takes messages again once it drains', async (t) => {
  const path = join(dir, `p${++fileNo}.db`);
  const { db, store } = await open(path);
  const nowUs = Date.now() * 1000;
  const sent = PAXOS_KEY_WAITING_MAX + 5;
  const answers = await Promise.allSettled(
    Array.from({ length: sent }, (_, i) => store.prepare('hot', { ts: nowUs + i, node: 1 }, `r${i}`)),
  );
  const refused = answers.filter((a) => a.status === 'rejected');
  t.is(refused.length, 5);
  for (const r of refused) {
    const reason = (r as PromiseRejectedResult).reason;
    t.is(reason.code, 'Unavailable');
    t.regex(reason.message, /too many compare-and-set messages waiting for this key/);
  }
  t.is(store.counters.refused, 5);
  t.is(store.queued, 0, 'every message answered leaves the queue');
  // Another key was never affected, and the busy key takes messages again.
  t.true((await store.prepare('hot', { ts: nowUs + sent, node: 1 }, 'again')).reply.promised);
  t.true((await store.prepare('cold', { ts: nowUs, node: 1 }, 'c')).reply.promised);
  await db.close();
});

test('paxosRows pages a range of keys in byte order; paxosMerge takes another replica’s rows up, durably, and a retry of their request finds it', async (t) => {
  const nowUs = Date.now() * 1000;
  const source = await open(join(dir, `p${++fileNo}.db`));
  // Keys with bytes above 0x7f: the rows must come back in the ring's byte order.
  const keys = ['a', 'b\u0001', 'b\u00ff', 'c'];
  for (const [i, key] of keys.entries()) {
    const p = { ballot: { ts: nowUs + i, node: 1 }, value: `v${i}`, requestId: `r${i}` };
    await source.store.commit(key, p);
  }
  const first = await source.store.paxosRows('b', 'c', 1);
  t.deepEqual(
    first.rows.map((r) => r.key),
    ['b\u0001'],
  );
  t.true(first.more);
  const rest = await source.store.paxosRows('b\u0001\u0000', 'c', 10);
  t.deepEqual(
    rest.rows.map((r) => r.key),
    ['b\u00ff'],
  );
  t.false(rest.more);
  t.deepEqual(
    (await source.store.paxosRows('', undefined, 10)).rows.map((r) => r.key),
    keys,
  );

  // The gaining replica already holds a newer commit of one key (it took messages as a pending replica).
  const path = join(dir, `p${++fileNo}.db`);
  const target = await open(path);
  await target.store.commit('b\u00ff', { ballot: { ts: nowUs + 10, node: 2 }, value: 'newer', requestId: 'r-new' });
  await target.store.paxosMerge([...first.rows, ...rest.rows]);
  await target.db.close();
  const reopened = await open(path);
  const merged = await reopened.store.load('b\u00ff');
  t.is(merged.committed?.requestId, 'r-new', 'the newer commit stays');
  t.deepEqual(
    merged.recent.map((r) => r.requestId),
    ['r2', 'r-new'],
  );
  t.true((await reopened.store.prepare('b\u0001', { ts: nowUs + 20, node: 0 }, 'r1')).reply.requestCommitted);
  await reopened.db.close();
  await source.db.close();
});
