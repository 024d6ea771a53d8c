/**
 * Moves and aborts with real node processes, through scripts/admin.sh's
 * program: a node moves while a QUORUM write load runs and every
 * acknowledged write reads back, and the replica that took over the moved
 * range holds them; a move aborted mid-stream (paced slowly through the
 * cluster file) brings the previous placement back and stops streaming,
 * and an aborted join's node leaves and exits; two operations at once (one
 * refused), and the bad requests, each refused in one sentence without a
 * new epoch; rebalance --apply's moves, one after another. Serial: the slow streams keep an
 * operation running while others are tried, and five clusters at once on a
 * loaded machine would stretch every barrier.
 */
import test from 'ava';
import { KvClient, NodeAdmin } from '../../src/client/client';
import { fromByteString, toByteString } from '../../src/common/bytes';
import type { Membership } from '../../src/membership/changes';
import { Placement } from '../../src/membership/placement';
import { freeNodePort, LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { membershipAt, preload, untilOperation, WriteLoad } from './membership-helpers';
import { runAdmin } from './cluster-calls';

const admin = runAdmin;

/** The keys node `id` holds itself in [from, to), read page by page. */
async function keysHeldBy(c: LocalCluster, id: number, from: string, to: string): Promise<Set<string>> {
  const a = c.admin(id, 10_000);
  const keys = new Set<string>();
  try {
    let cursor = from;
    for (;;) {
      const page = await a.readRange(fromByteString(cursor), fromByteString(to), 1000, 1 << 20);
      for (const e of page.entries) keys.add(toByteString(e.key));
      if (!page.more || page.entries.length === 0) return keys;
      cursor = `${toByteString(page.entries[page.entries.length - 1]!.key)}\u0000`;
    }
  } finally {
    a.close();
  }
}

/** Placements as comparable rows. */
function rows(m: Membership): string {
  return JSON.stringify(Placement.of(m).ranges.map((r) => [r.end, r.reads, r.writes]));
}

/** How many of the `count` preloaded keys `prefix`NNNNNN a QUORUM read does not find. */
async function unreadable(client: KvClient, prefix: string, count: number): Promise<number> {
  let missing = 0;
  for (let i = 0; i < count; i += 100) {
    const reads = [];
    for (let j = i; j < Math.min(count, i + 100); j++) reads.push(client.get(`${prefix}${String(j).padStart(6, '0')}`, 'QUORUM'));
    missing += (await Promise.all(reads)).filter((r) => !r.found).length;
  }
  return missing;
}

/** Each node's membership once it has taken `epoch` up. */
async function everyNodeAt(c: LocalCluster, ids: readonly number[], epoch: number): Promise<Membership[]> {
  const out: Membership[] = [];
  for (const id of ids)
    out.push(
      await waitFor(`node ${id} to take epoch ${epoch} up`, async () => {
        const got = await membershipAt(c, id);
        return got.epoch === epoch ? got : undefined;
      }),
    );
  return out;
}

test.serial(
  'a node moves under a QUORUM write load (admin.sh move): no acknowledged write is lost, and the new replica holds them',
  async (t) => {
    const c = await LocalCluster.start();
    const client = c.client();
    try {
      const load = new WriteLoad(client);
      await waitFor('writes before the move', () => load.acked.size > 1000, 60_000);
      // Node 0 from M to "load-0000000": it gives (load-0000000, p], where every key of the load falls, to node 1,
      // and takes (M, f] from node 3 (see the stream plan's test).
      const moved = await admin(c, 'move', '0', 'load-0000000');
      t.is(moved.code, 0, moved.stderr);
      t.regex(moved.stdout, /^node 0 moved to load-0000000 \(streamed \d+ keys, \d+ bytes\)\n$/);
      const m = await membershipAt(c, 2);
      t.deepEqual(m.members[0], { id: 0, token: 'load-0000000', state: 'NORMAL' });
      t.is(m.epoch, 4, 'move-begin, reads-switch and move-complete after the bootstrap');
      t.is(m.operation, undefined);

      const afterMove = load.acked.size;
      await waitFor('writes after the move', () => load.acked.size > afterMove + 500, 60_000);
      await load.stop();
      const lost = await load.lost();
      t.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${load.acked.size} acknowledged writes lost`);
      // Node 1 holds each acknowledged key of the range it took over itself: streamed, written as a pending
      // replica, or hinted to it meanwhile. ("load-0000000" is the token: it stays in node 0's range.)
      const expected = [...load.acked.keys()].filter((k) => k > 'load-0000000');
      let missed: string[] = [];
      await waitFor(
        'node 1 to hold every acknowledged key of the range',
        async () => {
          const held = await keysHeldBy(c, 1, 'load-', 'load.');
          missed = expected.filter((k) => !held.has(k));
          return missed.length === 0;
        },
        60_000,
      ).catch(() => undefined);
      t.deepEqual(missed.slice(0, 10), [], `node 1 misses ${missed.length} of ${expected.length} keys`);
      t.log(`${load.acked.size} writes acknowledged, ${load.failed} failed, 0 lost; the move: ${moved.stdout.trim()}`);
    } finally {
      client.close();
      await c.destroy();
    }
  },
);

test.serial('a move aborted mid-stream (admin.sh abort): the placement before it is back everywhere and its stream stops', async (t) => {
  // 16 KiB/s: each page of 1,000 keys of about 110 bytes waits about 7 s behind the one before.
  const c = await LocalCluster.start({ settings: { streamBytesPerSecond: 16 * 1024 } });
  const client = c.client();
  try {
    await preload(client, 'load-', 3000, 100);
    const before = await membershipAt(c, 0);
    const admin0 = c.admin(0, 10_000);
    // admin.sh move starts it and follows it; the first page streamed says it is under way.
    const following = admin(c, 'move', '0', 'load-0000000');
    const midway = await untilOperation(admin0, 'the first page of the move', (p) => Number(p.keys) >= 1000);
    t.false(midway.done);

    const aborted = await admin(c, 'abort');
    t.is(aborted.code, 0, aborted.stderr);
    t.regex(aborted.stdout, /^the move of node 0 to load-0000000 was aborted at epoch 3: the placement before it is back\n$/);
    const followed = await following;
    t.is(followed.code, 1);
    t.regex(followed.stderr, /^move of node 0: the move of node 0 to load-0000000 was aborted/);
    for (const [id, m] of (await everyNodeAt(c, [0, 1, 2, 3], 3)).entries()) {
      t.is(m.operation, undefined);
      t.deepEqual(m.members, before.members, `node ${id}: node 0 is NORMAL at M again`);
      t.is(rows(m), rows(before), `node ${id}'s placement is the one before the move`);
    }
    const stopped = await waitFor('the move to stop', async () => {
      const p = await admin0.operationProgress();
      return p.error ? p : undefined;
    });
    t.regex(stopped.error!, /the move of node 0 to load-0000000 was aborted/);
    t.is(stopped.state, 'NORMAL');
    t.true(Number(stopped.keys) < 3000, `${Number(stopped.keys)} of the range's 3000 keys were streamed before the abort`);
    // Nothing streams once the run has stopped: what it reports no longer grows while the ring serves a full read.
    t.is(await unreadable(client, 'load-', 3000), 0);
    t.is(Number((await admin0.operationProgress()).keys), Number(stopped.keys));
    t.regex(c.log(0), /the operation stopped: the move of node 0 to load-0000000 was aborted/);
    admin0.close();

    const again = await admin(c, 'abort');
    t.is(again.code, 1);
    t.is(again.stderr, 'abort: no membership operation is in progress: there is nothing to abort\n');
  } finally {
    client.close();
    await c.destroy();
  }
});

