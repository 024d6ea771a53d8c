/**
 * Replay: a node that starts reads its whole log into memory before it
 * serves, newest row first. A row superseded but not yet compacted when the
 * node died loses to its successor here and goes back on the garbage list.
 */
import { assert } from '../common/assert';
import { REPLAY_CHUNK_CHARS, REPLAY_CHUNK_ROWS } from '../common/limits';
import { GarbageRows } from './garbage';
import { Memtable, storedVersion } from './memtable';
import { Sqlite } from './sqlite';
import { supersedes } from './version';

/**
 * A log row as replay reads it: seq, key, value, stamp, and the expiry when
 * the row has one. A value stored as a BLOB comes as its length: its bytes
 * are in the chunk's `blobs`, in row order.
 */
type ReplayRow = [number, string, string | number, number, number?];
/** A log row as the chunk's JSON has it: a BLOB key comes as its length too. */
type ReplayJsonRow = [number, string | number, string | number, number, number?];

/** A replay chunk: its rows newest first, the bytes of their BLOB values one after another, its lowest seq. */
interface ReplayChunk {
  readonly rows: ReplayRow[];
  readonly blobs: Buffer;
  readonly lowestSeq: number;
}

const NO_BYTES = Buffer.alloc(0);

/** A TEXT column as itself, a BLOB one as its length (its bytes come beside the JSON). */
const textOrLength = (column: string): string => `CASE WHEN typeof(${column}) = 'blob' THEN length(${column}) ELSE ${column} END`;
/**
 * A column's BLOBs in the chunk's rows, in row order, concatenated: SQLite
 * joins BLOBs as text and casts the result back without changing a byte.
 */
const joinedBlobs = (column: string): string => `CAST(group_concat(CASE WHEN typeof(${column}) = 'blob' THEN ${column} END, '') AS BLOB)`;

/** The aggregates of a replay chunk's query: the rows as JSON (ReplayRow), the BLOB keys and the BLOB values. */
const REPLAY_COLUMNS = `json_group_array(CASE WHEN expires = 0
         THEN json_array(seq, ${textOrLength('key')}, ${textOrLength('value')}, stamp)
         ELSE json_array(seq, ${textOrLength('key')}, ${textOrLength('value')}, stamp, expires) END) AS rows,
       ${joinedBlobs('key')} AS keyBlobs, ${joinedBlobs('value')} AS blobs`;

/** Puts each BLOB key of `rows` (given as its length) in its place as a latin1 string, from `keyBlobs`. */
function placeBlobKeys(rows: ReplayJsonRow[], keyBlobs: Buffer): ReplayRow[] {
  let at = 0;
  for (const row of rows) {
    const key = row[1];
    if (typeof key !== 'number') continue;
    row[1] = keyBlobs.toString('latin1', at, at + key);
    at += key;
  }
  assert(at === keyBlobs.length, "every byte of a chunk's BLOB keys belongs to one of its rows");
  return rows as ReplayRow[];
}

/**
 * The next log rows before `beforeSeq`, newest first: REPLAY_CHUNK_ROWS of
 * them, or proportionally fewer when those hold more than REPLAY_CHUNK_CHARS
 * of keys and values (a log of large values is read a few rows at a time).
 * With `small` (no row of the log was ever large enough for that) the
 * measuring is skipped: it costs a second pass over each chunk, about a
 * fifth of a replay. Exported for tests.
 *
 * Newest first, because a key's rows are appended in version order (a row
 * is only ever written for a version that beats the one before it): the
 * first row of a key that a replay meets is its current one, and older rows
 * go straight to the garbage list instead of into memory and out again.
 * A million keys with as many superseded rows replayed in 2.2-2.5 s and
 * 263-273 MB (in a process of their own), against 3.3-3.5 s and 310-313 MB
 * oldest first.
 *
 * SQLite hands the rows over as one JSON array, parsed here in one call,
 * instead of the driver making an object with four fields per row: a million
 * rows of 100-byte ASCII values replay in 1.9 s against 3.0-3.4 s. TEXT
 * keys and values hold one code point per byte, which JSON carries exactly
 * (NUL and other control characters as escapes). Keys and values stored as
 * BLOBs (see bytesLiteral) come beside the JSON, one Buffer for each column.
 */
