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

test('a replaced node started again while its replacement runs stops once a peer tells it the complete epoch', async (t) => {
  const sched = new Scheduler();
  const trace = new Trace(true, () => sched.nowMs);
  const random = new Random(18);
  const config = simConfig(4, 'FULL');
  const net = new SimNetwork(sched, random.fork(), trace, config.settings.requestTimeoutMs);
  const cluster = new SimCluster(config, net, random.fork(), {});
  const runUntil = async (what: string, done: () => boolean): Promise<void> => {
    const until = sched.nowMs + LIMIT_MS;
    while (!done() && sched.nowMs < until) await sched.runUntil(sched.nowMs + 10);
    if (!done()) throw new Error(`${what} did not happen within ${LIMIT_MS} virtual ms:\n${trace.lines!.slice(-40).join('\n')}`);
  };
  for (let id = 0; id < 4; id++) void cluster.start(id);
  await runUntil('the nodes to start', () => [0, 1, 2, 3].every((id) => cluster.isRunning(id)));

  cluster.lose(1);
  // Its peers must see it down, or the replacement is refused.
  await runUntil('node 1 to be seen down', () => [0, 2, 3].every((id) => !cluster.nodes[id]!.isUp(1)));
  const { id: replacement } = cluster.addReplacingNode(1);
  const began = (): boolean => cluster.nodes[replacement]?.epochs.membership.operation?.kind === 'replace';
  await runUntil('the replacement to begin', began);
  void cluster.cameBack(1);
  await runUntil('node 1 to serve again', () => cluster.isRunning(1));
  t.true(began(), 'node 1 is back before the replacement completes');
  t.is(cluster.nodes[1]!.epochs.membership.members.find((n) => n.id === 1)?.state, 'NORMAL', 'node 1 is still a member');

  await runUntil('the replacement to complete', () => cluster.nodes[replacement]?.operationProgress().done === true);
  await runUntil('node 1 to stop', () => cluster.departed.has(1));
  t.false(cluster.isRunning(1));
  t.regex(trace.lines!.join('\n'), /node 1 left the ring at epoch 4 \(replaced by node 4\); it will not serve/);
  const pushes = [0, 2, 3, replacement].reduce((sum, id) => sum + (cluster.nodes[id]?.counters.epochsPushedToLagging ?? 0), 0);
  t.true(pushes > 0, 'a peer told node 1 the epochs after its own');
});
