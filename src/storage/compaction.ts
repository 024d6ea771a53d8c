/**
 * Compaction and tombstone purge: deleting the log rows nothing needs any
 * more. Memory knows each key's current row, so a superseded row's seq
 * joins the garbage list when its successor commits, and a compaction
 * deletes those rows once they number as many as the live ones (see
 * COMPACT_GARBAGE_PER_LIVE_ROW): disk use follows the number of live keys,
 * not the number of writes. A deleted key keeps its tombstone row until the
 * grace period has passed; then `purgeTombstones` drops it.
 */
import { COMPACT_CHUNK_ROWS, COMPACT_GARBAGE_PER_LIVE_ROW, COMPACT_GARBAGE_ROWS_MIN, SQL_ROWS_PER_STATEMENT_MAX } from '../common/limits';
import { ThrottledWarning, WarningOptions } from '../common/warnings';
import { GarbageRows } from './garbage';
import { KeyedRow, Memtable } from './memtable';
import { Sqlite } from './sqlite';

/** Whether a log holding `garbageRows` superseded rows beside `liveRows` current ones is due a compaction. */
export function compactionDue(garbageRows: number, liveRows: number): boolean {
  return garbageRows >= Math.max(COMPACT_GARBAGE_ROWS_MIN, liveRows * COMPACT_GARBAGE_PER_LIVE_ROW);
}

/** DELETE statements for log rows, SQL_ROWS_PER_STATEMENT_MAX seqs each. */
function deleteBySeq(seqs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < seqs.length; i += SQL_ROWS_PER_STATEMENT_MAX) {
    out.push(`DELETE FROM log WHERE seq IN (${seqs.slice(i, i + SQL_ROWS_PER_STATEMENT_MAX).join(',')});`);
  }
  return out.join('\n');
}

/** The store's counters that compaction and purge move. */
export interface CompactionCounters {
  /** Compactions started (each deletes the whole garbage list, in chunks). */
  compactions: number;
  rowsCompacted: number;
  tombstonesPurged: number;
  compactionFailures: number;
}

export class Compactor {
  /** The compaction in progress, if any. */
  private running: Promise<number> | null = null;
  /** The highest seq of a tombstone row purged (0: none yet), for the change feed (ReplicaStore.purgedSeqMax). */
  purgedSeqMax = 0;
  private readonly failures: ThrottledWarning;

  constructor(
    private readonly db: Sqlite,
    private readonly committed: Memtable,
    private readonly garbage: GarbageRows,
    private readonly counters: CompactionCounters,
    /** Whether a newer version of the key waits to commit. */
    private readonly isQueued: (key: string) => boolean,
    warnings: WarningOptions,
    /** Runs a function after the current turn's I/O (Time.soon). */
    private readonly soon: (fn: () => void) => void,
  ) {
    this.failures = new ThrottledWarning(
      'compaction of the log',
      'the rows it did not delete wait for the next one (counter compactionFailures)',
      warnings,
    );
  }

  /** Starts a compaction in the background if none runs and enough garbage has gathered. */
  compactIfDue(): void {
    // A failure is counted and told where it happens (deleteGarbage).
    if (this.running === null && compactionDue(this.garbage.size, this.committed.size)) void this.compact().catch(() => undefined);
  }

  /**
   * Deletes the log rows of superseded versions. Seqs are deleted in
   * ascending order, which walks the table's pages front to back, in
   * transactions of COMPACT_CHUNK_ROWS: each chunk covers its own stretch of
   * the log, and the commits queued meanwhile run between chunks.
   */
  async compact(): Promise<number> {
    // One at a time; a caller that comes during one waits for it, then deletes what is left.
    while (this.running !== null) await this.running.catch(() => 0);
    if (this.garbage.size === 0) return 0;
    this.counters.compactions++;
    this.running = this.deleteGarbage().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async deleteGarbage(): Promise<number> {
    const runs = this.garbage.take();
    let deleted = 0;
    for (const seqs of runs) {
      for (let done = 0; done < seqs.length; done += COMPACT_CHUNK_ROWS) {
        const chunk = seqs.slice(done, done + COMPACT_CHUNK_ROWS);
        try {
          await this.db.execTransaction(deleteBySeq(chunk));
        } catch (err) {
          // Whatever was not deleted waits for the next compaction.
          for (const seq of seqs.slice(done)) this.garbage.add(seq);
          for (const rest of runs) for (const seq of rest) this.garbage.add(seq);
          this.counters.compactionFailures++;
          this.failures.failed(err);
          throw err;
        }
        deleted += chunk.length;
        this.counters.rowsCompacted += chunk.length;
        // Let the turn end between chunks, so that queued commits and requests run. With the inline
        // driver a transaction's promise is already settled, and awaiting one does not end the turn:
        // without this a compaction held its node from first chunk to last (write p99.9 200 ms, against 40).
        await new Promise<void>((resolve) => this.soon(resolve));
      }
    }
    return deleted;
  }

  /**
   * Drops keys from disk and memory without a tombstone (a cleanup's keys,
   * of ranges this node no longer replicates): each key's current row, if
   * `rows` still names it and no newer write waits to commit. Garbage is
   * compacted first, as for a tombstone purge: no older row of a dropped
   * key may be left in the log for a replay to bring back. Returns the
   * rows dropped.
   */
  async dropRows(rows: readonly KeyedRow[]): Promise<KeyedRow[]> {
    if (rows.length === 0) return [];
    await this.compact();
    // A key written since it was listed has new garbage (its listed row) that this compaction did not see: it stays.
    const dropped = rows.filter(({ key, seq }) => this.committed.seqOf(key) === seq && !this.isQueued(key));
    if (dropped.length === 0) return [];
    await this.db.execTransaction(deleteBySeq(dropped.map((r) => r.seq)));
    // Only if the row is still the key's current one (no newer write committed meanwhile).
    const gone = dropped.filter(({ key, seq }) => this.committed.seqOf(key) === seq);
    for (const { key } of gone) this.committed.delete(key);
    return gone;
  }

  /**
   * Drops tombstones older than `cutoffTs` from disk and memory. Garbage is
   * compacted first: once the tombstone row is gone, no older row of its key
   * may be left in the log for a replay to bring back.
   */
  async purgeTombstones(cutoffTs: number): Promise<number> {
    // Nothing old enough: no compaction needed (a restarted node carrying a
    // long garbage list would otherwise wait for all of it).
    if (this.committed.tombstonesBefore(cutoffTs).length === 0) return 0;
    await this.compact();
    // A newer write may be queued for a key; then its tombstone becomes garbage instead.
    const purged = this.committed.tombstonesBefore(cutoffTs).filter(({ key }) => !this.isQueued(key));
    if (purged.length === 0) return 0;
    await this.db.execTransaction(deleteBySeq(purged.map((p) => p.seq)));
    for (const { seq } of purged) if (seq > this.purgedSeqMax) this.purgedSeqMax = seq;
    // Only if the row is still the key's current one (no newer write committed meanwhile).
    for (const { key, seq } of purged) if (this.committed.seqOf(key) === seq) this.committed.delete(key);
    this.counters.tombstonesPurged += purged.length;
    return purged.length;
  }
}
