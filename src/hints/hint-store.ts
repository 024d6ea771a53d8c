/**
 * Durable hints: versions a coordinator could not deliver to a replica, kept
 * in the node's SQLite file until the replica is back. Rows are appended in
 * group-committed transactions (many hints per COMMIT) and deleted once the
 * target has acknowledged them. Counts per target are kept in memory for the
 * inspector and so delivery knows whom to visit.
 */
import { systemTime, Time } from '../clock/time';
import { toByteString } from '../common/bytes';
import { HINTS_QUEUED_MAX, SQL_ROWS_PER_STATEMENT_MAX } from '../common/limits';
import { ThrottledWarning, WarningOptions } from '../common/warnings';
import { createHintTables } from '../storage/schema';
import { CommitQueue } from '../storage/commit-queue';
import { latin1Literal } from '../storage/sql-literal';
import { Sqlite } from '../storage/sqlite';
import { KeyedVersion } from '../storage/version';

export interface StoredHint extends KeyedVersion {
  readonly id: number;
  readonly createdMs: number;
}

interface HintRow {
  id: number;
  key: Buffer;
  value: Buffer;
  ts: number;
  deleted: number;
  /** A value's expiry (µs), 0 for none. */
  expires: number;
  created_ms: number;
}

interface PendingHint {
  readonly target: number;
  readonly item: KeyedVersion;
  readonly createdMs: number;
}

export class HintStore {
  private readonly counts = new Map<number, number>();
  private readonly pending: CommitQueue<PendingHint>;
  /** Per target: hints delivered, and dropped (see outcomesByTarget). */
  private readonly outcomes = new Map<number, { delivered: number; dropped: number }>();
  readonly counters = { hintsStored: 0, hintsDelivered: 0, hintsDropped: 0, hintWriteErrors: 0 };
  private readonly writeFailures: ThrottledWarning;

  private constructor(
    private readonly db: Sqlite,
    private readonly nowMs: () => number,
    warnings: WarningOptions,
    time: Pick<Time, 'soon'>,
  ) {
    this.pending = new CommitQueue((rows) => this.writePending(rows), time);
    this.writeFailures = new ThrottledWarning(
      'writing hints',
      'those hints are lost, and their writes rely on anti-entropy (counter hintWriteErrors)',
      { nowMs, ...warnings },
    );
  }

  /** `warnings`: where the store tells the write failures that no caller sees, and how often. */
  static async open(
    db: Sqlite,
    nowMs: () => number = systemTime.nowMs,
    warnings: WarningOptions = {},
    time: Pick<Time, 'soon'> = systemTime,
  ): Promise<HintStore> {
    await createHintTables(db);
    const store = new HintStore(db, nowMs, warnings, time);
    const rows = await db.all<{ target: number; n: number }>('SELECT target, COUNT(*) AS n FROM hints GROUP BY target');
    for (const r of rows) store.counts.set(r.target, r.n);
    return store;
  }

  /** Hints delivered and dropped (expired, or refused by a full queue) so far, per target id. */
  outcomesByTarget(): Map<number, { delivered: number; dropped: number }> {
    return new Map([...this.outcomes].map(([target, o]) => [target, { ...o }]));
  }

  private noteOutcome(target: number, delivered: number, dropped: number): void {
    let o = this.outcomes.get(target);
    if (o === undefined) this.outcomes.set(target, (o = { delivered: 0, dropped: 0 }));
    o.delivered += delivered;
    o.dropped += dropped;
  }

  /** Pending hints per target id (queued ones included). */
  countsByTarget(): Map<number, number> {
    return new Map(this.counts);
  }

  count(target: number): number {
    return this.counts.get(target) ?? 0;
  }

