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
 * The table is a log: every accepted version is appended with the next
 * sequence number. Appends touch only the end of the table, which makes a
 * commit several times cheaper than updating rows in key order. Memory knows
 * each key's current row, so a superseded row's seq joins the garbage list,
 * and `compact` deletes those rows once they number as many as the live ones
 * (see COMPACT_GARBAGE_PER_LIVE_ROW): disk use follows the number of live
 * keys, not the number of writes. Deleted keys keep a tombstone row until the
 * grace period has passed (`purgeTombstones`).
 *
 * On start, `open` replays the log into memory, newest row first, before the
 * node serves. A row superseded but not yet compacted when the node died
 * loses to its successor on replay and goes back on the garbage list.
 *
 * Marks. A write this node coordinates is applied here with `applyMarked`: its
 * row stays "unsettled" until the coordinator calls `settle`, once every other
 * replica has acknowledged the write or has a durable hint for it. Commits
 * store a settle pointer in `meta` (the seq below every unsettled row, at most
 * every SETTLED_SEQ_WRITE_INTERVAL_MS), so after a crash `rowsAfterSettled`
 * lists the keys whose writes may not have reached their other replicas, and
 * the node hints them again. That lets a coordinator answer once the level is
 * reached without waiting for the slowest replica, and still never be the
 * only record of a replica's missing write.
 */
import { assert } from '../common/assert';
import { KvError } from '../common/errors';
import {
  COMMIT_ROWS_MAX,
  COMPACT_CHUNK_ROWS,
  COMPACT_GARBAGE_PER_LIVE_ROW,
  COMPACT_GARBAGE_ROWS_MIN,
  REPLAY_CHUNK_CHARS,
  REPLAY_CHUNK_ROWS,
  SETTLED_SEQ_WRITE_INTERVAL_MS,
  SQL_ROWS_PER_STATEMENT_MAX,
  STORE_QUEUED_ROWS_MAX,
  UNSETTLED_CHUNK_ROWS,
} from '../common/limits';
import { GarbageRows } from './garbage';
import { Memtable, Stored, VersionBytes } from './memtable';
import { blobLiteral, Sqlite } from './sqlite';
import { UnsettledRows } from './unsettled';
import { supersedes, Version } from './version';

export interface KeyedVersion {
  readonly key: string;
  readonly version: Version;
}

