/**
 * The cluster as an operator asks about it (`scripts/admin.sh status`): each
 * node's address, whether it answers, its state and token, how many keys and
 * bytes it holds, the share of the keys it replicates, and its pending hints,
 * read from every node's admin status call at once. A node that does not
 * answer is down; the rest are still shown.
 */
import { NodeAdmin } from './client';
import { displayBytes, fromByteString } from '../common/bytes';
import { isKvError } from '../common/errors';
import { ClusterConfig, metricsUrlOf } from '../config/cluster';
import { int64ToNumber, types } from '../rpc/thrift';

/** How long status waits for each node: a node slower than this is shown as down. */
export const STATUS_TIMEOUT_MS = 3000;

export interface NodeStatus {
  readonly id: number;
  readonly address: string;
  readonly up: boolean;
  /** Why the node is shown as down. */
  readonly error?: string;
  /** NORMAL, or CATCHING_UP while a node that lost its data or was down past the hint window repairs its ranges before it serves reads. */
  readonly state: 'NORMAL' | 'CATCHING_UP';
  /** When the node last completed a full repair of all its ranges (wall-clock ms), or null if never. */
  readonly lastFullRepairMs: number | null;
  /** The node's token, as text when it is printable UTF-8, else 0x-hex. */
  readonly token: string;
  readonly keys: number;
  /** The node's data file with its write-ahead log. */
  readonly bytes: number;
  /** Estimated share of the cluster's distinct keys this node holds a replica of (0..1). */
  readonly ownership: number;
  /** Hints held for other nodes. */
  readonly hints: number;
  /** Whether the node's last commit failed because its disk is full (it refuses writes until space is back). */
  readonly diskFull: boolean;
  /** Where the node serves Prometheus metrics (null: nowhere). */
  readonly metrics: string | null;
  readonly counters: Readonly<Record<string, number>>;
}

export interface ClusterStatus {
  readonly replicationFactor: number;
  readonly nodes: NodeStatus[];
}

function countersOf(dump: types.NodeDump): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(dump.counters ?? {})) out[k] = int64ToNumber(v as never);
  return out;
}

/**
 * Each node's share of the distinct keys: with every key on `rf` nodes, the
 * cluster holds about sum(keys) / rf distinct keys, and a node holding k of
 * them owns k / that (0.75 for each of four even nodes at rf 3, as
 * Cassandra's effective ownership counts it). 0 for all when nothing is held.
 */
export function ownershipShares(keys: readonly number[], rf: number): number[] {
  const distinct = keys.reduce((a, b) => a + b, 0) / rf;
  return keys.map((k) => (distinct > 0 ? Math.min(1, k / distinct) : 0));
}

async function statusOf(config: ClusterConfig, id: number): Promise<Omit<NodeStatus, 'ownership'>> {
  const n = config.nodes[id]!;
  const base = {
    id,
    address: `${n.host}:${n.port}`,
    token: displayBytes(fromByteString(n.token)),
    metrics: metricsUrlOf(n),
  };
  const admin = NodeAdmin.fromConfig(config, id, STATUS_TIMEOUT_MS);
  try {
    const dump = await admin.status();
    const counters = countersOf(dump);
    const hints = dump.hints.reduce((sum, h) => sum + h.count, 0);
    const diskFull = counters['store.diskFull'] === 1;
    const state = counters['repair.catchingUp'] === 1 ? ('CATCHING_UP' as const) : ('NORMAL' as const);
    const lastFullRepairMs = counters['repair.lastFullRepairMs'] ? counters['repair.lastFullRepairMs'] : null;
    return {
      ...base,
      up: true,
      state,
      lastFullRepairMs,
      keys: counters['store.keys'] ?? 0,
      bytes: counters['disk.dataBytes'] ?? 0,
      diskFull,
      hints,
      counters,
    };
  } catch (err) {
    const error = isKvError(err) ? err.message : String(err);
    return {
      ...base,
      up: false,
      state: 'NORMAL',
      lastFullRepairMs: null,
      error,
      keys: 0,
      bytes: 0,
      diskFull: false,
      hints: 0,
      counters: {},
    };
  } finally {
    admin.close();
  }
}

export async function clusterStatus(config: ClusterConfig): Promise<ClusterStatus> {
  const partial = await Promise.all(config.nodes.map((n) => statusOf(config, n.id)));
  const shares = ownershipShares(
    partial.map((s) => s.keys),
    config.replicationFactor,
  );
  return { replicationFactor: config.replicationFactor, nodes: partial.map((s, i) => ({ ...s, ownership: shares[i]! })) };
}
