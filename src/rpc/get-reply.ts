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
 * The bytes are the generated code's (KeyValue_get_args, KeyValue_get_result):
 * fields this reader does not know are skipped, and the errors the IDL
 * declares for get go back in their result fields, any other as an
 * application exception.
 */
import * as types from '../gen/kv_types';

const runtime = require('thrift');
const T = runtime.Thrift.Type as { STOP: number; I32: number; STRING: number; STRUCT: number };
const MessageType = runtime.Thrift.MessageType as { REPLY: number; EXCEPTION: number };

/** The protocol calls used here; NumberI64Reader and FastBinaryWriter have them. */
export interface GetProtocol {
  readStructBegin(): void;
  readFieldBegin(): { ftype: number; fid: number };
  readBinary(): Buffer;
  readI32(): number;
  skip(type: number): void;
  readFieldEnd(): void;
  readStructEnd(): void;
  readMessageEnd(): void;
  writeMessageBegin(name: string, type: number, seqid: number): void;
  writeStructBegin(name: string): void;
  writeFieldBegin(name: string, type: number, id: number): void;
  writeFieldEnd(): void;
  writeFieldStop(): void;
  writeStructEnd(): void;
  writeMessageEnd(): void;
  flush(): void;
}

export interface GetHandler {
  /** A plain value when answered at once; errors only ever as a rejected promise. */
  get(key: Buffer | null, level: number | null): types.ReadResult | PromiseLike<types.ReadResult>;
}

interface Writable {
  write(output: unknown): void;
}

/** Reads a get call's arguments (after its message header) and answers it on `output`. */
export function processGet(handler: GetHandler, seqid: number, input: GetProtocol, output: GetProtocol): void {
  const { key, level } = readArgs(input);
  const answer = handler.get(key, level);
  if (!isThenable(answer)) return writeAnswer(output, seqid, answer);
  answer.then(
    (result) => writeAnswer(output, seqid, result),
    (err) => writeFailure(output, seqid, err),
  );
}

/** As the generated code: an answer that fails to write is answered as an error. */
function writeAnswer(output: GetProtocol, seqid: number, result: types.ReadResult | null | undefined): void {
  try {
    writeSuccess(output, seqid, result);
  } catch (err) {
    writeFailure(output, seqid, err);
  }
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

function isThenable(x: unknown): x is PromiseLike<types.ReadResult> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

function writeSuccess(output: GetProtocol, seqid: number, result: types.ReadResult | null | undefined): void {
  output.writeMessageBegin('get', MessageType.REPLY, seqid);
  output.writeStructBegin('KeyValue_get_result');
  if (result !== null && result !== undefined) writeField(output, 'success', 0, result as unknown as Writable);
  output.writeFieldStop();
  output.writeStructEnd();
  output.writeMessageEnd();
  output.flush();
}

/** As the generated code: the IDL's errors in their fields of a REPLY, anything else as an EXCEPTION. */
function writeFailure(output: GetProtocol, seqid: number, err: unknown): void {
  const id = err instanceof types.InvalidRequest ? 1 : err instanceof types.Unavailable ? 2 : err instanceof types.TimedOut ? 3 : 0;
  if (id === 0) {
    const message = (err as { message?: unknown } | null)?.message;
    const failure = new runtime.Thrift.TApplicationException(runtime.Thrift.TApplicationExceptionType.UNKNOWN, message);
    output.writeMessageBegin('get', MessageType.EXCEPTION, seqid);
    failure.write(output);
  } else {
    output.writeMessageBegin('get', MessageType.REPLY, seqid);
    output.writeStructBegin('KeyValue_get_result');
    writeField(output, id === 1 ? 'invalid' : id === 2 ? 'unavailable' : 'timedOut', id, err as Writable);
    output.writeFieldStop();
    output.writeStructEnd();
  }
  output.writeMessageEnd();
  output.flush();
}

function writeField(output: GetProtocol, name: string, id: number, struct: Writable): void {
  output.writeFieldBegin(name, T.STRUCT, id);
  struct.write(output);
  output.writeFieldEnd();
}
