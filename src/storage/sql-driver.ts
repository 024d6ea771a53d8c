/** What a SQLite driver does for `Sqlite` (storage/sqlite.ts); sqlite-inline.ts and sqlite-thread.ts are the two. */
export type SqlValue = number | string | Buffer | null;

/**
 * `inline` runs statements on the node's main thread (better-sqlite3);
 * `thread` on a worker thread (sqlite3). See docs/ARCHITECTURE.md, Which thread runs SQLite.
 */
export type SqliteDriverName = 'inline' | 'thread';

/** A statement with its parameters. */
export type BoundStatement = readonly [sql: string, params: readonly SqlValue[]];

/** What a driver does; the transactions and their order are Sqlite's. */
export interface SqlDriver {
  readonly name: SqliteDriverName;
  exec(sql: string): Promise<void>;
  /** Runs one statement; resolves with the number of rows it changed. */
  change(sql: string, params: SqlValue[]): Promise<number>;
  all<Row>(sql: string, params: SqlValue[]): Promise<Row[]>;
  /** Runs each statement with its parameters, in order (the caller wraps them in a transaction). */
  runEach(statements: readonly BoundStatement[]): Promise<void>;
  close(): Promise<void>;
}
