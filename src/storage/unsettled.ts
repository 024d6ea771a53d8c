/**
 * The replica store's marked log rows that are not settled yet, and the
 * settle pointer they allow: the seq just below the oldest of them. Pure
 * bookkeeping, no I/O (ReplicaStore stores the pointer; see its Marks).
 *
 * Rows are noted in seq order (a committed batch at a time, batches in
 * commit order) and settled in any order, so the oldest unsettled row is
 * found by walking a queue of seqs from the front past settled ones.
 */
import { assert } from '../common/assert';

/** Settled seqs walked past at the front before the queue is cut down to what is left. */
const QUEUE_CUT_AFTER = 1024;

export class UnsettledRows {
  /** Marks per unsettled row, by seq. */
  private readonly marks = new Map<number, number>();
  /** Seqs in the order noted, from `head` on. */
  private queue: number[] = [];
  private head = 0;
  /** The last seq noted, to check the order. */
  private last = 0;

  /** One committed batch's marked rows: seq → how many writes marked it. */
  note(rows: ReadonlyMap<number, number>): void {
    // A batch's marks need not be in its rows' order; batches never interleave.
    for (const seq of [...rows.keys()].sort((a, b) => a - b)) {
      assert(seq > this.last, 'rows are noted in seq order');
      this.last = seq;
      this.marks.set(seq, rows.get(seq)!);
      this.queue.push(seq);
    }
  }

  /** One of a row's marks is settled. */
  settle(seq: number): void {
    const n = this.marks.get(seq);
    assert(n !== undefined && n > 0, 'only an unsettled row is settled');
    if (n === 1) this.marks.delete(seq);
    else this.marks.set(seq, n - 1);
  }

  get size(): number {
    return this.marks.size;
  }

  /** The seq just below the oldest unsettled row; `belowNext` (the next seq to come, minus one) when none is. */
  pointer(belowNext: number): number {
    while (this.head < this.queue.length && !this.marks.has(this.queue[this.head]!)) this.head++;
    if (this.head > QUEUE_CUT_AFTER && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return this.head < this.queue.length ? this.queue[this.head]! - 1 : belowNext;
  }
}
