/**
 * A node's replica data: an in-memory map of the newest version of every key,
 * backed by SQLite. This class composes the parts, each in a file of its own:
 *
 * - group commit (group-commit.ts): `apply` resolves each incoming version
 *   against the newest one this node knows (committed or still queued);
 *   winners join the open batch. One batch at a time is written in a single
 *   transaction; its waiters are answered after COMMIT, and only then do its
 *   rows become visible to reads. So an acknowledgement always means
 *   "durable here", and a read never returns something a crash could take back.
 * - the log (schema.ts, sql-literal.ts): every accepted version is appended
 *   with the next sequence number. Appends touch only the end of the table,
 *   which makes a commit several times cheaper than updating rows in key order.
 * - compaction and tombstone purge (compaction.ts): superseded rows join the
 *   garbage list (garbage.ts) and are deleted in the background.
 * - replay (replay.ts): on start, `open` reads the log into memory, newest
 *   row first, before the node serves.
 * - marks (marks.ts, unsettled.ts): `applyMarked` and `settle`, and the
 *   settle pointer each commit may carry, so a restart knows which writes it
 *   coordinated may not have reached their other replicas.
 */
import { systemTime, Time, Timer } from '../clock/time';
import { isKvError, KvError } from '../common/errors';
import { DISK_FULL_PROBE_INTERVAL_MS, SETTLED_SEQ_WRITE_INTERVAL_MS, STORE_QUEUED_ROWS_MAX } from '../common/limits';
import { ThrottledWarning, WarningOptions } from '../common/warnings';
import { Compactor } from './compaction';
import { GarbageRows } from './garbage';
import { appendRows, appendRowsBound, Batch, CommitQueue } from './group-commit';
import { Marks } from './marks';
import { KeyedStored, Memtable, Stored, VersionBytes, VersionObserver } from './memtable';
import { dropOutcome, RangeDrop } from './replica-storage';
import { LARGEST_RECORD, largestRecordChars, SETTLED_SEQ, setMeta } from './meta';
import { replayLog } from './replay';
import { createLogTables } from './schema';
import { Sqlite } from './sqlite';
import { KeyedVersion, Version } from './version';

/** With WarningOptions: where the store tells the failures no caller sees (compactions, commits), and how often. */
export interface ReplicaStoreOptions extends WarningOptions {
  /** SETTLED_SEQ_WRITE_INTERVAL_MS; tests set 0 to store the pointer at every commit. */
  readonly settledWriteIntervalMs?: number;
  /** Clocks and timers (systemTime unless simulated). */
  readonly time?: Time;
  /** Told every change of a key's newest version, replay included (the repair trees). */
  readonly versionObserver?: VersionObserver;
}

export class ReplicaStore {
  private readonly committed: Memtable;
  /** Seqs of log rows that hold superseded versions. */
  private readonly garbage = new GarbageRows();
  private nextSeq = 1;
  /** The highest seq of a row committed and published: the log holds every row up to it (see publishedSeq). */
  private published = 0;
  /** Told the keys of each batch once it is durable and visible: the change feed's waiting calls (storage/change-feed.ts). */
  onPublished: ((keys: Iterable<string>) => void) | undefined;
  /** Characters of the largest key plus value ever written to the log (the `meta` row LARGEST_RECORD). */
  private largestRecord = 0;
  /** The next disk probe, while the disk is full (see scheduleDiskProbe). */
  private diskProbe: Timer | undefined;
  readonly counters = {
    rowsCommitted: 0,
    commits: 0,
    tombstonesPurged: 0,
    rowsCompacted: 0,
    compactions: 0,
    overloaded: 0,
    compactionFailures: 0,
    commitFailures: 0,
    /** Keys dropped by cleanups (of ranges the node no longer replicates). */
    keysDropped: 0,
    /** 1 while the last commit failed for a full disk (until one succeeds). */
    diskFull: 0,
  };
  private readonly commits: CommitQueue;
  private readonly compactor: Compactor;
  /**
   * A failed commit rejects its writers, but they are other nodes' coordinators
   * (or this one's, which hints the write): only this node can tell its disk failed.
   */
  private readonly commitFailures: ThrottledWarning;

