/**
 * Marks. A write this node coordinates is applied here with
 * `ReplicaStore.applyMarked`: its row stays "unsettled" until the
 * coordinator calls `settle`, once every other replica has acknowledged the
 * write or has a durable hint for it. Commits store a settle pointer in
 * `meta` (the seq below every unsettled row, at most every
 * SETTLED_SEQ_WRITE_INTERVAL_MS), so after a crash `rowsAfterSettled` lists
 * the keys whose writes may not have reached their other replicas, and the
 * node hints them again. That lets a coordinator answer once the level is
 * reached without waiting for the slowest replica, and still never be the
 * only record of a replica's missing write.
 */
import { systemTime } from '../clock/time';
import { toByteString } from '../common/bytes';
import { UNSETTLED_CHUNK_ROWS } from '../common/limits';
import { Batch } from './group-commit';
import { Stored } from './memtable';
import { readMeta, SETTLED_SEQ } from './meta';
import { Sqlite } from './sqlite';
import { UnsettledRows } from './unsettled';

export class Marks {
  /**
   * Committed rows whose marks are not all settled. As many as the writes this
   * node coordinates that wait on a replica: each settles once that replica
   * answers, or its call fails (the replica's request deadline) and a hint commits.
   */
  private readonly unsettled = new UnsettledRows();
  /** The settle pointer last stored, and when (ms). */
  private storedPointer = -1;
  private storedMs = Number.NEGATIVE_INFINITY;

  private constructor(
    private readonly db: Sqlite,
    /** SETTLED_SEQ_WRITE_INTERVAL_MS; tests set 0 to store the pointer at every commit. */
    private readonly writeIntervalMs: number,
    /** The settle pointer found at open (undefined: the log never had one, so no row was marked). */
    readonly atOpen: number | undefined,
    private readonly nowMs: () => number,
  ) {}

  static async open(db: Sqlite, writeIntervalMs: number, nowMs: () => number = systemTime.nowMs): Promise<Marks> {
    return new Marks(db, writeIntervalMs, await readMeta(db, SETTLED_SEQ), nowMs);
  }

  /** The marked rows of a committed batch become unsettled. */
  noteCommitted(batch: Batch): void {
    const bySeq = new Map<number, number>();
    for (const [key, n] of batch.marks) bySeq.set((batch.rows.get(key) as Stored).seq, n);
    this.unsettled.note(bySeq);
  }

  /** The write that marked row `seq` has reached every replica (or a durable hint): one mark fewer. */
  settle(seq: number): void {
    this.unsettled.settle(seq);
  }

  /** Marked rows not yet settled. */
  get size(): number {
    return this.unsettled.size;
  }

  /**
   * The settle pointer for a commit whose rows start at `firstSeq`, when it
   * is time to store it again: the seq just below the oldest unsettled row,
   * or below this commit's rows when none is unsettled (they are published,
   * and their marks noted, only after the commit).
   */
  pointerToStore(firstSeq: number): number | undefined {
    const pointer = this.unsettled.pointer(firstSeq - 1);
    if (pointer <= this.storedPointer || this.nowMs() - this.storedMs < this.writeIntervalMs) return undefined;
    return pointer;
  }

  /** A commit that stored `pointer` is durable. */
  stored(pointer: number): void {
    this.storedPointer = pointer;
    this.storedMs = this.nowMs();
  }

  /**
   * Keys of the log rows after the settle pointer found at open: writes this
   * node coordinated before it stopped, which may not have reached their
   * other replicas. Rows other nodes' writes put there come too (the log does
   * not say whose a row is); hinting those again does no harm. Empty for a
   * log that never had a pointer.
   */
  async rowsAfterSettled(): Promise<string[]> {
    if (this.atOpen === undefined) return [];
    const keys = new Set<string>();
    let after = this.atOpen;
    for (;;) {
      const rows = await this.db.all<{ seq: number; key: string | Buffer }>('SELECT seq, key FROM log WHERE seq > ? ORDER BY seq LIMIT ?', [
        after,
        UNSETTLED_CHUNK_ROWS,
      ]);
      for (const r of rows) keys.add(typeof r.key === 'string' ? r.key : toByteString(r.key));
      if (rows.length < UNSETTLED_CHUNK_ROWS) return [...keys];
      after = rows[rows.length - 1]!.seq;
    }
  }
}
