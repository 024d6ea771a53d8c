/**
 * A version is what a replica stores for one key: a value or a tombstone,
 * stamped with the coordinator's timestamp. Conflict resolution is
 * last-write-wins with a total order, so every replica that sees the same set
 * of versions keeps the same one, in whatever order they arrived:
 *   1. the higher timestamp wins;
 *   2. on equal timestamps a tombstone beats a value (a delete is never undone
 *      by a racing write with the same stamp);
 *   3. between two values, the larger bytes (unsigned, byte-wise) win.
 */

export interface Version {
  /** The value as a latin1 string (see common/bytes.ts); '' for a tombstone. */
  readonly value: string;
  /** Microseconds since the epoch, from the writing coordinator's clock. */
  readonly ts: number;
  readonly deleted: boolean;
}

/** A version with the key it belongs to: what writes, hints and repairs carry. */
export interface KeyedVersion {
  readonly key: string;
  readonly version: Version;
}

/** Negative if a loses to b, positive if a wins, 0 if they are the same version. */
export function compareVersions(a: Version, b: Version): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  if (a.value === b.value) return 0;
  return a.value < b.value ? -1 : 1;
}

/** The winner of two versions, either of which may be missing. */
export function newest(a: Version | undefined, b: Version | undefined): Version | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareVersions(a, b) >= 0 ? a : b;
}

/** True when `incoming` should replace `current`. */
export function supersedes(incoming: Version, current: Version | undefined): boolean {
  return current === undefined || compareVersions(incoming, current) > 0;
}
