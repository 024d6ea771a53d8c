import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKvError } from '../../src/common/errors';
import {
  COMMIT_ROWS_MAX,
  COMPACT_CHUNK_ROWS,
  COMPACT_GARBAGE_ROWS_MIN,
  GARBAGE_BUCKET_SEQS,
  REPLAY_CHUNK_CHARS,
  STORE_QUEUED_ROWS_MAX,
  WARNING_INTERVAL_MS,
} from '../../src/common/limits';
import { waitFor } from '../../src/harness/local-cluster';
import { ReplicaStore, ReplicaStoreOptions } from '../../src/storage/replica-store';
import { replayChunk } from '../../src/storage/replay';
import { textLiteral } from '../../src/storage/sql-literal';
import { BoundStatement, Sqlite } from '../../src/storage/sqlite';
import { newest, Version } from '../../src/storage/version';
import { byteString, version } from './arbitraries';
import { fcParams } from './fc-params';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-replica-store-'));
let fileNo = 0;

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

const val = (ts: number, value: string): Version => ({ ts, value, deleted: false });
const del = (ts: number): Version => ({ ts, value: '', deleted: true });

interface Opened {
  path: string;
  db: Sqlite;
  store: ReplicaStore;
}

async function openStore(path = join(dir, `store-${++fileNo}.db`), options: ReplicaStoreOptions = {}): Promise<Opened> {
  const db = await Sqlite.open(path);
  const store = await ReplicaStore.open(db, options);
  return { path, db, store };
}

/** Closes the database (after the store drained) and opens the same file again. */
async function reopen(o: Opened): Promise<Opened> {
  await o.store.drain();
  await o.db.close();
  return openStore(o.path);
}

interface KvRow {
  key: string;
  value: string;
  stamp: number;
}

/** What a replay of the log would load: each key's last row. */
async function diskRows(db: Sqlite): Promise<Array<[key: string, version: Version]>> {
  const rows = await db.all<KvRow>('SELECT key, value, stamp FROM log WHERE seq IN (SELECT MAX(seq) FROM log GROUP BY key) ORDER BY key');
  // stamp = ts * 2 + deleted
  return rows.map((r) => [r.key, { value: r.value, ts: Math.floor(r.stamp / 2), deleted: r.stamp % 2 === 1 }]);
}

/** Rows in the log once superseded ones are compacted away. */
async function rowCount(db: Sqlite, store: ReplicaStore): Promise<number> {
  await store.compact();
  const rows = await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM log');
  return rows[0]!.n;
}

/** A stored version without its log position, to compare with plain versions. */
function got(store: ReplicaStore, key: string): Version | undefined {
  const v = store.get(key);
  return v === undefined ? undefined : { value: v.value, ts: v.ts, deleted: v.deleted };
}

test('apply then get returns the version; size and counters follow', async (t) => {
  const o = await openStore();
  try {
    t.is(got(o.store, 'k'), undefined);
    await o.store.apply([
      { key: 'k', version: val(10, 'v1') },
      { key: 'gone', version: del(11) },
    ]);
    t.deepEqual(got(o.store, 'k'), val(10, 'v1'));
    t.deepEqual(got(o.store, 'gone'), del(11));
    t.is(o.store.size, 2);
    t.is(o.store.counters.rowsCommitted, 2);
    t.deepEqual(await diskRows(o.db), [
      ['gone', del(11)],
      ['k', val(10, 'v1')],
    ]);
  } finally {
    await o.db.close();
  }
});

test('a value is visible to get() only after its apply resolves', async (t) => {
  const o = await openStore();
  try {
    const pending = o.store.apply([{ key: 'k', version: val(1, 'first') }]);
    t.is(got(o.store, 'k'), undefined, 'not visible before the commit');
    t.is(o.store.size, 0);
    await pending;
    t.deepEqual(got(o.store, 'k'), val(1, 'first'));

    const second = o.store.apply([{ key: 'k', version: val(2, 'second') }]);
    t.deepEqual(got(o.store, 'k'), val(1, 'first'), 'the old version until the new one commits');
    await second;
    t.deepEqual(got(o.store, 'k'), val(2, 'second'));
  } finally {
    await o.db.close();
  }
});

