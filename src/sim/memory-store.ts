/**
 * The replica store of a simulated node: ReplicaStorage kept in memory over
 * a SimDisk. Batching and the order of acknowledgements are the real ones
 * (storage/group-commit.ts: a version is acknowledged once the transaction
 * holding it committed, and only then visible to reads); marks keep the
 * settle pointer in the same transactions as the rows, as marks.ts does, so
 * a restart finds the same unsettled rows as a real node would.
 */
import type { Time } from '../clock/time';
import { KvError } from '../common/errors';
import { SETTLED_SEQ_WRITE_INTERVAL_MS, STORE_QUEUED_ROWS_MAX } from '../common/limits';
import { HASH_SPACE, hashKey } from '../partitioner/hash';
import { Batch, CommitQueue } from '../storage/group-commit';
import { type Stored, storedAt, type VersionBytes, type VersionObserver } from '../storage/memtable';
import { dropOutcome, RangeDrop, ReplicaStorage } from '../storage/replica-storage';
import { UnsettledRows } from '../storage/unsettled';
import { KeyedVersion, supersedes, Version } from '../storage/version';
import type { LogRow, SimDisk } from './disk';

/** The newest row of each key and what else a replay learns from the log. */
function replay(disk: SimDisk): { committed: Map<string, Stored>; nextSeq: number; pointer: number | undefined; rows: LogRow[] } {
  const committed = new Map<string, Stored>();
  const rows: LogRow[] = [];
  let nextSeq = 1;
  let pointer: number | undefined;
  for (const txn of disk.contents()) {
    for (const row of txn.rows ?? []) {
      rows.push(row);
      nextSeq = Math.max(nextSeq, row.seq + 1);
      if (supersedes(row.version, committed.get(row.key))) committed.set(row.key, { ...row.version, seq: row.seq });
    }
    for (const key of txn.purged ?? []) committed.delete(key);
    if (txn.settledSeq !== undefined) pointer = txn.settledSeq;
  }
  const purged = new Set(disk.contents().flatMap((t) => t.purged ?? []));
  return { committed, nextSeq, pointer, rows: rows.filter((r) => !purged.has(r.key) || committed.has(r.key)) };
}

export class MemoryReplicaStore implements ReplicaStorage {
  readonly counters = { rowsCommitted: 0, commits: 0, tombstonesPurged: 0, overloaded: 0 };
  private readonly commits: CommitQueue;
  private readonly unsettled = new UnsettledRows();
  private storedPointer = -1;
  private storedMs = Number.NEGATIVE_INFINITY;
  private nextSeq: number;

  private constructor(
    private readonly disk: SimDisk,
    private readonly time: Time,
    private readonly committed: Map<string, Stored>,
    opened: { nextSeq: number; pointer: number | undefined; rows: LogRow[] },
    private readonly observer: VersionObserver | undefined,
  ) {
    this.commits = new CommitQueue(
      {
        write: (rows) => this.write(rows),
        publish: (batch) => this.publish(batch),
        failed: () => undefined,
        idle: () => undefined,
      },
      time,
    );
    this.pointerAtOpen = opened.pointer;
    this.rowsAtOpen = opened.rows;
    // As ReplicaStore: never number a row at or below a stored settle pointer.
    this.nextSeq = Math.max(opened.nextSeq, (opened.pointer ?? 0) + 1);
  }

  private readonly pointerAtOpen: number | undefined;
  private readonly rowsAtOpen: LogRow[];

  static async open(disk: SimDisk, time: Time, observer?: VersionObserver): Promise<MemoryReplicaStore> {
    const r = replay(disk);
    const store = new MemoryReplicaStore(disk, time, r.committed, r, observer);
    for (const [key, v] of r.committed) observer?.changed(key, hashKey(key), undefined, v);
    return store;
  }

  /** Tells the observer (the repair trees) that a key's newest version changed. */
  private changed(key: string, before: Version | undefined, after: Version | undefined): void {
    this.observer?.changed(key, hashKey(key), before, after);
  }

  get size(): number {
    return this.committed.size;
  }

  get garbageRows(): number {
    return 0;
  }

  get unsettledRows(): number {
    return this.unsettled.size;
  }

  arenaCounters(): Record<string, number> {
    return {};
  }

  get(key: string): Version | undefined {
    return this.committed.get(key);
  }

  has(key: string): boolean {
    return this.committed.has(key);
  }

  getBytes(key: string): VersionBytes | undefined {
    const v = this.committed.get(key);
    return v && { value: Buffer.from(v.value, 'latin1'), ts: v.ts, deleted: v.deleted };
  }

  /** A fresh copy here: nothing in this store is overwritten in place. */
  peekBytes(key: string): VersionBytes | undefined {
    return this.getBytes(key);
  }

  /** As Memtable.keysInHashRange: hash order, cut at a hash boundary past `max`. */
  keysInHashRange(from: number, to: number, max: number): { keys: string[]; end: number } {
    const inRange = [...this.committed.keys()].map((key) => ({ key, h: hashKey(key) })).filter(({ h }) => h >= from && h < to);
    inRange.sort((a, b) => a.h - b.h || (a.key < b.key ? -1 : 1));
    if (inRange.length <= max) return { keys: inRange.map((k) => k.key), end: to };
    let cut = max;
    while (cut < inRange.length && inRange[cut]!.h === inRange[cut - 1]!.h) cut++;
    return { keys: inRange.slice(0, cut).map((k) => k.key), end: cut < inRange.length ? inRange[cut]!.h : Math.min(to, HASH_SPACE) };
  }

