import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_SETTINGS, parseSettings, sqliteDriverOf } from '../../src/config/cluster';
import { PREPARED_STATEMENTS_MAX } from '../../src/storage/sqlite-inline';
import { ReplicaStore } from '../../src/storage/replica-store';
import { Sqlite, SqliteDriverName } from '../../src/storage/sqlite';

// Both drivers must behave alike behind Sqlite: the rest of the suite runs on the default one.
const DRIVERS: readonly SqliteDriverName[] = ['inline', 'thread'];

const dir = mkdtempSync(join(tmpdir(), 'ringkv-sqlite-drivers-'));
let fileNo = 0;
const file = (): string => join(dir, `db-${++fileNo}.sqlite`);

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

for (const driver of DRIVERS) {
  test(`${driver}: the connection says which driver runs it`, async (t) => {
    const db = await Sqlite.open(':memory:', driver);
    t.is(db.driver, driver);
    await db.close();
  });

  test(`${driver}: integers, reals, text, blobs and nulls go in and come back as they were`, async (t) => {
    const db = await Sqlite.open(':memory:', driver);
    try {
      await db.exec('CREATE TABLE t (a, b, c, d, e)'); // no affinity: a value keeps the type it was bound with
      await db.run('INSERT INTO t VALUES (?, ?, ?, ?, ?)', [7, 2.5, 'x\u00ff', Buffer.from([0, 1, 255]), null]);
      const [row] = await db.all<Record<string, unknown>>('SELECT a, typeof(a) AS ta, b, typeof(b) AS tb, c, d, typeof(d) AS td, e FROM t');
      t.deepEqual(row, { a: 7, ta: 'integer', b: 2.5, tb: 'real', c: 'x\u00ff', d: Buffer.from([0, 1, 255]), td: 'blob', e: null });
    } finally {
      await db.close();
    }
  });

  test(`${driver}: numbered parameters bind by number, and a division of bound integers stays an integer one`, async (t) => {
    const db = await Sqlite.open(':memory:', driver);
    try {
      const rows = await db.all<{ q: number; again: number }>('SELECT ?2 / ?1 AS q, ?2 AS again', [2, 7]);
      t.deepEqual(rows, [{ q: 3, again: 7 }]);
      t.deepEqual(await db.all<{ n: number }>('SELECT 1 AS n UNION ALL SELECT 2 LIMIT ?1', [1]), [{ n: 1 }]);
    } finally {
      await db.close();
    }
  });

  test(`${driver}: change() counts the rows a statement changed, and takes a statement that returns rows`, async (t) => {
    const db = await Sqlite.open(':memory:', driver);
    try {
      await db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)');
      t.is(await db.change('INSERT INTO t (v) VALUES (?), (?), (?)', ['a', 'b', 'c']), 3);
      t.is(await db.change('DELETE FROM t WHERE k >= ?', [2]), 2);
      await t.notThrowsAsync(db.change('PRAGMA user_version'));
    } finally {
      await db.close();
    }
  });

  test(`${driver}: a transaction script that fails part way changes nothing, and the connection goes on`, async (t) => {
    const db = await Sqlite.open(':memory:', driver);
    try {
      await db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
      const err = await t.throwsAsync(db.execTransaction(["INSERT INTO t VALUES ('a');", "INSERT INTO t VALUES ('a');"]), {
        message: /^SQLITE_CONSTRAINT: UNIQUE constraint failed/,
      });
      t.is((err as Error & { code?: string }).code, 'SQLITE_CONSTRAINT', 'the primary code, as the sqlite3 package gives it');
      t.deepEqual(await db.all('SELECT k FROM t'), []);
      await db.execTransaction("INSERT INTO t VALUES ('b');");
      await t.throwsAsync(
        db.transaction(async () => {
          await db.run("INSERT INTO t VALUES ('c')");
          throw new Error('the body failed');
        }),
        { message: 'the body failed' },
      );
      t.deepEqual(await db.all('SELECT k FROM t'), [{ k: 'b' }]);
    } finally {
      await db.close();
    }
  });

  test(`${driver}: transactions run one after another in the order they were asked for`, async (t) => {
    const db = await Sqlite.open(':memory:', driver);
    try {
      await db.exec('CREATE TABLE t (n INTEGER)');
      const done: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0
            ? db.execTransaction(`INSERT INTO t VALUES (${i});`)
            : db.transaction(async () => {
                await db.run('INSERT INTO t VALUES (?)', [i]);
              })
          ).then(() => done.push(i)),
        ),
      );
      t.deepEqual(
        done,
        Array.from({ length: 20 }, (_, i) => i),
      );
      t.deepEqual(
        (await db.all<{ n: number }>('SELECT n FROM t ORDER BY rowid')).map((r) => r.n),
        Array.from({ length: 20 }, (_, i) => i),
      );
    } finally {
      await db.close();
    }
  });

  test(`${driver}: more distinct statements than the prepared-statement cache holds all still run`, async (t) => {
    const db = await Sqlite.open(':memory:', driver);
    try {
      const n = PREPARED_STATEMENTS_MAX + 10;
      for (let i = 0; i < n; i++) t.deepEqual(await db.all(`SELECT ${i} AS n`), [{ n: i }]);
      t.deepEqual(await db.all('SELECT 0 AS n'), [{ n: 0 }], 'a statement evicted from the cache is prepared again');
    } finally {
      await db.close();
    }
  });
}

