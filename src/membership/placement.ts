/**
 * Placement of an epoch: per token range, the replicas that take reads and
 * the replicas that take writes, derived from the membership (changes.ts).
 *
 * While an operation runs there are two rings: the one before it and the
 * one after it. Writes go to a range's replicas on both; reads go to the old
 * ring's until `reads-switch`, then to the new ring's. The replicas in the
 * write set but not in the read set are the range's *pending* replicas, and
 * a write at level L needs L's count plus their number (Cassandra's rule,
 * `writeAcksNeeded` in coordinator/levels.ts):
 * then at least L's count of the acknowledgements come from the read set,
 * whichever replicas answer, so a QUORUM write still meets every QUORUM read
 * (without the rule, a QUORUM write could be acknowledged by a pending
 * replica and one replica that is about to stop taking reads, and a later
 * QUORUM read could miss both).
 *
 * Everything is computed once per epoch; a request's lookup is one binary
 * search over the range ends that returns a precomputed, frozen range:
 * O(log n) and nothing allocated.
 */
import { assert } from '../common/assert';
import { compareKeyStrings } from '../common/bytes';
import { Ring, RingNode } from '../partitioner/ring';
import { bootstrapEntry, Membership, replayLog, ringMembers } from './changes';

/** One range (start, end] of the ring, as a request meets it. */
export interface PlacedRange {
  /** Exclusive lower end: the previous range's end (the last range's, for the first range, which wraps). */
  readonly start: string;
  /** Inclusive upper end: a token. */
  readonly end: string;
  /** Replicas that take reads: the owner first, then clockwise. */
  readonly reads: readonly number[];
  /** Replicas that take writes: the read replicas first, then the pending ones. */
  readonly writes: readonly number[];
  /** How many of `writes` are not in `reads`. */
  readonly pending: number;
  /**
   * Replicas the operation under way adds to the range (on the ring after
   * it, not before): those its streams fill. Empty when none runs.
   */
  readonly gaining: readonly number[];
}

/** The two rings of an epoch: before and after its operation (the same ring when none runs). */
function ringsOf(m: Membership): { before: RingNode[]; after: RingNode[] } {
  const all = ringMembers(m).map((n) => ({ id: n.id, token: n.token }));
  const op = m.operation;
  if (op === undefined) return { before: all, after: all };
  switch (op.kind) {
    case 'join':
      return { before: all.filter((n) => n.id !== op.node), after: all };
    case 'leave':
      return { before: all, after: all.filter((n) => n.id !== op.node) };
    case 'move':
      return { before: all, after: all.map((n) => (n.id === op.node ? { id: n.id, token: op.token! } : n)) };
    case 'replace':
      return { before: all.filter((n) => n.id !== op.node), after: all.filter((n) => n.id !== op.replaces) };
  }
}

export class Placement {
  /** Range ends, sorted; `ranges[i]` ends at `ends[i]`. */
  private readonly ends: readonly string[];
  readonly ranges: readonly PlacedRange[];

  private constructor(
    readonly epoch: number,
    readonly replicationFactor: number,
    ranges: PlacedRange[],
  ) {
    assert(ranges.length > 0, 'a placement has at least one range');
    this.ranges = Object.freeze(ranges);
    this.ends = ranges.map((r) => r.end);
  }

  /** The placement of a membership's epoch. */
  static of(m: Membership): Placement {
    const { before, after } = ringsOf(m);
    const rf = m.replicationFactor;
    const old = new Ring(before, rf);
    const next = new Ring(after, rf);
    const switched = m.operation?.readsSwitched === true;
    const ends = [...new Set([...before, ...after].map((n) => n.token))].sort(compareKeyStrings);
    const ranges = ends.map((end, i): PlacedRange => {
      // No token lies inside (start, end], so every key of the range has the replicas `end` has on each ring.
      const oldSet = old.replicas(end);
      const newSet = next.replicas(end);
      const reads = switched ? newSet : oldSet;
      const other = switched ? oldSet : newSet;
      const writes = [...reads, ...other.filter((id) => !reads.includes(id))];
      return Object.freeze({
        start: ends[(i + ends.length - 1) % ends.length]!,
        end,
        reads: Object.freeze(reads),
        writes: Object.freeze(writes),
        pending: writes.length - reads.length,
        gaining: Object.freeze(newSet.filter((id) => !oldSet.includes(id))),
      });
    });
    return new Placement(m.epoch, rf, ranges);
  }

  /** The range holding `key`: the first whose end is >= key, wrapping to the first. */
  rangeOf(key: string): PlacedRange {
    const ends = this.ends;
    let lo = 0;
    let hi = ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeyStrings(ends[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return this.ranges[lo === ends.length ? 0 : lo]!;
  }

  /**
   * The range holding `key` as a scan walks the ring in key order, and
   * `end`, the least key after it (exclusive: its token + NUL), or undefined
   * for the keys after the last token, which run to the end of the key space
   * (and belong to the first range).
   */
  walkFrom(key: string): { readonly range: PlacedRange; readonly end: string | undefined } {
    const range = this.rangeOf(key);
    const wrapped = compareKeyStrings(key, this.ends[this.ends.length - 1]!) > 0;
    return { range, end: wrapped ? undefined : `${range.end}\u0000` };
  }

  /** Whether node `id` takes reads of `key`. */
  isReadReplica(key: string, id: number): boolean {
    return this.rangeOf(key).reads.includes(id);
  }
}

/** The placement of a fixed ring (epoch 1, nothing pending): a ring as the cluster file gives it. */
export function bootstrapPlacement(nodes: readonly RingNode[], replicationFactor: number): Placement {
  return Placement.of(replayLog([bootstrapEntry(nodes, replicationFactor)]));
}

/**
 * Whether a request for `key` placed by `then` would reach other replicas,
 * or need another count of them, than under `now`: writes by their write set
 * and pending count, reads by their read set (order aside). A replica
 * refuses a request placed by an older epoch only then; for keys whose
 * range kept its replicas the older placement is as good as the newer one.
 */
export function placedDifferently(then: Placement, now: Placement, key: string, writing: boolean): boolean {
  const a = then.rangeOf(key);
  const b = now.rangeOf(key);
  if (a === b) return false;
  const x = writing ? a.writes : a.reads;
  const y = writing ? b.writes : b.reads;
  if (x.length !== y.length || (writing && a.pending !== b.pending)) return true;
  return !x.every((id) => y.includes(id));
}
