/**
 * The layout of a node's SQLite file, all of it: the replica store's log and
 * meta rows, the hint store's hints, the membership's epoch log, the batch log, and the
 * layout number in SQLite's `user_version`. Every table is created with IF NOT EXISTS, so each store
 * can make its own tables on a file of its own (as the unit tests do), and a
 * node's file is checked and made complete once, before either store opens.
 */
import { ConfigError } from '../config/cluster';
import { Sqlite } from './sqlite';

/**
 * The layout number; bump it whenever a table below changes, and say in
 * MIGRATIONS how a file of the previous layout becomes this one.
 * 2: the paxos table; 3: `expires` on log and hints; 4: the membership's epochs table;
 * 5: the batch log; 6: the batch log's copies of other coordinators' batches.
 */
export const SCHEMA_VERSION = 6;

/**
 * The replica store's tables. `log` holds one row per accepted version,
 * appended in seq order (see replica-store.ts); `stamp` is ts * 2 + deleted;
 * `expires` a value's expiry in µs (TTL), 0 for none.
 * `meta` holds a few named numbers: the largest record ever written and the
 * settle pointer.
 */
const LOG_TABLES = `CREATE TABLE IF NOT EXISTS log (
         seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, stamp INTEGER NOT NULL,
         expires INTEGER NOT NULL DEFAULT 0
       );
       CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`;

/** The hint store's table, read a target at a time in id order. */
const HINT_TABLES = `CREATE TABLE IF NOT EXISTS hints (
         id INTEGER PRIMARY KEY AUTOINCREMENT, target INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
         ts INTEGER NOT NULL, deleted INTEGER NOT NULL, created_ms INTEGER NOT NULL,
         expires INTEGER NOT NULL DEFAULT 0
       );
       CREATE INDEX IF NOT EXISTS hints_by_target ON hints (target, id);`;

/**
 * The membership's epoch log (membership/epoch-log.ts): one row per epoch,
 * the change as JSON text. A handful of rows for the life of a cluster.
 */
const EPOCH_TABLES = `CREATE TABLE IF NOT EXISTS epochs (epoch INTEGER PRIMARY KEY, change TEXT NOT NULL);`;

/**
 * Compare-and-set's Paxos state (paxos/paxos-store.ts), one row per key that
 * has any: the acceptor state as JSON, whether a proposal is in progress, and
 * the newest ballot's timestamp (µs), which the cleanup sweep selects by.
 */
const PAXOS_TABLES = `CREATE TABLE IF NOT EXISTS paxos (
         key BLOB PRIMARY KEY, state TEXT NOT NULL, in_progress INTEGER NOT NULL, newest_us INTEGER NOT NULL
       );
       CREATE INDEX IF NOT EXISTS paxos_by_age ON paxos (in_progress, newest_us);`;

/**
 * The batch log (storage/batch-log.ts): one row per logged batch that has
 * not reached every key's level yet, its writes encoded in `body`
 * (storage/batch-log.ts, encodeBatch). Deleted once written; a few rows at
 * most in the common case. A copy of a batch another node coordinates names
 * that node (`owner`) and the batch's id in its log (`owner_batch`); both
 * are NULL for the node's own batches.
 */
const BATCH_TABLES = `CREATE TABLE IF NOT EXISTS batches (
         id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL, body BLOB NOT NULL, owner INTEGER, owner_batch INTEGER
       );`;

/**
 * How a file of layout N - 1 becomes layout N, for each N after 1: the
 * statements, run in one transaction with the new layout number, so that a
 * crash leaves the old layout or the new one, never half of it. Each only
 * adds, so that a node's log keeps replaying across upgrades.
 */
const MIGRATIONS: Readonly<Record<number, (db: Sqlite) => Promise<string>>> = {
  2: async () => PAXOS_TABLES, // compare-and-set's Paxos state
  3: expiresColumns, // TTL
  4: async () => EPOCH_TABLES, // the membership's epoch log; the node stores its bootstrap epoch at its next start
  5: async () => BATCH_TABLES, // logged batches
  6: batchCopyColumns, // copies of other coordinators' batches
};

/**
 * Layout 2 to 3: an `expires` column on log and hints, 0 (no expiry) for
 * every row there is. ADD COLUMN with a constant default rewrites nothing,
 * so even a large log migrates at once. A table the file does not have yet
 * is made later, whole.
 */
async function expiresColumns(db: Sqlite): Promise<string> {
  const has = async (table: string): Promise<boolean> =>
    (await db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '${table}'`))[0]!.n > 0;
  const steps: string[] = [];
  for (const table of ['log', 'hints']) {
    if (await has(table)) steps.push(`ALTER TABLE ${table} ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;`);
  }
  return steps.join('\n');
}

/**
 * Layout 5 to 6: `owner` and `owner_batch` on the batch log, NULL (the
 * node's own batch) for every row there is. A file of layout 4 made the
 * table at step 5 with them already.
 */
async function batchCopyColumns(db: Sqlite): Promise<string> {
  const columns = await db.all<{ name: string }>('PRAGMA table_info(batches)');
  if (columns.length === 0 || columns.some((c) => c.name === 'owner')) return '';
  return 'ALTER TABLE batches ADD COLUMN owner INTEGER;\nALTER TABLE batches ADD COLUMN owner_batch INTEGER;';
}

export function createLogTables(db: Sqlite): Promise<void> {
  return db.exec(LOG_TABLES);
}

export function createHintTables(db: Sqlite): Promise<void> {
  return db.exec(HINT_TABLES);
}

export function createPaxosTables(db: Sqlite): Promise<void> {
  return db.exec(PAXOS_TABLES);
}

export function createEpochTables(db: Sqlite): Promise<void> {
  return db.exec(EPOCH_TABLES);
}

export function createBatchTables(db: Sqlite): Promise<void> {
  return db.exec(BATCH_TABLES);
}

/** Brings a file of an older layout up to SCHEMA_VERSION, one step at a time, each in a transaction with its new number. */
async function migrate(db: Sqlite, from: number): Promise<void> {
  for (let v = from + 1; v <= SCHEMA_VERSION; v++) {
    await db.execTransaction(`${await MIGRATIONS[v]!(db)}\nPRAGMA user_version = ${v};`);
  }
}

/** Stamps a new file with SCHEMA_VERSION, migrates an older layout, refuses (and closes) a file of another. */
async function checkSchemaVersion(db: Sqlite, file: string): Promise<void> {
  const [{ user_version: version }] = await db.all<{ user_version: number }>('PRAGMA user_version');
  const tables = await db.all<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'");
  if (version === 0 && tables[0]!.n === 0) {
    await db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    return;
  }
  if (version >= 1 && version < SCHEMA_VERSION) {
    await migrate(db, version);
    return;
  }
  if (version !== SCHEMA_VERSION) {
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
  await createPaxosTables(db);
  await createEpochTables(db);
  await createBatchTables(db);
}
