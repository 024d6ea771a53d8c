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
import { Random } from '../../src/common/random';
import { SimCluster, simConfig } from '../../src/sim/cluster';
import { SimNetwork } from '../../src/sim/network';
import { Scheduler } from '../../src/sim/scheduler';
import { Trace } from '../../src/sim/trace';

/** Virtual time to run for, at most, for each thing awaited. */
const LIMIT_MS = 60_000;

/** A simulated cluster of four nodes, started; `runUntil` steps virtual time until `done`, or fails saying what did not happen. */
async function startedCluster(seed: number) {
  const sched = new Scheduler();
  const trace = new Trace(true, () => sched.nowMs);
  const random = new Random(seed);
  const config = simConfig(4, 'FULL');
  const net = new SimNetwork(sched, random.fork(), trace, config.settings.requestTimeoutMs);
  const cluster = new SimCluster(config, net, random.fork(), {});
  const runUntil = async (what: string, done: () => boolean): Promise<void> => {
    const until = sched.nowMs + LIMIT_MS;
    while (!done() && sched.nowMs < until) await sched.runUntil(sched.nowMs + 10);
    if (!done())
      throw new Error(
        `${what} did not happen within ${LIMIT_MS} virtual ms:\n${trace
          .lines!.filter((l) => / (info|warn|error): /.test(l))
          .slice(-30)
          .join('\n')}`,
      );
  };
  for (let id = 0; id < 4; id++) void cluster.start(id);
  await runUntil('the nodes to start', () => [0, 1, 2, 3].every((id) => cluster.isRunning(id)));
  // A new cluster's nodes catch up first (empty disks); a replacement streams only from nodes that are done.
  await runUntil('the nodes to catch up', () => [0, 1, 2, 3].every((id) => cluster.nodes[id]?.repairer.catchingUp === false));
  return { cluster, trace, runUntil };
}

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