test('an older version applied after a newer one does not replace it, and still resolves', async (t) => {
  const o = await openStore();
  try {
    await o.store.apply([{ key: 'k', version: val(20, 'new') }]);
    await o.store.apply([{ key: 'k', version: val(10, 'old') }]);
    t.deepEqual(got(o.store, 'k'), val(20, 'new'));
    await o.store.apply([{ key: 'k', version: val(20, 'new') }]); // the same version again
    t.deepEqual(got(o.store, 'k'), val(20, 'new'));
    t.deepEqual(await diskRows(o.db), [['k', val(20, 'new')]]);
  } finally {
    await o.db.close();
  }
});

test('older and newer versions racing in the same turn: the newest wins either way', async (t) => {
  const o = await openStore();
  try {
    await Promise.all([
      o.store.apply([{ key: 'a', version: val(20, 'new') }]),
      o.store.apply([{ key: 'a', version: val(10, 'old') }]),
      o.store.apply([{ key: 'b', version: val(10, 'old') }]),
      o.store.apply([{ key: 'b', version: val(20, 'new') }]),
    ]);
    t.deepEqual(got(o.store, 'a'), val(20, 'new'));
    t.deepEqual(got(o.store, 'b'), val(20, 'new'));
    t.deepEqual(await diskRows(o.db), [
      ['a', val(20, 'new')],
      ['b', val(20, 'new')],
    ]);
  } finally {
    await o.db.close();
  }
});

test('an older version arriving while the newer one is being committed resolves after it', async (t) => {
  const o = await openStore();
  try {
    const newer = o.store.apply([{ key: 'k', version: val(20, 'new') }]);
    let olderDone = false;
    let newerSeenByOlder: Version | undefined;
    // Wait until the commit of `newer` has started (its batch is closed), then race an older write.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const older = o.store.apply([{ key: 'k', version: val(10, 'old') }]).then(() => {
      olderDone = true;
      newerSeenByOlder = got(o.store, 'k');
    });
    await Promise.all([newer, older]);
    t.true(olderDone);
    t.deepEqual(newerSeenByOlder, val(20, 'new'), 'when the older write resolves, the newer one is durable');
    t.deepEqual(got(o.store, 'k'), val(20, 'new'));
  } finally {
    await o.db.close();
  }
});

test('ties: a tombstone beats a value, larger value bytes beat smaller', async (t) => {
  const o = await openStore();
  try {
    await o.store.apply([{ key: 'd', version: del(5) }]);
    await o.store.apply([{ key: 'd', version: val(5, '\u00ff') }]);
    await o.store.apply([{ key: 'v', version: val(5, '\u00ff') }]);
    await o.store.apply([{ key: 'v', version: val(5, 'a') }]);
    t.deepEqual(got(o.store, 'd'), del(5));
    t.deepEqual(got(o.store, 'v'), val(5, '\u00ff'));
  } finally {
    await o.db.close();
  }
});

test('reopening the file replays every acknowledged version', async (t) => {
  let o = await openStore();
  const expected = new Map<string, Version>([
    ['plain', val(1, 'text')],
    ['\u0000bin\u00ff', val(2, '\u0000\u0001\u00fe\u00ff')],
    ['', val(3, 'empty key')],
    ['empty value', val(4, '')],
    ['tomb', del(5)],
    ['utf8 \u00c3\u00a9', val(6, '\u00c3\u00a9t\u00c3\u00a9')],
    ['"quoted\\\\', val(7, `"\\\\/'`)],
  ]);
  // Every byte value, in keys and in values (replay reads them back as JSON text).
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
  for (let b = 0; b < 256; b++)
    expected.set(String.fromCharCode(b) + bytes.slice(0, b), val(b + 10, bytes.slice(b) + String.fromCharCode(b)));
  try {
    await o.store.apply([...expected].map(([key, version]) => ({ key, version })));
    await o.store.apply([{ key: 'plain', version: val(7, 'overwritten') }]);
    expected.set('plain', val(7, 'overwritten'));
    o = await reopen(o);
    t.is(o.store.size, expected.size);
    for (const [key, version] of expected) t.deepEqual(got(o.store, key), version, JSON.stringify(key));
  } finally {
    await o.db.close();
  }
});