  private constructor(
    private readonly db: Sqlite,
    private readonly marks: Marks,
    warnings: WarningOptions,
    private readonly time: Time,
    observer: VersionObserver | undefined,
  ) {
    this.committed = new Memtable(undefined, observer);
    this.commits = new CommitQueue(
      {
        write: (rows) => this.write(rows),
        publish: (batch) => this.publish(batch),
        failed: (err) => this.commitFailed(err),
        idle: () => this.compactor.compactIfDue(),
      },
      time,
    );
    this.compactor = new Compactor(
      db,
      this.committed,
      this.garbage,
      this.counters,
      (key) => this.commits.queuedVersion(key) !== undefined,
      warnings,
      (fn) => time.soon(fn),
    );
    this.commitFailures = new ThrottledWarning(
      'a commit to the log',
      'its writes and those queued after them were refused (counter commitFailures)',
      warnings,
    );
  }

  static async open(db: Sqlite, options: ReplicaStoreOptions = {}): Promise<ReplicaStore> {
    await createLogTables(db);
    const time = options.time ?? systemTime;
    const marks = await Marks.open(db, options.settledWriteIntervalMs ?? SETTLED_SEQ_WRITE_INTERVAL_MS, time.nowMs);
    const store = new ReplicaStore(db, marks, options, time, options.versionObserver);
    store.largestRecord = await largestRecordChars(db);
    store.committed.pauseOrder();
    store.nextSeq = await replayLog(db, store.committed, store.garbage, store.largestRecord);
    store.published = store.nextSeq - 1;
    store.committed.rebuildOrder();
    // Never number a row at or below a stored settle pointer, even if the rows
    // up to it have been deleted since: it would count as settled.
    store.nextSeq = Math.max(store.nextSeq, (store.marks.atOpen ?? 0) + 1);
    return store;
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

  /** getBytes without the copy; see Memtable.peekBytes for when that is safe. */
  peekBytes(key: string): VersionBytes | undefined {
    return this.committed.peekBytes(key);
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

  /**
   * Every log row with a seq up to this one is committed (or was deleted
   * since, by compaction, purge or cleanup): a reader of the log by seq must
   * stop here, since a commit in progress may be rolled back and its seqs used
   * again (see write).
   */
  get publishedSeq(): number {
    return this.published;
  }

  /** The highest seq of a tombstone purged since the store opened (0: none): a reader of the log behind it may have missed a delete. */
  get purgedSeqMax(): number {
    return this.compactor.purgedSeqMax;
  }

  /** Log rows holding superseded versions, not yet compacted away. */
  get garbageRows(): number {
    return this.garbage.size;
  }

  /**
   * Durable versions of keys greater than `after`, in byte order, at most
   * `limit`, tombstones included: the admin dump's page.
   */
  scan(after: string | undefined, limit: number): KeyedVersion[] {
    // after + NUL is the least key greater than after.
    return this.committed.range(after === undefined ? '' : `${after}\u0000`, undefined, limit, Number.POSITIVE_INFINITY).entries;
  }

  /** Durable versions of the keys in [from, to), in byte order, tombstones included (see Memtable.range). */
  range(from: string, to: string | undefined, limit: number, bytesMax: number): { entries: KeyedStored[]; more: boolean } {
    return this.committed.range(from, to, limit, bytesMax);
  }

  /**
   * Applies versions; resolves once every one of them is durable here (or
   * lost to a newer version that is durable). Rejects if SQLite fails.
   */
  apply(items: readonly KeyedVersion[]): Promise<void> {
    if (this.commits.queuedRows + items.length > STORE_QUEUED_ROWS_MAX) {
      this.counters.overloaded++;
      return Promise.reject(new KvError('Unavailable', 'this replica has too many writes waiting for its disk'));
    }
    return this.commits.enqueue(items, this.beatsCommitted);
  }

  private readonly beatsCommitted = (key: string, version: Version): boolean => this.committed.isBeatenBy(key, version);

  /** A committed batch becomes visible; the rows it supersedes become garbage. */
  private publish(batch: Batch): void {
    for (const [key, version] of batch.rows) {
      const seq = (version as Stored).seq;
      const replaced = this.committed.replace(key, version, seq);
      if (replaced > 0) this.garbage.add(replaced);
      if (seq > this.published) this.published = seq;
    }
    this.onPublished?.(batch.rows.keys());
    if (batch.marks.size > 0) this.marks.noteCommitted(batch);
    this.counters.rowsCommitted += batch.rows.size;
    this.counters.commits++;
    this.counters.diskFull = 0;
  }

  /**
   * While the disk is full, one small write (a meta row set to its own value)
   * every DISK_FULL_PROBE_INTERVAL_MS finds out when space is back, so that
   * the node reports it even when no write of its own comes to commit.
   */
  private scheduleDiskProbe(): void {
    if (this.diskProbe !== undefined) return;
    this.diskProbe = this.time.after(DISK_FULL_PROBE_INTERVAL_MS, () => {
      this.diskProbe = undefined;
      if (this.counters.diskFull === 0) return;
      this.db.execTransaction(setMeta(LARGEST_RECORD, this.largestRecord)).then(
        () => {
          this.counters.diskFull = 0;
        },
        () => this.scheduleDiskProbe(),
      );
    });
  }

  private commitFailed(err: unknown): void {
    this.counters.commitFailures++;
    if (isKvError(err, 'StorageFull')) {
      this.counters.diskFull = 1;
      this.scheduleDiskProbe();
    }
    this.commitFailures.failed(err);
  }

  /**
   * apply() for a write this node coordinates, marking the log row that
   * holds it (see marks.ts). Resolves once it is durable with that row's
   * seq, to be passed to `settle`, or with 0 when the version lost to a newer
   * one already here: then no row holds it and there is nothing to settle.
   */
  applyMarked(item: KeyedVersion): Promise<number> {
    if (this.commits.queuedRows + 1 > STORE_QUEUED_ROWS_MAX) return this.apply([item]).then(() => 0);
    return this.commits.enqueueMarked(item, this.beatsCommitted);
  }

  /** The write that marked row `seq` has reached every replica (or a durable hint): one mark fewer. */
  settle(seq: number): void {
    this.marks.settle(seq);
  }

  /** Marked rows not yet settled (for tests and the inspector's counters). */
  get unsettledRows(): number {
    return this.marks.size;
  }

  /** Keys of the log rows after the settle pointer found at open (see Marks.rowsAfterSettled). */
  rowsAfterSettled(): Promise<string[]> {
    return this.marks.rowsAfterSettled();
  }

  /** Appends a batch's rows to the log in one transaction, numbering them. */
  private async write(rows: Map<string, Version>): Promise<void> {
    if (rows.size === 0) return;
    const firstSeq = this.nextSeq;
    const pointer = this.marks.pointerToStore(firstSeq);
    const metaRows = (largest: number): string =>
      [
        ...(largest > this.largestRecord ? [setMeta(LARGEST_RECORD, largest)] : []),
        ...(pointer !== undefined ? [setMeta(SETTLED_SEQ, pointer)] : []),
      ].join('\n');
    let largest: number;
    // On failure nothing was written, and the numbers are used again.
    if (this.db.bindsCheaply) {
      const append = appendRowsBound(rows, firstSeq, this.largestRecord);
      largest = append.largest;
      await this.db.runTransaction(append.statements, metaRows(largest));
    } else {
      const { pieces, largest: l } = appendRows(rows, firstSeq, this.largestRecord);
      largest = l;
      const meta = metaRows(largest);
      // With the last piece, not after it: a commit of one piece stays one call to the driver.
      if (meta !== '') pieces.push(`${pieces.pop() ?? ''}\n${meta}`);
      await this.db.execTransaction(pieces);
    }
    this.nextSeq = firstSeq + rows.size;
    this.largestRecord = largest;
    if (pointer !== undefined) this.marks.stored(pointer);
  }

  /** Deletes the log rows of superseded versions (see Compactor.compact). */
  compact(): Promise<number> {
    return this.compactor.compact();
  }

  /** How many keys [from, to) holds, and the bytes of their keys and values (see Memtable.measureRange). */
  measureRange(from: string, to: string | undefined): { keys: number; bytes: number } {
    return this.committed.measureRange(from, to);
  }

  /**
   * Drops up to `limit` keys of [from, to) from disk and memory, without
   * tombstones (see Compactor.dropRows): a cleanup's batch. Says how many
   * keys and bytes went, and the key to go on from (undefined: none left).
   */
  async dropRange(from: string, to: string | undefined, limit: number): Promise<RangeDrop> {
    const { rows, more } = this.committed.rowsInRange(from, to, limit);
    const gone = await this.compactor.dropRows(rows);
    this.counters.keysDropped += gone.length;
    return dropOutcome(rows, gone, more);
  }

  /** Drops tombstones older than `cutoffTs` from disk and memory (see Compactor.purgeTombstones). */
  purgeTombstones(cutoffTs: number): Promise<number> {
    return this.compactor.purgeTombstones(cutoffTs);
  }

  /** Waits for everything queued to be committed (used on shutdown). */
  drain(): Promise<void> {
    this.diskProbe?.cancel();
    this.diskProbe = undefined;
    return this.commits.drain();
  }
}
