/**
 * The `thread` driver: the `sqlite3` package, which runs every statement on a
 * libuv worker thread, in order, one at a time. The event loop never waits
 * for SQLite, so a commit that waits for the disk (synchronous FULL) costs
 * the node no time; what every call costs instead is the hand-off to that
 * thread and back (about 30 µs of CPU here, see docs/benchmarks.md).
 */
import sqlite3 from 'sqlite3';
import type { BoundStatement, SqlDriver, SqlValue } from './sql-driver';

export function openThreadDriver(path: string): Promise<SqlDriver> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (err) => (err ? reject(err) : resolve(new ThreadDriver(db))));
  });
}

class ThreadDriver implements SqlDriver {
  readonly name = 'thread';

  constructor(private readonly db: sqlite3.Database) {}

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  change(sql: string, params: SqlValue[]): Promise<number> {
    return new Promise((resolve, reject) =>
      this.db.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve(this.changes);
      }),
    );
  }

  all<Row>(sql: string, params: SqlValue[]): Promise<Row[]> {
    return new Promise((resolve, reject) =>
      this.db.all(sql, params, (err: Error | null, rows: Row[]) => (err ? reject(err) : resolve(rows))),
    );
  }

  /** One trip to the worker thread a statement: the storage gives this driver scripts instead (Sqlite.bindsCheaply). */
  async runEach(statements: readonly BoundStatement[]): Promise<void> {
    for (const [sql, params] of statements) await this.change(sql, params as SqlValue[]);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}