test('many writes to a few keys leave one row per key after compaction, holding the newest version', async (t) => {
  let o = await openStore();
  const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
  const expected = new Map<string, Version>();
  try {
    for (let round = 0; round < 10; round++) {
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 40; i++) {
        const key = keys[(round * 7 + i) % keys.length]!;
        const version = i % 13 === 0 ? del(round * 100 + i) : val(round * 100 + i, `r${round}i${i}`);
        expected.set(key, newest(expected.get(key), version)!);
        writes.push(o.store.apply([{ key, version }]));
      }
      await Promise.all(writes);
    }
    t.is(await rowCount(o.db, o.store), keys.length);
    t.deepEqual(
      await diskRows(o.db),
      [...expected].sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    o = await reopen(o);
    t.is(o.store.size, keys.length);
    for (const [key, version] of expected) t.deepEqual(got(o.store, key), version, key);
  } finally {
    await o.db.close();
  }
});

test('a compaction larger than one chunk deletes every superseded row, while writes go on between its chunks', async (t) => {
  let o = await openStore();
  const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
  try {
    const rounds = Math.ceil((2.5 * COMPACT_CHUNK_ROWS) / keys.length) + 1;
    for (let round = 1; round <= rounds; round++) await o.store.apply(keys.map((key) => ({ key, version: val(round, `r${round}`) })));
    const compacting = o.store.compact();
    // Written while the compaction runs: a fresh version of every key, none of which it may delete.
    let compactedWhenLaterDone = -1;
    const later = o.store.apply(keys.map((key) => ({ key, version: val(rounds + 1, 'after') }))).then(() => {
      compactedWhenLaterDone = o.store.counters.rowsCompacted;
    });
    t.is(await compacting, (rounds - 1) * keys.length);
    await later;
    // Committed between two chunks, not after the last: a compaction lets the event loop turn between its chunks.
    t.true(
      compactedWhenLaterDone >= 0 && compactedWhenLaterDone < (rounds - 1) * keys.length,
      `the write was durable after ${compactedWhenLaterDone} rows of ${(rounds - 1) * keys.length} were compacted`,
    );
    t.is(o.store.counters.rowsCompacted, (rounds - 1) * keys.length);
    t.is(await rowCount(o.db, o.store), keys.length);
    o = await reopen(o);
    for (const key of keys) t.deepEqual(got(o.store, key), val(rounds + 1, 'after'), key);
  } finally {
    await o.db.close();
  }
});

test('compaction starts by itself once superseded rows are as many as the live rows, and deletes them in several buckets', async (t) => {
  let o = await openStore();
  try {
    // More live rows than the minimum, so "as many as the live rows" is the bound that counts.
    const live = Math.ceil(1.25 * COMPACT_GARBAGE_ROWS_MIN);
    const keys = Array.from({ length: live }, (_, i) => `key${String(i).padStart(6, '0')}`);
    await o.store.apply(keys.map((key) => ({ key, version: val(1, 'first') })));
    await o.store.apply(keys.slice(0, live - 1).map((key) => ({ key, version: val(2, 'second') })));
    t.is(o.store.garbageRows, live - 1, 'one short: not due');
    t.is(o.store.counters.rowsCompacted, 0);
    await o.store.apply([{ key: keys[live - 1]!, version: val(2, 'second') }]);
    await waitFor('the compaction to finish', () => o.store.counters.rowsCompacted === live, 30_000);
    t.is(o.store.garbageRows, 0);
    t.true(live > 2 * GARBAGE_BUCKET_SEQS, 'the superseded rows (seqs 1 to live) span several buckets');
    t.is(await rowCount(o.db, o.store), live);
    o = await reopen(o);
    t.deepEqual(got(o.store, keys[0]!), val(2, 'second'));
    t.deepEqual(got(o.store, keys[live - 1]!), val(2, 'second'));
    t.is(o.store.garbageRows, 0);
  } finally {
    await o.db.close();
  }
});

