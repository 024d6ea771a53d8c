/**
 * Hints waiting for their group commit: every hint added in one turn is
 * written in one transaction at the next (Time.soon), and `push` resolves
 * once the transaction holding its hints is done. Hints added while one is
 * being written wait for it, then go in the next. Shared by the SQLite hint
 * store and the simulator's.
 */
import type { Time } from '../clock/time';

export class HintQueue<T> {
  private pending: T[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    /** Writes one group; a failure is the writer's to count (the promise should not reject). */
    private readonly write: (rows: T[]) => Promise<void>,
    private readonly time: Pick<Time, 'soon'>,
  ) {}

  /** Hints queued and not yet being written. */
  get length(): number {
    return this.pending.length;
  }

  /** Queued rows, for counting. */
  get queued(): readonly T[] {
    return this.pending;
  }

  push(rows: readonly T[]): Promise<void> {
    for (const r of rows) this.pending.push(r);
    return this.flushSoon();
  }

  private flushSoon(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.pending.length > 0 ? this.flushSoon() : undefined));
    this.flushing = new Promise<void>((resolve) => this.time.soon(resolve))
      .then(() => {
        const rows = this.pending;
        this.pending = [];
        return rows.length === 0 ? undefined : this.write(rows);
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  /** Waits until every queued hint is written. */
  async flush(): Promise<void> {
    while (this.flushing || this.pending.length > 0) await this.flushSoon();
  }
}
