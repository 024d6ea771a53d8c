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
import { replayLog } from '../membership/changes';
import { Placement } from '../membership/placement';
import { STATUS_TIMEOUT_MS } from './status';

export interface RingView {
  /** The node whose log this is. */
  readonly node: number;
  readonly placement: Placement;
}

/** The placement of node `only`, or of the first node (in id order) that answers. */
export async function ringOf(config: ClusterConfig, only?: number): Promise<RingView> {
  const ids = only === undefined ? config.nodes.map((n) => n.id) : [only];
  const failures: string[] = [];
  for (const id of ids) {
    const admin = NodeAdmin.fromConfig(config, id, STATUS_TIMEOUT_MS);
    try {
      const { entries } = await admin.membership();
      return { node: id, placement: Placement.of(replayLog(entries)) };
    } catch (err) {
      if (!isKvError(err) || err.code === 'InvalidRequest') throw err;
      failures.push(`node ${id}: ${err.message}`);
    } finally {
      admin.close();
    }
  }
  throw new KvError('Unavailable', `no node gave its membership log (${failures.join('; ')})`);
}

/** A token as status shows it: text when it is printable UTF-8, else 0x-hex. */
export function tokenText(token: string): string {
  return displayBytes(fromByteString(token));
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
