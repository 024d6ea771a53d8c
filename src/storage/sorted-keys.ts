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
 *
 * A sort is a `SortJob` that runs in steps, so that a node can sort in
 * slices between requests (see Memtable.refreshSortedKeys) instead of
 * stopping for most of a second.
 */
import { assert } from '../common/assert';
import { KEY_SORT_SPLIT_STEP_KEYS, KEY_SORT_STRINGS_MAX } from '../common/limits';

/** What the sort needs to read keys where they are. */
export interface KeySource {
  key(loc: number): string;
  keyLength(loc: number): number;
  /** Byte `i` of the key, or -1 past its end. */
  keyByte(loc: number, i: number): number;
}

/** Sorted keys in one buffer: key j is bytes [ends[j-1], ends[j]). */
export class SortedKeys {
  constructor(
    private readonly bytes: Buffer,
    private readonly ends: Uint32Array,
  ) {}

  /** Sorts the keys at `locs` in one go (each key once; `locs` is reordered). */
  static build(source: KeySource, locs: Float64Array, stringsMax = KEY_SORT_STRINGS_MAX): SortedKeys {
    const job = new SortJob(source, locs, stringsMax);
    assert(job.run(() => true), 'a sort allowed to run to the end ends');
    return job.result();
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
 * Writes the keys at `locs` in byte order. An explicit stack of (from, to,
 * depth) groups, smallest bytes on top, keeps the output in order without
 * recursion (a chain of keys like a, aa, aaa… would be as deep as it is
 * long), and lets the sort stop after any group and carry on later.
 */
export class SortJob {
  private readonly spare: Float64Array;
  private readonly stack: number[];
  private readonly out: Packer;
  private readonly total: number;
  private splitting: Split | null = null;

  /** `stringsMax` is smaller only in tests, to split groups of a few keys. */
  constructor(
    private readonly source: KeySource,
    private readonly locs: Float64Array,
    private readonly stringsMax = KEY_SORT_STRINGS_MAX,
  ) {
    let total = 0;
    for (const loc of locs) total += source.keyLength(loc);
    this.total = total;
    this.out = new Packer(Buffer.allocUnsafeSlow(total), new Uint32Array(locs.length));
    this.spare = new Float64Array(locs.length);
    this.stack = [0, locs.length, 0];
  }

  /**
   * Sorts in steps while `more()` says so; true once every key is out. A
   * step is one small group sorted as strings, or KEY_SORT_SPLIT_STEP_KEYS
   * keys of a large group counted or placed.
   */
  run(more: () => boolean): boolean {
    for (;;) {
      if (this.splitting !== null) {
        if (!more()) return false;
        this.continueSplit(this.splitting);
        continue;
      }
      if (this.stack.length === 0) return true;
      if (!more()) return false;
      const depth = this.stack.pop()!;
      const to = this.stack.pop()!;
      const from = this.stack.pop()!;
      if (to - from <= this.stringsMax) this.sortAsStrings(from, to);
      else this.splitting = this.beginSplit(from, to, depth);
    }
  }

  result(): SortedKeys {
    assert(this.stack.length === 0 && this.splitting === null, 'a sort is finished before its result is taken');
    assert(this.out.count === this.locs.length && this.out.end === this.total, 'the sort wrote every key once');
    return new SortedKeys(this.out.bytes, this.out.ends);
  }

  private sortAsStrings(from: number, to: number): void {
    const keys: string[] = [];
    for (let i = from; i < to; i++) keys.push(this.source.key(this.locs[i]!));
    // Default sort order is UTF-16 code units, which for latin1 strings is byte order.
    for (const k of keys.sort()) this.out.add(k);
  }

  /**
   * Starts splitting a group by its next byte after the bytes all its keys
   * share. Class 0 holds the key that ends there (at most one: keys are
   * distinct), class 1 + b the keys whose next byte is b.
   */
  private beginSplit(from: number, to: number, depth0: number): Split {
    const depth = depth0 + sharedPrefix(this.source, this.locs, from, to, depth0);
    return { from, to, depth, starts: new Int32Array(258), next: null, i: from };
  }

  /** Counts (first pass) or places (second pass) the next keys of the group being split. */
  private continueSplit(g: Split): void {
    const { source, locs, spare } = this;
    const end = Math.min(g.to, g.i + KEY_SORT_SPLIT_STEP_KEYS);
    if (g.next === null) {
      for (let i = g.i; i < end; i++) g.starts[source.keyByte(locs[i]!, g.depth) + 2]++;
      g.i = end;
      if (end < g.to) return;
      // starts[c] is where class c begins, starts[c + 1] where it ends.
      g.starts[0] = g.from;
      for (let c = 1; c < 258; c++) g.starts[c] += g.starts[c - 1]!;
      g.next = g.starts.slice(0, 257);
      g.i = g.from;
      return;
    }
    for (let i = g.i; i < end; i++) spare[g.next[source.keyByte(locs[i]!, g.depth) + 1]++] = locs[i]!;
    g.i = end;
    if (end < g.to) return;
    locs.set(spare.subarray(g.from, g.to), g.from);
    for (let c = 256; c >= 0; c--) {
      if (g.starts[c + 1]! > g.starts[c]!) this.stack.push(g.starts[c]!, g.starts[c + 1]!, g.depth + 1);
    }
    this.splitting = null;
  }
}

/** A large group being split: counted first, then placed. */
interface Split {
  readonly from: number;
  readonly to: number;
  readonly depth: number;
  readonly starts: Int32Array;
  /** Null while counting; then where the next key of each class goes. */
  next: Int32Array | null;
  /** The next key to count or place. */
  i: number;
}

/**
 * Keys copied out one after another into one growing buffer: the input of a
 * sort that runs in slices, which must not read the arena (a record may move
 * or be freed between two slices). A key's location is its index.
 */
export class KeyList implements KeySource {
  private bytes = Buffer.allocUnsafeSlow(64 * 1024);
  private ends = new Uint32Array(1024);
  count = 0;

  push(key: string): void {
    const start = this.start(this.count);
    if (start + key.length > this.bytes.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.bytes.length, start + key.length));
      this.bytes.copy(grown, 0, 0, start);
      this.bytes = grown;
    }
    if (this.count === this.ends.length) {
      const grown = new Uint32Array(2 * this.ends.length);
      grown.set(this.ends);
      this.ends = grown;
    }
    this.ends[this.count++] = start + this.bytes.write(key, start, 'latin1');
  }

  private start(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  key(i: number): string {
    return this.bytes.toString('latin1', this.start(i), this.ends[i]);
  }

  keyLength(i: number): number {
    return this.ends[i]! - this.start(i);
  }

  keyByte(i: number, d: number): number {
    const at = this.start(i) + d;
    return at < this.ends[i]! ? this.bytes[at]! : -1;
  }

  /** Locations 0 … count-1, for a SortJob. */
  locations(): Float64Array {
    const locs = new Float64Array(this.count);
    for (let i = 0; i < locs.length; i++) locs[i] = i;
    return locs;
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
