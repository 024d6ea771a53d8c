/**
 * The batch log: the logged batches this node coordinates, each durable
 * before any of its writes is sent and deleted once every key reached its
 * level (coordinator/batch-writer.ts). What is left in it after a failure or
 * a crash is written again by the node, so that a batch, once any of it is
 * applied, is applied whole in the end. It also holds copies of batches
 * other nodes coordinate, written again by this node if their coordinator
 * does not say they are done in time. Production keeps it in SQLite
 * (SqliteBatchLog, the `batches` table of storage/schema.ts); the
 * deterministic simulator in memory (sim/memory-batch-log.ts).
 *
 * A batch's writes are one blob, in a small binary layout of our own
 * (encodeBatch): keys and values are bytes, which JSON would inflate.
 */
import { systemTime, Time } from '../clock/time';
import { assert } from '../common/assert';
import { CommitQueue } from './commit-queue';
import { createBatchTables } from './schema';
import { BoundStatement, Sqlite, writeFailure } from './sqlite';
import { KeyedVersion, Version } from './version';

/** Where a copy's batch comes from: the node that coordinates it, and the batch's id in that node's log. */
export interface BatchOrigin {
  readonly owner: number;
  readonly ownerBatch: number;
}

export interface LoggedBatch {
  readonly id: number;
  /** When its coordinator logged it (ms, the coordinator's clock). */
  readonly createdMs: number;
  readonly items: readonly KeyedVersion[];
  /** Set on a copy of a batch another node coordinates. */
  readonly copyOf?: BatchOrigin;
}

/** A copy's name in a log: its origin and the time its coordinator logged it (a node that lost its disk starts its ids again). */
export function copyName(copyOf: BatchOrigin, createdMs: number): string {
  return `${copyOf.owner}/${copyOf.ownerBatch}/${createdMs}`;
}

export interface BatchLogStorage {
  /** Batches in the log, and the bytes of their bodies: what BATCH_LOG_BATCHES_MAX and BATCH_LOG_BYTES_MAX bound. */
  readonly size: number;
  readonly bytes: number;
  /** Of `size`, the copies of other coordinators' batches. */
  readonly copyCount: number;
  /**
   * Logs a batch, or a copy of another coordinator's (`copyOf`): its id at
   * once (so the caller can say it is writing it before the commit ends),
   * and a promise that resolves once it is durable.
   */
  add(items: readonly KeyedVersion[], createdMs: number, copyOf?: BatchOrigin): { readonly id: number; readonly durable: Promise<void> };
  /** The id of the copy named `copyName(...)` in this log, if it holds it (durable or on its way). */
  copyId(name: string): number | undefined;
  /** Whether this log holds its own batch `id` (not a copy) logged at `createdMs`: what a holder of a copy asks the batch's coordinator. */
  holds(id: number, createdMs: number): boolean;
  /** The batch is written everywhere it must be, or given up on: it leaves the log. */
  remove(id: number): Promise<void>;
  /** The durable batches with ids after `afterId`, oldest first, at most `limit`. */
  list(afterId: number, limit: number): Promise<LoggedBatch[]>;
  /** Waits until every change queued so far is committed (or failed): before the node closes its file. */
  flush(): Promise<void>;
}

/** The layout's first byte; another value is a blob this build cannot read. */
const BATCH_FORMAT = 1;
const FLAG_DELETED = 1;
const FLAG_EXPIRES = 2;

/** A batch's writes as one blob: format byte, count, then per write its key, flags, ts, expiry (if any) and value. */
export function encodeBatch(items: readonly KeyedVersion[]): Buffer {
  let bytes = 5;
  for (const { key, version } of items) bytes += 4 + key.length + 1 + 8 + (version.expires ? 8 : 0) + 4 + version.value.length;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt8(BATCH_FORMAT, 0);
  out.writeUInt32LE(items.length, 1);
  let at = 5;
  for (const { key, version } of items) {
    at = writeBytes(out, at, key);
    const expires = version.expires ?? 0;
    out.writeUInt8((version.deleted ? FLAG_DELETED : 0) | (expires ? FLAG_EXPIRES : 0), at);
    // Timestamps are µs since 1970: integers far below 2^53, which a double holds exactly.
    out.writeDoubleLE(version.ts, at + 1);
    at += 9;
    if (expires) {
      out.writeDoubleLE(expires, at);
      at += 8;
    }
    at = writeBytes(out, at, version.value);
  }
  assert(at === bytes, 'a batch blob is exactly as long as measured');
  return out;
}