test('a compaction that fails part way keeps the rows it did not delete, and the next one deletes them', async (t) => {
  let o = await openStore();
  try {
    const keys = Array.from({ length: 3 * GARBAGE_BUCKET_SEQS }, (_, i) => `k${i}`);
    await o.store.apply(keys.map((key) => ({ key, version: val(1, 'first') })));
    await o.store.apply(keys.map((key) => ({ key, version: val(2, 'second') })));
    t.is(o.store.garbageRows, keys.length);
    // The third compaction transaction fails, as a full disk would make it.
    const exec = o.db.execTransaction.bind(o.db);
    let deletes = 0;
    o.db.execTransaction = (script: string) =>
      script.startsWith('DELETE') && ++deletes === 3 ? Promise.reject(new Error('disk full')) : exec(script);
    await t.throwsAsync(o.store.compact(), { message: 'disk full' });
    t.is(o.store.counters.rowsCompacted, 2 * COMPACT_CHUNK_ROWS);
    t.is(o.store.garbageRows, keys.length - 2 * COMPACT_CHUNK_ROWS, 'every row not deleted is garbage still');
    t.is(await o.store.compact(), keys.length - 2 * COMPACT_CHUNK_ROWS);
    t.is(o.store.garbageRows, 0);
    t.is(await rowCount(o.db, o.store), keys.length);
    o = await reopen(o);
    t.deepEqual(got(o.store, keys[0]!), val(2, 'second'));
  } finally {
    await o.db.close();
  }
});

/** A store that tells its warnings to `warnings`, on a clock the test moves by hand, and whose transactions fail while `failing` matches. */
async function openFailingStore(): Promise<Opened & { warnings: string[]; clock: { ms: number }; fail: (match: RegExp | null) => void }> {
  const warnings: string[] = [];
  const clock = { ms: 0 };
  const o = await openStore(undefined, { onWarning: (m) => warnings.push(m), nowMs: () => clock.ms });
  const exec = o.db.execTransaction.bind(o.db);
  let failing: RegExp | null = null;
  o.db.execTransaction = (script: string | readonly string[]) =>
    failing?.test(typeof script === 'string' ? script : script.join('\n')) ? Promise.reject(new Error('disk full')) : exec(script);
  // Commits of bound rows (the inline driver's) fail by their statements' text the same way.
  const runTransaction = o.db.runTransaction.bind(o.db);
  o.db.runTransaction = (statements: readonly BoundStatement[], tail?: string) =>
    failing?.test([...statements.map(([sql]) => sql), tail ?? ''].join('\n'))
      ? Promise.reject(new Error('disk full'))
      : runTransaction(statements, tail);
  return { ...o, warnings, clock, fail: (match) => (failing = match) };
}

test('a failing compaction is counted every time, and told once per interval with how many failed since', async (t) => {
  const o = await openFailingStore();
  try {
    const keys = Array.from({ length: 3 * COMPACT_CHUNK_ROWS }, (_, i) => `k${i}`);
    await o.store.apply(keys.map((key) => ({ key, version: val(1, 'first') })));
    await o.store.apply(keys.map((key) => ({ key, version: val(2, 'second') })));
    o.fail(/^DELETE/);
    await t.throwsAsync(o.store.compact(), { message: 'disk full' });
    t.is(o.store.counters.compactionFailures, 1);
    t.deepEqual(o.warnings, [
      'compaction of the log failed once since start (last error: disk full); the rows it did not delete wait for the next one (counter compactionFailures)',
    ]);
    o.clock.ms += WARNING_INTERVAL_MS - 1;
    await t.throwsAsync(o.store.compact(), { message: 'disk full' });
    await t.throwsAsync(o.store.compact(), { message: 'disk full' });
    t.is(o.store.counters.compactionFailures, 3);
    t.is(o.warnings.length, 1, 'not told again within the interval');
    o.clock.ms += 1;
    await t.throwsAsync(o.store.compact(), { message: 'disk full' });
    t.is(o.store.counters.compactionFailures, 4);
    t.is(o.warnings.length, 2);
    t.regex(o.warnings[1]!, /^compaction of the log failed 3 times since the last warning \(last error: disk full\)/);
    o.fail(null);
    t.is(await o.store.compact(), keys.length, 'every superseded row is still there to delete');
    t.is(o.warnings.length, 2);
    t.is(o.store.counters.compactionFailures, 4);
  } finally {
    await o.db.close();
  }
});

