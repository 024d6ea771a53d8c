/**
 * The memtable's keys in byte order, kept up to date as keys come and go, so
 * that range scans and the admin dump read keys in order without sorting.
 *
 * It holds slot numbers, not keys: the key bytes stay where the memtable
 * keeps them (the arena, outside the heap) and are compared there. Slots sit
 * in blocks of at most ORDER_BLOCK_SLOTS (128), each block sorted and every key of
 * a block below every key of the next (a sorted list of sorted lists). A key
 * is found by two binary searches: over the blocks' first keys, which are
 * kept as strings (a few thousand for a million keys), so that half of the
 * comparisons stay out of the arena (each arena read on a large memtable is
 * likely a cache miss); then within one block, in the arena. An insert or
 * removal shifts at most one block, and a full block splits in two. About 5
 * bytes a key outside the heap (4 per slot, blocks three quarters full on
 * average), and a first-key string per block inside it.
 *
 * Why not a library such as sorted-btree: those keep keys as JavaScript
 * values, which here would be a string per key back on the heap (what the
 * arena exists to avoid), or slot numbers with a comparator that cannot look
 * a string key up without storing it first.
 */
import { assert } from '../common/assert';
import { ORDER_BLOCK_SLOTS } from '../common/limits';

/** Where the keys are: the order only ever asks to compare them. */
export interface SlotKeys {
  /** Byte order of slot `slot`'s key against `key`: negative when the slot's key sorts first, 0 when equal. */
  compare(slot: number, key: string): number;
  /** Slot `slot`'s key as a latin1 string. */
  key(slot: number): string;
}

export class KeyOrder {
  private blocks: Int32Array[] = [new Int32Array(ORDER_BLOCK_SLOTS)];
  private sizes: number[] = [0];
  /** Each block's first key ('' for the lone empty block); latin1 strings compare in byte order. */
  private firsts: string[] = [''];
  private count = 0;

  constructor(
    private readonly keys: SlotKeys,
    private readonly blockSlots = ORDER_BLOCK_SLOTS,
  ) {
    assert(blockSlots >= 4, 'a block holds a few slots at least');
    if (blockSlots !== ORDER_BLOCK_SLOTS) this.blocks = [new Int32Array(blockSlots)];
  }

  get size(): number {
    return this.count;
  }

  /**
   * Replaces the contents with `slots`, already in key order: how a replay
   * fills the order at once instead of key by key. Blocks are filled three
   * quarters, so that the first inserts do not split them all.
   */
  load(slots: Int32Array): void {
    const per = Math.max(1, Math.floor((this.blockSlots * 3) / 4));
    this.blocks = [];
    this.sizes = [];
    this.firsts = [];
    for (let i = 0; i < slots.length; i += per) {
      const block = new Int32Array(this.blockSlots);
      const part = slots.subarray(i, Math.min(slots.length, i + per));
      block.set(part);
      this.blocks.push(block);
      this.sizes.push(part.length);
      this.firsts.push(this.keys.key(part[0]!));
    }
    if (this.blocks.length === 0) {
      this.blocks.push(new Int32Array(this.blockSlots));
      this.sizes.push(0);
      this.firsts.push('');
    }
    this.count = slots.length;
  }

  /** Adds a slot whose key is not in the order yet. */
  insert(slot: number, key: string): void {
    const b = this.blockFor(key);
    const block = this.blocks[b]!;
    const size = this.sizes[b]!;
    const at = this.lowerIn(b, key);
    assert(at === size || this.keys.compare(block[at]!, key) !== 0, 'a key enters the order once');
    block.copyWithin(at + 1, at, size);
    block[at] = slot;
    if (at === 0) this.firsts[b] = key;
    this.sizes[b] = size + 1;
    this.count++;
    if (size + 1 === this.blockSlots) this.split(b);
  }

  /** Removes the slot holding `key`. */
  remove(slot: number, key: string): void {
    const b = this.blockFor(key);
    const block = this.blocks[b]!;
    const size = this.sizes[b]!;
    const at = this.lowerIn(b, key);
    assert(at < size && block[at] === slot, 'a key leaves the order from where it is');
    block.copyWithin(at, at + 1, size);
    this.sizes[b] = size - 1;
    if (at === 0 && size > 1) this.firsts[b] = this.keys.key(block[0]!);
    this.count--;
    this.mergeAfterRemoval(b);
  }

  /**
   * Calls `visit` with the slots of the keys from `from` on (all keys when
   * undefined), in order, until it returns false. `visit` must not change the
   * order.
   */
  forEachFrom(from: string | undefined, visit: (slot: number) => boolean): void {
    let b = from === undefined ? 0 : this.blockFor(from);
    let i = from === undefined ? 0 : this.lowerIn(b, from);
    for (; b < this.blocks.length; b++, i = 0) {
      const block = this.blocks[b]!;
      const size = this.sizes[b]!;
      for (; i < size; i++) if (!visit(block[i]!)) return;
    }
  }

  /** The block where `key` is or belongs: the last whose first key is not above it (0 if none). */
  private blockFor(key: string): number {
    const firsts = this.firsts;
    let lo = 0;
    let hi = firsts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (firsts[mid]! <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The first position in block `b` whose key is not below `key`. */
  private lowerIn(b: number, key: string): number {
    const block = this.blocks[b]!;
    let lo = 0;
    let hi = this.sizes[b]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys.compare(block[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private split(b: number): void {
    const block = this.blocks[b]!;
    const size = this.sizes[b]!;
    const half = size >>> 1;
    const upper = new Int32Array(this.blockSlots);
    upper.set(block.subarray(half, size));
    this.blocks.splice(b + 1, 0, upper);
    this.sizes.splice(b + 1, 0, size - half);
    this.firsts.splice(b + 1, 0, this.keys.key(upper[0]!));
    this.sizes[b] = half;
  }

  /**
   * Keeps blocks from thinning out as keys go: an empty block is dropped
   * (every block but a lone one holds a key, which blockFor relies on), and
   * a block under a quarter full takes in its successor when both fit in half
   * a block.
   */
  private mergeAfterRemoval(b: number): void {
    if (this.sizes[b] === 0 && this.blocks.length > 1) {
      this.blocks.splice(b, 1);
      this.sizes.splice(b, 1);
      this.firsts.splice(b, 1);
      return;
    }
    const next = b + 1;
    if (next >= this.blocks.length) return;
    const size = this.sizes[b]!;
    const nextSize = this.sizes[next]!;
    if (size * 4 >= this.blockSlots || size + nextSize > this.blockSlots / 2) return;
    this.blocks[b]!.set(this.blocks[next]!.subarray(0, nextSize), size);
    this.sizes[b] = size + nextSize;
    this.blocks.splice(next, 1);
    this.sizes.splice(next, 1);
    this.firsts.splice(next, 1);
  }
}
