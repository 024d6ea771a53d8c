/**
 * The tools learn the ring from the nodes, not from the cluster file (issue
 * 18), against real node processes. No operation can run yet from the
 * scripts, so the test writes a finished one into the nodes' epoch logs
 * while they are stopped, as a node that applied it would have stored it:
 * node 3 left (leave-begin, reads-switch, leave-complete). The cluster file
 * still lists node 3.
 */
import test from 'ava';
import { join } from 'node:path';
import { KvClient } from '../../src/client/client';
import { inspect } from '../../src/client/inspect';
import { clusterStatus } from '../../src/client/status';
import type { Change } from '../../src/membership/changes';
import { LocalCluster } from '../../src/harness/local-cluster';
import { SqliteEpochStore } from '../../src/storage/epoch-store';
import { Sqlite } from '../../src/storage/sqlite';

let c: LocalCluster | undefined;
const clients: KvClient[] = [];

test.after.always(async () => {
  for (const k of clients) k.close();
  await c?.destroy();
});

const LEAVE: Change[] = [
  { kind: 'leave-begin', node: 3 },
  { kind: 'reads-switch', node: 3 },
  { kind: 'leave-complete', node: 3 },
];

/** Appends node 3's finished leave to node `id`'s stored log (epochs 2 to 4). */
async function storeLeave(dir: string, id: number): Promise<void> {
  const db = await Sqlite.open(join(dir, `node-${id}.sqlite`));
  try {
    const store = await SqliteEpochStore.open(db);
    await store.append(LEAVE.map((change, i) => ({ epoch: i + 2, change })));
  } finally {
    await db.close();
  }
}

test.serial('with a seed down and a listed node gone, clients and tools follow the ring the nodes give', async (t) => {
  c = await LocalCluster.start();
  for (const id of [0, 1, 2, 3]) await c.stopNode(id);
  for (const id of [0, 1, 2, 3]) await storeLeave(c.dir, id);
  for (const id of [1, 2]) await c.startNode(id);
  // Node 0, the first seed, stays down: the client must learn the ring from another one. Node 1, started first, answers
  // no client until it has heard node 2's log, and each counts the other up only once heard: waited for, since the
  // QUORUM writes below need both.
  await c.waitAllSeeEachOther(undefined, [1, 2]);

  const client = await KvClient.connect(c.clusterFile);
  clients.push(client);
  t.is(client.epoch, 4, 'the epoch of the stored log, not the cluster file');
  t.deepEqual(
    client.endpoints.map((e) => e.id),
    [0, 1, 2],
    'node 3 left: nobody routes to it; node 0 is a member, down for now',
  );
  // Three nodes, RF 3: every key on 0, 1 and 2, and two of them answer.
  for (let i = 0; i < 20; i++) await client.put(`key-${i}`, `v${i}`, 'QUORUM');
  for (let i = 0; i < 20; i++) t.is((await client.get(`key-${i}`, 'QUORUM')).value.toString(), `v${i}`);

  // Every node ever in the ring, by id: state and whether it answers.
  const members = [
    [0, 'NORMAL', false],
    [1, 'NORMAL', true],
    [2, 'NORMAL', true],
    [3, 'LEFT', false],
  ];
  const status = await clusterStatus(c.config);
  t.is(status.epoch, 4);
  t.deepEqual(
    status.nodes.map((n) => [n.id, n.state, n.up]),
    members,
  );
  t.is(status.nodes[3]!.error, undefined, 'a node that left is not an error');
  t.deepEqual(status.operations, []);

  const ins = await inspect(c.config);
  t.deepEqual(
    ins.nodes.map((n) => [n.id, n.state, n.up]),
    members,
  );
  t.is(ins.nodes[3]!.error, undefined);
  t.deepEqual(ins.divergent, [], 'nodes 1 and 2 hold every key; node 3 is no replica of any');
  t.true(ins.placement.ranges.every((r) => !r.writes.includes(3)));
});
