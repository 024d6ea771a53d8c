/**
 * The processor's `readLocal` (a coordinator asking this replica for its
 * versions of some keys), written here instead of taken from the generated
 * code, as get-reply.ts does for `get`.
 *
 * Why: every QUORUM read asks one peer through it. The generated
 * process_readLocal writes even an answer given at once a microtask later,
 * and copies every LocalRead of the answer into a new one (Thrift.copyList)
 * inside its result wrapper: an object per key read, made to be dropped.
 * Here a plain answer is written in the same call, each LocalRead as the
 * handler made it.
 *
 * The bytes are the generated code's (KeyValue_readLocal_args here, the
 * result as reply-writer.ts writes it). As the generated reader does, every
 * element of the key list is read as binary.
 *
 * The coordinator's end of the same reply is here too (readLocalAnswer): the
 * generated reader made, per key, a LocalRead and a Buffer view of its
 * value, which fromLocalRead then turned into a version; here the rows are
 * read straight into versions, the values as latin1 strings, as
 * range-page-wire.ts reads a stream's pages.
 */
import type Int64 from 'node-int64';
import * as types from '../gen/kv_types';
import type { Version } from '../storage/version';
import type { NumberI64Reader } from './fast-protocol';
import { numberOf, readFailure, readStructList } from './range-page-wire';
import { ReplyProtocol, ReplyShape, reply, Writable } from './reply-writer';

const runtime = require('thrift');
const T = runtime.Thrift.Type as { STOP: number; BOOL: number; I32: number; I64: number; STRING: number; STRUCT: number; LIST: number };

/** The protocol calls used here; NumberI64Reader and FastBinaryWriter have them. */
export interface ReadLocalProtocol extends ReplyProtocol {
  readStructBegin(): void;
  readFieldBegin(): { ftype: number; fid: number };
  readString(): string;
  readBinary(): Buffer;
  readI32(): number;
  readI64(): number | Int64;
  readListBegin(): { etype: number; size: number };
  readListEnd(): void;
  skip(type: number): void;
  readFieldEnd(): void;
  readStructEnd(): void;
  readMessageEnd(): void;
}

export interface ReadLocalHandler {
  /** A plain list when answered at once; errors only ever as a rejected promise. */
  readLocal(
    secret: string | null,
    keys: Buffer[] | null,
    epoch: number | Int64 | null,
    fromNode: number | null,
  ): types.LocalRead[] | PromiseLike<types.LocalRead[]>;
}

const READ_LOCAL: ReplyShape<types.LocalRead[]> = {
  name: 'readLocal',
  resultName: 'KeyValue_readLocal_result',
  writeSuccessField(output, rows) {
    output.writeFieldBegin('success', T.LIST, 0);
    output.writeListBegin(T.STRUCT, rows.length);
    for (const row of rows) (row as unknown as Writable).write(output);
    output.writeListEnd();
    output.writeFieldEnd();
  },
  declared: [
    [types.Unauthorized, 'unauthorized', 1],
    [types.InvalidRequest, 'invalid', 2],
    [types.StaleEpoch, 'stale', 3],
  ],
};

/** Reads a readLocal call's arguments (after its message header) and answers it on `output`. */
export function processReadLocal(handler: ReadLocalHandler, seqid: number, input: ReadLocalProtocol, output: ReadLocalProtocol): void {
  const args = readArgs(input);
  reply(READ_LOCAL, output, seqid, handler.readLocal(args.secret, args.keys, args.epoch, args.fromNode));
}

interface ReadLocalArgs {
  secret: string | null;
  keys: Buffer[] | null;
  epoch: number | Int64 | null;
  fromNode: number | null;
}

function readArgs(input: ReadLocalProtocol): ReadLocalArgs {
  const args: ReadLocalArgs = { secret: null, keys: null, epoch: null, fromNode: null };
  input.readStructBegin();
  for (;;) {
    const { ftype, fid } = input.readFieldBegin();
    if (ftype === T.STOP) break;
    if (fid === 1 && ftype === T.STRING) args.secret = input.readString();
    else if (fid === 2 && ftype === T.LIST) args.keys = readKeys(input);
    else if (fid === 3 && ftype === T.I64) args.epoch = input.readI64();
    else if (fid === 4 && ftype === T.I32) args.fromNode = input.readI32();
    else input.skip(ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  input.readMessageEnd();
  return args;
}

function readKeys(input: ReadLocalProtocol): Buffer[] {
  const { size } = input.readListBegin();
  const keys: Buffer[] = [];
  for (let i = 0; i < size; i++) keys.push(input.readBinary());
  input.readListEnd();
  return keys;
}

/** What the client's readLocal resolves with: each key's version (undefined: none there), or the error the peer answered. */
export type ReadLocalAnswer = { rows: (Version | undefined)[] } | { failure: unknown };

/** Reads a readLocal REPLY's result struct (after its message header) and the message's end. */
export function readLocalAnswer(input: NumberI64Reader): ReadLocalAnswer {
  let rows: (Version | undefined)[] | undefined;
  let failure: unknown;
  input.readStructBegin();
  for (;;) {
    const { ftype, fid } = input.readFieldBegin();
    if (ftype === T.STOP) break;
    if (fid === 0 && ftype === T.LIST) rows = readStructList(input, readRow);
    else if (fid >= 1 && fid <= 3 && ftype === T.STRUCT) failure ??= readFailure(input, fid);
    else input.skip(ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  input.readMessageEnd();
  // As the generated client: an answered error first, then the rows.
  if (failure !== undefined) return { failure };
  if (rows !== undefined) return { rows };
  return { failure: 'readLocal failed: unknown result' };
}

/**
 * One LocalRead as fromLocalRead makes it: undefined when the key is not
 * there. A row without its value or timestamp is a broken answer. Fields 2-5
 * are a Mutation's, and range-page-wire.ts reads them the same way; a helper
 * for both would cost an object per row on the path it is here to spare.
 */
function readRow(input: NumberI64Reader): Version | undefined {
  let exists = false;
  let value: string | undefined;
  let ts: number | undefined;
  let deleted = false;
  let expires: number | undefined;
  input.readStructBegin();
  for (;;) {
    const { ftype, fid } = input.readFieldBegin();
    if (ftype === T.STOP) break;
    if (fid === 1 && ftype === T.BOOL) exists = input.readBool();
    else if (fid === 2 && ftype === T.STRING) value = input.readByteString();
    else if (fid === 3 && ftype === T.I64) ts = numberOf(input.readI64());
    else if (fid === 4 && ftype === T.BOOL) deleted = input.readBool();
    else if (fid === 5 && ftype === T.I64) expires = numberOf(input.readI64());
    else input.skip(ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  if (!exists) return undefined;
  if (value === undefined || ts === undefined) throw new Error('a readLocal answer holds a row without its value or timestamp');
  // No expiry field at all when absent or 0, as expiresOf.
  return expires !== undefined && expires > 0 ? { value, ts, deleted, expires } : { value, ts, deleted };
}
