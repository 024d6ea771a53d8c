/**
 * Rows waiting for their group commit: every row pushed in one turn is
 * written in one transaction at the next (Time.soon), and `push` resolves
 * once the transaction holding its rows is done. Rows pushed while one is
 * being written wait for it, then go in the next. `push` tells whether its
 * transaction committed (an ANY write counts a hint as its copy only then).
 * The hint stores (SQLite and the simulator's) and the batch log queue
 * theirs here.
 */
import type { Time } from '../clock/time';

export class CommitQueue<T> {
  private pending: T[] = [];
  /** The transaction the rows pushed now go in: its outcome, once written. */
  private group = { durable: true };
  private flushing: Promise<void> | null = null;

  constructor(
    /** Writes one group; resolves with whether it committed. A failure is the writer's to count (the promise should not reject). */
    private readonly write: (rows: T[]) => Promise<boolean>,
    private readonly time: Pick<Time, 'soon'>,
  ) {}

  /** Rows queued and not yet being written. */
  get length(): number {
    return this.pending.length;
  }

  /** Queued rows, for counting. */
  get queued(): readonly T[] {
    return this.pending;
  }

  /** Queues rows; resolves once their transaction is done, with whether it committed. */
  push(rows: readonly T[]): Promise<boolean> {
    for (const r of rows) this.pending.push(r);
    const group = this.group;
    return this.flushSoon().then(() => group.durable);
  }

  private flushSoon(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.pending.length > 0 ? this.flushSoon() : undefined));
    this.flushing = new Promise<void>((resolve) => this.time.soon(resolve))
      .then(() => {
        const rows = this.pending;
        const group = this.group;
        this.pending = [];
        this.group = { durable: true };
        if (rows.length === 0) return undefined;
        return this.write(rows).then((durable) => {
          group.durable = durable;
        });
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  /** Waits until every queued row is written. */
  async flush(): Promise<void> {
    while (this.flushing || this.pending.length > 0) await this.flushSoon();
  }
}
