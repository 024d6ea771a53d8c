/**
 * Writing a call's answer as the generated processor writes it, for the
 * methods the node answers with its own code (get-reply.ts,
 * read-local-reply.ts): a plain answer at once, a promise when it settles.
 *
 * The bytes are the generated code's: the result struct with the answer in
 * field 0, an error the IDL declares for the method in its own field of a
 * REPLY, any other error as an EXCEPTION carrying its message. An answer
 * that fails to write is answered as an error, as the generated code's
 * catch does.
 */
const runtime = require('thrift');
const T = runtime.Thrift.Type as { STRUCT: number };
const MessageType = runtime.Thrift.MessageType as { REPLY: number; EXCEPTION: number };

/** The protocol calls used to write; FastBinaryWriter has them. */
export interface ReplyProtocol {
  writeMessageBegin(name: string, type: number, seqid: number): void;
  writeStructBegin(name: string): void;
  writeFieldBegin(name: string, type: number, id: number): void;
  writeFieldEnd(): void;
  writeFieldStop(): void;
  writeStructEnd(): void;
  writeMessageEnd(): void;
  writeListBegin(etype: number, size: number): void;
  writeListEnd(): void;
  flush(): void;
}

/** A generated struct or exception: it writes itself. */
export interface Writable {
  write(output: unknown): void;
}

/** An error the IDL declares for a method: its class, and its field in the result struct. */
export type DeclaredError = readonly [type: abstract new (...args: never[]) => unknown, field: string, id: number];

/** One method as this file writes its answers. */
export interface ReplyShape<R> {
  /** The method's name, as the message header carries it. */
  readonly name: string;
  /** Its result struct's name (KeyValue_<name>_result), spelt once rather than built for every answer. */
  readonly resultName: string;
  /** Writes a non-null answer as field 0 of the result struct. */
  writeSuccessField(output: ReplyProtocol, result: R): void;
  readonly declared: readonly DeclaredError[];
}

/** Writes a plain answer at once, or a promised one when it settles. */
export function reply<R>(shape: ReplyShape<R>, output: ReplyProtocol, seqid: number, answer: R | PromiseLike<R>): void {
  if (!isThenable(answer)) return writeAnswer(shape, output, seqid, answer);
  answer.then(
    (result) => writeAnswer(shape, output, seqid, result),
    (err) => writeFailure(shape, output, seqid, err),
  );
}

function isThenable<R>(x: R | PromiseLike<R>): x is PromiseLike<R> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

function writeAnswer<R>(shape: ReplyShape<R>, output: ReplyProtocol, seqid: number, result: R): void {
  try {
    output.writeMessageBegin(shape.name, MessageType.REPLY, seqid);
    output.writeStructBegin(shape.resultName);
    if (result !== null && result !== undefined) shape.writeSuccessField(output, result);
    output.writeFieldStop();
    output.writeStructEnd();
    output.writeMessageEnd();
    output.flush();
  } catch (err) {
    writeFailure(shape, output, seqid, err);
  }
}

function writeFailure<R>(shape: ReplyShape<R>, output: ReplyProtocol, seqid: number, err: unknown): void {
  const declared = shape.declared.find(([type]) => err instanceof type);
  if (declared === undefined) {
    const message = (err as { message?: unknown } | null)?.message;
    const failure = new runtime.Thrift.TApplicationException(runtime.Thrift.TApplicationExceptionType.UNKNOWN, message);
    output.writeMessageBegin(shape.name, MessageType.EXCEPTION, seqid);
    failure.write(output);
  } else {
    output.writeMessageBegin(shape.name, MessageType.REPLY, seqid);
    output.writeStructBegin(shape.resultName);
    writeStructField(output, declared[1], declared[2], err as Writable);
    output.writeFieldStop();
    output.writeStructEnd();
  }
  output.writeMessageEnd();
  output.flush();
}

export function writeStructField(output: ReplyProtocol, name: string, id: number, struct: Writable): void {
  output.writeFieldBegin(name, T.STRUCT, id);
  struct.write(output);
  output.writeFieldEnd();
}
