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
 * likely a cache miss); then within one block. An insert or removal shifts
 * at most one block, and a full block splits in two.
 *
 * The search within a block mostly stays out of the arena too. Keys that
 * sort near each other share a prefix (a block of "user:0123…" keys all start
 * "user:012"), so each block knows the length of the prefix all its keys
 * share, and keeps beside each slot the next PACKED_BYTES bytes after that
 * prefix packed into one number (packKey): numbers that compare as those
 * bytes do. Two keys whose packed bytes differ are ordered by them; only on
 * a tie is the arena read. The prefix length a block keeps may be shorter
 * than the longest shared one (it stays valid when keys leave) and is
 * shortened, repacking the block, when a key that shares less comes in;
 * blocks made by a split or a load start from their true shared prefix.
 * About 13 bytes a key outside the heap (4 per slot and 8 per packed number,
 * blocks three quarters full on average), and a first-key string per block
 * inside it.
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
  /** packKey of slot `slot`'s key from byte `from`, read where the key is. */
  packed(slot: number, from: number): number;
}

/**
 * Bytes of a key packed into one number: each byte as 1 + its value (0 for
 * "the key ended"), in base 257, so 257^6 < 2^53 and the number is exact.
 */
export const PACKED_BYTES = 6;

/**
 * Bytes `from` .. `from + PACKED_BYTES` of a latin1 key as one number. Two
 * keys that agree before `from` compare as their packed numbers do, unless
 * those are equal; then they agree up to `from + PACKED_BYTES` as well, and
 * either are equal (one ended inside) or differ later.
 */
export function packKey(key: string, from: number): number {
  let v = 0;
  const end = from + PACKED_BYTES;
  for (let i = from; i < end; i++) v = v * 257 + (i < key.length ? key.charCodeAt(i) + 1 : 0);
  return v;
}

