/**
 * One SQLite connection behind a small promise API, whichever driver runs it
 * (sqlite-inline.ts or sqlite-thread.ts, the only files that talk to one).
 * Either runs statements in the order they are issued, so statements issued
 * one after another on this connection apply in that order.
 */
import { storageFull } from '../common/errors';
import { openInlineDriver } from './sqlite-inline';
import { openThreadDriver } from './sqlite-thread';
import type { BoundStatement, SqlDriver, SqliteDriverName, SqlValue } from './sql-driver';

export type { BoundStatement, SqlValue, SqliteDriverName } from './sql-driver';

export class Sqlite {
  /** Tail of the chain that runs transactions one at a time. */
  private lastTransaction: Promise<unknown> = Promise.resolve();

  private constructor(private readonly db: SqlDriver) {}

  get driver(): SqliteDriverName {
    return this.db.name;
  }

  /**
   * Runs a script of statements in one transaction, in one call to the
   * driver per piece (see SQL_SCRIPT_PIECE_BYTES: a string of more than
   * 128 KB costs V8 far more per byte than a few smaller ones). On failure
   * the transaction is rolled back and the error re-thrown.
   */
  execTransaction(script: string | readonly string[]): Promise<void> {
    const pieces = typeof script === 'string' ? [script] : script;
    return this.serially(async () => {
      try {
        // BEGIN and COMMIT ride with the first and last pieces: a commit of one piece stays one call.
        const last = pieces.length - 1;
        for (let i = 0; i <= last; i++) await this.exec(`${i === 0 ? 'BEGIN;\n' : ''}${pieces[i]}${i === last ? '\nCOMMIT;' : ''}`);
        if (last < 0) await this.exec('BEGIN;\nCOMMIT;');
      } catch (err) {
        await this.run('ROLLBACK').catch(() => undefined); // fails harmlessly if BEGIN did not run
        throw err;
      }
    });
  }

  /**
   * Runs bound statements in one transaction, then `tail` (a script, may be
   * empty) before the COMMIT; on failure rolls back and re-throws. Cheap on
   * the inline driver only, where a bound statement is one call in place; the
   * thread driver pays a trip per statement (see bindsCheaply).
   */
  runTransaction(statements: readonly BoundStatement[], tail = ''): Promise<void> {
    return this.transaction(async () => {
      await this.db.runEach(statements);
      if (tail !== '') await this.exec(tail);
    });
  }

  /**
   * Whether bound statements cost less than a script spelling the same
   * values as literals: true inline, where binding copies a value once and
   * nothing is parsed per row; false for the thread driver, where each
   * statement is a trip to its thread and a script is one.
   */
  get bindsCheaply(): boolean {
    return this.db.name === 'inline';
  }

  /**
   * Runs `body` inside BEGIN…COMMIT (ROLLBACK if it throws). The replica
   * store and the hint store share this connection, and SQLite has one
   * transaction per connection, so transactions queue here one after another.
   * Every write goes through this, runTransaction or execTransaction; reads may run at any time.
   */
  transaction<T>(body: () => Promise<T>): Promise<T> {
    return this.serially(async () => {
      await this.run('BEGIN');
      try {
        const result = await body();
        await this.run('COMMIT');
        return result;
      } catch (err) {
        await this.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.lastTransaction.then(work, work);
    this.lastTransaction = result.catch(() => undefined);
    return result;
  }

  /** Opens (or creates) the database file at `path`, or `:memory:`, with the given driver. */
  static async open(path: string, driver: SqliteDriverName = 'inline'): Promise<Sqlite> {
    return new Sqlite(await (driver === 'inline' ? openInlineDriver(path) : openThreadDriver(path)));
  }

  exec(sql: string): Promise<void> {
    return this.db.exec(sql);
  }

  async run(sql: string, params: SqlValue[] = []): Promise<void> {
    await this.db.change(sql, params);
  }

  /** Runs one statement; resolves with the number of rows it changed. */
  change(sql: string, params: SqlValue[] = []): Promise<number> {
    return this.db.change(sql, params);
  }

  all<Row>(sql: string, params: SqlValue[] = []): Promise<Row[]> {
    return this.db.all<Row>(sql, params);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/**
 * A failed write as callers should see it: SQLite's SQLITE_FULL (disk or
 * quota full) becomes the typed StorageFull; anything else stays as it is.
 */
export function writeFailure(err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL') return storageFull((err as Error).message);
  return err instanceof Error ? err : new Error(String(err));
}
