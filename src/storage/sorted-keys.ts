/**
 * A sorted copy of the memtable's keys, packed into one Buffer: how a
 * replay builds the memtable's key order at once (Memtable.rebuildOrder).
 *
 * Built without a string per key: the keys are split by their bytes, most
 * significant first (MSD radix), into groups of at most KEY_SORT_STRINGS_MAX,
 * and only a group at a time is made into strings and sorted. Sorting all
 * keys as strings at once took 0.9 s for a million keys and left about 70 MB
 * of garbage behind; sorting slot numbers with a comparator over the arena's
 * bytes took 3.4 s.
 *
 * A sort is a `SortJob` that runs in steps (a node once sorted in slices
 * between requests; a replay now runs it in one go, before the node serves).
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

  /** Sorts the keys at `locs` in one go (each key once); `locs` ends in the keys' order. */
  static build(source: KeySource, locs: Float64Array, stringsMax = KEY_SORT_STRINGS_MAX): SortedKeys {
    let total = 0;
    for (const loc of locs) total += source.keyLength(loc);
    const job = new SortJob(source, locs, total, stringsMax);
    assert(
      job.run(() => true),
      'a sort allowed to run to the end ends',
    );
    return job.result();
  }

  get length(): number {
    return this.ends.length;
  }

  private start(j: number): number {
    return j === 0 ? 0 : this.ends[j - 1]!;
  }

  /** Key j as a latin1 string. */
  keyAt(j: number): string {
    return this.bytes.toString('latin1', this.start(j), this.ends[j]);
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
  private splitting: Split | null = null;

  /**
   * `totalBytes`: the keys' lengths summed (the caller may know it without a
   * pass over them). `stringsMax` is smaller only in tests, to split groups
   * of a few keys.
   */
  constructor(
    private readonly source: KeySource,
    private readonly locs: Float64Array,
    private readonly total: number,
    private readonly stringsMax = KEY_SORT_STRINGS_MAX,
  ) {
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

  /** Sorts a small group as strings, and puts its locations in the same order (keys are distinct). */
  private sortAsStrings(from: number, to: number): void {
    const keys: string[] = [];
    const locOf = new Map<string, number>();
    for (let i = from; i < to; i++) {
      const key = this.source.key(this.locs[i]!);
      keys.push(key);
      locOf.set(key, this.locs[i]!);
    }
    // Default sort order is UTF-16 code units, which for latin1 strings is byte order.
    let at = from;
    for (const k of keys.sort()) {
      this.out.add(k);
      this.locs[at++] = locOf.get(k)!;
    }
  }

  /**
   * Starts splitting a group by its next byte after the bytes all its keys
   * share. Class 0 holds the key that ends there (at most one: keys are
   * distinct), class 1 + b the keys whose next byte is b.
   */
  private beginSplit(from: number, to: number, depth: number): Split {
    const { source, locs } = this;
    const first = locs[from]!;
    // The usual case, checked first: the group splits at its next byte.
    const splitsHere = source.keyByte(first, depth) !== source.keyByte(locs[to - 1]!, depth);
    return {
      from,
      to,
      depth,
      phase: splitsHere ? 'count' : 'shortest',
      i: from,
      shared: Infinity,
      starts: new Int32Array(258),
      next: null,
    };
  }

  /**
   * One step of a split, at most KEY_SORT_SPLIT_STEP_KEYS keys (or key bytes)
   * looked at. Phases: the shortest key's length from `depth`, then how many
   * of those bytes every key shares with the first (skipped in one jump
   * rather than a split per byte), then counting each class, then placing
   * the keys by class.
   */
  private continueSplit(g: Split): void {
    const { source, locs, spare } = this;
    const end = Math.min(g.to, g.i + KEY_SORT_SPLIT_STEP_KEYS);
    switch (g.phase) {
      case 'shortest':
        for (let i = g.i; i < end; i++) g.shared = Math.min(g.shared, source.keyLength(locs[i]!) - g.depth);
        g.i = end;
        if (end === g.to) this.nextPhase(g, g.shared > 0 ? 'shared' : 'count');
        return;
      case 'shared': {
        const first = locs[g.from]!;
        let budget = KEY_SORT_SPLIT_STEP_KEYS;
        let i = g.i === g.from ? g.from + 1 : g.i;
        for (; i < g.to && g.shared > 0 && budget > 0; i++) {
          let same = 0;
          while (same < g.shared && source.keyByte(locs[i]!, g.depth + same) === source.keyByte(first, g.depth + same)) same++;
          g.shared = same;
          budget -= 1 + same;
        }
        g.i = i;
        if (i === g.to || g.shared === 0) {
          g.depth += g.shared;
          this.nextPhase(g, 'count');
        }
        return;
      }
      case 'count':
        for (let i = g.i; i < end; i++) g.starts[source.keyByte(locs[i]!, g.depth) + 2]++;
        g.i = end;
        if (end < g.to) return;
        // starts[c] is where class c begins, starts[c + 1] where it ends.
        g.starts[0] = g.from;
        for (let c = 1; c < 258; c++) g.starts[c] += g.starts[c - 1]!;
        g.next = g.starts.slice(0, 257);
        this.nextPhase(g, 'place');
        return;
      case 'place': {
        const next = g.next!;
        for (let i = g.i; i < end; i++) spare[next[source.keyByte(locs[i]!, g.depth) + 1]++] = locs[i]!;
        g.i = end;
        if (end < g.to) return;
        locs.set(spare.subarray(g.from, g.to), g.from);
        for (let c = 256; c >= 0; c--) {
          if (g.starts[c + 1]! > g.starts[c]!) this.stack.push(g.starts[c]!, g.starts[c + 1]!, g.depth + 1);
        }
        this.splitting = null;
      }
    }
  }

  private nextPhase(g: Split, phase: Split['phase']): void {
    g.phase = phase;
    g.i = g.from;
  }
}

/** A large group being split (see SortJob.continueSplit). */
interface Split {
  readonly from: number;
  readonly to: number;
  /** Bytes every key of the group shares; grows once the shared bytes are known. */
  depth: number;
  phase: 'shortest' | 'shared' | 'count' | 'place';
  /** The next key to look at in this phase. */
  i: number;
  /** Bytes from `depth` that every key looked at so far shares with the first. */
  shared: number;
  readonly starts: Int32Array;
  /** Where the next key of each class goes, once counted. */
  next: Int32Array | null;
}
