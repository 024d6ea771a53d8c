/**
 * Marks (ReplicaStore.applyMarked / settle) and the settle pointer: after a
 * restart, every write that was marked and not settled must come back from
 * rowsAfterSettled, whatever the order of commits and settles.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaStore } from '../../src/storage/replica-store';
import { Sqlite } from '../../src/storage/sqlite';
import { Version } from '../../src/storage/version';
import { Gen, seedNote, testSeed } from './prng';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-marks-'));
let fileNo = 0;

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

const val = (ts: number, value: string): Version => ({ ts, value, deleted: false });

interface Opened {
  path: string;
  db: Sqlite;
  store: ReplicaStore;
}

/** A store that stores its settle pointer at every commit (interval 0), unless told otherwise. */
async function openStore(path = join(dir, `marks-${++fileNo}.db`), settledWriteIntervalMs = 0): Promise<Opened> {
  const db = await Sqlite.open(path);
  const store = await ReplicaStore.open(db, { settledWriteIntervalMs });
  return { path, db, store };
}

async function reopen(o: Opened): Promise<Opened> {
  await o.store.drain();
  await o.db.close();
  return openStore(o.path);
}

test('applyMarked resolves with the seq of the row holding the write, and with 0 when the version lost', async (t) => {
  const o = await openStore();
  try {
    const seq = await o.store.applyMarked({ key: 'k', version: val(100, 'new') });
    t.true(seq > 0);
    t.is(o.store.unsettledRows, 1);
    t.is(await o.store.applyMarked({ key: 'k', version: val(50, 'older') }), 0, 'an older version is not written, so nothing is marked');
    t.is(o.store.unsettledRows, 1);
    o.store.settle(seq);
    t.is(o.store.unsettledRows, 0);
    t.throws(() => o.store.settle(seq), { message: /only an unsettled row is settled/ });
  } finally {
    await o.db.close();
  }
});

test('two marked writes of one key in one batch share its row, which settles after both', async (t) => {
  const o = await openStore();
  try {
    const [a, b] = await Promise.all([
      o.store.applyMarked({ key: 'k', version: val(100, 'a') }),
      o.store.applyMarked({ key: 'k', version: val(200, 'b') }),
    ]);
    t.is(a, b, 'the newer version replaced the older one in the batch and carries both marks');
    o.store.settle(a);
    t.is(o.store.unsettledRows, 1);
    o.store.settle(b);
    t.is(o.store.unsettledRows, 0);
  } finally {
    await o.db.close();
  }
});

test('marks in one batch are ordered by their rows, not by when they were marked', async (t) => {
  let o = await openStore();
  try {
    // One batch: x enters it unmarked, then y is marked, then a newer x is marked (keeping x's place).
    const plain = o.store.apply([{ key: 'x', version: val(1, 'a') }]);
    const y = o.store.applyMarked({ key: 'y', version: val(1, 'b') });
    const x = o.store.applyMarked({ key: 'x', version: val(2, 'c') });
    await plain;
    const [ySeq, xSeq] = await Promise.all([y, x]);
    t.true(xSeq < ySeq);
    await o.store.apply([{ key: 'z', version: val(1, 'd') }]);
    o = await reopen(o);
    t.deepEqual(
      (await o.store.rowsAfterSettled()).sort(),
      ['x', 'y', 'z'],
      'the pointer stays below x, the older of the two unsettled rows',
    );
  } finally {
    await o.db.close();
  }
});

test('after a restart, an unsettled write is listed and a settled one is not', async (t) => {
  let o = await openStore();
  try {
    const settled = await o.store.applyMarked({ key: 'settled', version: val(100, 'x') });
    await o.store.applyMarked({ key: 'open', version: val(100, 'y') });
    o.store.settle(settled);
    // Later commits store the pointer; it must stay below the open write's row.
    await o.store.apply([{ key: 'later', version: val(100, 'z') }]);
    await o.store.apply([{ key: 'later', version: val(200, 'z2') }]);
    o = await reopen(o);
    const keys = await o.store.rowsAfterSettled();
    t.true(keys.includes('open'));
    t.false(keys.includes('settled'), 'the pointer may pass a settled row that precedes every unsettled one');
  } finally {
    await o.db.close();
  }
});

