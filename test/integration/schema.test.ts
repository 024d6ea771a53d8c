import test from 'ava';
import { rmSync } from 'node:fs';
import { LocalCluster } from '../../src/harness/local-cluster';
import { KvNode } from '../../src/node/node';
import { Sqlite } from '../../src/storage/sqlite';

test('a node refuses a data file written with another table layout, and says what to do', async (t) => {
  const lc = await LocalCluster.create({ tokens: ['M'], replicationFactor: 1 });
  try {
    const db = await Sqlite.open(`${lc.dir}/node-0.sqlite`);
    await db.exec('CREATE TABLE log (seq INTEGER PRIMARY KEY, key BLOB)');
    await db.close();
    await t.throwsAsync(KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir }), {
      name: 'ConfigError',
      message: /data layout 0, this build reads layout 2; move it away/,
    });
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});

test('a new data file is stamped and opens again', async (t) => {
  const lc = await LocalCluster.create({ tokens: ['M'], replicationFactor: 1 });
  try {
    const node = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
    await node.stop();
    const again = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
    await again.stop();
    const db = await Sqlite.open(`${lc.dir}/node-0.sqlite`);
    t.deepEqual(await db.all('PRAGMA user_version'), [{ user_version: 2 }]);
    await db.close();
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});

/**
 * Layout 1 exactly as builds before the epoch log wrote it (frozen here: the
 * point is that such a file keeps opening, whatever schema.ts becomes).
 */
const LAYOUT_1 = `CREATE TABLE log (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, stamp INTEGER NOT NULL);
  CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE hints (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    ts INTEGER NOT NULL, deleted INTEGER NOT NULL, created_ms INTEGER NOT NULL
  );
  CREATE INDEX hints_by_target ON hints (target, id);
  PRAGMA user_version = 1;`;

test('a data file of layout 1 (before the epoch log) opens with its data, gains the bootstrap epoch, and reopens', async (t) => {
  const lc = await LocalCluster.create({ tokens: ['M'], replicationFactor: 1 });
  try {
    const file = `${lc.dir}/node-0.sqlite`;
    const old = await Sqlite.open(file);
    await old.exec(LAYOUT_1);
    // stamp = ts * 2 + deleted
    await old.exec(
      "INSERT INTO log (seq, key, value, stamp) VALUES (1, 'kept', 'from layout 1', 2000000); INSERT INTO meta VALUES ('settled_seq', 1);",
    );
    await old.close();
    for (let start = 0; start < 2; start++) {
      const node = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
      t.is(node.store.get('kept')?.value, 'from layout 1');
      t.is(node.epochs.epoch, 1);
      t.deepEqual(node.epochs.membership.members, [{ id: 0, token: 'M', state: 'NORMAL' }]);
      await node.stop();
    }
    const db = await Sqlite.open(file);
    t.deepEqual(await db.all('PRAGMA user_version'), [{ user_version: 2 }]);
    t.deepEqual(await db.all('SELECT epoch FROM epochs'), [{ epoch: 1 }], 'the bootstrap, stored once');
    await db.close();
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});
