/**
 * Removing a dead node with real processes, through scripts/admin.sh's
 * program: a node killed with kill -9 while QUORUM writes run is removed
 * by another node, every acknowledged write then reads back at QUORUM and
 * is held by every replica of the final ring, and the removed node started
 * again says it left and exits; a removal of a node that answers, or of no
 * node, is refused and changes nothing.
 */
import test from 'ava';
import { Placement } from '../../src/membership/placement';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { runAdmin } from './cluster-calls';
import { copiesMissing, membershipAt, WriteLoad } from './membership-helpers';

test('a node killed with kill -9 under a QUORUM write load is removed: every acknowledged write reads back and sits on every replica of the final ring', async (t) => {
  // Five nodes: node 3 (token "f") replicates (D,M], (M,V] and (V,f]; keys "bulk-..." fall in (V,f].
  const c = await LocalCluster.start({ tokens: ['D', 'M', 'V', 'f', 'p'] });
  const client = c.client();
  try {
    const up = await runAdmin(c, 'remove', '2');
    t.is(up.code, 1);
    t.is(
      up.stderr.trim(),
      'removal of node 2: node 2 is up (it answers); only a node that is down for good can be removed: decommission it instead',
    );
    const unknown = await runAdmin(c, 'remove', '9');
    t.is(unknown.code, 1);
    t.is(unknown.stderr.trim(), 'removal of node 9: node 9 is not a member of the ring');
    t.is((await membershipAt(c, 0)).epoch, 1, 'no epoch was added');

    const load = new WriteLoad(client, 'bulk-');
    await waitFor('writes before the kill', () => load.acked.size > 1000, 60_000);
    await c.kill(3);
    const atKill = load.acked.size;
    await waitFor('writes while node 3 is dead', () => load.acked.size > atKill + 500, 60_000);
    const removed = await runAdmin(c, 'remove', '3');
    t.is(removed.code, 0, removed.stderr);
    t.regex(removed.stdout, /^node 3 was removed from the ring by node 0 \(\d+ keys copied, each range from every surviving replica\)$/m);
    const afterRemoval = load.acked.size;
    await waitFor('writes after the removal', () => load.acked.size > afterRemoval + 500, 60_000);
    await load.stop();

    const m = await membershipAt(c, 0);
    t.is(m.members.find((n) => n.id === 3)?.state, 'LEFT');
    t.is(m.operation, undefined);
    // Node 0 relayed every stream: three ranges of node 3's, from both survivors of each.
    t.regex(c.log(0), /streaming 6 ranges for the removal that began at epoch 2/);

    const lost = await load.lost();
    t.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${load.acked.size} acknowledged writes lost`);
    const missing = await copiesMissing(m, load.acked.keys(), (id) => c.admin(id));
    t.deepEqual(missing.slice(0, 10), [], `${missing.length} copies missing`);
    const replicas = Placement.of(m).rangeOf('bulk-0000000').reads;
    t.true(replicas.includes(1), 'node 1, which held none of these keys before, is a replica of them now');

    // Started again with its data, the removed node says so and exits without serving.
    c.spawnNode(3);
    await waitFor('node 3 to exit', () => !c.isRunning(3), 60_000);
    t.not(await c.stopNode(3), 0, 'the removed node exits with an error code');
    t.regex(
      c.log(3),
      /node 3 left the ring at epoch 4 \(removed while down, by node 0\); it will not serve; remove its data directory or join it again as a new node/,
    );
    t.log(`${load.acked.size} writes acknowledged, ${load.failed} failed`);
  } finally {
    client.close();
    await c.destroy();
  }
});
