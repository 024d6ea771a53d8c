/**
 * A simulated cluster: K KvNodes built from simulated parts (virtual time,
 * the message bus, in-memory stores over simulated disks), and the life
 * events the fault schedule applies to them: crash and restart, power loss,
 * pause and resume, clock skew.
 */
import type { KnownBugs } from '../common/known-bugs';
import { Random } from '../common/random';
import { ClusterConfig, DEFAULT_SETTINGS } from '../config/cluster';
import { KvNode } from '../node/node';
import { bootstrapPlacement } from '../membership/placement';
import { RangeTrees } from '../repair/range-trees';
import { SimDisk } from './disk';
import { MemoryEpochStore } from './memory-epochs';
import { MemoryHintStore } from './memory-hints';
import { MemoryNodeMeta } from './memory-meta';
import { MemoryPaxosState } from './memory-paxos';
import { MemoryReplicaStore } from './memory-store';
import type { SimNetwork } from './network';
import { Owner } from './scheduler';

/** First characters of the simulated keys; the tokens split them evenly (see simConfig). */
export const KEY_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A cluster of `nodes` nodes whose tokens split KEY_LETTERS evenly, with the settings a simulation runs. */
export function simConfig(nodes: number, sync: 'NORMAL' | 'FULL'): ClusterConfig {
  return {
    replicationFactor: Math.min(3, nodes),
    secret: 'simulated',
    nodes: Array.from({ length: nodes }, (_, id) => ({
      id,
      host: 'sim',
      port: id,
      token: KEY_LETTERS[Math.round(((id + 1) * KEY_LETTERS.length) / nodes) - 1]!,
    })),
    settings: { ...DEFAULT_SETTINGS, sqliteSynchronous: sync },
  };
}

export class SimCluster {
  readonly nodes: (KvNode | undefined)[];
  private readonly owners: Owner[];
  private readonly disks: SimDisk[];
  private readonly epochs: MemoryEpochStore[];
  private readonly incarnations: number[];
  /** Restarts under way (a node replays and re-hints before it is reachable). */
  private readonly starting = new Set<number>();

  constructor(
    readonly config: ClusterConfig,
    private readonly net: SimNetwork,
    private readonly random: Random,
    private readonly bugs: KnownBugs,
  ) {
    const n = config.nodes.length;
    this.nodes = Array.from({ length: n }, () => undefined);
    this.disks = Array.from({ length: n }, () => new SimDisk(config.settings.sqliteSynchronous === 'FULL'));
    this.epochs = Array.from({ length: n }, () => new MemoryEpochStore());
    this.owners = Array.from({ length: n }, (_, id) => {
      const dead = new Owner(`node ${id} (not started)`);
      dead.alive = false;
      return dead;
    });
    this.incarnations = Array.from({ length: n }, () => 0);
  }

  get size(): number {
    return this.nodes.length;
  }

  isRunning(id: number): boolean {
    return this.nodes[id] !== undefined;
  }

  /** Starts (or restarts) node `id` from its disk; it is reachable once its start is done. */
  async start(id: number): Promise<void> {
    if (this.nodes[id] !== undefined || this.starting.has(id)) return;
    this.starting.add(id);
    const owner = new Owner(`node ${id}#${++this.incarnations[id]!}`);
    this.owners[id] = owner;
    const time = this.net.sched.timeFor(owner);
    const random = this.random.fork();
    const disk = this.disks[id]!;
    disk.attach(time, random);
    // The bootstrap ring's trees; the node makes them follow its epoch log once it has one.
    const trees = new RangeTrees(bootstrapPlacement(this.config.nodes, this.config.replicationFactor), id);
    this.net.trace.note('start', id, this.incarnations[id]!);
    try {
      const node = await KvNode.assemble(this.config, id, {
        time,
        random: () => random.float(),
        transport: this.net.transportFor(id, owner),
        store: await MemoryReplicaStore.open(disk, time, trees),
        hints: await MemoryHintStore.open(disk, time),
        paxosState: MemoryPaxosState.open(disk),
        meta: new MemoryNodeMeta(disk),
        trees,
        epochs: this.epochs[id]!,
        log: (message, level) =>
          this.net.trace.lines?.push(`${this.net.sched.nowMs.toFixed(3).padStart(10)}ms   node ${id} ${level ?? 'info'}: ${message}`),
        closeStorage: async () => undefined,
        diskBytes: () => 0,
        bugs: this.bugs,
      });
      if (!owner.alive) return;
      this.nodes[id] = node;
      this.net.up(id, node, owner);
      node.startBackgroundWork();
    } finally {
      this.starting.delete(id);
    }
  }

  /** kill -9: the process and its memory are gone; its disk keeps every commit. */
  crash(id: number): void {
    const owner = this.owners[id]!;
    if (!owner.alive) return;
    owner.alive = false;
    this.nodes[id] = undefined;
    this.starting.delete(id);
    this.net.down(id);
    this.net.trace.note('crash', id, 0);
  }

  /** The machine loses power: a crash, and the disk loses what was not synced. */
  powerLoss(id: number): void {
    this.crash(id);
    const lost = this.disks[id]!.powerLoss();
    this.net.trace.note('power loss', id, lost);
  }

  pause(id: number): void {
    const owner = this.owners[id]!;
    if (!owner.alive || owner.paused) return;
    owner.paused = true;
    this.net.trace.note('pause', id, 0);
  }

  resume(id: number): void {
    const owner = this.owners[id]!;
    if (!owner.paused) return;
    this.net.sched.resume(owner);
    this.net.trace.note('resume', id, 0);
  }

  /** The node's disk stalls: each commit takes up to `ms` longer (0 ends it). */
  stallDisk(id: number, ms: number): void {
    this.disks[id]!.stallMs = ms;
    this.net.trace.note('disk stall', id, ms);
  }

  skew(id: number, offsetMs: number): void {
    this.nodes[id]?.setClockOffset(offsetMs);
    this.net.trace.note('skew', id, offsetMs);
  }

  /** Ends every fault of the nodes themselves: resumed, restarted, clocks back. */
  async heal(): Promise<void> {
    for (let id = 0; id < this.size; id++) {
      this.resume(id);
      this.disks[id]!.stallMs = 0;
    }
    await Promise.all(this.nodes.map((_, id) => this.start(id)));
    for (let id = 0; id < this.size; id++) this.skew(id, 0);
  }
}
