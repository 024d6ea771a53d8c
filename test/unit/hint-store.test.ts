import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HINTS_QUEUED_MAX } from '../../src/common/limits';
import { waitFor } from '../../src/harness/local-cluster';
import { HintStore, StoredHint } from '../../src/hints/hint-store';
import { Sqlite } from '../../src/storage/sqlite';
import { KeyedVersion } from '../../src/storage/version';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-hint-store-'));
let fileNo = 0;

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A clock driven by hand, in milliseconds. */
class ManualClock {
  ms = 1_000;
  readonly now = (): number => this.ms;
}

interface Opened {
  path: string;
  db: Sqlite;
  hints: HintStore;
  clock: ManualClock;
}

async function openHints(path = join(dir, `hints-${++fileNo}.db`), clock = new ManualClock()): Promise<Opened> {
  const db = await Sqlite.open(path);
  const hints = await HintStore.open(db, clock.now);
  return { path, db, hints, clock };
}

async function reopen(o: Opened): Promise<Opened> {
  await o.hints.flush();
  await o.db.close();
  return openHints(o.path, o.clock);
}

const item = (key: string, ts: number, value = `v-${key}`): KeyedVersion => ({ key, version: { value, ts, deleted: false } });
const tomb = (key: string, ts: number): KeyedVersion => ({ key, version: { value: '', ts, deleted: true } });

const counts = (o: Opened): Array<[number, number]> => [...o.hints.countsByTarget()].sort(([a], [b]) => a - b);
const strip = (h: StoredHint): KeyedVersion => ({ key: h.key, version: h.version });