test('a compaction started by itself that fails is counted and told, not lost', async (t) => {
  const o = await openFailingStore();
  try {
    const keys = Array.from({ length: COMPACT_GARBAGE_ROWS_MIN }, (_, i) => `key${String(i).padStart(6, '0')}`);
    await o.store.apply(keys.map((key) => ({ key, version: val(1, 'first') })));
    o.fail(/^DELETE/);
    await o.store.apply(keys.map((key) => ({ key, version: val(2, 'second') })));
    await waitFor('the compaction to fail', () => o.store.counters.compactionFailures === 1, 30_000);
    t.is(o.warnings.length, 1);
    t.regex(o.warnings[0]!, /^compaction of the log failed once since start/);
    t.is(o.store.garbageRows, keys.length, 'the superseded rows wait for the next compaction');
    // The next commit finds the compaction still due, and it fails again, within the interval.
    await o.store.apply([{ key: keys[0]!, version: val(3, 'third') }]);
    await waitFor('the second compaction to fail', () => o.store.counters.compactionFailures === 2, 30_000);
    t.is(o.warnings.length, 1);
  } finally {
    await o.db.close();
  }
});

test('a failed commit rejects its writes, and is counted and told', async (t) => {
  const o = await openFailingStore();
  try {
    o.fail(/^INSERT/);
    await t.throwsAsync(o.store.apply([{ key: 'k', version: val(1, 'v') }]), { message: 'disk full' });
    t.is(o.store.counters.commitFailures, 1);
    t.regex(o.warnings[0]!, /^a commit to the log failed once since start \(last error: disk full\); its writes/);
    o.fail(null);
    await o.store.apply([{ key: 'k', version: val(1, 'v') }]);
    t.deepEqual(got(o.store, 'k'), val(1, 'v'));
    t.is(o.store.counters.commitFailures, 1);
    t.is(o.warnings.length, 1);
  } finally {
    await o.db.close();
  }
});

test('a large apply is committed in full (more rows than one INSERT statement holds)', async (t) => {
  let o = await openStore();
  try {
    const items = Array.from({ length: 1234 }, (_, i) => ({ key: `key${String(i).padStart(5, '0')}`, version: val(i + 1, `v${i}`) }));
    await o.store.apply(items);
    t.is(await rowCount(o.db, o.store), 1234);
    o = await reopen(o);
    t.is(o.store.size, 1234);
    t.deepEqual(got(o.store, 'key01233'), val(1234, 'v1233'));
  } finally {
    await o.db.close();
  }
});

test('an apply larger than one commit batch resolves only once all its rows are durable', async (t) => {
  const o = await openStore();
  try {
    const n = COMMIT_ROWS_MAX + 500;
    const items = Array.from({ length: n }, (_, i) => ({ key: `big${i}`, version: val(1, 'x') }));
    await o.store.apply(items);
    t.is(o.store.size, n, 'every row visible when the promise resolves');
    t.deepEqual(got(o.store, `big${n - 1}`), val(1, 'x'));
    t.is(await rowCount(o.db, o.store), n);
  } finally {
    await o.db.close();
  }
});

test('purgeTombstones removes old tombstones from disk and memory, keeps newer ones and values', async (t) => {
  let o = await openStore();
  try {
    await o.store.apply([
      { key: 'old-tomb', version: del(100) },
      { key: 'old-tomb-2', version: del(499) },
      { key: 'at-cutoff', version: del(500) },
      { key: 'new-tomb', version: del(1000) },
      { key: 'old-value', version: val(100, 'kept') },
    ]);
    const purged = await o.store.purgeTombstones(500);
    t.is(purged, 2);
    t.is(o.store.counters.tombstonesPurged, 2);
    t.is(got(o.store, 'old-tomb'), undefined);
    t.is(got(o.store, 'old-tomb-2'), undefined);
    t.deepEqual(got(o.store, 'at-cutoff'), del(500), 'ts equal to the cutoff is kept');
    t.deepEqual(got(o.store, 'new-tomb'), del(1000));
    t.deepEqual(got(o.store, 'old-value'), val(100, 'kept'));
    t.is(o.store.size, 3);
    t.deepEqual(
      (await diskRows(o.db)).map(([key]) => key),
      ['at-cutoff', 'new-tomb', 'old-value'],
    );
    t.is(await o.store.purgeTombstones(500), 0, 'nothing left to purge');
    o = await reopen(o);
    t.is(got(o.store, 'old-tomb'), undefined, 'purged tombstones do not come back');
    t.is(o.store.size, 3);
  } finally {
    await o.db.close();
  }
});

