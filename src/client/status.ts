/**
 * The cluster as an operator asks about it (`scripts/admin.sh status`): the
 * ring's epoch, then each node's address, whether it answers, its epoch,
 * its state (from the newest membership log any node gave) and token, how many keys and
 * bytes it holds, the share of the keys it replicates, and its pending hints,
 * read from every node's admin status call at once. A node that does not
 * answer is down; the rest are still shown.
 */
import { NodeAdmin } from './client';
import { displayBytes, fromByteString } from '../common/bytes';
import { isKvError } from '../common/errors';
import { ClusterConfig, metricsUrlOf } from '../config/cluster';
import { bootstrapEntry, EpochEntry, NodeState, replayLog } from '../membership/changes';
import { int64ToNumber, types } from '../rpc/thrift';

/** How long status waits for each node: a node slower than this is shown as down. */
export const STATUS_TIMEOUT_MS = 3000;

export interface NodeStatus {
  readonly id: number;
  readonly address: string;
  readonly up: boolean;
  /** Why the node is shown as down. */
  readonly error?: string;
  /**
   * The node's state in the newest membership any node gave (the cluster file's ring, all NORMAL, when none
   * answered); CATCHING_UP instead of NORMAL while a node that lost its data or was down past the hint window
   * repairs its ranges before it serves reads.
   */
  readonly state: NodeState | 'CATCHING_UP';
  /** The epoch of the node's own membership log (null when it did not answer). */
  readonly epoch: number | null;
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
  /** The newest epoch any node answered with (null when none answered). */
  readonly epoch: number | null;
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

type Reported = Omit<NodeStatus, 'ownership' | 'state'> & { readonly log?: EpochEntry[]; readonly catchingUp: boolean };

async function statusOf(config: ClusterConfig, id: number): Promise<Reported> {
  const n = config.nodes[id]!;
  const base = {
    id,
    address: `${n.host}:${n.port}`,
    token: displayBytes(fromByteString(n.token)),
    metrics: metricsUrlOf(n),
  };
  const admin = NodeAdmin.fromConfig(config, id, STATUS_TIMEOUT_MS);
  try {
    const [dump, membership] = await Promise.all([admin.status(), admin.membership()]);
    const counters = countersOf(dump);
    const hints = dump.hints.reduce((sum, h) => sum + h.count, 0);
    const diskFull = counters['store.diskFull'] === 1;
    const catchingUp = counters['repair.catchingUp'] === 1;
    const lastFullRepairMs = counters['repair.lastFullRepairMs'] ? counters['repair.lastFullRepairMs'] : null;
    const { epoch, entries: log } = membership;
    return {
      ...base,
      up: true,
      catchingUp,
      lastFullRepairMs,
      epoch,
      log,
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
      catchingUp: false,
      lastFullRepairMs: null,
      epoch: null,
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

/** The longest membership log the nodes gave: logs only grow, so that is the newest. */
function newestLog(reports: readonly Reported[]): EpochEntry[] | undefined {
  let newest: EpochEntry[] | undefined;
  for (const r of reports) if (r.log !== undefined && (newest === undefined || r.log.length > newest.length)) newest = r.log;
  return newest;
}

export async function clusterStatus(config: ClusterConfig): Promise<ClusterStatus> {
  const partial = await Promise.all(config.nodes.map((n) => statusOf(config, n.id)));
  const shares = ownershipShares(
    partial.map((s) => s.keys),
    config.replicationFactor,
  );
  const newest = newestLog(partial);
  const membership = replayLog(newest ?? [bootstrapEntry(config.nodes, config.replicationFactor)]);
  const stateOf = (r: Reported): NodeStatus['state'] => {
    const state = membership.members.find((m) => m.id === r.id)?.state ?? 'NORMAL';
    return state === 'NORMAL' && r.catchingUp ? 'CATCHING_UP' : state;
  };
  return {
    epoch: newest === undefined ? null : membership.epoch,
    replicationFactor: config.replicationFactor,
    nodes: partial.map((r, i) => {
      const { log: _log, catchingUp: _catchingUp, ...s } = r;
      return { ...s, state: stateOf(r), ownership: shares[i]! };
    }),
  };
}
