/**
 * Group commit: the batches of rows waiting for the disk, and the statements
 * that append one batch to the log.
 *
 * Rows join the open batch; one batch at a time is written, in a single
 * transaction, and only after its COMMIT are its rows published (made
 * visible to reads) and its waiters answered. A batch waits for the next
 * event-loop turn, so that every request of this turn joins it. A batch that
 * fails fails every later batch too, since their rows were resolved against
 * its rows.
 */
import { systemTime, Time } from '../clock/time';
import { assert } from '../common/assert';
import { COMMIT_ROWS_MAX, SQL_ROWS_PER_STATEMENT_MAX, SQL_SCRIPT_PIECE_BYTES } from '../common/limits';
import { Stored, storedAt } from './memtable';
import { bytesParameter } from './sql-literal';
import { SqlScript } from './sql-script';
import { BoundStatement, writeFailure } from './sqlite';
import { KeyedVersion, supersedes, Version } from './version';

export interface Batch {
  readonly rows: Map<string, Version>;
  /** Keys whose rows carry marks (see ReplicaStore.applyMarked), with how many. */
  readonly marks: Map<string, number>;
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
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

/**
 * supersedes(version, the key's committed version): asked of the store, so
 * that the version it holds need not be made an object (and its value a
 * string) only to be compared.
 */
export type BeatsCommitted = (key: string, version: Version) => boolean;

/** What the queue asks of its store at each step of a commit. */
export interface CommitSteps {
  /** Makes a batch's rows durable, making each a Stored version with its seq; throws if nothing was written. */
  write(rows: Map<string, Version>): Promise<void>;
  /** A batch is durable: its rows become visible. */
  publish(batch: Batch): void;
  /** A batch could not be written; it and every later batch were rejected with `err`. */
  failed(err: unknown): void;
  /** Every batch queued is committed. */
  idle(): void;
}

export class CommitQueue {
  /** Batches not yet committed, oldest first; the last one is open. */
  private readonly queue: Batch[] = [];
  private committing = false;
  private scheduled = false;
  private rows = 0;

  constructor(
    private readonly steps: CommitSteps,
    private readonly time: Pick<Time, 'soon'> = systemTime,
  ) {}

  /** Rows in batches not yet committed. */
  get queuedRows(): number {
    return this.rows;
  }

  /** The newest version of a key still waiting to commit, if any. */
  queuedVersion(key: string): Version | undefined {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const v = this.queue[i]!.rows.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** The batch that rows join now. */
  openBatch(): Batch {
    let last = this.queue[this.queue.length - 1];
    // The batch being committed is never open: it is always queue[0] while committing.
    if (last === undefined || (this.committing && this.queue.length === 1) || last.rows.size >= COMMIT_ROWS_MAX) {
      last = newBatch();
      this.queue.push(last);
    }
    return last;
  }

  /** Puts a version of a key in the open batch (in place of one this batch holds already). */
  add(key: string, version: Version): void {
    const open = this.openBatch();
    if (!open.rows.has(key)) this.rows++;
    open.rows.set(key, version);
  }

  /** The newest batch, if any: waiting on it covers every row that an older one holds. */
  newest(): Batch | undefined {
    return this.queue[this.queue.length - 1];
  }

  /**
   * Puts each version that beats the newest one known (queued here, or
   * `committed`) in the open batch; resolves once every one of them is
   * durable, or lost to a newer version that is. Waiting on the newest
   * batch also covers rows that an older batch holds.
   */
  enqueue(items: readonly KeyedVersion[], beatsCommitted: BeatsCommitted): Promise<void> {
    const batch = this.openBatch();
    for (const { key, version } of items) {
      const queued = this.queuedVersion(key);
      if (queued === undefined ? beatsCommitted(key, version) : supersedes(version, queued)) this.add(key, version);
    }
    const waitOn = this.newest() ?? batch;
    this.schedule();
    return waitOn.done;
  }

  /**
   * enqueue() for one version, marking the row that will hold it (marks.ts).
   * Resolves once durable with that row's seq, or with 0 when the version
   * lost to a newer one already here: then no row holds it.
   */
  enqueueMarked(item: KeyedVersion, beatsCommitted: BeatsCommitted): Promise<number> {
    const done = this.enqueue([item], beatsCommitted);
    const batch = this.newest();
    // enqueue() puts a winning version in the last batch; anything else lost.
    if (batch === undefined || batch.rows.get(item.key) !== item.version) return done.then(() => 0);
    batch.marks.set(item.key, (batch.marks.get(item.key) ?? 0) + 1);
    // The row holding the key may be a newer version that joined the batch after this one: it carries the mark.
    return done.then(() => (batch.rows.get(item.key) as Stored).seq);
  }

  /** Starts a commit at the next turn, unless one is due or running (it goes on to every batch queued). */
  schedule(): void {
    if (this.scheduled || this.committing) return;
    this.scheduled = true;
    // After this turn's I/O (setImmediate): every request that arrived in this turn joins the batch.
    this.time.soon(() => {
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
          await this.steps.write(batch.rows);
        } catch (cause) {
          const err = writeFailure(cause);
          // Later batches were resolved against this one; fail them all.
          const failed = this.queue.splice(0);
          this.rows = 0;
          for (const b of failed) b.reject(err);
          this.steps.failed(err);
          return;
        }
        this.queue.shift();
        this.rows -= batch.rows.size;
        this.steps.publish(batch);
        batch.resolve();
      }
    } finally {
      this.committing = false;
    }
    this.steps.idle();
  }

