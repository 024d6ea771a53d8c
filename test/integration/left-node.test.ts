/**
 * A node that left the ring (decommissioned, or replaced while it was dead)
 * and is started again later with its old data directory: it learns from
 * its peers' logs that it is LEFT, says so in one sentence and exits with a
 * non-zero code, before it listens; the ring and the others' data stay as
 * they were.
 */
import test from 'ava';
import { NodeAdmin } from '../../src/client/client';
import { ringMembers } from '../../src/membership/changes';
import { freeNodePort, LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { keysHeld, membershipAt, untilOperation } from './membership-helpers';

/** Every key each node of the ring holds, by node id. */
async function keysByNode(c: LocalCluster, admins: ReadonlyMap<number, NodeAdmin>): Promise<Map<number, number>> {
  const m = await membershipAt(c, 0);
  const out = new Map<number, number>();
  for (const n of ringMembers(m)) {
    const admin = admins.get(n.id) ?? c.admin(n.id);
    try {
      out.set(n.id, (await keysHeld(admin)).size);
    } finally {
      if (!admins.has(n.id)) admin.close();
    }
  }
  return out;
}

/** Starts node `id` again with its old data directory; resolves with its exit code once it exited. */
async function startAgain(c: LocalCluster, id: number): Promise<number | null> {
  c.spawnNode(id);
  try {
    await waitFor(`node ${id} to exit`, () => !c.isRunning(id), 60_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; its log ends: ${c.log(id).slice(-1500)}`);
  }
  return c.stopNode(id);
}

test('a decommissioned node and a replaced node, started again with their data, say they left and exit without serving', async (t) => {
  // Five nodes: after node 4 leaves and node 1 is replaced, the ring still has four.
  const c = await LocalCluster.start({ tokens: ['D', 'M', 'V', 'f', 'p'] });
  const client = c.client();
  const admins = new Map<number, NodeAdmin>();
  try {
    for (let i = 0; i < 200; i++) await client.put(`key-${i}`, `value-${i}`, 'QUORUM');
    const admin4 = c.admin(4);
    await admin4.decommission();
    admin4.close();
    await waitFor('node 4 to leave and exit', () => !c.isRunning(4), 120_000);
    await c.kill(1);
    const port = await freeNodePort();
    c.spawnNode(5, ['--host', '127.0.0.1', '--port', String(port), '--replace-node', '1']);
    const admin5 = new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 3000);
    admins.set(5, admin5);
    await untilOperation(admin5, 'node 5 to replace node 1', (p) => p.done && p.state === 'NORMAL');
    const before = await membershipAt(c, 0);
    const keysBefore = await keysByNode(c, admins);

    const decommissioned = await startAgain(c, 4);
    const replaced = await startAgain(c, 1);

    // Epochs 2-4: node 4's decommission; 5-7: node 5's replacement of node 1.
    t.is(before.epoch, 7);
    t.deepEqual(
      before.members.filter((n) => n.state === 'LEFT').map((n) => n.id),
      [1, 4],
    );
    t.not(decommissioned, 0, 'the decommissioned node exits with an error code');
    t.not(replaced, 0, 'the replaced node exits with an error code');
    t.regex(
      c.log(4),
      /node 4 left the ring at epoch 4 \(decommissioned\); it will not serve; remove its data directory or join it again as a new node/,
    );
    t.regex(
      c.log(1),
      /node 1 left the ring at epoch 7 \(replaced by node 5\); it will not serve; remove its data directory or join it again as a new node/,
    );
    // It never listened: the start line of this second run is not there (the first run's is, once).
    t.is(c.log(1).match(/node 1 serving /g)?.length, 1, 'node 1 served only in its first run');
    t.is(c.log(4).match(/node 4 serving /g)?.length, 1, 'node 4 served only in its first run');
    const after = await membershipAt(c, 0);
    t.deepEqual(after, before, 'the ring is unchanged');
    t.deepEqual(await keysByNode(c, admins), keysBefore, 'every node of the ring holds the keys it held');
  } finally {
    client.close();
    for (const a of admins.values()) a.close();
    await c.destroy();
  }
});