  scan(after: string | undefined, limit: number): KeyedVersion[] {
    // after + NUL is the least key greater than after, as ReplicaStore.scan.
    return this.range(after === undefined ? '' : `${after}\u0000`, undefined, limit, Number.POSITIVE_INFINITY).entries;
  }

  /** As Memtable.range, by sorting (keys are latin1 strings, so code-unit order is byte order). */
  range(from: string, to: string | undefined, limit: number, bytesMax: number): { entries: KeyedVersion[]; more: boolean } {
    const keys = [...this.committed.keys()].filter((k) => k >= from && (to === undefined || k < to)).sort();
    const entries: KeyedVersion[] = [];
    let bytes = 0;
    for (const key of keys) {
      if (entries.length === limit || (entries.length > 0 && bytes >= bytesMax)) return { entries, more: true };
      const version = this.committed.get(key)!;
      bytes += key.length + version.value.length;
      entries.push({ key, version });
    }
    return { entries, more: false };
  }

  apply(items: readonly KeyedVersion[]): Promise<void> {
    if (this.commits.queuedRows + items.length > STORE_QUEUED_ROWS_MAX) {
      this.counters.overloaded++;
      return Promise.reject(new KvError('Unavailable', 'this replica has too many writes waiting for its disk'));
    }
    return this.commits.enqueue(items, this.beatsCommitted);
  }

  private readonly beatsCommitted = (key: string, version: Version): boolean => supersedes(version, this.committed.get(key));

  applyMarked(item: KeyedVersion): Promise<number> {
    return this.commits.enqueueMarked(item, this.beatsCommitted);
  }

  settle(seq: number): void {
    this.unsettled.settle(seq);
  }

  async rowsAfterSettled(): Promise<string[]> {
    const pointer = this.pointerAtOpen;
    if (pointer === undefined) return [];
    return [...new Set(this.rowsAtOpen.filter((r) => r.seq > pointer).map((r) => r.key))];
  }

  /** Rows numbered from nextSeq, and the settle pointer when due (as Marks.pointerToStore), in one transaction. */
  private async write(rows: Map<string, Version>): Promise<void> {
    if (rows.size === 0) return;
    const firstSeq = this.nextSeq;
    const logRows: LogRow[] = [];
    let seq = firstSeq;
    for (const [key, v] of rows) {
      const stored = storedAt(v, seq);
      rows.set(key, stored);
      logRows.push({ seq: seq++, key, version: stored });
    }
    const pointer = this.unsettled.pointer(firstSeq - 1);
    const storePointer = pointer > this.storedPointer && this.time.nowMs() - this.storedMs >= SETTLED_SEQ_WRITE_INTERVAL_MS;
    await this.disk.commit(storePointer ? { rows: logRows, settledSeq: pointer } : { rows: logRows });
    this.nextSeq = seq;
    if (storePointer) {
      this.storedPointer = pointer;
      this.storedMs = this.time.nowMs();
    }
  }

  private publish(batch: Batch): void {
    for (const [key, version] of batch.rows) {
      this.changed(key, this.committed.get(key), version);
      this.committed.set(key, version as Stored);
    }
    if (batch.marks.size > 0) {
      const bySeq = new Map<number, number>();
      for (const [key, n] of batch.marks) bySeq.set((batch.rows.get(key) as Stored).seq, n);
      this.unsettled.note(bySeq);
    }
    this.counters.rowsCommitted += batch.rows.size;
    this.counters.commits++;
  }

  async purgeTombstones(cutoffTs: number): Promise<number> {
    const keys = [...this.committed].filter(([key, v]) => v.deleted && v.ts < cutoffTs && this.commits.queuedVersion(key) === undefined);
    if (keys.length === 0) return 0;
    await this.disk.commit({ purged: keys.map(([key]) => key) });
    let n = 0;
    for (const [key, v] of keys) {
      // Only if nothing newer came meanwhile.
      if (this.committed.get(key) !== v) continue;
      this.committed.delete(key);
      this.changed(key, v, undefined);
      n++;
    }
    this.counters.tombstonesPurged += n;
    return n;
  }

  /** As ReplicaStore.measureRange: keys and values' bytes in [from, to). */
  measureRange(from: string, to: string | undefined): { keys: number; bytes: number } {
    let keys = 0;
    let bytes = 0;
    for (const [key, v] of this.committed)
      if (key >= from && (to === undefined || key < to)) {
        keys++;
        bytes += key.length + v.value.length;
      }
    return { keys, bytes };
  }

  /** As ReplicaStore.dropRange: a purge of the keys (every row of each, so a replay does not bring them back). */
  async dropRange(from: string, to: string | undefined, limit: number): Promise<RangeDrop> {
    const { entries, more } = this.range(from, to, limit, Number.POSITIVE_INFINITY);
    const listed = entries.map(({ key, version }) => ({ key, version, bytes: key.length + version.value.length }));
    const drop = listed.filter(({ key }) => this.commits.queuedVersion(key) === undefined);
    if (drop.length > 0) await this.disk.commit({ purged: drop.map(({ key }) => key) });
    const gone = drop.filter(({ key, version }) => this.committed.get(key) === version);
    for (const { key, version } of gone) {
      this.committed.delete(key);
      this.changed(key, version, undefined);
    }
    return dropOutcome(listed, gone, more);
  }

  drain(): Promise<void> {
    return this.commits.drain();
  }
}
