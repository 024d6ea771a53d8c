/**
 * The change feed (storage/change-feed.ts): where a call starts and what a
 * page holds, as tables and a property, then the feed over a real store's
 * log: pages in log order, a position that survives nothing but its own
 * incarnation, a purged deletion, and calls that wait for a change of their
 * range and for nothing else.
 */
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemTime } from '../../src/clock/time';
import { isKvError } from '../../src/common/errors';
import { CHANGES_PAGE_BYTES_MAX, CHANGES_WAITERS_MAX } from '../../src/common/limits';
import { EPOCH_SLOT_KEY_PREFIX } from '../../src/membership/reserved-keys';
import { ChangeFeed, LogRow, pageOf, startOf } from '../../src/storage/change-feed';
import { ReplicaStore } from '../../src/storage/replica-store';
import { Sqlite } from '../../src/storage/sqlite';
import { Version } from '../../src/storage/version';
import { fcParams } from './fc-params';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-change-feed-'));
let fileNo = 0;
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const INCARNATION = 77;
const log = { publishedSeq: 100, purgedSeqMax: 40 };

for (const [what, incarnation, afterSeq, expected] of [
  ['from now: the end of the log', 0, -1, { after: 100, restarted: false }],
  ['from the beginning', 0, 0, { after: 0, restarted: false }],
  ['from the beginning, whatever the incarnation', 5, 0, { after: 0, restarted: false }],
  ['a position of this log', INCARNATION, 60, { after: 60, restarted: false }],
  ['the end of this log', INCARNATION, 100, { after: 100, restarted: false }],
  ['at the purged deletion: it was read', INCARNATION, 40, { after: 40, restarted: false }],
  ['before a purged deletion', INCARNATION, 39, { after: 0, restarted: true }],
  ['another incarnation', 76, 60, { after: 0, restarted: true }],
  ['past the end of the log (a file put back from a snapshot)', INCARNATION, 101, { after: 0, restarted: true }],
] as const) {
  test(`startOf: ${what}`, (t) => {
    t.deepEqual(startOf({ incarnation, afterSeq }, INCARNATION, log), expected);
  });
}

const row = (seq: number, key: string, value = 'v', ts = seq, deleted = false, expires = 0): LogRow => ({
  seq,
  key,
  value,
  stamp: ts * 2 + (deleted ? 1 : 0),
  expires,
});
const range = { from: 'g', to: 'p' };
const keysOf = (p: ReturnType<typeof pageOf>): string[] => p.changes.map((c) => c.key);

test('pageOf: the changes of the range in log order, other ranges and the ring’s own keys passed over, the position at the last row read', (t) => {
  const rows = [
    row(11, 'a'),
    row(12, 'grape'),
    row(13, `${EPOCH_SLOT_KEY_PREFIX}3`),
    row(14, 'p'),
    row(15, 'h', '', 9, true),
    row(16, 'z'),
  ];
  const page = pageOf(rows, range, 10, 6, 10, 20);
  t.deepEqual(keysOf(page), ['grape', 'h']);
  t.deepEqual(page.changes[1], { seq: 15, key: 'h', value: '', ts: 9, deleted: true, expires: 0 });
  t.is(page.position, 16, 'the rows read were as many as asked: more may follow');
  t.false(page.caughtUp);
  const all = pageOf(rows, range, 10, 100, 10, 20);
  t.is(all.position, 20, 'fewer rows than asked: the log was read to the end it had');
  t.true(all.caughtUp);
});

test('pageOf: at the limit, the position is the last change given, so the next page starts with the one held back', (t) => {
  const rows = [row(1, 'g1'), row(2, 'a'), row(3, 'g2'), row(4, 'g3')];
  const page = pageOf(rows, range, 2, 100, 0, 4);
  t.deepEqual(keysOf(page), ['g1', 'g2']);
  t.is(page.position, 3);
  t.false(page.caughtUp);
  const next = pageOf(rows.slice(3), range, 2, 100, 3, 4);
  t.deepEqual(keysOf(next), ['g3']);
  t.true(next.caughtUp);
});

test('pageOf: a page ends before the change that would take it past its bytes, but always holds one', (t) => {
  const big = 'x'.repeat(CHANGES_PAGE_BYTES_MAX);
  const page = pageOf([row(1, 'g1', big), row(2, 'g2', 'small')], range, 100, 100, 0, 2);
  t.deepEqual(keysOf(page), ['g1']);
  t.is(page.position, 1);
  t.false(page.caughtUp);
});

test('pageOf, property: paging from any position with any limit gives every change of the range once, in log order', (t) => {
  const keys = fc.constantFrom('a', 'g', 'gg', 'h', 'o', 'p', 'q');
  const property = fc.property(
    fc.array(keys, { maxLength: 40 }),
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 1, max: 7 }),
    (ks, limit, rowsRead) => {
      const rows = ks.map((k, i) => row(i + 1, k));
      const expected = rows.filter((r) => r.key >= 'g' && r.key < 'p').map((r) => r.seq);
      const got: number[] = [];
      let after = 0;
      for (let calls = 0; calls <= rows.length + 1; calls++) {
        const read = rows.filter((r) => r.seq > after).slice(0, rowsRead);
        const page = pageOf(read, range, limit, rowsRead, after, rows.length);
        got.push(...page.changes.map((c) => c.seq));
        if (page.caughtUp) return got.join() === expected.join() && page.position === rows.length;
        if (page.position <= after && page.changes.length === 0) return false;
        after = page.position;
      }
      return false;
    },
  );
  t.notThrows(() => fc.assert(property, fcParams(300)));
});