interface Batch {
  readonly rows: Map<string, Version>;
  /** Keys whose rows carry marks (see applyMarked), with how many. */
  readonly marks: Map<string, number>;
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * A log row as replay reads it: seq, key, value, stamp. A value stored as a
 * BLOB comes as its length: its bytes are in the chunk's `blobs`, in row order.
 */
type ReplayRow = [number, string, string | number, number];
/** A log row as the chunk's JSON has it: a BLOB key comes as its length too. */
type ReplayJsonRow = [number, string | number, string | number, number];

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
const REPLAY_COLUMNS = `json_group_array(json_array(seq, ${textOrLength('key')}, ${textOrLength('value')}, stamp)) AS rows,
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

/** The `meta` row holding the largest key plus value ever written, in characters. */
const LARGEST_RECORD = 'largest_record_chars';
/** The `meta` row holding the settle pointer (see Marks above). */
const SETTLED_SEQ = 'settled_seq';

function setMeta(name: string, value: number): string {
  return `INSERT INTO meta (name, value) VALUES ('${name}', ${value}) ON CONFLICT (name) DO UPDATE SET value = excluded.value;`;
}

async function readMeta(db: Sqlite, name: string): Promise<number | undefined> {
  const [row] = await db.all<{ value: number }>('SELECT value FROM meta WHERE name = ?', [name]);
  return row?.value;
}

/**
 * The largest key plus value the log has ever held, from `meta`; a log
 * written before `meta` existed is measured once (one pass over it) and the
 * answer stored.
 */
async function largestRecordChars(db: Sqlite): Promise<number> {
  const known = await readMeta(db, LARGEST_RECORD);
  if (known !== undefined) return known;
  const [measured] = await db.all<{ chars: number | null }>('SELECT MAX(octet_length(key) + octet_length(value)) AS chars FROM log');
  const chars = measured?.chars ?? 0;
  await db.execTransaction(setMeta(LARGEST_RECORD, chars));
  return chars;
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
  // One statement, so that SQLite works on the next chunk while this one is applied.
  const sql = small
    ? `SELECT ${REPLAY_COLUMNS}, MIN(seq) AS lowestSeq
         FROM (SELECT seq, key, value, stamp FROM log WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2)`
    : `WITH next AS (SELECT seq, key, value, stamp FROM log WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2),
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

/**
 * A version's timestamp and tombstone flag share one column, `stamp` =
 * ts * 2 + deleted: one column fewer for the driver to hand back per row when
 * a node replays a million of them at start. Exact while ts < 2^52 µs (the
 * year 2112); clocks refuse anything more than minutes ahead of now.
 */
const STAMP_TS_MAX = 2 ** 52 - 1;

function stampOf(v: Version): number {
  assert(Number.isSafeInteger(v.ts) && v.ts >= 0 && v.ts <= STAMP_TS_MAX, 'timestamp fits a stamp');
  return v.ts * 2 + (v.deleted ? 1 : 0);
}

/** A latin1 key or value as an SQL blob literal. */
export function latin1Literal(s: string): string {
  return blobLiteral(Buffer.from(s, 'latin1'));
}

/**
 * A latin1 key or value as an SQL text literal. The log stores keys and
 * values of printable ASCII as TEXT holding one code point per byte, so a
 * replay gets JavaScript strings straight from the driver instead of a Buffer
 * per column to convert: four times faster for a large log, and no external
 * memory to collect. A quoted literal is cheapest to build and parse; text
 * with a NUL (which would end the statement) goes as hex instead. (Logs
 * written before bytesLiteral hold keys and values of any bytes this way,
 * encoded as UTF-8 by SQLite.)
 */
export function textLiteral(s: string): string {
  if (s.includes('\u0000')) return `CAST(X'${Buffer.from(s, 'utf8').toString('hex')}' AS TEXT)`;
  return `'${s.includes("'") ? s.replace(/'/g, "''") : s}'`;
}

/** Printable ASCII: keys and values stored as TEXT. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;

/**
 * A key or value as an SQL literal for the log: printable ASCII as TEXT,
 * anything else as a BLOB. Other bytes as TEXT are a slow case for a replay:
 * in SQLite's UTF-8 half of them take two bytes, control characters become
 * six-character JSON escapes, and the driver's conversion and JSON.parse
 * leave their fast paths. A replay reads BLOBs as bytes instead (see
 * replayChunk).
 */
function bytesLiteral(s: string): string {
  return PLAIN_TEXT.test(s) ? textLiteral(s) : latin1Literal(s);
}

/** DELETE statements for log rows, SQL_ROWS_PER_STATEMENT_MAX seqs each. */
function deleteBySeq(seqs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < seqs.length; i += SQL_ROWS_PER_STATEMENT_MAX) {
    out.push(`DELETE FROM log WHERE seq IN (${seqs.slice(i, i + SQL_ROWS_PER_STATEMENT_MAX).join(',')});`);
  }
  return out.join('\n');
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
  return { rows: new Map(), marks: new Map(), done, resolve, reject };
}

/** Whether a log holding `garbageRows` superseded rows beside `liveRows` current ones is due a compaction. */
export function compactionDue(garbageRows: number, liveRows: number): boolean {
  return garbageRows >= Math.max(COMPACT_GARBAGE_ROWS_MIN, liveRows * COMPACT_GARBAGE_PER_LIVE_ROW);
}

export class ReplicaStore {
  private readonly committed = new Memtable();
  /** Seqs of log rows that hold superseded versions. */
  private readonly garbage = new GarbageRows();
  private nextSeq = 1;
  /** Batches not yet committed, oldest first; the last one is open. */
  private readonly queue: Batch[] = [];
  private committing = false;
  private scheduled = false;
  /** The compaction in progress, if any. */
  private compaction: Promise<number> | null = null;
  /** Rows in batches not yet committed (bounded by STORE_QUEUED_ROWS_MAX). */
  private queuedRows = 0;
  /** Characters of the largest key plus value ever written to the log (the `meta` row LARGEST_RECORD). */
  private largestRecord = 0;
  /**
   * Committed rows whose marks are not all settled. As many as the writes this
   * node coordinates that wait on a replica: each settles once that replica
   * answers, or its call fails (the replica's request deadline) and a hint commits.
   */
  private readonly unsettled = new UnsettledRows();
  /** The settle pointer last stored, and when (ms). */
  private settledStored = -1;
  private settledStoredMs = Number.NEGATIVE_INFINITY;
  /** The settle pointer found at open (undefined: the log never had one, so no row was marked). */
  private settledAtOpen: number | undefined;
  readonly counters = { rowsCommitted: 0, commits: 0, tombstonesPurged: 0, rowsCompacted: 0, overloaded: 0 };

