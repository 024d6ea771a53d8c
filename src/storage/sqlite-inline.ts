/**
 * The `inline` driver: the `better-sqlite3` package, which runs each
 * statement on the calling (main) thread and returns when it is done. No
 * hand-off to a worker thread and back: with synchronous NORMAL a commit
 * only writes to the operating system's cache, so running it in place is
 * far cheaper than the hand-off (a QUORUM write's node CPU 133-144 µs with
 * the thread driver, 84-96 µs inline, docs/benchmarks.md). The price is that
 * the event loop waits while a statement runs, which is why FULL (a wait for
 * the disk on every commit) keeps the thread driver by default.
 */
import Database from 'better-sqlite3';
import { assert } from '../common/assert';
import type { BoundStatement, SqlDriver, SqlValue } from './sql-driver';

/** Prepared statements kept for reuse per connection, by their text; the oldest goes first. */
export const PREPARED_STATEMENTS_MAX = 128;
/** How long a statement waits for a lock held by another connection before SQLITE_BUSY (the `sqlite3` package's default too). */
const BUSY_WAIT_MS = 1000;

type Statement = Database.Statement<unknown[], unknown>;

export function openInlineDriver(path: string): Promise<SqlDriver> {
  return settled(() => new InlineDriver(new Database(path, { timeout: BUSY_WAIT_MS })));
}

/** A call run in place, as the promise the driver contract asks for; its error as the thread driver's would be. */
function settled<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (err) {
    return Promise.reject(asThreadDriverError(err));
  }
}

/**
 * better-sqlite3 throws a SqliteError (not a native Error) with SQLite's
 * extended code ("SQLITE_CONSTRAINT_PRIMARYKEY") and a bare message; the
 * `sqlite3` package a native Error with the primary code ("SQLITE_CONSTRAINT")
 * that also leads its message. Callers see the latter from either driver.
 */
function asThreadDriverError(err: unknown): unknown {
  const extended = (err as { code?: unknown } | null)?.code;
  if (!(err instanceof Error) || typeof extended !== 'string' || !extended.startsWith('SQLITE_')) return err;
  const code = extended.split('_', 2).join('_');
  return Object.assign(new Error(`${code}: ${err.message}`), { code, extendedCode: extended });
}

class InlineDriver implements SqlDriver {
  readonly name = 'inline';
  private readonly prepared = new Map<string, { statement: Statement; numbered: boolean }>();

  constructor(private readonly db: Database.Database) {}

  exec(sql: string): Promise<void> {
    // A failed script leaves its transaction open, as the thread driver's does: the caller rolls back.
    return settled(() => {
      this.db.exec(sql);
    });
  }

  change(sql: string, params: SqlValue[]): Promise<number> {
    return settled(() => {
      const { statement, numbered } = this.prepare(sql);
      const args = bindings(params, numbered);
      // A statement that returns rows (a PRAGMA, say) must be stepped with all(); it changes nothing.
      if (statement.reader) {
        statement.all(...args);
        return 0;
      }
      return statement.run(...args).changes;
    });
  }

  all<Row>(sql: string, params: SqlValue[]): Promise<Row[]> {
    return settled(() => {
      const { statement, numbered } = this.prepare(sql);
      const args = bindings(params, numbered);
      if (!statement.reader) {
        statement.run(...args);
        return [];
      }
      return statement.all(...args) as Row[];
    });
  }

  runEach(statements: readonly BoundStatement[]): Promise<void> {
    return settled(() => {
      for (const [sql, params] of statements) {
        const { statement, numbered } = this.prepare(sql);
        statement.run(...bindings(params, numbered));
      }
    });
  }

  close(): Promise<void> {
    return settled(() => {
      this.prepared.clear();
      this.db.close();
    });
  }

  private prepare(sql: string): { statement: Statement; numbered: boolean } {
    const kept = this.prepared.get(sql);
    if (kept !== undefined) return kept;
    const made = { statement: this.db.prepare(sql), numbered: NUMBERED_PARAMETER.test(sql) };
    if (this.prepared.size >= PREPARED_STATEMENTS_MAX) {
      const oldest = this.prepared.keys().next();
      assert(oldest.done !== true, 'a full cache has an oldest statement');
      this.prepared.delete(oldest.value);
    }
    this.prepared.set(sql, made);
    return made;
  }
}

/** `?1`, `?2`…: better-sqlite3 binds these by name, from an object keyed "1", "2"…; plain `?` by position. */
const NUMBERED_PARAMETER = /\?\d/;

/**
 * better-sqlite3 binds every JS number as a REAL, where the `sqlite3` package
 * binds an integral one as an INTEGER; a BigInt keeps it an INTEGER here too,
 * so that a column without affinity, a LIMIT or an integer division sees what
 * it always has.
 */
function bindings(params: readonly SqlValue[], numbered: boolean): unknown[] {
  const values = params.map((v) => (typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v));
  if (!numbered) return values;
  const named: Record<string, unknown> = {};
  for (let i = 0; i < values.length; i++) named[String(i + 1)] = values[i];
  return [named];
}
