/**
 * A version is what a replica stores for one key: a value or a tombstone,
 * stamped with the coordinator's timestamp. Conflict resolution is
 * last-write-wins with a total order, so every replica that sees the same set
 * of versions keeps the same one, in whatever order they arrived:
 *   1. the higher timestamp wins;
 *   2. on equal timestamps a tombstone beats a value (a delete is never undone
 *      by a racing write with the same stamp);
 *   3. between two values, the larger bytes (unsigned, byte-wise) win;
 *   4. between equal bytes, the later expiry wins (no expiry is latest).
 *
 * A value may expire (TTL): from its `expires` time on it reads as not
 * found, and it is purged like a tombstone. The order above does not look
 * at the clock, so replicas agree on the winner whenever they compare: an
 * expired value keeps its place, which is a tombstone's at its own
 * timestamp (newer writes beat it, older ones lose to it), so expiry never
 * brings an older version back.
 */

export interface Version {
  /** The value as a latin1 string (see common/bytes.ts); '' for a tombstone. */
  readonly value: string;
  /** Microseconds since the epoch, from the writing coordinator's clock. */
  readonly ts: number;
  readonly deleted: boolean;
  /** For a value with a TTL: microseconds since the epoch from which it reads as absent; absent or 0 for none. */
  readonly expires?: number;
}

/** A version with the key it belongs to: what writes, hints and repairs carry. */
export interface KeyedVersion {
  readonly key: string;
  readonly version: Version;
}

/** Negative if a loses to b, positive if a wins, 0 if they are the same version. */
/** The bytes of keys and values in `items`: what internode calls and streams are bounded and counted by. */
export function keyedBytes(items: readonly KeyedVersion[]): number {
  let n = 0;
  for (const it of items) n += it.key.length + it.version.value.length;
  return n;
}

export function compareVersions(a: Version, b: Version): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  const ea = expiryOf(a);
  const eb = expiryOf(b);
  return ea === eb ? 0 : ea < eb ? -1 : 1;
}

/** When a version stops being live: its expiry, or never. */
function expiryOf(v: Pick<Version, 'expires'>): number {
  return v.expires === undefined || v.expires === 0 ? Number.POSITIVE_INFINITY : v.expires;
}

/** Whether a version reads as a value at `nowUs`: not a tombstone, not expired. */
export function isLive(v: Pick<Version, 'deleted' | 'expires'>, nowUs: number): boolean {
  return !v.deleted && expiryOf(v) > nowUs;
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
