/**
 * The replica store's `meta` rows (see schema.ts): a few named numbers that
 * ride in the log's own commits, so they are always as durable as the rows
 * they describe.
 */
import type { NodeMeta } from './replica-storage';
import { Sqlite } from './sqlite';

/** The `meta` row holding the largest key plus value ever written, in characters. */
export const LARGEST_RECORD = 'largest_record_chars';
/**
 * The `meta` row holding when the node was last known alive (wall-clock ms,
 * stored every ALIVE_WRITE_INTERVAL_MS): at start, how long it was down
 * tells whether hints covered the outage (see repair/repairer.ts, catching up).
 */
export const ALIVE_AT = 'alive_at_ms';
/** The `meta` row holding when this node last completed a full repair of all its ranges (wall-clock ms). */
export const LAST_FULL_REPAIR = 'last_full_repair_ms';
/** The `meta` row holding the settle pointer (see marks.ts). */
export const SETTLED_SEQ = 'settled_seq';

/** The statement that sets a `meta` row, to join a commit's script. */
export function setMeta(name: string, value: number): string {
  return `INSERT INTO meta (name, value) VALUES ('${name}', ${value}) ON CONFLICT (name) DO UPDATE SET value = excluded.value;`;
}

export async function readMeta(db: Sqlite, name: string): Promise<number | undefined> {
  const [row] = await db.all<{ value: number }>('SELECT value FROM meta WHERE name = ?', [name]);
  return row?.value;
}

/** The node's named numbers (NodeMeta) in the `meta` table, each write its own transaction. */
export class SqliteNodeMeta implements NodeMeta {
  constructor(private readonly db: Sqlite) {}

  read(name: string): Promise<number | undefined> {
    return readMeta(this.db, name);
  }

  write(name: string, value: number): Promise<void> {
    return this.db.execTransaction(setMeta(name, value));
  }
}

/**
 * The largest key plus value the log has ever held, from `meta`; a log
 * written before `meta` existed is measured once (one pass over it) and the
 * answer stored.
 */
export async function largestRecordChars(db: Sqlite): Promise<number> {
  const known = await readMeta(db, LARGEST_RECORD);
  if (known !== undefined) return known;
  const [measured] = await db.all<{ chars: number | null }>('SELECT MAX(octet_length(key) + octet_length(value)) AS chars FROM log');
  const chars = measured?.chars ?? 0;
  await db.execTransaction(setMeta(LARGEST_RECORD, chars));
  return chars;
}
