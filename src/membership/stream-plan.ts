/**
 * What an operation must stream, from its begin epoch: per range, each
 * replica the range gains and the replica that gives it up. Pure.
 *
 * The data comes from the replica that gives the range up, never from
 * another one (consistent range movement): a QUORUM write acknowledged by
 * the giving replica and one that stays may be missing from the third, and
 * copying from that third one would leave the write on one replica of the
 * new set, which a QUORUM read of the new set can miss.
 */
import { assert } from '../common/assert';
import { compareKeyStrings } from '../common/bytes';
import type { Membership } from './changes';
import { type PlacedRange, Placement } from './placement';

/** One range (start, end] to copy from `source` to `target`. */
export interface RangeStream {
  readonly start: string;
  readonly end: string;
  readonly source: number;
  readonly target: number;
}

/** One interval [from, to) of keys for readRange (to undefined: to the end of the key space). */
export interface KeyInterval {
  readonly from: string;
  readonly to: string | undefined;
}

/**
 * The streams of the operation that `m` (its begin epoch) runs: for every
 * range, the replicas of the ring after it that are not replicas before it,
 * each paired with one that stops being a replica.
 */
export function streamsOf(m: Membership): RangeStream[] {
  const streams: RangeStream[] = [];
  for (const { range, gained, given } of changedRanges(m)) {
    assert(gained.length === given.length, 'a range gains as many replicas as it loses');
    gained.forEach((target, k) => streams.push({ start: range.start, end: range.end, source: given[k]!, target }));
  }
  return streams;
}

/** A range of an operation's begin epoch, with the read replicas it gains and those it gives up. */
export interface ChangedRange {
  readonly range: PlacedRange;
  readonly gained: readonly number[];
  readonly given: readonly number[];
}

/** Every range of the operation that `m` (its begin epoch) runs, with the read replicas it gains and gives up. */
export function changedRanges(m: Membership): ChangedRange[] {
  const op = m.operation;
  assert(op !== undefined && !op.readsSwitched, 'streams are planned at an operation begin epoch');
  const before = Placement.of(m);
  const after = Placement.of({ ...m, operation: { ...op, readsSwitched: true } });
  return before.ranges.map((range, i) => {
    const next = after.ranges[i]!;
    assert(next.end === range.end, 'the two placements of an epoch have the same ranges');
    return {
      range,
      gained: next.reads.filter((id) => !range.reads.includes(id)),
      given: range.reads.filter((id) => !next.reads.includes(id)),
    };
  });
}

/** The smallest key after `key` in byte order. */
function justAfter(key: string): string {
  return `${key}\u0000`;
}

/**
 * The key intervals of the range (start, end]: one, or two when it wraps
 * past the end of the key space (the first range), or the whole key space
 * when the ring has a single token.
 */
export function intervalsOf(start: string, end: string): KeyInterval[] {
  if (start === end) return [{ from: '', to: undefined }];
  if (compareKeyStrings(start, end) < 0) return [{ from: justAfter(start), to: justAfter(end) }];
  return [
    { from: justAfter(start), to: undefined },
    { from: '', to: justAfter(end) },
  ];
}
