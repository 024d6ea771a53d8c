/**
 * A readRange answer read straight into keyed versions.
 *
 * Why: a joining node reads every key it takes over in these answers, a
 * thousand keys a page. The generated reader made, per key, a Mutation and
 * two Buffer views of the frame (key and value), which were then turned into
 * strings and a KeyedVersion: five objects a key where three are kept, and
 * the garbage collector paid for the rest on a node already busy applying
 * the stream. Here the key and value are read from the frame as latin1
 * strings, and the version is made at once, as fromMutation makes it.
 *
 * The bytes read are the IDL's (KeyValue_readRange_result, RangePage,
 * Mutation); fields this reader does not know are skipped as the generated
 * reader skips them, so a newer sender's added optional fields are harmless.
 */
import Int64 from 'node-int64';
import type { ReplicaPage } from '../coordinator/scan-merge';
import * as types from '../gen/kv_types';
import type { KeyedVersion } from '../storage/version';
import type { NumberI64Reader } from './fast-protocol';

const runtime = require('thrift');
const T = runtime.Thrift.Type as { STOP: number; BOOL: number; I64: number; STRING: number; STRUCT: number; LIST: number };

/** What the generated client's recv_readRange resolves its call with: the page, or the error the node answered. */
export type RangeReply = { page: ReplicaPage } | { failure: unknown };

/** Reads a readRange REPLY's result struct (after its message header) and the message's end. */
export function readRangeReply(input: NumberI64Reader): RangeReply {
  let page: ReplicaPage | undefined;
  let failure: unknown;
  input.readStructBegin();
  for (;;) {
    const { ftype, fid } = input.readFieldBegin();
    if (ftype === T.STOP) break;
    if (ftype !== T.STRUCT) input.skip(ftype);
    else if (fid === 0) page = readPage(input);
    else if (fid >= 1 && fid <= 3) failure ??= readFailure(input, fid);
    else input.skip(ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  input.readMessageEnd();
  // As the generated client: an answered error first, then the page.
  if (failure !== undefined) return { failure };
  if (page !== undefined) return { page };
  return { failure: 'readRange failed: unknown result' };
}

/** The result's exceptions, by field id, as the generated reader makes them (readLocal's are the same three). */
export function readFailure(input: NumberI64Reader, fid: number): unknown {
  const err = fid === 1 ? new types.Unauthorized() : fid === 2 ? new types.InvalidRequest() : new types.StaleEpoch();
  (err as unknown as { read(input: unknown): void }).read(input);
  return err;
}

function readPage(input: NumberI64Reader): ReplicaPage {
  let entries: KeyedVersion[] = [];
  let more = false;
  input.readStructBegin();
  for (;;) {
    const { ftype, fid } = input.readFieldBegin();
    if (ftype === T.STOP) break;
    if (fid === 1 && ftype === T.LIST) entries = readEntries(input);
    else if (fid === 2 && ftype === T.BOOL) more = input.readBool();
    else input.skip(ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  return { entries, more };
}

function readEntries(input: NumberI64Reader): KeyedVersion[] {
  return readStructList(input, readMutation);
}

/** A list of structs, each read by `readOne`; elements of another type are skipped, as the generated reader does. */
export function readStructList<R>(input: NumberI64Reader, readOne: (input: NumberI64Reader) => R): R[] {
  const { etype, size } = input.readListBegin();
  const out: R[] = [];
  for (let i = 0; i < size; i++) {
    if (etype === T.STRUCT) out.push(readOne(input));
    else input.skip(etype);
  }
  input.readListEnd();
  return out;
}

/** One Mutation as fromMutation makes it. A key, value or timestamp missing is a broken answer. */
function readMutation(input: NumberI64Reader): KeyedVersion {
  let key: string | undefined;
  let value: string | undefined;
  let ts: number | undefined;
  let deleted = false;
  let expires: number | undefined;
  input.readStructBegin();
  for (;;) {
    const { ftype, fid } = input.readFieldBegin();
    if (ftype === T.STOP) break;
    if (fid === 1 && ftype === T.STRING) key = input.readByteString();
    else if (fid === 2 && ftype === T.STRING) value = input.readByteString();
    else if (fid === 3 && ftype === T.I64) ts = numberOf(input.readI64());
    else if (fid === 4 && ftype === T.BOOL) deleted = input.readBool();
    else if (fid === 5 && ftype === T.I64) expires = numberOf(input.readI64());
    else input.skip(ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  if (key === undefined || value === undefined || ts === undefined)
    throw new Error('a readRange answer holds a mutation without its key, value or timestamp');
  // No expiry field at all when absent or 0, as expiresOf.
  return { key, version: expires !== undefined && expires > 0 ? { value, ts, deleted, expires } : { value, ts, deleted } };
}

/** An i64 as int64ToNumber reads it (NumberI64Reader gives an Int64 only past 2^53). */
export function numberOf(x: number | Int64): number {
  return typeof x === 'number' ? x : x.toNumber(true);
}
