/**
 * What the nemesis and the runner need from a cluster under test, and the
 * portable implementation: LocalCluster's node processes with every internode
 * link routed through a ProxyMesh. (netns.ts has the root-only one.)
 */
import { rmSync } from 'node:fs';
import { NodeAdmin } from '../client/client';
import { ClusterConfig, Settings } from '../config/cluster';
import { freeNodePort, LocalCluster, NODE_START_TIMEOUT_MS } from '../harness/local-cluster';
import { planReplace } from '../client/replacement';
import { awaitNormal, decommissionNode, moveNode, removeDeadNode } from './membership';
import { LinkMode, ProxyMesh } from './proxy';

export type PartitionKind = 'drop' | 'blackhole' | 'delay';

export interface ChaosCluster {
  /** "proxy" or "netns". */
  readonly mode: string;
  readonly config: ClusterConfig;
  readonly dir: string;
  /** Partition kinds this cluster can make. */
  readonly partitionKinds: readonly PartitionKind[];
  /** Spawns node `id` and waits (bounded) until it answers; throws if it does not. */
  startNode(id: number): Promise<void>;
  /** kill -9, and waits until the process is gone. */
  kill(id: number): Promise<void>;
  signal(id: number, sig: 'SIGSTOP' | 'SIGCONT'): void;
  isRunning(id: number): boolean;
  admin(id: number, timeoutMs: number): NodeAdmin;
  waitAllSeeEachOther(timeoutMs: number): Promise<void>;
  /** Cuts (or slows) every link between `node` and the others, both ways. */
  isolate(node: number, kind: PartitionKind, delayMs: number): Promise<void>;
  healNetwork(): Promise<void>;
  /** The tail of a node's log, for reports. */
  logTail(id: number, chars: number): string;
  /** Stops every process and network piece it started; deletes the data unless `keepData`. */
  destroy(keepData: boolean): Promise<void>;
  /** Ids, beyond the cluster file's, of nodes that may join (each has its address and network links ready). */
  readonly spareIds: readonly number[];
  /** The nodes in the ring now: the cluster file's and those that joined, less those that left. */
  members(): number[];
  /** Where node `id` listens. */
  endpoint(id: number): { host: string; port: number };
  /** Starts spare node `id`, joining the ring at `token`; resolves once it is NORMAL, throws the join's sentence. */
  join(id: number, token: string): Promise<void>;
  /** Decommissions node `id`; resolves once it has left the ring and its process exited. */
  decommission(id: number): Promise<void>;
  /** Moves node `id` to `token`; resolves once it is NORMAL there, throws the move's sentence. */
  move(id: number, token: string): Promise<void>;
  /**
   * Starts spare node `id` in the place of node `dead`, which must be down
   * already (scripts/server.sh --replace's checks, then its node); resolves
   * once the new node is NORMAL, throws the replacement's sentence.
   */
  replace(id: number, dead: number): Promise<void>;
  /**
   * Removes node `dead`, which must be down already, run by a live member
   * (admin.sh remove); resolves once it has left the ring, throws the
   * removal's sentence.
   */
  remove(dead: number): Promise<void>;
}

/** Which nodes are in the ring, as the operations the chaos tool ran changed it. */
export class MemberSet {
  private readonly joined: number[] = [];
  private readonly left = new Set<number>();

  constructor(private readonly bootstrap: readonly number[]) {}

  noteJoined(id: number): void {
    if (!this.joined.includes(id)) this.joined.push(id);
  }

  noteLeft(id: number): void {
    this.left.add(id);
  }

  members(): number[] {
    return [...this.bootstrap, ...this.joined].filter((id) => !this.left.has(id));
  }
}

/**
 * How long a (re)started node gets to answer before it counts as a failed
 * restart: the harness's start deadline. 20 s was too short for a cluster
 * start beside another test file on a loaded two-core machine (a CI run
 * lost the cas chaos run to it); a node that exits fails at once anyway.
 */
export { NODE_START_TIMEOUT_MS };
/** Deadline of a call that begins a decommission or a move: the node sequences the operation's first epoch before it answers. */
export const MEMBERSHIP_CALL_TIMEOUT_MS = 10_000;

export function linkMode(kind: PartitionKind, delayMs: number): LinkMode {
  return kind === 'delay' ? { kind, ms: delayMs } : { kind };
}

export class ProxyCluster implements ChaosCluster {
  readonly mode = 'proxy';
  readonly partitionKinds: readonly PartitionKind[] = ['drop', 'blackhole', 'delay'];

  private readonly set: MemberSet;

  private constructor(
    private readonly local: LocalCluster,
    private readonly mesh: ProxyMesh,
    /** Each spare node's port, by id. */
    private readonly sparePorts: ReadonlyMap<number, number>,
  ) {
    this.set = new MemberSet(local.config.nodes.map((n) => n.id));
  }

