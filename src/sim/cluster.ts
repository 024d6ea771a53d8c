/**
 * A simulated cluster: K KvNodes built from simulated parts (virtual time,
 * the message bus, in-memory stores over simulated disks), and the life
 * events the fault schedule applies to them: crash and restart, power loss,
 * pause and resume, clock skew; and nodes added to join the ring or to
 * replace a node lost for good, and nodes gone once their decommission is
 * done (their process exits) or lost for good (a machine that is gone).
 *
 * A node is started as a real one is: its log is caught up from its peers
 * before it is reachable, then it goes on with its unfinished operation
 * (KvNode.operate). A joining node is restarted with its join token every
 * time, as a supervisor restarts the command server.sh --join ran; a
 * replacing one with the node it replaces (server.sh --replace).
 */
import type { KnownBugs } from '../common/known-bugs';
import { Random } from '../common/random';
import { ClusterConfig, DEFAULT_SETTINGS } from '../config/cluster';
import { KvNode } from '../node/node';
import type { EpochEntry, Membership } from '../membership/changes';
import { bootstrapPlacement } from '../membership/placement';
import { RangeTrees } from '../repair/range-trees';
import { SimDisk } from './disk';
import { MemoryEpochStore } from './memory-epochs';
import { MemoryBatchLog } from './memory-batch-log';
import type { LoggedBatch } from '../storage/batch-log';
import { MemoryHintStore } from './memory-hints';
import { MemoryNodeMeta } from './memory-meta';
import { MemoryPaxosState } from './memory-paxos';
import { MemoryReplicaStore } from './memory-store';
import { DiskStreamProgress } from './memory-streams';
import { DiskHoldings, holdingsOf } from './quorum-copies';
import type { SimNetwork } from './network';
import { Owner } from './scheduler';

/** First characters of the simulated keys; the tokens split them evenly (see simConfig). */
export const KEY_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A cluster of `nodes` nodes whose tokens split KEY_LETTERS evenly, with the settings a simulation runs. */
export function simConfig(nodes: number, sync: 'NORMAL' | 'FULL', streamBytesPerSecond?: number, speculativeRetry?: string): ClusterConfig {
  const pace = streamBytesPerSecond === undefined ? {} : { streamBytesPerSecond, streamBytesPerSecondUnderLoad: streamBytesPerSecond };
  const speculation = speculativeRetry === undefined ? {} : { speculativeRetry };
  return {
    replicationFactor: Math.min(3, nodes),
    secret: 'simulated',
    nodes: Array.from({ length: nodes }, (_, id) => ({
      id,
      host: 'sim',
      port: id,
      token: KEY_LETTERS[Math.round(((id + 1) * KEY_LETTERS.length) / nodes) - 1]!,
    })),
    settings: { ...DEFAULT_SETTINGS, sqliteSynchronous: sync, ...pace, ...speculation },
  };
}

/** Where a simulated node listens: the transport ignores it, but a joining node names it in its begin change. */
function simAddress(id: number): { host: string; port: number } {
  return { host: 'sim', port: id };
}

export class SimCluster {
  readonly nodes: (KvNode | undefined)[];
  private readonly owners: Owner[];
  private readonly disks: SimDisk[];
  private readonly incarnations: number[];
  /** Restarts under way (a node replays and re-hints before it is reachable). */
  private readonly starting = new Set<number>();
  /** Nodes added to join the ring, with the token each joins at. */
  private readonly joinTokens = new Map<number, string>();
  /** Nodes added to replace a node lost for good, with the node each replaces. */
  private readonly replacing = new Map<number, number>();
  /** Nodes whose decommission is done (their process exited) or lost for good: nothing starts them again. */
  readonly departed = new Set<number>();
  /** Nodes lost for good (among the departed): their machine is gone, and a replacement takes their place. */
  readonly lost = new Set<number>();
  /** Nodes whose machine lost power at least once (their disk lost what it had not synced). */
  readonly powerLost = new Set<number>();
  /** The nodes that made a copy of a logged batch durable, by `${coordinator}/${the batch's ts}` (the checker's record). */
  readonly batchCopyHolders = new Map<string, Set<number>>();
  /** When the last node was lost for good (ms of virtual time); undefined while none was. */
  lastLossMs: number | undefined;
  /** Called when any node takes up an epoch, with the epoch's entry (the runner's quorum-copies check). */
  onEpoch: ((entry: EpochEntry, membership: Membership) => void) | undefined;

  constructor(
    readonly config: ClusterConfig,
    private readonly net: SimNetwork,
    private readonly random: Random,
    private readonly bugs: KnownBugs,
  ) {
    const n = config.nodes.length;
    this.nodes = [];
    this.disks = [];
    this.owners = [];
    this.incarnations = [];
    for (let id = 0; id < n; id++) this.addSlot();
  }

  private addSlot(): number {
    const id = this.nodes.length;
    this.nodes.push(undefined);
    this.disks.push(new SimDisk(this.config.settings.sqliteSynchronous === 'FULL'));
    const dead = new Owner(`node ${id} (not started)`);
    dead.alive = false;
    this.owners.push(dead);
    this.incarnations.push(0);
    return id;
  }

  /** Every node ever started or added, departed ones included: the next new node's id. */
  get size(): number {
    return this.nodes.length;
  }

