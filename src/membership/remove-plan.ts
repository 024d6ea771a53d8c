/**
 * What a removal streams, from its begin epoch: every range the dead node
 * gives up, to each replica the range gains, from every surviving replica
 * of the range. Pure.
 *
 * A decommission copies a range from the node that gives it up; a removed
 * node is dead, so, as for a replacement (replace-plan.ts), one survivor
 * alone could lack a QUORUM write that the dead node and the other survivor
 * acknowledged. Every such write is on at least one survivor, so the gaining
 * replica copies from all of them, and last-write-wins merges the copies.
 */
import { assert } from '../common/assert';
import type { Membership } from './changes';
import { changedRanges, type RangeStream } from './stream-plan';

/** The streams of the removal that `m` (its begin epoch) runs: per range and gaining replica, one from each survivor. */
export function removeStreamsOf(m: Membership): RangeStream[] {
  const op = m.operation;
  assert(op !== undefined && op.kind === 'leave' && op.by !== undefined, 'a removal at its begin epoch');
  const streams: RangeStream[] = [];
  for (const { range, gained } of changedRanges(m)) {
    const survivors = range.reads.filter((id) => id !== op.node);
    for (const target of gained) for (const source of survivors) streams.push({ start: range.start, end: range.end, source, target });
  }
  return streams;
}
