/**
 * A range stream between two in-memory ends, on a clock the test moves:
 * progress is stored at most every STREAM_PROGRESS_SAVE_INTERVAL_MS, only
 * ever a key after pages durable at the target, and a stream started again
 * from what was stored ends with the target holding every key.
 */
import test from 'ava';
import { systemTime, Time } from '../../src/clock/time';
import { PAXOS_STREAM_ROWS_MAX, STREAM_PAGE_KEYS_MAX, STREAM_PROGRESS_SAVE_INTERVAL_MS } from '../../src/common/limits';
import { epochSlotKey } from '../../src/membership/reserved-keys';
import type { RangeStream } from '../../src/membership/stream-plan';
import type { KeyedPaxosState } from '../../src/paxos/paxos-store';
import { Memtable } from '../../src/storage/memtable';
import { MemoryStreamProgress } from '../../src/streaming/memory-progress';
import { Pacer } from '../../src/streaming/pacer';
import { STREAM_DONE, StreamEnds, streamId, streamRange } from '../../src/streaming/range-stream';
import { KeyedVersion, supersedes } from '../../src/storage/version';

/** No Paxos rows at the source. */
const NO_PAXOS_ROWS = { readPaxos: async () => ({ rows: [], more: false }), writePaxos: async () => true };

const KEYS = 10 * STREAM_PAGE_KEYS_MAX + 17;
const keyOf = (i: number): string => `k${String(i).padStart(6, '0')}`;

/** A clock that moves only when told: each page written takes `msPerPage`. */
function manualTime(): Time & { ms: number } {
  const clock = {
    ms: 0,
    nowMs: () => clock.ms,
    monotonicMs: () => clock.ms,
    after: systemTime.after,
    every: systemTime.every,
    soon: systemTime.soon,
  };
  return clock;
}

function source(): Memtable {
  const m = new Memtable();
  for (let i = 0; i < KEYS; i++) m.set(keyOf(i), { value: `v${i}`, ts: 1000 + i, deleted: false }, i + 1);
  return m;
}

/** Ends over two memtables; `failAfter` pages written, every later write fails (the target went away). */
function ends(
  from: Memtable,
  to: Memtable,
  time: Time & { ms: number },
  msPerPage: number,
  failAfter = Number.POSITIVE_INFINITY,
): StreamEnds & { durable: Set<string> } {
  let written = 0;
  const durable = new Set<string>();
  return {
    durable,
    read: async (start, end, limit, bytes) => from.range(start, end, limit, bytes),
    ...NO_PAXOS_ROWS,
    write: async (items: readonly KeyedVersion[]) => {
      if (++written > failAfter) throw new Error('the target is gone');
      time.ms += msPerPage;
      for (const { key, version } of items) {
        if (supersedes(version, to.get(key))) to.set(key, version, 1);
        durable.add(key);
      }
    },
  };
}

const range: RangeStream = { source: 1, target: 4, start: '', end: '\u00ff' };

/** Progress that also records every save, with whether every key before it was durable then. */
class WatchedProgress extends MemoryStreamProgress {
  readonly saves: { cursor: string; atMs: number; covered: boolean }[] = [];
  constructor(
    private readonly time: Time,
    private readonly durable: () => Set<string>,
  ) {
    super();
  }
  override async save(id: string, cursor: string): Promise<void> {
    const durable = this.durable();
    let covered = true;
    for (let i = 0; i < KEYS && keyOf(i) < cursor; i++) if (!durable.has(keyOf(i))) covered = false;
    this.saves.push({ cursor, atMs: this.time.monotonicMs(), covered });
    await super.save(id, cursor);
  }
}

test('progress is stored at most every STREAM_PROGRESS_SAVE_INTERVAL_MS, after durable pages only', async (t) => {
  const time = manualTime();
  const from = source();
  const to = new Memtable();
  const e = ends(from, to, time, STREAM_PROGRESS_SAVE_INTERVAL_MS / 4);
  const progress = new WatchedProgress(time, () => e.durable);
  await streamRange({ progress, pacer: new Pacer(time, 1e12), time, totals: { keys: 0, bytes: 0 } }, 7, range, e);
  t.is(to.size, KEYS);
  const cursors = progress.saves.filter((s) => s.cursor !== STREAM_DONE);
  // Eleven pages a quarter interval each: a save about every fourth page, not one per page.
  t.true(cursors.length >= 1 && cursors.length <= 3, `${cursors.length} saves`);
  for (let i = 1; i < cursors.length; i++) t.true(cursors[i]!.atMs - cursors[i - 1]!.atMs >= STREAM_PROGRESS_SAVE_INTERVAL_MS);
  t.true(
    progress.saves.every((s) => s.covered),
    'every key before a stored cursor was durable',
  );
  t.is(await progress.load(streamId(7, range, 0)), STREAM_DONE);
});

