/**
 * The layout of a node's SQLite file, all of it: the replica store's log and
 * meta rows, the hint store's hints, the membership's epoch log, and the
 * layout number in SQLite's `user_version`. Every table is created with IF NOT EXISTS, so each store
 * can make its own tables on a file of its own (as the unit tests do), and a
 * node's file is checked and made complete once, before either store opens.
 */
import { ConfigError } from '../config/cluster';
import { Sqlite } from './sqlite';

/** The layout number; bump it whenever a table below changes, and add the step from the previous one to MIGRATIONS. */
export const SCHEMA_VERSION = 2;

/**
 * The replica store's tables. `log` holds one row per accepted version,
 * appended in seq order (see replica-store.ts); `stamp` is ts * 2 + deleted.
 * `meta` holds a few named numbers: the largest record ever written and the
 * settle pointer.
 */
const LOG_TABLES = `CREATE TABLE IF NOT EXISTS log (
         seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, stamp INTEGER NOT NULL
       );
       CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`;

/** The hint store's table, read a target at a time in id order. */
const HINT_TABLES = `CREATE TABLE IF NOT EXISTS hints (
         id INTEGER PRIMARY KEY AUTOINCREMENT, target INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
         ts INTEGER NOT NULL, deleted INTEGER NOT NULL, created_ms INTEGER NOT NULL
       );
       CREATE INDEX IF NOT EXISTS hints_by_target ON hints (target, id);`;

/**
 * The membership's epoch log (membership/epoch-log.ts): one row per epoch,
 * the change as JSON text. A handful of rows for the life of a cluster.
 */
const EPOCH_TABLES = `CREATE TABLE IF NOT EXISTS epochs (epoch INTEGER PRIMARY KEY, change TEXT NOT NULL);`;

/**
 * How a file of each older layout becomes the next one, in one transaction
 * each. Layout 1 (before the epoch log) lacks the `epochs` table; the node
 * writes its bootstrap epoch into it at its first start on the new layout.
 */
const MIGRATIONS: ReadonlyMap<number, string> = new Map([[1, EPOCH_TABLES]]);

export function createLogTables(db: Sqlite): Promise<void> {
  return db.exec(LOG_TABLES);
}

export function createHintTables(db: Sqlite): Promise<void> {
  return db.exec(HINT_TABLES);
}

export function createEpochTables(db: Sqlite): Promise<void> {
  return db.exec(EPOCH_TABLES);
}

/** Brings a file of an older layout to SCHEMA_VERSION, one step per transaction; false when no step leads from `version`. */
async function migrate(db: Sqlite, version: number): Promise<boolean> {
  for (let v = version; v < SCHEMA_VERSION; v++) {
    const step = MIGRATIONS.get(v);
    if (step === undefined) return false;
    await db.execTransaction(`${step}\nPRAGMA user_version = ${v + 1};`);
  }
  return true;
}

/** Stamps a new file with SCHEMA_VERSION; refuses (and closes) a file written by another layout. */
async function checkSchemaVersion(db: Sqlite, file: string): Promise<void> {
  const [{ user_version: version }] = await db.all<{ user_version: number }>('PRAGMA user_version');
  const tables = await db.all<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'");
  if (version === 0 && tables[0]!.n === 0) {
    await db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    return;
  }
  if (version !== SCHEMA_VERSION && !(version > 0 && version < SCHEMA_VERSION && (await migrate(db, version)))) {
    await db.close();
    throw new ConfigError(
      `${file} has data layout ${version}, this build reads layout ${SCHEMA_VERSION}; move it away to start this node empty`,
    );
  }
}

/**
 * Makes a node's file ready for its stores: checks its layout (`file` names
 * it in the error) and creates whatever table it lacks.
 */
export async function openSchema(db: Sqlite, file: string): Promise<void> {
  await checkSchemaVersion(db, file);
  await createLogTables(db);
  await createHintTables(db);
  await createEpochTables(db);
}
