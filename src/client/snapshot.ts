/**
 * `scripts/admin.sh snapshot [N]`: every node of the ring (or node N)
 * writes a consistent copy of its data file under its data directory
 * (storage/snapshot.ts), all at once, so that the copies are as close in
 * time as the nodes allow. A backup is the set of them; README, Backups,
 * says how to restore one. `snapshots` lists what each node holds, and
 * `clear-snapshot` deletes one everywhere.
 */
import { isKvError, KvError } from '../common/errors';
import { SNAPSHOT_TIMEOUT_MS } from '../common/limits';
import type { ClusterConfig } from '../config/cluster';
import { loadTls } from '../config/tls';
import { ringMembers } from '../membership/changes';
import { int64ToNumber } from '../rpc/thrift';
import { NodeAdmin } from './client';
import { currentMembership, endpointOf } from './operations';
import { STATUS_TIMEOUT_MS } from './ring';

/** One node's snapshot: where it wrote it and how large it is, or why it did not. */
export interface NodeSnapshot {
  readonly node: number;
  readonly path?: string;
  readonly bytes?: number;
  readonly tookMs?: number;
  readonly error?: string;
}

export interface ClusterSnapshot {
  readonly name: string;
  readonly nodes: NodeSnapshot[];
  /** Every node asked wrote its snapshot. */
  readonly ok: boolean;
}

/** A snapshot's default name: the time it was asked for, UTC, to the second (20261207T043000Z). */
export function defaultSnapshotName(nowMs: number): string {
  return new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** Snapshot `name` on every node of the ring (or node `only`), at once. */
export async function snapshotCluster(config: ClusterConfig, name: string, only?: number): Promise<ClusterSnapshot> {
  const nodes: NodeSnapshot[] = await onEach(await snapshotTargets(config, only, SNAPSHOT_TIMEOUT_MS), async (admin, node) => {
    const r = await admin.snapshot(name);
    return { node, path: r.path, bytes: int64ToNumber(r.bytes), tookMs: int64ToNumber(r.tookMs) };
  });
  return { name, nodes, ok: nodes.every((n) => n.error === undefined) };
}

/** One node's snapshots, or why it did not answer. */
export interface NodeSnapshots {
  readonly node: number;
  readonly snapshots?: { name: string; path: string; bytes: number; writtenMs: number }[];
  readonly error?: string;
}

/** One node's part in clearing a snapshot: whether it held a file of it, or why it did not answer. */
export interface NodeCleared {
  readonly node: number;
  readonly held?: boolean;
  readonly error?: string;
}

/**
 * The ring members to ask (every one, or `only`), each with an admin
 * connection waiting `timeoutMs` a call. A node not in the ring, or one
 * that left, is refused in one sentence before any node is asked.
 */
export async function snapshotTargets(
  config: ClusterConfig,
  only: number | undefined,
  timeoutMs = STATUS_TIMEOUT_MS,
): Promise<{ id: number; admin: () => NodeAdmin }[]> {
  const m = await currentMembership(config);
  const ids = only === undefined ? ringMembers(m).map((n) => n.id) : [only];
  if (only !== undefined && m.members.find((n) => n.id === only)?.state === 'LEFT')
    throw new KvError('InvalidRequest', `node ${only} has left the ring; it holds no data`);
  return ids.map((id) => {
    const at = endpointOf(config, m, id);
    return { id, admin: () => new NodeAdmin(at, config.secret, timeoutMs, loadTls(config)) };
  });
}

/** Runs `call` on each target at once; a node's operating error becomes its `error`. */
export async function onEach<T>(
  targets: { id: number; admin: () => NodeAdmin }[],
  call: (admin: NodeAdmin, id: number) => Promise<T>,
): Promise<(T | { node: number; error: string })[]> {
  return Promise.all(
    targets.map(async ({ id, admin: open }) => {
      const admin = open();
      try {
        return await call(admin, id);
      } catch (err) {
        if (!isKvError(err)) throw err;
        return { node: id, error: err.message };
      } finally {
        admin.close();
      }
    }),
  );
}

/** Every ring member's snapshots (or node `only`'s). */
export async function listClusterSnapshots(config: ClusterConfig, only?: number): Promise<NodeSnapshots[]> {
  return onEach(await snapshotTargets(config, only), async (admin, node) => ({
    node,
    snapshots: (await admin.listSnapshots()).map((e) => ({
      name: e.name,
      path: e.path,
      bytes: int64ToNumber(e.bytes),
      writtenMs: int64ToNumber(e.writtenMs),
    })),
  }));
}

/** Deletes snapshot `name` on every ring member that holds a file of it (or on node `only`). */
export async function clearClusterSnapshot(config: ClusterConfig, name: string, only?: number): Promise<NodeCleared[]> {
  return onEach(await snapshotTargets(config, only), async (admin, node) => {
    try {
      await admin.clearSnapshot(name);
      return { node, held: true };
    } catch (err) {
      // The name was checked before any node was asked: InvalidRequest here means this node holds no such file.
      if (isKvError(err, 'InvalidRequest')) return { node, held: false };
      throw err;
    }
  });
}
