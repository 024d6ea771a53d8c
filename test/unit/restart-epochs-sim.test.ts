/**
 * A node that restarts takes up the epochs it missed before it is reachable
 * (KvNode.catchUpEpochs). One that was down while a replacement of a node
 * lost for good began learns of it from its peers' answers, and from then on
 * waits no longer for the lost node, which never answers: before, it stayed
 * off the network for the whole request timeout (simulator seed 900170 on
 * five nodes, where anti-entropy then reached the writes it had missed only
 * after the final reads).
 */
import test from 'ava';
import { startedSimCluster } from './sim-cluster-harness';

test('a node restarted after a replacement began waits for the answers of its live peers, not for the node lost for good', async (t) => {
  const { cluster, net, sched, config, runUntil } = await startedSimCluster(5, 7);

  // Node 2 is down while node 3 is lost for good and a replacement begins (as in the seed): its log knows nothing of either.
  cluster.crash(2);
  cluster.lose(3);
  const survivors = [0, 1, 4];
  await runUntil('nodes 2 and 3 to be seen down', () =>
    survivors.every((id) => !cluster.nodes[id]!.isUp(2) && !cluster.nodes[id]!.isUp(3)),
  );
  const { id: replacement } = cluster.addReplacingNode(3);
  await runUntil('the replacement to begin', () =>
    survivors.every((id) => cluster.nodes[id]!.epochs.membership.operation?.kind === 'replace'),
  );
  t.is(cluster.nodes[replacement]?.epochs.membership.operation?.replaces, 3);

  // A dead machine's connections time out rather than being refused: in the seed a partition between the two
  // nodes, not healed yet, made node 2's call to node 3 silence; so here.
  net.partition(2, 3);
  const restartedMs = sched.nowMs;
  void cluster.start(2);
  await runUntil('node 2 to be reachable again', () => cluster.isRunning(2));
  t.is(cluster.nodes[2]!.epochs.membership.operation?.kind, 'replace', 'node 2 took up the begin epoch before it served');
  const tookMs = sched.nowMs - restartedMs;
  t.true(tookMs < config.settings.requestTimeoutMs / 2, `node 2 was reachable ${tookMs} ms after its start`);
});
