/**
 * A node's replica data: an in-memory map of the newest version of every key,
 * backed by SQLite.
 *
 * Write path (group commit). `apply` resolves each incoming version against
 * the newest one this node knows (committed or still queued); winners join the
 * open batch. One batch at a time is written in a single transaction; its
 * waiters are answered after COMMIT, and only then do its rows become visible
 * to reads. So an acknowledgement always means "durable here", and a read
 * never returns something a crash could take back.
 *
 * The table holds one row per key (INSERT OR REPLACE), so disk use follows the
 * number of live keys, not the number of writes. Deleted keys keep a
 * tombstone row until the grace period has passed (`purgeTombstones`).
 *
 * On start, `open` replays the table into memory before the node serves.
 */
import { assert } from '../common/assert';
import { COMMIT_ROWS_MAX, SQL_ROWS_PER_STATEMENT_MAX } from '../common/limits';
import { blobLiteral, Sqlite } from './sqlite';
import { supersedes, Version } from './version';

export interface KeyedVersion {
  readonly key: string;
  readonly version: Version;
}

interface Batch {
  readonly rows: Map<string, Version>;
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

interface StoredRow {
  key: Buffer;
  value: Buffer;
  ts: number;
  deleted: number;
}

/** A latin1 key or value as an SQL blob literal. */
export function latin1Literal(s: string): string {
  return blobLiteral(Buffer.from(s, 'latin1'));
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody waits on must not raise an unhandled rejection.
  done.catch(() => undefined);
  return { rows: new Map(), done, resolve, reject };
}

export class ReplicaStore {
  private readonly committed = new Map<string, Version>();
  /** Batches not yet committed, oldest first; the last one is open. */
  private readonly queue: Batch[] = [];
  private committing = false;
  private scheduled = false;
  readonly counters = { rowsCommitted: 0, commits: 0, tombstonesPurged: 0 };

  private constructor(private readonly db: Sqlite) {}

  static async open(db: Sqlite): Promise<ReplicaStore> {
    await db.exec(
      `CREATE TABLE IF NOT EXISTS kv (
         key BLOB PRIMARY KEY, value BLOB NOT NULL, ts INTEGER NOT NULL, deleted INTEGER NOT NULL
       ) WITHOUT ROWID`,
    );
    const store = new ReplicaStore(db);
    await db.each<StoredRow>('SELECT key, value, ts, deleted FROM kv', [], (row) => {
      store.committed.set(row.key.toString('latin1'), {
        value: row.value.toString('latin1'),
        ts: row.ts,
        deleted: row.deleted !== 0,
      });
    });
    return store;
  }

  /** The newest durable version of a key. */
  get(key: string): Version | undefined {
    return this.committed.get(key);
  }

  get size(): number {
    return this.committed.size;
  }

  /** Durable versions of keys greater than `after`, in byte order, at most `limit`. */
  scan(after: string | undefined, limit: number): KeyedVersion[] {
    const keys = [...this.committed.keys()].filter((k) => after === undefined || k > after).sort();
    return keys.slice(0, limit).map((key) => ({ key, version: this.committed.get(key)! }));
  }

  /** The newest version known here, including ones still waiting to commit. */
  private latest(key: string): Version | undefined {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const v = this.queue[i]!.rows.get(key);
      if (v !== undefined) return v;
    }
    return this.committed.get(key);
  }

  private openBatch(): Batch {
    let last = this.queue[this.queue.length - 1];
    // The batch being committed is never open: it is always queue[0] while committing.
    if (last === undefined || (this.committing && this.queue.length === 1) || last.rows.size >= COMMIT_ROWS_MAX) {
      last = newBatch();
      this.queue.push(last);
    }
    return last;
  }

  /**
   * Applies versions; resolves once every one of them is durable here (or
   * lost to a newer version that is durable). Rejects if SQLite fails.
   */
  apply(items: readonly KeyedVersion[]): Promise<void> {
    const batch = this.openBatch();
    for (const { key, version } of items) {
      if (supersedes(version, this.latest(key))) this.openBatch().rows.set(key, version);
    }
    // Waiting on the newest batch also covers rows that an older batch holds.
    const waitOn = this.queue[this.queue.length - 1] ?? batch;
    this.schedule();
    return waitOn.done;
  }

  private schedule(): void {
    if (this.scheduled || this.committing) return;
    this.scheduled = true;
    // setImmediate lets every request that arrived in this turn join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.commitLoop();
    });
  }

  private async commitLoop(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue[0]!;
        try {
          await this.write(batch.rows);
        } catch (err) {
          // Later batches were resolved against this one; fail them all.
          const failed = this.queue.splice(0);
          for (const b of failed) b.reject(err as Error);
          return;
        }
        this.queue.shift();
        for (const [key, version] of batch.rows) {
          assert(supersedes(version, this.committed.get(key)) || this.committed.get(key) === version, 'commit order');
          this.committed.set(key, version);
        }
        this.counters.rowsCommitted += batch.rows.size;
        this.counters.commits++;
        batch.resolve();
      }
    } finally {
      this.committing = false;
    }
  }

  private async write(rows: Map<string, Version>): Promise<void> {
    if (rows.size === 0) return;
    const statements: string[] = [];
    let values: string[] = [];
    const flush = (): void => {
      statements.push(`INSERT OR REPLACE INTO kv (key, value, ts, deleted) VALUES ${values.join(',')};`);
      values = [];
    };
    for (const [key, v] of rows) {
      values.push(`(${latin1Literal(key)},${latin1Literal(v.value)},${v.ts},${v.deleted ? 1 : 0})`);
      if (values.length === SQL_ROWS_PER_STATEMENT_MAX) flush();
    }
    if (values.length > 0) flush();
    await this.db.execTransaction(statements.join('\n'));
  }

  /** Drops tombstones older than `cutoffTs` from disk and memory. */
  async purgeTombstones(cutoffTs: number): Promise<number> {
    await this.db.transaction(() => this.db.run('DELETE FROM kv WHERE deleted = 1 AND ts < ?', [cutoffTs]));
    let purged = 0;
    for (const [key, v] of this.committed) {
      // A newer write may have replaced the tombstone meanwhile; keep that.
      if (v.deleted && v.ts < cutoffTs && this.latest(key) === v) {
        this.committed.delete(key);
        purged++;
      }
    }
    this.counters.tombstonesPurged += purged;
    return purged;
  }

  /** Waits for everything queued to be committed (used on shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length > 0) {
      await this.queue[this.queue.length - 1]!.done.catch(() => undefined);
    }
  }
}