test.serial('two operations at once, one refused; bad moves are refused in one sentence and change nothing', async (t) => {
  // Slow streams (8 KiB/s), so that the operation that wins is still running while the others are tried.
  const c = await LocalCluster.start({ tokens: ['D', 'M', 'V', 'f', 'p'], settings: { streamBytesPerSecond: 8 * 1024 } });
  const client = c.client();
  try {
    // Node 0's move to K streams (D, K] (E and H: three pages); node 1's leave streams (p, D], (D, M] and (f, p].
    for (const [prefix, count] of [
      ['A', 500],
      ['E', 1200],
      ['H', 1200],
      ['i', 500],
    ] as const)
      await preload(client, prefix, count, 100);
    const admins = [0, 1].map((id) => c.admin(id, 10_000));
    const outcomes = await Promise.allSettled([admins[0]!.move(fromByteString('K')), admins[1]!.decommission()]);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    t.is(refused.length, 1, JSON.stringify(outcomes));
    t.regex((refused[0]!.reason as Error).message, /^another operation \((move of node 0|leave of node 1)\) is in progress$/);
    const winner = outcomes[0]!.status === 'fulfilled' ? 'move of node 0' : 'leave of node 1';

    const busy = await admin(c, 'move', '2', 'X');
    t.is(busy.code, 1);
    t.is(busy.stderr, `move of node 2: another operation (${winner}) is in progress\n`);
    const aborted = await admin(c, 'abort');
    t.is(aborted.code, 0, aborted.stderr);
    t.regex(aborted.stdout, new RegExp(`^the ${winner.replace('move of node 0', 'move of node 0 to K')} was aborted at epoch 3`));
    admins.forEach((a) => a.close());
    // The barrier waited for every node that is up: node 2 has the abort's epoch (begin 2, abort 3).
    const epoch = (await membershipAt(c, 2)).epoch;
    t.is(epoch, 3);

    const bad: Array<[args: string[], sentence: string]> = [
      [['move', '9', 'X'], 'move of node 9: node 9 is not a member of the ring'],
      [['move', '2', 'p'], 'move of node 2: token "p" is already taken by node 4'],
      [['move', '2', '0x70'], 'move of node 2: token "p" is already taken by node 4'],
    ];
    for (const [args, sentence] of bad) {
      const r = await admin(c, ...args);
      t.is(r.code, 1, args.join(' '));
      t.is(r.stderr, `${sentence}\n`);
    }
    // Node 2 from V to "k" takes (V, f] from node 0, its replica now that stops being one (see the stream plan).
    await c.stopNode(0);
    await waitFor('node 2 to see node 0 down', async () => (await c.downPeers(2)).includes(0));
    const down = await admin(c, 'move', '2', 'k');
    t.is(down.code, 1);
    t.regex(
      down.stderr,
      /^move of node 2: node 0, which would give up a range to node 2 in this move, is down; start node 0 again, then move/,
    );
    t.is((await membershipAt(c, 2)).epoch, epoch, 'no refused request made an epoch');
  } finally {
    client.close();
    await c.destroy();
  }
});

