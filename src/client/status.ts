/**
 * The cluster as an operator asks about it (`scripts/admin.sh status`): the
 * ring's epoch, then each node's address, whether it answers, its epoch,
 * its state (from the newest membership log any node gave) and token, how many keys and
 * bytes it holds, the share of the keys it replicates, its pending hints, logged batches and
 * reclaimable bytes, read from every node's admin status call at once; then
 * the membership operation under way. The nodes are every member of the ring
 * the nodes give, joined ones included, those that left shown as LEFT. A
 * node that does not answer is down; the rest are still shown.
 */
import { displayBytes, fromByteString } from '../common/bytes';
import { isKvError } from '../common/errors';
import { ClusterConfig, metricsUrlOf } from '../config/cluster';
import { type EpochEntry, type NodeState, type Operation, runnerOf } from '../membership/changes';
import { int64ToNumber, types } from '../rpc/thrift';
import { adminAt, fileTopology, STATUS_TIMEOUT_MS, topologyFrom } from './ring';
import type { KnownMember, Topology } from './topology';

export { STATUS_TIMEOUT_MS };

export interface NodeStatus {
  readonly id: number;
  readonly address: string;
  readonly up: boolean;
  /** Why the node is shown as down (absent for a node that LEFT: it is not asked). */
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
  /** The node's token in the newest membership, as text when it is printable UTF-8, else 0x-hex. */
  readonly token: string;
  readonly keys: number;
  /** The node's data file with its write-ahead log. */
  readonly bytes: number;
  /** Estimated share of the cluster's distinct keys this node holds a replica of (0..1). */
  readonly ownership: number;
  /** Hints held for other nodes. */
  readonly hints: number;
  /**
   * Logged batches in the node's batch log not yet written everywhere, copies of other coordinators' batches
   * included, and of those the copies; null while the node does not report them (counters `batches.batchLog*`).
   */
  readonly batches: number | null;
  readonly batchCopies: number | null;
  /**
   * Bytes of the keys and values the node holds for ranges it does not replicate under the current ring, that
   * `cleanup` would delete; null while the node does not report it (its counter `store.reclaimableBytes`).
   */
  readonly reclaimable: number | null;
  /** Keys of that data (counter `store.reclaimableKeys`); null as `reclaimable`. */
  readonly reclaimableKeys: number | null;
  /** Whether the node's last commit failed because its disk is full (it refuses writes until space is back). */
  readonly diskFull: boolean;
  /** Where the node serves Prometheus metrics (null: nowhere). */
  readonly metrics: string | null;
  readonly counters: Readonly<Record<string, number>>;
}

/** A membership operation under way, as status shows it: the membership's, with a moving node's token as displayed text. */
export interface OperationStatus extends Operation {
  /**
   * What the node running the operation reports of it (`operationProgress`:
   * its step, keys and bytes streamed, ranges done of total, the fraction
   * done, and the sentence it stopped with, if any). Empty when that node
   * does not answer: the membership says which operation runs, but how far
   * its streams are is that node's to tell, and a number made up here would
   * mislead an operator deciding what to do.
   */
  readonly progress: Readonly<Record<string, unknown>>;
}

export interface ClusterStatus {
  /** The newest epoch any node answered with (null when none answered). */
  readonly epoch: number | null;
  readonly replicationFactor: number;
  /** Every node ever in the ring, in id order, those that left included. */
  readonly nodes: NodeStatus[];
  /** The operation under way, if any (one at a time). */
  readonly operations: OperationStatus[];
}

/**
 * The first line of `admin.sh status`: the epoch, the ring's nodes and how
 * many answer. Nodes that left are counted apart: they are listed (dimmed)
 * but are not down, and "5 nodes, 4 up" after a decommission would read as
 * a node down.
 */