test('a log that never stored a pointer lists nothing, and the first commit stores one', async (t) => {
  let o = await openStore();
  try {
    t.deepEqual(await o.store.rowsAfterSettled(), []);
    await o.store.apply([{ key: 'a', version: val(1, 'v') }]);
    const [row] = await o.db.all<{ value: number }>("SELECT value FROM meta WHERE name = 'settled_seq'");
    t.is(row?.value, 0, 'below the first row: nothing was marked before it');
    await o.store.apply([
      { key: 'b', version: val(1, 'v') },
      { key: '\u0000\u00ff', version: val(1, 'v') },
    ]);
    o = await reopen(o);
    t.deepEqual(
      await o.store.rowsAfterSettled(),
      ['b', '\u0000\u00ff'],
      'rows after the last stored pointer come back (keys of any bytes too); re-sending them is harmless',
    );
  } finally {
    await o.db.close();
  }
});

test('with an interval the pointer is stored at most that often', async (t) => {
  let o = await openStore(undefined, 60_000);
  try {
    await o.store.apply([{ key: 'first', version: val(1, 'v') }]);
    o.store.settle(await o.store.applyMarked({ key: 'marked', version: val(1, 'v') }));
    for (let i = 0; i < 5; i++) await o.store.apply([{ key: `k${i}`, version: val(1, 'v') }]);
    o = await reopen(o);
    t.deepEqual(
      (await o.store.rowsAfterSettled()).sort(),
      ['first', 'k0', 'k1', 'k2', 'k3', 'k4', 'marked'],
      'stored once, below the first commit, and not moved for a minute',
    );
  } finally {
    await o.db.close();
  }
});

test('property: whatever the order of writes, settles and commits, a restart lists every unsettled marked write', async (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  for (let round = 0; round < 8; round++) {
    let o = await openStore();
    try {
      const unsettled = new Map<string, number>(); // key → seq of the mark, for marks not settled
      const held: { key: string; seq: number }[] = [];
      let ts = 1;
      for (let step = 0; step < 60; step++) {
        // A few writes in one batch, some marked, then some settles of earlier marks.
        const writes: Promise<void>[] = [];
        for (let i = g.int(1, 5); i > 0; i--) {
          const key = `k${g.int(0, 30)}`;
          const version = val(ts++, `v${step}`);
          if (g.bool(0.6)) {
            writes.push(o.store.applyMarked({ key, version }).then((seq) => void (seq > 0 && held.push({ key, seq }))));
          } else {
            writes.push(o.store.apply([{ key, version }]));
          }
        }
        await Promise.all(writes);
        for (let i = g.int(0, held.length); i > 0 && held.length > 0; i--) {
          const [m] = held.splice(g.int(0, held.length - 1), 1);
          o.store.settle(m!.seq);
        }
      }
      for (const m of held) unsettled.set(m.key, m.seq);
      o = await reopen(o);
      const listed = new Set(await o.store.rowsAfterSettled());
      for (const key of unsettled.keys()) t.true(listed.has(key), `unsettled ${key} is listed; round ${round}; ${seedNote(seed)}`);
      // And the pointer does move: with nothing unsettled, one commit takes it to just below its own row.
      await o.store.apply([{ key: 'last', version: val(ts++, 'v') }]);
      await o.store.apply([{ key: 'last', version: val(ts++, 'w') }]);
      o = await reopen(o);
      t.deepEqual(await o.store.rowsAfterSettled(), ['last'], `round ${round}; ${seedNote(seed)}`);
    } finally {
      await o.db.close();
    }
  }
});
