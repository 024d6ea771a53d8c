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
import { Random } from '../../src/common/random';
import { SimCluster, simConfig } from '../../src/sim/cluster';
import { SimNetwork } from '../../src/sim/network';
import { Scheduler } from '../../src/sim/scheduler';
import { Trace } from '../../src/sim/trace';

/** Virtual time to run for, at most, for each thing awaited. */
const LIMIT_MS = 60_000;
const NODES = 5;

test('a node restarted after a replacement began waits for the answers of its live peers, not for the node lost for good', async (t) => {
  const sched = new Scheduler();
  const trace = new Trace(true, () => sched.nowMs);
  const random = new Random(7);
  const config = simConfig(NODES, 'FULL');
  const net = new SimNetwork(sched, random.fork(), trace, config.settings.requestTimeoutMs);
  const cluster = new SimCluster(config, net, random.fork(), {});
  const runUntil = async (what: string, done: () => boolean): Promise<void> => {
    const until = sched.nowMs + LIMIT_MS;
    while (!done() && sched.nowMs < until) await sched.runUntil(sched.nowMs + 10);
    if (!done())
      throw new Error(
        `${what} did not happen within ${LIMIT_MS} virtual ms:\n${trace
          .lines!.filter((l) => / (info|warn|error): /.test(l))
          .slice(-20)
          .join('\n')}`,
      );
  };
  const ids = Array.from({ length: NODES }, (_, id) => id);
  for (const id of ids) void cluster.start(id);
  await runUntil('the nodes to catch up', () => ids.every((id) => cluster.nodes[id]?.repairer.catchingUp === false));

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
