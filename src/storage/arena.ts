/**
 * Key and value bytes of the memtable, packed into large Buffers ("slabs")
 * outside the JavaScript heap.
 *
 * Why: a node keeps every key it holds in memory. As JavaScript strings in a
 * Map, a million 100-byte values and their keys cost about 190 MB of heap, and the
 * garbage collector keeps a quarter as much again free beside it. Packed here
 * they cost their bytes plus a 12-byte header, and the collector never walks
 * them.
 *
 * Each record is `owner u32 | key length u32 | value length u32 | key | value`,
 * appended to the active slab; its location is one number (see LOC_SLAB). A
 * record is never changed in place: an update appends a new one and frees the
 * old. When freeing leaves a full slab less than ARENA_SLAB_LIVE_MIN live,
 * its live records are copied to the active slab and the slab is recycled, so
 * memory stays within about 1 / ARENA_SLAB_LIVE_MIN of the live bytes. The
 * owner field says whose record it is: the arena asks the owner whether a
 * record is still current before it moves it, and tells it where it went.
 *
 * Strings here are latin1: one char per byte (see common/bytes.ts).
 */
import { assert } from '../common/assert';
import { PACKED_BYTES } from './key-order';
import { ARENA_SLAB_BYTES, ARENA_SLAB_LIVE_MIN, ARENA_SPARE_SLABS_MAX } from '../common/limits';

const HEADER_BYTES = 12;
/** A location is slab * LOC_SLAB + offset, exact in a double for any slab count we can hold. */
const LOC_SLAB = 2 ** 32;

/**
 * Strings shorter than this are copied char by char: a call into
 * Buffer.write cost 90-110 ns whatever the length, a loop over a 10-char
 * key 34-37 ns (measured alone); keys are mostly short, values mostly not.
 */
const NATIVE_WRITE_CHARS_MIN = 24;

/** Writes a latin1 string's chars at `at`, one byte each (room reserved). */
function writeLatin1(buf: Buffer, at: number, s: string): void {
  if (s.length >= NATIVE_WRITE_CHARS_MIN) {
    // Every char is < 256 (latin1), so each writes exactly one byte.
    assert(buf.write(s, at, 'latin1') === s.length, 'keys and values are latin1 strings');
    return;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    assert(c < 256, 'keys and values are latin1 strings');
    buf[at + i] = c;
  }
}

export interface ArenaOwner {
  /** True if `loc` is still the current record of `owner`. */
  isCurrent(owner: number, loc: number): boolean;
  /** The arena moved `owner`'s current record to `loc`. */
  moved(owner: number, loc: number): void;
}

export class Arena {
  private readonly slabs: (Buffer | null)[] = [];
  /** Live record bytes per slab. */
  private readonly live: number[] = [];
  /** Bytes appended per slab (its end), live or not. */
  private readonly used: number[] = [];
  private readonly freeSlabs: number[] = [];
  private readonly spares: Buffer[] = [];
  private active = -1;
  /** Live record bytes in all slabs. */
  liveBytes = 0;
  /** Bytes held by slabs, live or not (spares included). */
  heldBytes = 0;

  /** `slabBytes` is smaller only in tests, to make compaction happen with little data. */
  constructor(
    private readonly owner: ArenaOwner,
    private readonly slabBytes = ARENA_SLAB_BYTES,
  ) {}

  /** Appends a record and returns its location. */
  append(owner: number, key: string, value: string): number {
    const size = HEADER_BYTES + key.length + value.length;
    const slab = this.reserve(size);
    const buf = this.slabs[slab]!;
    const off = this.used[slab]! - size;
    buf.writeUInt32LE(owner, off);
    buf.writeUInt32LE(key.length, off + 4);
    buf.writeUInt32LE(value.length, off + 8);
    const keyAt = off + HEADER_BYTES;
    writeLatin1(buf, keyAt, key);
    writeLatin1(buf, keyAt + key.length, value);
    return slab * LOC_SLAB + off;
  }

  /** The record at `loc` is dead; its slab may be compacted or recycled. */
  free(loc: number): void {
    this.reclaim(this.uncount(loc));
  }

  /** Stops counting a dead record as live; returns its slab. */
  private uncount(loc: number): number {
    const { buf, slab, off } = this.at(loc);
    const size = HEADER_BYTES + buf.readUInt32LE(off + 4) + buf.readUInt32LE(off + 8);
    this.live[slab] = this.live[slab]! - size;
    this.liveBytes -= size;
    assert(this.live[slab]! >= 0, 'a record is freed once');
    return slab;
  }

  /** Recycles a slab with nothing live, compacts one that is mostly dead; never the active one. */
  private reclaim(slab: number): void {
    const buf = this.slabs[slab];
    // Released meanwhile (an earlier reclaim's compaction filled the active slab and retired it).
    if (buf === null || buf === undefined || slab === this.active) return;
    if (this.live[slab] === 0) this.release(slab);
    else if (this.live[slab]! < ARENA_SLAB_LIVE_MIN * buf.length) this.compact(slab);
  }

  /** Bytes of the record's key and value (its header left out), read without making a string. */
  dataBytes(loc: number): number {
    const { buf, off } = this.at(loc);
    return buf.readUInt32LE(off + 4) + buf.readUInt32LE(off + 8);
  }

  key(loc: number): string {
    const { buf, off } = this.at(loc);
    const start = off + HEADER_BYTES;
    return buf.toString('latin1', start, start + buf.readUInt32LE(off + 4));
  }

