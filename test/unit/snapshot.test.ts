/**
 * Snapshots of a data file (storage/snapshot.ts): which names are taken, a
 * copy that holds the rows committed before it (WAL included), a name used
 * twice, two at once, and a copy that cannot be written leaving nothing.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKvError } from '../../src/common/errors';
import { SNAPSHOT_FREE_BYTES_MIN } from '../../src/common/limits';
import { SnapshotWriter, snapshotNameProblem } from '../../src/storage/snapshot';
import { Sqlite, type SqliteDriverName } from '../../src/storage/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-snapshot-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('snapshot names: letters, digits, dot, underscore and dash, 1 to 64, not hidden', (t) => {
  for (const good of ['a', 'daily-1', '2026.12.07', 'before_move', 'x'.repeat(64), '20261207T043000Z'])
    t.is(snapshotNameProblem(good), undefined, good);
  for (const bad of ['', '.hidden', '..', '../up', 'a/b', 'a\\b', 'x'.repeat(65), 'two words', 'née', 7, undefined])
    t.truthy(snapshotNameProblem(bad), String(bad));
});

async function dataFile(name: string, rows: number, driver: SqliteDriverName = 'inline'): Promise<{ path: string; db: Sqlite }> {
  const path = join(dir, name);
  const db = await Sqlite.open(path, driver);
  await db.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)');
  for (let i = 0; i < rows; i++) await db.run('INSERT INTO t (k, v) VALUES (?, ?)', [i, `v${i}`]);
  return { path, db };
}

for (const driver of ['inline', 'thread'] as SqliteDriverName[]) {
  test(`${driver}: a snapshot holds every row committed before it, while the file stays open and written; the file's log stays; a name is used once`, async (t) => {
    const { path, db } = await dataFile(`node-${driver}.sqlite`, 50, driver);
    const writer = new SnapshotWriter(path, join(dir, 'snapshots'), `node-${driver}.sqlite`, driver);
    try {
      // Rows committed to the write-ahead log, not yet checkpointed into the file: the copy must hold them too.
      t.true(statSync(`${path}-wal`).size > 0);
      const r = await writer.write('first');
      t.is(r.path, join(dir, 'snapshots', 'first', `node-${driver}.sqlite`));
      t.true(r.bytes > 0);
      t.true(existsSync(`${path}-wal`), "the node's write-ahead log is still there once the copy's connection closed");
      await db.run('INSERT INTO t (k, v) VALUES (?, ?)', [50, 'later']);
      const copy = await Sqlite.open(r.path);
      try {
        t.deepEqual(await copy.all('SELECT count(*) AS n, max(k) AS last FROM t'), [{ n: 50, last: 49 }]);
      } finally {
        await copy.close();
      }
      t.deepEqual(await db.all('SELECT count(*) AS n FROM t'), [{ n: 51 }], 'the node goes on with its own file');
      const again = await writer.write('first').catch((e: unknown) => e);
      t.true(isKvError(again, 'InvalidRequest'), String(again));
      t.regex((again as Error).message, /^a snapshot named first exists already on this node/);
    } finally {
      await db.close();
    }
  });
}

test('one snapshot at a time: a second while the first runs is Unavailable', async (t) => {
  const { path, db } = await dataFile('node-1.sqlite', 10);
  const writer = new SnapshotWriter(path, join(dir, 'snapshots'), 'node-1.sqlite', 'inline');
  try {
    const first = writer.write('one');
    const second = await writer.write('two').catch((e: unknown) => e);
    t.true(isKvError(second, 'Unavailable'), String(second));
    await first;
    t.false(existsSync(join(dir, 'snapshots', 'two')));
  } finally {
    await db.close();
  }
});

test('a copy that cannot be written is Unavailable, in one sentence, and leaves nothing behind', async (t) => {
  const { path, db } = await dataFile('node-2.sqlite', 10);
  // A file where the snapshots' directory should be: nothing can be made under it.
  const blocked = join(dir, 'blocked');
  writeFileSync(blocked, 'not a directory');
  const writer = new SnapshotWriter(path, blocked, 'node-2.sqlite', 'inline');
  try {
    const err = await writer.write('x').catch((e: unknown) => e);
    t.true(isKvError(err, 'Unavailable'), String(err));
    t.regex((err as Error).message, /^the snapshot could not be written to .*blocked\/x\/node-2\.sqlite: /);
    const left = readdirSync(dir).filter((f) => f.startsWith('blocked'));
    t.deepEqual(left, ['blocked']);
  } finally {
    await db.close();
  }
});

test('a copy that would leave less than SNAPSHOT_FREE_BYTES_MIN free is refused before it starts, in one sentence', async (t) => {
  const { path, db } = await dataFile('node-3.sqlite', 10);
  const size = statSync(path).size + statSync(`${path}-wal`).size;
  const tight = new SnapshotWriter(path, join(dir, 'snapshots'), 'node-3.sqlite', 'inline', () => size + SNAPSHOT_FREE_BYTES_MIN - 1);
  const roomy = new SnapshotWriter(path, join(dir, 'snapshots'), 'node-3.sqlite', 'inline', () => size + SNAPSHOT_FREE_BYTES_MIN);
  try {
    const err = await tight.write('tight').catch((e: unknown) => e);
    t.true(isKvError(err, 'Unavailable'), String(err));
    t.regex(
      (err as Error).message,
      /^not enough free disk for the snapshot at .*tight\/node-3\.sqlite: \d+ MiB free, the copy needs up to \d+ MiB, and 256 MiB must stay free for the node's own writes$/,
    );
    t.false(existsSync(join(dir, 'snapshots', 'tight')), 'nothing made');
    t.true((await roomy.write('roomy')).bytes > 0, 'exactly enough room is enough');
  } finally {
    await db.close();
  }
});

test("a node lists its own snapshots by name, not another node's in a shared directory, and clears one", async (t) => {
  const root = join(dir, 'shared');
  const a = await dataFile('node-5.sqlite', 5);
  const b = await dataFile('node-6.sqlite', 5);
  const five = new SnapshotWriter(a.path, root, 'node-5.sqlite', 'inline');
  const six = new SnapshotWriter(b.path, root, 'node-6.sqlite', 'inline');
  try {
    t.deepEqual(five.list(), [], 'none yet, and no directory');
    await five.write('b-second');
    await five.write('a-first');
    await six.write('a-first');
    await six.write('six-only');
    t.deepEqual(
      five.list().map((e) => [e.name, e.path, e.bytes > 0, e.writtenMs > 0]),
      [
        ['a-first', join(root, 'a-first', 'node-5.sqlite'), true, true],
        ['b-second', join(root, 'b-second', 'node-5.sqlite'), true, true],
      ],
    );
    five.clear('a-first');
    t.false(existsSync(join(root, 'a-first', 'node-5.sqlite')));
    t.true(existsSync(join(root, 'a-first', 'node-6.sqlite')), "the other node's file of that snapshot stays, and its directory");
    six.clear('a-first');
    t.false(existsSync(join(root, 'a-first')), 'the directory goes with its last file');
    const none = (() => {
      try {
        five.clear('six-only');
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    t.true(isKvError(none, 'InvalidRequest'), String(none));
    t.is((none as Error).message, 'this node holds no snapshot named six-only');
    t.deepEqual(
      five.list().map((e) => e.name),
      ['b-second'],
    );
  } finally {
    await a.db.close();
    await b.db.close();
  }
});
