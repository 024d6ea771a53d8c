/**
 * A hash tree over one replicated range, kept current on every write (as in
 * Riak's Tictac anti-entropy): the key-hash space is cut into 2^TREE_LEAF_BITS
 * segments (a key's segment is the high bits of its hashKey, so a segment's
 * keys are one run of the memtable's index); a leaf is the XOR of a 64-bit
 * hash of (key, timestamp, tombstone flag) over the segment's keys; a branch
 * is the XOR of its leaves, the root the XOR of all of them.
 *
 * XOR makes every change O(1): a key's new version XORs out the old entry's
 * hash and XORs in the new one, into its leaf, its branch and the root, with
 * no other key read. It also makes trees of disjoint key sets combine by
 * XOR, leaf by leaf: the tree of a merged range is the XOR of its parts', and
 * the tree of one part of a split is the whole's XOR the other part's.
 *
 * Two replicas whose trees are equal hold the same (key, timestamp, flag)
 * set, up to a 2^-64 chance per differing entry. Two versions of one key
 * with the same timestamp and flag but different values (possible only when
 * two coordinators stamp the same microsecond) look alike here; read repair
 * still settles them.
 */
import { assert } from '../common/assert';
import { TREE_BRANCH_BITS, TREE_LEAF_BITS } from '../common/limits';
import { HASH_SPACE } from '../partitioner/hash';

export const LEAVES = 2 ** TREE_LEAF_BITS;
export const BRANCHES = 2 ** TREE_BRANCH_BITS;
export const LEAVES_PER_BRANCH = LEAVES / BRANCHES;
/** The levels a peer can be asked for. */
export const ROOT = 0;
export const BRANCH = 1;
export const LEAF = 2;
export type Level = typeof ROOT | typeof BRANCH | typeof LEAF;
/** Bytes per hash on the wire: two unsigned 32-bit words, little-endian. */
export const HASH_BYTES = 8;

/** The segment (leaf) of a key with this hashKey. */
export function segmentOf(keyHash: number): number {
  return keyHash >>> (32 - TREE_LEAF_BITS);
}

/** The key hashes [from, to) of a segment. */
export function segmentHashRange(segment: number): { from: number; to: number } {
  const span = HASH_SPACE / LEAVES;
  return { from: segment * span, to: (segment + 1) * span };
}

export function branchOf(segment: number): number {
  return Math.floor(segment / LEAVES_PER_BRANCH);
}

/** The segments under a branch. */
export function leavesOf(branch: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < LEAVES_PER_BRANCH; i++) out.push(branch * LEAVES_PER_BRANCH + i);
  return out;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A second hash of the key's bytes, independent of hashKey (another basis
 * and prime), so that two keys colliding on hashKey still hash apart.
 */
export function secondKeyHash(key: string): number {
  let h = 0x5bd1e995;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000197);
  return fmix(h);
}

/** The 64-bit entry hash of (key, ts, deleted), as two words, from the key's two hashes. */
function entryWords(keyHash: number, key2: number, ts: number, deleted: boolean, out: Uint32Array): void {
  const lo = ts >>> 0;
  const hi = Math.floor(ts / HASH_SPACE) >>> 0;
  const flag = deleted ? 0x27d4eb2f : 0x165667b1;
  out[0] = fmix(keyHash ^ fmix(lo ^ Math.imul(hi, 0x9e3779b1) ^ flag));
  out[1] = fmix(key2 ^ fmix(Math.imul(lo, 0x85ebca6b) ^ hi ^ (flag << 1)));
}

/** A version as the tree sees it; `undefined` where a key has none. */
export interface EntryState {
  readonly ts: number;
  readonly deleted: boolean;
}

export class HashTree {
  /** Two words per leaf, per branch, and for the root. */
  readonly leaves = new Uint32Array(LEAVES * 2);
  readonly branches = new Uint32Array(BRANCHES * 2);
  readonly root = new Uint32Array(2);
  private readonly scratch = new Uint32Array(2);

  /** Bytes this tree holds. */
  static readonly bytes = (LEAVES + BRANCHES + 1) * HASH_BYTES;

  /**
   * A key's version changed from `before` to `after` (either may be absent):
   * its old entry leaves the tree and its new one joins it.
   */
  change(key: string, keyHash: number, before: EntryState | undefined, after: EntryState | undefined): void {
    if (before === undefined && after === undefined) return;
    const key2 = secondKeyHash(key);
    let a = 0;
    let b = 0;
    if (before !== undefined) {
      entryWords(keyHash, key2, before.ts, before.deleted, this.scratch);
      a = this.scratch[0]!;
      b = this.scratch[1]!;
    }
    if (after !== undefined) {
      entryWords(keyHash, key2, after.ts, after.deleted, this.scratch);
      a ^= this.scratch[0]!;
      b ^= this.scratch[1]!;
    }
    this.toggle(segmentOf(keyHash), a >>> 0, b >>> 0);
  }

  private toggle(segment: number, a: number, b: number): void {
    if (a === 0 && b === 0) return;
    const branch = branchOf(segment);
    this.leaves[segment * 2] ^= a;
    this.leaves[segment * 2 + 1] ^= b;
    this.branches[branch * 2] ^= a;
    this.branches[branch * 2 + 1] ^= b;
    this.root[0] ^= a;
    this.root[1] ^= b;
  }

  /** Folds another tree in: afterwards this is the tree of both key sets (if disjoint), or of one without the other (if a part). */
  xorWith(other: HashTree): void {
    for (let i = 0; i < this.leaves.length; i++) this.leaves[i] ^= other.leaves[i]!;
    for (let i = 0; i < this.branches.length; i++) this.branches[i] ^= other.branches[i]!;
    this.root[0] ^= other.root[0]!;
    this.root[1] ^= other.root[1]!;
  }

  equals(other: HashTree): boolean {
    return sameWords(this.leaves, other.leaves) && sameWords(this.branches, other.branches) && sameWords(this.root, other.root);
  }

  /** The hashes at `indices` of a level, packed HASH_BYTES each. */
  hashes(level: Level, indices: readonly number[]): Buffer {
    const words = this.words(level);
    const out = Buffer.alloc(indices.length * HASH_BYTES);
    indices.forEach((at, n) => {
      assert(Number.isInteger(at) && at >= 0 && at * 2 < words.length, 'a tree index within its level');
      out.writeUInt32LE(words[at * 2]!, n * HASH_BYTES);
      out.writeUInt32LE(words[at * 2 + 1]!, n * HASH_BYTES + 4);
    });
    return out;
  }

  /** Of `indices` of a level, those where `theirs` (packed as `hashes` packs them) differs from ours. */
  differing(level: Level, indices: readonly number[], theirs: Buffer): number[] {
    assert(theirs.length === indices.length * HASH_BYTES, 'one hash per index asked');
    const words = this.words(level);
    return indices.filter(
      (at, n) => words[at * 2] !== theirs.readUInt32LE(n * HASH_BYTES) || words[at * 2 + 1] !== theirs.readUInt32LE(n * HASH_BYTES + 4),
    );
  }

  /** How many entries of a level there are: the valid indices are below it. */
  static size(level: Level): number {
    return level === ROOT ? 1 : level === BRANCH ? BRANCHES : LEAVES;
  }

  private words(level: Level): Uint32Array {
    return level === ROOT ? this.root : level === BRANCH ? this.branches : this.leaves;
  }
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