export async function replayChunk(db: Sqlite, beforeSeq: number, small = false): Promise<ReplayChunk> {
  // One statement, so that SQLite works on the next chunk while this one is applied (thread driver).
  const sql = small
    ? `SELECT ${REPLAY_COLUMNS}, MIN(seq) AS lowestSeq
         FROM (SELECT seq, key, value, stamp, expires FROM log WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2)`
    : `WITH next AS (SELECT seq, key, value, stamp, expires FROM log WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2),
            size AS (SELECT COUNT(*) AS n, COALESCE(SUM(octet_length(key) + octet_length(value)), 0) AS chars FROM next)
       SELECT ${REPLAY_COLUMNS}, MIN(seq) AS lowestSeq
         FROM (SELECT * FROM next ORDER BY seq DESC LIMIT (SELECT CASE WHEN chars <= ?3 THEN n ELSE MAX(1, n * ?3 / chars) END FROM size))`;
  const [r] = await db.all<{ rows: string; keyBlobs: Buffer | null; blobs: Buffer | null; lowestSeq: number | null }>(
    sql,
    small ? [beforeSeq, REPLAY_CHUNK_ROWS] : [beforeSeq, REPLAY_CHUNK_ROWS, REPLAY_CHUNK_CHARS],
  );
  assert(r !== undefined, 'an aggregate query returns one row');
  const rows = placeBlobKeys(JSON.parse(r.rows) as ReplayJsonRow[], r.keyBlobs ?? NO_BYTES);
  return { rows, blobs: r.blobs ?? NO_BYTES, lowestSeq: r.lowestSeq ?? beforeSeq };
}

/** Replayed rows go into memory or onto the garbage list; it keeps the next free seq. */
class Replayer {
  nextSeq = 1;

  constructor(
    private readonly committed: Memtable,
    private readonly garbage: GarbageRows,
  ) {}

  /** One row of a replay chunk; a BLOB value is `blobs` from `at` (see ReplayRow). */
  row(r: ReplayRow, blobs: Buffer, at: number): void {
    const [seq, key, value, stamp, expires] = r;
    // stamp = ts * 2 + deleted (see stampOf in group-commit.ts).
    const ts = Math.floor(stamp / 2);
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    // Newest first, most rows met after their key's current one are older:
    // tell them by timestamp, without making either value a string.
    const currentTs = this.committed.tsOf(key);
    if (currentTs !== undefined && currentTs > ts) {
      this.garbage.add(seq);
      return;
    }
    const text = typeof value === 'number' ? blobs.toString('latin1', at, at + value) : value;
    const deleted = stamp % 2 === 1;
    const row = storedVersion(text, ts, deleted, seq, expires);
    // A key not seen yet (most rows of a log without garbage): no second lookup.
    const current = currentTs === undefined ? undefined : this.committed.get(key);
    if (current === undefined || supersedes(row, current)) {
      if (current !== undefined) this.garbage.add(current.seq);
      this.committed.set(key, row, row.seq);
    } else {
      this.garbage.add(row.seq);
    }
  }
}

/**
 * Reads the whole log into `committed`, superseded rows onto `garbage`, and
 * returns the seq after the highest one found (1 for an empty log). With
 * `largestRecord`, the most characters any row ever held (see meta.ts), a
 * log known to hold only small rows skips measuring its chunks.
 */
export async function replayLog(db: Sqlite, committed: Memtable, garbage: GarbageRows, largestRecord: number): Promise<number> {
  const small = largestRecord * REPLAY_CHUNK_ROWS <= REPLAY_CHUNK_CHARS;
  const replayer = new Replayer(committed, garbage);
  // In chunks by seq, newest first; the thread driver fetches the next chunk while this one is applied (inline runs the query first).
  let chunk = await replayChunk(db, Number.MAX_SAFE_INTEGER, small);
  while (chunk.rows.length > 0) {
    const next = replayChunk(db, chunk.lowestSeq, small);
    let at = 0; // where the next BLOB value starts in chunk.blobs
    for (const row of chunk.rows) {
      replayer.row(row, chunk.blobs, at);
      if (typeof row[2] === 'number') at += row[2];
    }
    assert(at === chunk.blobs.length, "every byte of a chunk's BLOB values belongs to one of its rows");
    chunk = await next;
  }
  return replayer.nextSeq;
}