// A log written through one driver replays through the other: a node can change driver across a restart.
for (const [writer, reader] of [
  ['thread', 'inline'],
  ['inline', 'thread'],
] as const) {
  test(`a log written by the ${writer} driver replays through the ${reader} driver`, async (t) => {
    const path = file();
    const db = await Sqlite.open(path, writer);
    await db.exec('PRAGMA journal_mode = WAL');
    const store = await ReplicaStore.open(db);
    const versions = Array.from({ length: 500 }, (_, i) => ({
      key: `k${i % 200}`,
      version: { ts: i + 1, value: i % 3 === 0 ? Buffer.from([i % 256, 0, 255]).toString('latin1') : `v${i}`, deleted: i % 7 === 0 },
    }));
    await store.apply(versions);
    await store.compact();
    await store.drain();
    await db.close();

    const again = await Sqlite.open(path, reader);
    try {
      const replayed = await ReplicaStore.open(again);
      t.is(replayed.size, 200);
      for (const { key, version } of versions.slice(-200)) {
        const v = replayed.get(key);
        t.deepEqual(v && { ts: v.ts, value: v.value, deleted: v.deleted }, version, key);
      }
    } finally {
      await again.close();
    }
  });
}

test('a batch appended as bound rows (inline) and as a script (thread) leaves the same rows, column types and bytes', async (t) => {
  const now = Date.now() * 1000;
  const versions = [
    { key: 'plain', version: { ts: now, value: 'ascii value', deleted: false } },
    { key: "it's", version: { ts: now + 1, value: "quote ' inside", deleted: false } },
    { key: 'bytes\u0000\u00ff', version: { ts: now + 2, value: '\u0000\u0001\u00fe', deleted: false } },
    { key: 'empty', version: { ts: now + 3, value: '', deleted: false } },
    { key: 'gone', version: { ts: now + 4, value: '', deleted: true } },
    { key: 'ttl', version: { ts: now + 5, value: 'expiring', deleted: false, expires: now + 60_000_000 } },
    { key: 'ttl\u0080', version: { ts: now + 6, value: '\u00e9', deleted: false, expires: now + 1 } },
  ];
  const rowsOf = async (driver: SqliteDriverName): Promise<unknown[]> => {
    const db = await Sqlite.open(file(), driver);
    try {
      const store = await ReplicaStore.open(db);
      t.is(db.bindsCheaply, driver === 'inline');
      await store.apply(versions);
      await store.drain();
      return await db.all(
        'SELECT seq, key, typeof(key) AS tk, value, typeof(value) AS tv, stamp, typeof(stamp) AS ts, expires FROM log ORDER BY seq',
      );
    } finally {
      await db.close();
    }
  };
  const inline = await rowsOf('inline');
  t.is(inline.length, versions.length);
  t.deepEqual(inline, await rowsOf('thread'));
});

test('auto picks inline with synchronous NORMAL and the thread driver with FULL; either can be asked for', (t) => {
  t.is(sqliteDriverOf(DEFAULT_SETTINGS), 'inline');
  t.is(sqliteDriverOf(parseSettings({ sqliteSynchronous: 'FULL' })), 'thread');
  t.is(sqliteDriverOf(parseSettings({ sqliteSynchronous: 'FULL', sqliteDriver: 'inline' })), 'inline');
  t.is(sqliteDriverOf(parseSettings({ sqliteDriver: 'thread' })), 'thread');
  t.throws(() => parseSettings({ sqliteDriver: 'fast' }), {
    instanceOf: ConfigError,
    message: 'settings.sqliteDriver must be "auto", "inline" or "thread"',
  });
});