  /** Waits for everything queued to be committed, or to fail. */
  async drain(): Promise<void> {
    while (this.queue.length > 0) {
      await this.queue[this.queue.length - 1]!.done.catch(() => undefined);
    }
  }
}

/**
 * A version's timestamp and tombstone flag share one column, `stamp` =
 * ts * 2 + deleted: one column fewer for the driver to hand back per row when
 * a node replays a million of them at start. Exact while ts < 2^52 µs (the
 * year 2112); clocks refuse anything more than minutes ahead of now.
 */
const STAMP_TS_MAX = 2 ** 52 - 1;

const OPEN = 0x28;
const CLOSE = 0x29;
const COMMA = 0x2c;
/** A row's chars besides its key's and value's: brackets, commas, quotes, seq, stamp and expiry. */
const ROW_CHARS_MAX_BESIDE_BYTES = 64;

function stampOf(v: Version): number {
  assert(Number.isSafeInteger(v.ts) && v.ts >= 0 && v.ts <= STAMP_TS_MAX, 'timestamp fits a stamp');
  return v.ts * 2 + (v.deleted ? 1 : 0);
}

const INSERT_ROW = 'INSERT INTO log (seq, key, value, stamp) VALUES (?, ?, ?, ?)';
const INSERT_EXPIRING_ROW = 'INSERT INTO log (seq, key, value, stamp, expires) VALUES (?, ?, ?, ?, ?)';

/**
 * appendRows as bound statements, one a row, for a driver that binds
 * cheaply (Sqlite.bindsCheaply): the same rows, the same column types, no
 * literal to build or parse.
 */
export function appendRowsBound(
  rows: Map<string, Version>,
  firstSeq: number,
  largestBefore: number,
): { statements: BoundStatement[]; largest: number } {
  const statements: BoundStatement[] = [];
  let largest = largestBefore;
  let seq = firstSeq;
  for (const [key, v] of rows) {
    rows.set(key, storedAt(v, seq));
    const columns = [seq, bytesParameter(key), bytesParameter(v.value), stampOf(v)];
    statements.push(v.expires ? [INSERT_EXPIRING_ROW, [...columns, v.expires]] : [INSERT_ROW, columns]);
    largest = Math.max(largest, key.length + v.value.length);
    seq++;
  }
  return { statements, largest };
}

/**
 * The INSERT statements that append a batch's rows to the log, numbered
 * from `firstSeq` in the map's order, as a script in pieces of about
 * SQL_SCRIPT_PIECE_BYTES (whole statements each); each row of the map
 * becomes a Stored version with its seq. With them, the largest key plus
 * value in characters: `largest` or more. Statements of at most
 * SQL_ROWS_PER_STATEMENT_MAX rows; rows with an expiry (TTL) go in
 * statements of their own, so the usual row stays four values.
 */
export function appendRows(rows: Map<string, Version>, firstSeq: number, largestBefore: number): { pieces: string[]; largest: number } {
  const script = new SqlScript();
  let largest = largestBefore;
  let plain = 0;
  let expiring: Array<{ key: string; version: Stored }> = [];
  // What the expiring rows waiting for their statement will add, at most: a BLOB is two chars a byte.
  let expiringChars = 0;
  const row = (key: string, v: Stored): void => {
    script.char(OPEN).int(v.seq).char(COMMA).bytes(key).char(COMMA).bytes(v.value).char(COMMA).int(stampOf(v));
  };
  const flush = (): void => {
    if (plain > 0) script.text(';');
    if (expiring.length > 0) {
      if (script.length > 0) script.text('\n');
      script.text('INSERT INTO log (seq, key, value, stamp, expires) VALUES ');
      expiring.forEach((e, i) => {
        if (i > 0) script.char(COMMA);
        row(e.key, e.version);
        script.text(`,${e.version.expires})`);
      });
      script.text(';');
    }
    plain = 0;
    expiring = [];
    expiringChars = 0;
  };
  let seq = firstSeq;
  for (const [key, v] of rows) {
    const stored = storedAt(v, seq);
    rows.set(key, stored);
    if (v.expires) {
      expiring.push({ key, version: stored });
      expiringChars += ROW_CHARS_MAX_BESIDE_BYTES + 2 * (key.length + v.value.length);
    } else {
      if (plain === 0)
        script.text(
          script.length > 0 ? '\nINSERT INTO log (seq, key, value, stamp) VALUES ' : 'INSERT INTO log (seq, key, value, stamp) VALUES ',
        );
      else script.char(COMMA);
      row(key, stored);
      script.char(CLOSE);
      plain++;
    }
    seq++;
    largest = Math.max(largest, key.length + v.value.length);
    if (plain + expiring.length === SQL_ROWS_PER_STATEMENT_MAX || script.length + expiringChars >= SQL_SCRIPT_PIECE_BYTES) {
      flush();
      if (script.length >= SQL_SCRIPT_PIECE_BYTES) script.cut();
    }
  }
  flush();
  return { pieces: script.finish(), largest };
}
