/**
 * A replaced node that comes back while its replacement runs, on the
 * simulator's virtual time: it holds the begin epoch and serves as the
 * member it still is; the complete epoch is pushed only to the ring that
 * leaves it out, so it learns of it from its peers (one its hello reaches
 * tells a caller at an older epoch the epochs after it; here a peer that
 * refuses its repair exchange as stale may come first), says it left and
 * stops, where before it served on as a member.
 */
import test from 'ava';
import { startedSimCluster } from './sim-cluster-harness';

/** A simulated cluster of four nodes, started and caught up. */
const startedCluster = (seed: number) => startedSimCluster(4, seed);

/** Node 1 lost for good and replaced by a new node; resolves with the new node's id once the replacement has begun. */
async function replaceNode1(c: Awaited<ReturnType<typeof startedCluster>>): Promise<number> {
  const { cluster, runUntil } = c;
  cluster.lose(1);
  // Its peers must see it down, or the replacement is refused.
  await runUntil('node 1 to be seen down', () => [0, 2, 3].every((id) => !cluster.nodes[id]!.isUp(1)));
  const { id } = cluster.addReplacingNode(1);
  await runUntil('the replacement to begin', () => cluster.nodes[id]?.epochs.membership.operation?.kind === 'replace');
  return id;
}

test('a replaced node started again while its replacement runs stops once a peer tells it the complete epoch', async (t) => {
  const c = await startedCluster(18);
  const { cluster, trace, runUntil } = c;
  const replacement = await replaceNode1(c);
  void cluster.cameBack(1);
  await runUntil('node 1 to serve again', () => cluster.isRunning(1));
  t.is(cluster.nodes[replacement]!.epochs.membership.operation?.kind, 'replace', 'node 1 is back before the replacement completes');
  t.is(cluster.nodes[1]!.epochs.membership.members.find((n) => n.id === 1)?.state, 'NORMAL', 'node 1 is still a member');

  await runUntil('the replacement to complete', () => cluster.nodes[replacement]?.operationProgress().done === true);
  await runUntil('node 1 to stop', () => cluster.departed.has(1));
  t.false(cluster.isRunning(1));
  t.regex(trace.lines!.join('\n'), /node 1 left the ring at epoch 4 \(replaced by node 4\); it will not serve/);
  const pushes = [0, 2, 3, replacement].reduce((sum, id) => sum + (cluster.nodes[id]?.counters.epochsPushedToLagging ?? 0), 0);
  t.true(pushes > 0, 'a peer told node 1 the epochs after its own');
});

test('in a whole-cluster restart after a replacement, the replaced node started first waits for its ring, never serves clients, and stops; the others serve', async (t) => {
  const c = await startedCluster(19);
  const { cluster, trace, runUntil } = c;
  const replacement = await replaceNode1(c);
  await runUntil('the replacement to complete', () => cluster.nodes[replacement]?.operationProgress().done === true);
  const ring = [0, 2, 3, replacement];
  for (const id of ring) cluster.crash(id);

  // Node 1 first: no peer answers its start's catch-up, and its log says it is NORMAL.
  void cluster.cameBack(1);
  await runUntil('node 1 to listen', () => cluster.isRunning(1));
  t.is(cluster.nodes[1]!.counters.ringLearning, 1, 'node 1 answers peers, not clients');
  let servedClients = false;
  for (const id of ring) void cluster.start(id);
  await runUntil('node 1 to stop', () => {
    servedClients ||= cluster.nodes[1]?.counters.ringLearning === 0;
    return cluster.departed.has(1);
  });
  t.false(servedClients, 'node 1 never answered clients');
  t.regex(trace.lines!.join('\n'), /node 1 left the ring at epoch 4 \(replaced by node 4\); it will not serve/);
  await runUntil('the others to answer clients', () => ring.every((id) => cluster.nodes[id]?.counters.ringLearning === 0));
  t.pass();
});