async function diskCount(db: Sqlite): Promise<number> {
  return (await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM hints'))[0]!.n;
}

test('add counts hints per target at once, and resolves once they are on disk', async (t) => {
  const o = await openHints();
  try {
    const a = o.hints.add(1, [item('a', 1), item('b', 2), item('c', 3)]);
    const b = o.hints.add(2, [item('x', 4), tomb('y', 5)]);
    t.deepEqual(
      counts(o),
      [
        [1, 3],
        [2, 2],
      ],
      'queued hints are counted',
    );
    t.is(o.hints.count(1), 3);
    t.is(o.hints.count(3), 0);
    t.is(o.hints.counters.hintsStored, 5);
    t.deepEqual(await Promise.all([a, b]), [true, true], 'durable, and said so');
    t.is(await diskCount(o.db), 5);
  } finally {
    await o.db.close();
  }
});

test('next returns one target’s hints in id order, after an id, at most `limit`', async (t) => {
  const o = await openHints();
  try {
    o.clock.ms = 5_000;
    await o.hints.add(1, [item('a', 1), item('b', 2)]);
    await o.hints.add(2, [item('other', 9)]);
    o.clock.ms = 6_000;
    await o.hints.add(1, [tomb('c', 3), item('\u0000\u00ff', 4, '\u00fe\u0000')]);

    const all = await o.hints.next(1, 0, 100);
    t.deepEqual(all.map(strip), [item('a', 1), item('b', 2), tomb('c', 3), item('\u0000\u00ff', 4, '\u00fe\u0000')]);
    t.deepEqual(
      all.map((h) => h.createdMs),
      [5_000, 5_000, 6_000, 6_000],
    );
    const ids = all.map((h) => h.id);
    t.deepEqual(
      ids,
      [...ids].sort((x, y) => x - y),
      'ids ascend',
    );
    t.is(new Set(ids).size, 4);

    t.deepEqual(
      (await o.hints.next(1, 0, 2)).map((h) => h.key),
      ['a', 'b'],
    );
    t.deepEqual(
      (await o.hints.next(1, ids[1]!, 10)).map((h) => h.key),
      ['c', '\u0000\u00ff'],
    );
    t.deepEqual(await o.hints.next(1, ids[3]!, 10), []);
    t.deepEqual((await o.hints.next(2, 0, 10)).map(strip), [item('other', 9)]);
    t.deepEqual(await o.hints.next(3, 0, 10), []);
  } finally {
    await o.db.close();
  }
});

test('next sees hints still queued (it flushes first)', async (t) => {
  const o = await openHints();
  try {
    void o.hints.add(4, [item('q', 1)]);
    t.deepEqual((await o.hints.next(4, 0, 10)).map(strip), [item('q', 1)]);
  } finally {
    await o.db.close();
  }
});

test('remove with delivered=true counts deliveries, with delivered=false counts drops', async (t) => {
  const o = await openHints();
  try {
    await o.hints.add(1, [item('a', 1), item('b', 2), item('c', 3), item('d', 4)]);
    await o.hints.add(2, [item('z', 1)]);
    const ids = (await o.hints.next(1, 0, 10)).map((h) => h.id);

    await o.hints.remove(1, ids.slice(0, 2), true);
    t.is(o.hints.counters.hintsDelivered, 2);
    t.is(o.hints.counters.hintsDropped, 0);
    t.is(o.hints.count(1), 2);

    await o.hints.remove(1, ids.slice(2, 3), false);
    t.is(o.hints.counters.hintsDelivered, 2);
    t.is(o.hints.counters.hintsDropped, 1);
    t.is(o.hints.count(1), 1);

    await o.hints.remove(1, [], true);
    t.is(o.hints.counters.hintsDelivered, 2, 'removing nothing counts nothing');
    t.deepEqual([...o.hints.outcomesByTarget()], [[1, { delivered: 2, dropped: 1 }]], 'per target too');

    t.deepEqual(
      (await o.hints.next(1, 0, 10)).map((h) => h.key),
      ['d'],
    );
    t.deepEqual(counts(o), [
      [1, 1],
      [2, 1],
    ]);
    t.is(await diskCount(o.db), 2);
  } finally {
    await o.db.close();
  }
});

test('many hints: paging with next and removing them all (more rows than one statement holds)', async (t) => {
  let o = await openHints();
  try {
    const items = Array.from({ length: 1300 }, (_, i) => item(`k${i}`, i + 1));
    await o.hints.add(7, items);
    t.is(o.hints.count(7), 1300);
    const seen: StoredHint[] = [];
    let after = 0;
    for (;;) {
      const page = await o.hints.next(7, after, 500);
      if (page.length === 0) break;
      t.true(page.length <= 500);
      seen.push(...page);
      after = page[page.length - 1]!.id;
    }
    t.deepEqual(seen.map(strip), items, 'every hint once, in the order added');
    await o.hints.remove(
      7,
      seen.map((h) => h.id),
      true,
    );
    t.is(o.hints.count(7), 0);
    t.is(o.hints.counters.hintsDelivered, 1300);
    t.is(await diskCount(o.db), 0);
    o = await reopen(o);
    t.is(o.hints.count(7), 0);
  } finally {
    await o.db.close();
  }
});

test('expire drops hints created before the cutoff and counts them as dropped', async (t) => {
  const o = await openHints();
  try {
    o.clock.ms = 1_000;
    await o.hints.add(1, [item('a', 1), item('b', 2)]);
    o.clock.ms = 2_000;
    await o.hints.add(2, [item('c', 3)]);
    o.clock.ms = 2_500;
    await o.hints.add(2, [item('at-cutoff', 4)]);
    o.clock.ms = 3_000;
    await o.hints.add(1, [item('d', 5)]);

    t.is(await o.hints.expire(500), 0, 'nothing that old');
    t.is(o.hints.counters.hintsDropped, 0);

    t.is(await o.hints.expire(2_500), 3);
    t.is(o.hints.counters.hintsDropped, 3);
    t.deepEqual(
      [...o.hints.outcomesByTarget()].sort(),
      [
        [1, { delivered: 0, dropped: 2 }],
        [2, { delivered: 0, dropped: 1 }],
      ],
      'expired hints count against their targets',
    );
    t.deepEqual(counts(o), [
      [1, 1],
      [2, 1],
    ]);
    t.deepEqual(
      (await o.hints.next(1, 0, 10)).map((h) => h.key),
      ['d'],
    );
    t.deepEqual(
      (await o.hints.next(2, 0, 10)).map((h) => h.key),
      ['at-cutoff'],
      'created exactly at the cutoff is kept',
    );
    t.is(await diskCount(o.db), 2);
  } finally {
    await o.db.close();
  }
});

test('expire also covers hints still queued', async (t) => {
  const o = await openHints();
  try {
    o.clock.ms = 100;
    void o.hints.add(1, [item('queued', 1)]);
    t.is(await o.hints.expire(200), 1);
    t.is(o.hints.count(1), 0);
    t.is(await diskCount(o.db), 0);
  } finally {
    await o.db.close();
  }
});

test('hints survive reopening the database: counts, ids, contents and creation times', async (t) => {
  let o = await openHints();
  try {
    o.clock.ms = 42_000;
    await o.hints.add(1, [item('a', 1), tomb('b', 2)]);
    await o.hints.add(3, [item('\u00ff\u0000key', 3, '\u0000\u00ffvalue')]);
    void o.hints.add(1, [item('queued', 4)]); // reopen() flushes it
    const before1 = await o.hints.next(1, 0, 10);
    const before3 = await o.hints.next(3, 0, 10);

    o = await reopen(o);
    t.deepEqual(counts(o), [
      [1, 3],
      [3, 1],
    ]);
    t.deepEqual(await o.hints.next(1, 0, 10), before1);
    t.deepEqual(await o.hints.next(3, 0, 10), before3);
    t.deepEqual(before1.map(strip), [item('a', 1), tomb('b', 2), item('queued', 4)]);
    t.is(before3[0]!.createdMs, 42_000);

    // New hints after a reopen get ids after the old ones.
    await o.hints.add(1, [item('later', 5)]);
    const after = await o.hints.next(1, before1[before1.length - 1]!.id, 10);
    t.deepEqual(
      after.map((h) => h.key),
      ['later'],
    );
  } finally {
    await o.db.close();
  }
});

// HintDelivery reads a batch with next() while node.ts runs expire() on a
// timer; remove() of ids that expire() already deleted must not lower the
// count a second time, or kick() would stop replaying the hints still stored.
test('remove of ids already removed by expire does not lower the count again', async (t) => {
  const o = await openHints();
  try {
    o.clock.ms = 1_000;
    await o.hints.add(1, [item('old1', 1), item('old2', 2), item('old3', 3)]);
    o.clock.ms = 9_000;
    await o.hints.add(1, [item('new1', 4), item('new2', 5)]);

    const batch = await o.hints.next(1, 0, 10); // a delivery batch in flight
    t.is(await o.hints.expire(5_000), 3); // the timer expires the old ones meanwhile
    t.is(o.hints.count(1), 2);
    // Delivery finds the same three expired and drops them.
    await o.hints.remove(
      1,
      batch.filter((h) => h.createdMs < 5_000).map((h) => h.id),
      false,
    );

    t.is(await diskCount(o.db), 2, 'two hints are still stored');
    t.is(o.hints.count(1), 2, 'so the count must still be 2');
    t.is(o.hints.counters.hintsDropped, 3, 'each hint dropped once');
  } finally {
    await o.db.close();
  }
});

test('hints that cannot be written are counted and told once per interval, and later ones are written', async (t) => {
  const clock = new ManualClock();
  const db = await Sqlite.open(join(dir, `hints-${++fileNo}.db`));
  const warnings: string[] = [];
  const hints = await HintStore.open(db, clock.now, { onWarning: (m) => warnings.push(m) });
  try {
    const exec = db.execTransaction.bind(db);
    let failing = true;
    db.execTransaction = (script: string) => (failing ? Promise.reject(new Error('disk full')) : exec(script));
    t.false(await hints.add(1, [item('a', 1), item('b', 2)]), 'add says the hints are not durable');
    t.is(hints.counters.hintWriteErrors, 2);
    t.is(hints.count(1), 0, 'a hint not written is not counted as pending');
    t.deepEqual(warnings, [
      'writing hints failed once since start (last error: disk full); those hints are lost, and their writes rely on anti-entropy (counter hintWriteErrors)',
    ]);
    clock.ms += 1_000;
    await hints.add(1, [item('c', 3)]);
    t.is(hints.counters.hintWriteErrors, 3);
    t.is(warnings.length, 1, 'not told again within the interval');
    failing = false;
    t.true(await hints.add(1, [item('d', 4)]));
    t.deepEqual((await hints.next(1, 0, 10)).map(strip), [item('d', 4)]);
    t.is(warnings.length, 1);
  } finally {
    await db.close();
  }
});

test('add tells each group of hints its own outcome: a failed commit, then one that succeeds, and a full queue', async (t) => {
  const db = await Sqlite.open(join(dir, `hints-${++fileNo}.db`));
  const hints = await HintStore.open(db, () => 1, { onWarning: () => undefined });
  try {
    const exec = db.execTransaction.bind(db);
    let fail!: (err: Error) => void;
    let calls = 0;
    db.execTransaction = (script: string) => {
      calls++;
      return calls === 1 ? new Promise<void>((_, reject) => (fail = reject)) : exec(script);
    };
    const first = hints.add(1, [item('a', 1)]);
    await waitFor('the first group being written', () => calls > 0);
    const second = hints.add(1, [item('b', 2)]); // queued while the first group is being written
    fail(new Error('disk full'));
    t.deepEqual(await Promise.all([first, second]), [false, true]);
    t.deepEqual((await hints.next(1, 0, 10)).map(strip), [item('b', 2)]);
    const tooMany = Array.from({ length: HINTS_QUEUED_MAX + 1 }, (_, i) => item(`k${i}`, i));
    t.false(await hints.add(2, tooMany), 'more than the queue holds: dropped, and said so');
    t.is(hints.counters.hintsDropped, HINTS_QUEUED_MAX + 1);
  } finally {
    await db.close();
  }
});