  private constructor(
    private readonly db: Sqlite,
    /** SETTLED_SEQ_WRITE_INTERVAL_MS; tests set 0 to store the pointer at every commit. */
    private readonly settledWriteIntervalMs: number,
  ) {}

  static async open(db: Sqlite, options: { settledWriteIntervalMs?: number } = {}): Promise<ReplicaStore> {
    await db.exec(
      `CREATE TABLE IF NOT EXISTS log (
         seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, stamp INTEGER NOT NULL
       );
       CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
    );
    const store = new ReplicaStore(db, options.settledWriteIntervalMs ?? SETTLED_SEQ_WRITE_INTERVAL_MS);
    store.largestRecord = await largestRecordChars(db);
    store.settledAtOpen = await readMeta(db, SETTLED_SEQ);
    // Rows whose keys and values are known to be small are read without
    // measuring each chunk first (see replayChunk).
    const small = store.largestRecord * REPLAY_CHUNK_ROWS <= REPLAY_CHUNK_CHARS;
    // In chunks by seq, newest first, fetching the next chunk while this one is applied.
    let chunk = await replayChunk(db, Number.MAX_SAFE_INTEGER, small);
    while (chunk.rows.length > 0) {
      const next = replayChunk(db, chunk.lowestSeq, small);
      let at = 0; // where the next BLOB value starts in chunk.blobs
      for (const row of chunk.rows) {
        store.replay(row, chunk.blobs, at);
        if (typeof row[2] === 'number') at += row[2];
      }
      assert(at === chunk.blobs.length, "every byte of a chunk's BLOB values belongs to one of its rows");
      chunk = await next;
    }
    // Never number a row at or below a stored settle pointer, even if the rows
    // up to it have been deleted since: it would count as settled.
    store.nextSeq = Math.max(store.nextSeq, (store.settledAtOpen ?? 0) + 1);
    return store;
  }

  /** One row of a replay chunk; a BLOB value is `blobs` from `at` (see ReplayRow). */
  private replay(r: ReplayRow, blobs: Buffer, at: number): void {
    const [seq, key, value, stamp] = r;
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
    const row: Stored = { value: text, ts, deleted: stamp % 2 === 1, seq };
    // A key not seen yet (most rows of a log without garbage): no second lookup.
    const current = currentTs === undefined ? undefined : this.committed.get(key);
    if (current === undefined || supersedes(row, current)) {
      if (current !== undefined) this.garbage.add(current.seq);
      this.committed.set(key, row, row.seq);
    } else {
      this.garbage.add(row.seq);
    }
  }

  /** The newest durable version of a key. */
  get(key: string): Version | undefined {
    return this.committed.get(key);
  }

  /** Whether the key has a committed version (a tombstone counts), without making its value a string. */
  has(key: string): boolean {
    return this.committed.seqOf(key) > 0;
  }

  /** get, with the value as bytes: for answering reads. */
  getBytes(key: string): VersionBytes | undefined {
    return this.committed.getBytes(key);
  }

  get size(): number {
    return this.committed.size;
  }

  /** Bytes the memtable's arena holds outside the heap, and how many of them are current records. */
  arenaCounters(): { arenaBytes: number; arenaLiveBytes: number } {
    return { arenaBytes: this.committed.arenaBytes, arenaLiveBytes: this.committed.arenaLiveBytes };
  }

  /** Committed keys with hashes in [from, to), at most about `max` (see Memtable.keysInHashRange). */
  keysInHashRange(from: number, to: number, max: number): { keys: string[]; end: number } {
    return this.committed.keysInHashRange(from, to, max);
  }

  /** Log rows holding superseded versions, not yet compacted away. */
  get garbageRows(): number {
    return this.garbage.size;
  }

  /**
   * Durable versions of keys greater than `after`, in byte order, at most
   * `limit`, every key written before the call included. The key list is
   * sorted in slices first when keys came or went, so a dump of a large,
   * busy replica does not stop the node for each page.
   */
  async scan(after: string | undefined, limit: number): Promise<KeyedVersion[]> {
    await this.committed.refreshSortedKeys(0);
    const out: KeyedVersion[] = [];
    for (const key of this.committed.keysBetween(after, undefined, limit, Number.POSITIVE_INFINITY)) {
      const version = this.committed.get(key);
      // A key purged since the sort is left out.
      if (version !== undefined) out.push({ key, version });
    }
    return out;
  }

  /** The newest version of a key still waiting to commit, if any. */
  private queuedVersion(key: string): Version | undefined {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const v = this.queue[i]!.rows.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** The newest version known here, including ones still waiting to commit. */
  private latest(key: string): Version | undefined {
    return this.queuedVersion(key) ?? this.committed.get(key);
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
    if (this.queuedRows + items.length > STORE_QUEUED_ROWS_MAX) {
      this.counters.overloaded++;
      return Promise.reject(new KvError('Unavailable', 'this replica has too many writes waiting for its disk'));
    }
    const batch = this.openBatch();
    for (const { key, version } of items) {
      if (supersedes(version, this.latest(key))) {
        const open = this.openBatch();
        if (!open.rows.has(key)) this.queuedRows++;
        open.rows.set(key, version);
      }
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
          this.queuedRows = 0;
          for (const b of failed) b.reject(err as Error);
          return;
        }
        this.queue.shift();
        this.queuedRows -= batch.rows.size;
        this.publish(batch);
        batch.resolve();
      }
    } finally {
      this.committing = false;
    }
    if (this.compaction === null && compactionDue(this.garbage.size, this.committed.size)) void this.compact().catch(() => undefined);
  }

  /** A committed batch becomes visible; the rows it supersedes become garbage. */
  private publish(batch: Batch): void {
    for (const [key, version] of batch.rows) {
      const stored = version as Stored;
      const current = this.committed.get(key);
      assert(supersedes(stored, current), 'a batch row must beat the committed version');
      if (current !== undefined) this.garbage.add(current.seq);
      this.committed.set(key, stored, stored.seq);
    }
    if (batch.marks.size > 0) this.noteMarks(batch);
    this.counters.rowsCommitted += batch.rows.size;
    this.counters.commits++;
  }

  /** The marked rows of a committed batch become unsettled. */
  private noteMarks(batch: Batch): void {
    const bySeq = new Map<number, number>();
    for (const [key, n] of batch.marks) bySeq.set((batch.rows.get(key) as Stored).seq, n);
    this.unsettled.note(bySeq);
  }

  /**
   * apply() for a write this node coordinates, marking the log row that
   * holds it (see Marks above). Resolves once it is durable with that row's
   * seq, to be passed to `settle`, or with 0 when the version lost to a newer
   * one already here: then no row holds it and there is nothing to settle.
   */
  applyMarked(item: KeyedVersion): Promise<number> {
    const done = this.apply([item]);
    const batch = this.queue[this.queue.length - 1];
    // apply() puts a winning version in the last batch; anything else lost (or was refused).
    if (batch === undefined || batch.rows.get(item.key) !== item.version) return done.then(() => 0);
    batch.marks.set(item.key, (batch.marks.get(item.key) ?? 0) + 1);
    // The row holding the key may be a newer version that joined the batch after this one: it carries the mark.
    return done.then(() => (batch.rows.get(item.key) as Stored).seq);
  }

  /** The write that marked row `seq` has reached every replica (or a durable hint): one mark fewer. */
  settle(seq: number): void {
    this.unsettled.settle(seq);
  }

  /** Marked rows not yet settled (for tests and the inspector's counters). */
  get unsettledRows(): number {
    return this.unsettled.size;
  }

  /**
   * The settle pointer for a commit whose rows start at `firstSeq`, when it
   * is time to store it again: the seq just below the oldest unsettled row,
   * or below this commit's rows when none is unsettled (they are published,
   * and their marks noted, only after the commit).
   */
  private pointerToStore(firstSeq: number): number | undefined {
    const pointer = this.unsettled.pointer(firstSeq - 1);
    if (pointer <= this.settledStored || Date.now() - this.settledStoredMs < this.settledWriteIntervalMs) return undefined;
    return pointer;
  }

  /**
   * Keys of the log rows after the settle pointer found at open: writes this
   * node coordinated before it stopped, which may not have reached their
   * other replicas. Rows other nodes' writes put there come too (the log does
   * not say whose a row is); hinting those again does no harm. Empty for a
   * log that never had a pointer.
   */
  async rowsAfterSettled(): Promise<string[]> {
    if (this.settledAtOpen === undefined) return [];
    const keys = new Set<string>();
    let after = this.settledAtOpen;
    for (;;) {
      const rows = await this.db.all<{ seq: number; key: string | Buffer }>('SELECT seq, key FROM log WHERE seq > ? ORDER BY seq LIMIT ?', [
        after,
        UNSETTLED_CHUNK_ROWS,
      ]);
      for (const r of rows) keys.add(typeof r.key === 'string' ? r.key : r.key.toString('latin1'));
      if (rows.length < UNSETTLED_CHUNK_ROWS) return [...keys];
      after = rows[rows.length - 1]!.seq;
    }
  }

  /** Appends a batch's rows to the log in one transaction, numbering them. */
  private async write(rows: Map<string, Version>): Promise<void> {
    if (rows.size === 0) return;
    const statements: string[] = [];
    let values: string[] = [];
    const flush = (): void => {
      statements.push(`INSERT INTO log (seq, key, value, stamp) VALUES ${values.join(',')};`);
      values = [];
    };
    const firstSeq = this.nextSeq;
    let largest = this.largestRecord;
    for (const [key, v] of rows) {
      const seq = this.nextSeq++;
      rows.set(key, { value: v.value, ts: v.ts, deleted: v.deleted, seq } as Stored);
      values.push(`(${seq},${bytesLiteral(key)},${bytesLiteral(v.value)},${stampOf(v)})`);
      largest = Math.max(largest, key.length + v.value.length);
      if (values.length === SQL_ROWS_PER_STATEMENT_MAX) flush();
    }
    if (values.length > 0) flush();
    if (largest > this.largestRecord) statements.push(setMeta(LARGEST_RECORD, largest));
    const pointer = this.pointerToStore(firstSeq);
    if (pointer !== undefined) statements.push(setMeta(SETTLED_SEQ, pointer));
    try {
      await this.db.execTransaction(statements.join('\n'));
    } catch (err) {
      this.nextSeq = firstSeq; // nothing was written; reuse the numbers
      throw err;
    }
    this.largestRecord = largest;
    if (pointer !== undefined) {
      this.settledStored = pointer;
      this.settledStoredMs = Date.now();
    }
  }

  /**
   * Deletes the log rows of superseded versions. Seqs are deleted in
   * ascending order, which walks the table's pages front to back, in
   * transactions of COMPACT_CHUNK_ROWS: each chunk covers its own stretch of
   * the log, and the commits queued meanwhile run between chunks.
   */
  async compact(): Promise<number> {
    // One at a time; a caller that comes during one waits for it, then deletes what is left.
    while (this.compaction !== null) await this.compaction.catch(() => 0);
    if (this.garbage.size === 0) return 0;
    this.compaction = this.deleteGarbage().finally(() => {
      this.compaction = null;
    });
    return this.compaction;
  }

  private async deleteGarbage(): Promise<number> {
    const runs = this.garbage.take();
    let deleted = 0;
    for (const seqs of runs) {
      for (let done = 0; done < seqs.length; done += COMPACT_CHUNK_ROWS) {
        const chunk = seqs.slice(done, done + COMPACT_CHUNK_ROWS);
        try {
          await this.db.execTransaction(deleteBySeq(chunk));
        } catch (err) {
          // Whatever was not deleted waits for the next compaction.
          for (const seq of seqs.slice(done)) this.garbage.add(seq);
          for (const rest of runs) for (const seq of rest) this.garbage.add(seq);
          throw err;
        }
        deleted += chunk.length;
        this.counters.rowsCompacted += chunk.length;
      }
    }
    return deleted;
  }

  /**
   * Drops tombstones older than `cutoffTs` from disk and memory. Garbage is
   * compacted first: once the tombstone row is gone, no older row of its key
   * may be left in the log for a replay to bring back.
   */
  async purgeTombstones(cutoffTs: number): Promise<number> {
    // Nothing old enough: no compaction needed (a restarted node carrying a
    // long garbage list would otherwise wait for all of it).
    if (this.committed.tombstonesBefore(cutoffTs).length === 0) return 0;
    await this.compact();
    // A newer write may be queued for a key; then its tombstone becomes garbage instead.
    const purged = this.committed.tombstonesBefore(cutoffTs).filter(({ key }) => this.queuedVersion(key) === undefined);
    if (purged.length === 0) return 0;
    await this.db.execTransaction(deleteBySeq(purged.map((p) => p.seq)));
    // Only if the row is still the key's current one (no newer write committed meanwhile).
    for (const { key, seq } of purged) if (this.committed.seqOf(key) === seq) this.committed.delete(key);
    this.counters.tombstonesPurged += purged.length;
    return purged.length;
  }

  /** Waits for everything queued to be committed (used on shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length > 0) {
      await this.queue[this.queue.length - 1]!.done.catch(() => undefined);
    }
  }
}
