/**
 * What the nemesis and the runner need from a cluster under test, and the
 * portable implementation: LocalCluster's node processes with every internode
 * link routed through a ProxyMesh. (netns.ts has the root-only one.)
 */
import { rmSync } from 'node:fs';
import { NodeAdmin } from '../client/client';
import { ClusterConfig, Settings } from '../config/cluster';
import { LocalCluster } from '../harness/local-cluster';
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
}

/** How long a (re)started node gets to answer before it counts as a failed restart. */
export const NODE_START_TIMEOUT_MS = 20_000;

export function linkMode(kind: PartitionKind, delayMs: number): LinkMode {
  return kind === 'delay' ? { kind, ms: delayMs } : { kind };
}

export class ProxyCluster implements ChaosCluster {
  readonly mode = 'proxy';
  readonly partitionKinds: readonly PartitionKind[] = ['drop', 'blackhole', 'delay'];

  private constructor(
    private readonly local: LocalCluster,
    private readonly mesh: ProxyMesh,
  ) {}

  static async start(settings: Partial<Settings> = {}): Promise<ProxyCluster> {
    let mesh: ProxyMesh | undefined;
    // The proxies need the nodes' ports, which create() picks: the args are read at spawn time.
    const local = await LocalCluster.create({ settings, nodeArgs: (id) => mesh!.peerArgs(id) });
    try {
      mesh = await ProxyMesh.start(local.config.nodes);
      const c = new ProxyCluster(local, mesh);
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
    return this.local.waitAllSeeEachOther(timeoutMs);
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

  async destroy(keepData: boolean): Promise<void> {
    // A stopped process would hold SIGTERM pending forever: continue them first.
    for (const n of this.config.nodes) this.signal(n.id, 'SIGCONT');
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