  /** A cluster of the cluster file's nodes, and `spares` more ids that may join, each with its links through proxies too. */
  static async start(settings: Partial<Settings> = {}, spares = 0): Promise<ProxyCluster> {
    let mesh: ProxyMesh | undefined;
    // The proxies need the nodes' ports, which create() picks: the args are read at spawn time.
    const local = await LocalCluster.create({ settings, nodeArgs: (id) => mesh!.peerArgs(id) });
    try {
      const taken = new Set(local.config.nodes.map((n) => n.port));
      const sparePorts = new Map<number, number>();
      while (sparePorts.size < spares) {
        const port = await freeNodePort();
        if (!taken.has(port)) sparePorts.set(local.config.nodes.length + sparePorts.size, port);
        taken.add(port);
      }
      const targets = [...local.config.nodes, ...[...sparePorts.values()].map((port) => ({ host: '127.0.0.1', port }))];
      mesh = await ProxyMesh.start(targets);
      const c = new ProxyCluster(local, mesh, sparePorts);
      await Promise.all(local.config.nodes.map((n) => c.startNode(n.id)));
      await c.waitAllSeeEachOther(NODE_START_TIMEOUT_MS);
      return c;
    } catch (err) {
      await mesh?.close();
      await local.destroy();
      throw err;
    }
  }

  get config(): ClusterConfig {
    return this.local.config;
  }

  get dir(): string {
    return this.local.dir;
  }

  startNode(id: number): Promise<void> {
    return withTimeout(this.local.startNode(id), NODE_START_TIMEOUT_MS, `node ${id} to answer`);
  }

  kill(id: number): Promise<void> {
    return this.local.kill(id);
  }

  signal(id: number, sig: 'SIGSTOP' | 'SIGCONT'): void {
    this.local.signal(id, sig);
  }

  isRunning(id: number): boolean {
    return this.local.isRunning(id);
  }

  admin(id: number, timeoutMs: number): NodeAdmin {
    return this.local.admin(id, timeoutMs);
  }

  waitAllSeeEachOther(timeoutMs: number): Promise<void> {
    return this.local.waitAllSeeEachOther(timeoutMs, this.members());
  }

  async isolate(node: number, kind: PartitionKind, delayMs: number): Promise<void> {
    this.mesh.isolate(node, linkMode(kind, delayMs));
  }

  async healNetwork(): Promise<void> {
    this.mesh.healAll();
  }

  logTail(id: number, chars: number): string {
    return this.local.log(id).slice(-chars);
  }

  get spareIds(): number[] {
    return [...this.sparePorts.keys()];
  }

  members(): number[] {
    return this.set.members();
  }

  endpoint(id: number): { host: string; port: number } {
    return this.local.endpoint(id);
  }

  async join(id: number, token: string): Promise<void> {
    const port = this.sparePorts.get(id);
    if (port === undefined) throw new Error(`node ${id} is no spare of this cluster`);
    this.local.spawnJoining(id, port, token);
    this.set.noteJoined(id);
    await this.followNew(id, 'join');
  }

  async replace(id: number, dead: number): Promise<void> {
    const port = this.sparePorts.get(id);
    if (port === undefined) throw new Error(`node ${id} is no spare of this cluster`);
    await planReplace(this.config, dead);
    this.local.spawnReplacing(id, port, dead);
    // Healed like the others from now on; the dead node leaves the set once the replacement is NORMAL.
    this.set.noteJoined(id);
    await this.followNew(id, 'replacement');
    this.set.noteLeft(dead);
  }

  /** Follows new node `id`'s operation until it is NORMAL. */
  private async followNew(id: number, what: string): Promise<void> {
    const admin = this.local.admin(id, 3_000);
    try {
      await awaitNormal(admin, () => this.local.isRunning(id), what);
    } finally {
      admin.close();
    }
  }

  async remove(dead: number): Promise<void> {
    await removeDeadNode(this.config, dead);
    this.set.noteLeft(dead);
  }

  async move(id: number, token: string): Promise<void> {
    const admin = this.local.admin(id, MEMBERSHIP_CALL_TIMEOUT_MS);
    try {
      await moveNode(admin, id, token, () => this.local.isRunning(id));
    } finally {
      admin.close();
    }
  }

  async decommission(id: number): Promise<void> {
    const admin = this.local.admin(id, MEMBERSHIP_CALL_TIMEOUT_MS);
    try {
      await decommissionNode(admin, () => this.local.isRunning(id));
      this.set.noteLeft(id);
    } finally {
      admin.close();
    }
  }

  async destroy(keepData: boolean): Promise<void> {
    // A stopped process would hold SIGTERM pending forever: continue them first.
    for (const id of [...this.config.nodes.map((n) => n.id), ...this.spareIds]) this.signal(id, 'SIGCONT');
    await this.local.stop();
    await this.mesh.close();
    if (!keepData) rmSync(this.local.dir, { recursive: true, force: true });
  }
}

/** Rejects if `p` has not settled within `ms` (the work itself goes on). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