export function decodeBatch(blob: Buffer): KeyedVersion[] {
  assert(blob.length >= 5 && blob.readUInt8(0) === BATCH_FORMAT, `a batch blob of format ${BATCH_FORMAT}`);
  const n = blob.readUInt32LE(1);
  const items: KeyedVersion[] = [];
  let at = 5;
  for (let i = 0; i < n; i++) {
    const key = readBytes(blob, at);
    at = key.next;
    const flags = blob.readUInt8(at);
    const ts = blob.readDoubleLE(at + 1);
    at += 9;
    let expires = 0;
    if (flags & FLAG_EXPIRES) {
      expires = blob.readDoubleLE(at);
      at += 8;
    }
    const value = readBytes(blob, at);
    at = value.next;
    const version: Version = { value: value.text, ts, deleted: (flags & FLAG_DELETED) !== 0, ...(expires ? { expires } : {}) };
    items.push({ key: key.text, version });
  }
  assert(at === blob.length, 'a batch blob holds its writes and nothing after them');
  return items;
}

/** A latin1 string (common/bytes.ts: one char per byte) with its length before it. */
function writeBytes(out: Buffer, at: number, text: string): number {
  out.writeUInt32LE(text.length, at);
  out.write(text, at + 4, 'latin1');
  return at + 4 + text.length;
}

function readBytes(blob: Buffer, at: number): { text: string; next: number } {
  const length = blob.readUInt32LE(at);
  const start = at + 4;
  assert(start + length <= blob.length, 'a batch blob field within the blob');
  return { text: blob.toString('latin1', start, start + length), next: start + length };
}

interface BatchRow {
  id: number;
  created_ms: number;
  body: Buffer;
  owner: number | null;
  owner_batch: number | null;
}

function originOf(row: Pick<BatchRow, 'owner' | 'owner_batch'>): BatchOrigin | undefined {
  return row.owner === null || row.owner_batch === null ? undefined : { owner: row.owner, ownerBatch: row.owner_batch };
}

/** One change to the batch log, waiting for its group commit. */
type BatchLogChange =
  | { readonly add: true; readonly id: number; readonly createdMs: number; readonly body: Buffer; readonly copyOf?: BatchOrigin }
  | { readonly add: false; readonly id: number };

/**
 * The batch log in the node's SQLite file. Its count and bytes are kept in
 * memory, read once at open. The batches added and removed in one turn go
 * in one transaction (CommitQueue): at a few hundred batches a second, one
 * transaction each for the insert and the delete cost the nodes a tenth of
 * a batch's CPU.
 */
export class SqliteBatchLog implements BatchLogStorage {
  private bodyBytes = 0;
  /** Bytes of each batch in the log or on its way there (their number is the log's size), for `bytes` when it leaves. */
  private readonly sizes = new Map<number, number>();
  private readonly changes: CommitQueue<BatchLogChange>;
  /** Why the last group commit failed, for the callers whose changes it held. */
  private lastFailure: unknown;
  /** Batches whose delete is queued: not listed, so that no replay writes a batch that has just been written. */
  private readonly leaving = new Set<number>();
  /** The copies in the log, by name (copyName), and each copy's name by id. */
  private readonly copies = new Map<string, number>();
  private readonly copyNames = new Map<number, string>();
  /** When each of this node's own batches in the log was logged, by id (for `holds`). */
  private readonly ownCreatedMs = new Map<number, number>();

  private constructor(
    private readonly db: Sqlite,
    private nextId: number,
    time: Pick<Time, 'soon'>,
  ) {
    this.changes = new CommitQueue((rows) => this.write(rows), time);
  }

