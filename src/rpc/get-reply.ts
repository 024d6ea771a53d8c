/**
 * The processor's `get`, written here instead of taken from the generated code.
 *
 * Why: the generated process_get hands every answer to Promise.resolve(...)
 * .then, so even a ONE read that a replica answers at once (Handler.get
 * returns a plain value then) is written a microtask later, and it copies
 * the ReadResult into a second one inside its result wrapper. Here a plain
 * answer is written in the same call, and the result struct is written
 * around the handler's ReadResult as it is. The ONE read is the cheapest and
 * most frequent call, so these few allocations and the promise are a visible
 * part of its cost: a ONE read cost about 6% less node CPU without them
 * (docs/benchmarks.md).
 *
 * Writing in the same call is also what lets Handler.get answer with a view
 * into the memtable instead of a copy of the value: nothing else runs
 * between the lookup and the write below, so no put can move those bytes.
 *
 * The bytes are the generated code's (KeyValue_get_args here, the result as
 * reply-writer.ts writes it): fields this reader does not know are skipped.
 */
import * as types from '../gen/kv_types';
import { ReplyProtocol, ReplyShape, reply, Writable, writeStructField } from './reply-writer';

const runtime = require('thrift');
const T = runtime.Thrift.Type as { STOP: number; I32: number; STRING: number };

/** The protocol calls used here; NumberI64Reader and FastBinaryWriter have them. */
export interface GetProtocol extends ReplyProtocol {
  readStructBegin(): void;
  readFieldBegin(): { ftype: number; fid: number };
  readBinary(): Buffer;
  readI32(): number;
  skip(type: number): void;
  readFieldEnd(): void;
  readStructEnd(): void;
  readMessageEnd(): void;
}

export interface GetHandler {
  /** A plain value when answered at once; errors only ever as a rejected promise. */
  get(key: Buffer | null, level: number | null): types.ReadResult | PromiseLike<types.ReadResult>;
}

const GET: ReplyShape<types.ReadResult> = {
  name: 'get',
  resultName: 'KeyValue_get_result',
  writeSuccessField: (output, result) => writeStructField(output, 'success', 0, result as unknown as Writable),
  declared: [
    [types.InvalidRequest, 'invalid', 1],
    [types.Unavailable, 'unavailable', 2],
    [types.TimedOut, 'timedOut', 3],
  ],
};

/** Reads a get call's arguments (after its message header) and answers it on `output`. */
export function processGet(handler: GetHandler, seqid: number, input: GetProtocol, output: GetProtocol): void {
  const { key, level } = readArgs(input);
  reply(GET, output, seqid, handler.get(key, level));
}

function readArgs(input: GetProtocol): { key: Buffer | null; level: number | null } {
  let key: Buffer | null = null;
  let level: number | null = null;
  input.readStructBegin();
  for (;;) {
    const { ftype, fid } = input.readFieldBegin();
    if (ftype === T.STOP) break;
    if (fid === 1 && ftype === T.STRING) key = input.readBinary();
    else if (fid === 2 && ftype === T.I32) level = input.readI32();
    else input.skip(ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  input.readMessageEnd();
  return { key, level };
}
