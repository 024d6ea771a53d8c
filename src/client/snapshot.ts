/**
 * `scripts/admin.sh snapshot [N]`: every node of the ring (or node N)
 * writes a consistent copy of its data file under its data directory
 * (storage/snapshot.ts), all at once, so that the copies are as close in
 * time as the nodes allow. A backup is the set of them; README, Backups,
 * says how to restore one. `snapshots` lists what each node holds, and
 * `clear-snapshot` deletes one everywhere.
 */
import { isKvError } from '../common/errors';
import { SNAPSHOT_TIMEOUT_MS } from '../common/limits';
import type { ClusterConfig } from '../config/cluster';
import { int64ToNumber } from '../rpc/thrift';
import { memberAdmins, onEach } from './operations';

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
  const nodes: NodeSnapshot[] = await onEach(await memberAdmins(config, only, SNAPSHOT_TIMEOUT_MS), async (admin, node) => {
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

/** Every ring member's snapshots (or node `only`'s). */
export async function listClusterSnapshots(config: ClusterConfig, only?: number): Promise<NodeSnapshots[]> {
  return onEach(await memberAdmins(config, only), async (admin, node) => ({
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
  return onEach(await memberAdmins(config, only), async (admin, node) => {
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
