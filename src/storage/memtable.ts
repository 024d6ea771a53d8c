/**
 * The committed state of a replica in memory: for each key, its newest
 * version and the log row that holds it.
 *
 * Laid out for memory, because a node keeps every key it holds here. Each
 * key has a slot number; per slot, typed arrays hold the timestamp, log seq,
 * tombstone flag, key hash and where the key and value bytes sit in the
 * arena (outside the JavaScript heap, see arena.ts). An open-addressing hash
 * index (linear probing, in an Int32Array) maps a key to its slot. So a key
 * costs its bytes plus about 55 bytes (8 more on every slot once any
 * value with a TTL arrives), and the garbage collector has nothing to walk: a node holding a million 100-byte values has about 170 MB outside
 * the heap and 10 MB in it, where strings, a Map and typed arrays took about
 * 210 MB of heap (and the collector kept a quarter as much free beside it).
 * Freed slots are reused.
 */
import { assert } from '../common/assert';
import { MEMTABLE_LOAD_MAX } from '../common/limits';
import { HASH_SPACE, hashKey } from '../partitioner/hash';
import { Arena, ArenaOwner } from './arena';
import { KeyOrder, SlotKeys } from './key-order';
import { sortByKey } from './key-sort';
import { compareVersions, Version } from './version';

/** A committed version and the log row that holds it. */
export interface Stored extends Version {
  readonly seq: number;
}

/**
 * Makes every Stored object: one literal for each of the two shapes, and
 * `seq` always a small integer while it fits one (a seq read back from the
 * memtable's Float64Array is a double to V8 until made one).
 *
 * Why: objects with the same keys share a hidden class, and when one of
 * them stores a double where the others stored small integers, V8
 * deprecates the class; a literal whose boilerplate still has it goes on
 * making objects of it, each migrated at its first property load. Once any
 * range read had made a Stored with a double seq, every commit after it
 * paid that: 2.0-2.5% of a node's CPU during a join, in
 * `ReplicaStore.publish` (docs/benchmarks.md); alone, 67 ns an object
 * against 2 ns. Past 2^30 log rows the seqs of both kinds are doubles.
 */
export function storedVersion(value: string, ts: number, deleted: boolean, seq: number, expires: number | undefined): Stored {
  return expires ? { value, ts, deleted, seq: smallSeq(seq), expires } : { value, ts, deleted, seq: smallSeq(seq) };
}

/** A version as the log row numbered `seq` holds it. */
export function storedAt(v: Version, seq: number): Stored {
  return storedVersion(v.value, v.ts, v.deleted, seq, v.expires);
}

/** The largest of V8's small integers (31 bits). */
const SMALL_INT_MAX = 2 ** 30 - 1;

/** A whole number as a small integer to V8 where it is one. */
function smallSeq(seq: number): number {
  return seq <= SMALL_INT_MAX ? seq | 0 : seq;
}

/** A key with its committed version: what a range read returns. */
export interface KeyedStored {
  readonly key: string;
  readonly version: Stored;
}

/** A key's current log row, and the bytes of its key and value (see Memtable.rowsInRange). */
export interface KeyedRow {
  readonly key: string;
  readonly seq: number;
  readonly bytes: number;
}

/** A version with its value as bytes: what a read sends back, with no string in between. */
export interface VersionBytes {
  readonly value: Buffer;
  readonly ts: number;
  readonly deleted: boolean;
  readonly expires?: number;
}

/**
 * Told every change of a key's newest version, with the key's hashKey and
 * its timestamp and flag before and after (undefined: no version): how the
 * repair trees (repair/range-trees.ts) stay current without reading keys.
 */
export interface VersionObserver {
  changed(
    key: string,
    keyHash: number,
    before: { ts: number; deleted: boolean } | undefined,
    after: { ts: number; deleted: boolean } | undefined,
  ): void;
}

const INITIAL_SLOTS = 1024;
/** `locs` of a slot that holds no key. */
const FREE = -1;