  /** The nodes the faults may hit: every node added, but those that departed. */
  present(): number[] {
    return this.nodes.map((_, id) => id).filter((id) => !this.departed.has(id));
  }

  /** Whether node `id` was added to join the ring (it starts with its join token) or to replace a lost node. */
  joins(id: number): boolean {
    return this.joinTokens.has(id) || this.replacing.has(id);
  }

  /** A new node (the next id) that joins the ring at `token`; resolves once it is reachable. */
  addJoiningNode(token: string): { id: number; started: Promise<void> } {
    const id = this.addSlot();
    this.joinTokens.set(id, token);
    return { id, started: this.start(id) };
  }

  /** A new node (the next id) that takes the place of node `dead`, lost for good; resolves once it is reachable. */
  addReplacingNode(dead: number): { id: number; started: Promise<void> } {
    const id = this.addSlot();
    this.replacing.set(id, dead);
    return { id, started: this.start(id) };
  }

  /** The machine of node `id` is gone: the node is down and nothing starts it again. */
  lose(id: number): void {
    this.crash(id);
    this.departed.add(id);
    this.lost.add(id);
    this.lastLossMs = this.net.sched.nowMs;
    this.net.trace.note('lost for good', id, 0);
  }

  /**
   * A node lost for good comes back after all, its disk as it was (an
   * operator or a supervisor started it again while, or after, another node
   * took its place): it starts as any node does. No fault schedule does
   * this; the tests of a node that left and comes back do.
   */
  cameBack(id: number): Promise<void> {
    this.departed.delete(id);
    this.lost.delete(id);
    return this.start(id);
  }

  /**
   * Every version (`key` NUL `ts`) a disk of a node not lost for good ever
   * committed, as a replica row or as a hint: what the machines still there
   * may hold of a write.
   */
  versionsOutsideLost(): Set<string> {
    const out = new Set<string>();
    for (const [id, disk] of this.disks.entries()) {
      if (this.lost.has(id)) continue;
      for (const t of disk.contents()) {
        for (const r of t.rows ?? []) out.add(`${r.key}\0${r.version.ts}`);
        for (const h of t.hintsAdded ?? []) out.add(`${h.key}\0${h.version.ts}`);
      }
    }
    return out;
  }

  /** What the disk of each node not lost for good holds now, running or not (sim/quorum-copies.ts). */
  diskHoldings(): Map<number, DiskHoldings> {
    const out = new Map<number, DiskHoldings>();
    for (const [id, disk] of this.disks.entries()) if (!this.lost.has(id)) out.set(id, holdingsOf(disk.contents()));
    return out;
  }

  isRunning(id: number): boolean {
    return this.nodes[id] !== undefined;
  }

  /** Starts (or restarts) node `id` from its disk; it is reachable once its start is done. */
  private heldCopy(holder: number, batch: LoggedBatch): void {
    const ts = batch.items[0]?.version.ts;
    if (batch.copyOf === undefined || ts === undefined) return;
    const key = `${batch.copyOf.owner}/${ts}`;
    const holders = this.batchCopyHolders.get(key) ?? new Set<number>();
    holders.add(holder);
    this.batchCopyHolders.set(key, holders);
  }

  async start(id: number): Promise<void> {
    if (this.nodes[id] !== undefined || this.starting.has(id) || this.departed.has(id)) return;
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
        batchLog: MemoryBatchLog.open(disk, (batch) => this.heldCopy(id, batch)),
        paxosState: MemoryPaxosState.open(disk),
        meta: new MemoryNodeMeta(disk),
        trees,
        epochs: new MemoryEpochStore(disk),
        streamProgress: new DiskStreamProgress(disk),
        log: (message, level) =>
          this.net.trace.lines?.push(`${this.net.sched.nowMs.toFixed(3).padStart(10)}ms   node ${id} ${level ?? 'info'}: ${message}`),
        closeStorage: async () => undefined,
        diskBytes: () => 0,
        bugs: this.bugs,
      });
      if (!owner.alive) return;
      node.epochs.onChange((m) => this.onEpoch?.(node.epochs.after(m.epoch - 1)[0]!, m));
      // As KvNode.start: a node that missed epochs while it was down takes them up before it serves.
      await node.catchUpEpochs();
      if (!owner.alive) return;
      if (node.epochs.membership.members.find((m) => m.id === id)?.state === 'LEFT') {
        // Its decommission completed before a crash cut its hint delivery short: its process is not started again.
        this.depart(id, owner);
        return;
      }
      this.nodes[id] = node;
      this.net.up(id, node, owner);
      node.startBackgroundWork();
      const token = this.joinTokens.get(id);
      const dead = this.replacing.get(id);
      node.operate({
        self: simAddress(id),
        ...(token !== undefined && { join: { token } }),
        ...(dead !== undefined && { replace: { node: dead } }),
        onLeft: () => this.depart(id, owner),
      });
    } finally {
      this.starting.delete(id);
    }
  }

  /** The node's decommission is done and its process has exited: it stays down. */
  private depart(id: number, owner: Owner): void {
    if (owner !== this.owners[id]) return;
    this.crash(id);
    this.departed.add(id);
    this.net.trace.note('departed', id, 0);
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
    this.powerLost.add(id);
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
    if (this.departed.has(id)) return;
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
