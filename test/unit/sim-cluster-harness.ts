/**
 * A simulated cluster on virtual time, for tests that drive its nodes by
 * hand (not a whole seed's schedule). Not a test file.
 */
import type { KnownBugs } from '../../src/common/known-bugs';
import { Random } from '../../src/common/random';
import type { Settings } from '../../src/config/cluster';
import { SimCluster, simConfig } from '../../src/sim/cluster';
import { SimNetwork } from '../../src/sim/network';
import { Scheduler } from '../../src/sim/scheduler';
import { Trace } from '../../src/sim/trace';

/** Virtual time to run for, at most, for each thing awaited. */
const LIMIT_MS = 60_000;

/**
 * `nodes` simulated nodes, started and done catching up (a new cluster's
 * nodes catch up first, on empty disks; a replacement streams only from
 * nodes that are done). `runUntil` steps virtual time until `done`, or
 * fails saying what did not happen, with the nodes' last log lines.
 */
export async function startedSimCluster(nodes: number, seed: number, settings: Partial<Settings> = {}, bugs: KnownBugs = {}) {
  const sched = new Scheduler();
  const trace = new Trace(true, () => sched.nowMs);
  const random = new Random(seed);
  const base = simConfig(nodes, 'FULL');
  const config = { ...base, settings: { ...base.settings, ...settings } };
  const net = new SimNetwork(sched, random.fork(), trace, config.settings.requestTimeoutMs);
  const cluster = new SimCluster(config, net, random.fork(), bugs);
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
  const ids = Array.from({ length: nodes }, (_, id) => id);
  for (const id of ids) void cluster.start(id);
  await runUntil('the nodes to start', () => ids.every((id) => cluster.isRunning(id)));
  await runUntil('the nodes to catch up', () => ids.every((id) => cluster.nodes[id]?.repairer.catchingUp === false));
  return { cluster, net, sched, trace, config, runUntil };
}