export class Memtable implements ArenaOwner {
  private readonly arena: Arena;
  /** Per slot: arena location of the key's record, or FREE. */
  private locs = new Float64Array(INITIAL_SLOTS).fill(FREE);
  private hashes = new Uint32Array(INITIAL_SLOTS);
  private ts = new Float64Array(INITIAL_SLOTS);
  private seqs = new Float64Array(INITIAL_SLOTS);
  private deleted = new Uint8Array(INITIAL_SLOTS);
  /**
   * Per slot: the value's expiry (µs since the epoch), or 0 for none (see
   * Version.expires). Null until the first value with a TTL arrives: most
   * stores never use TTL, and a million slots of zeros are 8 MB.
   */
  private expiries: Float64Array | null = null;
  private readonly free: number[] = [];
  private high = 0;
  private count = 0;
  /**
   * The hash index: one 32-bit entry per position, 0 for empty; its length
   * is a power of two, 2^(32 - shift). A key's home position is the high
   * bits of its hash, so index order follows hash order (see
   * keysInHashRange). An entry holds slot + 1 in its low bits (below the
   * length, since the index grows before the keys reach it) and the hash's
   * other, low `shift` bits above them (see entryTag): a probe compares
   * those in the entry it has already read, instead of reading the slot's
   * hash and key, each most likely a cache miss on a node with many keys.
   */
  private index = new Int32Array(INITIAL_SLOTS * 2);
  /** hash >>> shift is a key's home position in the index. */
  private shift = 32 - Math.log2(INITIAL_SLOTS * 2);
  /** The keys' slots in byte order (key-order.ts); null while a replay fills the memtable (pauseOrder). */
  private order: KeyOrder | null;
  private readonly orderKeys: SlotKeys = {
    compare: (slot, key) => this.arena.compareKey(this.locs[slot]!, key),
    key: (slot) => this.arena.key(this.locs[slot]!),
    packed: (slot, from) => this.arena.packedKey(this.locs[slot]!, from),
  };

  /** `slabBytes` is for tests (see Arena). */
  constructor(
    slabBytes?: number,
    private readonly observer?: VersionObserver,
  ) {
    this.arena = new Arena(this, slabBytes);
    this.order = new KeyOrder(this.orderKeys);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes of key and value records held outside the heap, live or not. */
  get arenaBytes(): number {
    return this.arena.heldBytes;
  }

  /** Bytes of the current records (header, key, value) of every key. */
  get arenaLiveBytes(): number {
    return this.arena.liveBytes;
  }

  get(key: string): Stored | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.at(i);
  }

