/**
 * A cluster whose nodes run SQLite on a worker thread (synchronous FULL, so
 * `auto` picks the thread driver): the rest of the suite runs the default,
 * inline. Writes, a kill -9 and the replay after it, through real processes.
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { LocalCluster } from '../../src/harness/local-cluster';

let cluster: LocalCluster | undefined;
let client: KvClient | undefined;

test.after.always(async () => {
  client?.close();
  await cluster?.destroy();
});

test('with synchronous FULL the nodes run the thread driver; acknowledged writes survive a kill -9 and replay', async (t) => {
  cluster = await LocalCluster.start({ settings: { sqliteSynchronous: 'FULL' } });
  for (const n of cluster.config.nodes) t.regex(cluster.log(n.id), /\(SQLite thread; log replayed/);
  client = cluster.client();
  const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
  for (const key of keys) await client.put(key, `value of ${key}`, 'ALL');
  await cluster.kill(0);
  await cluster.restart(0);
  t.is(cluster.log(0).match(/\(SQLite thread; log replayed/g)?.length, 2, 'both lives of node 0 ran the thread driver');
  for (const key of keys) {
    const r = await client.get(key, 'ALL');
    t.true(r.found, key);
    t.is(r.value.toString(), `value of ${key}`);
  }
});
