/**
 * Which of a node's data is garbage under a placement: the keys of the
 * ranges it does not replicate (any more), which `cleanup` deletes and
 * `status` counts as reclaimable; and whether two nodes still replicate all
 * of a bootstrap range, which repair needs before it compares their trees
 * of it. Pure.
 */
import { compareKeyStrings } from '../common/bytes';
import { KvError } from '../common/errors';
import type { Membership } from './changes';
import { EPOCH_SLOT_KEY_PREFIX } from './epoch-log';
import type { Placement } from './placement';
import { intervalsOf, KeyInterval } from './stream-plan';

/** a < b for interval ends, undefined being past every key. */
function before(a: string, b: string | undefined): boolean {
  return b === undefined || compareKeyStrings(a, b) < 0;
}

/**
 * The epoch slots' keys: never garbage. They are placed by the bootstrap
 * ring, whatever the log says later, and a slot's decided value must stay
 * where the next operator's compare-and-set looks for it: lost, the slot
 * could be decided again with another change.
 */
export const SLOT_KEYS: KeyInterval = {
  from: EPOCH_SLOT_KEY_PREFIX,
  // The prefix with its last byte one higher: the first key past every key that starts with it.
  to: EPOCH_SLOT_KEY_PREFIX.slice(0, -1) + String.fromCharCode(EPOCH_SLOT_KEY_PREFIX.charCodeAt(EPOCH_SLOT_KEY_PREFIX.length - 1) + 1),
};

/** `a` less `cut`: none, one or two intervals. */
export function minus(a: KeyInterval, cut: KeyInterval): KeyInterval[] {
  const overlaps = before(a.from, cut.to) && before(cut.from, a.to);
  if (!overlaps) return [a];
  const out: KeyInterval[] = [];
  if (compareKeyStrings(a.from, cut.from) < 0) out.push({ from: a.from, to: cut.from });
  if (cut.to !== undefined && before(cut.to, a.to)) out.push({ from: cut.to, to: a.to });
  return out;
}

/** Intervals sorted by start, those that touch joined into one. */
function merged(intervals: readonly KeyInterval[]): KeyInterval[] {
  const sorted = [...intervals].sort((a, b) => compareKeyStrings(a.from, b.from));
  const out: KeyInterval[] = [];
  for (const next of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.to !== undefined && !before(last.to, next.from)) {
      out[out.length - 1] = { from: last.from, to: next.to === undefined || !before(next.to, last.to) ? next.to : last.to };
    } else out.push(next);
  }
  return out;
}

/**
 * The key intervals node `id` holds no replica of under `placement` (it is
 * in neither the read nor the write set of their ranges), in key order,
 * adjacent ones joined, the epoch slots' keys left out: the data a cleanup
 * deletes there.
 */
export function unreplicatedIntervals(placement: Placement, id: number): KeyInterval[] {
  const foreign = placement.ranges.filter((r) => !r.writes.includes(id)).flatMap((r) => intervalsOf(r.start, r.end));
  return merged(foreign).flatMap((i) => minus(i, SLOT_KEYS));
}

/**
 * Refuses a cleanup while an operation runs: its pending replicas are
 * filling ranges they do not read yet, and its leaving ones still serve
 * theirs; what is garbage is only known once it is done.
 */
export function refuseCleanupDuring(m: Membership): void {
  const op = m.operation;
  if (op !== undefined)
    throw new KvError(
      'InvalidRequest',
      `an operation (${op.kind} of node ${op.node}) is in progress; run cleanup once it is done (its pending ranges are not garbage)`,
    );
}