  /** Queues hints for `target`; they are written in the next group commit. Resolves with whether they are durable. */
  add(target: number, items: readonly KeyedVersion[]): Promise<boolean> {
    if (this.pending.length + items.length > HINTS_QUEUED_MAX) {
      // The disk is not keeping up; the write has its own outcome, the hint is best effort.
      this.counters.hintsDropped += items.length;
      this.noteOutcome(target, 0, items.length);
      return Promise.resolve(false);
    }
    const createdMs = this.nowMs();
    this.counts.set(target, this.count(target) + items.length);
    this.counters.hintsStored += items.length;
    return this.pending.push(items.map((item) => ({ target, item, createdMs })));
  }

  private async writePending(rows: PendingHint[]): Promise<boolean> {
    try {
      const statements: string[] = [];
      for (let i = 0; i < rows.length; i += SQL_ROWS_PER_STATEMENT_MAX) {
        const values = rows.slice(i, i + SQL_ROWS_PER_STATEMENT_MAX).map((h) => {
          const v = h.item.version;
          return `(${h.target},${latin1Literal(h.item.key)},${latin1Literal(v.value)},${v.ts},${v.deleted ? 1 : 0},${v.expires ?? 0},${h.createdMs})`;
        });
        statements.push(`INSERT INTO hints (target, key, value, ts, deleted, expires, created_ms) VALUES ${values.join(',')};`);
      }
      await this.db.execTransaction(statements.join('\n'));
      return true;
    } catch (err) {
      // A hint is best effort: the write it belongs to has its own outcome (an ANY write learns it failed).
      for (const h of rows) this.counts.set(h.target, Math.max(0, this.count(h.target) - 1));
      this.counters.hintWriteErrors += rows.length;
      this.writeFailures.failed(err);
      return false;
    }
  }

  /** Waits until every queued hint is on disk. */
  flush(): Promise<void> {
    return this.pending.flush();
  }

  /** The oldest hints for `target` with id > afterId, at most `limit`. */
  async next(target: number, afterId: number, limit: number): Promise<StoredHint[]> {
    await this.flush();
    const rows = await this.db.all<HintRow>(
      'SELECT id, key, value, ts, deleted, expires, created_ms FROM hints WHERE target = ? AND id > ? ORDER BY id LIMIT ?',
      [target, afterId, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      key: toByteString(r.key),
      version: { value: toByteString(r.value), ts: r.ts, deleted: r.deleted !== 0, ...(r.expires > 0 ? { expires: r.expires } : {}) },
      createdMs: r.created_ms,
    }));
  }

  /**
   * Removes hints once delivered (or dropped). Counts only rows really
   * deleted: expire() may have removed some of a batch while it was in flight.
   */
  async remove(target: number, ids: readonly number[], delivered: boolean): Promise<void> {
    if (ids.length === 0) return;
    const removed = await this.db.transaction(async () => {
      let n = 0;
      for (let i = 0; i < ids.length; i += SQL_ROWS_PER_STATEMENT_MAX) {
        const chunk = ids.slice(i, i + SQL_ROWS_PER_STATEMENT_MAX) as number[];
        n += await this.db.change(`DELETE FROM hints WHERE id IN (${chunk.map(() => '?').join(',')})`, chunk);
      }
      return n;
    });
    this.counts.set(target, Math.max(0, this.count(target) - removed));
    if (delivered) this.counters.hintsDelivered += removed;
    else this.counters.hintsDropped += removed;
    this.noteOutcome(target, delivered ? removed : 0, delivered ? 0 : removed);
  }

  /** Drops every hint created before `cutoffMs`; returns how many. */
  async expire(cutoffMs: number): Promise<number> {
    await this.flush();
    const rows = await this.db.all<{ target: number; n: number }>(
      'SELECT target, COUNT(*) AS n FROM hints WHERE created_ms < ? GROUP BY target',
      [cutoffMs],
    );
    if (rows.length === 0) return 0;
    await this.db.transaction(() => this.db.run('DELETE FROM hints WHERE created_ms < ?', [cutoffMs]));
    let dropped = 0;
    for (const r of rows) {
      this.counts.set(r.target, Math.max(0, this.count(r.target) - r.n));
      this.noteOutcome(r.target, 0, r.n);
      dropped += r.n;
    }
    this.counters.hintsDropped += dropped;
    return dropped;
  }
}