  static async open(db: Sqlite, time: Pick<Time, 'soon'> = systemTime): Promise<SqliteBatchLog> {
    await createBatchTables(db);
    const rows = await db.all<Omit<BatchRow, 'body'> & { bytes: number }>(
      'SELECT id, created_ms, owner, owner_batch, length(body) AS bytes FROM batches',
    );
    let last = 0;
    for (const r of rows) last = Math.max(last, r.id);
    const log = new SqliteBatchLog(db, last + 1, time);
    for (const r of rows) log.noteAdded(r.id, r.bytes, originOf(r), r.created_ms);
    return log;
  }

  get size(): number {
    return this.sizes.size;
  }

  get bytes(): number {
    return this.bodyBytes;
  }

  private noteAdded(id: number, bytes: number, copyOf: BatchOrigin | undefined, createdMs: number): void {
    this.sizes.set(id, bytes);
    this.bodyBytes += bytes;
    if (copyOf === undefined) {
      this.ownCreatedMs.set(id, createdMs);
      return;
    }
    const name = copyName(copyOf, createdMs);
    this.copies.set(name, id);
    this.copyNames.set(id, name);
  }

  private noteRemoved(id: number): void {
    const bytes = this.sizes.get(id);
    if (bytes === undefined) return;
    this.sizes.delete(id);
    this.bodyBytes -= bytes;
    this.ownCreatedMs.delete(id);
    const name = this.copyNames.get(id);
    if (name === undefined) return;
    this.copyNames.delete(id);
    this.copies.delete(name);
  }

  copyId(name: string): number | undefined {
    return this.copies.get(name);
  }

  get copyCount(): number {
    return this.copies.size;
  }

  holds(id: number, createdMs: number): boolean {
    return this.ownCreatedMs.get(id) === createdMs;
  }

  add(items: readonly KeyedVersion[], createdMs: number, copyOf?: BatchOrigin): { id: number; durable: Promise<void> } {
    const id = this.nextId++;
    const body = encodeBatch(items);
    this.noteAdded(id, body.length, copyOf, createdMs);
    const change: BatchLogChange = { add: true, id, createdMs, body, ...(copyOf ? { copyOf } : {}) };
    const durable = this.commit(change).catch((err: unknown) => {
      this.noteRemoved(id);
      throw err;
    });
    return { id, durable };
  }

  async remove(id: number): Promise<void> {
    this.leaving.add(id);
    try {
      await this.commit({ add: false, id });
      this.noteRemoved(id);
    } finally {
      this.leaving.delete(id);
    }
  }

  /** Queues a change; resolves once its group committed, rejects with the commit's error (StorageFull for a full disk). */
  private async commit(change: BatchLogChange): Promise<void> {
    if (!(await this.changes.push([change]))) throw writeFailure(this.lastFailure);
  }

  private async write(changes: BatchLogChange[]): Promise<boolean> {
    const statements: BoundStatement[] = changes.map((c) =>
      c.add
        ? [
            'INSERT INTO batches (id, created_ms, body, owner, owner_batch) VALUES (?, ?, ?, ?, ?)',
            [c.id, c.createdMs, c.body, c.copyOf?.owner ?? null, c.copyOf?.ownerBatch ?? null],
          ]
        : ['DELETE FROM batches WHERE id = ?', [c.id]],
    );
    try {
      await this.db.runTransaction(statements);
      return true;
    } catch (err) {
      this.lastFailure = err;
      return false;
    }
  }

  flush(): Promise<void> {
    return this.changes.flush();
  }

  async list(afterId: number, limit: number): Promise<LoggedBatch[]> {
    // As many more rows as may be leaving, so that a page is full whenever more batches follow it.
    const sql = 'SELECT id, created_ms, body, owner, owner_batch FROM batches WHERE id > ? ORDER BY id LIMIT ?';
    const rows = await this.db.all<BatchRow>(sql, [afterId, limit + this.leaving.size]);
    const out: LoggedBatch[] = [];
    for (const r of rows) {
      if (out.length === limit) break;
      if (this.leaving.has(r.id)) continue;
      const copyOf = originOf(r);
      out.push({ id: r.id, createdMs: r.created_ms, items: decodeBatch(r.body), ...(copyOf ? { copyOf } : {}) });
    }
    return out;
  }
}