test('a stream that stopped goes on from its stored key, and the target ends with every key', async (t) => {
  const time = manualTime();
  const from = source();
  const to = new Memtable();
  const first = ends(from, to, time, STREAM_PROGRESS_SAVE_INTERVAL_MS / 2, 7);
  const progress = new WatchedProgress(time, () => first.durable);
  const deps = { progress, pacer: new Pacer(time, 1e12), time, totals: { keys: 0, bytes: 0 } };
  await t.throwsAsync(streamRange(deps, 7, range, first), { message: 'the target is gone' });
  const stored = await progress.load(streamId(7, range, 0));
  t.truthy(stored, 'some progress was stored before the failure');
  t.not(stored, STREAM_DONE);
  const second = ends(from, to, time, STREAM_PROGRESS_SAVE_INTERVAL_MS / 2);
  let firstRead: string | undefined;
  await streamRange(deps, 7, range, {
    read: (start, end, limit, bytes) => {
      firstRead ??= start;
      return second.read(start, end, limit, bytes);
    },
    write: second.write,
    ...NO_PAXOS_ROWS,
  });
  t.is(firstRead, stored, 'the second run reads on from the stored key');
  t.is(to.size, KEYS);
  for (let i = 0; i < KEYS; i += 997) t.is(to.get(keyOf(i))?.value, `v${i}`);
});

test("the totals count the client's keys and bytes only: the ring's own epoch slots are streamed but not counted", async (t) => {
  const time = manualTime();
  const from = source();
  for (let epoch = 1; epoch <= 3; epoch++) from.set(epochSlotKey(epoch), { value: `change ${epoch}`, ts: 1, deleted: false }, 1);
  const to = new Memtable();
  const totals = { keys: 0, bytes: 0 };
  const e = ends(from, to, time, 1);
  await streamRange({ progress: new MemoryStreamProgress(), pacer: new Pacer(time, 1e12), time, totals }, 7, range, e);
  t.is(to.size, KEYS + 3, 'the epoch slots reached the target');
  t.is(totals.keys, KEYS);
  let clientBytes = 0;
  for (let i = 0; i < KEYS; i++) clientBytes += keyOf(i).length + `v${i}`.length;
  t.is(totals.bytes, clientBytes);
});

test("a range's Paxos rows follow its values, page by page, those of its keys only, and again when the values were done", async (t) => {
  const time = manualTime();
  const rowOf = (key: string): KeyedPaxosState => ({ key, state: { recent: [{ requestId: `r-${key}`, ts: 5 }] } });
  // More rows than a page holds inside the range ('b' to 'c'), and some outside it.
  const inside = Array.from({ length: PAXOS_STREAM_ROWS_MAX * 2 + 3 }, (_, i) => rowOf(`b${String(i).padStart(4, '0')}`));
  const rows = [rowOf('a1'), ...inside, rowOf('c1')];
  const merged: KeyedPaxosState[] = [];
  const pages: number[] = [];
  const e: StreamEnds = {
    read: async () => ({ entries: [], more: false }),
    write: async () => undefined,
    readPaxos: async (from, to, limit) => {
      const within = rows.filter((r) => r.key >= from && (to === undefined || r.key < to));
      return { rows: within.slice(0, limit), more: within.length > limit };
    },
    writePaxos: async (page) => {
      pages.push(page.length);
      merged.push(...page);
      return true;
    },
  };
  const s: RangeStream = { source: 1, target: 4, start: 'a9', end: 'b\u00ff' };
  const progress = new MemoryStreamProgress();
  const deps = { progress, pacer: new Pacer(time, 1e12), time, totals: { keys: 0, bytes: 0 } };
  await streamRange(deps, 7, s, e);
  t.deepEqual(
    merged.map((r) => r.key),
    inside.map((r) => r.key),
  );
  t.deepEqual(pages, [PAXOS_STREAM_ROWS_MAX, PAXOS_STREAM_ROWS_MAX, 3]);
  // A stream run again after its values were done copies the rows again (merging twice changes nothing).
  t.is(await progress.load(streamId(7, s, 0)), STREAM_DONE);
  await streamRange(deps, 7, s, e);
  t.is(merged.length, inside.length * 2);
});

test('a source of an older build, without paxosRows, stops no stream: its values go, and the log says the rows stay behind', async (t) => {
  const time = manualTime();
  const from = source();
  const to = new Memtable();
  const said: string[] = [];
  const e: StreamEnds = { ...ends(from, to, time, 1), readPaxos: async () => ({ rows: [], more: false, olderBuild: true }) };
  await streamRange(
    { progress: new MemoryStreamProgress(), pacer: new Pacer(time, 1e12), time, totals: { keys: 0, bytes: 0 }, say: (m) => said.push(m) },
    7,
    range,
    e,
  );
  t.is(to.size, KEYS);
  t.is(said.length, 1);
  t.regex(said[0]!, /node 1 or node 4 is an older build that cannot stream Paxos rows/);
});

test('a wrapped range with an older-build end says so once, and asks for its rows once', async (t) => {
  const time = manualTime();
  const said: string[] = [];
  let asked = 0;
  const e: StreamEnds = {
    read: async () => ({ entries: [], more: false }),
    write: async () => undefined,
    readPaxos: async () => {
      asked++;
      return { rows: [], more: false, olderBuild: true };
    },
    writePaxos: async () => true,
  };
  // Wraps past the end of the key space: two intervals, 'x' to the end and the start to 'c'.
  const wrapped: RangeStream = { source: 2, target: 5, start: 'x', end: 'c' };
  const deps = {
    progress: new MemoryStreamProgress(),
    pacer: new Pacer(time, 1e12),
    time,
    totals: { keys: 0, bytes: 0 },
    say: (m: string) => said.push(m),
  };
  await streamRange(deps, 3, wrapped, e);
  t.is(asked, 1);
  t.is(said.length, 1);
  t.regex(said[0]!, /node 2 or node 5 is an older build/);
});
