/**
 * The membership's epoch log in the node's SQLite file (the `epochs` table,
 * schema.ts): EpochStorage for a real node.
 */
import { decodeChange, encodeChange, EpochStorage } from '../membership/epoch-log';
import type { EpochEntry } from '../membership/changes';
import { createEpochTables } from './schema';
import { textLiteral } from './sql-literal';
import { Sqlite } from './sqlite';

export class SqliteEpochStore implements EpochStorage {
  private constructor(private readonly db: Sqlite) {}

  /** The store on `db`, making its table when the file lacks it (a file of its own, as tests use). */
  static async open(db: Sqlite): Promise<SqliteEpochStore> {
    await createEpochTables(db);
    return new SqliteEpochStore(db);
  }

  async load(): Promise<EpochEntry[]> {
    const rows = await this.db.all<{ epoch: number; change: string }>('SELECT epoch, change FROM epochs ORDER BY epoch');
    return rows.map((r) => ({ epoch: r.epoch, change: decodeChange(r.change, r.epoch) }));
  }

  append(entries: readonly EpochEntry[]): Promise<void> {
    const script = entries
      .map((e) => `INSERT INTO epochs (epoch, change) VALUES (${e.epoch}, ${textLiteral(encodeChange(e.change))});`)
      .join('\n');
    return this.db.execTransaction(script);
  }
}