/** Length of the prefix `a` and `b` share, at most `max`. */
function sharedPrefix(a: string, b: string, max: number): number {
  const n = Math.min(max, a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

export class KeyOrder {
  private blocks: Int32Array[];
  /** Per block, per position: packKey of the slot's key from the block's prefix length. */
  private packs: Float64Array[];
  /** Per block: a prefix length every key of the block shares. */
  private prefixes: number[] = [0];
  private sizes: number[] = [0];
  /** Each block's first key ('' for the lone empty block); latin1 strings compare in byte order. */
  private firsts: string[] = [''];
  private count = 0;
  /** The block the last key inserted went to (see blockForInsert); any block number is safe. */
  private lastInserted = 0;

  constructor(
    private readonly keys: SlotKeys,
    private readonly blockSlots = ORDER_BLOCK_SLOTS,
  ) {
    assert(blockSlots >= 4, 'a block holds a few slots at least');
    this.blocks = [new Int32Array(blockSlots)];
    this.packs = [new Float64Array(blockSlots)];
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
    this.packs = [];
    this.prefixes = [];
    this.sizes = [];
    this.firsts = [];
    for (let i = 0; i < slots.length; i += per) {
      const block = new Int32Array(this.blockSlots);
      const part = slots.subarray(i, Math.min(slots.length, i + per));
      block.set(part);
      this.blocks.push(block);
      this.packs.push(new Float64Array(this.blockSlots));
      this.prefixes.push(0);
      this.sizes.push(part.length);
      this.firsts.push(this.keys.key(part[0]!));
      this.repack(this.blocks.length - 1, this.truePrefix(this.blocks.length - 1));
    }
    if (this.blocks.length === 0) {
      this.blocks.push(new Int32Array(this.blockSlots));
      this.packs.push(new Float64Array(this.blockSlots));
      this.prefixes.push(0);
      this.sizes.push(0);
      this.firsts.push('');
    }
    this.count = slots.length;
  }

  /** Adds a slot whose key is not in the order yet. */
  insert(slot: number, key: string): void {
    const b = this.blockForInsert(key);
    this.lastInserted = b;
    const block = this.blocks[b]!;
    const size = this.sizes[b]!;
    // The block's keys share its prefix with its first key; with this one, maybe less.
    if (size === 0) this.prefixes[b] = key.length;
    else {
      const shared = sharedPrefix(key, this.firsts[b]!, this.prefixes[b]!);
      if (shared < this.prefixes[b]!) this.repack(b, shared);
    }
    const packs = this.packs[b]!;
    const packed = packKey(key, this.prefixes[b]!);
    // The key shares the block's prefix now, so a packed number above the last one puts it last without a search.
    const at = size > 0 && packs[size - 1]! < packed ? size : this.lowerIn(b, key);
    assert(at === size || packs[at] !== packed || this.keys.compare(block[at]!, key) !== 0, 'a key enters the order once');
    block.copyWithin(at + 1, at, size);
    block[at] = slot;
    packs.copyWithin(at + 1, at, size);
    packs[at] = packed;
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
    this.packs[b]!.copyWithin(at, at + 1, size);
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

  /**
   * blockFor, trying the block of the last insert first: a range streamed
   * in arrives in key order, so its keys mostly go to the same block as the
   * one before, found with two comparisons instead of a search.
   */
  private blockForInsert(key: string): number {
    const b = this.lastInserted;
    const firsts = this.firsts;
    if (b < firsts.length && (b === 0 || firsts[b]! <= key) && (b + 1 === firsts.length || key < firsts[b + 1]!)) return b;
    return this.blockFor(key);
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

  /**
   * The first position in block `b` whose key is not below `key`. Packed
   * numbers decide where `key` shares the block's prefix; a key that does
   * not lies before or after every key of the block.
   */
  private lowerIn(b: number, key: string): number {
    const size = this.sizes[b]!;
    if (size === 0) return 0;
    const prefix = this.prefixes[b]!;
    const first = this.firsts[b]!;
    if (sharedPrefix(key, first, prefix) < prefix) return key < first ? 0 : size;
    const block = this.blocks[b]!;
    const packs = this.packs[b]!;
    const packed = packKey(key, prefix);
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = packs[mid]!;
      if (p < packed || (p === packed && this.keys.compare(block[mid]!, key) < 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The prefix every key of block `b` shares: its first and last keys'. */
  private truePrefix(b: number): number {
    const size = this.sizes[b]!;
    if (size === 0) return 0;
    const first = this.firsts[b]!;
    return size === 1 ? first.length : sharedPrefix(first, this.keys.key(this.blocks[b]![size - 1]!), first.length);
  }

  /** Makes `prefix` block `b`'s prefix length and packs every key again from it. */
  private repack(b: number, prefix: number): void {
    const block = this.blocks[b]!;
    const packs = this.packs[b]!;
    const size = this.sizes[b]!;
    for (let i = 0; i < size; i++) packs[i] = this.keys.packed(block[i]!, prefix);
    this.prefixes[b] = prefix;
  }

  private split(b: number): void {
    const block = this.blocks[b]!;
    const size = this.sizes[b]!;
    const half = size >>> 1;
    const upper = new Int32Array(this.blockSlots);
    upper.set(block.subarray(half, size));
    const upperPacks = new Float64Array(this.blockSlots);
    upperPacks.set(this.packs[b]!.subarray(half, size));
    this.blocks.splice(b + 1, 0, upper);
    this.packs.splice(b + 1, 0, upperPacks);
    this.prefixes.splice(b + 1, 0, this.prefixes[b]!);
    this.sizes.splice(b + 1, 0, size - half);
    this.firsts.splice(b + 1, 0, this.keys.key(upper[0]!));
    this.sizes[b] = half;
    // Each half's keys share at least the whole block's prefix, often a longer one.
    this.refine(b);
    this.refine(b + 1);
  }

  /** Repacks block `b` from the prefix its keys really share, if that is longer than the one it keeps. */
  private refine(b: number): void {
    const prefix = this.truePrefix(b);
    if (prefix !== this.prefixes[b]) this.repack(b, prefix);
  }

  /**
   * Keeps blocks from thinning out as keys go: an empty block is dropped
   * (every block but a lone one holds a key, which blockFor relies on), and
   * a block under a quarter full takes in its successor when both fit in half
   * a block.
   */
  private mergeAfterRemoval(b: number): void {
    if (this.sizes[b] === 0 && this.blocks.length > 1) {
      this.dropBlock(b);
      return;
    }
    const next = b + 1;
    if (next >= this.blocks.length) return;
    const size = this.sizes[b]!;
    const nextSize = this.sizes[next]!;
    if (size * 4 >= this.blockSlots || size + nextSize > this.blockSlots / 2) return;
    this.blocks[b]!.set(this.blocks[next]!.subarray(0, nextSize), size);
    this.sizes[b] = size + nextSize;
    this.dropBlock(next);
    // The two blocks' keys may share less than either block's prefix: pack all of them from the one they do.
    this.repack(b, this.truePrefix(b));
  }

  private dropBlock(b: number): void {
    this.blocks.splice(b, 1);
    this.packs.splice(b, 1);
    this.prefixes.splice(b, 1);
    this.sizes.splice(b, 1);
    this.firsts.splice(b, 1);
  }
}