test('purgeTombstones with nothing old enough to purge leaves the garbage list to compaction', async (t) => {
  const o = await openStore();
  try {
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await o.store.apply(keys.map((key) => ({ key, version: val(1, 'a') })));
    await o.store.apply(keys.map((key) => ({ key, version: del(2) })));
    t.is(await o.store.purgeTombstones(2), 0, 'tombstones at ts 2 are not older than 2');
    t.is(o.store.garbageRows, keys.length);
    t.is(o.store.counters.rowsCompacted, 0);
    t.is(await o.store.purgeTombstones(3), keys.length);
    t.is(o.store.counters.rowsCompacted, keys.length, 'compacted first, then purged');
    t.is(o.store.size, 0);
  } finally {
    await o.db.close();
  }
});

test('purgeTombstones keeps a key whose tombstone is being replaced by a queued newer write', async (t) => {
  let o = await openStore();
  try {
    await o.store.apply([{ key: 'k', version: del(100) }]);
    const write = o.store.apply([{ key: 'k', version: val(200, 'revived') }]);
    const purged = await o.store.purgeTombstones(500);
    await write;
    t.is(purged, 0);
    t.deepEqual(got(o.store, 'k'), val(200, 'revived'));
    o = await reopen(o);
    t.deepEqual(got(o.store, 'k'), val(200, 'revived'));
  } finally {
    await o.db.close();
  }
});

test('scan returns keys in unsigned byte order after a key, at most `limit`', async (t) => {
  const o = await openStore();
  try {
    const keys = ['b', '\u00ff', 'a', '', 'B', '\u0000', 'ab', '\u0080', 'a\u0000', '\u007f'];
    const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x, 'latin1'), Buffer.from(y, 'latin1')));
    t.deepEqual(sorted, ['', '\u0000', 'B', 'a', 'a\u0000', 'ab', 'b', '\u007f', '\u0080', '\u00ff']);
    await o.store.apply(keys.map((key, i) => ({ key, version: val(i + 1, `v${i}`) })));

    const all = await o.store.scan(undefined, 100);
    t.deepEqual(
      all.map((e) => e.key),
      sorted,
    );
    t.like(all[0]!.version, val(4, 'v3'), 'entries carry their versions');

    t.deepEqual(
      (await o.store.scan(undefined, 3)).map((e) => e.key),
      ['', '\u0000', 'B'],
    );
    t.deepEqual(
      (await o.store.scan('a', 2)).map((e) => e.key),
      ['a\u0000', 'ab'],
    );
    t.deepEqual(
      (await o.store.scan('\u007f', 10)).map((e) => e.key),
      ['\u0080', '\u00ff'],
    );
    t.deepEqual(await o.store.scan('\u00ff', 10), []);
    t.deepEqual(await o.store.scan(undefined, 0), []);

    // Paging with the last key of each page visits every key once, in order.
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await o.store.scan(after, 3);
      if (page.length === 0) break;
      t.true(page.length <= 3);
      paged.push(...page.map((e) => e.key));
      after = page[page.length - 1]!.key;
    }
    t.deepEqual(paged, sorted);
  } finally {
    await o.db.close();
  }
});

/**
 * Rounds of apply calls, each of 1 to 4 writes to keys picked from up to 12
 * byte-string keys (an index taken modulo the keys), each call sometimes
 * followed by a turn of the event loop so that a commit starts before the
 * next calls arrive; a round's calls all run at once.
 */
