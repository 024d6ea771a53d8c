/**
 * A full repair as an operator asks for it (`scripts/admin.sh repair [N]`):
 * each node in turn (or node N alone) repairs every range it replicates
 * with each of its other replicas (repair/repairer.ts), while its counters
 * are read to show progress. Nodes go one at a time, so that two nodes do
 * not stream the same differences to a third at once; a later node finds
 * most of its ranges already in agreement, at one round trip each.
 */
import { KvError } from '../common/errors';
import { REPAIR_CALL_TIMEOUT_MS, REPAIR_PROGRESS_INTERVAL_MS } from '../common/limits';
import { ClusterConfig } from '../config/cluster';
import type { RepairSummary } from '../repair/repairer';
import { addStats, emptyStats } from '../repair/tree-exchange';
import { NodeAdmin } from './client';
import { int64ToNumber } from '../rpc/thrift';

export interface RepairProgress {
  readonly node: number;
  readonly pairsDone: number;
  readonly pairsTotal: number;
  /** Versions the node has fetched and sent since its repair began. */
  readonly keysFetched: number;
  readonly keysSent: number;
}

export interface ClusterRepair {
  readonly nodes: Array<{ readonly id: number; readonly summary?: RepairSummary; readonly error?: string }>;
  /** The nodes' summaries added up. */
  readonly total: RepairSummary;
  /** Every node repaired, none skipped a down peer, and all ended in agreement. */
  readonly agreed: boolean;
  readonly elapsedMs: number;
}

async function counters(admin: NodeAdmin): Promise<Record<string, number>> {
  const dump = await admin.status();
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(dump.counters ?? {})) out[k] = int64ToNumber(v as never);
  return out;
}

/** One node's full repair, its progress told every REPAIR_PROGRESS_INTERVAL_MS. */
async function repairNode(config: ClusterConfig, id: number, onProgress: (p: RepairProgress) => void): Promise<RepairSummary> {
  const admin = NodeAdmin.fromConfig(config, id);
  const watcher = NodeAdmin.fromConfig(config, id);
  let done = false;
  try {
    const before = await counters(watcher);
    const running = admin.repair([], REPAIR_CALL_TIMEOUT_MS).finally(() => {
      done = true;
    });
    while (!done) {
      await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, REPAIR_PROGRESS_INTERVAL_MS))]);
      if (done) break;
      const now = await counters(watcher).catch(() => undefined);
      if (now === undefined) continue;
      onProgress({
        node: id,
        pairsDone: now['repair.fullPairsDone'] ?? 0,
        pairsTotal: now['repair.fullPairsTotal'] ?? 0,
        keysFetched: (now['repair.keysFetched'] ?? 0) - (before['repair.keysFetched'] ?? 0),
        keysSent: (now['repair.keysSent'] ?? 0) - (before['repair.keysSent'] ?? 0),
      });
    }
    return await running;
  } finally {
    admin.close();
    watcher.close();
  }
}

/** Repairs node `only`'s ranges, or every node's in turn. */
export async function repairCluster(
  config: ClusterConfig,
  only: number | undefined,
  onProgress: (p: RepairProgress) => void,
): Promise<ClusterRepair> {
  if (only !== undefined && config.nodes[only] === undefined)
    throw new KvError('InvalidRequest', `node ${only} is not in the cluster file`);
  const started = performance.now();
  const ids = only === undefined ? config.nodes.map((n) => n.id) : [only];
  const nodes: ClusterRepair['nodes'] = [];
  const total: RepairSummary = { ...emptyStats(), rangesCompared: 0, rangesSkipped: 0, elapsedMs: 0, agreed: true };
  for (const id of ids) {
    try {
      const summary = await repairNode(config, id, onProgress);
      nodes.push({ id, summary });
      addStats(total, summary);
      total.rangesCompared += summary.rangesCompared;
      total.rangesSkipped += summary.rangesSkipped;
      total.agreed &&= summary.agreed;
    } catch (err) {
      nodes.push({ id, error: err instanceof Error ? err.message : String(err) });
      total.agreed = false;
    }
  }
  const elapsedMs = Math.round(performance.now() - started);
  total.elapsedMs = elapsedMs;
  return { nodes, total, agreed: total.agreed, elapsedMs };
}