export function statusHeadline(s: Pick<ClusterStatus, 'epoch' | 'replicationFactor' | 'nodes'>): string {
  const members = s.nodes.filter((n) => n.state !== 'LEFT');
  const left = s.nodes.length - members.length;
  const up = members.filter((n) => n.up).length;
  const epoch = s.epoch === null ? 'epoch unknown (no node answered)' : `epoch ${s.epoch}`;
  const gone = left === 0 ? '' : `, ${left} left the ring`;
  const nodes = `${members.length} node${members.length === 1 ? '' : 's'}`;
  return `${epoch}, ${nodes}, ${up} up${gone}, replication factor ${s.replicationFactor}`;
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

type Reported = Omit<NodeStatus, 'ownership' | 'state' | 'token'> & { readonly log?: EpochEntry[]; readonly catchingUp: boolean };

function unanswered(id: number, address: string, metrics: string | null, error?: string): Reported {
  return {
    id,
    address,
    metrics,
    up: false,
    catchingUp: false,
    lastFullRepairMs: null,
    epoch: null,
    ...(error !== undefined && { error }),
    keys: 0,
    bytes: 0,
    diskFull: false,
    hints: 0,
    batches: null,
    batchCopies: null,
    reclaimable: null,
    reclaimableKeys: null,
    counters: {},
  };
}

/** What one member says of itself; a LEFT member is not asked, one whose address is unknown cannot be. */
async function statusOf(config: ClusterConfig, m: KnownMember): Promise<Reported> {
  const at = m.location;
  const address = at === undefined ? 'address unknown' : `${at.host}:${at.port}`;
  const seed = config.nodes.find((n) => n.id === m.id);
  const metrics = at === undefined ? null : metricsUrlOf(seed ?? { id: m.id, host: at.host, port: at.port, token: m.token });
  if (m.state === 'LEFT') return unanswered(m.id, address, null);
  if (at === undefined) return unanswered(m.id, address, null, 'neither the cluster file nor the membership log says where it listens');
  const admin = adminAt(config, at);
  try {
    const [dump, membership] = await Promise.all([admin.status(), admin.membership()]);
    const counters = countersOf(dump);
    const lastFullRepairMs = counters['repair.lastFullRepairMs'] ? counters['repair.lastFullRepairMs'] : null;
    return {
      id: m.id,
      address,
      metrics,
      up: true,
      catchingUp: counters['repair.catchingUp'] === 1,
      lastFullRepairMs,
      epoch: membership.epoch,
      log: membership.entries,
      keys: counters['store.keys'] ?? 0,
      bytes: counters['disk.dataBytes'] ?? 0,
      diskFull: counters['store.diskFull'] === 1,
      hints: dump.hints.reduce((sum, h) => sum + h.count, 0),
      batches: counters['batches.batchLogBatches'] ?? null,
      batchCopies: counters['batches.batchLogCopies'] ?? null,
      reclaimable: counters['store.reclaimableBytes'] ?? null,
      reclaimableKeys: counters['store.reclaimableKeys'] ?? null,
      counters,
    };
  } catch (err) {
    return unanswered(m.id, address, metrics, isKvError(err) ? err.message : String(err));
  } finally {
    admin.close();
  }
}

/** The longest membership log of this ring the nodes gave: logs only grow, so that is the newest. */
function newestTopology(config: ClusterConfig, reports: readonly Reported[]): Topology | undefined {
  let newest: Topology | undefined;
  for (const r of reports) {
    if (r.log === undefined || (newest !== undefined && r.log.length <= newest.epoch)) continue;
    newest = topologyFrom(config, r.log) ?? newest;
  }
  return newest;
}

/** The operation, with the progress its node reports (empty when it does not answer). */
async function operationStatus(
  config: ClusterConfig,
  op: Operation,
  at: { host: string; port: number } | undefined,
): Promise<OperationStatus> {
  return {
    kind: op.kind,
    node: op.node,
    ...(op.token !== undefined && { token: displayBytes(fromByteString(op.token)) }),
    ...(op.replaces !== undefined && { replaces: op.replaces }),
    ...(op.by !== undefined && { by: op.by }),
    readsSwitched: op.readsSwitched,
    ...(op.aborting === true && { aborting: true }),
    progress: at === undefined ? {} : await progressAt(config, at),
  };
}

async function progressAt(config: ClusterConfig, at: { host: string; port: number }): Promise<Record<string, unknown>> {
  const admin = adminAt(config, at);
  try {
    const p = await admin.operationProgress();
    return {
      state: p.state,
      keys: int64ToNumber(p.keys),
      bytes: int64ToNumber(p.bytes),
      rangesDone: p.rangesDone,
      rangesTotal: p.rangesTotal,
      fraction: p.fraction,
      done: p.done,
      ...(p.error ? { error: p.error } : {}),
      ...(p.paceBytesPerSecond != null ? { pace: int64ToNumber(p.paceBytesPerSecond) } : {}),
    };
  } catch {
    return {};
  } finally {
    admin.close();
  }
}

/**
 * Asks every member of the ring at once. The members are those of the
 * cluster file's ring at first; a node's answer carries its log, and members
 * the newest log names that were not asked yet (nodes that joined) are asked
 * in a second round.
 */
export async function clusterStatus(config: ClusterConfig): Promise<ClusterStatus> {
  const reports = await Promise.all(fileTopology(config).members.map((m) => statusOf(config, m)));
  const first = newestTopology(config, reports);
  const asked = new Set(reports.map((r) => r.id));
  const more = (first?.members ?? []).filter((m) => !asked.has(m.id));
  reports.push(...(await Promise.all(more.map((m) => statusOf(config, m)))));
  const topology = newestTopology(config, reports) ?? fileTopology(config);
  const membership = topology.membership;
  const byId = new Map(reports.map((r) => [r.id, r]));
  const members = topology.members.map((m) => {
    const r = byId.get(m.id) ?? unanswered(m.id, 'address unknown', null, 'not asked');
    // A node that left is no error: its process has exited, and nothing of it is counted.
    return { m, r: m.state === 'LEFT' ? unanswered(m.id, r.address, null) : r };
  });
  const op = membership.operation;
  const shares = ownershipShares(
    members.map(({ r }) => r.keys),
    membership.replicationFactor,
  );
  return {
    epoch: reports.some((r) => r.log !== undefined) ? membership.epoch : null,
    replicationFactor: membership.replicationFactor,
    nodes: members.map(({ m, r }, i) => {
      const { log: _log, catchingUp, ...s } = r;
      const state = m.state === 'NORMAL' && catchingUp ? 'CATCHING_UP' : m.state;
      return { ...s, state, token: displayBytes(fromByteString(m.token)), ownership: shares[i]! };
    }),
    operations: op === undefined ? [] : [await operationStatus(config, op, members.find(({ m }) => m.id === runnerOf(op))?.m.location)],
  };
}
