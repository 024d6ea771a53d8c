/**
 * The ring as a node places requests (`scripts/admin.sh ring`): its
 * membership log, fetched and folded into the placement of its current
 * epoch with the same pure code the node uses (membership/), so the tool
 * shows exactly the read and write replicas the node has.
 */
import { NodeAdmin } from './client';
import { displayBytes, fromByteString } from '../common/bytes';
import { isKvError, KvError } from '../common/errors';
import type { ClusterConfig } from '../config/cluster';
import { loadTls } from '../config/tls';
import type { EpochEntry } from '../membership/changes';
import { Placement } from '../membership/placement';
import { fitsSeeds, NodeLocation, seedTopology, Topology, topologyOf } from './topology';

/** How long status and the ring tools wait for each node: a node slower than this is shown as down. */
export const STATUS_TIMEOUT_MS = 3000;

export interface RingView {
  /** The node whose log this is. */
  readonly node: number;
  readonly placement: Placement;
  /** The ring learned from that node's log, with where every member listens. */
  readonly topology: Topology;
}

/** An admin connection to a node wherever it listens (a node that joined is not in the cluster file). */
export function adminAt(config: ClusterConfig, at: NodeLocation, timeoutMs = STATUS_TIMEOUT_MS): NodeAdmin {
  return new NodeAdmin(at, config.secret, timeoutMs, loadTls(config));
}

/** The ring a membership log gives, with the cluster file's nodes as the seeds; undefined for a log of another ring. */
export function topologyFrom(config: ClusterConfig, log: readonly EpochEntry[]): Topology | undefined {
  return fitsSeeds(log, config.nodes) ? topologyOf(log, config.nodes) : undefined;
}

/** The cluster file's own ring (epoch 1): what the tools fall back to when no node answers. */
export function fileTopology(config: ClusterConfig): Topology {
  return seedTopology(config.nodes, config.replicationFactor);
}

/**
 * The ring as node `only`, or the first node of the cluster file (in id
 * order) that answers, gives it. A node that joined later is not in the
 * cluster file: it is found at the address the ring gives for it.
 */
export async function ringOf(config: ClusterConfig, only?: number): Promise<RingView> {
  if (only !== undefined && !config.nodes.some((n) => n.id === only)) {
    const any = await ringOf(config);
    const at = any.topology.locations[only];
    if (at === undefined)
      throw new KvError('InvalidRequest', `node ${only} is not on the ring (its nodes: ${any.topology.routable.join(', ')})`);
    return viewOf(config, only, at);
  }
  const seeds = only === undefined ? config.nodes : config.nodes.filter((n) => n.id === only);
  const failures: string[] = [];
  for (const seed of seeds) {
    try {
      return await viewOf(config, seed.id, seed);
    } catch (err) {
      if (!isKvError(err) || err.code === 'InvalidRequest') throw err;
      failures.push(`node ${seed.id}: ${err.message}`);
    }
  }
  throw new KvError('Unavailable', `no node gave its membership log (${failures.join('; ')})`);
}

/** The ring as node `id`, listening at `at`, gives it. */
async function viewOf(config: ClusterConfig, id: number, at: NodeLocation): Promise<RingView> {
  const admin = adminAt(config, at);
  try {
    const { entries } = await admin.membership();
    const topology = topologyFrom(config, entries);
    if (topology === undefined) throw new KvError('InvalidRequest', `node ${id}'s ring is not the one of this cluster file`);
    return { node: id, placement: topology.placement, topology };
  } finally {
    admin.close();
  }
}

/** The ring as the nodes give it, or the cluster file's when none answers (the inspector then shows them all down). */
export async function learnedOrFileRing(config: ClusterConfig): Promise<Topology> {
  try {
    return (await ringOf(config)).topology;
  } catch (err) {
    if (isKvError(err, 'Unavailable')) return fileTopology(config);
    throw err;
  }
}

/** A token as status shows it: text when it is printable UTF-8, else 0x-hex. */
export function tokenText(token: string): string {
  return displayBytes(fromByteString(token));
}

/** One replica of a key, as `admin.sh replicas` shows it: where it listens, and whether it takes the key's reads and its writes. */
export interface KeyReplica {
  readonly node: number;
  /** host:port, or undefined for a node the ring gives no address for. */
  readonly address: string | undefined;
  readonly reads: boolean;
  /** Writes only: a replica the operation in progress adds (it streams the range, then takes its reads too). */
  readonly writes: boolean;
}

/** Where `key` (latin1) lives on the ring as `view`'s node places requests: its range, and each replica that takes its reads or writes. */
export function replicasOfKey(view: RingView, key: string): { range: { start: string; end: string }; replicas: KeyReplica[] } {
  const r = view.placement.rangeOf(key);
  const ids = [...r.reads, ...r.writes.filter((id) => !r.reads.includes(id))];
  const replicas = ids.map((node) => {
    const at = view.topology.locations[node];
    return { node, address: at && `${at.host}:${at.port}`, reads: r.reads.includes(node), writes: r.writes.includes(node) };
  });
  return { range: { start: tokenText(r.start), end: tokenText(r.end) }, replicas };
}

/** The JSON form of the ring: what a script reads. */
export function ringJson(view: RingView): object {
  const p = view.placement;
  return {
    epoch: p.epoch,
    node: view.node,
    replicationFactor: p.replicationFactor,
    ranges: p.ranges.map((r) => ({
      start: tokenText(r.start),
      end: tokenText(r.end),
      reads: r.reads,
      writes: r.writes,
      pending: r.writes.filter((id) => !r.reads.includes(id)),
    })),
  };
}
