/**
 * Cleanup with real processes: a join left node 3 holding a range it gave
 * up; status counts it as reclaimable, cleanup is refused while the join is
 * unfinished, and once it is done cleanup deletes that range from node 3
 * (and only that), reclaimable goes to 0, anti-entropy does not copy it
 * back, and every key still reads at QUORUM.
 */
import test from 'ava';
import { cleanupCluster } from '../../src/client/cleanup';
import { NodeAdmin } from '../../src/client/client';
import { clusterStatus } from '../../src/client/status';
import { freeNodePort, LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { keysHeld, untilOperation } from './membership-helpers';

const JOIN_AT_K = Buffer.from('k').toString('hex');

test('after a join, cleanup deletes the ranges the old replicas gave up, refused while the join is unfinished', async (t) => {
  const c = await LocalCluster.start();
  const client = c.client();
  try {
    // "bulk-..." falls in (M, f], which node 3 gives up to node 4 at "k"; "q..." in (p, 0x7f], which nodes 3, 0 and 1 keep.
    const bulk = Array.from({ length: 2000 }, (_, i) => `bulk-${String(i).padStart(5, '0')}`);
    const kept = Array.from({ length: 300 }, (_, i) => `q-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < bulk.length + kept.length; i += 100)
      await Promise.all([...bulk, ...kept].slice(i, i + 100).map((k) => client.put(k, `v-${k}`, 'QUORUM')));

    // A join whose source is down stops after its begin: the ring has an operation in progress.
    await c.stopNode(3);
    await c.waitAllSeeEachOther();
    const port = await freeNodePort();
    c.spawnNode(4, ['--host', '127.0.0.1', '--port', String(port), '--join-token-hex', JOIN_AT_K]);
    const admin4 = new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 3000);
    await waitFor('the join to stop', async () => (await admin4.operationProgress().catch(() => undefined))?.error, 120_000);
    const refusal = /^an operation \(join of node 4\) is in progress; run cleanup once it is done \(its pending ranges are not garbage\)$/;
    t.regex((await t.throwsAsync(cleanupCluster(c.config, undefined)))!.message, refusal);
    const admin0 = c.admin(0);
    t.regex((await t.throwsAsync(admin0.cleanup(true)))!.message, refusal, 'a node refuses it too');
    admin0.close();

    // Node 3 back, node 4 restarted: it goes on with its join.
    await c.startNode(3);
    await c.stopNode(4);
    c.spawnNode(4);
    await untilOperation(admin4, 'node 4 to join', (p) => p.done && p.state === 'NORMAL');
    admin4.close();

    const before = await clusterStatus(c.config);
    const node3 = before.nodes.find((n) => n.id === 3)!;
    t.true(node3.reclaimableKeys! >= bulk.length, `node 3 holds ${node3.reclaimableKeys} keys it no longer replicates`);
    t.true(node3.reclaimable! >= bulk.length * 'bulk-00000v-bulk-00000'.length);
    t.is(before.nodes.find((n) => n.id === 4)!.reclaimableKeys, 0, 'the new node holds only its ranges');
    const admin3 = c.admin(3);
    const heldBefore = await keysHeld(admin3);

    const done = await cleanupCluster(c.config, undefined);
    t.true(done.ok, JSON.stringify(done));
    t.true(done.nodes.find((n) => n.node === 3)!.keys >= bulk.length);
    t.is(done.nodes.find((n) => n.node === 4)!.keys, 0);

    const held = await keysHeld(admin3);
    t.deepEqual(
      bulk.filter((k) => held.has(k)),
      [],
      'node 3 holds no key of the range it gave up',
    );
    t.deepEqual(
      kept.filter((k) => !held.has(k)),
      [],
      'and every key of the ranges it kept',
    );
    t.true(heldBefore.size - held.size >= bulk.length);
    const after = await clusterStatus(c.config);
    t.deepEqual(
      after.nodes.filter((n) => n.state !== 'LEFT').map((n) => [n.id, n.reclaimableKeys, n.reclaimable]),
      after.nodes.filter((n) => n.state !== 'LEFT').map((n) => [n.id, 0, 0]),
    );

    // Anti-entropy goes on comparing node 3 with its peers; none of them copies the range back to it.
    const steps = async (): Promise<number> => Number((await admin3.status()).counters['repair.steps']);
    const stepsAtCleanup = await steps();
    await waitFor('node 3 to run anti-entropy steps', async () => (await steps()) >= stepsAtCleanup + 6, 60_000);
    const later = await keysHeld(admin3);
    t.deepEqual(
      bulk.filter((k) => later.has(k)),
      [],
      'anti-entropy copied none back',
    );
    admin3.close();
    const unread = [];
    for (const k of [...bulk, ...kept]) if ((await client.get(k, 'QUORUM')).value.toString() !== `v-${k}`) unread.push(k);
    t.deepEqual(unread, []);
  } finally {
    client.close();
    await c.destroy();
  }
});
