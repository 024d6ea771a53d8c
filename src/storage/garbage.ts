/**
 * The seqs of log rows that hold superseded versions, waiting for compaction
 * to delete them. Pure bookkeeping, no I/O (ReplicaStore deletes the rows).
 *
 * Compaction deletes rows in seq order, so that each transaction rewrites
 * one stretch of the table's pages. Sorting every seq at once would stop the
 * node for as long as the sort takes (about 140 ms for 500,000 seqs, with a
 * benchmark running), so seqs are kept in buckets of GARBAGE_BUCKET_SEQS
 * consecutive seqs: compaction sorts the few bucket numbers, then one small
 * bucket at a time. A bucket holds each seq as its 2-byte offset from the
 * bucket's first seq, so the list of a node holding a million keys, which
 * may grow to a million seqs before compaction comes, costs about 2 MB, not
 * 8 or more.
 */
import { assert } from '../common/assert';
import { GARBAGE_BUCKET_SEQS } from '../common/limits';

assert(GARBAGE_BUCKET_SEQS <= 2 ** 16, 'a bucket offset fits in 16 bits');

/** Offsets a new bucket has room for before it grows. */
const BUCKET_INITIAL_OFFSETS = 16;

interface Bucket {
  offsets: Uint16Array;
  n: number;
}

export class GarbageRows {
  /** Buckets by number (seq / GARBAGE_BUCKET_SEQS, rounded down). */
  private buckets = new Map<number, Bucket>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(seq: number): void {
    const b = Math.floor(seq / GARBAGE_BUCKET_SEQS);
    let bucket = this.buckets.get(b);
    if (bucket === undefined) {
      bucket = { offsets: new Uint16Array(BUCKET_INITIAL_OFFSETS), n: 0 };
      this.buckets.set(b, bucket);
    } else if (bucket.n === bucket.offsets.length) {
      // A row is superseded once, so a bucket never holds more than GARBAGE_BUCKET_SEQS offsets.
      const grown = new Uint16Array(Math.min(2 * bucket.n, GARBAGE_BUCKET_SEQS));
      assert(grown.length > bucket.n, 'a seq joins the garbage list only once');
      grown.set(bucket.offsets);
      bucket.offsets = grown;
    }
    bucket.offsets[bucket.n++] = seq - b * GARBAGE_BUCKET_SEQS;
    this.count++;
  }

  /**
   * Takes every seq held, leaving none: yields them in ascending runs, one
   * bucket at a time, each sorted as it is reached. Seqs added meanwhile stay
   * for the next take.
   */
  *take(): Generator<number[]> {
    const taken = this.buckets;
    this.buckets = new Map();
    this.count = 0;
    for (const b of [...taken.keys()].sort((x, y) => x - y)) {
      const { offsets, n } = taken.get(b)!;
      const base = b * GARBAGE_BUCKET_SEQS;
      yield Array.from(offsets.subarray(0, n).sort(), (off) => base + off);
    }
  }
}