const applyRounds = fc.record({
  keys: fc.uniqueArray(byteString(0, 3), { minLength: 1, maxLength: 12, size: 'max' }),
  rounds: fc.array(
    fc.array(
      fc.record({
        items: fc.array(fc.tuple(fc.nat(), version(fc.integer({ min: 1, max: 50 }), byteString(0, 3))), { minLength: 1, maxLength: 4 }),
        yieldAfter: fc.boolean(),
      }),
      { minLength: 1, maxLength: 30, size: 'max' },
    ),
    { minLength: 1, maxLength: 4 },
  ),
  lastPick: fc.nat(),
});

test('property: random concurrent applies end in the newest version per key, in memory and on disk', async (t) => {
  const property = fc.asyncProperty(applyRounds, async ({ keys, rounds, lastPick }) => {
    let o = await openStore();
    try {
      const expected = new Map<string, Version>();
      for (const calls of rounds) {
        const writes: Promise<void>[] = [];
        for (const { items, yieldAfter } of calls) {
          const batch = items.map(([pick, drawn]) => ({ key: keys[pick % keys.length]!, version: drawn }));
          for (const { key, version } of batch) expected.set(key, newest(expected.get(key), version)!);
          writes.push(o.store.apply(batch));
          if (yieldAfter) await new Promise<void>((resolve) => setImmediate(resolve));
        }
        await Promise.all(writes);
      }
      const inMemory = (): Map<string, Version | undefined> => new Map([...expected.keys()].map((k) => [k, got(o.store, k)]));
      assert.deepEqual(inMemory(), expected, 'memory');
      // Replayed with every superseded row still in the log (newest first: the older rows go straight to garbage).
      const logRows = (await o.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM log'))[0]!.n;
      o = await reopen(o);
      assert.deepEqual(inMemory(), expected, 'replayed before compaction');
      assert.equal(o.store.garbageRows, logRows - expected.size, 'garbage after replay');
      // Rows written after a replay get fresh seqs (a reused one would collide with a row on disk).
      const key = keys[lastPick % keys.length]!;
      expected.set(key, val(100, 'after replay'));
      await o.store.apply([{ key, version: val(100, 'after replay') }]);
      assert.equal(await rowCount(o.db, o.store), expected.size, 'rows after compaction');
      o = await reopen(o);
      assert.equal(o.store.size, expected.size, 'size after reopening');
      assert.deepEqual(inMemory(), expected, 'after reopening');
    } finally {
      await o.db.close();
    }
  });
  await t.notThrowsAsync(fc.assert(property, fcParams(5)));
});

test('textLiteral round-trips every byte, quotes and NULs through SQLite', async (t) => {
  const db = await Sqlite.open(':memory:');
  try {
    await db.exec('CREATE TABLE t (i INTEGER, k TEXT)');
    const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
    const cases = ['', all, "it's", "''", '\u0000', 'a\u0000b', '\u00ff\u0080', "\n\r\t;--'); DROP TABLE t; --"];
    await db.exec(`INSERT INTO t VALUES ${cases.map((c, i) => `(${i},${textLiteral(c)})`).join(',')}`);
    const rows = await db.all<{ i: number; k: string }>('SELECT i, k FROM t ORDER BY i');
    t.deepEqual(
      rows.map((r) => r.k),
      cases,
    );
  } finally {
    await db.close();
  }
});

test('a replica refuses writes beyond its queue limit instead of buffering without bound', async (t) => {
  const o = await openStore();
  try {
    const items = Array.from({ length: STORE_QUEUED_ROWS_MAX + 1 }, (_, i) => ({ key: `q${i}`, version: val(1, 'x') }));
    const err = await t.throwsAsync(o.store.apply(items));
    t.true(isKvError(err, 'Unavailable'));
    t.is(o.store.counters.overloaded, 1);
    await o.store.apply(items.slice(0, 10));
    t.is(o.store.size, 10, 'smaller writes still go through');
  } finally {
    await o.db.close();
  }
});

test('replay reads a log of large values a few rows per query, and all of it', async (t) => {
  let o = await openStore();
  const big = (i: number): string => String.fromCharCode(i).repeat(1024 * 1024);
  const n = 30; // 30 MiB of values: more than REPLAY_CHUNK_CHARS
  try {
    for (let i = 0; i < n; i++) await o.store.apply([{ key: `big${i}`, version: val(i + 1, big(i)) }]);
    const first = await replayChunk(o.db, Number.MAX_SAFE_INTEGER);
    t.true(first.rows.length >= 1 && first.rows.length * 1024 * 1024 <= REPLAY_CHUNK_CHARS, `${first.rows.length} rows in the first chunk`);
    t.deepEqual(
      first.rows.map((r) => r[1]),
      Array.from({ length: first.rows.length }, (_, i) => `big${n - 1 - i}`),
      'newest first',
    );
    o = await reopen(o);
    t.is(o.store.size, n);
    for (let i = 0; i < n; i++) t.true(got(o.store, `big${i}`)?.value === big(i), `big${i}`);
  } finally {
    await o.db.close();
  }
});

test('the log remembers its largest key plus value, and measures a log from before it did', async (t) => {
  let o = await openStore();
  const largest = async (): Promise<number | undefined> =>
    (await o.db.all<{ value: number }>("SELECT value FROM meta WHERE name = 'largest_record_chars'"))[0]?.value;
  try {
    t.is(await largest(), 0, 'an empty log');
    await o.store.apply([
      { key: 'ab', version: val(1, 'x'.repeat(10)) },
      { key: 'c', version: val(1, 'y') },
    ]);
    t.is(await largest(), 12);
    await o.store.apply([{ key: 'ab', version: val(2, '') }]);
    t.is(await largest(), 12, 'never lowered: an older row may still be in the log');
    await o.db.exec('DELETE FROM meta');
    o = await reopen(o);
    t.is(await largest(), 12, 'measured again from the log');
    t.deepEqual(got(o.store, 'ab'), val(2, ''));
    await o.store.apply([{ key: 'd', version: val(1, '\u00ff'.repeat(20)) }]);
    t.is(await largest(), 21, 'a value stored as a BLOB: one character a byte');
    await o.db.exec('DELETE FROM meta');
    o = await reopen(o);
    t.is(await largest(), 21, 'measured again from the log, a BLOB counted the same way');
  } finally {
    await o.db.close();
  }
});

test('printable ASCII keys and values are stored as TEXT, every other one as a BLOB', async (t) => {
  const o = await openStore();
  try {
    const texts = ['plain text', '', "it's ~ fine", 'tab\there', 'caf\u00e9', '\u0000', '\u007f', '\u00ff\u0080'];
    const expected = ['text', 'text', 'text', 'blob', 'blob', 'blob', 'blob', 'blob'];
    await o.store.apply(texts.map((v, i) => ({ key: `k${i}`, version: val(1, v) })));
    await o.store.apply(texts.map((k) => ({ key: k, version: val(1, 'v') })));
    const rows = await o.db.all<{ k: string; v: string }>('SELECT typeof(key) AS k, typeof(value) AS v FROM log ORDER BY seq');
    t.deepEqual(
      rows.slice(0, texts.length).map((r) => r.v),
      expected,
      'values',
    );
    t.deepEqual(
      rows.slice(texts.length).map((r) => r.k),
      expected,
      'keys',
    );
  } finally {
    await o.db.close();
  }
});

test('a log that holds any bytes as TEXT, as logs written before BLOBs do, replays beside BLOB rows', async (t) => {
  let o = await openStore();
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
  try {
    await o.store.apply([{ key: 'new', version: val(2, all) }]);
    await o.store.drain();
    await o.store.apply([{ key: all, version: val(2, 'a key of every byte') }]);
    await o.store.drain();
    // Rows as the earlier format wrote them: every key and value as TEXT.
    await o.db.exec(`INSERT INTO log (seq, key, value, stamp) VALUES (100, 'old', ${textLiteral(all)}, ${3 * 2}), (101, 'gone', '', ${4 * 2 + 1}),
      (102, ${textLiteral(`old ${all}`)}, ${textLiteral(all)}, ${5 * 2})`);
    o = await reopen(o);
    t.deepEqual(got(o.store, 'new'), val(2, all));
    t.deepEqual(got(o.store, all), val(2, 'a key of every byte'));
    t.deepEqual(got(o.store, 'old'), val(3, all));
    t.deepEqual(got(o.store, 'gone'), del(4));
    t.deepEqual(got(o.store, `old ${all}`), val(5, all));
  } finally {
    await o.db.close();
  }
});
