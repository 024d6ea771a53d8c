/**
 * A tiny, independent implementation of the Thrift binary protocol and framed
 * transport, for the fuzzer. It is written here rather than borrowed from the
 * runtime on purpose: the runtime's writer refuses to produce the lies a
 * fuzzer needs (a binary whose length prefix is wrong, a list header claiming
 * 2^31 elements, an invalid type id, a negative frame length), and a reader
 * that is not the node's own gives an independent check of its replies.
 *
 * Strict binary protocol: a message starts with the i32 0x80010000 | type,
 * then the name (i32 length + bytes) and the i32 sequence id; a struct is a
 * run of fields (type byte, i16 id, value) ended by a STOP byte. Integers are
 * big-endian. A frame is an i32 length followed by that many bytes.
 */

export const TType = {
  STOP: 0,
  VOID: 1,
  BOOL: 2,
  BYTE: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
  UUID: 16,
} as const;

export const MessageType = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const;

/** Field 2 (`type`) of a TApplicationException for a method the server does not have. */
export const APPLICATION_EXCEPTION_UNKNOWN_METHOD = 1;

/** The strict protocol's version word; the message type goes in the low byte. */
export const VERSION_1 = 0x8001_0000;
const VERSION_MASK = 0xffff_0000;

/** Bytes of a frame's length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Appends protocol values to a growing list of buffers. */
export class ThriftWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    this.size += bytes.length;
    return this;
  }

  i8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(((v + 128) & 0xff) - 128);
    return this.raw(b);
  }

  bool(v: boolean): this {
    return this.i8(v ? 1 : 0);
  }

  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(((v + 0x8000) & 0xffff) - 0x8000);
    return this.raw(b);
  }

  /** Any integer; written modulo 2^32 (so 0x80000000 and -2^31 are the same bytes). */
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return this.raw(b);
  }

  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, v));
    return this.raw(b);
  }

  double(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return this.raw(b);
  }

  /** A binary: its length (which may lie: `claimedLength`) then its bytes. */
  binary(bytes: Buffer, claimedLength: number = bytes.length): this {
    return this.i32(claimedLength).raw(bytes);
  }

  string(text: string): this {
    return this.binary(Buffer.from(text, 'utf8'));
  }

  fieldBegin(type: number, id: number): this {
    return this.i8(type).i16(id);
  }

  fieldStop(): this {
    return this.i8(TType.STOP);
  }

  listBegin(elemType: number, size: number): this {
    return this.i8(elemType).i32(size);
  }

  setBegin(elemType: number, size: number): this {
    return this.i8(elemType).i32(size);
  }

  mapBegin(keyType: number, valueType: number, size: number): this {
    return this.i8(keyType).i8(valueType).i32(size);
  }

  /** A message header: strict (version word) or the old unversioned form. */
  messageBegin(name: string | Buffer, type: number, seqid: number, strict = true): this {
    const nameBytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
    if (strict)
      return this.i32(VERSION_1 | type)
        .binary(nameBytes)
        .i32(seqid);
    return this.binary(nameBytes).i8(type).i32(seqid);
  }

  toBuffer(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
  }
}

/**
 * A length-prefixed frame. `prefix` defaults to the payload's length; any
 * other value (negative, 2 GB, ...) is written modulo 2^32 as it is.
 */
export function frame(payload: Buffer, prefix: number = payload.length): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(prefix >>> 0, 0);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** A malformed frame or message in a node's reply: the node broke the protocol. */
export class WireError extends Error {
  override name = 'WireError';
}

/**
 * Cuts a byte stream into frame payloads. Refuses a frame length that is
 * negative or above `frameBytesMax` before buffering it.
 */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly frameBytesMax: number) {}

  /** Bytes received that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  push(data: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    const frames: Buffer[] = [];
    for (;;) {
      if (this.pending.length < FRAME_HEADER_BYTES) break;
      const size = this.pending.readInt32BE(0);
      if (size < 0 || size > this.frameBytesMax) throw new WireError(`reply frame length ${size} is outside 0..${this.frameBytesMax}`);
      if (this.pending.length < FRAME_HEADER_BYTES + size) break;
      frames.push(this.pending.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + size));
      this.pending = this.pending.subarray(FRAME_HEADER_BYTES + size);
    }
    return frames;
  }
}

/** A top-level field of a reply's result struct; strings and binaries keep their bytes. */
export interface DecodedField {
  readonly type: number;
  readonly bytes?: Buffer;
  readonly i32?: number;
}