  value(loc: number): string {
    const { buf, off } = this.at(loc);
    const start = off + HEADER_BYTES + buf.readUInt32LE(off + 4);
    return buf.toString('latin1', start, start + buf.readUInt32LE(off + 8));
  }

  /**
   * The value's bytes as a view into its slab: no copy, but only good until
   * the arena next changes (a later append may compact or reuse the slab).
   */
  valueView(loc: number): Buffer {
    const { buf, off } = this.at(loc);
    const start = off + HEADER_BYTES + buf.readUInt32LE(off + 4);
    return buf.subarray(start, start + buf.readUInt32LE(off + 8));
  }

  /** The value's bytes, copied out (a view would change under a later compaction or slab reuse). */
  valueBytes(loc: number): Buffer {
    const { buf, off } = this.at(loc);
    const start = off + HEADER_BYTES + buf.readUInt32LE(off + 4);
    const out = Buffer.allocUnsafe(buf.readUInt32LE(off + 8));
    buf.copy(out, 0, start, start + out.length);
    return out;
  }

  /** True if the record's key is `key`, compared without making a string. */
  keyEquals(loc: number, key: string): boolean {
    const { buf, off } = this.at(loc);
    if (buf.readUInt32LE(off + 4) !== key.length) return false;
    const start = off + HEADER_BYTES;
    for (let i = 0; i < key.length; i++) if (buf[start + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  /** Byte order of the record's key against `key`: negative when the record's sorts first, 0 when equal. */
  compareKey(loc: number, key: string): number {
    const { buf, off } = this.at(loc);
    const length = buf.readUInt32LE(off + 4);
    const start = off + HEADER_BYTES;
    const n = Math.min(length, key.length);
    for (let i = 0; i < n; i++) {
      const d = buf[start + i]! - key.charCodeAt(i);
      if (d !== 0) return d;
    }
    return length - key.length;
  }

  /** packKey (key-order.ts) of the key at `loc` from byte `from`, read from the record's bytes. */
  packedKey(loc: number, from: number): number {
    const { buf, off } = this.at(loc);
    const length = buf.readUInt32LE(off + 4);
    const start = off + HEADER_BYTES;
    let v = 0;
    for (let i = from; i < from + PACKED_BYTES; i++) v = v * 257 + (i < length ? buf[start + i]! + 1 : 0);
    return v;
  }

  private at(loc: number): { buf: Buffer; slab: number; off: number } {
    const slab = Math.floor(loc / LOC_SLAB);
    const buf = this.slabs[slab];
    assert(buf !== undefined && buf !== null, 'a location points into a held slab');
    return { buf, slab, off: loc - slab * LOC_SLAB };
  }

  /** Room for a `size`-byte record, counted as live: returns its slab; the record ends at the slab's `used`. */
  private reserve(size: number): number {
    const slab = this.slabFor(size);
    this.used[slab] = this.used[slab]! + size;
    this.live[slab] = this.live[slab]! + size;
    this.liveBytes += size;
    return slab;
  }

  /** The active slab if the record fits, else a new one (its own, if it is larger than a slab). */
  private slabFor(size: number): number {
    const a = this.active;
    if (a >= 0 && this.used[a]! + size <= this.slabs[a]!.length) return a;
    const oversize = size > this.slabBytes;
    const buf = oversize ? Buffer.allocUnsafeSlow(size) : (this.spares.pop() ?? this.newSlab());
    if (oversize) this.heldBytes += size;
    const slab = this.freeSlabs.pop() ?? this.slabs.length;
    this.slabs[slab] = buf;
    this.live[slab] = 0;
    this.used[slab] = 0;
    // A record larger than a slab gets one to itself and never becomes active.
    if (!oversize) {
      const old = this.active;
      this.active = slab;
      if (old >= 0 && this.live[old] === 0) this.release(old);
    }
    return slab;
  }

  private newSlab(): Buffer {
    this.heldBytes += this.slabBytes;
    return Buffer.allocUnsafeSlow(this.slabBytes);
  }

  /** Copies a slab's current records to the active slab, then recycles it. */
  private compact(slab: number): void {
    const buf = this.slabs[slab]!;
    const end = this.used[slab]!;
    let off = 0;
    while (off < end) {
      const owner = buf.readUInt32LE(off);
      const keyLen = buf.readUInt32LE(off + 4);
      const size = HEADER_BYTES + keyLen + buf.readUInt32LE(off + 8);
      const loc = slab * LOC_SLAB + off;
      if (this.owner.isCurrent(owner, loc)) {
        const to = this.reserve(size);
        const toOff = this.used[to]! - size;
        buf.copy(this.slabs[to]!, toOff, off, off + size);
        this.owner.moved(owner, to * LOC_SLAB + toOff);
        this.live[slab] = this.live[slab]! - size;
        this.liveBytes -= size;
      }
      off += size;
    }
    assert(this.live[slab] === 0, 'a compacted slab holds no live record');
    this.release(slab);
  }

  private release(slab: number): void {
    const buf = this.slabs[slab]!;
    this.slabs[slab] = null;
    this.freeSlabs.push(slab);
    if (buf.length === this.slabBytes && this.spares.length < ARENA_SPARE_SLABS_MAX) this.spares.push(buf);
    else this.heldBytes -= buf.length;
  }
}
