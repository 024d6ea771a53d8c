/**
 * The replica store's contract with its node: what the coordinator, the
 * anti-entropy, the handler and the node ask of a replica's data and its
 * durability. Production keeps it in SQLite (replica-store.ts); the
 * deterministic simulator keeps it in memory and models crashes
 * (sim/memory-store.ts). An `apply` that resolves means durable here;
 * `applyMarked`'s seq and `rowsAfterSettled` are the marks of marks.ts.
 */
import type { VersionBytes } from './memtable';
import type { KeyedVersion, Version } from './version';

export interface ReplicaStorage {
  readonly counters: Readonly<Record<string, number>>;
  readonly size: number;
  readonly garbageRows: number;
  readonly unsettledRows: number;
  get(key: string): Version | undefined;
  has(key: string): boolean;
  getBytes(key: string): VersionBytes | undefined;
  /** getBytes, the value perhaps a view that the store's next change overwrites: use it at once. */
  peekBytes(key: string): VersionBytes | undefined;
  keysInHashRange(from: number, to: number, max: number): { keys: string[]; end: number };
  arenaCounters(): Readonly<Record<string, number>>;
  apply(items: readonly KeyedVersion[]): Promise<void>;
  applyMarked(item: KeyedVersion): Promise<number>;
  settle(seq: number): void;
  /** Up to `limit` versions of the keys after `after`, in byte order (the admin dump). */
  scan(after: string | undefined, limit: number): KeyedVersion[];
  /** Versions of the keys in [from, to) in byte order, tombstones included, at most `limit` or about `bytesMax` (a scan's replica page). */
  range(from: string, to: string | undefined, limit: number, bytesMax: number): { entries: KeyedVersion[]; more: boolean };
  rowsAfterSettled(): Promise<string[]>;
  /** How many keys [from, to) holds, and the bytes of their keys and values (what a cleanup there would free). */
  measureRange(from: string, to: string | undefined): { keys: number; bytes: number };
  /**
   * Drops up to `limit` keys of [from, to) durably, without tombstones: a
   * local removal of data this replica no longer replicates, which nothing
   * sends to other replicas and a replay of the log does not bring back. A
   * key with a write waiting to commit stays.
   */
  dropRange(from: string, to: string | undefined, limit: number): Promise<RangeDrop>;
  purgeTombstones(cutoffTs: number): Promise<number>;
  drain(): Promise<void>;
}

/**
 * A few named numbers a node keeps beside its data and reads at start (when
 * it was last alive, when it last completed a full repair). `write` resolves
 * once the number is durable.
 */
export interface NodeMeta {
  read(name: string): Promise<number | undefined>;
  write(name: string, value: number): Promise<void>;
}

/** What one dropRange batch did: keys and bytes dropped, and the key to go on from (undefined: the range is done). */
export interface RangeDrop {
  readonly keys: number;
  readonly bytes: number;
  readonly next: string | undefined;
}

/** A dropRange's outcome, from the keys it listed and those it dropped. */
export function dropOutcome(listed: readonly { key: string }[], gone: readonly { bytes: number }[], more: boolean): RangeDrop {
  const last = listed[listed.length - 1];
  return {
    keys: gone.length,
    bytes: gone.reduce((n, r) => n + r.bytes, 0),
    next: more && last !== undefined ? `${last.key}\u0000` : undefined,
  };
}
