/**
 * The measurements of --workload restart, after its load: each node's resident
 * memory, and how long a node takes to come back after kill -9.
 */
import { rssMb } from '../common/procfs';
import { performance } from 'node:perf_hooks';
import { LocalCluster, waitFor } from '../harness/local-cluster';

/** Resident memory of a process in MB (one decimal), or null where /proc cannot tell. */
function rssMbRounded(pid: number | undefined): number | null {
  const mb = rssMb(pid);
  return mb === undefined ? null : Math.round(mb * 10) / 10;
}

/** How often RssPeak reads a process's resident memory. */
export const RSS_SAMPLE_MS = 250;

/**
 * The highest resident memory of one process, read every RSS_SAMPLE_MS
 * until stopped. `pid` is asked each time: a restarted node has a new one,
 * and none until it is spawned. A single reading after a restart missed a
 * peak: V8 reduces a heap that grew during hint replay only some seconds
 * after the load stops.
 */
export class RssPeak {
  private highest: number | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: () => number | undefined) {
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
    this.sample();
  }

  /** Reads once more (callers read at moments they report) and returns the reading. */
  sample(): number | null {
    const mb = rssMbRounded(this.pid());
    if (mb !== null) this.highest = Math.max(this.highest ?? 0, mb);
    return mb;
  }

  stop(): number | null {
    clearInterval(this.timer);
    this.sample();
    return this.highest;
  }
}

/** RSS of every node of the cluster, by node id. */
export function clusterRssMb(cluster: LocalCluster): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const n of cluster.config.nodes) out[String(n.id)] = rssMbRounded(cluster.pid(n.id));
  return out;
}

/** One counter of every node (from its status), by node id; null for a node that does not answer. */
async function clusterCounter(cluster: LocalCluster, name: 'store.keys' | 'store.garbageRows'): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const n of cluster.config.nodes) {
    const admin = cluster.admin(n.id);
    try {
      const page = await admin.status();
      out[String(n.id)] = Number(page.counters[name]);
    } catch {
      out[String(n.id)] = null;
    } finally {
      admin.close();
    }
  }
  return out;
}

/** How many keys each node holds; null for a node that does not answer. */
export function clusterKeys(cluster: LocalCluster): Promise<Record<string, number | null>> {
  return clusterCounter(cluster, 'store.keys');
}

/** How many superseded log rows each node holds (not yet compacted); null for a node that does not answer. */
export function clusterSupersededRows(cluster: LocalCluster): Promise<Record<string, number | null>> {
  return clusterCounter(cluster, 'store.garbageRows');
}

/** Hints all nodes but `target` hold for it, summed; nodes that do not answer count 0. */
export async function hintsFor(cluster: LocalCluster, target: number): Promise<number> {
  let total = 0;
  for (const n of cluster.config.nodes) {
    if (n.id === target) continue;
    const admin = cluster.admin(n.id);
    try {
      const page = await admin.status();
      total += page.hints.find((h) => h.target === target)?.count ?? 0;
    } catch {
      // a node that does not answer holds no hints we can see
    } finally {
      admin.close();
    }
  }
  return total;
}

/** Polls until no node holds hints for `target`; returns the ms it took. */
export async function timeHintReplay(cluster: LocalCluster, target: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  await waitFor(`hints for node ${target} to be delivered`, async () => (await hintsFor(cluster, target)) === 0, timeoutMs);
  return Math.round(performance.now() - start);
}
