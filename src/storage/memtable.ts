/**
 * The committed state of a replica in memory: for each key, its newest
 * version and the log row that holds it.
 *
 * Laid out for memory, because a node keeps every key it holds here: a Map
 * from key to a slot number, and per slot the value string and typed arrays
 * for the timestamp, log seq and tombstone flag. An object per entry would
 * cost another ~60 bytes per key (object header plus a boxed timestamp),
 * about a quarter more at 100-byte values. Freed slots are reused.
 */
import { assert } from '../common/assert';
import { Version } from './version';

/** A committed version and the log row that holds it. */
export interface Stored extends Version {
  readonly seq: number;
}

const INITIAL_SLOTS = 1024;

export class Memtable {
  private readonly slots = new Map<string, number>();
  private values: string[] = [];
  private ts = new Float64Array(INITIAL_SLOTS);
  private seqs = new Float64Array(INITIAL_SLOTS);
  private deleted = new Uint8Array(INITIAL_SLOTS);
  private readonly free: number[] = [];
  private high = 0;
  /** All keys in byte order, built on demand for paging. */
  private sorted: string[] | null = null;
  /** A key came or went since `sorted` was built. */
  private dirty = false;
  private sortedAtMs = 0;

  get size(): number {
    return this.slots.size;
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  get(key: string): Stored | undefined {
    const i = this.slots.get(key);
    return i === undefined ? undefined : this.at(i);
  }

  /** The log seq of the key's row, or 0 if the key is not here. */
  seqOf(key: string): number {
    const i = this.slots.get(key);
    return i === undefined ? 0 : this.seqs[i]!;
  }

  private at(i: number): Stored {
    return { value: this.values[i]!, ts: this.ts[i]!, deleted: this.deleted[i] === 1, seq: this.seqs[i]! };
  }

  set(key: string, v: Version, seq: number): void {
    assert(seq > 0, 'log seqs start at 1');
    let i = this.slots.get(key);
    if (i === undefined) {
      i = this.free.pop() ?? this.grow();
      this.slots.set(key, i);
      this.dirty = true;
    }
    this.values[i] = v.value;
    this.ts[i] = v.ts;
    this.seqs[i] = seq;
    this.deleted[i] = v.deleted ? 1 : 0;
  }

  delete(key: string): void {
    const i = this.slots.get(key);
    if (i === undefined) return;
    this.slots.delete(key);
    this.dirty = true;
    this.values[i] = '';
    this.free.push(i);
  }

  keys(): IterableIterator<string> {
    return this.slots.keys();
  }

  /**
   * Up to `limit` keys greater than `after`, in byte order. The sorted key
   * list is kept between calls, so paging through a large, quiet table sorts
   * it once rather than once per page.
   */
  keysAfter(after: string | undefined, limit: number): string[] {
    return this.keysBetween(after, undefined, limit);
  }

  /**
   * Up to `limit` keys in (after, upTo], in byte order; undefined bounds are
   * open. With `staleOkMs` > 0 the answer may come from a key list sorted up
   * to that long ago (missing newer keys, holding deleted ones): sorting a
   * million keys takes about a second, too much to do on every call.
   */
  keysBetween(after: string | undefined, upTo: string | undefined, limit: number, staleOkMs = 0, nowMs = Date.now()): string[] {
    if (this.sorted === null || (this.dirty && nowMs - this.sortedAtMs >= staleOkMs)) {
      this.sorted = [...this.slots.keys()].sort();
      this.dirty = false;
      this.sortedAtMs = nowMs;
    }
    const keys = this.sorted;
    const from = after === undefined ? 0 : firstAbove(keys, after);
    const to = upTo === undefined ? keys.length : firstAbove(keys, upTo);
    return keys.slice(from, Math.min(to, from + limit));
  }

  *entries(): IterableIterator<[string, Stored]> {
    for (const [key, i] of this.slots) yield [key, this.at(i)];
  }

  /** A new slot at the end, doubling the arrays when they are full. */
  private grow(): number {
    if (this.high === this.ts.length) {
      const n = this.ts.length * 2;
      const ts = new Float64Array(n);
      ts.set(this.ts);
      const seqs = new Float64Array(n);
      seqs.set(this.seqs);
      const deleted = new Uint8Array(n);
      deleted.set(this.deleted);
      this.ts = ts;
      this.seqs = seqs;
      this.deleted = deleted;
    }
    return this.high++;
  }
}

/** Index of the first key greater than `k` in sorted `keys`. */
function firstAbove(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