  /** Like get, with the value copied straight from the arena into a Buffer. */
  getBytes(key: string): VersionBytes | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.bytesAt(i, this.arena.valueBytes(this.locs[i]!));
  }

  /**
   * Like getBytes, with the value a view into the arena instead of a copy:
   * for a caller that has used the bytes before anything can change this
   * memtable again (a ONE read's reply, written in the same call).
   */
  peekBytes(key: string): VersionBytes | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.bytesAt(i, this.arena.valueView(this.locs[i]!));
  }

  /** The key's timestamp, without making its value a string; undefined if the key is not here. */
  tsOf(key: string): number | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.ts[i]!;
  }

  /** The log seq of the key's row, or 0 if the key is not here. */
  seqOf(key: string): number {
    const i = this.find(key);
    return i < 0 ? 0 : this.seqs[i]!;
  }

  private bytesAt(i: number, value: Buffer): VersionBytes {
    const expires = this.expiryAt(i);
    const deleted = this.deleted[i] === 1;
    // No expiry field at all for the usual version without one.
    return expires === 0 ? { value, ts: this.ts[i]!, deleted } : { value, ts: this.ts[i]!, deleted, expires };
  }

  private at(i: number): Stored {
    const value = this.arena.value(this.locs[i]!);
    const expires = this.expiryAt(i);
    const deleted = this.deleted[i] === 1;
    // No expiry field at all for the usual version without one.
    return storedVersion(value, this.ts[i]!, deleted, this.seqs[i]!, expires);
  }

  set(key: string, v: Version, seq: number): void {
    this.put(this.find(key), key, v, seq);
  }

  /**
   * set() for a version that must beat the one held (a commit's rows): one
   * lookup of the key instead of a get and a set, and the value held is
   * never made a string. Returns the log seq of the row it replaces, 0 if
   * the key was not here.
   */
  replace(key: string, v: Version, seq: number): number {
    const i = this.find(key);
    const replaced = i < 0 ? 0 : this.seqs[i]!;
    assert(i < 0 || this.beatenAt(i, v), 'a commit row must beat the committed version');
    this.put(i, key, v, seq);
    return replaced;
  }

  /** supersedes(v, the key's version): true if the key is not here. */
  isBeatenBy(key: string, v: Version): boolean {
    const i = this.find(key);
    return i < 0 || this.beatenAt(i, v);
  }

  /** Whether `v` beats slot i's version (compareVersions), reading the value held only on a tie. */
  private beatenAt(i: number, v: Version): boolean {
    const ts = this.ts[i]!;
    if (v.ts !== ts) return v.ts > ts;
    if (v.deleted !== (this.deleted[i] === 1)) return v.deleted;
    return compareVersions(v, this.at(i)) > 0;
  }

  /** Sets slot i (-1: a new slot) to the key's version. */
  private put(found: number, key: string, v: Version, seq: number): void {
    assert(seq > 0, 'log seqs start at 1');
    let i = found;
    const before = i < 0 || this.observer === undefined ? undefined : { ts: this.ts[i]!, deleted: this.deleted[i] === 1 };
    if (i < 0) {
      i = this.free.pop() ?? this.grow();
      this.hashes[i] = hashKey(key);
      this.locs[i] = this.arena.append(i, key, v.value);
      this.insert(i);
      this.order?.insert(i, key);
    } else {
      const old = this.locs[i]!;
      this.locs[i] = this.arena.append(i, key, v.value);
      this.arena.free(old);
    }
    this.ts[i] = v.ts;
    this.seqs[i] = seq;
    this.deleted[i] = v.deleted ? 1 : 0;
    this.setExpiry(i, v.expires ?? 0);
    this.observer?.changed(key, this.hashes[i]!, before, v);
  }

  delete(key: string): void {
    const pos = this.position(key);
    if (pos < 0) return;
    const i = this.slotAt(pos);
    this.observer?.changed(key, this.hashes[i]!, { ts: this.ts[i]!, deleted: this.deleted[i] === 1 }, undefined);
    this.remove(pos);
    this.order?.remove(i, key);
    const loc = this.locs[i]!;
    this.locs[i] = FREE;
    this.arena.free(loc);
    this.free.push(i);
    this.count--;
  }

  isCurrent(slot: number, loc: number): boolean {
    return this.locs[slot] === loc;
  }

  moved(slot: number, loc: number): void {
    this.locs[slot] = loc;
  }

  /**
   * The keys from `from` (inclusive) up to `to` (exclusive; undefined: no
   * end), in byte order, with their versions, tombstones included: at most
   * `limit` of them, and once their keys and values reach `bytesMax`, no
   * more (but at least one). `more` says whether keys in the range were left
   * out. Read from the key order, so nothing is sorted.
   */
  range(from: string, to: string | undefined, limit: number, bytesMax: number): { entries: KeyedStored[]; more: boolean } {
    assert(limit >= 0, 'a range asks for no negative number of keys');
    const order = this.order;
    assert(order !== null, 'the key order is kept (outside a replay)');
    const entries: KeyedStored[] = [];
    let bytes = 0;
    let more = false;
    order.forEachFrom(from, (slot) => {
      const loc = this.locs[slot]!;
      if (to !== undefined && this.arena.compareKey(loc, to) >= 0) return false;
      if (entries.length === limit || (entries.length > 0 && bytes >= bytesMax)) {
        more = true;
        return false;
      }
      const key = this.arena.key(loc);
      const version = this.at(slot);
      bytes += key.length + version.value.length;
      entries.push({ key, version });
      return true;
    });
    return { entries, more };
  }

  /**
   * The keys from `from` (inclusive) up to `to` (exclusive; undefined: no
   * end), in byte order, with their log seqs and the bytes of their keys
   * and values: at most `limit` of them (`more` says whether some were left
   * out). No value is read: what a cleanup deletes.
   */
  rowsInRange(from: string, to: string | undefined, limit: number): { rows: KeyedRow[]; more: boolean } {
    const rows: KeyedRow[] = [];
    let more = false;
    this.walkRange(from, to, (slot, loc) => {
      if (rows.length === limit) {
        more = true;
        return false;
      }
      rows.push({ key: this.arena.key(loc), seq: this.seqs[slot]!, bytes: this.arena.dataBytes(loc) });
      return true;
    });
    return { rows, more };
  }

  /** How many keys [from, to) holds, and the bytes of their keys and values; reads neither. */
  measureRange(from: string, to: string | undefined): { keys: number; bytes: number } {
    let keys = 0;
    let bytes = 0;
    this.walkRange(from, to, (_slot, loc) => {
      keys++;
      bytes += this.arena.dataBytes(loc);
      return true;
    });
    return { keys, bytes };
  }

  /** Visits the slots of [from, to) in key order while `visit` says to go on. */
  private walkRange(from: string, to: string | undefined, visit: (slot: number, loc: number) => boolean): void {
    const order = this.order;
    assert(order !== null, 'the key order is kept (outside a replay)');
    order.forEachFrom(from, (slot) => {
      const loc = this.locs[slot]!;
      if (to !== undefined && this.arena.compareKey(loc, to) >= 0) return false;
      return visit(slot, loc);
    });
  }

  /**
   * Stops keeping the key order until rebuildOrder: a replay sets a million
   * keys in hash-scattered order, and one sort at the end is several times
   * cheaper than that many ordered inserts.
   */
  pauseOrder(): void {
    this.order = null;
  }

  /**
   * Builds the key order of every key at once: the slots sorted by their
   * keys' bytes (key-sort.ts, which reads the bytes where they are, a few at
   * a time as numbers).
   */
  rebuildOrder(): void {
    const slots = new Uint32Array(this.count);
    let n = 0;
    for (let i = 0; i < this.high; i++) if (this.locs[i] !== FREE) slots[n++] = i;
    assert(n === this.count, 'the index and the slots agree on the key count');
    sortByKey(this.orderKeys, slots);
    const order = new KeyOrder(this.orderKeys);
    order.load(new Int32Array(slots.buffer, slots.byteOffset, slots.length)); // slot numbers stay below 2^31
    this.order = order;
  }

  /**
   * The keys whose hash (hashKey, unsigned) is in [from, to), to at most
   * 2^32, in hash order: how anti-entropy pages through keys without sorting
   * them. A key sits in the index at or after its home position, the high
   * bits of its hash, in the run of filled positions that starts there; so
   * the keys of a hash range are found by reading the range's home
   * positions and the rest of the run after them. When there are more than
   * `max`, the range is cut short at a hash boundary and `end` (exclusive)
   * says where; only keys sharing one hash can take the answer past `max`.
   */
  keysInHashRange(from: number, to: number, max: number): { keys: string[]; end: number } {
    assert(
      Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= HASH_SPACE,
      'a hash range is a non-empty part of [0, 2^32)',
    );
    const slots = this.slotsInHashRange(from, to, max);
    slots.sort((x, y) => this.hashes[x]! - this.hashes[y]!);
    let end = to;
    if (slots.length > max) {
      const cut = this.hashes[slots[max]!]!;
      // Past max, all of one hash; rather than no progress, take that hash whole.
      end = cut > from ? cut : from + 1;
      let n = 0;
      while (n < slots.length && this.hashes[slots[n]!]! < end) n++;
      slots.length = n;
    }
    return { keys: slots.map((i) => this.arena.key(this.locs[i]!)), end };
  }

  /**
   * The slots of the keys with hashes in [from, to), or, when there are more
   * than `max`, at least the `max` + 1 with the lowest hashes: once that many
   * are found, the scan stops at the next empty position, past which every
   * key's home (so its hash) is higher than theirs. So the work is bounded by
   * `max`, not by the range asked. Positions are read as linear: L and
   * L + size are the same position, and a key whose run wraps past the end of
   * the index is counted at the one linear position within `size` after its
   * home, so each key is counted once.
   */
  private slotsInHashRange(from: number, to: number, max: number): number[] {
    const { index, hashes, shift } = this;
    const size = index.length;
    const mask = size - 1;
    const first = from >>> shift;
    const last = (to - 1) >>> shift;
    const out: number[] = [];
    for (let at = first; at < last + size; at++) {
      const e = index[at & mask]!;
      if (e === 0) {
        // No run from a home in range goes on past an empty position.
        if (at > last || out.length > max) break;
        continue;
      }
      const slot = (e & mask) - 1;
      const h = hashes[slot]!;
      const fromHome = at - (h >>> shift);
      if (h >= from && h < to && fromHome >= 0 && fromHome < size) out.push(slot);
    }
    return out;
  }

  /**
   * Keys whose version reads as absent for good before `cutoffTs`: a
   * tombstone older than it, or a value that expired before it. With their
   * log seqs; found from the typed arrays alone.
   */
  tombstonesBefore(cutoffTs: number): Array<{ key: string; seq: number }> {
    const out: Array<{ key: string; seq: number }> = [];
    for (let i = 0; i < this.high; i++) {
      if (this.locs[i] === FREE) continue;
      const expires = this.expiryAt(i);
      const dead = this.deleted[i] === 1 ? this.ts[i]! < cutoffTs : expires !== 0 && expires < cutoffTs;
      if (dead) out.push({ key: this.arena.key(this.locs[i]!), seq: this.seqs[i]! });
    }
    return out;
  }

  *entries(): IterableIterator<[string, Stored]> {
    for (let i = 0; i < this.high; i++) {
      if (this.locs[i] !== FREE) yield [this.arena.key(this.locs[i]!), this.at(i)];
    }
  }

  /** The slot holding `key`, or -1. */
  private find(key: string): number {
    const pos = this.position(key);
    return pos < 0 ? -1 : this.slotAt(pos);
  }

  /** The slot of the entry at index position `pos` (not empty). */
  private slotAt(pos: number): number {
    return (this.index[pos]! & (this.index.length - 1)) - 1;
  }

  /** The high bits of an index entry for a key of hash `h`: the hash bits its home position leaves out. */
  private entryTag(h: number): number {
    return (h & ((1 << this.shift) - 1)) << (32 - this.shift);
  }

  /** Where in the index `key` sits, or -1. */
  private position(key: string): number {
    const h = hashKey(key);
    const index = this.index;
    const mask = index.length - 1;
    const tag = this.entryTag(h);
    for (let p = h >>> this.shift; ; p = (p + 1) & mask) {
      const e = index[p]!;
      if (e === 0) return -1;
      // Same tag: same low hash bits (and, almost always, a key with the
      // same home). Only then is the key read from the arena.
      if ((e & ~mask) === tag && this.arena.keyEquals(this.locs[(e & mask) - 1]!, key)) return p;
    }
  }

  /** Adds a slot to the index, doubling the index first if it would be too full. */
  private insert(slot: number): void {
    if (this.count + 1 > MEMTABLE_LOAD_MAX * this.index.length) {
      const old = this.index;
      const oldMask = old.length - 1;
      this.index = new Int32Array(old.length * 2);
      this.shift--;
      for (const e of old) if (e !== 0) this.place((e & oldMask) - 1);
    }
    this.place(slot);
    this.count++;
  }

  private place(slot: number): void {
    const index = this.index;
    const mask = index.length - 1;
    assert(slot + 1 <= mask, 'slot numbers stay below the index length');
    const h = this.hashes[slot]!;
    let p = h >>> this.shift;
    while (index[p] !== 0) p = (p + 1) & mask;
    index[p] = this.entryTag(h) | (slot + 1);
  }

  /**
   * Empties index position `pos` and shifts later entries of the same probe
   * run back into the gap, so lookups never need tombstones.
   */
  private remove(pos: number): void {
    const index = this.index;
    const mask = index.length - 1;
    let gap = pos;
    for (let p = (pos + 1) & mask; index[p] !== 0; p = (p + 1) & mask) {
      const home = this.hashes[(index[p]! & mask) - 1]! >>> this.shift;
      // The entry may move back to the gap unless its home lies after the gap (cyclically).
      if (((p - home) & mask) >= ((p - gap) & mask)) {
        index[gap] = index[p]!;
        gap = p;
      }
    }
    index[gap] = 0;
  }

  /** A new slot at the end, doubling the arrays when they are full. */
  private grow(): number {
    if (this.high === this.ts.length) {
      const n = this.ts.length * 2;
      this.locs = widen(this.locs, new Float64Array(n).fill(FREE));
      this.hashes = widen(this.hashes, new Uint32Array(n));
      this.ts = widen(this.ts, new Float64Array(n));
      this.seqs = widen(this.seqs, new Float64Array(n));
      this.deleted = widen(this.deleted, new Uint8Array(n));
      if (this.expiries !== null) this.expiries = widen(this.expiries, new Float64Array(n));
    }
    return this.high++;
  }

  private expiryAt(i: number): number {
    return this.expiries === null ? 0 : this.expiries[i]!;
  }

  private setExpiry(i: number, expires: number): void {
    if (expires !== 0) this.expiries ??= new Float64Array(this.ts.length);
    if (this.expiries !== null) this.expiries[i] = expires;
  }
}

function widen<T extends Float64Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
