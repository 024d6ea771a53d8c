/**
 * Replacing a dead node with real processes: a node killed with kill -9
 * while QUORUM writes run is replaced by a new node, and every acknowledged
 * write then reads back at QUORUM and is held by every replica of the final
 * ring; a replacement of a node that answers, or of no node, is refused.
 */
import test from 'ava';
import { NodeAdmin } from '../../src/client/client';
import { freeNodePort, LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { copiesMissing, membershipAt, untilOperation, WriteLoad } from './membership-helpers';

/** Starts node `id` to replace node `dead`; its admin. */
async function spawnReplacement(c: LocalCluster, id: number, dead: number): Promise<NodeAdmin> {
  const port = await freeNodePort();
  c.spawnNode(id, ['--host', '127.0.0.1', '--port', String(port), '--replace-node', String(dead)]);
  return new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 3000);
}

/** The operation error node's admin reports, once it reports one. */
function stoppedWith(admin: NodeAdmin): Promise<string> {
  return waitFor(
    'the operation to stop',
    async () => (await admin.operationProgress().catch(() => undefined))?.error ?? undefined,
    120_000,
  );
}

test('a node killed with kill -9 under a QUORUM write load is replaced: every acknowledged write reads back and sits on every replica of the final ring', async (t) => {
  const c = await LocalCluster.start();
  const client = c.client();
  try {
    // Keys "bulk-..." fall in (M, f], which nodes 1, 2 and 3 replicate.
    const load = new WriteLoad(client, 'bulk-');
    await waitFor('writes before the kill', () => load.acked.size > 1000, 60_000);
    await c.kill(1);
    const atKill = load.acked.size;
    await waitFor('writes while node 1 is dead', () => load.acked.size > atKill + 500, 60_000);
    const admin4 = await spawnReplacement(c, 4, 1);
    const done = await untilOperation(admin4, 'node 4 to replace node 1', (p) => p.done && p.state === 'NORMAL');
    admin4.close();
    const afterReplace = load.acked.size;
    await waitFor('writes after the replacement', () => load.acked.size > afterReplace + 500, 60_000);
    await load.stop();

    const m = await membershipAt(c, 0);
    t.is(m.members.find((n) => n.id === 1)?.state, 'LEFT');
    t.like(
      m.members.find((n) => n.id === 4),
      { state: 'NORMAL', token: 'f' },
      "node 4 holds node 1's token",
    );
    // Each range of node 1 came from both of its survivors.
    t.true(Number(done.keys) >= 2 * atKill, `node 4 streamed ${Number(done.keys)} keys`);
    t.is(done.rangesTotal, 6, "three ranges of node 1's, two survivors each");

    const lost = await load.lost();
    t.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${load.acked.size} acknowledged writes lost`);
    const node4 = m.members.find((n) => n.id === 4)!;
    const missing = await copiesMissing(m, load.acked.keys(), (id) =>
      id === 4 ? new NodeAdmin({ host: node4.host!, port: node4.port! }, c.config.secret, 3000) : c.admin(id),
    );
    t.deepEqual(missing.slice(0, 10), [], `${missing.length} copies missing`);
    // The writes hinted for node 1 while it was dead went to the key's replicas once it had left.
    t.true([0, 2, 3].some((id) => /handed \d+ hints of moved ranges/.test(c.log(id))));
    t.log(`${load.acked.size} writes acknowledged, ${load.failed} failed, ${Number(done.keys)} keys streamed`);
  } finally {
    client.close();
    await c.destroy();
  }
});

test('a replacement of a node that answers, or of a node that is not in the ring, is refused and changes nothing', async (t) => {
  const c = await LocalCluster.start();
  try {
    const up = await spawnReplacement(c, 4, 2);
    t.is(
      await stoppedWith(up),
      'node 2 is up (it answers); only a node that is down for good can be replaced: stop it first, or decommission it instead',
    );
    up.close();
    await c.stopNode(4);
    const unknown = await spawnReplacement(c, 5, 9);
    t.is(await stoppedWith(unknown), 'node 9 is not a member of the ring');
    unknown.close();
    t.is((await membershipAt(c, 0)).epoch, 1, 'no epoch was added');
  } finally {
    await c.destroy();
  }
});

test('a replacement whose surviving replica of a range is down stops with a sentence saying what to do', async (t) => {
  // Five nodes: node 3 (token "f") replicates (D,M], (M,V] and (V,f]; node 4 survives it in the last two.
  const c = await LocalCluster.start({ tokens: ['D', 'M', 'V', 'f', 'p'] });
  try {
    await c.kill(3);
    await c.stopNode(4);
    await c.waitAllSeeEachOther();
    const admin5 = await spawnReplacement(c, 5, 3);
    t.regex(
      await stoppedWith(admin5),
      /^node 4, a surviving replica of a range node 5 takes over, cannot be read \(.*\); start node 4 again and run the replace again: it goes on where it stopped \(each range is copied from every surviving replica, since one alone may miss a QUORUM write the dead node acknowledged\)$/,
    );
    admin5.close();
    const m = await membershipAt(c, 0);
    t.like(m.operation, { kind: 'replace', node: 5, replaces: 3, readsSwitched: false }, 'the replacement waits at its first step');
  } finally {
    await c.destroy();
  }
});