export interface DecodedMessage {
  readonly name: string;
  readonly type: number;
  readonly seqid: number;
  /** The top-level fields of the message's struct, by id. */
  readonly fields: ReadonlyMap<number, DecodedField>;
}

/** Nesting a reply decoder follows before it calls the reply malformed. */
const DECODE_DEPTH_MAX = 64;

/** Reads protocol values from one frame payload, refusing anything short or malformed. */
export class ThriftReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new WireError(`needs ${n} bytes at offset ${this.pos} of ${this.buf.length}`);
  }

  i8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }

  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  binary(): Buffer {
    const n = this.i32();
    if (n < 0) throw new WireError(`negative binary length ${n}`);
    return this.bytes(n);
  }

  /** Reads a strict message header; a node must always answer in the strict form. */
  messageBegin(): { name: string; type: number; seqid: number } {
    const word = this.i32() >>> 0;
    if ((word & VERSION_MASK) >>> 0 !== VERSION_1) throw new WireError(`bad version word 0x${word.toString(16)}`);
    const type = word & 0xff;
    const name = this.binary().toString('utf8');
    const seqid = this.i32();
    return { name, type, seqid };
  }

  /** Skips one value of `type`, checking that it is well formed. */
  skip(type: number, depth = 1): void {
    if (depth > DECODE_DEPTH_MAX) throw new WireError('nesting too deep');
    switch (type) {
      case TType.BOOL:
      case TType.BYTE:
        this.bytes(1);
        return;
      case TType.I16:
        this.bytes(2);
        return;
      case TType.I32:
        this.bytes(4);
        return;
      case TType.I64:
      case TType.DOUBLE:
        this.bytes(8);
        return;
      case TType.UUID:
        this.bytes(16);
        return;
      case TType.STRING:
        this.binary();
        return;
      case TType.STRUCT:
        this.struct(depth);
        return;
      case TType.MAP: {
        const k = this.i8();
        const v = this.i8();
        const n = this.count();
        for (let i = 0; i < n; i++) {
          this.skip(k, depth + 1);
          this.skip(v, depth + 1);
        }
        return;
      }
      case TType.SET:
      case TType.LIST: {
        const e = this.i8();
        const n = this.count();
        for (let i = 0; i < n; i++) this.skip(e, depth + 1);
        return;
      }
      default:
        throw new WireError(`invalid type ${type}`);
    }
  }

  private count(): number {
    const n = this.i32();
    if (n < 0) throw new WireError(`negative container size ${n}`);
    // Every element takes at least one byte: a larger count cannot be honest.
    if (n > this.remaining) throw new WireError(`container claims ${n} elements in ${this.remaining} bytes`);
    return n;
  }

  /** Reads a struct, returning its fields; the values of the top level are kept. */
  struct(depth = 1): Map<number, DecodedField> {
    const fields = new Map<number, DecodedField>();
    for (;;) {
      const type = this.i8();
      if (type === TType.STOP) return fields;
      const id = this.i16();
      if (type === TType.STRING) fields.set(id, { type, bytes: this.binary() });
      else if (type === TType.I32) fields.set(id, { type, i32: this.i32() });
      else {
        this.skip(type, depth + 1);
        fields.set(id, { type });
      }
    }
  }
}

/** Decodes one reply frame payload: header, then the result struct; nothing may follow. */
export function decodeMessage(payload: Buffer): DecodedMessage {
  const r = new ThriftReader(payload);
  const head = r.messageBegin();
  const fields = r.struct();
  if (r.remaining !== 0) throw new WireError(`${r.remaining} bytes after the message`);
  return { ...head, fields };
}
