/**
 * Anti-entropy, the pure part: given a peer's digests of the keys in a range
 * and this replica's own versions of the keys in that range, decide which of
 * our versions the peer should get and which keys we need from it.
 *
 * A digest carries the timestamp, the tombstone flag and a hash of the value.
 * When timestamp and flag are equal but the hashes differ, neither side can
 * tell the winner without the bytes, so both versions travel, and each side
 * keeps the winner by the usual rule (storage/version.ts).
 */
import { valueHash } from '../partitioner/hash';
import { Version } from '../storage/version';

export interface KeyDigest {
  readonly key: string;
  readonly ts: number;
  readonly deleted: boolean;
  readonly valueHash: number;
}

export function digestOf(key: string, v: Version): KeyDigest {
  return { key, ts: v.ts, deleted: v.deleted, valueHash: valueHash(v.value) };
}

/** Positive: ours is newer; negative: theirs is; 0: the same; NaN: cannot tell without the values. */
export function compareWithDigest(ours: Version, theirs: KeyDigest): number {
  if (ours.ts !== theirs.ts) return ours.ts < theirs.ts ? -1 : 1;
  if (ours.deleted !== theirs.deleted) return ours.deleted ? 1 : -1;
  if (ours.deleted || valueHash(ours.value) === theirs.valueHash) return 0;
  return NaN;
}

export interface RangeDiff {
  /** Keys whose version we should send to the peer (ours newer, or the peer lacks it). */
  readonly send: string[];
  /** Keys whose version the peer should send us (theirs newer, or we lack it). */
  readonly fetch: string[];
}

/**
 * Compares a peer's digests with our keys of the same range.
 * `ours` lists our keys in the range (those the peer also replicates).
 */
export function diffRange(ours: readonly string[], get: (key: string) => Version | undefined, theirs: readonly KeyDigest[]): RangeDiff {
  const send: string[] = [];
  const fetch: string[] = [];
  const seen = new Set<string>();
  for (const d of theirs) {
    seen.add(d.key);
    const v = get(d.key);
    if (v === undefined) {
      fetch.push(d.key);
      continue;
    }
    const c = compareWithDigest(v, d);
    if (c > 0 || Number.isNaN(c)) send.push(d.key);
    if (c < 0 || Number.isNaN(c)) fetch.push(d.key);
  }
  for (const key of ours) if (!seen.has(key)) send.push(key);
  return { send, fetch };
}
