/**
 * The ring as the simulated clients know it: what a KvClient made from a
 * cluster file keeps (client/client.ts), learnt the same way, by the real
 * RingLearner (client/learner.ts) on virtual time: the cluster file's nodes
 * are the seeds, the nodes are asked for `membership(after the known
 * epoch)` every RING_REFRESH_INTERVAL_MS, and soon after a request meets a
 * node it cannot reach or too few replicas (ConnectionError, Unavailable),
 * and the log is folded into a placement by client/topology.ts. So the
 * clients reach nodes that joined once they learnt of them, and stop
 * sending to nodes that left. All the simulated clients share one ring, as
 * the requests of one client process would.
 */
import { RingHolder, RingLearner } from '../client/learner';
import { fitsSeeds, Seed, seedTopology, Topology, topologyOf } from '../client/topology';
import type { ClusterConfig } from '../config/cluster';
import type { EpochEntry } from '../membership/changes';
import type { PlacedRange } from '../membership/placement';
import { clientCall, SimNetwork } from './network';
import { Owner } from './scheduler';

export class SimRing implements RingHolder {
  private log: readonly EpochEntry[] = [];
  private topo: Topology;
  private readonly seeds: readonly (Seed & { token: string })[];
  private readonly learner: RingLearner;
  private nextRequest = 0;

  constructor(
    private readonly net: SimNetwork,
    config: ClusterConfig,
    private readonly timeoutMs: number,
  ) {
    this.seeds = config.nodes;
    this.topo = seedTopology(this.seeds, config.replicationFactor);
    // The clients' process is never crashed or paused.
    this.learner = new RingLearner(this, net.sched.timeFor(new Owner('clients')));
  }

  get topology(): Topology {
    return this.topo;
  }

  /** The key's range in the ring the clients route by now. */
  rangeOf(key: string): PlacedRange {
    return this.topo.placement.rangeOf(key);
  }

  /** Asks the nodes for the ring now. */
  refresh(): Promise<void> {
    return this.learner.refresh();
  }

  /** A request met what a moved ring looks like from outside (ConnectionError, Unavailable): learn the ring soon. */
  soon(): void {
    this.learner.soon();
  }

  knownLog(): readonly EpochEntry[] {
    return this.log;
  }

  askable(): { id: number; fetch(after: number): Promise<{ epoch: number; entries: EpochEntry[] }> }[] {
    return this.topo.routable.map((id) => ({
      id,
      fetch: (after: number) =>
        clientCall(
          this.net,
          id,
          'membership',
          this.nextRequest++,
          (node) => ({ epoch: node.epochs.epoch, entries: node.epochs.after(after) }),
          this.timeoutMs,
        ),
    }));
  }

  adopt(log: readonly EpochEntry[]): void {
    if (log.length <= this.log.length) return;
    if (this.log.length === 0 && !fitsSeeds(log, this.seeds)) return;
    this.log = log;
    this.topo = topologyOf(log, this.seeds);
    this.net.trace.note('clients learn epoch', this.topo.epoch, this.topo.routable.length);
  }
}
