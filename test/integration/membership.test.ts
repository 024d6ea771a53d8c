/**
 * Membership operations with real node processes: a node joins and is then
 * decommissioned while a QUORUM write load runs, and every acknowledged
 * write reads back at QUORUM afterwards; two operations started at once
 * (one goes on, the other is refused in one sentence); a join whose source
 * of a range is down stops and says so. Serial: five clusters starting at
 * once on a loaded two-core machine missed the 20 s start deadline.
 */
import test from 'ava';
import { NodeAdmin } from '../../src/client/client';
import { freeNodePort, LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { RpcConnection } from '../../src/rpc/connection';
import { RemoteAcceptor } from '../../src/rpc/paxos-wire';
import { membershipAt, preload, untilOperation, WriteLoad } from './membership-helpers';

test.serial('a node joins and is decommissioned under a QUORUM write load: no acknowledged write is lost', async (t) => {
  const c = await LocalCluster.start();
  const client = c.client();
  try {
    const load = new WriteLoad(client);
    // A cas in the range node 4 will take over: its request id must reach node 4 with the range (paxosRows).
    t.true((await client.putIfAbsent('load-0-cas', 'x', { requestId: 'before-the-join' })).applied);
    await waitFor('writes before the join', () => load.acked.size > 1000, 60_000);
    const port = await freeNodePort();
    // Past every key the load writes: node 4 takes over the range all of them fall in, while they are written.
    const token = Buffer.from('load-9', 'latin1').toString('hex');
    c.spawnNode(4, ['--host', '127.0.0.1', '--port', String(port), '--join-token-hex', token]);
    const admin4 = new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 3000);
    const joined = await untilOperation(admin4, 'node 4 to join', (p) => p.done && p.state === 'NORMAL');
    t.true(Number(joined.keys) >= 1000, `node 4 streamed ${Number(joined.keys)} keys`);
    const m = await membershipAt(c, 0);
    t.is(m.members.find((n) => n.id === 4)?.state, 'NORMAL');
    t.is(m.epoch, 4, 'join-begin, reads-switch and join-complete after the bootstrap');
    const conn = new RpcConnection({ host: '127.0.0.1', port, frameBytesMax: 4 << 20 });
    const rows = await new RemoteAcceptor(conn, c.config.secret, 3000, { id: 99, epoch: () => 0 }).paxosRows(
      'load-0-cas',
      'load-0-cas\u0000',
      1,
    );
    conn.close();
    t.deepEqual(
      rows.rows[0]?.state.recent.map((r) => r.requestId),
      ['before-the-join'],
      "the cas's request id came with the range",
    );

    const afterJoin = load.acked.size;
    await waitFor('writes after the join', () => load.acked.size > afterJoin + 500, 60_000);
    await admin4.decommission();
    await waitFor('node 4 to leave and exit', () => !c.isRunning(4), 180_000);
    admin4.close();
    t.regex(c.log(4), /has left the ring/);
    await load.stop();
    t.is((await membershipAt(c, 1)).members.find((n) => n.id === 4)?.state, 'LEFT');

    const lost = await load.lost();
    t.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${load.acked.size} acknowledged writes lost`);
    t.log(`${load.acked.size} writes acknowledged, ${load.failed} failed, 0 lost`);
  } finally {
    client.close();
    await c.destroy();
  }
});

test.serial('two decommissions at once: one goes on, the other is refused while it runs', async (t) => {
  // Data to stream, slowly (8 KiB/s: several seconds), so that the winner is still leaving when the loser tries again.
  // Without it the winner of an empty ring left in 0.2 s, and on a busy machine the loser's second try then began a
  // leave of its own, rightly: nothing was in progress any more. (16 KiB/s left a couple of seconds.)
  const c = await LocalCluster.start({ tokens: ['D', 'M', 'V', 'f', 'p'], settings: { streamBytesPerSecond: 8 * 1024 } });
  const client = c.client();
  try {
    for (const prefix of ['E', 'N', 'g']) await preload(client, prefix, 200, 100);
    const admins = [1, 2].map((id) => c.admin(id, 10_000));
    const outcomes = await Promise.allSettled(admins.map((a) => a.decommission()));
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    t.is(refused.length, 1, JSON.stringify(outcomes));
    t.regex((refused[0]!.reason as Error).message, /^another operation \(leave of node [12]\) is in progress$/);
    const winner = outcomes[0]!.status === 'fulfilled' ? 1 : 2;
    await waitFor(`node ${winner} to leave and exit`, () => !c.isRunning(winner), 180_000);
    admins.forEach((a) => a.close());
    const survivor = winner === 1 ? 2 : 1;
    const m = await membershipAt(c, survivor);
    t.is(m.members.find((n) => n.id === winner)?.state, 'LEFT');
    t.is(m.members.find((n) => n.id === survivor)?.state, 'NORMAL');
    t.is(m.operation, undefined);
  } finally {
    client.close();
    await c.destroy();
  }
});

test.serial('a decommission that would leave fewer nodes than the replication factor is refused and changes nothing', async (t) => {
  const c = await LocalCluster.start({ tokens: ['M', 'f', 'p'] });
  try {
    const admin = c.admin(0, 10_000);
    const err = await t.throwsAsync(admin.decommission());
    t.regex(err!.message, /node 0 cannot leave: the ring would have 2 nodes, fewer than the replication factor 3/);
    admin.close();
    t.is((await membershipAt(c, 1)).epoch, 1);
    t.true(c.isRunning(0));
  } finally {
    await c.destroy();
  }
});

test.serial('a join whose source of a range is down stops with a sentence saying what to do', async (t) => {
  const c = await LocalCluster.start();
  try {
    await c.stopNode(3);
    await c.waitAllSeeEachOther();
    const port = await freeNodePort();
    // Node 4 at "k": node 3 gives up (M, f] to it (see the stream plan's test).
    c.spawnNode(4, ['--host', '127.0.0.1', '--port', String(port), '--join-token-hex', Buffer.from('k').toString('hex')]);
    const admin4 = new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 3000);
    const stopped = await waitFor(
      'the join to stop',
      async () => (await admin4.operationProgress().catch(() => undefined))?.error ?? undefined,
      120_000,
    );
    admin4.close();
    t.regex(stopped, /^node 3, which gives up a range to node 4, cannot be read \(.*\); start node 3 again and run the join again/);
  } finally {
    await c.destroy();
  }
});

test.serial('a node that was down through a join takes up the epochs it missed before it serves', async (t) => {
  const c = await LocalCluster.start();
  try {
    // Node 4 at "k" streams from nodes 2, 3 and 0 (see the stream plan's test): node 1 may be down.
    await c.stopNode(1);
    await c.waitAllSeeEachOther();
    const port = await freeNodePort();
    c.spawnNode(4, ['--host', '127.0.0.1', '--port', String(port), '--join-token-hex', Buffer.from('k').toString('hex')]);
    const admin4 = new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 3000);
    await untilOperation(admin4, 'node 4 to join', (p) => p.done && p.state === 'NORMAL');
    admin4.close();
    await c.startNode(1);
    // The first answer node 1 gives already has the join: it fetched the log from its peers before listening.
    const m = await membershipAt(c, 1);
    t.is(m.epoch, 4);
    t.is(m.members.find((n) => n.id === 4)?.state, 'NORMAL');
    t.regex(c.log(1), /node 1 took up epochs 2 to 4 from its peers before serving/);
    await waitFor('node 1 to see node 4 up', async () => !(await c.downPeers(1)).includes(4));
  } finally {
    await c.destroy();
  }
});