test.serial('rebalance --apply makes the proposed moves one at a time, and the ring is then within the tolerance', async (t) => {
  const c = await LocalCluster.start();
  const client = c.client();
  try {
    // Every key in node 2's primary range (f, p]: the others hold none of their own.
    await preload(client, 'load-', 2000, 20);
    const proposal = JSON.parse((await admin(c, 'rebalance', '--json')).stdout);
    t.false(proposal.balancedNow);
    t.true(proposal.moves.length >= 2, JSON.stringify(proposal.moves));
    const applied = await admin(c, 'rebalance', '--apply');
    t.is(applied.code, 0, applied.stderr);
    for (const [i, m] of proposal.moves.entries())
      t.regex(applied.stdout, new RegExp(`^move ${i + 1}/${proposal.moves.length}: node ${m.node} to ${m.to}$`, 'm'));
    t.regex(applied.stdout, new RegExp(`^rebalance: ${proposal.moves.length} move\\(s\\) made$`, 'm'));
    const m = await membershipAt(c, 0);
    t.is(m.epoch, 1 + 3 * proposal.moves.length);
    const after = JSON.parse((await admin(c, 'rebalance', '--json')).stdout);
    t.true(after.balancedNow, JSON.stringify(after.counts));
    t.is(await unreadable(client, 'load-', 2000), 0);
  } finally {
    client.close();
    await c.destroy();
  }
});

test.serial('a join aborted mid-stream: the joining node is LEFT and exits, and the ring is the one before', async (t) => {
  const c = await LocalCluster.start({ settings: { streamBytesPerSecond: 16 * 1024 } });
  const client = c.client();
  try {
    await preload(client, 'load-', 3000, 100);
    const before = await membershipAt(c, 0);
    const port = await freeNodePort();
    c.spawnNode(4, ['--host', '127.0.0.1', '--port', String(port), '--join-token-hex', Buffer.from('load-9').toString('hex')]);
    const admin4 = new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 3000);
    await untilOperation(admin4, 'the first page of the join', (p) => Number(p.keys) >= 1000);
    admin4.close();
    const aborted = await admin(c, 'abort');
    t.is(aborted.code, 0, aborted.stderr);
    t.regex(aborted.stdout, /^the join of node 4 was aborted at epoch 3: the placement before it is back\n$/);
    await waitFor('node 4 to leave and exit', () => !c.isRunning(4), 120_000);
    t.regex(c.log(4), /has left the ring/);
    for (const [id, m] of (await everyNodeAt(c, [0, 1, 2, 3], 3)).entries()) {
      t.is(m.members.find((n) => n.id === 4)?.state, 'LEFT');
      t.is(rows(m), rows(before), `node ${id}'s placement is the one before the join`);
    }
    const status = JSON.parse((await admin(c, 'status', '--json')).stdout);
    t.deepEqual(status.operations, []);
  } finally {
    client.close();
    await c.destroy();
  }
});
