/**
 * What a replacement streams, from its begin epoch: every range the dead
 * node replicated, to the node that takes its place, from each surviving
 * replica of the range. Pure.
 *
 * The one exception to copying from the replica that gives a range up
 * (stream-plan.ts): that replica is dead. Copying from one survivor could
 * miss a QUORUM write that the dead node and the other survivor
 * acknowledged; every such write is on at least one survivor (a quorum of
 * the old replicas holds at most one dead node), so copying from all of them
 * gives the new node every acknowledged write, and last-write-wins merges
 * the copies. A survivor that cannot be read stops the operation rather
 * than being skipped.
 */
import { assert } from '../common/assert';
import type { Membership } from './changes';
import { Placement } from './placement';
import type { RangeStream } from './stream-plan';

/** The streams of the replacement that `m` (its begin epoch) runs: per range of the dead node, one from each survivor. */
export function replaceStreamsOf(m: Membership): RangeStream[] {
  const op = m.operation;
  assert(op !== undefined && op.kind === 'replace' && op.replaces !== undefined && !op.readsSwitched, 'a replacement at its begin epoch');
  const dead = op.replaces;
  const streams: RangeStream[] = [];
  for (const range of Placement.of(m).ranges) {
    if (!range.reads.includes(dead)) continue;
    const survivors = range.reads.filter((id) => id !== dead && id !== op.node);
    for (const source of survivors) streams.push({ start: range.start, end: range.end, source, target: op.node });
  }
  return streams;
}
