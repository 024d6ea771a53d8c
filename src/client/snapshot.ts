/**
 * `scripts/admin.sh snapshot [N]`: every node of the ring (or node N)
 * writes a consistent copy of its data file under its data directory
 * (storage/snapshot.ts), all at once, so that the copies are as close in
 * time as the nodes allow. A backup is the set of them; README, Backups,
 * says how to restore one.
 */
import { isKvError, KvError } from '../common/errors';
import { SNAPSHOT_TIMEOUT_MS } from '../common/limits';
import type { ClusterConfig } from '../config/cluster';
import { loadTls } from '../config/tls';
import { ringMembers } from '../membership/changes';
import { int64ToNumber } from '../rpc/thrift';
import { NodeAdmin } from './client';
import { currentMembership, endpointOf } from './operations';

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
  const m = await currentMembership(config);
  const ids = only === undefined ? ringMembers(m).map((n) => n.id) : [only];
  if (only !== undefined && m.members.find((n) => n.id === only)?.state === 'LEFT')
    throw new KvError('InvalidRequest', `node ${only} has left the ring; it holds no data to snapshot`);
  // endpointOf refuses an id that is not in the ring, in one sentence, before any node writes.
  const targets = ids.map((id) => ({ id, at: endpointOf(config, m, id) }));
  const nodes = await Promise.all(
    targets.map(async ({ id, at }): Promise<NodeSnapshot> => {
      const admin = new NodeAdmin(at, config.secret, SNAPSHOT_TIMEOUT_MS, loadTls(config));
      try {
        const r = await admin.snapshot(name);
        return { node: id, path: r.path, bytes: int64ToNumber(r.bytes), tookMs: int64ToNumber(r.tookMs) };
      } catch (err) {
        if (!isKvError(err)) throw err;
        return { node: id, error: err.message };
      } finally {
        admin.close();
      }
    }),
  );
  return { name, nodes, ok: nodes.every((n) => n.error === undefined) };
}
