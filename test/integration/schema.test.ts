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
      message: /data layout 0, this build reads layout 1; move it away/,
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
    t.deepEqual(await db.all('PRAGMA user_version'), [{ user_version: 1 }]);
    await db.close();
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});
