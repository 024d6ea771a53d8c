/**
 * Values as the fuzzer writes them: Thrift values that may lie about
 * themselves (a binary's length, a list's size, a field's type), and their
 * encoding with the fuzzer's own writer (thrift-wire.ts).
 */
import { unreachable } from '../common/assert';
import { MessageType, ThriftWriter, TType } from './thrift-wire';

/** A value to encode; `claimedLength`/`claimedSize` make the encoding lie. */
export type WireValue =
  | { readonly kind: 'bool'; readonly v: boolean }
  | { readonly kind: 'i8'; readonly v: number }
  | { readonly kind: 'i16'; readonly v: number }
  | { readonly kind: 'i32'; readonly v: number }
  | { readonly kind: 'i64'; readonly v: bigint }
  | { readonly kind: 'double'; readonly v: number }
  | { readonly kind: 'binary'; readonly v: Buffer; readonly claimedLength?: number }
  | { readonly kind: 'struct'; readonly fields: readonly WireField[] }
  | { readonly kind: 'list' | 'set'; readonly elemType: number; readonly items: readonly WireValue[]; readonly claimedSize?: number }
  | {
      readonly kind: 'map';
      readonly keyType: number;
      readonly valueType: number;
      readonly pairs: readonly (readonly [WireValue, WireValue])[];
      readonly claimedSize?: number;
    }
  | { readonly kind: 'raw'; readonly bytes: Buffer };

/** A field as written: header type (which may not match the value: a lie or STOP) and id. */
export interface WireField {
  readonly type: number;
  readonly id: number;
  readonly value: WireValue;
}

export function typeOf(v: WireValue): number {
  switch (v.kind) {
    case 'bool':
      return TType.BOOL;
    case 'i8':
      return TType.BYTE;
    case 'i16':
      return TType.I16;
    case 'i32':
      return TType.I32;
    case 'i64':
      return TType.I64;
    case 'double':
      return TType.DOUBLE;
    case 'binary':
      return TType.STRING;
    case 'struct':
      return TType.STRUCT;
    case 'list':
      return TType.LIST;
    case 'set':
      return TType.SET;
    case 'map':
      return TType.MAP;
    case 'raw':
      return unreachable('a raw value has no type of its own');
  }
}

export const field = (id: number, value: WireValue, type: number = typeOf(value)): WireField => ({ type, id, value });
export const bin = (v: Buffer): WireValue => ({ kind: 'binary', v });
export const i32 = (v: number): WireValue => ({ kind: 'i32', v });

export function writeValue(w: ThriftWriter, v: WireValue): void {
  switch (v.kind) {
    case 'bool':
      w.bool(v.v);
      return;
    case 'i8':
      w.i8(v.v);
      return;
    case 'i16':
      w.i16(v.v);
      return;
    case 'i32':
      w.i32(v.v);
      return;
    case 'i64':
      w.i64(v.v);
      return;
    case 'double':
      w.double(v.v);
      return;
    case 'binary':
      w.binary(v.v, v.claimedLength ?? v.v.length);
      return;
    case 'struct':
      for (const f of v.fields) writeField(w, f);
      w.fieldStop();
      return;
    case 'list':
    case 'set':
      w.listBegin(v.elemType, v.claimedSize ?? v.items.length);
      for (const item of v.items) writeValue(w, item);
      return;
    case 'map':
      w.mapBegin(v.keyType, v.valueType, v.claimedSize ?? v.pairs.length);
      for (const [k, val] of v.pairs) {
        writeValue(w, k);
        writeValue(w, val);
      }
      return;
    case 'raw':
      w.raw(v.bytes);
      return;
  }
}

/** A field; one of type STOP is the single STOP byte (what follows it is outside the struct). */
export function writeField(w: ThriftWriter, f: WireField): void {
  if (f.type === TType.STOP) {
    w.i8(TType.STOP);
    return;
  }
  w.fieldBegin(f.type, f.id);
  writeValue(w, f.value);
}

/** A message: header, then the argument struct's fields and STOP. */
export function encodeCall(
  name: string | Buffer,
  seqid: number,
  fields: readonly WireField[],
  strict = true,
  type: number = MessageType.CALL,
): Buffer {
  const w = new ThriftWriter().messageBegin(name, type, seqid, strict);
  writeValue(w, { kind: 'struct', fields });
  return w.toBuffer();
}
