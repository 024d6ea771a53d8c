/**
 * How a node left the ring, read from the epoch log: the epoch of the change
 * that made it LEFT, and why. A node started again after it left (its data
 * directory kept) says this and does not serve: its id is never reused, and
 * its token may be another node's now. Pure.
 */
import { assert, unreachable } from '../common/assert';
import { applyChange, EpochEntry, Membership } from './changes';

export interface Departure {
  /** The epoch at which the node became LEFT. */
  readonly epoch: number;
  /** Why, in a few words ("decommissioned", "replaced by node 5"). */
  readonly why: string;
}

/** Why the change of `entry` made node `id` LEFT, given the membership just before it. */
function reason(before: Membership, entry: EpochEntry, id: number): string {
  const { change } = entry;
  const op = before.operation;
  switch (change.kind) {
    case 'leave-complete':
      return op?.by !== undefined ? `removed while down, by node ${op.by}` : 'decommissioned';
    case 'replace-complete':
      return `replaced by node ${change.node}`;
    case 'abort':
      // Only an aborted join or replacement leaves its own node LEFT (a leave or move goes back to NORMAL).
      assert(op !== undefined && op.node === id, `an abort makes only its own node LEFT (node ${id})`);
      return op.kind === 'replace' ? `its replacement of node ${op.replaces} was aborted` : `its ${op.kind} was aborted`;
    default:
      return unreachable(`a ${change.kind} makes no node LEFT`);
  }
}

/** Node `id`'s departure, when the log ends with it LEFT; undefined while it is a member (or was never one). */
export function departureOf(entries: readonly EpochEntry[], id: number): Departure | undefined {
  let m: Membership | undefined;
  let departure: Departure | undefined;
  for (const entry of entries) {
    const before = m;
    m = applyChange(m, entry);
    const was = before?.members.find((n) => n.id === id)?.state;
    const now = m.members.find((n) => n.id === id)?.state;
    if (now === 'LEFT' && was !== 'LEFT') departure = { epoch: entry.epoch, why: reason(before!, entry, id) };
  }
  return m?.members.find((n) => n.id === id)?.state === 'LEFT' ? departure : undefined;
}

/** What a node that left says when it is started again, in one sentence. */
export function leftRingSentence(id: number, departure: Departure): string {
  return `node ${id} left the ring at epoch ${departure.epoch} (${departure.why}); it will not serve; remove its data directory or join it again as a new node`;
}