const val = (ts: number, value: string): Version => ({ ts, value, deleted: false });
const del = (ts: number): Version => ({ ts, value: '', deleted: true });

async function openFeed(): Promise<{ db: Sqlite; store: ReplicaStore; feed: ChangeFeed; close(): Promise<void> }> {
  const db = await Sqlite.open(join(dir, `feed-${++fileNo}.db`));
  const store = await ReplicaStore.open(db);
  const feed = new ChangeFeed(db, store, systemTime, INCARNATION);
  store.onPublished = (keys) => feed.published(keys);
  return {
    db,
    store,
    feed,
    close: async () => {
      feed.close();
      await store.drain();
      await db.close();
    },
  };
}

const ask = { from: 'g', to: 'p', incarnation: 0, afterSeq: 0, limit: 100, waitMs: 0 };

test('the feed gives the versions its log took, in order: an older version that lost is not there, a deletion is', async (t) => {
  const o = await openFeed();
  try {
    await o.store.apply([{ key: 'grape', version: val(10, 'one') }]);
    await o.store.apply([{ key: 'grape', version: val(5, 'older, lost') }]);
    await o.store.apply([{ key: 'apple', version: val(11, 'other range') }]);
    await o.store.apply([{ key: 'grape', version: del(12) }]);
    const page = await o.feed.page(ask);
    t.deepEqual(
      page.changes.map((c) => [c.key, String(c.value), c.ts, c.deleted]),
      [
        ['grape', 'one', 10, false],
        ['grape', '', 12, true],
      ],
    );
    t.is(page.incarnation, INCARNATION);
    t.true(page.caughtUp);
    const next = await o.feed.page({ ...ask, incarnation: INCARNATION, afterSeq: page.position });
    t.deepEqual(next.changes, []);
    t.false(next.restarted);
  } finally {
    await o.close();
  }
});

test('a position from before a purged deletion starts the range again; one after it goes on', async (t) => {
  const o = await openFeed();
  try {
    await o.store.apply([{ key: 'grape', version: val(10, 'one') }]);
    const before = (await o.feed.page(ask)).position;
    await o.store.apply([{ key: 'guava', version: del(20) }]);
    const after = (await o.feed.page({ ...ask, incarnation: INCARNATION, afterSeq: before })).position;
    t.is(await o.store.purgeTombstones(100), 1);
    const behind = await o.feed.page({ ...ask, incarnation: INCARNATION, afterSeq: before });
    t.true(behind.restarted);
    t.deepEqual(
      behind.changes.map((c) => c.key),
      ['grape'],
    );
    const past = await o.feed.page({ ...ask, incarnation: INCARNATION, afterSeq: after });
    t.false(past.restarted);
    t.deepEqual(past.changes, []);
    t.is(o.feed.counters.changesRestarted, 1);
  } finally {
    await o.close();
  }
});

test('a waiting call answers with the first change of its range, and a change elsewhere does not end its wait', async (t) => {
  const o = await openFeed();
  try {
    const now = await o.feed.page({ ...ask, afterSeq: -1 });
    t.deepEqual(now.changes, [], 'from now: nothing yet');
    const waiting = o.feed.page({ ...ask, incarnation: INCARNATION, afterSeq: now.position, waitMs: 60_000 });
    const reads = o.feed.counters.changesLogReads;
    await o.store.apply([{ key: 'apple', version: val(1, 'elsewhere') }]);
    await o.store.apply([{ key: 'zebra', version: val(2, 'elsewhere') }]);
    t.is(o.feed.counters.changesLogReads, reads, 'writes outside the range do not wake the call to read the log again');
    await o.store.apply([{ key: 'grape', version: val(3, 'here') }]);
    const page = await waiting;
    t.deepEqual(
      page.changes.map((c) => c.key),
      ['grape'],
    );
  } finally {
    await o.close();
  }
});

test('a call with no change ends at its wait; a node stopping answers its waiting calls at once', async (t) => {
  const o = await openFeed();
  try {
    const empty = await o.feed.page({ ...ask, waitMs: 20 });
    t.deepEqual(empty.changes, []);
    t.true(empty.caughtUp);
    const waiting = o.feed.page({ ...ask, waitMs: 60_000 });
    o.feed.close();
    t.deepEqual((await waiting).changes, []);
  } finally {
    await o.close();
  }
});

test(`a node keeps at most ${CHANGES_WAITERS_MAX} calls waiting, and refuses one more as Unavailable`, async (t) => {
  const o = await openFeed();
  try {
    const waiting = Array.from({ length: CHANGES_WAITERS_MAX }, () => o.feed.page({ ...ask, waitMs: 60_000 }));
    const refused = await o.feed.page({ ...ask, waitMs: 60_000 }).catch((err: unknown) => err);
    t.true(isKvError(refused, 'Unavailable'));
    t.regex((refused as Error).message, new RegExp(`this node has ${CHANGES_WAITERS_MAX} change feed calls waiting already`));
    t.deepEqual((await o.feed.page(ask)).changes, [], 'a call that does not wait is still answered');
    o.feed.close();
    await Promise.all(waiting);
    t.is(o.feed.counters.changesWaitersRefused, 1);
  } finally {
    await o.close();
  }
});
