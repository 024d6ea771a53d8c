/**
 * A sorted copy of the memtable's keys, packed into one Buffer, for paging
 * through keys in byte order (anti-entropy).
 *
 * Built without a string per key: the keys are split by their bytes, most
 * significant first (MSD radix), into groups of at most KEY_SORT_STRINGS_MAX,
 * and only a group at a time is made into strings and sorted. Sorting all
 * keys as strings at once took 0.9 s for a million keys and left about 70 MB
 * of garbage behind; sorting slot numbers with a comparator over the arena's
 * bytes took 3.4 s.
 */
import { assert } from '../common/assert';
import { KEY_SORT_STRINGS_MAX } from '../common/limits';

/** What the sort needs to read keys where they are. */
export interface KeySource {
  key(loc: number): string;
  keyLength(loc: number): number;
  /** Byte `i` of the key, or -1 past its end. */
  keyByte(loc: number, i: number): number;
}

/** Sorted keys in one buffer: key j is bytes [ends[j-1], ends[j]). */
export class SortedKeys {
  private constructor(
    private readonly bytes: Buffer,
    private readonly ends: Uint32Array,
  ) {}

  /**
   * Sorts the keys at `locs` (each key once; `locs` is reordered).
   * `stringsMax` is smaller only in tests, to split groups of a few keys.
   */
  static build(source: KeySource, locs: Float64Array, stringsMax = KEY_SORT_STRINGS_MAX): SortedKeys {
    let total = 0;
    for (const loc of locs) total += source.keyLength(loc);
    const out = new Packer(Buffer.allocUnsafeSlow(total), new Uint32Array(locs.length));
    radixSort(source, locs, out, stringsMax);
    assert(out.count === locs.length && out.end === total, 'the sort wrote every key once');
    return new SortedKeys(out.bytes, out.ends);
  }

  get length(): number {
    return this.ends.length;
  }

  private start(j: number): number {
    return j === 0 ? 0 : this.ends[j - 1]!;
  }

  slice(from: number, to: number): string[] {
    const out: string[] = [];
    for (let j = from; j < to; j++) out.push(this.bytes.toString('latin1', this.start(j), this.ends[j]));
    return out;
  }

  /** Index of the first key greater than `k`. */
  firstAbove(k: string): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareAt(mid, k) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Byte order of key j against the latin1 string k. */
  private compareAt(j: number, k: string): number {
    const start = this.start(j);
    const len = this.ends[j]! - start;
    const n = Math.min(len, k.length);
    for (let i = 0; i < n; i++) {
      const d = this.bytes[start + i]! - k.charCodeAt(i);
      if (d !== 0) return d;
    }
    return len - k.length;
  }
}

class Packer {
  count = 0;
  end = 0;

  constructor(
    readonly bytes: Buffer,
    readonly ends: Uint32Array,
  ) {}

  add(key: string): void {
    this.end += this.bytes.write(key, this.end, 'latin1');
    this.ends[this.count++] = this.end;
  }
}

/**
 * Writes the keys at `locs` to `out` in byte order. An explicit stack of
 * (from, to, depth) groups, smallest bytes on top, keeps the output in order
 * without recursion (a chain of keys like a, aa, aaa… would be as deep as
 * it is long).
 */
function radixSort(source: KeySource, locs: Float64Array, out: Packer, stringsMax: number): void {
  const spare = new Float64Array(locs.length);
  const stack: number[] = [0, locs.length, 0];
  while (stack.length > 0) {
    const depth0 = stack.pop()!;
    const to = stack.pop()!;
    const from = stack.pop()!;
    if (to - from <= stringsMax) {
      const keys: string[] = [];
      for (let i = from; i < to; i++) keys.push(source.key(locs[i]!));
      // Default sort order is UTF-16 code units, which for latin1 strings is byte order.
      for (const k of keys.sort()) out.add(k);
      continue;
    }
    // Bytes every key of the group shares need no pass each.
    const depth = depth0 + sharedPrefix(source, locs, from, to, depth0);
    // counts[0]: keys that end at `depth` (at most one: keys are distinct); counts[1 + b]: next byte b.
    const starts = new Int32Array(258);
    for (let i = from; i < to; i++) starts[source.keyByte(locs[i]!, depth) + 2]++;
    starts[0] = from;
    for (let b = 1; b < 258; b++) starts[b] += starts[b - 1]!;
    const next = starts.slice(0, 257);
    for (let i = from; i < to; i++) spare[next[source.keyByte(locs[i]!, depth) + 1]++] = locs[i]!;
    locs.set(spare.subarray(from, to), from);
    for (let b = 256; b >= 0; b--) {
      if (starts[b + 1]! > starts[b]!) stack.push(starts[b]!, starts[b + 1]!, depth + 1);
    }
  }
}

/**
 * How many bytes from `depth` on all keys in locs[from, to) share: at most
 * the shortest key's rest, so a pass costs no more than that per key.
 */
function sharedPrefix(source: KeySource, locs: Float64Array, from: number, to: number, depth: number): number {
  const first = locs[from]!;
  // The usual case, checked first: the group splits at its next byte.
  if (source.keyByte(first, depth) !== source.keyByte(locs[to - 1]!, depth)) return 0;
  let n = Infinity;
  for (let i = from; i < to; i++) n = Math.min(n, source.keyLength(locs[i]!) - depth);
  for (let i = from + 1; i < to && n > 0; i++) {
    let same = 0;
    while (same < n && source.keyByte(locs[i]!, depth + same) === source.keyByte(first, depth + same)) same++;
    n = same;
  }
  return Math.max(0, n);
}
